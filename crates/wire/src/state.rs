//! The replay output of SPEC §11: the state object and the outcome lines.

use std::fmt::Write;

use jifen_core::{Economy, Ledger, Outcome};
use serde_json::Value;

use crate::json::python_json;

/// Which replay state format to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateVersion {
    /// SPEC §11.
    V1,
    /// SPEC §13: adds `clock`, `collectibles` and each account's `locked_atoms`.
    V2,
    /// SPEC §14: adds `settled_fen` and each account's `owed_fen`.
    V3,
}

/// The replay state object, written exactly as the conformance vectors hold it: keys sorted,
/// four-space indent, a final newline in v1 and v2 and none in v3.
pub fn state_json(ledger: &Ledger, version: StateVersion) -> String {
    let v2 = version != StateVersion::V1;
    let v3 = version == StateVersion::V3;
    let e = ledger.economy();
    let t = e.totals();
    let mut out = String::with_capacity(256 + e.accounts().len() * 260);
    out.push_str("{\n    \"accounts\": {");
    let mut accounts: Vec<_> = e.accounts().iter().enumerate().collect();
    accounts.sort_unstable_by(|(_, a), (_, b)| a.name.as_bytes().cmp(b.name.as_bytes()));
    for (i, &(id, a)) in accounts.iter().enumerate() {
        let x = e.accounts().extras(id as u32);
        out.push_str(if i == 0 { "\n" } else { ",\n" });
        // Names match [A-Za-z0-9_.:@-], so they need no escaping.
        let _ = write!(
            out,
            "        \"{}\": {{\n            \"atoms\": {},\n            \"dividends_fen\": {},\n            \"exits\": {},\n            \"kind\": \"{}\",\n",
            a.name, a.atoms, a.dividends_fen, a.exits, a.kind.as_str()
        );
        if v2 {
            let _ = writeln!(out, "            \"locked_atoms\": {},", x.locked_atoms);
        }
        if v3 {
            let _ = writeln!(out, "            \"owed_fen\": {},", x.owed_fen);
        }
        let _ = write!(
            out,
            "            \"quota_fen\": {},\n            \"spent_fen\": {},\n            \"stable_fen\": {}\n        }}",
            a.quota_fen, a.spent_fen, a.stable_fen
        );
    }
    out.push_str(if accounts.is_empty() {
        "},\n"
    } else {
        "\n    },\n"
    });
    let head: [(&str, u64); 3] = [
        ("applied", ledger.applied()),
        ("burned_atoms", t.burned_atoms.0),
        ("circulating_atoms", t.circulating_atoms.0),
    ];
    for (k, v) in head {
        let _ = writeln!(out, "    \"{k}\": {v},");
    }
    if v2 {
        let _ = writeln!(out, "    \"clock\": {},", e.clock());
        write_collectibles(e, &mut out);
    }
    let fields: [(&str, u64); 9] = [
        ("contributions_fen", t.contributions_fen.0),
        ("dividend_pool_fen", t.dividend_pool_fen.0),
        ("escrow_fen", t.escrow_fen.0),
        ("issued_atoms", t.issued_atoms.0),
        ("paid_out_fen", t.paid_out_fen.0),
        ("rejected", ledger.rejected()),
        ("reserve_fen", t.reserve_fen.0),
        ("settled_fen", t.settled_fen.0),
        ("treasury_atoms", t.treasury_atoms.0),
    ];
    let fields: Vec<_> = fields
        .into_iter()
        .filter(|(k, _)| v3 || *k != "settled_fen")
        .collect();
    for (i, (k, v)) in fields.iter().enumerate() {
        let sep = if i + 1 == fields.len() { "\n" } else { ",\n" };
        let _ = write!(out, "    \"{k}\": {v}{sep}");
    }
    // The v3 vectors (SPEC §14) end at the brace, without the final newline of v1 and v2.
    out.push_str(if v3 { "}" } else { "}\n" });
    out
}

/// `"collectibles": {…},` in name order, as the vectors hold it.
fn write_collectibles(e: &Economy, out: &mut String) {
    let mut list: Vec<_> = e.collectibles().iter().collect();
    list.sort_unstable_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    if list.is_empty() {
        out.push_str("    \"collectibles\": {},\n");
        return;
    }
    out.push_str("    \"collectibles\": {");
    for (i, c) in list.iter().enumerate() {
        out.push_str(if i == 0 { "\n" } else { ",\n" });
        let owner = &e.accounts().get(c.owner).name;
        let _ = write!(
            out,
            "        \"{}\": {{\n            \"atoms\": {},\n            \"content_sha256\": \"{}\",\n            \"owner\": \"{owner}\",\n            \"series\": \"{}\",\n            \"state\": \"{}\"",
            c.name,
            c.atoms,
            c.content_hex(),
            c.series,
            c.state.as_str()
        );
        if let Some(venue) = &c.venue {
            let _ = write!(out, ",\n            \"venue\": \"{venue}\"");
        }
        out.push_str("\n        }");
    }
    out.push_str("\n    },\n");
}

/// One outcome line: `{"id": …, "ok": true|false, "code": null|"…"}`.
pub fn outcome_line(id_echo: &Value, outcome: &Outcome) -> String {
    let code = match outcome.code() {
        None => "null".to_string(),
        Some(c) => format!("\"{c}\""),
    };
    format!(
        "{{\"id\": {}, \"ok\": {}, \"code\": {code}}}",
        python_json(id_echo),
        outcome.result.is_ok()
    )
}

/// One event line for `jifen replay --events`: what an applied command did.
pub fn effects_json(line: u64, id: &str, command_type: &str, economy: &Economy) -> String {
    let fx = economy.effects();
    let name = |id| economy.accounts().get(id).name.as_str().to_string();
    let grants: Vec<Value> = fx
        .grants
        .iter()
        .map(|g| {
            serde_json::json!({
                "account": name(g.account),
                "atoms": g.atoms.0,
                "from_treasury_atoms": g.from_treasury.0,
            })
        })
        .collect();
    let exits: Vec<Value> = fx
        .exits
        .iter()
        .map(|x| {
            serde_json::json!({
                "account": name(x.account),
                "atoms": x.atoms.0,
                "gross_fen": x.gross.0,
                "fee_fen": x.fee.0,
                "paid_fen": x.gross.0 - x.fee.0,
            })
        })
        .collect();
    let mut event = serde_json::json!({
        "line": line,
        "id": id,
        "type": command_type,
        "price_before": fx.price_before.yuan_per_point(4),
        "price_after": fx.price_after.yuan_per_point(4),
        "price_before_exact": [fx.price_before.num_fen, fx.price_before.den_atoms],
        "price_after_exact": [fx.price_after.num_fen, fx.price_after.den_atoms],
        "grants": grants,
        "exits": exits,
    });
    if let Some(sale) = fx.sale {
        event["sale"] = serde_json::json!({
            "atoms": sale.atoms.0, "gross_fen": sale.gross.0, "fee_fen": sale.fee.0, "net_fen": sale.net().0,
        });
    }
    if let Some(s) = fx.settlement {
        event["settlement"] = serde_json::json!({
            "day": jifen_core::format_day(s.day),
            "eligible": s.holders_eligible,
            "paid_fen": s.paid.0,
            "holders_paid": s.holders_paid,
            "holders_capped": s.holders_capped,
        });
    }
    serde_json::to_string(&event).unwrap_or_default()
}
