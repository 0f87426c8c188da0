//! The exit index: consumers holding points, ordered by trigger price.
//!
//! A consumer's trigger is the exact fraction `quota_fen / atoms`: it exits once the price
//! `reserve / circulating` reaches it (SPEC §9), and settlement serves holders in the same order
//! (SPEC §8). Ties go by account name, in byte order.
//!
//! The index is a binary min-heap with lazy deletion. Each account carries a `version`; a
//! change to its atoms or quota bumps the version and pushes a fresh entry, which leaves the old
//! one stale. Stale entries are dropped when they reach the top, and the heap is compacted when
//! they pass half the live ones, so its size stays below 1.5 times the number of holders. A push costs
//! O(1) on average and O(log n) at worst, and finding the first consumer to exit is O(log n)
//! amortised: the exit rule never scans accounts. The heap is hand-written because its order
//! needs the account names, which live outside the entries.

use core::cmp::Ordering;

use crate::account::{Account, AccountId};
use crate::economy::{prefetch, PREFETCH_AHEAD};
use crate::units::cmp_fraction;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Entry {
    pub quota_fen: u64,
    pub atoms: u64,
    pub account: AccountId,
    pub version: u32,
}

/// Entries beyond this many stale ones are always worth compacting.
const STALE_ENTRIES_SLACK: usize = 1024;

#[derive(Clone, Default)]
pub(crate) struct ExitIndex {
    heap: Vec<Entry>,
}

/// Orders entries by trigger price, then name. Both entries have positive atoms.
#[inline]
pub(crate) fn cmp_entries(a: &Entry, b: &Entry, accounts: &[Account]) -> Ordering {
    cmp_fraction(a.quota_fen, a.atoms, b.quota_fen, b.atoms).then_with(|| {
        let name_a = accounts[a.account as usize].name.as_bytes();
        let name_b = accounts[b.account as usize].name.as_bytes();
        name_a.cmp(name_b)
    })
}

#[inline]
fn is_live(e: &Entry, accounts: &[Account]) -> bool {
    let a = &accounts[e.account as usize];
    a.indexed && a.version == e.version
}

impl ExitIndex {
    /// Total entries held, live and stale.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn push(&mut self, entry: Entry, accounts: &[Account]) {
        self.heap.push(entry);
        self.sift_up(self.heap.len() - 1, accounts);
    }

    /// The top entry and whether it is live. After the exit rule has run, the top is live (or
    /// the index is empty), so this is the lowest trigger price in O(1).
    pub fn top(&self, accounts: &[Account]) -> Option<(Entry, bool)> {
        self.heap.first().map(|e| (*e, is_live(e, accounts)))
    }

    /// The live entry with the lowest trigger price, dropping stale entries above it.
    pub fn first_live(&mut self, accounts: &[Account]) -> Option<Entry> {
        while let Some(top) = self.heap.first().copied() {
            if is_live(&top, accounts) {
                return Some(top);
            }
            self.pop(accounts);
        }
        None
    }

    /// Removes the top entry.
    pub fn pop(&mut self, accounts: &[Account]) {
        let Some(last) = self.heap.pop() else { return };
        if !self.heap.is_empty() {
            self.heap[0] = last;
            self.sift_down(0, accounts);
        }
    }

    /// Empties the index, returning its live entries (in no particular order).
    pub fn take_live(&mut self, accounts: &[Account]) -> Vec<Entry> {
        let mut entries = std::mem::take(&mut self.heap);
        let mut kept = 0;
        for i in 0..entries.len() {
            if let Some(ahead) = entries.get(i + PREFETCH_AHEAD) {
                prefetch(accounts, ahead.account);
            }
            if is_live(&entries[i], accounts) {
                entries[kept] = entries[i];
                kept += 1;
            }
        }
        entries.truncate(kept);
        entries
    }

    /// Replaces the contents with `entries`, which must all be live, in O(n).
    pub fn replace(&mut self, entries: Vec<Entry>, accounts: &[Account]) {
        self.heap = entries;
        self.heapify(accounts);
    }

    /// Drops stale entries when they dominate. `live` is the number of indexed accounts.
    pub fn maybe_compact(&mut self, live: usize, accounts: &[Account]) {
        if self.heap.len() > live + live / 2 + STALE_ENTRIES_SLACK {
            self.rebuild(Vec::new(), accounts);
        }
    }

    /// Keeps the live entries, adds `fresh` ones and restores the heap in O(n).
    pub fn rebuild(&mut self, fresh: Vec<Entry>, accounts: &[Account]) {
        self.heap.retain(|e| is_live(e, accounts));
        self.heap.extend(fresh);
        self.heapify(accounts);
    }

    fn heapify(&mut self, accounts: &[Account]) {
        for i in (0..self.heap.len() / 2).rev() {
            self.sift_down(i, accounts);
        }
    }

    fn sift_up(&mut self, mut i: usize, accounts: &[Account]) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if cmp_entries(&self.heap[i], &self.heap[parent], accounts) != Ordering::Less {
                break;
            }
            self.heap.swap(i, parent);
            i = parent;
        }
    }

    fn sift_down(&mut self, mut i: usize, accounts: &[Account]) {
        let n = self.heap.len();
        loop {
            let left = 2 * i + 1;
            if left >= n {
                break;
            }
            let right = left + 1;
            let mut least = left;
            if right < n && cmp_entries(&self.heap[right], &self.heap[left], accounts).is_lt() {
                least = right;
            }
            if cmp_entries(&self.heap[least], &self.heap[i], accounts).is_lt() {
                self.heap.swap(i, least);
                i = least;
            } else {
                break;
            }
        }
    }
}
