//! `jifen verify`: re-derive an economy from empty and check everything.

use jifen_core::Ledger;

use crate::entry::Hash;
use crate::frame::unframe;
use crate::heads::{public_key_from_hex, TreeHead, TREE_KEYS_SCOPE};
use crate::merkle::{entry_leaf_hash, to_hex, Tree, GROUP};
use crate::replayer::{replay_from_store, Replayer};
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
    /// Signed tree heads whose root was recomputed and signature checked.
    pub tree_heads_checked: u64,
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
    // Snapshots are few; they are read up front so the replay can compare them as it passes.
    let mut seqs = store.snapshot_seqs(economy)?;
    seqs.sort_unstable();
    let mut snapshots = SnapshotCursor::default();
    for seq in seqs {
        snapshots
            .stored
            .push((seq, store.snapshot(economy, seq)?.unwrap_or_default()));
    }
    let mut replayer = Replayer::new(economy, Ledger::new(rules_of(&meta)?), 0, meta.genesis);
    replayer.ledger.reserve_ids(total as usize);
    replayer.tree = Some(Tree::default());
    snapshots.check(&replayer);
    let replayed = replay_from_store(
        store,
        &mut replayer,
        None,
        false,
        &mut |r, _| {
            snapshots.check(r);
            Ok(())
        },
        &mut |seq| progress(seq, total),
    );
    report.snapshots_checked = snapshots.checked;
    report.problems.append(&mut snapshots.problems);
    report.entries = replayer.seq;
    if let Err(err) = replayed {
        report.problems.push(err.to_string());
        return Ok(report);
    }
    for (seq, _) in &snapshots.stored[snapshots.next..] {
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
    if let Some(tree) = &replayer.tree {
        check_tree_heads(store, economy, tree, &mut report)?;
    }
    report.head_hash = Some(replayer.hash);
    report.applied = replayer.ledger.applied();
    report.rejected = replayer.ledger.rejected();
    Ok(report)
}

/// The stored snapshots in seq order, the next one to compare, and what comparing found.
#[derive(Default)]
struct SnapshotCursor {
    stored: Vec<(u64, Vec<u8>)>,
    next: usize,
    checked: u64,
    problems: Vec<String>,
}

impl SnapshotCursor {
    /// Compares every snapshot at the replayer's seq with the re-derived state.
    fn check(&mut self, replayer: &Replayer) {
        while self.next < self.stored.len() && self.stored[self.next].0 <= replayer.seq {
            let (seq, bytes) = &self.stored[self.next];
            self.next += 1;
            self.checked += 1;
            if let Err(why) = compare_snapshot(bytes, replayer) {
                self.problems.push(format!("snapshot at seq {seq}: {why}"));
            }
        }
    }
}

fn compare_snapshot(bytes: &[u8], replayer: &Replayer) -> Result<(), String> {
    let u = unframe(&replayer.economy, bytes)?;
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
    if let Some(tree) = &replayer.tree {
        if u.groups != tree.groups()[..u.groups.len().min(tree.groups().len())]
            || u.groups.len() as u64 > replayer.seq / GROUP
        {
            return Err("its Merkle group roots differ from the journal's".into());
        }
    }
    Ok(())
}

/// Every signed tree head the server stored (settings scope `tree_heads/<economy>`) must have
/// the root of the re-derived tree at its size, and a valid signature by a key the server
/// recorded (scope `tree_keys`).
fn check_tree_heads(
    store: &mut dyn Store,
    economy: &str,
    tree: &Tree,
    report: &mut VerifyReport,
) -> Result<(), JournalError> {
    let (checked, problems) = check_signed_heads(store, economy, tree)?;
    report.tree_heads_checked += checked;
    report.problems.extend(problems);
    Ok(())
}

/// Checks the economy's stored signed tree heads against `tree` (the journal's Merkle tree, as
/// far as it goes): each must be readable, no larger than the tree, carry the tree's root at
/// its size (a changed entry time shows here, where the hash chain cannot see it), and be
/// signed by a recorded key. Returns how many were checked and what is wrong.
pub fn check_signed_heads(
    store: &mut dyn Store,
    economy: &str,
    tree: &Tree,
) -> Result<(u64, Vec<String>), JournalError> {
    let keys: Vec<_> = store
        .kv_list(TREE_KEYS_SCOPE)?
        .into_iter()
        .filter_map(|(id, hex)| public_key_from_hex(&hex).ok().map(|k| (id, k)))
        .collect();
    let (mut checked, mut problems) = (0, Vec::new());
    for (size, text) in store.kv_list(&format!("tree_heads/{economy}"))? {
        checked += 1;
        let head = match serde_json::from_str(&text)
            .map_err(|e| e.to_string())
            .and_then(|v| TreeHead::from_json(&v))
        {
            Ok(h) => h,
            Err(why) => {
                problems.push(format!("tree head {size}: unreadable: {why}"));
                continue;
            }
        };
        if head.tree_size > tree.size() {
            problems.push(format!(
                "tree head of {} entries: the journal has only {}",
                head.tree_size,
                tree.size()
            ));
            continue;
        }
        let root = tree.root_at(head.tree_size, &mut |g| {
            let entries = store.entries(economy, g * GROUP, GROUP as usize)?;
            Ok::<_, JournalError>(
                entries
                    .iter()
                    .map(|e| entry_leaf_hash(e.seq, e.ts_ms, &e.command, &e.outcome))
                    .collect(),
            )
        })?;
        if root != head.root {
            problems.push(format!(
                "tree head of {} entries: its signed root {} is not the root {} of the journal: an entry was changed after it was signed",
                head.tree_size,
                to_hex(&head.root),
                to_hex(&root)
            ));
        }
        if !keys.iter().any(|(_, k)| head.verify(k)) {
            problems.push(format!(
                "tree head of {} entries: its signature does not verify with any recorded key",
                head.tree_size
            ));
        }
    }
    Ok((checked, problems))
}
