//! [`Journal`]: the handle on one economy's writer thread, which callers submit commands and
//! reads to.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::batch::{Acked, BatchReply, PreparedBatch, Reply, Submitted};
use crate::committer::{Committer, TreeFeeder};
use crate::error::JournalError;
use crate::limits::{BATCH_COMMANDS_MAX, QUEUE_REQUESTS_MAX};
use crate::merkle::SharedTree;
use crate::queue;
use crate::recover::recover;
use crate::store::Store;
use crate::view::{Committed, View};
use crate::writer::{Job, JournalConfig, Msg, ReadFn, SharedCopy, Writer};

/// What start-up found.
#[derive(Clone, Debug)]
pub struct OpenInfo {
    pub head_seq: u64,
    pub snapshot_seq: Option<u64>,
    pub skipped_snapshots: Vec<String>,
}

/// A handle on one economy's writer thread.
pub struct Journal {
    tx: queue::Sender<Msg>,
    /// Commands submitted and not yet taken by the writer.
    queued: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
    economy: String,
    tree: SharedTree,
    /// The seq of the newest durable entry, moved before its callers are answered.
    committed: Arc<AtomicU64>,
    /// The last copy of committed state the writer made (see [`Journal::copy_with`]).
    copy: SharedCopy,
}

impl Journal {
    /// Recovers the economy from `store` and starts its writer.
    pub fn open(
        mut store: Box<dyn Store>,
        economy: &str,
        config: JournalConfig,
    ) -> Result<(Journal, OpenInfo), JournalError> {
        let r = recover(store.as_mut(), economy, config.startup_check)?;
        let info = OpenInfo {
            head_seq: r.head_seq,
            snapshot_seq: r.snapshot_seq,
            skipped_snapshots: r.skipped_snapshots.clone(),
        };
        let head_ts_ms = store.head(economy)?.map_or(0, |e| e.ts_ms);
        let tree: SharedTree = Default::default();
        let mut feeder = TreeFeeder::start(
            tree.clone(),
            economy,
            store.reopen()?,
            r.tree_groups.clone(),
            r.head_seq,
        )?;
        feeder.on_commit = config.on_commit.clone();
        let committed = feeder.committed.clone();
        let committer = Committer::start(store.reopen()?, economy, feeder.clone())?;
        let queued = Arc::new(AtomicUsize::new(0));
        let mut writer = Writer::new(
            store,
            r,
            config,
            head_ts_ms,
            committer,
            tree.clone(),
            feeder,
        );
        writer.queued = queued.clone();
        let copy = writer.copy.clone();
        let (tx, rx) = queue::bounded(QUEUE_REQUESTS_MAX);
        let thread = std::thread::Builder::new()
            .name(format!("writer-{economy}"))
            .spawn(move || writer.run(rx))?;
        Ok((
            Journal {
                tx,
                queued,
                thread: Some(thread),
                economy: economy.to_string(),
                tree,
                committed,
                copy,
            },
            info,
        ))
    }

    pub fn economy(&self) -> &str {
        &self.economy
    }

    /// The economy's Merkle tree, as far as commits have reached.
    pub fn tree(&self) -> &SharedTree {
        &self.tree
    }

    fn closed(&self) -> JournalError {
        JournalError::Unavailable(format!(
            "the writer of economy {} has stopped",
            self.economy
        ))
    }

    /// Queues commands; `reply` runs on the writer thread once they are committed (or failed).
    /// At most [`BATCH_COMMANDS_MAX`] commands per call.
    pub fn submit(&self, commands: Vec<Submitted>, reply: Reply) {
        if commands.len() > BATCH_COMMANDS_MAX {
            reply(Err(JournalError::TooMany(commands.len())));
            return;
        }
        let n = commands.len();
        self.queued.fetch_add(n, Ordering::AcqRel);
        if let Err(queue::SendError(Msg::Write(job))) =
            self.tx.send(Msg::Write(Job::Values(commands, reply)))
        {
            self.queued.fetch_sub(n, Ordering::AcqRel);
            job.fail(self.closed());
        }
    }

    /// Queues a prepared batch; `reply` runs on the writer thread once it is committed (or
    /// failed), with the batch handed back. At most [`BATCH_COMMANDS_MAX`] commands.
    pub fn submit_prepared(&self, batch: PreparedBatch, reply: BatchReply) {
        if batch.len() > BATCH_COMMANDS_MAX {
            let n = batch.len();
            reply(batch, Err(JournalError::TooMany(n)));
            return;
        }
        let n = batch.len();
        self.queued.fetch_add(n, Ordering::AcqRel);
        if let Err(queue::SendError(Msg::Write(job))) =
            self.tx.send(Msg::Write(Job::Prepared(batch, reply)))
        {
            self.queued.fetch_sub(n, Ordering::AcqRel);
            job.fail(self.closed());
        }
    }

    /// Submits and waits for the durable outcome.
    pub fn submit_wait(&self, commands: Vec<Submitted>) -> Result<Vec<Acked>, JournalError> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.submit(
            commands,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx.recv().map_err(|_| self.closed())?
    }

    /// Runs `f` on committed state, between batches, and returns its result.
    pub fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&View<'_>) -> R + Send + 'static,
    ) -> Result<R, JournalError> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let job: ReadFn = Box::new(move |view| {
            let _ = tx.send(f(view));
        });
        self.tx.send(Msg::Read(job)).map_err(|_| self.closed())?;
        rx.recv().map_err(|_| self.closed())
    }

    /// Queues `f` to run on committed state, between batches, without waiting for it (for
    /// callers that wait their own way, such as an async task).
    pub fn read_with(&self, f: Box<dyn FnOnce(&View<'_>) + Send>) -> Result<(), JournalError> {
        self.tx.send(Msg::Read(f)).map_err(|_| self.closed())
    }

    /// The seq of the newest durable entry: every command answered so far is at or before it.
    /// Read without a trip to the writer (for metrics, and to know a copy is current).
    pub fn committed_seq(&self) -> u64 {
        self.committed.load(Ordering::Acquire)
    }

    /// The last copy of committed state, if it holds every entry committed now.
    pub fn current_copy(&self) -> Option<Arc<Committed>> {
        let copy = self
            .copy
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()?;
        (copy.head.seq >= self.committed_seq()).then_some(copy)
    }

    /// Asks the writer for a copy of committed state (the current one when the head has not
    /// moved) and hands it to `f`, without waiting (for async callers). Readers of large views
    /// use the copy off the writer's thread, so they do not hold up commits.
    pub fn copy_with(&self, f: Box<dyn FnOnce(Arc<Committed>) + Send>) -> Result<(), JournalError> {
        if let Some(copy) = self.current_copy() {
            f(copy);
            return Ok(());
        }
        self.tx.send(Msg::Copy(f)).map_err(|_| self.closed())
    }

    /// Whether the writer takes writes now (it answers between batches): `Unavailable` with
    /// the reason when a commit failed and the ledger could not be reloaded.
    pub fn health(&self) -> Result<(), JournalError> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.tx.send(Msg::Health(tx)).map_err(|_| self.closed())?;
        rx.recv()
            .map_err(|_| self.closed())?
            .map_err(JournalError::Unavailable)
    }

    /// Commands submitted and not yet taken by the writer.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// Takes a snapshot now; returns its seq.
    pub fn snapshot(&self) -> Result<u64, JournalError> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.tx.send(Msg::Snapshot(tx)).map_err(|_| self.closed())?;
        rx.recv().map_err(|_| self.closed())?
    }

    /// Finishes queued work, takes a snapshot and stops the writer.
    pub fn shutdown(mut self) -> Result<(), JournalError> {
        self.stop()
    }

    fn stop(&mut self) -> Result<(), JournalError> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        let (tx, rx) = crossbeam_channel::bounded(1);
        let sent = self.tx.send(Msg::Shutdown(tx)).is_ok();
        let result = if sent {
            rx.recv().unwrap_or(Ok(()))
        } else {
            Ok(())
        };
        let _ = thread.join();
        result
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
