//! The storage suite, run against both real backends: SQLite and PostgreSQL.

mod support;

use std::path::Path;

use jifen_core::{Ledger, Rules};
use jifen_journal::{
    create_economy, export, recover, verify_economy, Journal, JournalConfig, JournalError,
    StartupCheck, Submitted,
};
use jifen_wire::{rules_from_toml, state_json, StateVersion};
use support::Backend;

/// The conformance vectors, in the repository.
fn shared() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors")
}

fn lines(vector: &str) -> Vec<String> {
    std::fs::read_to_string(shared().join("golden").join(vector).join("commands.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

fn vector_rules(vector: &str) -> Rules {
    rules_from_toml(
        &std::fs::read_to_string(shared().join("golden").join(vector).join("rules.toml")).unwrap(),
    )
    .unwrap()
}

fn config(snapshot_every: u64) -> JournalConfig {
    JournalConfig {
        snapshot_every_entries: snapshot_every,
        ..JournalConfig::default()
    }
}

/// Creates economy `eco` under `rules` and writes `lines` in batches of `batch`.
fn write(backend: &Backend, rules: &Rules, lines: &[String], batch: usize, snapshot_every: u64) {
    let mut store = backend.open();
    create_economy(
        store.as_mut(),
        "eco",
        "Test economy",
        rules,
        "Asia/Shanghai",
        1_795_651_200_000,
    )
    .unwrap();
    let (journal, _) = Journal::open(store, "eco", config(snapshot_every)).unwrap();
    for chunk in lines.chunks(batch) {
        let commands = chunk.iter().map(|l| Submitted::Line(l.clone())).collect();
        journal.submit_wait(commands).unwrap();
    }
    journal.shutdown().unwrap();
}

fn state_of(backend: &Backend) -> String {
    let mut store = backend.open();
    let r = recover(store.as_mut(), "eco", StartupCheck::FullChain).unwrap();
    state_json(&r.ledger, StateVersion::V1)
}

#[test]
fn golden_vectors_through_the_journal_recover_exactly() {
    for backend in Backend::both() {
        for vector in ["seed-wine", "mixed-101", "mixed-102", "mixed-103"] {
            let b = match backend.name() {
                "sqlite" => Backend::sqlite(),
                _ => Backend::postgres(),
            };
            // Small snapshots interval, so recovery goes through a snapshot and a tail.
            write(&b, &vector_rules(vector), &lines(vector), 97, 500);
            let want = std::fs::read_to_string(
                shared()
                    .join("golden")
                    .join(vector)
                    .join("expected-state.json"),
            )
            .unwrap();
            assert_eq!(state_of(&b), want, "{} {vector}", b.name());
            let report = verify_economy(b.open().as_mut(), "eco", &mut |_, _| {}).unwrap();
            assert!(report.ok(), "{} {vector}: {:?}", b.name(), report.problems);
        }
    }
}

#[test]
fn recovery_equals_replay_from_scratch() {
    for b in Backend::both() {
        let lines = lines("mixed-103");
        write(&b, &vector_rules("mixed-103"), &lines, 64, 700);
        let mut store = b.open();
        let from_snapshot = recover(store.as_mut(), "eco", StartupCheck::Tail).unwrap();
        assert!(
            from_snapshot.snapshot_seq.is_some(),
            "{}: no snapshot was used",
            b.name()
        );
        let mut scratch = Ledger::new(vector_rules("mixed-103"));
        for l in &lines {
            let p = jifen_wire::parse_command_line(l);
            scratch.submit(
                p.id.as_deref(),
                p.fingerprint,
                p.command.as_ref().map_err(|c| *c),
            );
        }
        assert_eq!(
            from_snapshot.ledger.encode(),
            scratch.encode(),
            "{}",
            b.name()
        );
        assert_eq!(from_snapshot.head_seq, scratch.seq());
    }
}

#[test]
fn export_replays_to_the_same_state() {
    for b in Backend::both() {
        let lines = lines("mixed-102");
        write(&b, &vector_rules("mixed-102"), &lines, 1000, 1_000_000);
        let mut out = Vec::new();
        let n = export(b.open().as_mut(), "eco", &mut out, &mut |_, _| {}).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count() as u64, n);
        let mut replayed = Ledger::new(vector_rules("mixed-102"));
        for l in text.lines() {
            let p = jifen_wire::parse_command_line(l);
            replayed.submit(
                p.id.as_deref(),
                p.fingerprint,
                p.command.as_ref().map_err(|c| *c),
            );
        }
        assert_eq!(
            state_json(&replayed, StateVersion::V1),
            state_of(&b),
            "{}",
            b.name()
        );
    }
}

#[test]
fn idempotency_survives_restarts() {
    for b in Backend::both() {
        let rules = Rules::default();
        let lines = lines("seed-wine");
        write(&b, &rules, &lines[..50], 10, 20);
        let (journal, info) = Journal::open(b.open(), "eco", config(20)).unwrap();
        assert_eq!(info.head_seq, 50);
        // Every acknowledged id, sent again after the restart, gives the original outcome.
        let again = journal
            .submit_wait(
                lines[..50]
                    .iter()
                    .map(|l| Submitted::Line(l.clone()))
                    .collect(),
            )
            .unwrap();
        for (n, ack) in again.iter().enumerate() {
            assert!(ack.outcome.retry, "{}: line {n}", b.name());
            assert_eq!(ack.outcome.seq, n as u64 + 1);
            assert_eq!(ack.outcome.result, Ok(()));
        }
        // The same id with another body is a conflict, journaled as such.
        let conflict = r#"{"type": "register_consumer", "id": "r0", "account": "someone-else"}"#;
        let ack = journal
            .submit_wait(vec![Submitted::Line(conflict.into())])
            .unwrap();
        assert_eq!(ack[0].outcome.code(), Some(jifen_core::Code::IdConflict));
        assert_eq!(ack[0].outcome.seq, 51);
        journal.shutdown().unwrap();
        let report = verify_economy(b.open().as_mut(), "eco", &mut |_, _| {}).unwrap();
        assert!(report.ok(), "{:?}", report.problems);
        assert_eq!(report.entries, 51);
    }
}

/// Expects start-up and verify to both find a problem at `seq`.
fn assert_detected(b: &Backend, what: &str, seq: u64) {
    let mut store = b.open();
    match recover(store.as_mut(), "eco", StartupCheck::FullChain) {
        Err(JournalError::Corrupt {
            economy, seq: at, ..
        }) => {
            assert_eq!(economy, "eco");
            assert_eq!(at, seq, "{} {what}: wrong seq named", b.name());
        }
        Err(other) => panic!("{} {what}: start-up failed oddly: {other}", b.name()),
        Ok(_) => panic!("{} {what}: start-up did not notice", b.name()),
    }
    let report = verify_economy(store.as_mut(), "eco", &mut |_, _| {}).unwrap();
    assert!(!report.ok(), "{} {what}: verify did not notice", b.name());
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains(&format!("seq {seq}"))),
        "{} {what}: {:?}",
        b.name(),
        report.problems
    );
}

#[test]
fn flipped_bytes_and_deleted_entries_are_detected() {
    type Fault = (&'static str, fn(&mut Vec<jifen_journal::Entry>, u64), u64);
    fn flip(text: &mut String, i: usize) {
        let mut bytes = std::mem::take(text).into_bytes();
        bytes[i] ^= 1;
        *text = String::from_utf8(bytes).unwrap();
    }
    fn at(entries: &mut [jifen_journal::Entry], seq: u64) -> &mut jifen_journal::Entry {
        entries.iter_mut().find(|e| e.seq == seq).unwrap()
    }
    let faults: [Fault; 5] = [
        (
            "a flipped byte in a command before the snapshot",
            |es, seq| flip(&mut at(es, seq).command, 2),
            40,
        ),
        (
            "a flipped byte in a command after the snapshot",
            |es, seq| flip(&mut at(es, seq).command, 2),
            170,
        ),
        (
            "a flipped byte in a stored outcome",
            |es, seq| flip(&mut at(es, seq).outcome, 0),
            120,
        ),
        (
            "a flipped byte in a stored hash",
            |es, seq| at(es, seq).hash[4] ^= 1,
            90,
        ),
        (
            "an entry deleted from the middle",
            |es, seq| es.retain(|e| e.seq != seq),
            77,
        ),
    ];
    for (what, fault, seq) in faults {
        for b in Backend::both() {
            write(&b, &Rules::default(), &lines("seed-wine"), 25, 150);
            b.rewrite_block("eco", seq, |entries| fault(entries, seq));
            assert_detected(&b, what, seq);
        }
    }
}

#[test]
fn a_damaged_snapshot_falls_back_and_verify_reports_it() {
    for b in Backend::both() {
        write(&b, &Rules::default(), &lines("seed-wine"), 25, 100);
        let newest = b.open().snapshot_seqs("eco").unwrap()[0];
        match &b {
            Backend::Sqlite { dir } => {
                // SQLite keeps snapshots as files beside the database.
                let file = dir
                    .join("snapshots")
                    .join(hex::encode("eco"))
                    .join(format!("{newest:020}.snap"));
                let mut bytes = std::fs::read(&file).unwrap();
                bytes[99] ^= 1;
                std::fs::write(&file, bytes).unwrap();
            }
            _ => b.tamper(&format!(
                "UPDATE snapshots SET data = set_byte(data, 99, get_byte(data, 99) # 1) WHERE seq = {newest}"
            )),
        }
        let mut store = b.open();
        let r = recover(store.as_mut(), "eco", StartupCheck::FullChain).unwrap();
        assert_ne!(
            r.snapshot_seq,
            Some(newest),
            "{}: the damaged snapshot was used",
            b.name()
        );
        assert_eq!(r.skipped_snapshots.len(), 1, "{}", b.name());
        assert_eq!(
            state_json(&r.ledger, StateVersion::V1),
            std::fs::read_to_string(shared().join("golden/seed-wine/expected-state.json")).unwrap()
        );
        let report = verify_economy(store.as_mut(), "eco", &mut |_, _| {}).unwrap();
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.contains(&format!("snapshot at seq {newest}"))),
            "{}: {:?}",
            b.name(),
            report.problems
        );
    }
}

#[test]
fn economies_are_isolated() {
    for b in Backend::both() {
        let mut store = b.open();
        create_economy(
            store.as_mut(),
            "a",
            "A",
            &Rules::default(),
            "Asia/Shanghai",
            0,
        )
        .unwrap();
        create_economy(store.as_mut(), "b", "B", &Rules::default(), "UTC", 0).unwrap();
        assert!(matches!(
            create_economy(store.as_mut(), "a", "A again", &Rules::default(), "UTC", 0),
            Err(JournalError::Store(
                jifen_journal::StoreError::EconomyExists(_)
            ))
        ));
        let (a, _) = Journal::open(b.open(), "a", config(1000)).unwrap();
        let (bj, _) = Journal::open(b.open(), "b", config(1000)).unwrap();
        let reg = r#"{"type": "register_consumer", "id": "x", "account": "alice"}"#;
        a.submit_wait(vec![Submitted::Line(reg.into())]).unwrap();
        let in_b = bj.submit_wait(vec![Submitted::Line(reg.into())]).unwrap();
        assert!(
            !in_b[0].outcome.retry,
            "{}: an id leaked across economies",
            b.name()
        );
        assert_eq!(bj.read(|v| v.ledger.economy().accounts().len()).unwrap(), 1);
        a.shutdown().unwrap();
        bj.shutdown().unwrap();
        assert!(
            create_economy(store.as_mut(), "bad id!", "x", &Rules::default(), "UTC", 0).is_err()
        );
        assert!(
            create_economy(store.as_mut(), "c", "x", &Rules::default(), "not a zone", 0).is_err()
        );
    }
}

#[test]
fn lines_that_are_not_commands_are_journaled_bounded_and_replay_the_same() {
    let b = Backend::sqlite();
    let huge = "x".repeat(200_000);
    let lines = vec![
        "not json at all".to_string(),
        "[1, 2, 3]".to_string(),
        huge,
        r#"{"type": "register_consumer", "id": "a", "account": "alice"}"#.to_string(),
    ];
    write(&b, &Rules::default(), &lines, 10, 1000);
    let mut store = b.open();
    let entries = store.entries("eco", 0, 10).unwrap();
    assert_eq!(entries.len(), 4);
    assert!(
        entries.iter().all(|e| e.command.len() < 400),
        "the journal keeps excerpts only"
    );
    assert_eq!(entries[2].outcome, "invalid_command");
    let r = recover(store.as_mut(), "eco", StartupCheck::FullChain).unwrap();
    assert_eq!((r.ledger.applied(), r.ledger.rejected()), (1, 3));
    assert!(verify_economy(store.as_mut(), "eco", &mut |_, _| {})
        .unwrap()
        .ok());
}

#[test]
fn a_failed_commit_is_not_acknowledged_and_the_writer_recovers() {
    for b in Backend::both() {
        let mut store = b.open();
        create_economy(
            store.as_mut(),
            "eco",
            "Test",
            &Rules::default(),
            "Asia/Shanghai",
            0,
        )
        .unwrap();
        let (journal, _) = Journal::open(store, "eco", config(1_000_000)).unwrap();
        let line = |id: &str, account: &str| {
            Submitted::Line(format!(
                r#"{{"type":"register_merchant","id":"{id}","account":"{account}"}}"#
            ))
        };
        journal.submit_wait(vec![line("a", "m1")]).unwrap();
        // Every append fails while the trigger is there.
        let fail = match b.name() {
            "sqlite" => "CREATE TRIGGER fail BEFORE INSERT ON journal_blocks BEGIN SELECT RAISE(ABORT, 'injected'); END;",
            _ => "CREATE FUNCTION fail() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected'; END $$ LANGUAGE plpgsql; \
                  CREATE TRIGGER fail BEFORE INSERT ON journal_blocks FOR EACH ROW EXECUTE FUNCTION fail();",
        };
        b.tamper(fail);
        // Two submissions at once, so one may be applied while the other is committing.
        let (tx, rx) = std::sync::mpsc::channel();
        for (id, account) in [("b", "m2"), ("c", "m3")] {
            let tx = tx.clone();
            journal.submit(
                vec![line(id, account)],
                Box::new(move |r| tx.send(r).unwrap()),
            );
        }
        for _ in 0..2 {
            let r = rx.recv().unwrap();
            assert!(
                r.is_err(),
                "{}: a failed commit was acknowledged: {r:?}",
                b.name()
            );
        }
        let seq = journal.read(|v| v.head_seq).unwrap();
        assert_eq!(
            seq,
            1,
            "{}: state after the failure is the committed state",
            b.name()
        );
        b.tamper(match b.name() {
            "sqlite" => "DROP TRIGGER fail",
            _ => "DROP TRIGGER fail ON journal_blocks",
        });
        let acks = journal.submit_wait(vec![line("b", "m2")]).unwrap();
        assert_eq!(acks[0].outcome.seq, 2, "{}", b.name());
        assert!(acks[0].outcome.result.is_ok());
        journal.shutdown().unwrap();
        let mut store = b.open();
        let r = recover(store.as_mut(), "eco", StartupCheck::FullChain).unwrap();
        assert_eq!(r.head_seq, 2, "{}", b.name());
        assert!(r.ledger.economy().account("m2").is_some());
        assert!(
            r.ledger.economy().account("m3").is_none(),
            "{}: an unacknowledged command survived",
            b.name()
        );
    }
}

#[test]
fn the_merkle_tree_survives_restarts_and_matches_the_entries() {
    use jifen_journal::merkle::{self, entry_leaf_hash, root_of};
    for b in Backend::both() {
        let lines = lines("mixed-103");
        let mut store = b.open();
        create_economy(
            store.as_mut(),
            "eco",
            "Test economy",
            &vector_rules("mixed-103"),
            "Asia/Shanghai",
            1_795_651_200_000,
        )
        .unwrap();
        let (journal, _) = Journal::open(store, "eco", config(1_000)).unwrap();
        for chunk in lines.chunks(333) {
            let commands = chunk.iter().map(|l| Submitted::Line(l.clone())).collect();
            journal.submit_wait(commands).unwrap();
        }
        let head = journal.read(|v| v.head_seq).unwrap();
        // The tree's thread hashes each commit just after it.
        let live = |journal: &Journal, size: u64| {
            for _ in 0..500 {
                let state = merkle::lock(journal.tree());
                if state.tree.size() == size {
                    return Some(state.tree.root());
                }
                drop(state);
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            None
        };
        let live_size = head;
        let live_root = live(&journal, head).expect("the tree catches up");
        journal.shutdown().unwrap();
        let mut store = b.open();
        let entries = store.entries("eco", 0, lines.len() + 10).unwrap();
        let leaves: Vec<_> = entries
            .iter()
            .map(|e| entry_leaf_hash(e.seq, e.ts_ms, &e.command, &e.outcome))
            .collect();
        assert_eq!(live_size, leaves.len() as u64, "{}", b.name());
        assert_eq!(live_root, root_of(&leaves), "{}", b.name());
        // Recovery through a snapshot (which carries the complete groups) and a tail; the tree
        // is rebuilt beside the writer.
        let r = recover(store.as_mut(), "eco", StartupCheck::Tail).unwrap();
        assert!(r.snapshot_seq.is_some(), "{}: no snapshot", b.name());
        assert!(
            !r.tree_groups.is_empty(),
            "{}: no groups in the snapshot",
            b.name()
        );
        drop(store);
        let (journal, _) = Journal::open(b.open(), "eco", config(1_000)).unwrap();
        assert_eq!(live(&journal, live_size), Some(live_root), "{}", b.name());
        journal.shutdown().unwrap();
    }
}

/// Every accepted settlement is stored with its entry, as the engine reported it; samples carry
/// the running totals; and the state at a quarter-hour boundary is sampled exactly.
#[test]
fn settlements_and_boundary_samples_are_stored_with_their_batches() {
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::Arc;
    let vector = "mixed-101";
    let rules = vector_rules(vector);
    let lines = lines(vector);
    // The same settlements, from an in-memory replay.
    let mut ledger = Ledger::new(rules);
    let mut expected = Vec::new();
    for line in &lines {
        let p = jifen_wire::parse_command_line(line);
        let o = ledger.submit(
            p.id.as_deref(),
            p.fingerprint,
            p.command.as_ref().map_err(|c| *c),
        );
        if let (Ok(jifen_core::Command::SettleDividends { .. }), Ok(()), false) =
            (&p.command, o.result, o.retry)
        {
            let s = ledger.economy().effects().settlement.unwrap();
            expected.push((o.seq, s.day, s.paid.0, s.holders_paid, s.holders_capped));
        }
    }
    assert!(!expected.is_empty(), "{vector} settles nothing");
    expected.reverse();
    for b in Backend::both() {
        write(&b, &rules, &lines, 7, 1000);
        let mut store = b.open();
        let got: Vec<_> = store
            .settlements("eco", 10_000)
            .unwrap()
            .iter()
            .map(|s| (s.seq, s.day, s.paid_fen, s.holders_paid, s.holders_capped))
            .collect();
        assert_eq!(got, expected, "{}", b.name());
        // Each holder's payouts add up to the dividends the engine says they received.
        let mut paid_somewhere = false;
        for (i, a) in ledger.economy().accounts().iter().enumerate() {
            let rows = store.dividends_of("eco", i as u32, 10_000).unwrap();
            assert!(rows.windows(2).all(|w| w[0].0 > w[1].0), "newest first");
            let sum: u64 = rows.iter().map(|(_, fen)| fen).sum();
            assert_eq!(sum, a.dividends_fen, "{}: {}", b.name(), a.name);
            paid_somewhere |= sum > 0;
        }
        assert!(paid_somewhere, "{vector} pays no dividends");

        // A quarter-hour boundary: the sample just before it is the state as it stood.
        let now = Arc::new(AtomicI64::new(
            1_795_700_000_000 - 1_795_700_000_000 % 900_000 - 2_000,
        ));
        let clock = now.clone();
        let cfg = JournalConfig {
            clock: Arc::new(move || clock.load(Ordering::SeqCst)),
            ..config(1000)
        };
        create_economy(store.as_mut(), "q", "Q", &Rules::default(), "UTC", 0).unwrap();
        let (journal, _) = Journal::open(b.open(), "q", cfg).unwrap();
        let send = |line: &str| {
            journal
                .submit_wait(vec![Submitted::Line(line.into())])
                .unwrap()
        };
        send(r#"{"type":"register_merchant","id":"m","account":"shop"}"#);
        send(r#"{"type":"register_consumer","id":"c","account":"ann"}"#);
        now.fetch_add(1_000, Ordering::SeqCst);
        send(
            r#"{"type":"pay_order","id":"p1","order":"o1","consumer":"ann","merchant":"shop","cash_fen":10000,"stable_fen":0}"#,
        );
        let boundary = now.load(Ordering::SeqCst) + 1_000;
        now.store(boundary + 500, Ordering::SeqCst);
        send(
            r#"{"type":"pay_order","id":"p2","order":"o2","consumer":"ann","merchant":"shop","cash_fen":10000,"stable_fen":0}"#,
        );
        journal.shutdown().unwrap();
        let before = store.sample_before("q", boundary).unwrap().unwrap();
        assert_eq!((before.seq, before.orders), (3, 1), "{}", b.name());
        let last = store.sample_before("q", i64::MAX).unwrap().unwrap();
        assert_eq!((last.seq, last.orders), (4, 2), "{}", b.name());
    }
}

/// A store made before dividends were kept in chunks has a row per holder paid: opening it
/// moves them into chunks and drops the old table, and every account reads the same dividends.
#[test]
fn dividends_kept_a_row_per_holder_are_moved_into_chunks() {
    let settled = [(10u64, 5u32, 700u64), (10, 2000, 1), (20, 5, 0), (30, 5, 9)];
    for b in Backend::both() {
        let mut sql = String::from(
            "CREATE TABLE dividends (economy TEXT NOT NULL, account BIGINT NOT NULL, \
             seq BIGINT NOT NULL, fen BIGINT NOT NULL, PRIMARY KEY (economy, account, seq));",
        );
        for (seq, account, fen) in settled {
            sql += &format!("INSERT INTO dividends VALUES ('eco', {account}, {seq}, {fen});");
        }
        sql += "INSERT INTO dividends VALUES ('other', 5, 10, 3);";
        // A settlement of 150,000 holders: more rows than are moved at a time.
        sql += match b.name() {
            "sqlite" => "WITH RECURSIVE n(a) AS (SELECT 10000 UNION ALL SELECT a + 1 FROM n \
                 WHERE a < 159999) INSERT INTO dividends SELECT 'eco', a, 40, a % 7 FROM n;",
            _ => "INSERT INTO dividends SELECT 'eco', a, 40, a % 7 FROM generate_series(10000, 159999) a;",
        };
        b.tamper(&sql);
        let mut store = b.open();
        assert_eq!(
            store.dividends_of("eco", 5, 10).unwrap(),
            vec![(30, 9), (20, 0), (10, 700)],
            "{}",
            b.name()
        );
        assert_eq!(store.dividends_of("eco", 5, 2).unwrap().len(), 2);
        assert_eq!(store.dividends_of("eco", 2000, 10).unwrap(), vec![(10, 1)]);
        assert_eq!(store.dividends_of("other", 5, 10).unwrap(), vec![(10, 3)]);
        assert!(store.dividends_of("eco", 6, 10).unwrap().is_empty());
        for a in [10_000u32, 10_001, 99_999, 100_000, 110_000, 159_999] {
            let paid = store.dividends_of("eco", a, 10).unwrap();
            assert_eq!(paid, vec![(40, u64::from(a % 7))], "{}: {a}", b.name());
        }
        assert!(store.dividends_of("eco", 160_000, 10).unwrap().is_empty());
        drop(store);
        // The old table is gone: creating it again succeeds.
        b.tamper("CREATE TABLE dividends (x INTEGER); DROP TABLE dividends;");
    }
}

/// A backup taken before dividends were kept in chunks (its copy has the old `dividends` table)
/// restores into PostgreSQL with every account's dividends, in chunks.
#[test]
fn a_backup_with_a_row_per_holder_restores_into_postgres() {
    use jifen_journal::backup::{backup_sqlite, read_manifest, restore_postgres, MANIFEST};
    use sha2::Digest;
    let vector = "mixed-101";
    let from = Backend::sqlite();
    write(&from, &vector_rules(vector), &lines(vector), 7, 1000);
    let Backend::Sqlite { dir } = &from else {
        unreachable!()
    };
    let backup = dir.with_extension("backup");
    backup_sqlite(dir, &backup, false, &mut |_, _, _| {}).unwrap();
    // The copy as an older jifen made it: a row per holder paid.
    let mut original = from.open();
    let accounts = 0..64u32;
    let mut sql = String::from(
        "DROP TABLE dividend_chunks; CREATE TABLE dividends (economy TEXT NOT NULL, \
         account INTEGER NOT NULL, seq INTEGER NOT NULL, fen INTEGER NOT NULL, \
         PRIMARY KEY (economy, account, seq)) WITHOUT ROWID;",
    );
    let mut expected = Vec::new();
    for a in accounts.clone() {
        let paid = original.dividends_of("eco", a, usize::MAX >> 1).unwrap();
        for (seq, fen) in &paid {
            sql += &format!("INSERT INTO dividends VALUES ('eco', {a}, {seq}, {fen});");
        }
        expected.push(paid);
    }
    assert!(
        expected.iter().any(|p| !p.is_empty()),
        "{vector} pays no dividends"
    );
    let copy = backup.join(jifen_journal::sqlite::SQLITE_FILE);
    rusqlite::Connection::open(&copy)
        .unwrap()
        .execute_batch(&sql)
        .unwrap();
    let mut manifest = read_manifest(&backup).unwrap();
    let bytes = std::fs::read(&copy).unwrap();
    manifest.bytes = bytes.len() as u64;
    manifest.sha256 = hex::encode(sha2::Sha256::digest(&bytes));
    std::fs::write(
        backup.join(MANIFEST),
        serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();

    let to = Backend::postgres();
    let Backend::Postgres { url, data, .. } = &to else {
        unreachable!()
    };
    restore_postgres(&backup, url, data, &mut |_, _, _| {}).unwrap();
    let mut restored = to.open();
    for (a, paid) in accounts.zip(expected) {
        assert_eq!(
            restored.dividends_of("eco", a, usize::MAX >> 1).unwrap(),
            paid
        );
    }
}

/// A background snapshot on SQLite is written at its pace (here a byte a second, so it would
/// take weeks), yet a shutdown does not wait for that pace: it tells the snapshot to hurry, and
/// the snapshot is stored whole.
#[test]
fn a_paced_snapshot_hurries_when_the_journal_shuts_down() {
    let b = Backend::sqlite();
    let mut store = b.open();
    create_economy(
        store.as_mut(),
        "eco",
        "Paced",
        &jifen_core::workload::bench_rules(),
        "UTC",
        1_795_651_200_000,
    )
    .unwrap();
    let cfg = JournalConfig {
        snapshot_every_entries: 60_000,
        snapshot_write_bytes_per_s: 1,
        snapshot_on_shutdown: false,
        ..JournalConfig::default()
    };
    let (journal, _) = Journal::open(store, "eco", cfg).unwrap();
    let lines = jifen_core::workload::replay_lines_per_day(70_000, 100_000);
    for chunk in lines.chunks(1000) {
        let commands = chunk.iter().map(|l| Submitted::Line(l.clone())).collect();
        journal.submit_wait(commands).unwrap();
    }
    // The snapshot thread is past its first MiB and waiting for the pace by now.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let (done, shut) = std::sync::mpsc::channel();
    std::thread::spawn(move || done.send(journal.shutdown().map_err(|e| e.to_string())));
    let shut = shut.recv_timeout(std::time::Duration::from_secs(60));
    shut.expect("the shutdown waited for the snapshot's pace")
        .unwrap();
    let mut store = b.open();
    let seqs = store.snapshot_seqs("eco").unwrap();
    assert_eq!(seqs.len(), 1, "{seqs:?}");
    let snapshot = store.snapshot("eco", seqs[0]).unwrap().unwrap();
    assert!(
        snapshot.len() > 1 << 20,
        "{} bytes: no pace to wait for",
        snapshot.len()
    );
    let recovered = recover(store.as_mut(), "eco", StartupCheck::FullChain).unwrap();
    assert_eq!(recovered.snapshot_seq, Some(seqs[0]));
}

/// An append whose entries do not follow the stored head writes nothing: not its blocks, and
/// not the double-entry lines that travel with them (on PostgreSQL, one statement holds both).
#[test]
fn an_append_that_does_not_follow_the_head_writes_nothing() {
    let vector = "mixed-101";
    let lines: Vec<String> = lines(vector).into_iter().take(20).collect();
    for b in Backend::both() {
        write(&b, &vector_rules(vector), &lines, 7, 1000);
        let mut store = b.open();
        let read = |store: &mut Box<dyn jifen_journal::Store>| {
            let mut rows = Vec::new();
            store
                .postings("eco", 0, 20, &mut |r| {
                    rows.push(r);
                    Ok(())
                })
                .unwrap();
            rows
        };
        let before = read(&mut store);
        let head = store.head("eco").unwrap().unwrap().seq;
        let again = store.entries("eco", 10, 5).unwrap();
        let extras = jifen_journal::AppendExtras {
            postings: vec![jifen_journal::postings::PostingsRow {
                first_seq: 11,
                last_seq: 15,
                ts_ms: 1,
                data: vec![0],
            }],
            ..Default::default()
        };
        assert!(
            store.append_with("eco", &again, &extras).is_err(),
            "{}",
            b.name()
        );
        assert_eq!(read(&mut store), before, "{}", b.name());
        assert_eq!(
            store.head("eco").unwrap().unwrap().seq,
            head,
            "{}",
            b.name()
        );
    }
}

/// Issue 9's fencing, on PostgreSQL: a writer whose lease moved to another node cannot commit,
/// and its caller gets an error; the new owner loads everything the old one committed.
#[test]
fn a_writer_that_lost_its_lease_cannot_commit() {
    use jifen_journal::cluster::Cluster;
    use jifen_journal::postgres::PgStore;
    let b = Backend::postgres();
    let Backend::Postgres { url, .. } = &b else {
        unreachable!()
    };
    let mut store = b.open();
    create_economy(store.as_mut(), "eco", "E", &Rules::default(), "UTC", 0).unwrap();
    let (mut node_a, mut node_b) = (
        Cluster::connect(url).unwrap(),
        Cluster::connect(url).unwrap(),
    );
    let lease_ms = 1_000;
    let held = node_a.acquire("eco", "a", 0, lease_ms).unwrap().unwrap();
    assert_eq!((held.owner.as_str(), held.epoch), ("a", 1));
    let fenced = |node: &str, epoch: i64| -> Box<dyn jifen_journal::Store> {
        let mut s = PgStore::connect(url).unwrap();
        s.set_fence(node, epoch).unwrap();
        Box::new(s)
    };
    let (a, _) = Journal::open(fenced("a", 1), "eco", config(1000)).unwrap();
    let line = |id: &str, account: &str| {
        Submitted::Line(format!(
            r#"{{"type":"register_consumer","id":"{id}","account":"{account}"}}"#
        ))
    };
    a.submit_wait(vec![line("1", "ann")]).unwrap();
    // Renewal keeps the epoch; a live lease cannot be taken.
    assert_eq!(
        node_a
            .acquire("eco", "a", 500, lease_ms)
            .unwrap()
            .unwrap()
            .epoch,
        1
    );
    assert!(node_b
        .acquire("eco", "b", 1_000, lease_ms)
        .unwrap()
        .is_none());
    // `a` pauses past its lease; `b` takes it over, one epoch up.
    let taken = node_b
        .acquire("eco", "b", 1_600, lease_ms)
        .unwrap()
        .unwrap();
    assert_eq!((taken.owner.as_str(), taken.epoch), ("b", 2));
    // The old writer resumes: its append is refused, and its caller hears so.
    let late = a.submit_wait(vec![line("2", "late")]);
    assert!(
        late.is_err(),
        "a fenced writer acknowledged a command: {late:?}"
    );
    assert!(
        !node_a.renew("eco", "a", 1, 1_700, lease_ms).unwrap(),
        "a must stop"
    );
    drop(a);
    // The new owner loads what `a` committed, and nothing it did not.
    let (bj, _) = Journal::open(fenced("b", 2), "eco", config(1000)).unwrap();
    let out = bj.submit_wait(vec![line("3", "ben")]).unwrap();
    assert!(out[0].outcome.result.is_ok());
    let names: Vec<String> = bj
        .read(|v| {
            v.ledger
                .economy()
                .accounts()
                .iter()
                .map(|a| a.name.to_string())
                .collect()
        })
        .unwrap();
    assert_eq!(names, ["ann", "ben"]);
    bj.shutdown().unwrap();
    let leases = node_b.leases().unwrap();
    assert_eq!((leases[0].owner.as_str(), leases[0].epoch), ("b", 2));
}
