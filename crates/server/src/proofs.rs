//! Transparency (issue 8): signed tree heads over each economy's journal and the inclusion and
//! consistency proofs of RFC 9162, so anyone can check the books without trusting the server.
//!
//! A head is signed after every accepted dividend settlement (the tree signer collects them
//! from the journal's tree, see [`HeadSigner`]) and on demand. Heads are kept in the store's
//! settings, under `tree_heads/<economy>`, keyed by tree size.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use jifen_journal::heads::TreeHead;
use jifen_journal::merkle::{self, entry_leaf_hash, to_hex, Tree, GROUP};
use jifen_journal::{Hash, JournalError};
use serde_json::Value;

use crate::config::Clock;
use crate::economies::{Economies, Economy};
use crate::signing::TreeSigner;
use crate::store::StoreHandle;

/// The settings scope holding an economy's signed heads.
fn heads_scope(economy: &str) -> String {
    format!("tree_heads/{economy}")
}

/// Reads complete groups' leaf hashes back from the journal, each group once per request
/// (a proof and the roots beside it often need the same group).
pub struct GroupReader<'a> {
    store: &'a StoreHandle,
    economy: &'a str,
    read: HashMap<u64, Vec<Hash>>,
}

impl<'a> GroupReader<'a> {
    pub fn new(store: &'a StoreHandle, economy: &'a str) -> Self {
        GroupReader {
            store,
            economy,
            read: HashMap::new(),
        }
    }

    pub fn get(&mut self, group: u64) -> Result<Vec<Hash>, JournalError> {
        if let Some(leaves) = self.read.get(&group) {
            return Ok(leaves.clone());
        }
        let leaves = group_leaves(self.store, self.economy, group)?;
        self.read.insert(group, leaves.clone());
        Ok(leaves)
    }
}

/// The leaf hashes of complete group `group`, read back from the journal.
fn group_leaves(store: &StoreHandle, economy: &str, group: u64) -> Result<Vec<Hash>, JournalError> {
    let entries = store.with(|s| s.entries(economy, group * GROUP, GROUP as usize))?;
    if entries.len() as u64 != GROUP {
        return Err(JournalError::Corrupt {
            economy: economy.to_string(),
            seq: group * GROUP + entries.len() as u64 + 1,
            what: "a Merkle group's entry is missing".into(),
        });
    }
    Ok(entries
        .iter()
        .map(|e| entry_leaf_hash(e.seq, e.ts_ms, &e.command, &e.outcome))
        .collect())
}

/// A copy of the economy's tree (a few bytes per 256 entries) holding at least every entry
/// committed when called, so proofs never hold the lock its feeding thread needs.
pub fn tree_of(economy: &Economy) -> Result<Tree, JournalError> {
    let committed = economy.journal.committed_seq();
    // The tree's thread hashes committed blocks just after their commit: wait for it briefly.
    for _ in 0..400 {
        let state = merkle::lock(economy.journal.tree());
        if state.tree.size() >= committed {
            return Ok(state.tree.clone());
        }
        drop(state);
        std::thread::sleep(Duration::from_millis(5));
    }
    Err(JournalError::Unavailable(
        "the Merkle tree is still catching up with the journal; retry".into(),
    ))
}

/// The economy's tree once its thread has built it at start-up (it may take a while on a long
/// journal): a copy holding every entry committed when called.
pub fn tree_when_built(economy: &Economy) -> Result<Tree, JournalError> {
    for _ in 0..150 {
        match tree_of(economy) {
            Err(JournalError::Unavailable(_)) => {}
            done => return done,
        }
    }
    tree_of(economy)
}

/// The inclusion proof of entry `seq` in the tree of `size` entries.
pub fn inclusion_proof(
    store: &StoreHandle,
    economy: &Economy,
    seq: u64,
    size: u64,
) -> Result<Vec<Hash>, JournalError> {
    let tree = tree_of(economy)?;
    let mut groups = GroupReader::new(store, &economy.meta.id);
    tree.inclusion_proof(seq - 1, size, &mut |g| groups.get(g))
}

/// Signs and stores the head of the first `size` entries.
pub fn sign_head(
    store: &StoreHandle,
    signer: &TreeSigner,
    economy: &Economy,
    size: u64,
    now_ms: i64,
) -> Result<TreeHead, JournalError> {
    let id = &economy.meta.id;
    let tree = tree_of(economy)?;
    let root = tree.root_at(size, &mut |g| group_leaves(store, id, g))?;
    let head = TreeHead::sign(id, size, root, now_ms, &signer.key);
    let text = head.to_json(&signer.public()).to_string();
    store.with(|s| s.kv_put(&heads_scope(id), &format!("{size:020}"), &text))?;
    Ok(head)
}

/// Every stored head of an economy, oldest first.
pub fn stored_heads(store: &StoreHandle, economy: &str) -> Result<Vec<Value>, JournalError> {
    let rows = store.with(|s| s.kv_list(&heads_scope(economy)))?;
    Ok(rows
        .into_iter()
        .filter_map(|(_, text)| serde_json::from_str(&text).ok())
        .collect())
}

pub fn size_of(head: &Value) -> u64 {
    head["tree_size"].as_u64().unwrap_or(0)
}

/// The stored head of the largest tree, if any.
pub fn latest_stored_head(
    store: &StoreHandle,
    economy: &str,
) -> Result<Option<Value>, JournalError> {
    Ok(stored_heads(store, economy)?
        .into_iter()
        .max_by_key(size_of))
}

/// What the tree signer needs: the economies, the store, the key and the time.
pub struct HeadSigner {
    pub economies: Arc<Economies>,
    pub store: Arc<StoreHandle>,
    pub signer: Arc<TreeSigner>,
    pub clock: Clock,
}

impl HeadSigner {
    /// Signs a head for every settlement committed since the last call, in every economy.
    pub fn sign_due(&self) {
        for economy in self.economies.all() {
            let due = std::mem::take(&mut merkle::lock(economy.journal.tree()).heads_due);
            // One head at the latest settlement covers the ones before it.
            let Some(&size) = due.last() else { continue };
            match sign_head(&self.store, &self.signer, &economy, size, (self.clock)()) {
                Ok(head) => {
                    tracing::info!(economy = %economy.meta.id, tree_size = head.tree_size, root = %to_hex(&head.root), "tree head signed after a settlement")
                }
                Err(e) => {
                    // Tried again at the next pass.
                    merkle::lock(economy.journal.tree()).heads_due.push(size);
                    tracing::error!(economy = %economy.meta.id, "a tree head could not be signed: {e}")
                }
            }
        }
    }

    /// The tree signer's thread: runs until `stop` receives or closes.
    pub fn run(self, every: Duration, stop: Receiver<()>) {
        loop {
            self.sign_due();
            match stop.recv_timeout(every) {
                Err(RecvTimeoutError::Timeout) => {}
                _ => return,
            }
        }
    }
}
