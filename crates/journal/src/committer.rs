//! The second stage of an economy's writer: it appends each batch the first stage applied, in
//! one transaction, and only then answers the batch's callers. While it waits for the disk,
//! the first stage applies the next batch, so applying and syncing overlap.
//!
//! If a commit fails, it answers that batch with an error and every batch after it too (they
//! were applied on top of state that is not durable), until the first stage has reloaded the
//! ledger from the store and sends `Resume`. Nothing that was not committed is acknowledged.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::Sender;

use crate::queue::{self, Receiver};
use jifen_core::Outcome;

use crate::batch::{Acked, BatchReply, PreparedBatch, Reply};
use crate::block::{for_each_in_block, Block};
use crate::entry::Hash;
use crate::error::StoreError;
use crate::merkle::{self, SharedTree};
use crate::recover::tree_upto;
use crate::store::{AppendExtras, Store};
use crate::JournalError;

/// Batches applied but not yet committed, besides the one committing. The committer takes
/// every waiting batch into its next transaction, so small batches still share one sync.
const STAGES_IN_FLIGHT_MAX: usize = 8;

pub(crate) enum Answer {
    Values(Vec<Acked>, Reply),
    Prepared(PreparedBatch, Vec<Outcome>, BatchReply),
    /// A prepared batch its guard refused: nothing of it was applied.
    Refused(PreparedBatch, String, BatchReply),
}

impl Answer {
    fn ok(self) {
        match self {
            Answer::Values(acks, reply) => reply(Ok(acks)),
            Answer::Prepared(batch, outcomes, reply) => reply(batch, Ok(outcomes)),
            Answer::Refused(batch, why, reply) => reply(batch, Err(JournalError::Refused(why))),
        }
    }

    fn fail(self, why: &str) {
        let err = JournalError::Unavailable(why.to_string());
        match self {
            Answer::Values(_, reply) => reply(Err(err)),
            Answer::Prepared(batch, _, reply) | Answer::Refused(batch, _, reply) => {
                reply(batch, Err(err))
            }
        }
    }
}

pub(crate) struct CommitJob {
    pub blocks: Vec<Block>,
    pub extras: AppendExtras,
    pub answers: Vec<Answer>,
}

enum Stage {
    Commit(Box<CommitJob>),
    /// Answered once everything sent before it is committed or failed.
    Barrier(Sender<()>),
    /// The first stage reloaded after a failure: commit again.
    Resume,
}

pub(crate) struct Committer {
    tx: Option<queue::Sender<Stage>>,
    thread: Option<JoinHandle<()>>,
    failed: Arc<AtomicBool>,
    /// Batches sent and not yet committed (or failed).
    in_flight: Arc<AtomicUsize>,
}

impl Committer {
    pub fn start(
        store: Box<dyn Store>,
        economy: &str,
        tree: TreeFeeder,
    ) -> std::io::Result<Committer> {
        let (tx, rx) = queue::bounded(STAGES_IN_FLIGHT_MAX);
        let failed = Arc::new(AtomicBool::new(false));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let (flag, count) = (failed.clone(), in_flight.clone());
        let eco = economy.to_string();
        let thread = std::thread::Builder::new()
            .name(format!("commit-{economy}"))
            .spawn(move || run(store, &eco, &tree, rx, &flag, &count))?;
        Ok(Committer {
            tx: Some(tx),
            thread: Some(thread),
            failed,
            in_flight,
        })
    }

    /// Whether everything sent has been committed (or failed), so a commit made now by
    /// another connection comes after all of it.
    pub fn idle(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
    }

    pub fn send(&self, job: CommitJob) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        let sent = match &self.tx {
            Some(tx) => tx.send(Stage::Commit(Box::new(job))),
            None => Err(queue::SendError(Stage::Commit(Box::new(job)))),
        };
        if let Err(queue::SendError(Stage::Commit(job))) = sent {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            for a in job.answers {
                a.fail("the committer has stopped");
            }
        }
    }

    /// Waits until everything sent so far is committed (or failed).
    pub fn drain(&self) {
        let (tx, rx) = crossbeam_channel::bounded(1);
        if let Some(stages) = &self.tx {
            if stages.send(Stage::Barrier(tx)).is_ok() {
                let _ = rx.recv();
            }
        }
    }

    /// Whether a commit failed since the last `resume`.
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    pub fn resume(&self) {
        self.failed.store(false, Ordering::Release);
        if let Some(tx) = &self.tx {
            let _ = tx.send(Stage::Resume);
        }
    }

    /// Commits what is queued, then stops.
    pub fn stop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(
    mut store: Box<dyn Store>,
    economy: &str,
    tree: &TreeFeeder,
    rx: Receiver<Stage>,
    failed: &AtomicBool,
    in_flight: &AtomicUsize,
) {
    let mut rejecting: Option<String> = None;
    let mut next: Option<Stage> = None;
    loop {
        let stage = match next.take() {
            Some(s) => s,
            None => match rx.recv() {
                Some(s) => s,
                None => return,
            },
        };
        let job = match stage {
            Stage::Barrier(done) => {
                let _ = done.send(());
                continue;
            }
            Stage::Resume => {
                rejecting = None;
                continue;
            }
            Stage::Commit(job) => *job,
        };
        // Every batch already waiting joins this transaction.
        let mut jobs = vec![job];
        while let Some(stage) = rx.try_recv() {
            match stage {
                Stage::Commit(j) => jobs.push(*j),
                other => {
                    next = Some(other);
                    break;
                }
            }
        }
        let n = jobs.len();
        if let Some(why) = &rejecting {
            jobs.into_iter()
                .flat_map(|j| j.answers)
                .for_each(|a| a.fail(why));
        } else if let Err(e) = commit_jobs(store.as_mut(), economy, tree, jobs) {
            rejecting = Some(format!(
                "an earlier commit failed, nothing in this one was kept: {e}"
            ));
            failed.store(true, Ordering::Release);
        }
        in_flight.fetch_sub(n, Ordering::AcqRel);
    }
}

/// Appends the batches in one transaction and answers their callers: with their outcomes
/// once it is durable, with an error (which is also returned) if it failed. Committed blocks
/// then go to the Merkle tree's thread.
pub(crate) fn commit_jobs(
    store: &mut dyn Store,
    economy: &str,
    tree: &TreeFeeder,
    mut jobs: Vec<CommitJob>,
) -> Result<(), StoreError> {
    let (blocks, extras) = merged(&mut jobs);
    let started = std::time::Instant::now();
    let committed = if blocks.is_empty() && extras.kv.is_empty() {
        Ok(())
    } else {
        store.append_blocks(economy, &blocks, &extras)
    };
    if let (Ok(()), Some(observe), Some(last), Some(first)) =
        (&committed, &tree.on_commit, blocks.last(), blocks.first())
    {
        let entries = last.last_seq - first.first_seq + 1;
        observe(started.elapsed(), store.last_sync(), entries);
    }
    let answers = jobs.into_iter().flat_map(|j| j.answers);
    match committed {
        Ok(()) => {
            if let Some(last) = blocks.last() {
                // Before anyone is answered: a read after an answer sees its commit.
                tree.committed.fetch_max(last.last_seq, Ordering::AcqRel);
            }
            answers.for_each(Answer::ok);
            tree.feed(blocks);
            Ok(())
        }
        Err(e) => {
            let why = format!("the commit failed, nothing in it was kept: {e}");
            answers.for_each(|a| a.fail(&why));
            Err(e)
        }
    }
}

/// Told of each durable commit: how long the append took (writing and syncing), how long its
/// sync took where the store can tell it apart (`Store::last_sync`), and how many entries it
/// held. For metrics; it must be quick.
pub type CommitObserver =
    Arc<dyn Fn(std::time::Duration, Option<std::time::Duration>, u64) + Send + Sync>;

/// Feeds committed blocks to a thread that adds their entries to the economy's Merkle tree,
/// so hashing leaves stays off the writer's and the committer's path.
#[derive(Clone)]
pub(crate) struct TreeFeeder {
    tx: Sender<Vec<Block>>,
    /// The seq of the newest durable entry (see `Journal::committed_seq`).
    pub committed: Arc<AtomicU64>,
    /// Told of each durable commit (for metrics).
    pub on_commit: Option<CommitObserver>,
}

impl TreeFeeder {
    /// Starts the thread. It first builds the tree of the journal's first `upto` entries from
    /// the snapshot's `groups` and the entries after them, read with `store`, off the start-up
    /// path (until then the shared tree is empty and readers wait); then it adds what it is fed.
    pub fn start(
        tree: SharedTree,
        economy: &str,
        mut store: Box<dyn Store>,
        groups: Vec<Hash>,
        upto: u64,
    ) -> std::io::Result<TreeFeeder> {
        let (tx, rx) = crossbeam_channel::unbounded::<Vec<Block>>();
        let eco = economy.to_string();
        std::thread::Builder::new()
            .name(format!("tree-{economy}"))
            .spawn(move || {
                match tree_upto(store.as_mut(), &eco, &groups, upto) {
                    Ok(built) => {
                        let mut state = merkle::lock(&tree);
                        // A writer that reloaded meanwhile built a newer tree itself.
                        if state.tree.size() == 0 {
                            state.tree = built;
                        }
                    }
                    Err(e) => {
                        // Proofs and heads then wait and answer that the tree is not ready;
                        // `jifen verify` names the damaged entry.
                        eprintln!("jifen: economy {eco}: the Merkle tree could not be built: {e}");
                        return;
                    }
                }
                drop(store);
                for blocks in rx {
                    let mut state = merkle::lock(&tree);
                    for b in &blocks {
                        // These are blocks just encoded and stored, so they decode.
                        let _ = for_each_in_block(&b.data, &mut |e| {
                            state.absorb(e.seq, e.ts_ms, e.command, e.outcome);
                            Ok(true)
                        });
                    }
                }
            })?;
        Ok(TreeFeeder {
            tx,
            committed: Arc::new(AtomicU64::new(upto)),
            on_commit: None,
        })
    }

    fn feed(&self, blocks: Vec<Block>) {
        // The thread ends only when every sender is gone.
        let _ = self.tx.send(blocks);
    }
}

/// The blocks and extras of consecutive batches, as one append.
fn merged(jobs: &mut [CommitJob]) -> (Vec<Block>, AppendExtras) {
    if jobs.len() == 1 {
        let j = &mut jobs[0];
        return (std::mem::take(&mut j.blocks), std::mem::take(&mut j.extras));
    }
    let mut blocks = Vec::new();
    let mut extras = AppendExtras::default();
    for j in jobs {
        blocks.append(&mut j.blocks);
        extras.absorb(&mut j.extras);
    }
    (blocks, extras)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{KvWrite, SettlementRow};

    fn job(extras: AppendExtras) -> CommitJob {
        CommitJob {
            blocks: Vec::new(),
            extras,
            answers: Vec::new(),
        }
    }

    /// Batches merged into one transaction keep every extra of each: a settlement's row and
    /// payouts were once dropped when its batch was merged with another.
    #[test]
    fn merged_batches_keep_every_extra() {
        let settled = AppendExtras {
            settlements: vec![SettlementRow {
                seq: 7,
                day: 20426,
                holders_eligible: 2,
                paid_fen: 100,
                holders_paid: 2,
                holders_capped: 0,
            }],
            payouts: vec![(7, vec![(0, 60), (1, 40)])],
            ..AppendExtras::default()
        };
        let written = AppendExtras {
            rule_change_seqs: vec![9],
            kv: vec![KvWrite {
                scope: "s".into(),
                key: "k".into(),
                value: Some("v".into()),
            }],
            ..AppendExtras::default()
        };
        let (_, extras) = merged(&mut [job(settled.clone()), job(written.clone())]);
        assert_eq!(extras.settlements, settled.settlements);
        assert_eq!(extras.payouts, settled.payouts);
        assert_eq!(extras.rule_change_seqs, written.rule_change_seqs);
        assert_eq!(extras.kv, written.kv);
    }
}
