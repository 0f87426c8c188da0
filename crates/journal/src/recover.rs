//! Start-up: the newest snapshot that verifies, then the journal tail.

use jifen_core::Ledger;

use crate::entry::Hash;
use crate::frame::unframe;
use crate::limits::READ_CHUNK_ENTRIES;
use crate::merkle::{entry_leaf_hash, Tree, TreeState, GROUP};
use crate::replayer::{check_link, replay_from_store, Replayer};
use crate::store::{EconomyMeta, Store};
use crate::{rules_of, JournalError};

/// How much of the journal start-up checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartupCheck {
    /// The snapshot and every entry after it (replayed, outcomes compared).
    Tail,
    /// That, and the hash chain of every entry before the snapshot too (no replay).
    FullChain,
}

pub struct Recovered {
    pub meta: EconomyMeta,
    pub ledger: Ledger,
    /// The Merkle group roots the snapshot carried: the tree over the rest is built beside
    /// the writer (see `TreeFeeder`), or by [`tree_upto`].
    pub tree_groups: Vec<Hash>,
    pub head_seq: u64,
    pub head_hash: Hash,
    /// The snapshot start-up used, if any.
    pub snapshot_seq: Option<u64>,
    /// Snapshots that failed their checks and were skipped.
    pub skipped_snapshots: Vec<String>,
}

/// Loads an economy: the newest snapshot that verifies (checksum, decoding with every
/// invariant, and its position on the hash chain), then every later entry, replayed and checked.
/// Any broken entry stops with an error naming the economy and seq.
pub fn recover(
    store: &mut dyn Store,
    economy: &str,
    check: StartupCheck,
) -> Result<Recovered, JournalError> {
    let meta = store
        .economy(economy)?
        .ok_or_else(|| JournalError::NoSuchEconomy(economy.to_string()))?;
    let genesis = crate::genesis_of(&meta);
    if genesis != meta.genesis {
        return Err(JournalError::Corrupt {
            economy: economy.to_string(),
            seq: 0,
            what: "the genesis hash does not match the economy's id, rules and time zone".into(),
        });
    }
    let rules = rules_of(&meta)?;
    let mut skipped = Vec::new();
    let mut start = None;
    for seq in store.snapshot_seqs(economy)? {
        match load_snapshot(store, &meta, seq) {
            Ok(found) => {
                start = Some(found);
                break;
            }
            Err(why) => skipped.push(format!("snapshot at seq {seq}: {why}")),
        }
    }
    let snapshot_seq = start.as_ref().map(|(_, seq, _, _)| *seq);
    let (ledger, seq, hash, groups) =
        start.unwrap_or_else(|| (Ledger::new(rules), 0, meta.genesis, Vec::new()));
    if check == StartupCheck::FullChain {
        check_chain(store, &meta, seq, &hash, &groups)?;
    }
    let mut replayer = Replayer::new(economy, ledger, seq, hash);

    if let Some(head) = store.head(economy)? {
        replayer
            .ledger
            .reserve_ids(head.seq.saturating_sub(seq) as usize);
    }
    replay_from_store(
        store,
        &mut replayer,
        None,
        true,
        &mut |_, _| Ok(()),
        &mut |_| {},
    )?;
    if let Err(broken) = replayer.ledger.economy().check_full() {
        return Err(JournalError::Corrupt {
            economy: economy.to_string(),
            seq: replayer.seq,
            what: format!("recovered state breaks an invariant: {broken}"),
        });
    }
    Ok(Recovered {
        meta,
        tree_groups: groups,
        head_seq: replayer.seq,
        head_hash: replayer.hash,
        ledger: replayer.ledger,
        snapshot_seq,
        skipped_snapshots: skipped,
    })
}

/// The economy as it stood after entry `seq`: the newest snapshot at or before it that
/// verifies, then the entries up to `seq`, replayed and checked as at start-up. For what-if
/// previews, which replay history from a point in the past. `keep_going` is asked after every
/// entry: when it says no (the caller has gone), the replay stops with `Unavailable`.
pub fn ledger_at(
    store: &mut dyn Store,
    economy: &str,
    seq: u64,
    keep_going: &dyn Fn() -> bool,
) -> Result<Ledger, JournalError> {
    let meta = store
        .economy(economy)?
        .ok_or_else(|| JournalError::NoSuchEconomy(economy.to_string()))?;
    let mut start = None;
    for at in store.snapshot_seqs(economy)? {
        if at <= seq {
            if let Ok(found) = load_snapshot(store, &meta, at) {
                start = Some(found);
                break;
            }
        }
    }
    let (ledger, from, hash, _) = match start {
        Some(found) => found,
        None => (Ledger::new(rules_of(&meta)?), 0, meta.genesis, Vec::new()),
    };
    let mut replayer = Replayer::new(economy, ledger, from, hash);
    if seq > from {
        replay_from_store(
            store,
            &mut replayer,
            Some(seq),
            false,
            &mut |_, _| {
                if keep_going() {
                    Ok(())
                } else {
                    Err(JournalError::Unavailable(
                        "stopped: its caller has gone".into(),
                    ))
                }
            },
            &mut |_| {},
        )?;
    }
    Ok(replayer.ledger)
}

/// A snapshot, checked: checksum, economy, decoding and its place on the hash chain.
fn load_snapshot(
    store: &mut dyn Store,
    meta: &EconomyMeta,
    seq: u64,
) -> Result<(Ledger, u64, Hash, Vec<Hash>), String> {
    let bytes = store
        .snapshot(&meta.id, seq)
        .map_err(|e| e.to_string())?
        .ok_or("vanished")?;
    let u = unframe(&meta.id, &bytes)?;
    if u.seq != seq {
        return Err(format!("it says it covers seq {}", u.seq));
    }
    let anchor = if seq == 0 {
        meta.genesis
    } else {
        let entry = store.entry(&meta.id, seq).map_err(|e| e.to_string())?;
        entry.ok_or("the journal has no entry at its seq")?.hash
    };
    if anchor != u.hash {
        return Err("its hash is not the journal's hash at its seq".into());
    }
    let ledger = Ledger::decode(u.payload)?;
    if ledger.seq() != seq {
        return Err(format!(
            "its state holds {} commands, not {seq}",
            ledger.seq()
        ));
    }
    if u.groups.len() as u64 * GROUP > seq {
        return Err(format!(
            "it holds {} Merkle groups, more than its {seq} entries",
            u.groups.len()
        ));
    }
    Ok((ledger, seq, u.hash, u.groups))
}

/// The Merkle tree of the first `upto` entries: the groups a snapshot kept, then the leaves
/// after them, read back.
pub(crate) fn tree_upto(
    store: &mut dyn Store,
    economy: &str,
    groups: &[Hash],
    upto: u64,
) -> Result<Tree, JournalError> {
    let mut tree = Tree::from_groups(groups);
    while tree.size() < upto {
        let want = ((upto - tree.size()) as usize).min(READ_CHUNK_ENTRIES);
        // Settlements met here were signed (or missed) before: none is due again.
        let mut state = TreeState {
            tree: std::mem::take(&mut tree),
            heads_due: Vec::new(),
        };
        let read = store.scan(economy, state.tree.size(), want, &mut |e| {
            state.absorb(e.seq, e.ts_ms, e.command, e.outcome);
            Ok(())
        })?;
        tree = state.tree;
        if read == 0 {
            return Err(JournalError::Corrupt {
                economy: economy.to_string(),
                seq: tree.size() + 1,
                what: "the entry is missing".into(),
            });
        }
    }
    Ok(tree)
}

/// Checks seq and hash links for every entry up to `upto`, ending at `want_hash`, and that the
/// Merkle group roots the snapshot carries are those of the entries as stored: the hash chain
/// does not cover entry times, the tree does, so damage to a time before the snapshot shows
/// here rather than in a proof served later.
fn check_chain(
    store: &mut dyn Store,
    meta: &EconomyMeta,
    upto: u64,
    want_hash: &Hash,
    want_groups: &[Hash],
) -> Result<(), JournalError> {
    let (mut seq, mut hash) = (0u64, meta.genesis);
    let mut tree = Tree::default();
    while seq < upto {
        let mut broken = None;
        let limit = READ_CHUNK_ENTRIES.min((upto - seq) as usize);
        let visited = store.scan(&meta.id, seq, limit, &mut |e| {
            if broken.is_none() {
                match check_link(&meta.id, &e, seq, &hash) {
                    Ok(()) => {
                        (seq, hash) = (e.seq, *e.hash);
                        tree.push(entry_leaf_hash(e.seq, e.ts_ms, e.command, e.outcome));
                    }
                    Err(err) => broken = Some(err),
                }
            }
            Ok(())
        })?;
        if let Some(err) = broken {
            return Err(err);
        }
        if visited == 0 {
            break;
        }
    }
    if seq != upto || &hash != want_hash {
        return Err(JournalError::Corrupt {
            economy: meta.id.clone(),
            seq: upto,
            what: "the chain does not reach the snapshot's hash".into(),
        });
    }
    let have = tree.groups();
    if let Some(g) = (0..want_groups.len()).find(|&g| have.get(g) != Some(&want_groups[g])) {
        return Err(JournalError::Corrupt {
            economy: meta.id.clone(),
            seq: g as u64 * GROUP + 1,
            what: format!(
                "the Merkle root of entries {} to {} differs from the one the snapshot at seq {upto} recorded: an entry (its time, command or outcome) was changed after it was written",
                g as u64 * GROUP + 1,
                (g as u64 + 1) * GROUP
            ),
        });
    }
    Ok(())
}

/// One entry as [`walk`] shows it: the entry, and the economy's totals just before it. The
/// ledger just after it comes beside.
pub struct Step<'a> {
    pub seq: u64,
    pub ts_ms: i64,
    pub command: Option<&'a jifen_core::Command>,
    pub accepted: bool,
    pub before: &'a jifen_core::Totals,
}

/// Replays the entries after `after` up to `upto` from the newest snapshot before them,
/// checked as at start-up: shows `start` the ledger after entry `after`, then each entry to
/// `each` with the totals before it and the ledger after it. For reports (docs/FINANCE.md).
/// `keep_going` is asked after every entry.
pub fn walk(
    store: &mut dyn Store,
    economy: &str,
    (after, upto): (u64, u64),
    keep_going: &dyn Fn() -> bool,
    start: &mut dyn FnMut(&Ledger),
    each: &mut dyn FnMut(&Step, &Ledger),
) -> Result<(), JournalError> {
    let ledger = ledger_at(store, economy, after, keep_going)?;
    start(&ledger);
    let start = ledger;
    let meta = store
        .economy(economy)?
        .ok_or_else(|| JournalError::NoSuchEconomy(economy.to_string()))?;
    let hash = match after {
        0 => meta.genesis,
        seq => store
            .entry(economy, seq)?
            .map(|e| e.hash)
            .ok_or_else(|| JournalError::NoSuchEconomy(economy.to_string()))?,
    };
    let mut before = start.economy().totals();
    let mut replayer = Replayer::new(economy, start, after, hash);
    if upto <= after {
        return Ok(());
    }
    replay_from_store(
        store,
        &mut replayer,
        Some(upto),
        false,
        &mut |r, e| {
            if !keep_going() {
                return Err(JournalError::Unavailable(
                    "stopped: its caller has gone".into(),
                ));
            }
            let step = Step {
                seq: e.seq,
                ts_ms: e.ts_ms,
                command: e.parsed.command.as_ref().ok(),
                accepted: e.outcome == Some(Ok(())),
                before: &before,
            };
            each(&step, &r.ledger);
            before = r.ledger.economy().totals();
            Ok(())
        },
        &mut |_| {},
    )
}

/// The seq of the first entry committed at or after `ms` (the head + 1 when none is): entries'
/// times never decrease along the journal, so a binary search finds it.
pub fn first_seq_at(
    store: &mut dyn Store,
    economy: &str,
    head: u64,
    ms: i64,
) -> Result<u64, JournalError> {
    let (mut lo, mut hi) = (1u64, head + 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let ts = store.entry(economy, mid)?.map_or(i64::MAX, |e| e.ts_ms);
        if ts >= ms {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Ok(lo)
}
