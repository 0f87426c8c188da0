//! A hash index from names to positions in a list that owns the names (accounts, orders, command
//! ids). Each slot is 8 bytes: the 4-byte position and a 4-byte hash tag, in one array with
//! linear probing, so a lookup usually reads one cache line of the table and then the name it
//! finds. (A general hash table keeps its control bytes apart from its slots, which costs a
//! second cache miss per lookup once a table holds millions of names.) A slot's place is derived
//! from its tag alone, so growing the table never re-reads or re-hashes a name.
//!
//! Names are only ever added, never removed, so probing needs no tombstones. The hasher is
//! seeded per process, so crafted names cannot flood one run of slots; nothing iterates the
//! table, so the seed never shows in any output.

use core::hash::BuildHasher;

#[derive(Clone, Default)]
pub(crate) struct NameTable {
    /// A power of two of slots, or none; 0 is an empty slot (tags are never 0).
    slots: Vec<u64>,
    /// Slots in use.
    len: usize,
    hasher: foldhash::fast::RandomState,
}

/// What [`NameTable::claim`] found.
pub(crate) enum Slot {
    Taken(u32),
    Claimed,
}

#[inline]
fn position(slot: u64) -> u32 {
    (slot >> 32) as u32
}

#[inline]
fn tag_of(slot: u64) -> u64 {
    slot & 0xffff_ffff
}

/// The table is grown before more than this share of it, in eighths, is in use.
const LOAD_EIGHTHS_MAX: usize = 6;
/// The fewest slots of a table that holds anything.
const SLOTS_MIN: usize = 16;

impl NameTable {
    /// Bytes held on the heap.
    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * size_of::<u64>()
    }

    /// The tag of `name`: 32 bits of its seeded hash, never 0.
    #[inline]
    fn tag(&self, name: &str) -> u64 {
        let h = self.hasher.hash_one(name.as_bytes());
        ((h ^ (h >> 32)) & 0xffff_ffff) | 1
    }

    /// The first slot to probe for `tag`: the top bits of the tag spread over 64 bits by an odd
    /// multiplier (Fibonacci hashing), which reaches every slot of a power-of-two table.
    #[inline]
    fn home(tag: u64, slots: usize) -> usize {
        let spread = tag.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (spread >> (64 - slots.trailing_zeros())) as usize
    }

    /// From `tag`'s home on, the first slot that is empty or that `hit` accepts, and its
    /// contents. Every lookup, guess and insertion probes through here.
    #[inline]
    fn probe(&self, tag: u64, hit: impl Fn(u64) -> bool) -> (usize, u64) {
        let mask = self.slots.len() - 1;
        let mut i = Self::home(tag, self.slots.len());
        loop {
            let s = self.slots[i];
            if s == 0 || hit(s) {
                return (i, s);
            }
            i = (i + 1) & mask;
        }
    }

    /// The slot holding `name`, or the empty slot where it would go, with its contents.
    #[inline]
    fn probe_name<'a>(
        &self,
        name: &str,
        tag: u64,
        name_at: impl Fn(u32) -> &'a str,
    ) -> (usize, u64) {
        self.probe(tag, |s| tag_of(s) == tag && name_at(position(s)) == name)
    }

    /// The position of `name`; `name_at` reads the name stored at a position.
    #[inline]
    pub fn find<'a>(&self, name: &str, name_at: impl Fn(u32) -> &'a str) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        let (_, s) = self.probe_name(name, self.tag(name), name_at);
        (s != 0).then(|| position(s))
    }

    /// Starts loading the slot where a lookup of `name` begins (a hint only).
    #[inline]
    pub fn prefetch_slot(&self, name: &str) {
        if !self.slots.is_empty() {
            let i = Self::home(self.tag(name), self.slots.len());
            crate::prefetch::prefetch_bytes(&self.slots[i], 8);
        }
    }

    /// The position in the first slot from `name`'s home whose tag matches, without reading
    /// the name: usually the name's position, but only a guess, for prefetching.
    #[inline]
    pub fn guess(&self, name: &str) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        let tag = self.tag(name);
        let (_, s) = self.probe(tag, |s| tag_of(s) == tag);
        (s != 0).then(|| position(s))
    }

    /// Finds `name`, or records it at `next` in one probe; the caller must then store the name
    /// at `next` before the next lookup.
    pub fn claim<'a>(&mut self, name: &str, next: u32, name_at: impl Fn(u32) -> &'a str) -> Slot {
        self.reserve(1);
        let tag = self.tag(name);
        let (i, s) = self.probe_name(name, tag, name_at);
        if s != 0 {
            return Slot::Taken(position(s));
        }
        self.slots[i] = (u64::from(next) << 32) | tag;
        self.len += 1;
        Slot::Claimed
    }

    /// Records a name known to be new at `at`.
    #[inline]
    pub fn insert_new(&mut self, name: &str, at: u32) {
        self.reserve(1);
        let tag = self.tag(name);
        self.place((u64::from(at) << 32) | tag);
        self.len += 1;
    }

    /// Puts a slot's contents in the first empty slot from its home (the name is not there).
    #[inline]
    fn place(&mut self, slot: u64) {
        let (i, _) = self.probe(tag_of(slot), |_| false);
        self.slots[i] = slot;
    }

    /// Makes room for `additional` more names without growing.
    #[inline]
    pub fn reserve(&mut self, additional: usize) {
        let want = self.len + additional;
        if want * 8 > self.slots.len() * LOAD_EIGHTHS_MAX {
            self.grow(want);
        }
    }

    #[cold]
    fn grow(&mut self, want: usize) {
        let slots = (want * 8)
            .div_ceil(LOAD_EIGHTHS_MAX)
            .next_power_of_two()
            .max(SLOTS_MIN)
            .max(self.slots.len() * 2);
        let old = std::mem::replace(&mut self.slots, vec![0; slots]);
        for s in old.into_iter().filter(|&s| s != 0) {
            self.place(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_it_holds_across_growth_and_claims_once() {
        let mut names: Vec<String> = Vec::new();
        let mut table = NameTable::default();
        for i in 0..50_000u32 {
            let name = format!("n{i}");
            table.insert_new(&name, i);
            names.push(name);
        }
        for (i, name) in names.iter().enumerate() {
            assert_eq!(table.find(name, |p| &names[p as usize]), Some(i as u32));
        }
        assert_eq!(table.find("absent", |p| &names[p as usize]), None);
        let next = names.len() as u32;
        assert!(matches!(
            table.claim("n7", next, |p| &names[p as usize]),
            Slot::Taken(7)
        ));
        assert!(matches!(
            table.claim("fresh", next, |p| &names[p as usize]),
            Slot::Claimed
        ));
        names.push("fresh".into());
        assert_eq!(table.find("fresh", |p| &names[p as usize]), Some(next));
    }

    /// The prefetch helpers: harmless on an empty table, and the guess is the name's position
    /// unless another name with the same 32-bit tag comes first (practically never).
    #[test]
    fn prefetching_guesses_positions_without_reading_names() {
        let mut table = NameTable::default();
        table.prefetch_slot("nobody");
        assert_eq!(table.guess("nobody"), None);
        let names: Vec<String> = (0..20_000).map(|i| format!("u{i}")).collect();
        for (i, name) in names.iter().enumerate() {
            table.insert_new(name, i as u32);
        }
        let right = names
            .iter()
            .enumerate()
            .filter(|&(i, name)| {
                table.prefetch_slot(name);
                table.guess(name) == Some(i as u32)
            })
            .count();
        assert!(right >= names.len() - 2, "{right} of {}", names.len());
    }

    /// Against a standard map: claims of new and existing names, inserts, growth from empty
    /// and from a reservation, and a clone that goes its own way.
    #[test]
    fn agrees_with_a_map_through_claims_inserts_and_clones() {
        use std::collections::HashMap;
        let mut next = crate::units::xorshift(0x2545_f491_4f6c_dd1d);
        let mut names: Vec<String> = Vec::new();
        let mut map: HashMap<String, u32> = HashMap::new();
        let mut table = NameTable::default();
        assert_eq!(table.find("none", |p| &names[p as usize]), None);
        table.reserve(1000);
        for round in 0..120_000u32 {
            // Short names from a small space, so many claims find a name already there.
            let name = format!("{}", next() % 150_000);
            let at = names.len() as u32;
            if round % 3 == 0 && !map.contains_key(&name) {
                table.insert_new(&name, at);
                map.insert(name.clone(), at);
                names.push(name);
                continue;
            }
            match table.claim(&name, at, |p| &names[p as usize]) {
                Slot::Taken(p) => assert_eq!(map.get(&name), Some(&p), "{name}"),
                Slot::Claimed => {
                    assert!(map.insert(name.clone(), at).is_none(), "{name}");
                    names.push(name);
                }
            }
        }
        let copy = table.clone();
        let copy_names = names.clone();
        for i in 0..50_000u32 {
            table.insert_new(&format!("late{i}"), names.len() as u32);
            names.push(format!("late{i}"));
        }
        for (name, &p) in &map {
            assert_eq!(table.find(name, |q| &names[q as usize]), Some(p));
            assert_eq!(copy.find(name, |q| &copy_names[q as usize]), Some(p));
        }
        assert_eq!(copy.find("late7", |q| &copy_names[q as usize]), None);
        assert_eq!(
            table.find("late7", |q| &names[q as usize]),
            Some(map.len() as u32 + 7)
        );
        for i in 0..10_000 {
            let absent = format!("absent{i}");
            assert_eq!(table.find(&absent, |q| &names[q as usize]), None);
        }
    }
}
