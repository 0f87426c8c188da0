//! Issue 26: a brand moves from SQLite to PostgreSQL and back with `jifen backup` and `jifen
//! restore`. The simulated month of `finance.rs` (settlements, dividends, payouts, double-entry
//! lines, samples, signed tree heads, snapshots) is backed up from SQLite, restored into a new
//! PostgreSQL database, backed up from there (a logical copy) and restored into a new SQLite
//! directory. At each step `jifen verify` passes, and the moved store serves the same journal
//! (every entry's hash), state, tree heads (root and signature), double-entry export and
//! liability report; proofs issued on SQLite before the move verify offline against the key and
//! heads the moved server serves, and the moved server issues the same proofs.

use std::path::Path;

use serde_json::{json, Value};

use super::finance::loaded_month;
use crate::common;
use crate::support::Backend;
use crate::web::*;

/// What a server shows of economy `f`, to compare across the moves.
struct Seen {
    /// The earlier head the consistency proof starts from.
    first_head: u64,
    entries: Vec<(u64, String, String, String)>,
    state: String,
    head: Value,
    key: Value,
    inclusion: Value,
    consistency: Value,
    journal_csv: String,
    liabilities: Value,
}

fn text(s: &Server, path: &str) -> String {
    let answer = ureq::get(&format!("http://{}{path}", s.addr))
        .set("Authorization", &format!("Bearer {ADMIN}"))
        .call()
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    answer.into_string().unwrap()
}

fn seen(s: &Server, backend: &Backend, first_head: u64) -> Seen {
    let head = s.get("/v1/economies/f/tree-heads/latest", ADMIN);
    let size = head["tree_size"].as_u64().unwrap();
    let mut store = backend.open();
    let entries = store.entries("f", 0, usize::MAX).unwrap();
    Seen {
        first_head,
        entries: (entries.iter())
            .map(|e| {
                let hash = entries_hash(&e.hash);
                (e.seq, e.command.clone(), e.outcome.clone(), hash)
            })
            .collect(),
        state: text(s, "/v1/economies/f/state"),
        key: s.get("/v1/tree-key", ADMIN),
        inclusion: s.get(
            &format!("/v1/economies/f/proofs/inclusion?seq=777&tree_size={size}"),
            ADMIN,
        ),
        consistency: s.get(
            &format!("/v1/economies/f/proofs/consistency?from={first_head}&to={size}"),
            ADMIN,
        ),
        head,
        journal_csv: text(
            s,
            "/v1/economies/f/reports/journal?from=2026-11-01&to=2026-11-30",
        ),
        liabilities: s.get(
            "/v1/economies/f/reports/liabilities?from=2026-11-01&to=2026-11-30",
            ADMIN,
        ),
    }
}

/// The snapshots of `f` (seq and bytes), read once its server has stopped.
fn snapshots(backend: &Backend) -> Vec<(u64, Vec<u8>)> {
    let mut store = backend.open();
    let seqs = store.snapshot_seqs("f").unwrap();
    (seqs.into_iter())
        .map(|seq| (seq, store.snapshot("f", seq).unwrap().unwrap()))
        .collect()
}

fn entries_hash(h: &[u8; 32]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

fn jifen_ok(backend: &Backend, args: &[&str]) -> String {
    let (out, text) = common::run(common::jifen().args(backend.cli_args()).args(args));
    assert!(out.status.success(), "jifen {args:?}: {text}");
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Backs `from` up into `to` and restores it into `into`, where `jifen verify` then passes.
fn move_store(from: &Backend, to: &Path, into: &Backend) {
    let to = to.display().to_string();
    let said = jifen_ok(from, &["backup", "--with-signing-key", "--to", &to]);
    assert!(said.contains("verified, with the signing seed"), "{said}");
    let said = jifen_ok(into, &["restore", "--from", &to]);
    assert!(said.contains("ok      f: through seq"), "{said}");
    jifen_ok(into, &["verify"]);
}

/// The proofs issued before the move, checked offline with the moved server's key and head.
fn old_proofs_verify(tmp: &Path, before: &Seen, after: &Seen, name: &str) {
    let dir = tmp.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let save = |file: &str, v: &Value| std::fs::write(dir.join(file), v.to_string()).unwrap();
    save("key.json", &after.key);
    save("head.json", &after.head);
    save("inclusion.json", &before.inclusion);
    save("consistency.json", &before.consistency);
    let (out, said) = common::run(
        common::jifen()
            .args(["proof", "verify", "--public-key"])
            .arg(dir.join("key.json"))
            .arg("--head")
            .arg(dir.join("head.json"))
            .arg("--inclusion")
            .arg(dir.join("inclusion.json")),
    );
    assert!(
        out.status.success() && said.contains("is included"),
        "{said}"
    );
}

/// `from` moved into `into` and served there (under the month's clock): what it shows, once
/// its snapshots are found moved and the proofs issued before the move verify against it.
fn moved(from: &Backend, into: &Backend, tmp: &Path, name: &str, original: &Seen) -> Seen {
    let snapshotted = snapshots(from);
    move_store(from, &tmp.join(format!("backup-{name}")), into);
    let s = Server::start(&Opts::with_clock(into, &tmp.join("now")));
    let first_head = original.first_head;
    let shown = seen(&s, into, first_head);
    s.stop();
    assert!(
        snapshots(into).starts_with(&snapshotted),
        "{name}: the snapshots moved"
    );
    old_proofs_verify(tmp, original, &shown, name);
    shown
}

#[test]
fn sqlite_to_postgresql_and_back_keeps_every_hash() {
    let tmp = common::temp_dir("move-backends");
    let sqlite = Backend::sqlite();
    let (s, _) = loaded_month(&sqlite, &tmp);
    let first = s.post("/v1/economies/f/tree-heads", ADMIN, &json!({}));
    let first_head = first["tree_size"].as_u64().unwrap();
    s.post(
        "/v1/economies/f/commands",
        ADMIN,
        &json!([{"type": "register_consumer", "id": "late", "account": "late"}]),
    );
    s.post("/v1/economies/f/tree-heads", ADMIN, &json!({}));
    let original = seen(&s, &sqlite, first_head);
    s.stop();
    assert!(
        !snapshots(&sqlite).is_empty(),
        "the server snapshots on its way out"
    );
    assert!(original.entries.len() > 6000 && original.journal_csv.lines().count() > 1000);
    let postgres = Backend::postgres();
    let on_postgres = moved(&sqlite, &postgres, &tmp, "on-postgres", &original);
    let back = Backend::sqlite();
    let on_sqlite = moved(&postgres, &back, &tmp, "back-on-sqlite", &original);
    for (name, moved) in [("PostgreSQL", &on_postgres), ("SQLite again", &on_sqlite)] {
        assert_eq!(moved.entries, original.entries, "{name}: the journal");
        assert_eq!(moved.state, original.state, "{name}: the state");
        assert_eq!(moved.head, original.head, "{name}: the signed head");
        assert_eq!(moved.key, original.key, "{name}: the tree key");
        assert_eq!(moved.inclusion, original.inclusion, "{name}: inclusion");
        assert_eq!(moved.consistency, original.consistency, "{name}");
        assert!(moved.journal_csv == original.journal_csv, "{name}: lines");
        assert!(
            moved.liabilities == original.liabilities,
            "{name}: the liability report"
        );
    }
}

#[test]
fn a_restore_into_postgresql_refuses_a_database_in_use() {
    let tmp = common::temp_dir("restore-into-used");
    let (sqlite, postgres) = (Backend::sqlite(), Backend::postgres());
    let s = Server::simple(&sqlite);
    create(&s, "a", json!({}));
    s.stop();
    let to = tmp.join("b").display().to_string();
    jifen_ok(&sqlite, &["backup", "--to", &to]);
    jifen_ok(&postgres, &["restore", "--from", &to]);
    let (out, said) = common::run(
        common::jifen()
            .args(postgres.cli_args())
            .args(["restore", "--from", &to]),
    );
    assert!(
        !out.status.success() && said.contains("not empty"),
        "{said}"
    );
    let (out, said) = common::run(common::jifen().args(postgres.cli_args()).args([
        "restore",
        "--from",
        &to,
        "--until-seq",
        "1",
    ]));
    assert!(!out.status.success() && said.contains("--data"), "{said}");
}
