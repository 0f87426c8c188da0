//! The signal values the risk rules remember (SPEC §17) with the accounts seen with each: an
//! open-addressed table of 16-byte slots, probed linearly and kept at most half full, in shared
//! chunks. A value is already a keyed hash, so its slot is known from the value alone: the
//! order path asks for the lines of an order's values when it starts (`prefetch`), long before
//! the rules read them, which a standard hash map does not allow. A copy of the ledger shares
//! the slots chunk by chunk. The few values seen with more than one account keep the others
//! beside the table.

use crate::account::AccountId;
use crate::chunked::Chunked;

/// The few lists of further accounts: a fast, fixed hash (never iterated into a result).
type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;

/// Accounts remembered per signal value (the first ones seen).
pub const SIGNAL_ACCOUNTS_MAX: usize = 8;

/// The kinds of signal an order may carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum SignalKind {
    Phone = 0,
    Address = 1,
    Device = 2,
    Network = 3,
}

impl SignalKind {
    pub const ALL: [SignalKind; 4] = [
        SignalKind::Phone,
        SignalKind::Address,
        SignalKind::Device,
        SignalKind::Network,
    ];

    /// The wire name of the signal (a key of `signals`).
    pub fn as_str(self) -> &'static str {
        match self {
            SignalKind::Phone => "phone",
            SignalKind::Address => "address",
            SignalKind::Device => "device",
            SignalKind::Network => "network",
        }
    }

    pub fn from_u8(b: u8) -> Option<SignalKind> {
        SignalKind::ALL.get(b as usize).copied()
    }
}

#[derive(Clone, Copy, Default)]
struct Slot {
    hash: u64,
    first: AccountId,
    /// The kind + 1; 0 for an empty slot.
    kind: u8,
    /// Whether other accounts were seen with the value (kept in `more`).
    more: bool,
}

/// The accounts seen with one value: the first, then the others in the order seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seen<'a> {
    pub first: AccountId,
    pub more: &'a [AccountId],
}

impl Seen<'_> {
    pub fn iter(&self) -> impl Iterator<Item = AccountId> + '_ {
        std::iter::once(self.first).chain(self.more.iter().copied())
    }

    pub fn contains(&self, account: AccountId) -> bool {
        self.first == account || self.more.contains(&account)
    }

    pub fn len(&self) -> usize {
        1 + self.more.len()
    }

    pub fn is_empty(&self) -> bool {
        false
    }
}

/// Signal values and the accounts seen with each (up to [`SIGNAL_ACCOUNTS_MAX`]).
#[derive(Clone, Default)]
pub struct SignalTable {
    /// A power of two of slots, or none.
    slots: Chunked<Slot>,
    len: usize,
    more: Map<(SignalKind, u64), Vec<AccountId>>,
}

/// Where a probe for a value ended: at its slot, or at the empty slot it would take.
enum Probe {
    Found(usize),
    Vacant(usize),
}

fn home(kind: SignalKind, hash: u64, capacity: usize) -> usize {
    let mixed = (hash ^ (kind as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .wrapping_mul(0xbf58_476d_1ce4_e5b9);
    (mixed >> 32) as usize & (capacity - 1)
}

impl SignalTable {
    /// Bytes held on the heap by the table itself (not the accounts beyond each value's
    /// first).
    pub fn heap_bytes(&self) -> usize {
        self.slots.heap_bytes()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn probe(&self, kind: SignalKind, hash: u64) -> Probe {
        let capacity = self.slots.len();
        let mut i = home(kind, hash, capacity);
        loop {
            let slot = &self.slots[i];
            if slot.kind == 0 {
                return Probe::Vacant(i);
            }
            if slot.hash == hash && slot.kind == kind as u8 + 1 {
                return Probe::Found(i);
            }
            i = (i + 1) & (capacity - 1);
        }
    }

    fn seen_at(&self, i: usize) -> Seen<'_> {
        let slot = &self.slots[i];
        let kind = SignalKind::from_u8(slot.kind - 1).expect("a taken slot");
        let more = (slot.more)
            .then(|| self.more.get(&(kind, slot.hash)))
            .flatten()
            .map_or(&[][..], Vec::as_slice);
        Seen {
            first: slot.first,
            more,
        }
    }

    /// The accounts seen with `hash` of `kind`.
    pub fn get(&self, kind: SignalKind, hash: u64) -> Option<Seen<'_>> {
        if self.len == 0 {
            return None;
        }
        match self.probe(kind, hash) {
            Probe::Found(i) => Some(self.seen_at(i)),
            Probe::Vacant(_) => None,
        }
    }

    /// The accounts seen with the value before `account` (none if it is new), then adds
    /// `account` to them unless it is there or the list is full: one probe for both.
    pub fn judge_and_add<R>(
        &mut self,
        kind: SignalKind,
        hash: u64,
        account: AccountId,
        judge: impl FnOnce(Seen<'_>) -> R,
    ) -> Option<R> {
        self.reserve_one();
        match self.probe(kind, hash) {
            Probe::Found(i) => {
                let seen = self.seen_at(i);
                let verdict = judge(seen);
                if seen.len() < SIGNAL_ACCOUNTS_MAX && !seen.contains(account) {
                    self.more.entry((kind, hash)).or_default().push(account);
                    self.slots.get_mut(i).more = true;
                }
                Some(verdict)
            }
            Probe::Vacant(i) => {
                self.take(i, kind, hash, account);
                None
            }
        }
    }

    /// Adds `account` to the accounts seen with the value.
    pub fn add(&mut self, kind: SignalKind, hash: u64, account: AccountId) {
        self.judge_and_add(kind, hash, account, |_| ());
    }

    /// A value as a snapshot holds it: refused if it is there already.
    pub(crate) fn insert(
        &mut self,
        kind: SignalKind,
        hash: u64,
        first: AccountId,
        more: Vec<AccountId>,
    ) -> Result<(), String> {
        self.reserve_one();
        let Probe::Vacant(i) = self.probe(kind, hash) else {
            return Err(format!("the {} signal {hash:x} twice", kind.as_str()));
        };
        self.take(i, kind, hash, first);
        if !more.is_empty() {
            self.more.insert((kind, hash), more);
            self.slots.get_mut(i).more = true;
        }
        Ok(())
    }

    fn take(&mut self, i: usize, kind: SignalKind, hash: u64, first: AccountId) {
        *self.slots.get_mut(i) = Slot {
            hash,
            first,
            kind: kind as u8 + 1,
            more: false,
        };
        self.len += 1;
    }

    /// Room for one more value, at most half full: a table twice as large when needed.
    fn reserve_one(&mut self) {
        if (self.len + 1) * 2 <= self.slots.len() {
            return;
        }
        let capacity = (self.slots.len() * 2).max(64);
        let old = std::mem::take(&mut self.slots);
        for _ in 0..capacity {
            self.slots.push(Slot::default());
        }
        for slot in old.iter().filter(|s| s.kind != 0) {
            let kind = SignalKind::from_u8(slot.kind - 1).expect("a taken slot");
            if let Probe::Vacant(i) = self.probe(kind, slot.hash) {
                *self.slots.get_mut(i) = *slot;
            }
        }
    }

    /// A hint: start loading the slot where the value's probe begins. It reads nothing a
    /// result depends on.
    pub(crate) fn prefetch(&self, kind: SignalKind, hash: u64) {
        if let Some(slot) = (self.len > 0)
            .then(|| self.slots.get(home(kind, hash, self.slots.len())))
            .flatten()
        {
            crate::prefetch::prefetch_bytes(slot, std::mem::size_of::<Slot>());
        }
    }

    /// Every value with its accounts, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = ((SignalKind, u64), Seen<'_>)> + '_ {
        (self.slots.iter().enumerate())
            .filter(|(_, s)| s.kind != 0)
            .map(|(i, s)| {
                let kind = SignalKind::from_u8(s.kind - 1).expect("a taken slot");
                ((kind, s.hash), self.seen_at(i))
            })
    }

    /// Every value with its accounts, by kind and value.
    pub fn sorted(&self) -> Vec<((SignalKind, u64), Seen<'_>)> {
        let mut all: Vec<_> = self.iter().collect();
        all.sort_unstable_by_key(|(key, _)| *key);
        all
    }
}

impl PartialEq for SignalTable {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().all(|((k, h), s)| other.get(k, h) == Some(s))
    }
}

impl Eq for SignalTable {}

impl std::fmt::Debug for SignalTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.sorted()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Against a standard map of lists, through several doublings: the same accounts for
    /// every value, in the same order, capped, and what `judge_and_add` shows is the list
    /// before the account joins it.
    #[test]
    fn the_table_agrees_with_a_map_of_lists() {
        let mut table = SignalTable::default();
        let mut model: HashMap<(SignalKind, u64), Vec<AccountId>> = HashMap::new();
        for i in 0..20_000u64 {
            let kind = SignalKind::ALL[(i % 3) as usize];
            // Few distinct values per kind at first, so lists fill up and hit the cap.
            let hash = (i * 2_654_435_761) % (50 + i / 4);
            let account = (i % 37) as AccountId;
            let before = model.get(&(kind, hash)).cloned();
            let shown = table.judge_and_add(kind, hash, account, |seen| seen.iter().collect());
            assert_eq!(shown, before);
            let list = model.entry((kind, hash)).or_default();
            if list.len() < SIGNAL_ACCOUNTS_MAX && !list.contains(&account) {
                list.push(account);
            }
        }
        assert_eq!(table.len(), model.len());
        for ((kind, hash), accounts) in &model {
            let seen = table.get(*kind, *hash).expect("every value");
            assert_eq!(seen.iter().collect::<Vec<_>>(), *accounts);
            assert!(accounts.iter().all(|&a| seen.contains(a)));
        }
        assert!(table.get(SignalKind::Device, u64::MAX).is_none());
        let copy = table.clone();
        assert_eq!(copy, table);
        let mut other = SignalTable::default();
        for ((kind, hash), seen) in table.sorted() {
            other
                .insert(kind, hash, seen.first, seen.more.to_vec())
                .unwrap();
        }
        assert_eq!(other, table);
        let ((kind, hash), seen) = table.sorted()[0];
        assert!(other.insert(kind, hash, seen.first, vec![]).is_err());
    }
}
