//! Monthly statements (对账单) on the simulated month of `finance.rs`: for every consumer,
//! November's statement ties out, and its figures equal what the journal, replayed apart from
//! the server by `jifen replay --events`, says the month did to the account; December's
//! carries the payouts the result file recorded, and ends where the account stands now; the
//! wallet link gives the same statement as the staff's endpoint, and as CSV; a bad month,
//! format or account is refused with a clear error.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::common;
use crate::web::*;

/// What the replayed journal says November did to each account.
#[derive(Clone, Default, Debug, PartialEq)]
struct Want {
    orders: u64,
    order_atoms: u64,
    referrals: u64,
    referral_atoms: u64,
    sales: u64,
    sold_atoms: u64,
    sold_gross_fen: u64,
    sold_fee_fen: u64,
    conversions: u64,
    converted_atoms: u64,
    exits: u64,
    exit_atoms: u64,
    exit_gross_fen: u64,
    exit_fee_fen: u64,
    owed_added_fen: u64,
}

fn expected(by_id: &BTreeMap<String, Value>, events: &[Value]) -> BTreeMap<String, Want> {
    let buyer: BTreeMap<&str, &str> = (by_id.values())
        .filter(|c| c["type"] == "pay_order")
        .map(|c| {
            (
                c["order"].as_str().unwrap(),
                c["consumer"].as_str().unwrap(),
            )
        })
        .collect();
    let mut want: BTreeMap<String, Want> = BTreeMap::new();
    for e in events {
        let command = &by_id[e["id"].as_str().unwrap()];
        if e["type"] == "confirm_order" {
            let order_buyer = buyer[command["order"].as_str().unwrap()];
            for g in e["grants"].as_array().unwrap() {
                let w = want
                    .entry(g["account"].as_str().unwrap().into())
                    .or_default();
                let atoms = g["atoms"].as_u64().unwrap();
                if g["account"] == order_buyer {
                    (w.orders, w.order_atoms) = (w.orders + 1, w.order_atoms + atoms);
                } else {
                    (w.referrals, w.referral_atoms) = (w.referrals + 1, w.referral_atoms + atoms);
                }
            }
        }
        if let Some(sale) = e.get("sale") {
            let w = want
                .entry(command["account"].as_str().unwrap().into())
                .or_default();
            let n = |k: &str| sale[k].as_u64().unwrap();
            let (atoms, gross, fee) = (n("atoms"), n("gross_fen"), n("fee_fen"));
            if e["type"] == "sell" {
                w.sales += 1;
                w.sold_atoms += atoms;
                w.sold_gross_fen += gross;
                w.sold_fee_fen += fee;
                w.owed_added_fen += gross - fee;
            } else {
                w.conversions += 1;
                w.converted_atoms += atoms;
            }
        }
        for x in e["exits"].as_array().unwrap() {
            let w = want
                .entry(x["account"].as_str().unwrap().into())
                .or_default();
            w.exits += 1;
            w.exit_atoms += x["atoms"].as_u64().unwrap();
            w.exit_gross_fen += x["gross_fen"].as_u64().unwrap();
            w.exit_fee_fen += x["fee_fen"].as_u64().unwrap();
            w.owed_added_fen += x["paid_fen"].as_u64().unwrap();
        }
    }
    want
}

fn got(sums: &Value) -> Want {
    let n = |k: &str| sums[k].as_u64().unwrap_or_else(|| panic!("{k} in {sums}"));
    Want {
        orders: n("orders"),
        order_atoms: n("order_atoms"),
        referrals: n("referrals"),
        referral_atoms: n("referral_atoms"),
        sales: n("sales"),
        sold_atoms: n("sold_atoms"),
        sold_gross_fen: n("sold_gross_fen"),
        sold_fee_fen: n("sold_fee_fen"),
        conversions: n("conversions"),
        converted_atoms: n("converted_atoms"),
        exits: n("exits"),
        exit_atoms: n("exit_atoms"),
        exit_gross_fen: n("exit_gross_fen"),
        exit_fee_fen: n("exit_fee_fen"),
        owed_added_fen: n("owed_added_fen"),
    }
}

/// Opening plus the month's movements is the closing, balance by balance.
fn ties_out(s: &Value) {
    let (o, c, n) = (&s["opening"], &s["closing"], &s["sums"]);
    let u = |v: &Value, k: &str| v[k].as_u64().unwrap();
    for (balance, inn, out) in [
        ("atoms", "atoms_in", "atoms_out"),
        ("locked_atoms", "locked_in", "locked_out"),
        ("stable_fen", "stable_in_fen", "stable_out_fen"),
        ("owed_fen", "owed_added_fen", "payouts_settled_fen"),
    ] {
        assert_eq!(
            u(o, balance) + u(n, inn),
            u(c, balance) + u(n, out),
            "{balance} does not tie out: {s}"
        );
    }
}

fn statement(s: &Server, account: &str, month: &str) -> Value {
    let path = format!("/v1/economies/f/accounts/{account}/statement?month={month}");
    s.get(&path, ADMIN)["statement"].clone()
}

/// The batch's recorded lines (its first half), by account.
fn paid_by_account(batch: &Value) -> BTreeMap<String, u64> {
    let lines = batch["lines"].as_array().unwrap();
    let mut paid = BTreeMap::new();
    for l in &lines[..lines.len() / 2] {
        *paid
            .entry(l["account"].as_str().unwrap().to_string())
            .or_default() += l["amount_fen"].as_u64().unwrap();
    }
    paid
}

pub fn check(s: &Server, by_id: &BTreeMap<String, Value>, events: &[Value], batch: &Value) {
    let want = expected(by_id, events);
    let paid = paid_by_account(batch);
    let consumers: Vec<&str> = (by_id.values())
        .filter(|c| c["type"] == "register_consumer")
        .map(|c| c["account"].as_str().unwrap())
        .collect();
    let (mut active, mut exited) = (0, 0);
    for account in &consumers {
        let nov = statement(s, account, "2026-11");
        let dec = statement(s, account, "2026-12");
        ties_out(&nov);
        ties_out(&dec);
        let w = want.get(*account).cloned().unwrap_or_default();
        assert_eq!(
            got(&nov["sums"]),
            w,
            "{account}: November against the journal"
        );
        assert_eq!(nov["opening"]["atoms"], 0, "{account} joined in November");
        assert_eq!(dec["opening"], nov["closing"], "{account}: months join up");
        let now = s.get(&format!("/v1/economies/f/accounts/{account}"), ADMIN);
        for k in [
            "atoms",
            "locked_atoms",
            "stable_fen",
            "owed_fen",
            "quota_fen",
        ] {
            assert_eq!(dec["closing"][k], now[k], "{account}: {k} now");
        }
        let dividends = nov["sums"]["dividends_fen"].as_u64().unwrap()
            + dec["sums"]["dividends_fen"].as_u64().unwrap();
        assert_eq!(
            dividends,
            now["dividends_fen"].as_u64().unwrap(),
            "{account}"
        );
        let settled = dec["sums"]["payouts_settled_fen"].as_u64().unwrap();
        assert_eq!(
            settled,
            paid.get(*account).copied().unwrap_or(0),
            "{account}"
        );
        active += usize::from(!nov["lines"].as_array().unwrap().is_empty());
        exited += usize::from(w.exits > 0);
    }
    assert!(
        active > 100 && exited > 50 && !paid.is_empty(),
        "statements with activity ({active}), exits ({exited}) and payouts ({})",
        paid.len()
    );
    eprintln!(
        "statements: {} consumers, {active} active, {exited} exited, {} paid",
        consumers.len(),
        paid.len()
    );
    through_the_wallet(s, paid.keys().next().unwrap());
}

/// The consumer's own statement through a wallet link: the same, and as CSV; refusals.
fn through_the_wallet(s: &Server, account: &str) {
    let link = s.post(
        "/v1/economies/f/wallet-links",
        ADMIN,
        &json!({ "account": account }),
    );
    let token = link["token"].as_str().unwrap();
    let wallet = |path: &str| {
        let headers = [("X-Wallet-Token", token.to_string())];
        common::http(&s.addr, "GET", path, &headers, "").unwrap()
    };
    let (status, text) = wallet("/v1/wallet/statement?month=2026-12");
    assert_eq!(status, 200, "{text}");
    let own: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(own["statement"], statement(s, account, "2026-12"));
    let (status, csv) = wallet("/v1/wallet/statement?month=2026-12&format=csv");
    assert_eq!(status, 200);
    let rows = csv.lines().count() - 1;
    assert_eq!(rows, own["statement"]["lines"].as_array().unwrap().len());
    assert!(csv.starts_with("\u{feff}date,seq,kind,points_in"), "{csv}");
    // Without a month: this month (the test clock's December).
    let (_, text) = wallet("/v1/wallet/statement");
    assert!(text.contains(r#""month":"2026-12""#), "{text}");
    for (query, code, status) in [
        ("month=2026-13", "invalid_request", 422),
        ("month=2027-01", "invalid_request", 422),
        ("month=11-2026", "invalid_request", 422),
        ("month=2026-11&format=pdf", "invalid_request", 422),
    ] {
        let (got, text) = wallet(&format!("/v1/wallet/statement?{query}"));
        assert_eq!(got, status, "{query}: {text}");
        assert!(text.contains(code) && text.contains("YYYY-MM") || query.contains("pdf"));
    }
    let (status, _) = s.call(
        "GET",
        "/v1/economies/f/accounts/nobody/statement",
        Some(ADMIN),
        None,
    );
    assert_eq!(status, 404);
}
