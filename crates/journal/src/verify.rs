//! `jifen verify`: re-derive an economy from empty and check everything.

use jifen_core::Ledger;

use crate::entry::Hash;
use crate::frame::unframe;
use crate::recover::READ_CHUNK_ENTRIES;
use crate::replayer::Replayer;
use crate::store::Store;
use crate::{genesis_of, rules_of, JournalError};

#[derive(Clone, Debug, Default)]
pub struct VerifyReport {
    pub economy: String,
    pub entries: u64,
    pub head_hash: Option<Hash>,
    pub applied: u64,
    pub rejected: u64,
    pub snapshots_checked: u64,
    /// Empty when everything holds.
    pub problems: Vec<String>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Re-derives `economy` from its journal, from empty, ignoring snapshots while doing so. Checks
/// the genesis hash, gapless seqs, the hash chain, every stored outcome against the recomputed
/// one, the O(1) invariants after every entry, all invariants by full recount at the end and at
/// every snapshot, and that every stored snapshot equals the re-derived state at its seq, byte
/// for byte. `progress(done, total)` is called every chunk.
pub fn verify_economy(
    store: &mut dyn Store,
    economy: &str,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<VerifyReport, JournalError> {
    let meta = store
        .economy(economy)?
        .ok_or_else(|| JournalError::NoSuchEconomy(economy.to_string()))?;
    let mut report = VerifyReport {
        economy: economy.to_string(),
        ..VerifyReport::default()
    };
    if genesis_of(&meta) != meta.genesis {
        report
            .problems
            .push("the genesis hash does not match the economy's id, rules and time zone".into());
        return Ok(report);
    }
    let total = store.head(economy)?.map_or(0, |e| e.seq);
    let mut snapshots = SnapshotCursor {
        seqs: store.snapshot_seqs(economy)?,
        next: 0,
    };
    snapshots.seqs.sort_unstable();
    let mut replayer = Replayer::new(economy, Ledger::new(rules_of(&meta)?), 0, meta.genesis);
    snapshots.check(&replayer, store, &mut report);
    loop {
        let chunk = store.entries(economy, replayer.seq, READ_CHUNK_ENTRIES)?;
        if chunk.is_empty() {
            break;
        }
        for e in &chunk {
            if let Err(err) = replayer.apply(e) {
                report.problems.push(err.to_string());
                report.entries = replayer.seq;
                return Ok(report);
            }
            snapshots.check(&replayer, store, &mut report);
        }
        progress(replayer.seq, total);
    }
    for &seq in &snapshots.seqs[snapshots.next..] {
        report.problems.push(format!(
            "snapshot at seq {seq} is beyond the journal's end ({})",
            replayer.seq
        ));
    }
    if let Err(broken) = replayer.ledger.economy().check_full() {
        report
            .problems
            .push(format!("final state breaks an invariant: {broken}"));
    }
    if replayer.seq != total {
        report.problems.push(format!(
            "the journal's head is seq {total}, but the chain ends at {}",
            replayer.seq
        ));
    }
    report.entries = replayer.seq;
    report.head_hash = Some(replayer.hash);
    report.applied = replayer.ledger.applied();
    report.rejected = replayer.ledger.rejected();
    Ok(report)
}

/// The stored snapshots, in seq order, and the next one to compare.
struct SnapshotCursor {
    seqs: Vec<u64>,
    next: usize,
}

impl SnapshotCursor {
    /// Compares every snapshot at the replayer's seq with the re-derived state.
    fn check(&mut self, replayer: &Replayer, store: &mut dyn Store, report: &mut VerifyReport) {
        while self.next < self.seqs.len() && self.seqs[self.next] <= replayer.seq {
            let seq = self.seqs[self.next];
            self.next += 1;
            report.snapshots_checked += 1;
            if let Err(why) = compare_snapshot(store, &report.economy, replayer) {
                report
                    .problems
                    .push(format!("snapshot at seq {seq}: {why}"));
            }
        }
    }
}

fn compare_snapshot(
    store: &mut dyn Store,
    economy: &str,
    replayer: &Replayer,
) -> Result<(), String> {
    let bytes = store
        .snapshot(economy, replayer.seq)
        .map_err(|e| e.to_string())?
        .ok_or("vanished")?;
    let u = unframe(economy, &bytes)?;
    if u.seq != replayer.seq || u.hash != replayer.hash {
        return Err("its seq or hash is not the journal's".into());
    }
    if let Err(broken) = replayer.ledger.economy().check_full() {
        return Err(format!(
            "the re-derived state breaks an invariant: {broken}"
        ));
    }
    if u.payload != replayer.ledger.encode().as_slice() {
        return Err("it differs from the state re-derived from the journal".into());
    }
    Ok(())
}
