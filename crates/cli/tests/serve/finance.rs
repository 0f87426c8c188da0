//! The finance view end to end (issue: money out and the finance view): a month of simulated
//! activity with sales and exits is loaded day by day into a real server; the owed list is
//! checked against an independent replay of `GET …/events`; a payout batch is exported, half
//! of it marked paid through a WeChat Pay style result file (uploaded twice), and the rest stays
//! owed; the liability report and the double-entry export for every day of the month are
//! checked by a Python script (openpyxl for the XLSX files); `jifen verify` passes.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::common;
use crate::support::Backend;
use crate::web::*;

on_both_backends! {
    a_simulated_month_is_owed_paid_and_reported => super::a_simulated_month;
}

const DAY: i64 = 86_400_000;
/// 2026-11-01T04:00:00Z: noon in Shanghai on the scenario's first day.
pub const NOON_DAY1: i64 = 1_793_505_600_000;
const DAYS: i64 = 30;

fn scenario() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/finance-month.toml")
}

/// The month's commands as `jifen simulate --commands` writes them, by day (the days'
/// `advance_clock` lines dropped: the server keeps its own clock).
pub fn month(tmp: &Path) -> Vec<Vec<Value>> {
    let file = tmp.join("commands.jsonl");
    let (out, described) = common::run(
        common::jifen()
            .args(["simulate"])
            .arg(scenario())
            .arg("--out")
            .arg(tmp.join("sim"))
            .arg("--commands")
            .arg(&file),
    );
    assert!(out.status.success(), "{described}");
    let mut days: Vec<Vec<Value>> = Vec::new();
    for line in std::fs::read_to_string(&file).unwrap().lines() {
        let c: Value = serde_json::from_str(line).unwrap();
        if c["type"] == "advance_clock" {
            days.push(Vec::new());
        } else {
            days.last_mut().expect("a day opens the file").push(c);
        }
    }
    assert_eq!(days.len(), DAYS as usize);
    days
}

pub fn load(s: &Server, clock: &PathBuf, days: &[Vec<Value>]) {
    for (d, commands) in days.iter().enumerate() {
        write_clock(clock, NOON_DAY1 + d as i64 * DAY);
        for chunk in commands.chunks(2000) {
            let v = s.post("/v1/economies/f/commands", ADMIN, &json!(chunk));
            assert_eq!(v["outcomes"].as_array().unwrap().len(), chunk.len());
        }
    }
    write_clock(clock, NOON_DAY1 + DAYS * DAY);
}

/// GET with the admin key, as bytes (for files).
fn download(s: &Server, path: &str) -> Vec<u8> {
    let r = ureq::get(&format!("http://{}{path}", s.addr))
        .set("Authorization", &format!("Bearer {ADMIN}"))
        .call()
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let mut bytes = Vec::new();
    r.into_reader().read_to_end(&mut bytes).unwrap();
    bytes
}

fn upload(s: &Server, path: &str, csv: &str) -> Value {
    let (status, text) = common::http(
        &s.addr,
        "POST",
        path,
        &[
            ("Authorization", format!("Bearer {ADMIN}")),
            ("Content-Type", "text/csv".into()),
        ],
        csv,
    )
    .unwrap();
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

/// Every account owed money, from the owed list's pages.
fn owed(s: &Server) -> BTreeMap<String, u64> {
    let mut all = BTreeMap::new();
    let mut after: Option<u64> = None;
    loop {
        let cursor = after.map(|a| format!("&after={a}")).unwrap_or_default();
        let v = s.get(
            &format!("/v1/economies/f/payouts/owed?limit=50{cursor}"),
            ADMIN,
        );
        for a in v["accounts"].as_array().unwrap() {
            all.insert(
                a["account"].as_str().unwrap().to_string(),
                a["owed_fen"].as_u64().unwrap(),
            );
        }
        match v["next_after"].as_u64() {
            Some(n) => after = Some(n),
            None => return all,
        }
    }
}

/// The journal from `GET …/events`, replayed by `jifen replay --events`, apart from the server:
/// its commands by id, and one event per command (what it did).
pub fn replayed(s: &Server, tmp: &Path) -> (BTreeMap<String, Value>, Vec<Value>) {
    let (mut lines, mut after) = (String::new(), 0);
    loop {
        let v = s.get(
            &format!("/v1/economies/f/events?after={after}&limit=1000"),
            ADMIN,
        );
        let events = v["events"].as_array().unwrap();
        if events.is_empty() {
            break;
        }
        for e in events {
            // The answer gives each amount a string twin (`cash_fen_str`): not the command's.
            let mut c = e["command"].clone();
            if let Some(m) = c.as_object_mut() {
                m.retain(|k, _| !k.ends_with("_str"));
            }
            lines.push_str(&c.to_string());
            lines.push('\n');
        }
        after = v["next_after"].as_u64().unwrap();
    }
    let (commands, events) = (tmp.join("journal.jsonl"), tmp.join("effects.jsonl"));
    std::fs::write(&commands, &lines).unwrap();
    let rules = tmp.join("rules.toml");
    std::fs::write(
        &rules,
        "quota_multiplier_bps = 12000\nsell_fee_bps = 1000\n",
    )
    .unwrap();
    let (out, described) = common::run(
        common::jifen()
            .arg("replay")
            .arg("--rules")
            .arg(&rules)
            .arg(&commands)
            .arg("--events")
            .arg(&events),
    );
    assert!(out.status.success(), "{described}");
    let by_id: BTreeMap<String, Value> = lines
        .lines()
        .map(|l| {
            let c: Value = serde_json::from_str(l).unwrap();
            (c["id"].as_str().unwrap_or("").to_string(), c)
        })
        .collect();
    let events = std::fs::read_to_string(&events)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (by_id, events)
}

/// What each account is owed, from the replayed journal: each sale's and exit's net.
fn owed_by_replay(by_id: &BTreeMap<String, Value>, events: &[Value]) -> BTreeMap<String, u64> {
    let mut owed: BTreeMap<String, u64> = BTreeMap::new();
    let (mut sales, mut exits) = (0, 0);
    for e in events {
        if let Some(net) = e["sale"]["net_fen"]
            .as_u64()
            .filter(|_| e["type"] == "sell")
        {
            let account = by_id[e["id"].as_str().unwrap()]["account"]
                .as_str()
                .unwrap();
            *owed.entry(account.to_string()).or_default() += net;
            sales += 1;
        }
        for x in e["exits"].as_array().unwrap() {
            *owed
                .entry(x["account"].as_str().unwrap().to_string())
                .or_default() += x["paid_fen"].as_u64().unwrap();
            exits += 1;
        }
    }
    assert!(
        sales > 50 && exits > 50,
        "the month has sales ({sales}) and exits ({exits})"
    );
    owed.retain(|_, v| *v > 0);
    owed
}

/// A WeChat Pay style result file: the first half of the lines paid, the rest failed.
pub fn result_file(batch: &Value) -> (String, u64, usize) {
    let lines = batch["lines"].as_array().unwrap();
    let half = lines.len() / 2;
    let mut csv = String::from("\u{feff}商家明细单号,收款用户openid,转账金额,明细状态,失败原因\n");
    let mut paid = 0;
    for (i, l) in lines.iter().enumerate() {
        let fen = l["amount_fen"].as_u64().unwrap();
        let (status, reason) = if i < half {
            ("SUCCESS", "")
        } else {
            ("FAIL", "收款账户异常")
        };
        if i < half {
            paid += fen;
        }
        csv.push_str(&format!(
            "{},o-{i},{}.{:02},{status},{reason}\n",
            l["detail_no"].as_str().unwrap(),
            fen / 100,
            fen % 100
        ));
    }
    (csv, paid, half)
}

fn pay_half(s: &Server, before: &BTreeMap<String, u64>) -> Value {
    let batch = s.post(
        "/v1/economies/f/payouts/batches",
        ADMIN,
        &json!({"remark": "11月积分回购兑付"}),
    );
    let lines = batch["lines"].as_array().unwrap();
    assert_eq!(
        lines.len(),
        before.len(),
        "the batch takes every account owed"
    );
    assert_eq!(
        batch["total_fen"].as_u64().unwrap(),
        before.values().sum::<u64>()
    );
    let no = batch["batch_no"].as_str().unwrap().to_string();
    let (csv, paid, half) = result_file(&batch);
    let path = format!("/v1/economies/f/payouts/batches/{no}/results");
    let first = upload(s, &path, &csv);
    assert_eq!(first["recorded"].as_array().unwrap().len(), half, "{first}");
    assert_eq!(
        first["failed"].as_array().unwrap().len(),
        lines.len() - half
    );
    assert_eq!(first["failed"][0]["reason"], "收款账户异常");
    let after = owed(s);
    assert_eq!(
        before.values().sum::<u64>() - after.values().sum::<u64>(),
        paid
    );
    for l in &lines[half..] {
        let account = l["account"].as_str().unwrap();
        assert_eq!(
            after.get(account),
            before.get(account),
            "a failed line stays owed"
        );
    }
    for l in &lines[..half] {
        assert!(
            !after.contains_key(l["account"].as_str().unwrap()),
            "a paid line is owed nothing"
        );
    }
    let again = upload(s, &path, &csv);
    assert_eq!(again["recorded"].as_array().unwrap().len(), 0, "{again}");
    assert_eq!(again["already_recorded"].as_array().unwrap().len(), half);
    assert_eq!(owed(s), after, "the same file twice changes nothing");
    batch
}

/// The double-entry export from the writer's stored lines, checked against a replay of the
/// journal: the same bytes.
fn journal_csv(s: &Server, range: &str) -> Vec<u8> {
    let path = format!("/v1/economies/f/reports/journal?{range}");
    let head = ureq::get(&format!("http://{}{path}", s.addr))
        .set("Authorization", &format!("Bearer {ADMIN}"))
        .call()
        .unwrap();
    assert_eq!(head.header("x-jifen-computed-from"), Some("stored"));
    let stored = download(s, &path);
    let replayed = download(
        s,
        &format!("/v1/economies/f/reports/journal?{range}&via=journal"),
    );
    assert!(stored == replayed, "stored lines and replay disagree");
    stored
}

fn save(tmp: &Path, name: &str, bytes: &[u8]) -> String {
    let path = tmp.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.display().to_string()
}

fn reports(s: &Server, tmp: &Path, batch: &Value) {
    let range = "from=2026-11-01&to=2026-11-30";
    let report = s.get(
        &format!("/v1/economies/f/reports/liabilities?{range}"),
        ADMIN,
    );
    let days = report["days"].as_array().unwrap();
    assert_eq!(days.len(), 30);
    // From the day-boundary samples (the default) and by replaying the journal: the same.
    let replayed = s.get(
        &format!("/v1/economies/f/reports/liabilities?{range}&via=journal"),
        ADMIN,
    );
    assert_eq!(
        replayed["days"], report["days"],
        "samples and replay disagree"
    );
    let stored = s.get(
        &format!("/v1/economies/f/reports/liabilities?{range}&via=stored"),
        ADMIN,
    );
    assert_eq!(
        stored["computed_from"], "stored",
        "via=stored, as documented"
    );
    assert_eq!(stored["days"], report["days"]);
    assert!(
        days.iter().all(
            |d| d["tree_size"].as_u64().unwrap() >= d["last_seq"].as_u64().unwrap()
                && d["tree_size"].as_u64().unwrap() > 0
        ),
        "each day has a signed head"
    );
    let state = s.get("/v1/economies/f/state", ADMIN);
    let last = days.last().unwrap();
    for (k, want) in [
        ("reserve_fen", "reserve_fen"),
        ("dividend_pool_fen", "dividend_pool_fen"),
        ("paid_out_total_fen", "paid_out_fen"),
    ] {
        assert_eq!(
            last[k], state[want],
            "{k}: the report's close and the state"
        );
    }
    let no = batch["batch_no"].as_str().unwrap();
    let input = json!({
        "report_csv": save(tmp, "report.csv", &download(s, &format!("/v1/economies/f/reports/liabilities?{range}&format=csv"))),
        "report_xlsx": save(tmp, "report.xlsx", &download(s, &format!("/v1/economies/f/reports/liabilities?{range}&format=xlsx"))),
        "journal_csv": save(tmp, "journal.csv", &journal_csv(s, range)),
        "journal_xlsx": save(tmp, "journal.xlsx", &download(s, &format!("/v1/economies/f/reports/journal?{range}&format=xlsx"))),
        "batch_csv": save(tmp, "batch.csv", &download(s, &format!("/v1/economies/f/payouts/batches/{no}?format=csv"))),
        "batch_xlsx": save(tmp, "batch.xlsx", &download(s, &format!("/v1/economies/f/payouts/batches/{no}?format=xlsx"))),
    });
    let (out, ok) = common::python_script("finance_check.py", &input);
    let summary = String::from_utf8_lossy(&out).to_string();
    assert!(ok, "the independent check failed: {summary}");
    eprintln!("finance check: {summary}");
}

/// A server (under a test clock, at the month's end) with the simulated month loaded into
/// economy `f`, and the month's commands by day.
pub fn loaded_month(backend: &Backend, tmp: &Path) -> (Server, Vec<Vec<Value>>) {
    let days = month(tmp);
    let clock = tmp.join("now");
    write_clock(&clock, NOON_DAY1);
    let s = Server::start(&Opts::with_clock(backend, &clock));
    create(
        &s,
        "f",
        json!({"quota_multiplier_bps": 12000, "sell_fee_bps": 1000}),
    );
    load(&s, &clock, &days);
    (s, days)
}

pub fn a_simulated_month(backend: &Backend) {
    let tmp = common::temp_dir(&format!("finance-{}", backend.name()));
    let (s, _) = loaded_month(backend, &tmp);
    let before = owed(&s);
    let (by_id, events) = replayed(&s, &tmp);
    assert_eq!(
        before,
        owed_by_replay(&by_id, &events),
        "the owed list and the replayed journal"
    );
    let batch = pay_half(&s, &before);
    reports(&s, &tmp, &batch);
    super::statements::check(&s, &by_id, &events, &batch);
    s.stop();
    let (out, described) = common::run(common::jifen().args(backend.cli_args()).arg("verify"));
    assert!(out.status.success(), "{described}");
}
