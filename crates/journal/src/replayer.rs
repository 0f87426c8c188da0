//! Re-deriving an economy from its journal, checking everything on the way.

use jifen_core::{IdDecision, IdTable, Ledger, Price};
use jifen_wire::{parse_command_line, Parsed};

use crate::entry::EntryRef;
use crate::entry::{outcome_text, parse_outcome, Hash};
use crate::limits::READ_CHUNK_ENTRIES;
use crate::merkle::{entry_leaf_hash, Tree};
use crate::store::Store;
use crate::JournalError;

fn corrupt(economy: &str, seq: u64, what: String) -> JournalError {
    JournalError::Corrupt {
        economy: economy.to_string(),
        seq,
        what,
    }
}

/// Checks only the chain: that `e` follows `prev_seq` and that its hash links to `prev_hash`.
pub fn check_link(
    economy: &str,
    e: &EntryRef<'_>,
    prev_seq: u64,
    prev_hash: &Hash,
) -> Result<(), JournalError> {
    if e.seq != prev_seq + 1 {
        return Err(corrupt(
            economy,
            prev_seq + 1,
            format!("entry {} follows entry {prev_seq}: a gap", e.seq),
        ));
    }
    if !e.chains_from(prev_hash) {
        return Err(corrupt(
            economy,
            e.seq,
            "hash chain broken: the entry or its hash was changed".into(),
        ));
    }
    Ok(())
}

/// Applies journal entries to a ledger, checking for every entry: the next seq, the hash chain,
/// that re-running the command gives the stored outcome, and the O(1) invariants of SPEC §10
/// (with the price never falling from the first issuance on).
pub struct Replayer {
    pub economy: String,
    pub ledger: Ledger,
    pub seq: u64,
    pub hash: Hash,
    /// The Merkle tree over the entries so far, when it is being kept (see `merkle`).
    pub tree: Option<Tree>,
    price_floor: Option<Price>,
}

impl Replayer {
    pub fn new(economy: &str, ledger: Ledger, seq: u64, hash: Hash) -> Replayer {
        let price_floor =
            (ledger.economy().totals().issued_atoms.0 > 0).then(|| ledger.economy().price());
        Replayer {
            economy: economy.to_string(),
            ledger,
            seq,
            hash,
            tree: None,
            price_floor,
        }
    }

    fn corrupt(&self, seq: u64, what: String) -> JournalError {
        corrupt(&self.economy, seq, what)
    }

    /// Applies an entry whose link (seq and hash) was already checked against the previous
    /// entry and whose command is parsed. With a `decision`, the id stage already kept the id
    /// table (see `IdTable`) and only the economy's work is done here.
    pub fn apply_decided(
        &mut self,
        e: &Checked,
        decision: Option<IdDecision>,
    ) -> Result<(), JournalError> {
        let parsed = &e.parsed;
        if e.seq != self.seq + 1 {
            return Err(self.corrupt(
                self.seq + 1,
                format!("entry {} follows entry {}: a gap", e.seq, self.seq),
            ));
        }
        let command = parsed.command.as_ref().map_err(|c| *c);
        let outcome = match decision {
            Some(d) => self.ledger.submit_decided(d, command),
            None => self
                .ledger
                .submit(parsed.id.as_deref(), parsed.fingerprint, command),
        };
        if outcome.retry || outcome.seq != e.seq {
            return Err(self.corrupt(
                e.seq,
                format!(
                    "the command replays as seq {} (retry: {})",
                    outcome.seq, outcome.retry
                ),
            ));
        }
        if Some(outcome.result) != e.outcome {
            let stored = e.outcome.map_or("unreadable", outcome_text);
            let recomputed = outcome_text(outcome.result);
            return Err(self.corrupt(
                e.seq,
                format!("stored outcome {stored:?}, recomputed {recomputed:?}"),
            ));
        }
        let economy = self.ledger.economy();
        if let Err(broken) = economy.check_fast() {
            return Err(self.corrupt(e.seq, format!("invariant broken: {broken}")));
        }
        if economy.totals().issued_atoms.0 > 0 {
            let price = economy.price();
            if let Some(floor) = self.price_floor {
                if price < floor {
                    return Err(self.corrupt(e.seq, format!("price fell from {floor} to {price}")));
                }
            }
            self.price_floor = Some(price);
        }
        if let Some(tree) = &mut self.tree {
            tree.push(e.leaf);
        }
        self.seq = e.seq;
        self.hash = e.hash;
        Ok(())
    }
}

/// An entry whose seq and hash link were checked, reduced to what applying it needs.
pub struct Checked {
    pub seq: u64,
    pub hash: Hash,
    /// When the entry was committed (milliseconds since the epoch).
    pub ts_ms: i64,
    /// The stored outcome, `None` when it is not a valid outcome text.
    pub outcome: Option<Result<(), jifen_core::Code>>,
    pub parsed: Parsed,
    /// The entry's Merkle leaf hash.
    pub leaf: Hash,
}

/// Chunks allowed in flight between each stage.
const CHUNKS_IN_FLIGHT: usize = 8;

type CheckedChunk = Result<Vec<Checked>, JournalError>;

/// One entry as read: seq, hash, stored outcome, and its command's byte range in the chunk text.
/// One entry as read: seq, hash, time, parsed outcome, and where its command and outcome
/// texts are in the chunk's buffer.
struct RawItem {
    seq: u64,
    hash: Hash,
    ts_ms: i64,
    outcome: Option<Result<(), jifen_core::Code>>,
    command: std::ops::Range<usize>,
    outcome_text: std::ops::Range<usize>,
}

/// A chunk of entries as read: links checked, commands copied into one buffer.
struct RawChunk {
    /// Whether to hash each entry's Merkle leaf (when the replayer keeps a tree).
    leaves: bool,
    text: String,
    items: Vec<RawItem>,
}

fn parse_chunk(raw: RawChunk) -> Vec<Checked> {
    raw.items
        .into_iter()
        .map(|i| Checked {
            seq: i.seq,
            hash: i.hash,
            ts_ms: i.ts_ms,
            outcome: i.outcome,
            parsed: parse_command_line(&raw.text[i.command.clone()]),
            leaf: if raw.leaves {
                entry_leaf_hash(
                    i.seq,
                    i.ts_ms,
                    &raw.text[i.command],
                    &raw.text[i.outcome_text],
                )
            } else {
                [0; 32]
            },
        })
        .collect()
}

/// Replays every entry after the replayer's position, up to `upto` (all when `None`), calling
/// `after_each` after each entry and `progress` after each chunk.
///
/// The work runs as a pipeline so that both cores stay busy: a reader scans the store and
/// checks each entry's seq and hash link against the one before it; two parsers take
/// alternate chunks and parse the commands; with `ids_apart`, an id stage keeps the id table
/// (it depends only on the commands); this thread applies the entries in order and checks their
/// outcomes and the invariants. Without `ids_apart` the ledger keeps its ids as it goes, so
/// `after_each` sees the whole ledger (verify compares snapshots that way).
pub fn replay_from_store(
    store: &mut dyn Store,
    replayer: &mut Replayer,
    upto: Option<u64>,
    ids_apart: bool,
    after_each: &mut dyn FnMut(&Replayer, &Checked) -> Result<(), JournalError>,
    progress: &mut dyn FnMut(u64),
) -> Result<(), JournalError> {
    let economy = replayer.economy.clone();
    let (start_seq, start_hash) = (replayer.seq, replayer.hash);
    let leaves = replayer.tree.is_some();
    std::thread::scope(|scope| {
        let lanes: [_; 2] = std::array::from_fn(|_| {
            crossbeam_channel::bounded::<Result<RawChunk, JournalError>>(CHUNKS_IN_FLIGHT)
        });
        let parsed: [_; 2] =
            std::array::from_fn(|_| crossbeam_channel::bounded::<CheckedChunk>(CHUNKS_IN_FLIGHT));
        let raw_tx = [lanes[0].0.clone(), lanes[1].0.clone()];
        for (lane, (raw, out)) in lanes.iter().zip(parsed.iter()).enumerate() {
            let (rx, tx) = (raw.1.clone(), out.0.clone());
            std::thread::Builder::new()
                .name(format!("journal-parse-{lane}"))
                .spawn_scoped(scope, move || {
                    for raw in rx {
                        if tx.send(raw.map(parse_chunk)).is_err() {
                            return;
                        }
                    }
                })?;
        }
        drop(lanes);
        std::thread::Builder::new()
            .name("journal-reader".into())
            .spawn_scoped(scope, move || {
                read_chunks(store, &economy, start_seq, start_hash, upto, leaves, raw_tx)
            })?;
        let outputs = [parsed[0].1.clone(), parsed[1].1.clone()];
        drop(parsed);
        // The id table depends only on the commands, so its own stage keeps it, in order.
        let (decided_tx, decided_rx) = crossbeam_channel::bounded::<DecidedChunk>(CHUNKS_IN_FLIGHT);
        let ids = ids_apart.then(|| replayer.ledger.take_ids());
        let id_stage = std::thread::Builder::new()
            .name("journal-ids".into())
            .spawn_scoped(scope, move || decide_ids(outputs, decided_tx, ids))?;
        let mut result = Ok(());
        'chunks: for chunk in decided_rx {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
            for (e, decision) in &chunk {
                if let Err(err) = replayer
                    .apply_decided(e, *decision)
                    .and_then(|()| after_each(replayer, e))
                {
                    result = Err(err);
                    break 'chunks;
                }
            }
            progress(replayer.seq);
        }
        let ids = id_stage
            .join()
            .map_err(|_| JournalError::Unavailable("the journal id stage panicked".into()))?;
        if let Some(ids) = ids {
            replayer.ledger.put_ids(ids);
        }
        result
    })
}

type DecidedChunk = Result<Vec<(Checked, Option<IdDecision>)>, JournalError>;

/// The id stage: takes parsed chunks from the two lanes in turn, decides each id, and passes
/// them on. Returns the table when the stream ends (or the applier stops listening).
fn decide_ids(
    lanes: [crossbeam_channel::Receiver<CheckedChunk>; 2],
    out: crossbeam_channel::Sender<DecidedChunk>,
    mut ids: Option<IdTable>,
) -> Option<IdTable> {
    for lane in (0..2).cycle() {
        let Ok(chunk) = lanes[lane].recv() else { break };
        let decided = chunk.map(|entries| {
            entries
                .into_iter()
                .map(|e| {
                    let stored = e.outcome.unwrap_or(Err(jifen_core::Code::InvalidCommand));
                    let p = &e.parsed;
                    let d = ids
                        .as_mut()
                        .map(|t| t.decide_journaled(p.id.as_deref(), p.fingerprint, e.seq, stored));
                    (e, d)
                })
                .collect()
        });
        let stop = decided.is_err();
        if out.send(decided).is_err() || stop {
            break;
        }
    }
    ids
}

/// The reading stage: chunks go to the two lanes in turn; the first problem ends the stream.
#[allow(clippy::too_many_arguments)]
fn read_chunks(
    store: &mut dyn Store,
    economy: &str,
    mut seq: u64,
    mut hash: Hash,
    upto: Option<u64>,
    leaves: bool,
    lanes: [crossbeam_channel::Sender<Result<RawChunk, JournalError>>; 2],
) {
    for lane in (0..2).cycle() {
        let limit = upto.map_or(READ_CHUNK_ENTRIES, |u| {
            (u.saturating_sub(seq) as usize).min(READ_CHUNK_ENTRIES)
        });
        if limit == 0 {
            return;
        }
        let mut raw = RawChunk {
            leaves,
            text: String::with_capacity(limit * 160),
            items: Vec::with_capacity(limit),
        };
        let mut broken = None;
        let scanned = store.scan(economy, seq, limit, &mut |e| {
            if broken.is_some() {
                return Ok(());
            }
            if let Err(err) = check_link(economy, &e, seq, &hash) {
                broken = Some(err);
                return Ok(());
            }
            (seq, hash) = (e.seq, *e.hash);
            let start = raw.text.len();
            raw.text.push_str(e.command);
            let middle = raw.text.len();
            raw.text.push_str(e.outcome);
            raw.items.push(RawItem {
                seq: e.seq,
                hash: *e.hash,
                ts_ms: e.ts_ms,
                outcome: parse_outcome(e.outcome),
                command: start..middle,
                outcome_text: middle..raw.text.len(),
            });
            Ok(())
        });
        // Entries before a broken link still go through, so the error names the right seq.
        let stop = match (scanned, broken) {
            (Err(e), _) => Some(e.into()),
            (Ok(_), Some(err)) => Some(err),
            (Ok(0), None) => return,
            (Ok(_), None) => None,
        };
        if lanes[lane].send(Ok(raw)).is_err() {
            return;
        }
        if let Some(err) = stop {
            // The next lane in turn carries the error, so it arrives after this chunk.
            let _ = lanes[1 - lane].send(Err(err));
            return;
        }
    }
}
