//! Reads beside the writer: the committed seq, copies of committed state, and guards that
//! refuse a batch on the state it would apply to.

mod support;

use std::sync::Arc;

use jifen_core::Rules;
use jifen_journal::{
    create_economy, Journal, JournalConfig, JournalError, PreparedBatch, Submitted,
};
use support::Backend;

fn open(b: &Backend) -> Journal {
    let mut store = b.open();
    create_economy(store.as_mut(), "eco", "E", &Rules::default(), "UTC", 0).unwrap();
    Journal::open(b.open(), "eco", JournalConfig::default())
        .unwrap()
        .0
}

fn register(name: &str) -> Submitted {
    Submitted::Line(format!(
        r#"{{"type":"register_consumer","id":"r-{name}","account":"{name}"}}"#
    ))
}

fn copy(journal: &Journal) -> Arc<jifen_journal::Committed> {
    let (tx, rx) = std::sync::mpsc::channel();
    journal
        .copy_with(Box::new(move |c| {
            let _ = tx.send(c);
        }))
        .unwrap();
    rx.recv().unwrap()
}

#[test]
fn the_committed_seq_moves_before_answers_and_copies_follow_it() {
    for b in Backend::both() {
        let journal = open(&b);
        assert_eq!(journal.committed_seq(), 0);
        let first = copy(&journal);
        assert_eq!(first.head.seq, 0);
        let acks = journal.submit_wait(vec![register("alice")]).unwrap();
        let seq = acks[0].outcome.seq;
        assert_eq!(journal.committed_seq(), seq, "{}", b.name());
        // The old copy is not current any more; a new one holds the command.
        assert!(journal.current_copy().is_none());
        let second = copy(&journal);
        assert_eq!(second.head.seq, seq);
        assert!(second.view().ledger.economy().account("alice").is_some());
        assert!(first.view().ledger.economy().account("alice").is_none());
        // Until the head moves, readers share one copy.
        assert!(Arc::ptr_eq(&second, &copy(&journal)));
        journal.shutdown().unwrap();
    }
}

fn guarded(
    journal: &Journal,
    line: &str,
    allow_if_known: &'static str,
) -> Result<u64, JournalError> {
    let mut batch = PreparedBatch::with_capacity(1, line.len());
    assert!(batch.push_text(line));
    batch.guard(Box::new(move |ledger, parsed| {
        assert_eq!(parsed.len(), 1);
        match ledger.economy().account(allow_if_known) {
            Some(_) => Ok(()),
            None => Err(format!("{allow_if_known} is unknown")),
        }
    }));
    let (tx, rx) = std::sync::mpsc::channel();
    journal.submit_prepared(
        batch,
        Box::new(move |_, r| {
            let _ = tx.send(r);
        }),
    );
    rx.recv().unwrap().map(|o| o[0].seq)
}

#[test]
fn a_guard_sees_the_state_the_batch_applies_to_and_a_refusal_journals_nothing() {
    for b in Backend::both() {
        let journal = open(&b);
        let line = r#"{"type":"register_consumer","id":"r-bob","account":"bob"}"#;
        match guarded(&journal, line, "alice") {
            Err(JournalError::Refused(why)) => assert_eq!(why, "alice is unknown"),
            other => panic!("{}: {other:?}", b.name()),
        }
        assert_eq!(journal.committed_seq(), 0, "a refused batch was journaled");
        // Queued behind alice's registration, the guard sees it (the state inside the writer).
        journal.submit(vec![register("alice")], Box::new(|_| {}));
        let seq = guarded(&journal, line, "alice").unwrap();
        assert_eq!(seq, 2);
        journal.shutdown().unwrap();
    }
}
