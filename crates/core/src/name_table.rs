//! A hash index from names to positions in a list that owns the names (accounts, orders, command
//! ids). Each slot is 8 bytes: the 4-byte position and a 4-byte hash tag. The table's hash is
//! derived from the tag alone, so growing the table never re-reads or re-hashes a name: that
//! matters once a table holds millions of ids, when every name read is a cache miss.
//!
//! The hasher is seeded per process, so crafted names cannot flood one bucket; nothing iterates
//! the table, so the seed never shows in any output.

use core::hash::BuildHasher;

use hashbrown::HashTable;

#[derive(Clone, Default)]
pub(crate) struct NameTable {
    slots: HashTable<u64>,
    hasher: foldhash::fast::RandomState,
}

/// What [`NameTable::claim`] found.
pub(crate) enum Slot {
    Taken(u32),
    Claimed,
}

#[inline]
fn table_hash(slot: u64) -> u64 {
    // The tag (low half) spread over 64 bits: the table uses the low bits for the bucket and
    // the top 7 for its control byte; an odd multiplier reaches both.
    (slot & 0xffff_ffff).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

#[inline]
fn position(slot: u64) -> u32 {
    (slot >> 32) as u32
}

impl NameTable {
    #[inline]
    fn tag(&self, name: &str) -> u64 {
        let h = self.hasher.hash_one(name.as_bytes());
        (h ^ (h >> 32)) & 0xffff_ffff
    }

    /// The position of `name`; `name_at` reads the name stored at a position.
    #[inline]
    pub fn find<'a>(&self, name: &str, name_at: impl Fn(u32) -> &'a str) -> Option<u32> {
        let tag = self.tag(name);
        self.slots
            .find(table_hash(tag), |&s| {
                s & 0xffff_ffff == tag && name_at(position(s)) == name
            })
            .map(|&s| position(s))
    }

    /// Finds `name`, or records it at `next` in one probe; the caller must then store the name
    /// at `next` before the next lookup.
    pub fn claim<'a>(&mut self, name: &str, next: u32, name_at: impl Fn(u32) -> &'a str) -> Slot {
        let tag = self.tag(name);
        let entry = self.slots.entry(
            table_hash(tag),
            |&s| s & 0xffff_ffff == tag && name_at(position(s)) == name,
            |&s| table_hash(s),
        );
        match entry {
            hashbrown::hash_table::Entry::Occupied(seen) => Slot::Taken(position(*seen.get())),
            hashbrown::hash_table::Entry::Vacant(slot) => {
                slot.insert((u64::from(next) << 32) | tag);
                Slot::Claimed
            }
        }
    }

    /// Records a name known to be new at `at`.
    #[inline]
    pub fn insert_new(&mut self, name: &str, at: u32) {
        let tag = self.tag(name);
        self.slots
            .insert_unique(table_hash(tag), (u64::from(at) << 32) | tag, |&s| {
                table_hash(s)
            });
    }

    pub fn reserve(&mut self, additional: usize) {
        self.slots.reserve(additional, |&s| table_hash(s));
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
}
