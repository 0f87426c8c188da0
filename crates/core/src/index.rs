//! The exit index: consumers holding points, ordered by trigger price.
//!
//! A consumer's trigger is the exact fraction `quota_fen / atoms`: it exits once the price
//! `reserve / circulating` reaches it (SPEC §9), and settlement serves holders in the same order
//! (SPEC §8). Ties go by account name, in byte order.
//!
//! The index has two parts, both with lazy deletion. Each account carries a `version`; a change
//! to its atoms or quota bumps the version, records the account as *touched* and pushes a fresh
//! entry, which leaves the old one stale.
//!
//! - `sorted` holds every holder in trigger order as of the last settlement (or consolidation),
//!   with a cursor past the entries the exit rule has taken from its front.
//! - `fresh` is a binary min-heap of the entries pushed since then.
//!
//! The lowest trigger is the lower of the two fronts, so the exit rule never scans accounts and
//! each exit costs O(log n). Settlement needs every holder in order: it *consolidates*, dropping
//! the touched accounts' old entries from `sorted` (a bitset says which, so this pass reads no
//! account), sorting the touched accounts' current entries (a day's changes, not the whole
//! index) and merging the two in one pass. After paying, every holder's trigger has moved down
//! by almost the same amount (its share of the pool per atom), so the order is nearly kept:
//! `Resorter` restores it by insertion as the holders are paid, with a full sort as the fallback
//! when too much has moved. A day therefore costs O(n + k log k) for n holders and k changes,
//! instead of a sort of n.

use core::cmp::Ordering;

use crate::account::prefetch;
use crate::account::{Account, AccountId};
use crate::prefetch::{prefetch_bytes, PREFETCH_AHEAD};
use crate::units::{cmp_fraction, div_wide};

#[derive(Clone, Copy, Debug)]
pub(crate) struct Entry {
    pub quota_fen: u64,
    pub atoms: u64,
    pub account: AccountId,
    pub version: u32,
}

impl Entry {
    pub fn new(quota_fen: u64, atoms: u64, account: AccountId, version: u32) -> Entry {
        Entry {
            quota_fen,
            atoms,
            account,
            version,
        }
    }
}

/// The offsets from its start that a gallop compares after its first few (which share a cache
/// line or two with the start): see `consolidate`.
const GALLOP_PREFETCH: [usize; 5] = [7, 15, 31, 63, 127];

/// Entries beyond this many stale ones are always worth consolidating.
const STALE_ENTRIES_SLACK: usize = 1024;

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

/// An account's word and bit in the consolidation marks.
#[inline]
fn mark_bit(id: AccountId) -> (usize, u64) {
    (id as usize / 64, 1u64 << (id % 64))
}

/// `v` emptied, keeping its buffer unless it holds room for more than `keep` elements.
fn emptied<T>(mut v: Vec<T>, keep: usize) -> Vec<T> {
    if v.capacity() > keep {
        return Vec::new();
    }
    v.clear();
    v
}

#[derive(Clone, Default)]
pub(crate) struct ExitIndex {
    /// In trigger order from `head` on; entries before `head` were taken by the exit rule.
    sorted: Vec<Entry>,
    head: usize,
    /// A min-heap of the entries pushed since the last consolidation.
    fresh: Vec<Entry>,
    /// Accounts whose entry changed or went away since the last consolidation (repeats
    /// allowed).
    touched: Vec<AccountId>,
    /// One bit per account, set only during a consolidation.
    marks: Vec<u64>,
    /// A buffer the size of `sorted`, kept to build the next order in.
    spare: Vec<Entry>,
    /// The same for `Resorter::keys`.
    spare_keys: Vec<u64>,
}

impl ExitIndex {
    /// Bytes held on the heap, by part: the sorted entries, the fresh heap, the touched
    /// accounts and the buffers kept for consolidation.
    pub fn heap_bytes(&self) -> [(&'static str, usize); 4] {
        let entries = |v: &Vec<Entry>| v.capacity() * size_of::<Entry>();
        [
            ("exit index, sorted", entries(&self.sorted)),
            ("exit index, fresh", entries(&self.fresh)),
            (
                "exit index, touched",
                self.touched.capacity() * size_of::<AccountId>(),
            ),
            (
                "exit index, buffers",
                entries(&self.spare) + (self.spare_keys.capacity() + self.marks.capacity()) * 8,
            ),
        ]
    }

    /// Total entries held, live and stale.
    pub fn len(&self) -> usize {
        self.sorted.len() - self.head + self.fresh.len()
    }

    /// Records that `account`'s entry changed, and its new entry if it still holds points.
    pub fn push(&mut self, account: AccountId, entry: Option<Entry>, accounts: &[Account]) {
        self.touched.push(account);
        if let Some(entry) = entry {
            self.fresh.push(entry);
            self.sift_up(self.fresh.len() - 1, accounts);
        }
    }

    /// The lower of the two fronts, and whether it is live. After the exit rule has run, both
    /// fronts are live (or empty), so this is the lowest trigger price in O(1).
    pub fn top(&self, accounts: &[Account]) -> Option<(Entry, bool)> {
        let first = match (self.sorted.get(self.head), self.fresh.first()) {
            (Some(s), Some(f)) => {
                if cmp_entries(f, s, accounts).is_lt() {
                    f
                } else {
                    s
                }
            }
            (Some(s), None) => s,
            (None, Some(f)) => f,
            (None, None) => return None,
        };
        Some((*first, is_live(first, accounts)))
    }

    /// The live entry with the lowest trigger price, dropping stale entries at both fronts.
    pub fn first_live(&mut self, accounts: &[Account]) -> Option<Entry> {
        while let Some(s) = self.sorted.get(self.head) {
            if is_live(s, accounts) {
                break;
            }
            self.head += 1;
        }
        while let Some(f) = self.fresh.first() {
            if is_live(f, accounts) {
                break;
            }
            self.pop_fresh(accounts);
        }
        self.top(accounts).map(|(e, _)| e)
    }

    /// Removes the entry `top` returns.
    pub fn pop(&mut self, accounts: &[Account]) {
        let from_fresh = match (self.sorted.get(self.head), self.fresh.first()) {
            (Some(s), Some(f)) => cmp_entries(f, s, accounts).is_lt(),
            (Some(_), None) => false,
            (None, _) => true,
        };
        if from_fresh {
            self.pop_fresh(accounts);
        } else {
            self.head += 1;
        }
    }

    fn pop_fresh(&mut self, accounts: &[Account]) {
        let Some(last) = self.fresh.pop() else { return };
        if !self.fresh.is_empty() {
            self.fresh[0] = last;
            self.sift_down(0, accounts);
        }
    }

    /// Every live entry, in order, leaving the index empty until `put_back`. O(n + k log k)
    /// for n entries and k touched accounts.
    pub fn take_sorted(&mut self, accounts: &[Account]) -> Vec<Entry> {
        self.consolidate(accounts);
        self.head = 0;
        std::mem::take(&mut self.sorted)
    }

    /// Starts collecting the entries of a settlement, after `take_sorted`, in their order
    /// before paying: see `Resorter`.
    ///
    /// `highest` is an entry whose trigger is at least that of every entry to be pushed.
    pub fn resorter(&mut self, len: usize, highest: Option<&Entry>) -> Resorter {
        let mut out = std::mem::take(&mut self.spare);
        out.clear();
        out.reserve(len);
        let mut keys = std::mem::take(&mut self.spare_keys);
        keys.clear();
        keys.reserve(len);
        Resorter {
            out,
            keys,
            // The largest shift that keeps every key below 2^64: the highest trigger, rounded
            // up, times 2^shift stays below it.
            shift: highest.map_or(0, |e| e.quota_fen.div_ceil(e.atoms).max(1).leading_zeros()),
            zeros: 0,
            capped: Vec::new(),
            moves: 0,
            budget: len.saturating_mul(MOVES_PER_ENTRY) + STALE_ENTRIES_SLACK,
            ties: false,
        }
    }

    /// Ends a settlement: `resorter` holds every entry `taken` held, with their new quotas.
    pub fn put_back(&mut self, taken: Vec<Entry>, resorter: Resorter, accounts: &[Account]) {
        debug_assert!(self.fresh.is_empty() && self.touched.is_empty());
        let (sorted, keys) = resorter.finish(accounts);
        self.sorted = sorted;
        self.spare_keys = keys;
        self.head = 0;
        self.spare = taken;
    }

    /// Replaces the contents with `entries`, which must all be live, in any order.
    pub fn replace(&mut self, mut entries: Vec<Entry>, accounts: &[Account]) {
        entries.sort_unstable_by(|a, b| cmp_entries(a, b, accounts));
        self.sorted = entries;
        self.head = 0;
        self.fresh.clear();
        self.touched.clear();
    }

    /// Consolidates when stale entries dominate. `live` is the number of indexed accounts.
    pub fn maybe_compact(&mut self, live: usize, accounts: &[Account]) {
        if self.len() > live + live / 2 + STALE_ENTRIES_SLACK
            || self.touched.len() > live + STALE_ENTRIES_SLACK
        {
            self.consolidate(accounts);
        }
    }

    /// Folds the touched accounts into `sorted`: their old entries out, their current ones
    /// in, in order, in one pass. Afterwards `fresh` and `touched` are empty and every entry
    /// is live.
    fn consolidate(&mut self, accounts: &[Account]) {
        let words = accounts.len().div_ceil(64);
        if self.marks.len() < words {
            self.marks.resize(words, 0);
        }
        let mut changed = std::mem::take(&mut self.fresh);
        let unique = self.mark_touched(accounts, &mut changed);
        changed.sort_unstable_by(|a, b| cmp_entries(a, b, accounts));

        // With nothing left in `sorted` (the first consolidation, or every holder changed),
        // the sorted changes are the new order as they stand: no merge and no second buffer.
        let (out, changed) = if self.sorted.len() == self.head {
            (changed, Vec::new())
        } else {
            (self.merge(&changed, accounts), changed)
        };
        for &id in &self.touched[..unique] {
            let (word, _) = mark_bit(id);
            self.marks[word] = 0;
        }
        self.spare = std::mem::replace(&mut self.sorted, out);
        self.head = 0;
        // The buffers for changes are kept for the next day's, unless they outgrew a quarter
        // of the index (a burst of new holders): then their memory goes back.
        let keep = self.sorted.len() / 4 + STALE_ENTRIES_SLACK;
        self.fresh = emptied(changed, keep);
        self.touched = emptied(std::mem::take(&mut self.touched), keep);
    }

    /// The untouched entries of `sorted` (live and still in order) merged with the sorted
    /// `changed` ones, in the spare buffer.
    fn merge(&mut self, changed: &[Entry], accounts: &[Account]) -> Vec<Entry> {
        let mut out = std::mem::take(&mut self.spare);
        out.clear();
        out.reserve(self.sorted.len() - self.head + changed.len());
        let old = &self.sorted[self.head..];
        let marks = &self.marks;
        let keep = |run: &[Entry], out: &mut Vec<Entry>| {
            out.extend(run.iter().filter(|e| {
                let (word, mask) = mark_bit(e.account);
                marks[word] & mask == 0
            }));
        };
        // Each changed entry goes before the first old one above it. The old entries are in
        // order (stale ones too: an entry never changes, it is only superseded), so that place
        // is found by galloping from the last one, and the old entries up to it are copied
        // as a run: a day's few changes cost O(k log(n/k)) comparisons, not one per holder.
        let mut from = 0;
        for c in changed {
            let above = |e: &Entry| cmp_entries(c, e, accounts).is_lt();
            let mut step = 1;
            let mut low = from;
            while low + step <= old.len() && !above(&old[low + step - 1]) {
                low += step;
                step *= 2;
            }
            let high = (low + step).min(old.len() + 1) - 1;
            let to = low + old[low..high].partition_point(|e| !above(e));
            // The next change gallops from `to`: start loading the entries it will compare
            // first, while this run is copied.
            for ahead in GALLOP_PREFETCH {
                if let Some(e) = old.get(to + ahead) {
                    prefetch_bytes(e, core::mem::size_of::<Entry>());
                }
            }
            keep(&old[from..to], &mut out);
            out.push(*c);
            from = to;
        }
        keep(&old[from..], &mut out);
        out
    }

    /// Each touched account once, as it is now; its mark, set on the way, also says which old
    /// entries a consolidation drops. The unique ids are packed at the front of `touched` (their
    /// count is returned), and the current entries of those still indexed are put in `changed`,
    /// which is `fresh`'s buffer and so has room for them (every account indexed now pushed a
    /// fresh entry when it was last touched): consolidating a million new holders then needs no
    /// second copy of them.
    fn mark_touched(&mut self, accounts: &[Account], changed: &mut Vec<Entry>) -> usize {
        let mut unique = 0;
        changed.clear();
        for i in 0..self.touched.len() {
            if let Some(&ahead) = self.touched.get(i + PREFETCH_AHEAD) {
                prefetch(accounts, ahead);
            }
            let id = self.touched[i];
            let (word, mask) = mark_bit(id);
            if self.marks[word] & mask != 0 {
                continue;
            }
            self.marks[word] |= mask;
            self.touched[unique] = id;
            unique += 1;
            let a = &accounts[id as usize];
            if a.indexed {
                changed.push(Entry::new(a.quota_fen, a.atoms, id, a.version));
            }
        }
        unique
    }

    fn sift_up(&mut self, mut i: usize, accounts: &[Account]) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if cmp_entries(&self.fresh[i], &self.fresh[parent], accounts) != Ordering::Less {
                break;
            }
            self.fresh.swap(i, parent);
            i = parent;
        }
    }

    fn sift_down(&mut self, mut i: usize, accounts: &[Account]) {
        let n = self.fresh.len();
        loop {
            let left = 2 * i + 1;
            if left >= n {
                break;
            }
            let right = left + 1;
            let mut least = left;
            if right < n && cmp_entries(&self.fresh[right], &self.fresh[left], accounts).is_lt() {
                least = right;
            }
            if cmp_entries(&self.fresh[least], &self.fresh[i], accounts).is_lt() {
                self.fresh.swap(i, least);
                i = least;
            } else {
                break;
            }
        }
    }
}

/// Moves the insertion in `Resorter` may make per entry, on average, before it gives up
/// and sorts. A year of daily settlements of a million holders needs about 5.
const MOVES_PER_ENTRY: usize = 16;

/// Puts a settlement's entries back in order as they are paid.
///
/// Paying lowers each trigger by nearly the same amount, the holder's share of the pool per
/// atom; only the rounding down of each share, less than one fen over the holder's atoms, moves
/// holders past their close neighbours. So each entry is inserted from the back of the output,
/// usually moving a few places; the settlement loop waits on memory for each holder's account
/// anyway, so this costs almost nothing. Entries whose quota reached zero are capped holders:
/// they belong at the front, with those that already had none, in name order. If the moves
/// pass a budget of a few per entry, the rest is appended and sorted at the end, so the worst
/// case stays O(n log n).
pub(crate) struct Resorter {
    out: Vec<Entry>,
    /// `trigger << shift`, rounded down, for each entry of `out` from `zeros` on (those at
    /// the front have none): see `key`.
    keys: Vec<u64>,
    shift: u32,
    /// How many entries at the front of `out` have no quota.
    zeros: usize,
    capped: Vec<Entry>,
    moves: usize,
    budget: usize,
    /// Whether an entry was placed beside one with an equal trigger.
    ties: bool,
}

impl Resorter {
    /// Adds the next of the entries that had no quota, which come first, in order.
    pub fn push_unpaid(&mut self, e: Entry) {
        debug_assert!(e.quota_fen == 0 && self.zeros == self.out.len());
        self.out.push(e);
        self.zeros += 1;
    }

    /// An integer that orders like the trigger `quota / atoms`, or ties: `⌊quota × 2^shift /
    /// atoms⌋`, with `shift` chosen so that every key fits in 64 bits. Rounding down keeps
    /// the order, so different keys order their entries exactly as their triggers, and only
    /// equal keys need the exact comparison of fractions. Neighbours in a settlement almost
    /// always differ by many units, so each comparison is one integer compare instead of two
    /// 128-bit products.
    #[inline]
    fn key(&self, e: &Entry) -> u64 {
        div_wide((e.quota_fen as u128) << self.shift, e.atoms)
            .expect("a settlement entry above the highest trigger")
    }

    /// Adds the next of the other entries in the old order, with its new quota. It is placed
    /// by trigger alone, after any equal one: `finish` orders runs of equal triggers by name.
    #[inline]
    pub fn push_by_trigger(&mut self, e: Entry) {
        if e.quota_fen == 0 {
            self.capped.push(e);
            return;
        }
        let key = self.key(&e);
        self.out.push(e);
        self.keys.push(key);
        if self.moves > self.budget {
            return;
        }
        // `keys[i]` belongs to `out[zeros + i]`. Local slices let the loop keep its pointers
        // in registers.
        let keys = &mut self.keys[..];
        let out = &mut self.out[self.zeros..];
        let last = keys.len() - 1;
        let mut j = last;
        let mut before = Ordering::Less;
        while j > 0 {
            let ahead = keys[j - 1];
            before = if ahead != key {
                ahead.cmp(&key)
            } else {
                let other = &out[j - 1];
                cmp_fraction(other.quota_fen, other.atoms, e.quota_fen, e.atoms)
            };
            if before != Ordering::Greater {
                break;
            }
            keys[j] = ahead;
            out[j] = out[j - 1];
            j -= 1;
        }
        keys[j] = key;
        out[j] = e;
        self.moves += last - j;
        self.ties |= before == Ordering::Equal;
    }

    /// The entries in order, and the key buffer for reuse.
    fn finish(mut self, accounts: &[Account]) -> (Vec<Entry>, Vec<u64>) {
        if self.moves > self.budget {
            self.out[self.zeros..].sort_unstable_by(|a, b| cmp_entries(a, b, accounts));
        } else if self.ties {
            // Runs of equal triggers, in name order. Equal triggers have equal keys, so the
            // fractions are compared only where the keys are equal.
            let (rest, keys) = (&mut self.out[self.zeros..], &self.keys);
            let mut start = 0;
            while start < rest.len() {
                let first = rest[start];
                let mut end = start + 1;
                while end < rest.len()
                    && keys[end] == keys[start]
                    && cmp_fraction(
                        rest[end].quota_fen,
                        rest[end].atoms,
                        first.quota_fen,
                        first.atoms,
                    )
                    .is_eq()
                {
                    end += 1;
                }
                if end - start > 1 {
                    rest[start..end].sort_unstable_by(|a, b| cmp_entries(a, b, accounts));
                }
                start = end;
            }
        }
        let keys = std::mem::take(&mut self.keys);
        (self.order(accounts), keys)
    }

    /// Puts the capped entries with the others that have no quota.
    fn order(mut self, accounts: &[Account]) -> Vec<Entry> {
        if self.capped.is_empty() {
            return self.out;
        }
        self.capped
            .sort_unstable_by(|a, b| cmp_entries(a, b, accounts));
        let mut all = Vec::with_capacity(self.out.len() + self.capped.len());
        let mut capped = self.capped.iter().peekable();
        for e in &self.out[..self.zeros] {
            while let Some(c) = capped.next_if(|c| cmp_entries(c, e, accounts).is_lt()) {
                all.push(*c);
            }
            all.push(*e);
        }
        all.extend(capped);
        all.extend_from_slice(&self.out[self.zeros..]);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::{Kind, NO_REFERRER};

    /// xorshift64*: enough randomness for a test, and reproducible.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn accounts(n: usize, rng: &mut Rng) -> Vec<Account> {
        // Short names from a small alphabet, so that names decide many ties.
        (0..n)
            .map(|i| {
                let name = format!("{}{i}", ["a", "b", "c"][rng.below(3) as usize]);
                Account::new(name.into(), Kind::Consumer, NO_REFERRER)
            })
            .collect()
    }

    /// A holding whose trigger is close to (or exactly) one of a few values.
    fn holding(rng: &mut Rng) -> (u64, u64) {
        let base = [3u64, 7, 11][rng.below(3) as usize];
        let atoms = 1_000 + rng.below(4) * 500;
        let quota = base * atoms + rng.below(3);
        (if rng.below(10) == 0 { 0 } else { quota }, atoms)
    }

    fn sorted(mut v: Vec<Entry>, accounts: &[Account]) -> Vec<(u64, u64, AccountId)> {
        v.sort_by(|a, b| cmp_entries(a, b, accounts));
        v.iter()
            .map(|e| (e.quota_fen, e.atoms, e.account))
            .collect()
    }

    fn plain(v: &[Entry]) -> Vec<(u64, u64, AccountId)> {
        v.iter()
            .map(|e| (e.quota_fen, e.atoms, e.account))
            .collect()
    }

    #[test]
    fn resorting_after_a_settlement_matches_a_full_sort() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..300 {
            let n = 1 + rng.below(200) as usize;
            let accounts = accounts(n, &mut rng);
            let mut before: Vec<Entry> = (0..n as AccountId)
                .map(|id| {
                    let (quota, atoms) = holding(&mut rng);
                    Entry::new(quota, atoms, id, 0)
                })
                .collect();
            before.sort_by(|a, b| cmp_entries(a, b, &accounts));
            let mut index = ExitIndex::default();
            // Some rounds with no room for moves, to take the fallback.
            let mut resorter = index.resorter(n, before.last());
            if round % 3 == 0 {
                resorter.budget = rng.below(4) as usize;
            }
            let split = before.partition_point(|e| e.quota_fen == 0);
            let mut after = before.clone();
            for (i, e) in after.iter_mut().enumerate() {
                if i < split {
                    resorter.push_unpaid(*e);
                    continue;
                }
                // A share of about 2 fen per atom, rounded down; some holders capped.
                let share = (2 * e.atoms + rng.below(e.atoms)) / 1_000;
                e.quota_fen -= share.min(e.quota_fen);
                if rng.below(20) == 0 {
                    e.quota_fen = 0;
                }
                resorter.push_by_trigger(*e);
            }
            let (got, _) = resorter.finish(&accounts);
            assert_eq!(plain(&got), sorted(after, &accounts), "round {round}");
        }
    }

    #[test]
    fn the_index_agrees_with_a_plain_list() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for round in 0..60 {
            let n = 1 + rng.below(120) as usize;
            let mut accounts = accounts(n, &mut rng);
            let mut index = ExitIndex::default();
            let mut live = 0usize;
            for step in 0..400 {
                let id = rng.below(n as u64) as AccountId;
                match rng.below(10) {
                    // A change to a holding, or its end, as `Economy::reindex` records it.
                    0..=5 => {
                        let (quota, atoms) = holding(&mut rng);
                        let atoms = if rng.below(6) == 0 { 0 } else { atoms };
                        let a = &mut accounts[id as usize];
                        live -= usize::from(a.indexed);
                        a.quota_fen = quota;
                        a.atoms = atoms;
                        a.version = a.version.wrapping_add(1);
                        a.indexed = atoms > 0;
                        live += usize::from(a.indexed);
                        let entry = a.indexed.then(|| Entry::new(quota, atoms, id, a.version));
                        index.push(id, entry, &accounts);
                    }
                    // The exit rule takes the lowest.
                    6 | 7 => {
                        let expected = accounts
                            .iter()
                            .enumerate()
                            .filter(|(_, a)| a.indexed)
                            .map(|(i, a)| {
                                Entry::new(a.quota_fen, a.atoms, i as AccountId, a.version)
                            })
                            .min_by(|a, b| cmp_entries(a, b, &accounts));
                        let got = index.first_live(&accounts);
                        assert_eq!(
                            got.map(|e| e.account),
                            expected.map(|e| e.account),
                            "round {round} step {step}"
                        );
                        if let Some(e) = got {
                            index.pop(&accounts);
                            let a = &mut accounts[e.account as usize];
                            a.atoms = 0;
                            a.version = a.version.wrapping_add(1);
                            a.indexed = false;
                            live -= 1;
                            index.push(e.account, None, &accounts);
                        }
                    }
                    8 => index.maybe_compact(live, &accounts),
                    // A settlement's view: every holder, in order.
                    _ => {
                        let expected: Vec<Entry> = accounts
                            .iter()
                            .enumerate()
                            .filter(|(_, a)| a.indexed)
                            .map(|(i, a)| {
                                Entry::new(a.quota_fen, a.atoms, i as AccountId, a.version)
                            })
                            .collect();
                        let taken = index.take_sorted(&accounts);
                        assert_eq!(
                            plain(&taken),
                            sorted(expected, &accounts),
                            "round {round} step {step}"
                        );
                        let mut resorter = index.resorter(taken.len(), taken.last());
                        for e in &taken {
                            if e.quota_fen == 0 {
                                resorter.push_unpaid(*e);
                            } else {
                                resorter.push_by_trigger(*e);
                            }
                        }
                        index.put_back(taken, resorter, &accounts);
                    }
                }
                assert!(index.len() <= live + live / 2 + 2 * STALE_ENTRIES_SLACK + 400);
            }
        }
    }
}
