//! The single writer of one economy, with group commit.
//!
//! One thread owns the economy's ledger and its store connection. It takes up to
//! [`BATCH_COMMANDS_MAX`] queued commands, applies them to the ledger, appends them and their
//! outcomes in one transaction, and only then answers each caller. Reads run on the same thread
//! between batches, so they only ever see committed state. If a commit fails, every caller in
//! the batch gets an error and the writer reloads the ledger from the store, which is the
//! truth; nothing that was not acknowledged is kept.

use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};
use jifen_core::{Command, Ledger, Outcome};
use jifen_wire::{canonical_json, parse_command_value, Parsed};
use serde_json::Value;

use crate::entry::{chain_hash, outcome_text, Entry, Hash};
use crate::frame::frame;
use crate::recover::{recover, Recovered, StartupCheck};
use crate::store::{AppendExtras, EconomyMeta, Sample, Store};
use crate::JournalError;

/// The most commands one transaction carries.
pub const BATCH_COMMANDS_MAX: usize = 8190;
/// The most requests waiting for the writer; callers block (or get back-pressure) beyond it.
pub const QUEUE_REQUESTS_MAX: usize = 65_536;

/// A command as it arrived: a parsed JSON value, a line of text that may not be JSON, or a
/// command already prepared by the caller (so parsing runs on the caller's thread, not the
/// writer's).
#[derive(Clone, Debug)]
pub enum Submitted {
    Value(Value),
    Line(String),
    Prepared(Box<Prepared>),
}

/// A parsed command with the canonical text the journal stores.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub parsed: Parsed,
    pub canonical: String,
}

impl Submitted {
    /// Parses and canonicalises now, on the calling thread.
    pub fn prepared(self) -> Submitted {
        match self {
            Submitted::Prepared(p) => Submitted::Prepared(p),
            other => {
                let (parsed, canonical) = other.prepare();
                Submitted::Prepared(Box::new(Prepared { parsed, canonical }))
            }
        }
    }

    /// The parsed command and the canonical text the journal stores.
    fn prepare(self) -> (Parsed, String) {
        let value = match self {
            Submitted::Prepared(p) => return (p.parsed, p.canonical),
            Submitted::Value(v) => v,
            Submitted::Line(line) if line.len() > jifen_wire::LINE_BYTES_MAX => {
                return rejected_line(&line);
            }
            Submitted::Line(line) => match serde_json::from_str::<Value>(&line) {
                Ok(v) => v,
                Err(_) => return rejected_line(&line),
            },
        };
        let canonical = canonical_json(&value);
        (parse_command_value(value), canonical)
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
    Write(Vec<Submitted>, Reply),
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
    tx: Sender<Msg>,
    thread: Option<JoinHandle<()>>,
    economy: String,
}

struct Writer {
    store: Box<dyn Store>,
    meta: EconomyMeta,
    ledger: Ledger,
    head_seq: u64,
    head_hash: Hash,
    head_ts_ms: i64,
    last_sample_ms: Option<i64>,
    last_snapshot_seq: u64,
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
        let writer = Writer::new(store, r, config, head_ts_ms);
        let (tx, rx) = crossbeam_channel::bounded(QUEUE_REQUESTS_MAX);
        let thread = std::thread::Builder::new()
            .name(format!("writer-{economy}"))
            .spawn(move || writer.run(rx))?;
        Ok((
            Journal {
                tx,
                thread: Some(thread),
                economy: economy.to_string(),
            },
            info,
        ))
    }

    pub fn economy(&self) -> &str {
        &self.economy
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
        if let Err(crossbeam_channel::SendError(Msg::Write(_, reply))) =
            self.tx.send(Msg::Write(commands, reply))
        {
            reply(Err(self.closed()));
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
    fn new(store: Box<dyn Store>, r: Recovered, config: JournalConfig, head_ts_ms: i64) -> Writer {
        Writer {
            store,
            meta: r.meta,
            ledger: r.ledger,
            head_seq: r.head_seq,
            head_hash: r.head_hash,
            head_ts_ms,
            last_sample_ms: None,
            last_snapshot_seq: r.snapshot_seq.unwrap_or(0),
            config,
            failed: None,
        }
    }

    fn run(mut self, rx: Receiver<Msg>) {
        let mut next: Option<Msg> = None;
        loop {
            let msg = match next.take() {
                Some(m) => m,
                None => match rx.recv() {
                    Ok(m) => m,
                    Err(_) => break,
                },
            };
            match msg {
                Msg::Read(f) => f(&self.view()),
                Msg::Snapshot(reply) => {
                    let _ = reply.send(self.take_snapshot());
                }
                Msg::Shutdown(reply) => {
                    let wanted =
                        self.config.snapshot_on_shutdown && self.head_seq > self.last_snapshot_seq;
                    let result = if wanted && self.failed.is_none() {
                        self.take_snapshot().map(|_| ())
                    } else {
                        Ok(())
                    };
                    let _ = reply.send(result);
                    break;
                }
                Msg::Write(commands, reply) => {
                    let mut batch = vec![(commands, reply)];
                    let mut count = batch[0].0.len();
                    // Group commit: take whatever else is already queued, up to the limit.
                    while count < BATCH_COMMANDS_MAX {
                        match rx.try_recv() {
                            Ok(Msg::Write(c, r)) if count + c.len() <= BATCH_COMMANDS_MAX => {
                                count += c.len();
                                batch.push((c, r));
                            }
                            Ok(other) => {
                                next = Some(other);
                                break;
                            }
                            Err(_) => break,
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

    fn commit(&mut self, batch: Vec<(Vec<Submitted>, Reply)>) {
        if let Some(why) = &self.failed {
            for (_, reply) in batch {
                reply(Err(JournalError::Unavailable(why.clone())));
            }
            return;
        }
        // Timestamps never go backwards, even if the clock does: the journal is in time order.
        let ts_ms = (self.config.clock)().max(self.head_ts_ms);
        let mut entries = Vec::new();
        let mut extras = AppendExtras::default();
        let mut notable = false;
        let mut answers = Vec::with_capacity(batch.len());
        let mut hash = self.head_hash;
        for (commands, reply) in batch {
            let mut acks = Vec::with_capacity(commands.len());
            for submitted in commands {
                let (parsed, canonical) = submitted.prepare();
                let outcome = self.ledger.submit(
                    parsed.id.as_deref(),
                    parsed.fingerprint,
                    parsed.command.as_ref().map_err(|c| *c),
                );
                if !outcome.retry {
                    if outcome.result.is_ok() {
                        match parsed.command {
                            Ok(Command::SetRules { .. }) => {
                                extras.rule_change_seqs.push(outcome.seq);
                                notable = true;
                            }
                            Ok(Command::SettleDividends { .. }) => notable = true,
                            _ => {}
                        }
                    }
                    let text = outcome_text(outcome.result);
                    hash = chain_hash(&hash, outcome.seq, &canonical, text);
                    entries.push(Entry {
                        seq: outcome.seq,
                        ts_ms,
                        command: canonical,
                        outcome: text.to_string(),
                        hash,
                    });
                }
                acks.push(Acked {
                    id_echo: parsed.id_echo(),
                    outcome,
                });
            }
            answers.push((acks, reply));
        }
        debug_assert!(entries.first().is_none_or(|e| e.seq == self.head_seq + 1));
        let due = self
            .last_sample_ms
            .is_none_or(|last| ts_ms - last >= self.config.sample_every_ms);
        if let Some(last) = entries.last().filter(|_| notable || due) {
            extras.sample = Some(self.sample(last.seq, ts_ms));
        }
        let committed = if entries.is_empty() {
            Ok(())
        } else {
            self.store.append_with(&self.meta.id, &entries, &extras)
        };
        match committed {
            Ok(()) => {
                if let Some(last) = entries.last() {
                    self.head_seq = last.seq;
                    self.head_hash = last.hash;
                    self.head_ts_ms = ts_ms;
                }
                if extras.sample.is_some() {
                    self.last_sample_ms = Some(ts_ms);
                }
                for (acks, reply) in answers {
                    reply(Ok(acks));
                }
                if self.head_seq - self.last_snapshot_seq >= self.config.snapshot_every_entries {
                    if let Err(e) = self.take_snapshot() {
                        eprintln!("jifen: economy {}: snapshot failed: {e}", self.meta.id);
                    }
                }
            }
            Err(e) => {
                let why = format!("the commit failed, nothing in it was kept: {e}");
                for (_, reply) in answers {
                    reply(Err(JournalError::Unavailable(why.clone())));
                }
                self.reload();
            }
        }
    }

    /// The headline figures of the ledger now, as of entry `seq`.
    fn sample(&self, seq: u64, ts_ms: i64) -> Sample {
        let economy = self.ledger.economy();
        let t = economy.totals();
        let price = economy.price();
        Sample {
            seq,
            ts_ms,
            reserve_fen: t.reserve_fen,
            circulating_atoms: t.circulating_atoms,
            dividend_pool_fen: t.dividend_pool_fen,
            treasury_atoms: t.treasury_atoms,
            price_num_fen: price.num_fen,
            price_den_atoms: price.den_atoms,
        }
    }

    /// After a failed commit the ledger holds commands that are not durable: reload it.
    fn reload(&mut self) {
        match recover(self.store.as_mut(), &self.meta.id, StartupCheck::Tail) {
            Ok(r) => {
                self.ledger = r.ledger;
                self.head_seq = r.head_seq;
                self.head_hash = r.head_hash;
            }
            Err(e) => {
                self.failed = Some(format!(
                    "economy {} could not be reloaded: {e}",
                    self.meta.id
                ))
            }
        }
    }

    fn take_snapshot(&mut self) -> Result<u64, JournalError> {
        if let Some(why) = &self.failed {
            return Err(JournalError::Unavailable(why.clone()));
        }
        let payload = self.ledger.encode();
        let data = frame(&self.meta.id, self.head_seq, &self.head_hash, &payload);
        self.store.put_snapshot(
            &self.meta.id,
            self.head_seq,
            &data,
            self.config.snapshots_kept,
        )?;
        self.last_snapshot_seq = self.head_seq;
        Ok(self.head_seq)
    }
}
