//! The single writer of one economy, with group commit.
//!
//! One thread owns the economy's ledger and its store connection. It takes up to
//! [`BATCH_COMMANDS_MAX`] queued commands, applies them to the ledger, appends them and their
//! outcomes in one transaction, and only then answers each caller. Reads run on the same thread
//! between batches, so they only ever see committed state. If a commit fails, every caller in
//! the batch gets an error and the writer reloads the ledger from the store, which is the
//! truth; nothing that was not acknowledged is kept.

use crate::postings::PostingsRow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_channel::Sender;
use jifen_core::{Command, Ledger, Outcome};
use jifen_wire::Parsed;

use crate::batch::{Acked, BatchReply, PreparedBatch, Reply, Submitted};
use crate::block::BlockBuilder;
pub use crate::committer::CommitObserver;
use crate::committer::{commit_jobs, Answer, CommitJob, Committer, TreeFeeder};
use crate::entry::{chain_hash, outcome_text, Hash};
use crate::error::JournalError;
use crate::frame::frame_into;
use crate::limits::BATCH_COMMANDS_MAX;
use crate::merkle::{self, SharedTree, TreeState, GROUP};
use crate::queue;
use crate::recover::tree_upto;
use crate::recover::{recover, Recovered, StartupCheck};
use crate::snapshotter::{SnapshotJob, Snapshotter};
use crate::store::{AppendExtras, EconomyMeta, Sample, SettlementRow, Store};
pub use crate::view::View;
use crate::view::{Committed, Head};

/// The last copy of committed state, where the writer leaves it and readers find it.
pub(crate) type SharedCopy = Arc<std::sync::Mutex<Option<Arc<Committed>>>>;

/// The writer commits a batch itself, instead of handing it to the committer, when the
/// committer is idle and fewer commands than this are waiting behind it.
const INLINE_COMMIT_BELOW_COMMANDS: usize = 256;

/// Samples fall on every quarter-hour boundary, which every time zone's midnight is.
const QUARTER_HOUR_MS: i64 = 15 * 60 * 1000;
/// The soonest a trailing price sample follows the last sample, in real time.
const TRAILING_SAMPLE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

pub(crate) enum Job {
    Values(Vec<Submitted>, Reply),
    Prepared(PreparedBatch, BatchReply),
}

impl Job {
    fn len(&self) -> usize {
        match self {
            Job::Values(c, _) => c.len(),
            Job::Prepared(b, _) => b.len(),
        }
    }

    pub(crate) fn fail(self, e: JournalError) {
        match self {
            Job::Values(_, reply) => reply(Err(e)),
            Job::Prepared(batch, reply) => reply(batch, Err(e)),
        }
    }
}

/// What applying one batch builds up for its commit.
struct Commit {
    /// Entries added so far.
    blocks_len: u64,
    ts_ms: i64,
    hash: Hash,
    blocks: BlockBuilder,
    extras: AppendExtras,
    notable: bool,
    last_seq: Option<u64>,
}

pub(crate) type ReadFn = Box<dyn FnOnce(&View<'_>) + Send>;

/// Answered with a copy of the committed state (see [`Committed`]).
pub(crate) type CopyFn = Box<dyn FnOnce(Arc<Committed>) + Send>;

pub(crate) enum Msg {
    Write(Job),
    Read(ReadFn),
    Copy(CopyFn),
    Snapshot(Sender<Result<u64, JournalError>>),
    /// Whether the writer can take writes: `Err` says why not.
    Health(Sender<Result<(), String>>),
    Shutdown(Sender<Result<(), JournalError>>),
}

#[derive(Clone)]
pub struct JournalConfig {
    /// Take a snapshot after this many new entries (and on clean shutdown).
    pub snapshot_every_entries: u64,
    pub snapshots_kept: usize,
    /// The most bytes a second a background snapshot is written at (0: no limit), so that its
    /// writes do not hold back the commits' syncs (`snapshot_file.rs`).
    pub snapshot_write_bytes_per_s: u64,
    /// Take a snapshot on clean shutdown (so the next start-up replays nothing).
    pub snapshot_on_shutdown: bool,
    pub startup_check: StartupCheck,
    /// Milliseconds since the epoch, UTC; injectable so tests can move time.
    pub clock: Arc<dyn Fn() -> i64 + Send + Sync>,
    /// Record a price-history sample with a batch when this long has passed since the last
    /// one (a batch that settles dividends or changes rules always records one).
    pub sample_every_ms: i64,
    /// Issue `advance_clock` (SPEC §13) before a batch whenever the clock's second has moved
    /// past the economy clock, in the batch's own commit, so a replay sees the same time.
    pub advance_clock: bool,
    /// Told of each durable commit (see [`CommitObserver`]).
    pub on_commit: Option<CommitObserver>,
}

/// The default pace of background snapshot writes: 200 MB/s, which brought the batch
/// scenario's p99 from about 260 ms to about 130 ms on the benchmark machine's disk
/// (BENCHMARKS.md, issue 25 point 4).
pub const SNAPSHOT_WRITE_BYTES_PER_S: u64 = 200_000_000;

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig {
            snapshot_every_entries: 1_000_000,
            snapshots_kept: 3,
            snapshot_write_bytes_per_s: SNAPSHOT_WRITE_BYTES_PER_S,
            snapshot_on_shutdown: true,
            startup_check: StartupCheck::FullChain,
            clock: Arc::new(crate::time::now_ms),
            sample_every_ms: 10_000,
            advance_clock: false,
            on_commit: None,
        }
    }
}

pub(crate) struct Writer {
    store: Box<dyn Store>,
    meta: EconomyMeta,
    ledger: Ledger,
    /// The committed head: seq, hash, time and the last snapshot.
    head: Head,
    last_sample_ms: Option<i64>,
    /// Set when a committed batch changed the state and recorded no sample: once the writer
    /// falls idle, it records a trailing sample, so a chart never misses the last change.
    unsampled: bool,
    /// The double-entry lines of the command being applied (reused: no allocation per command).
    lines: Vec<jifen_core::books::Line>,
    /// When the last sample was written (real time, which paces trailing samples).
    last_sample_at: std::time::Instant,
    /// Commits what this thread applied, and answers.
    committer: Committer,
    /// The Merkle tree the commits feed, and the thread that feeds it.
    tree: SharedTree,
    feeder: TreeFeeder,
    pub(crate) queued: Arc<AtomicUsize>,
    /// Takes periodic snapshots off the writer's thread.
    snapshotter: Option<Snapshotter>,
    /// The last copy of committed state handed to readers (shared with the `Journal`).
    pub(crate) copy: SharedCopy,
    /// The newest snapshot this thread stored itself (or found at start-up).
    stored_snapshot_seq: u64,
    config: JournalConfig,
    /// Set when the ledger could not be reloaded after a failed commit: nothing is served.
    failed: Option<String>,
}

impl Writer {
    pub(crate) fn new(
        store: Box<dyn Store>,
        r: Recovered,
        config: JournalConfig,
        head_ts_ms: i64,
        committer: Committer,
        tree: SharedTree,
        feeder: TreeFeeder,
    ) -> Writer {
        Writer {
            committer,
            tree,
            feeder,
            queued: Arc::new(AtomicUsize::new(0)),
            store,
            meta: r.meta,
            ledger: r.ledger,
            head: Head {
                seq: r.head_seq,
                hash: r.head_hash,
                ts_ms: head_ts_ms,
                last_snapshot_seq: r.snapshot_seq.unwrap_or(0),
            },
            last_sample_ms: None,
            unsampled: false,
            lines: Vec::new(),
            last_sample_at: std::time::Instant::now(),
            snapshotter: None,
            copy: SharedCopy::default(),
            stored_snapshot_seq: r.snapshot_seq.unwrap_or(0),
            config,
            failed: None,
        }
    }

    pub(crate) fn run(mut self, rx: queue::Receiver<Msg>) {
        let mut next: Option<Msg> = None;
        loop {
            let msg = match next.take() {
                Some(m) => m,
                None if self.unsampled => {
                    let wait = TRAILING_SAMPLE_EVERY.saturating_sub(self.last_sample_at.elapsed());
                    match rx.recv_timeout(wait) {
                        Ok(Some(m)) => m,
                        Ok(None) => break,
                        Err(()) => {
                            self.trailing_sample();
                            continue;
                        }
                    }
                }
                None => match rx.recv() {
                    Some(m) => m,
                    None => break,
                },
            };
            match msg {
                Msg::Read(f) => {
                    self.drain();
                    f(&self.view())
                }
                Msg::Copy(f) => {
                    self.drain();
                    f(self.copy())
                }
                Msg::Snapshot(reply) => {
                    self.drain();
                    let _ = reply.send(self.take_snapshot());
                }
                Msg::Health(reply) => {
                    let _ = reply.send(self.health());
                }
                Msg::Shutdown(reply) => {
                    let _ = reply.send(self.shut_down());
                    break;
                }
                Msg::Write(job) => {
                    let mut count = job.len();
                    self.queued.fetch_sub(count, Ordering::AcqRel);
                    let mut batch = vec![job];
                    // Group commit: take whatever else is already queued, up to the limit.
                    while count < BATCH_COMMANDS_MAX {
                        match rx.try_recv() {
                            Some(Msg::Write(j)) if count + j.len() <= BATCH_COMMANDS_MAX => {
                                count += j.len();
                                self.queued.fetch_sub(j.len(), Ordering::AcqRel);
                                batch.push(j);
                            }
                            Some(other) => {
                                next = Some(other);
                                break;
                            }
                            None => break,
                        }
                    }
                    self.commit(batch);
                }
            }
        }
    }

    fn view(&self) -> View<'_> {
        View::of(&self.meta, &self.ledger, self.head)
    }

    /// Whether writes are taken: `Err` with the reason when a commit failed and the ledger
    /// could not be reloaded.
    fn health(&mut self) -> Result<(), String> {
        if self.drain() {
            return Ok(());
        }
        Err(self
            .failed
            .clone()
            .unwrap_or_else(|| "a commit failed".into()))
    }

    /// Finishes everything queued and committing, and takes the shutdown snapshot unless the
    /// head already has one (a snapshot in progress is let finish first).
    fn shut_down(&mut self) -> Result<(), JournalError> {
        self.drain();
        if self.unsampled {
            self.trailing_sample();
        }
        self.committer.stop();
        let background = self.snapshotter.take().map_or(0, Snapshotter::finish);
        let done = background.max(self.stored_snapshot_seq);
        let wanted = self.config.snapshot_on_shutdown && self.head.seq > done;
        if wanted && self.failed.is_none() {
            self.take_snapshot().map(|_| ())
        } else {
            Ok(())
        }
    }

    /// A copy of the committed state at the head: the last one made, while the head has not
    /// moved since, or a new one, kept for the next reader (see [`Committed`]).
    fn copy(&mut self) -> Arc<Committed> {
        let mut shared = self.copy.lock().unwrap_or_else(|p| p.into_inner());
        match &*shared {
            Some(c) if c.head.seq == self.head.seq => c.clone(),
            _ => {
                let fresh = Arc::new(Committed::of(&self.meta, &self.ledger, self.head));
                *shared = Some(fresh.clone());
                fresh
            }
        }
    }

    /// Brings the economy clock up to the commit's second, with an `advance_clock` of its own
    /// (its id names the instant, so issuing it twice is a retry).
    fn advance_clock(&mut self, c: &mut Commit) {
        let now_s = c.ts_ms.div_euclid(1000);
        if now_s <= self.ledger.economy().clock() {
            return;
        }
        let at = jifen_core::format_instant(now_s);
        let (parsed, canonical) = Submitted::Value(serde_json::json!({
            "type": "advance_clock",
            "id": crate::ids::clock(&at),
            "at": at,
        }))
        .prepare();
        self.apply(c, &parsed, &canonical);
    }

    /// Applies one command and adds its entry to the commit (unless it is a retry).
    fn apply(&mut self, c: &mut Commit, parsed: &Parsed, canonical: &str) -> Outcome {
        let before = self.ledger.economy().totals();
        let outcome = self.ledger.submit(
            parsed.id.as_deref(),
            parsed.fingerprint,
            parsed.command.as_ref().map_err(|c| *c),
        );
        if outcome.retry {
            return outcome;
        }
        if c.extras.postings.is_empty() {
            c.extras.postings.push(PostingsRow {
                first_seq: outcome.seq,
                ts_ms: c.ts_ms,
                ..PostingsRow::default()
            });
        }
        let postings = &mut c.extras.postings[0];
        postings.last_seq = outcome.seq;
        if let (Ok(()), Ok(command)) = (outcome.result, &parsed.command) {
            self.lines.clear();
            jifen_core::books::postings(command, &before, self.ledger.economy(), &mut self.lines);
            let first = postings.first_seq;
            let kind = command.type_name();
            crate::postings::encode(&mut postings.data, first, outcome.seq, kind, &self.lines);
        }
        if outcome.result.is_ok() {
            match parsed.command {
                Ok(Command::SetRules { .. }) => {
                    c.extras.rule_change_seqs.push(outcome.seq);
                    c.notable = true;
                }
                Ok(Command::SettleDividends { .. }) => {
                    let fx = self.ledger.economy().effects();
                    c.extras.payouts.push((
                        outcome.seq,
                        fx.payouts.iter().map(|p| (p.account, p.paid.0)).collect(),
                    ));
                    if let Some(s) = fx.settlement {
                        c.extras.settlements.push(SettlementRow {
                            seq: outcome.seq,
                            day: s.day,
                            holders_eligible: s.holders_eligible,
                            paid_fen: s.paid.0,
                            holders_paid: s.holders_paid,
                            holders_capped: s.holders_capped,
                        });
                    }
                    c.notable = true;
                }
                _ => {}
            }
        }
        let text = outcome_text(outcome.result);
        c.hash = chain_hash(&c.hash, outcome.seq, canonical, text);
        c.blocks
            .push(outcome.seq, c.ts_ms, &c.hash, canonical, text);
        c.blocks_len += 1;
        c.last_seq = Some(outcome.seq);
        outcome
    }

    fn commit(&mut self, batch: Vec<Job>) {
        if self.committer.failed() {
            self.drain();
        }
        if let Some(why) = &self.failed {
            for job in batch {
                job.fail(JournalError::Unavailable(why.clone()));
            }
            return;
        }
        let mut c = self.begin_commit();
        let answers = self.apply_jobs(&mut c, batch);
        self.advance_head(&mut c);
        let job = CommitJob {
            blocks: c.blocks.finish(),
            extras: c.extras,
            answers,
        };
        // Under light load the writer commits itself, sparing a hand-over between threads;
        // when more work waits, the committer syncs while this thread applies the next batch.
        // Either way a batch is committed after everything applied before it. Even a batch of
        // retries is answered only then: a retry's first outcome may be in a batch still
        // committing, and must not be answered before it is durable.
        let more_waiting = self.queued.load(Ordering::Acquire) >= INLINE_COMMIT_BELOW_COMMANDS;
        if self.committer.idle() && !more_waiting {
            if commit_jobs(self.store.as_mut(), &self.meta.id, &self.feeder, vec![job]).is_err() {
                self.reload();
            }
        } else {
            self.committer.send(job);
        }
        if self.head.seq - self.head.last_snapshot_seq >= self.config.snapshot_every_entries
            && self.drain()
        {
            self.snapshot_in_background();
        }
    }

    /// A new commit at the clock's time (never before the head's: the journal is in time
    /// order), with the economy clock brought up to it when the server runs the clock.
    fn begin_commit(&mut self) -> Commit {
        let ts_ms = (self.config.clock)().max(self.head.ts_ms);
        // The state at each quarter-hour boundary (so at every time zone's midnight) is sampled
        // exactly: before the first batch past a boundary, the head state as it stood.
        if self.unsampled
            && ts_ms.div_euclid(QUARTER_HOUR_MS) != self.head.ts_ms.div_euclid(QUARTER_HOUR_MS)
        {
            self.trailing_sample();
        }
        let mut c = Commit {
            blocks_len: 0,
            ts_ms,
            hash: self.head.hash,
            blocks: BlockBuilder::default(),
            extras: AppendExtras::default(),
            notable: false,
            last_seq: None,
        };
        if self.config.advance_clock {
            self.advance_clock(&mut c);
        }
        c
    }

    /// Applies every job's commands, in order, into `c`; the answers wait for the commit.
    fn apply_jobs(&mut self, c: &mut Commit, batch: Vec<Job>) -> Vec<Answer> {
        let mut answers = Vec::with_capacity(batch.len());
        for job in batch {
            match job {
                Job::Values(commands, reply) => {
                    let mut acks = Vec::with_capacity(commands.len());
                    for submitted in commands {
                        let (parsed, canonical) = submitted.prepare();
                        let outcome = self.apply(c, &parsed, &canonical);
                        acks.push(Acked {
                            id_echo: parsed.id_echo(),
                            outcome,
                        });
                    }
                    answers.push(Answer::Values(acks, reply));
                }
                Job::Prepared(mut prepared, reply) => {
                    let refused = prepared
                        .guard
                        .take()
                        .and_then(|guard| guard(&self.ledger, &prepared.parsed).err());
                    if let Some(why) = refused {
                        answers.push(Answer::Refused(prepared, why, reply));
                        continue;
                    }
                    let mut outcomes = Vec::with_capacity(prepared.len());
                    for (i, parsed) in prepared.parsed.iter().enumerate() {
                        outcomes.push(self.apply(c, parsed, prepared.canonical(i)));
                    }
                    c.extras.kv.append(&mut prepared.kv);
                    answers.push(Answer::Prepared(prepared, outcomes, reply));
                }
            }
        }
        answers
    }

    /// Moves the head to the commit's last entry, and adds a price sample when one is due.
    fn advance_head(&mut self, c: &mut Commit) {
        let due = self
            .last_sample_ms
            .is_none_or(|last| c.ts_ms - last >= self.config.sample_every_ms);
        if let Some(seq) = c.last_seq.filter(|_| c.notable || due) {
            c.extras.sample = Some(self.sample(seq, c.ts_ms));
        }
        if let Some(seq) = c.last_seq {
            debug_assert_eq!(seq - self.head.seq, c.blocks_len);
            self.head.seq = seq;
            self.head.hash = c.hash;
            self.head.ts_ms = c.ts_ms;
        }
        if c.extras.sample.is_some() {
            self.last_sample_ms = Some(c.ts_ms);
            self.last_sample_at = std::time::Instant::now();
            self.unsampled = false;
        } else if c.last_seq.is_some() {
            self.unsampled = true;
        }
    }

    /// Waits until everything applied is committed, so the ledger is committed state. After a
    /// failed commit, reloads the ledger from the store first. Returns whether the writer can
    /// go on.
    fn drain(&mut self) -> bool {
        self.committer.drain();
        if self.committer.failed() {
            self.reload();
            self.committer.resume();
        }
        self.failed.is_none()
    }

    /// Records a sample of the committed state at the head, in a transaction of its own.
    fn trailing_sample(&mut self) {
        if !self.drain() {
            return;
        }
        let extras = AppendExtras {
            sample: Some(self.sample(self.head.seq, self.head.ts_ms)),
            ..AppendExtras::default()
        };
        if let Err(e) = self.store.append_blocks(&self.meta.id, &[], &extras) {
            eprintln!("jifen: economy {}: price sample failed: {e}", self.meta.id);
        }
        self.last_sample_ms = Some(self.head.ts_ms);
        self.last_sample_at = std::time::Instant::now();
        self.unsampled = false;
    }

    /// The headline figures of the ledger now, as of entry `seq`.
    fn sample(&self, seq: u64, ts_ms: i64) -> Sample {
        Sample::of(self.ledger.economy(), seq, ts_ms)
    }

    /// After a failed commit the ledger holds commands that are not durable: reload it.
    fn reload(&mut self) {
        match recover(self.store.as_mut(), &self.meta.id, StartupCheck::Tail) {
            Ok(r) => {
                self.ledger = r.ledger;
                // Rare: build the tree here, before anything new is committed and fed.
                match tree_upto(
                    self.store.as_mut(),
                    &self.meta.id,
                    &r.tree_groups,
                    r.head_seq,
                ) {
                    Ok(tree) => {
                        *merkle::lock(&self.tree) = TreeState {
                            tree,
                            heads_due: Vec::new(),
                        }
                    }
                    Err(e) => {
                        self.failed = Some(format!(
                            "economy {}: the Merkle tree could not be rebuilt: {e}",
                            self.meta.id
                        ));
                        return;
                    }
                }
                self.head.seq = r.head_seq;
                self.head.hash = r.head_hash;
                self.head.last_snapshot_seq = self.head.last_snapshot_seq.min(r.head_seq);
                if let Ok(Some(head)) = self.store.head(&self.meta.id) {
                    self.head.ts_ms = head.ts_ms;
                }
            }
            Err(e) => {
                self.failed = Some(format!(
                    "economy {} could not be reloaded: {e}",
                    self.meta.id
                ))
            }
        }
    }

    /// Hands a copy of the committed state to the snapshot thread, unless it is still busy
    /// with the last one. Orders and ids are shared by chunk (copied only when changed while
    /// the copy is alive), and their name indexes, which encoding does not read, are not
    /// copied; encoding and writing happen beside the writer, which goes on committing.
    fn snapshot_in_background(&mut self) {
        if self.failed.is_some() {
            return;
        }
        if self.snapshotter.is_none() {
            match self.store.reopen() {
                Ok(store) => {
                    self.snapshotter = Snapshotter::start(
                        store,
                        &self.meta.id,
                        self.config.snapshots_kept,
                        self.config.snapshot_write_bytes_per_s,
                    )
                }
                Err(e) => eprintln!(
                    "jifen: economy {}: no snapshot connection: {e}",
                    self.meta.id
                ),
            }
        }
        let Some(s) = &self.snapshotter else {
            if let Err(e) = self.take_snapshot() {
                eprintln!("jifen: economy {}: snapshot failed: {e}", self.meta.id);
            }
            return;
        };
        if s.busy.load(Ordering::Acquire) {
            return;
        }
        s.busy.store(true, Ordering::Release);
        let job = SnapshotJob {
            ledger: Box::new(self.ledger.copy_to_encode()),
            seq: self.head.seq,
            hash: self.head.hash,
            groups: self.groups_upto(self.head.seq),
        };
        if s.tx.send(job).is_ok() {
            self.head.last_snapshot_seq = self.head.seq;
        }
    }

    /// The roots of the complete Merkle groups within the first `seq` entries.
    fn groups_upto(&self, seq: u64) -> Vec<Hash> {
        let state = merkle::lock(&self.tree);
        let groups = state.tree.groups();
        groups[..groups.len().min((seq / GROUP) as usize)].to_vec()
    }

    fn take_snapshot(&mut self) -> Result<u64, JournalError> {
        if let Some(why) = &self.failed {
            return Err(JournalError::Unavailable(why.clone()));
        }
        let ledger = &self.ledger;
        let groups = self.groups_upto(self.head.seq);
        let mut data = Vec::new();
        frame_into(
            &mut data,
            &self.meta.id,
            self.head.seq,
            &self.head.hash,
            ledger.encoded_len_hint(),
            &groups,
            |out| ledger.encode_into(out),
        );
        self.store.put_snapshot(
            &self.meta.id,
            self.head.seq,
            &data,
            self.config.snapshots_kept,
        )?;
        self.head.last_snapshot_seq = self.head.seq;
        self.stored_snapshot_seq = self.head.seq;
        Ok(self.head.seq)
    }
}
