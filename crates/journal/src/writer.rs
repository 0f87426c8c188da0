//! The single writer of one economy, with group commit.
//!
//! One thread owns the economy's ledger and its store connection. It takes up to
//! [`BATCH_COMMANDS_MAX`] queued commands, applies them to the ledger, appends them and their
//! outcomes in one transaction, and only then answers each caller. Reads run on the same thread
//! between batches, so they only ever see committed state. If a commit fails, every caller in
//! the batch gets an error and the writer reloads the ledger from the store, which is the
//! truth; nothing that was not acknowledged is kept.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::Sender;
use jifen_core::{Command, Ledger, Outcome};
use jifen_wire::{canonical_json, parse_command_value, Parsed};
use serde_json::Value;

use crate::block::BlockBuilder;
use crate::committer::{commit_jobs, Answer, CommitJob, Committer, TreeFeeder};
use crate::entry::{chain_hash, outcome_text, Hash};
use crate::frame::frame_with;
use crate::merkle::{self, SharedTree, TreeState, GROUP};
use crate::queue;
use crate::recover::tree_upto;
use crate::recover::{recover, Recovered, StartupCheck};
use crate::store::{AppendExtras, EconomyMeta, Sample, SettlementRow, Store};
use crate::JournalError;

/// The writer commits a batch itself, instead of handing it to the committer, when the
/// committer is idle and fewer commands than this are waiting behind it.
const INLINE_COMMIT_BELOW_COMMANDS: usize = 256;

/// Samples fall on every quarter-hour boundary, which every time zone's midnight is.
const QUARTER_HOUR_MS: i64 = 15 * 60 * 1000;
/// The soonest a trailing price sample follows the last sample, in real time.
const TRAILING_SAMPLE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// The most commands one transaction carries.
pub const BATCH_COMMANDS_MAX: usize = 8190;
/// The most requests waiting for the writer; callers block (or get back-pressure) beyond it.
pub const QUEUE_REQUESTS_MAX: usize = 65_536;

/// A command as it arrived: a parsed JSON value, or a line of text that may not be JSON.
/// (Callers that parse on their own threads send a [`PreparedBatch`] instead.)
#[derive(Clone, Debug)]
pub enum Submitted {
    Value(Value),
    Line(String),
}

impl Submitted {
    /// The parsed command and the canonical text the journal stores.
    fn prepare(self) -> (Parsed, String) {
        match self {
            Submitted::Value(value) => {
                let canonical = canonical_json(&value);
                (parse_command_value(value), canonical)
            }
            // Text keeps its numbers' exact digits (see `jifen_wire::parse_command_general`).
            Submitted::Line(line) => {
                let mut canonical = String::new();
                match jifen_wire::parse_command_canonical_into(&line, &mut canonical) {
                    Some(parsed) => (parsed, canonical),
                    None => rejected_line(&line),
                }
            }
        }
    }
}

/// The longest excerpt of a line that is not JSON kept in the journal, in bytes.
pub const REJECTED_LINE_EXCERPT_BYTES_MAX: usize = 256;

/// A line that is not a JSON command (or is too long) is journaled as a JSON string holding
/// an excerpt of it: that replays as the same `invalid_command`, and the journal stays bounded.
fn rejected_line(line: &str) -> (Parsed, String) {
    let mut end = line.len().min(REJECTED_LINE_EXCERPT_BYTES_MAX);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    let excerpt = Value::String(format!(
        "not a command ({} bytes): {}",
        line.len(),
        &line[..end]
    ));
    (parse_command_value(Value::Null), canonical_json(&excerpt))
}

/// One command's answer: its `id` as given, and its outcome (with its journal seq).
#[derive(Clone, Debug, PartialEq)]
pub struct Acked {
    pub id_echo: Value,
    pub outcome: Outcome,
}

pub type Reply = Box<dyn FnOnce(Result<Vec<Acked>, JournalError>) + Send>;

/// Commands parsed and canonicalised by the caller, their canonical texts in one buffer, so
/// the writer only applies, hashes and commits them, and nothing in the batch is allocated or
/// freed on the writer's thread (the batch goes back to the caller with the outcomes).
#[derive(Default)]
pub struct PreparedBatch {
    parsed: Vec<Parsed>,
    text: String,
    ends: Vec<usize>,
}

impl PreparedBatch {
    pub fn with_capacity(commands: usize, text_bytes: usize) -> PreparedBatch {
        PreparedBatch {
            parsed: Vec::with_capacity(commands),
            text: String::with_capacity(text_bytes),
            ends: Vec::with_capacity(commands),
        }
    }

    /// Adds one command given as JSON text. A text that is not JSON, or is too long, is
    /// journaled as a bounded excerpt and replays as the same `invalid_command`. Answers
    /// whether the text was JSON.
    pub fn push_text(&mut self, text: &str) -> bool {
        let (parsed, json) = match jifen_wire::parse_command_canonical_into(text, &mut self.text) {
            Some(parsed) => (parsed, true),
            None => {
                let (parsed, canonical) = rejected_line(text);
                self.text.push_str(&canonical);
                let json = text.len() > jifen_wire::LINE_BYTES_MAX
                    && serde_json::from_str::<&serde_json::value::RawValue>(text).is_ok();
                (parsed, json)
            }
        };
        self.parsed.push(parsed);
        self.ends.push(self.text.len());
        json
    }

    pub fn len(&self) -> usize {
        self.parsed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parsed.is_empty()
    }

    pub fn parsed(&self) -> &[Parsed] {
        &self.parsed
    }

    pub fn canonical(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }
}

/// The answer to a [`PreparedBatch`]: the batch back, and one outcome per command.
pub type BatchReply = Box<dyn FnOnce(PreparedBatch, Result<Vec<Outcome>, JournalError>) + Send>;

enum Job {
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

    fn fail(self, e: JournalError) {
        match self {
            Job::Values(_, reply) => reply(Err(e)),
            Job::Prepared(batch, reply) => reply(batch, Err(e)),
        }
    }
}

struct SnapshotJob {
    ledger: Box<Ledger>,
    seq: u64,
    hash: Hash,
    /// The Merkle group roots the snapshot's entries complete.
    groups: Vec<Hash>,
}

/// The thread that encodes and stores periodic snapshots, with its own store connection.
struct Snapshotter {
    tx: Sender<SnapshotJob>,
    busy: Arc<AtomicBool>,
    /// The seq of the newest snapshot it stored.
    done: Arc<AtomicU64>,
    thread: JoinHandle<()>,
}

impl Snapshotter {
    fn start(mut store: Box<dyn Store>, economy: &str, keep: usize) -> Option<Snapshotter> {
        let (tx, rx) = crossbeam_channel::bounded::<SnapshotJob>(1);
        let busy = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let (b, d, eco) = (busy.clone(), done.clone(), economy.to_string());
        let thread = std::thread::Builder::new()
            .name(format!("snapshot-{economy}"))
            .spawn(move || {
                for job in rx {
                    let data = frame_with(
                        &eco,
                        job.seq,
                        &job.hash,
                        job.ledger.encoded_len_hint(),
                        &job.groups,
                        |out| job.ledger.encode_into(out),
                    );
                    drop(job.ledger);
                    match store.put_snapshot(&eco, job.seq, &data, keep) {
                        Ok(()) => d.store(job.seq, Ordering::Release),
                        Err(e) => {
                            eprintln!("jifen: economy {eco}: snapshot at {} failed: {e}", job.seq)
                        }
                    }
                    b.store(false, Ordering::Release);
                }
            })
            .ok()?;
        Some(Snapshotter {
            tx,
            busy,
            done,
            thread,
        })
    }

    /// Waits for the snapshot in progress; returns the seq of the newest one stored.
    fn finish(self) -> u64 {
        drop(self.tx);
        let _ = self.thread.join();
        self.done.load(Ordering::Acquire)
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

/// What a read sees: committed state only.
pub struct View<'a> {
    pub meta: &'a EconomyMeta,
    pub ledger: &'a Ledger,
    pub head_seq: u64,
    pub head_hash: Hash,
    /// The timestamp of the newest entry (0 before any).
    pub head_ts_ms: i64,
    pub last_snapshot_seq: u64,
}

type ReadFn = Box<dyn FnOnce(&View<'_>) + Send>;

enum Msg {
    Write(Job),
    Read(ReadFn),
    Snapshot(Sender<Result<u64, JournalError>>),
    Shutdown(Sender<Result<(), JournalError>>),
}

#[derive(Clone)]
pub struct JournalConfig {
    /// Take a snapshot after this many new entries (and on clean shutdown).
    pub snapshot_every_entries: u64,
    pub snapshots_kept: usize,
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
}

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig {
            snapshot_every_entries: 1_000_000,
            snapshots_kept: 3,
            snapshot_on_shutdown: true,
            startup_check: StartupCheck::FullChain,
            clock: Arc::new(crate::time::now_ms),
            sample_every_ms: 10_000,
            advance_clock: false,
        }
    }
}

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
}

struct Writer {
    store: Box<dyn Store>,
    meta: EconomyMeta,
    ledger: Ledger,
    head_seq: u64,
    head_hash: Hash,
    head_ts_ms: i64,
    last_sample_ms: Option<i64>,
    /// Set when a committed batch changed the state and recorded no sample: once the writer
    /// falls idle, it records a trailing sample, so a chart never misses the last change.
    unsampled: bool,
    /// When the last sample was written (real time, which paces trailing samples).
    last_sample_at: std::time::Instant,
    last_snapshot_seq: u64,
    /// Commits what this thread applied, and answers.
    committer: Committer,
    /// The Merkle tree the commits feed, and the thread that feeds it.
    tree: SharedTree,
    feeder: TreeFeeder,
    queued: Arc<AtomicUsize>,
    /// Takes periodic snapshots off the writer's thread.
    snapshotter: Option<Snapshotter>,
    /// The newest snapshot this thread stored itself (or found at start-up).
    stored_snapshot_seq: u64,
    config: JournalConfig,
    /// Set when the ledger could not be reloaded after a failed commit: nothing is served.
    failed: Option<String>,
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
        let feeder = TreeFeeder::start(
            tree.clone(),
            economy,
            store.reopen()?,
            r.tree_groups.clone(),
            r.head_seq,
        )?;
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

impl Writer {
    fn new(
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
            head_seq: r.head_seq,
            head_hash: r.head_hash,
            head_ts_ms,
            last_sample_ms: None,
            unsampled: false,
            last_sample_at: std::time::Instant::now(),
            last_snapshot_seq: r.snapshot_seq.unwrap_or(0),
            snapshotter: None,
            stored_snapshot_seq: r.snapshot_seq.unwrap_or(0),
            config,
            failed: None,
        }
    }

    fn run(mut self, rx: queue::Receiver<Msg>) {
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
                Msg::Snapshot(reply) => {
                    self.drain();
                    let _ = reply.send(self.take_snapshot());
                }
                Msg::Shutdown(reply) => {
                    self.drain();
                    if self.unsampled {
                        self.trailing_sample();
                    }
                    self.committer.stop();
                    // Let a snapshot in progress finish; take the shutdown one if it is not
                    // already at the head.
                    let background = self.snapshotter.take().map_or(0, Snapshotter::finish);
                    let done = background.max(self.stored_snapshot_seq);
                    let wanted = self.config.snapshot_on_shutdown && self.head_seq > done;
                    let result = if wanted && self.failed.is_none() {
                        self.take_snapshot().map(|_| ())
                    } else {
                        Ok(())
                    };
                    let _ = reply.send(result);
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
        View {
            meta: &self.meta,
            ledger: &self.ledger,
            head_seq: self.head_seq,
            head_hash: self.head_hash,
            head_ts_ms: self.head_ts_ms,
            last_snapshot_seq: self.last_snapshot_seq,
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
        let outcome = self.ledger.submit(
            parsed.id.as_deref(),
            parsed.fingerprint,
            parsed.command.as_ref().map_err(|c| *c),
        );
        if outcome.retry {
            return outcome;
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
        // Timestamps never go backwards, even if the clock does: the journal is in time order.
        let ts_ms = (self.config.clock)().max(self.head_ts_ms);
        // The state at each quarter-hour boundary (so at every time zone's midnight) is sampled
        // exactly: before the first batch past a boundary, the head state as it stood.
        if self.unsampled
            && ts_ms.div_euclid(QUARTER_HOUR_MS) != self.head_ts_ms.div_euclid(QUARTER_HOUR_MS)
        {
            self.trailing_sample();
        }
        let mut c = Commit {
            blocks_len: 0,
            ts_ms,
            hash: self.head_hash,
            blocks: BlockBuilder::default(),
            extras: AppendExtras::default(),
            notable: false,
            last_seq: None,
        };
        if self.config.advance_clock {
            self.advance_clock(&mut c);
        }
        let mut answers = Vec::with_capacity(batch.len());
        for job in batch {
            match job {
                Job::Values(commands, reply) => {
                    let mut acks = Vec::with_capacity(commands.len());
                    for submitted in commands {
                        let (parsed, canonical) = submitted.prepare();
                        let outcome = self.apply(&mut c, &parsed, &canonical);
                        acks.push(Acked {
                            id_echo: parsed.id_echo(),
                            outcome,
                        });
                    }
                    answers.push(Answer::Values(acks, reply));
                }
                Job::Prepared(prepared, reply) => {
                    let mut outcomes = Vec::with_capacity(prepared.len());
                    for (i, parsed) in prepared.parsed.iter().enumerate() {
                        outcomes.push(self.apply(&mut c, parsed, prepared.canonical(i)));
                    }
                    answers.push(Answer::Prepared(prepared, outcomes, reply));
                }
            }
        }
        let due = self
            .last_sample_ms
            .is_none_or(|last| c.ts_ms - last >= self.config.sample_every_ms);
        if let Some(seq) = c.last_seq.filter(|_| c.notable || due) {
            c.extras.sample = Some(self.sample(seq, c.ts_ms));
        }
        if let Some(seq) = c.last_seq {
            debug_assert_eq!(seq - self.head_seq, c.blocks_len);
            self.head_seq = seq;
            self.head_hash = c.hash;
            self.head_ts_ms = c.ts_ms;
        }
        if c.extras.sample.is_some() {
            self.last_sample_ms = Some(c.ts_ms);
            self.last_sample_at = std::time::Instant::now();
            self.unsampled = false;
        } else if c.last_seq.is_some() {
            self.unsampled = true;
        }
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
        if self.head_seq - self.last_snapshot_seq >= self.config.snapshot_every_entries
            && self.drain()
        {
            self.snapshot_in_background();
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
            sample: Some(self.sample(self.head_seq, self.head_ts_ms)),
            ..AppendExtras::default()
        };
        if let Err(e) = self.store.append_blocks(&self.meta.id, &[], &extras) {
            eprintln!("jifen: economy {}: price sample failed: {e}", self.meta.id);
        }
        self.last_sample_ms = Some(self.head_ts_ms);
        self.last_sample_at = std::time::Instant::now();
        self.unsampled = false;
    }

    /// The headline figures of the ledger now, as of entry `seq`.
    fn sample(&self, seq: u64, ts_ms: i64) -> Sample {
        let economy = self.ledger.economy();
        let t = economy.totals();
        let price = economy.price();
        Sample {
            seq,
            ts_ms,
            reserve_fen: t.reserve_fen.0,
            circulating_atoms: t.circulating_atoms.0,
            dividend_pool_fen: t.dividend_pool_fen.0,
            treasury_atoms: t.treasury_atoms.0,
            price_num_fen: price.num_fen,
            price_den_atoms: price.den_atoms,
            contributions_fen: t.contributions_fen.0,
            paid_out_fen: t.paid_out_fen.0,
            quota_fen: economy.quota_total_fen(),
            orders: economy.orders().len() as u64,
            exits: economy.exits_total(),
        }
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
                self.head_seq = r.head_seq;
                self.head_hash = r.head_hash;
                self.last_snapshot_seq = self.last_snapshot_seq.min(r.head_seq);
                if let Ok(Some(head)) = self.store.head(&self.meta.id) {
                    self.head_ts_ms = head.ts_ms;
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
    /// the copy is alive); encoding and writing happen beside the writer, which goes on
    /// committing.
    fn snapshot_in_background(&mut self) {
        if self.failed.is_some() {
            return;
        }
        if self.snapshotter.is_none() {
            match self.store.reopen() {
                Ok(store) => {
                    self.snapshotter =
                        Snapshotter::start(store, &self.meta.id, self.config.snapshots_kept)
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
            ledger: Box::new(self.ledger.clone()),
            seq: self.head_seq,
            hash: self.head_hash,
            groups: self.groups_upto(self.head_seq),
        };
        if s.tx.send(job).is_ok() {
            self.last_snapshot_seq = self.head_seq;
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
        let groups = self.groups_upto(self.head_seq);
        let data = frame_with(
            &self.meta.id,
            self.head_seq,
            &self.head_hash,
            ledger.encoded_len_hint(),
            &groups,
            |out| ledger.encode_into(out),
        );
        self.store.put_snapshot(
            &self.meta.id,
            self.head_seq,
            &data,
            self.config.snapshots_kept,
        )?;
        self.last_snapshot_seq = self.head_seq;
        self.stored_snapshot_seq = self.head_seq;
        Ok(self.head_seq)
    }
}
