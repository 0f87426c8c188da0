//! `jifen backup` and `jifen restore`: a backup taken while a server writes under load (on
//! SQLite, and on PostgreSQL as a logical copy) restores into a store that verifies and equals
//! the live one at the seq the backup reports (entry by entry, and its state against a replay of
//! the live journal to that seq); a backup killed midway leaves nothing a restore accepts.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::common;
use crate::support::Backend;
use crate::web::*;

/// Posts batches of orders (paid, then confirmed) to economy `eco` until `stop`.
fn load(addr: String, eco: &'static str, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let batch: Vec<_> = (0..50)
                .flat_map(|i| {
                    let o = format!("o{n}-{i}");
                    [
                        json!({"type": "pay_order", "id": format!("p-{o}"), "order": o, "consumer": format!("c{}", i % 10), "merchant": "m", "cash_fen": 1000 + i, "stable_fen": 0}),
                        json!({"type": "confirm_order", "id": format!("c-{o}"), "order": o}),
                    ]
                })
                .collect();
            let headers = [
                ("Authorization", format!("Bearer {ADMIN}")),
                ("Content-Type", "application/json".into()),
            ];
            let path = format!("/v1/economies/{eco}/commands");
            if common::http(&addr, "POST", &path, &headers, &json!(batch).to_string()).is_err() {
                break;
            }
            n += 1;
        }
        n
    })
}

fn economy(s: &Server, eco: &str) {
    create(s, eco, json!({}));
    let mut cmds = vec![json!({"type": "register_merchant", "id": "m", "account": "m"})];
    cmds.extend((0..10).map(
        |i| json!({"type": "register_consumer", "id": format!("r{i}"), "account": format!("c{i}")}),
    ));
    s.post(
        &format!("/v1/economies/{eco}/commands"),
        ADMIN,
        &json!(cmds),
    );
}

/// Restores `backup` into `dir` with the binary, and checks that `jifen verify` passes there.
fn restore_and_verify(backup: &std::path::Path, dir: &std::path::Path) -> Backend {
    let restored = Backend::Sqlite {
        dir: dir.to_path_buf(),
    };
    let (out, text) = common::run(
        common::jifen()
            .args(restored.cli_args())
            .args(["restore", "--from"])
            .arg(backup),
    );
    assert!(out.status.success(), "{text}");
    let (out, text) = common::run(common::jifen().args(restored.cli_args()).arg("verify"));
    assert!(out.status.success(), "{text}");
    restored
}

/// The value of the sample `series` (name and labels, as written) in a metrics text.
fn sample<T: std::str::FromStr>(text: &str, series: &str) -> Option<T> {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{series} ")))
        .and_then(|v| v.trim().parse().ok())
}

fn data_dir(backend: &Backend) -> std::path::PathBuf {
    match backend {
        Backend::Sqlite { dir } => dir.clone(),
        _ => unreachable!("SQLite only"),
    }
}

on_both_backends! {
    a_backup_under_load_restores_to_the_live_store_at_its_seq => super::backup_under_load;
}

/// On PostgreSQL the backup is a logical copy, restored here into SQLite.
fn backup_under_load(backend: &Backend) {
    let s = Server::simple(backend);
    economy(&s, "k");
    let stop = Arc::new(AtomicBool::new(false));
    let loader = load(s.addr.clone(), "k", stop.clone());
    std::thread::sleep(Duration::from_millis(1500));
    let work = common::temp_dir(&format!("backup-under-load-{}", backend.name()));
    let to = work.join("b");
    let (out, text) = common::run(
        common::jifen()
            .args(backend.cli_args())
            .args(["backup", "--with-signing-key", "--to"])
            .arg(&to),
    );
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let batches = loader.join().unwrap();
    assert!(out.status.success(), "{text}");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let seq: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("ok      k: through seq "))
        .and_then(|rest| rest.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("{stdout}"));
    let live_head = s.get("/v1/economies/k", ADMIN)["head_seq"]
        .as_u64()
        .unwrap();
    assert!(
        seq > 100 && live_head > seq,
        "the backup was taken mid-load: seq {seq}, head {live_head}, {batches} batches"
    );
    #[cfg(unix)]
    for f in ["jifen.sqlite3", "backup.json", "tree-signing.key"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(to.join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{f}");
    }
    // Restored into an empty directory: it verifies, and its journal is the live one's to seq.
    let restored = restore_and_verify(&to, &work.join("restored"));
    let (mut live, mut copy) = (backend.open(), restored.open());
    let theirs = copy.entries("k", 0, seq as usize + 10).unwrap();
    let ours = live.entries("k", 0, seq as usize).unwrap();
    assert_eq!(theirs.len() as u64, seq);
    for (a, b) in ours.iter().zip(&theirs) {
        assert_eq!(
            (a.seq, &a.command, &a.outcome, a.hash),
            (b.seq, &b.command, &b.outcome, b.hash)
        );
    }
    // Its state, served, is the live journal replayed to that seq.
    let exported = work.join("export.jsonl");
    let rules = work.join("rules.toml");
    let (out, text) = common::run(
        common::jifen()
            .args(backend.cli_args())
            .args(["export", "--economy", "k", "--out"])
            .arg(&exported)
            .arg("--rules-out")
            .arg(&rules),
    );
    assert!(out.status.success(), "{text}");
    let upto: String = std::fs::read_to_string(&exported)
        .unwrap()
        .lines()
        .take(seq as usize)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&exported, upto).unwrap();
    let (out, text) = common::run(
        common::jifen()
            .arg("replay")
            .arg("--rules")
            .arg(&rules)
            .arg(&exported),
    );
    assert!(out.status.success(), "{text}");
    s.stop();
    let r = Server::simple(&restored);
    let (status, served) = r.raw(format!("GET /v1/economies/k/state HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAuthorization: Bearer {ADMIN}\r\n\r\n").as_bytes());
    assert_eq!(status, 200);
    assert_eq!(
        served,
        String::from_utf8_lossy(&out.stdout),
        "the restored state is the live journal's at seq {seq}"
    );
    r.stop();
    // A second restore into the same directory is refused.
    let (out, _) = common::run(
        common::jifen()
            .args(restored.cli_args())
            .args(["restore", "--from"])
            .arg(&to),
    );
    assert!(!out.status.success());
}

#[test]
fn a_backup_killed_midway_leaves_nothing_a_restore_accepts() {
    let backend = Backend::sqlite();
    let s = Server::simple(&backend);
    economy(&s, "k");
    let stop = Arc::new(AtomicBool::new(false));
    let loader = load(s.addr.clone(), "k", stop.clone());
    std::thread::sleep(Duration::from_secs(4));
    stop.store(true, Ordering::Relaxed);
    loader.join().unwrap();
    let size = std::fs::metadata(data_dir(&backend).join("jifen.sqlite3"))
        .unwrap()
        .len();
    let work = common::temp_dir("backup-killed");
    let mut complete = 0;
    for (round, after_ms) in [5u64, 30, 80, 150, 300].into_iter().enumerate() {
        let to = work.join(format!("b{round}"));
        let mut child = common::jifen()
            .args(backend.cli_args())
            .args(["backup", "--to"])
            .arg(&to)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(after_ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let partial = work.join(format!("b{round}.partial"));
        for candidate in [&to, &partial] {
            if !candidate.exists() {
                continue;
            }
            let target = Backend::Sqlite {
                dir: work.join(format!(
                    "r{round}-{}",
                    candidate.file_name().unwrap().to_string_lossy()
                )),
            };
            let (out, text) = common::run(
                common::jifen()
                    .args(target.cli_args())
                    .args(["restore", "--from"])
                    .arg(candidate),
            );
            if out.status.success() {
                // Only a finished backup restores, and then it is whole.
                assert_eq!(
                    candidate, &to,
                    "round {round}: a partial backup restored: {text}"
                );
                let (out, text) =
                    common::run(common::jifen().args(target.cli_args()).arg("verify"));
                assert!(out.status.success(), "round {round}: {text}");
                complete += 1;
            } else {
                assert!(text.contains("restore refused"), "round {round}: {text}");
            }
        }
    }
    assert!(
        complete < 5,
        "the store ({size} bytes) was too small for any kill to land midway"
    );
    s.stop();
}

/// `serve --backup-dir D --backup-every 1s --backup-keep 2` makes verified backups on schedule,
/// keeps the newest two, reports them in the metrics, and each restores.
#[test]
fn scheduled_backups_are_made_kept_and_counted() {
    let backend = Backend::sqlite();
    let work = common::temp_dir("backup-scheduled");
    let dir = work.join("backups");
    let dir_arg = dir.display().to_string();
    let s = Server::start(&Opts::with(
        &backend,
        vec![
            "--backup-dir",
            &dir_arg,
            "--backup-every",
            "1s",
            "--backup-keep",
            "2",
        ],
    ));
    economy(&s, "k");
    let made = || -> Vec<std::path::PathBuf> {
        let mut v: Vec<_> = std::fs::read_dir(&dir)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        v.retain(|p| !p.to_string_lossy().ends_with(".partial"));
        v.sort();
        v
    };
    let metric = |name: &str| -> f64 {
        let (_, text) = common::http(&s.addr, "GET", "/metrics", &[], "").unwrap();
        sample(&text, name).unwrap_or(-1.0)
    };
    eventually("three scheduled backups", || {
        metric("jifen_backups_total") >= 3.0
    });
    assert_eq!(made().len(), 2, "the newest two are kept: {:?}", made());
    assert_eq!(metric("jifen_backup_failures_total"), 0.0);
    assert!(metric("jifen_backup_last_success_timestamp_seconds") > 1.7e9);
    assert!(metric("jifen_backup_last_duration_seconds") > 0.0);
    let newest = made().pop().unwrap();
    restore_and_verify(&newest, &work.join("restored"));
    s.stop();
}

/// `/readyz` answers without a key: ready, with each open economy's writer queue.
#[test]
fn readyz_says_every_economy_takes_writes() {
    let backend = Backend::sqlite();
    let s = Server::simple(&backend);
    economy(&s, "k");
    economy(&s, "j");
    let (status, body) = common::http(&s.addr, "GET", "/readyz", &[], "").unwrap();
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "ready", "{v}");
    assert!(v["economies_open"].as_u64().unwrap() >= 2, "{v}");
    assert_eq!(v["writer_queue"]["k"], 0, "{v}");
    assert_eq!(v["problems"], json!([]), "{v}");
    s.stop();
}

/// After a mixed run, the economy's series in `/metrics` (admin key) are the API's figures.
#[test]
fn the_economy_gauges_are_the_apis_figures() {
    let backend = Backend::sqlite();
    let s = Server::simple(&backend);
    economy(&s, "k");
    let mut cmds = Vec::new();
    for i in 0..20 {
        let o = format!("o{i}");
        cmds.push(json!({"type": "pay_order", "id": format!("p{i}"), "order": o, "consumer": format!("c{}", i % 10), "merchant": "m", "cash_fen": 10_000 + i, "stable_fen": 0}));
        if i % 4 != 0 {
            cmds.push(json!({"type": "confirm_order", "id": format!("c{i}"), "order": o}));
        }
    }
    cmds.push(json!({"type": "settle_dividends", "id": "s1", "day": "2026-01-01"}));
    cmds.push(json!({"type": "sell", "id": "sell1", "account": "c1", "atoms": 100_000_000}));
    s.post("/v1/economies/k/commands", ADMIN, &json!(cmds));
    let e = s.get("/v1/economies/k", ADMIN);
    let (status, text) = s.metrics();
    assert_eq!(status, 200);
    let gauge = |name: &str| -> u64 {
        sample(&text, &format!("{name}{{economy=\"k\"}}"))
            .unwrap_or_else(|| panic!("no {name} for k in\n{text}"))
    };
    for (series, field) in [
        ("jifen_economy_reserve_fen", "reserve_fen"),
        ("jifen_economy_dividend_pool_fen", "dividend_pool_fen"),
        (
            "jifen_economy_quota_outstanding_fen",
            "quota_outstanding_fen",
        ),
        ("jifen_economy_escrow_fen", "escrow_fen"),
        ("jifen_economy_circulating_atoms", "circulating_atoms"),
        ("jifen_economy_pending_orders", "pending_orders"),
        ("jifen_economy_accounts", "accounts"),
        ("jifen_economy_head_seq", "head_seq"),
    ] {
        assert_eq!(
            gauge(series),
            e[field].as_u64().unwrap(),
            "{series} vs {field}: {e}"
        );
    }
    assert_eq!(gauge("jifen_economy_pending_orders"), 5);
    // Payouts owed: the sale's cash due, as the owed list has it.
    let owed = s.get("/v1/economies/k/payouts/owed?limit=100", ADMIN);
    let owed: u64 = (owed["accounts"].as_array().unwrap().iter())
        .map(|a| a["owed_fen"].as_u64().unwrap())
        .sum();
    assert!(owed > 0);
    assert_eq!(gauge("jifen_economy_payouts_owed_fen"), owed);
    // The price, exactly: reserve / circulating, in millionths of a yuan per point.
    let (num, den) = (
        e["price"]["num_fen"].as_u64().unwrap() as u128,
        e["price"]["den_atoms"].as_u64().unwrap() as u128,
    );
    let micro = (num * 100_000_000 * 10_000 / den) as u64;
    assert_eq!(gauge("jifen_economy_price_microyuan_per_point"), micro);
    // Holders: the consumers the account list shows with points.
    let listed = s.get("/v1/economies/k/accounts?limit=100", ADMIN);
    let holding = (listed["accounts"].as_array().unwrap().iter())
        .filter(|a| a["kind"] == "consumer" && a["atoms"].as_u64().unwrap() > 0)
        .count() as u64;
    assert!(holding > 0);
    assert_eq!(gauge("jifen_economy_holders"), holding);
    assert_eq!(gauge("jifen_economy_last_settled_day"), 20260101);
    assert!(gauge("jifen_economy_writer_queue") <= 65_536);
    // Every commit was timed, and the entries per commit add up to at least the journal.
    let process = |name: &str| -> f64 {
        sample(&text, name).unwrap_or_else(|| panic!("no {name} in\n{text}"))
    };
    assert!(process("jifen_commit_duration_seconds_count") >= 2.0);
    // On SQLite the sync (the WAL's fsync in COMMIT) is timed apart, within each commit's time.
    assert!(process("jifen_commit_sync_seconds_count") >= 2.0);
    assert!(
        process("jifen_commit_sync_seconds_sum") <= process("jifen_commit_duration_seconds_sum")
    );
    // Latency by route template and class of answer.
    assert!(
        process(
            r#"jifen_http_request_duration_seconds_count{route="/v1/economies/{eco}/commands",status="2xx"}"#
        ) >= 2.0
    );
    assert!(process("jifen_commit_entries_sum") >= e["head_seq"].as_u64().unwrap() as f64);
    // Without a key: the process-wide series only.
    let (_, open) = common::http(&s.addr, "GET", "/metrics", &[], "").unwrap();
    assert!(!open.contains("jifen_economy_reserve_fen"), "{open}");
    s.stop();
}

/// The example alerting rules (docs/alerts.yml) load in `promtool` (which scripts/test installs
/// from Debian's `prometheus` package; without it they are parsed as YAML), and every jifen
/// series they name is one the server exports.
#[test]
fn the_alerting_rules_load_and_name_real_series() {
    let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/alerts.yml");
    let promtool = std::path::Path::new("/usr/bin/promtool");
    if promtool.exists() {
        let (out, text) = common::run(
            std::process::Command::new(promtool)
                .args(["check", "rules"])
                .arg(&rules),
        );
        assert!(out.status.success() && text.contains("SUCCESS"), "{text}");
    } else {
        let script = "import sys, yaml\nd = yaml.safe_load(open(sys.argv[1]))\nfor g in d['groups']:\n    for r in g['rules']:\n        assert r['alert'] and r['expr'] and r['labels']['severity'] and r['annotations']['summary'], r\nprint('ok')";
        let (out, text) = common::run(
            std::process::Command::new(common::python())
                .args(["-c", script])
                .arg(&rules),
        );
        assert!(out.status.success(), "{text}");
    }
    let backend = Backend::sqlite();
    let work = common::temp_dir("alerts");
    let dir = work.join("backups").display().to_string();
    let s = Server::start(&Opts::with(
        &backend,
        vec![
            "--backup-dir",
            &dir,
            "--backup-every",
            "1h",
            "--allow-private-targets",
        ],
    ));
    economy(&s, "k");
    // A subscription, so its series exist (its receiver is nowhere).
    s.post(
        "/v1/economies/k/webhooks",
        ADMIN,
        &serde_json::json!({"id": "crm", "url": "http://127.0.0.1:9/", "events": ["*"]}),
    );
    // And an exchange venue, so its outbox's series exist.
    let (status, said) = s.call(
        "PUT",
        "/v1/economies/k/venues/x",
        Some(ADMIN),
        Some(&serde_json::json!({"url": "http://127.0.0.1:9/", "secret": "venue-shared-secret-0123456789"}).to_string()),
    );
    assert_eq!(status, 200, "{said}");
    eventually("the venue's outbox running", || {
        let (_, m) = s.metrics();
        m.contains("jifen_outbox_lag_events{")
    });
    let (_, metrics) = s.metrics();
    let text = std::fs::read_to_string(&rules).unwrap();
    let mut named: Vec<&str> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("jifen_"))
        .collect();
    named.sort_unstable();
    named.dedup();
    assert!(named.len() >= 8, "{named:?}");
    for series in named {
        let family = series.trim_end_matches("_bucket");
        assert!(
            metrics.lines().any(|l| l.starts_with(series)
                || l.starts_with(&format!("# TYPE {family} "))
                || l.starts_with(&format!("# TYPE {} ", family.trim_end_matches("_total")))),
            "the rules name {series}, which /metrics does not export"
        );
    }
    s.stop();
}
