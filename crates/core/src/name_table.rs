//! A hash index from names to positions in a list that owns the names (accounts, orders, command
//! ids). Each slot is 8 bytes: the 4-byte position and a 4-byte hash tag, in one array with
//! linear probing, so a lookup usually reads one cache line of the table and then the name it
//! finds. (A general hash table keeps its control bytes apart from its slots, which costs a
//! second cache miss per lookup once a table holds millions of names.) A slot's place is derived
//! from its tag alone, so growing the table never re-reads or re-hashes a name.
//!
//! The table is split into [`SHARDS`] shards by the top bits of the tag, and each shard grows
//! on its own. The shards' sizes are staggered (shard `i` holds `(SHARDS + i) · 2^g / 8` slots),
//! so they reach their load limit at different moments, spread evenly over each doubling of the
//! whole. A growth therefore copies one shard, at most 1/32 of the table, never the whole of it.
//! (Grown whole, the command-id table of an economy with six million commands is 128 MB written
//! at once: 0.4 to 0.9 s on the writer's thread on the test machine, and every request waited
//! for it. BENCHMARKS.md, "The batch scenario's tail".)
//!
//! Names are only ever added, never removed, so probing needs no tombstones. The hasher is
//! seeded per process, so crafted names cannot flood one run of slots; nothing iterates the
//! table, so the seed never shows in any output.

use core::hash::BuildHasher;

/// How many shards a table that holds anything has: a power of two.
pub(crate) const SHARDS: usize = 1 << SHARD_BITS;
const SHARD_BITS: u32 = 6;

#[derive(Clone, Default)]
pub(crate) struct NameTable {
    /// None until the table first takes a name or a reservation, then [`SHARDS`] shards.
    shards: Vec<Shard>,
    hasher: foldhash::fast::RandomState,
}

/// One shard: an open-addressing table of any size; 0 is an empty slot (tags are never 0).
#[derive(Clone, Default)]
struct Shard {
    slots: Vec<u64>,
    /// Slots in use.
    len: usize,
    /// How many times the shard has doubled.
    doublings: u32,
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

/// A shard is grown before more than this share of it, in eighths, is in use.
const LOAD_EIGHTHS_MAX: usize = 6;

/// The tag spread over 64 bits by an odd multiplier (Fibonacci hashing): its top bits choose
/// the shard and the rest the home slot within it.
#[inline]
fn spread(tag: u64) -> u64 {
    tag.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

#[inline]
fn shard_of(tag: u64) -> usize {
    (spread(tag) >> (64 - SHARD_BITS)) as usize
}

/// The slots of shard `shard` after `doublings` doublings: between 8 and 16 to begin with,
/// different for every shard, so that shards of equal load fill up at different moments.
#[inline]
fn shard_slots(shard: usize, doublings: u32) -> usize {
    ((SHARDS + shard) << doublings) >> 3
}

impl Shard {
    /// The first slot to probe for `tag`: the tag's bits below the shard's, scaled to the
    /// shard's size (a multiply and a shift, for a size that is not a power of two).
    #[inline]
    fn home(tag: u64, slots: usize) -> usize {
        let rest = spread(tag) << SHARD_BITS;
        ((u128::from(rest) * slots as u128) >> 64) as usize
    }

    /// From `tag`'s home on, the first slot that is empty or that `hit` accepts, and its
    /// contents. Every lookup, guess and insertion probes through here.
    #[inline]
    fn probe(&self, tag: u64, hit: impl Fn(u64) -> bool) -> (usize, u64) {
        let n = self.slots.len();
        let mut i = Self::home(tag, n);
        loop {
            let s = self.slots[i];
            if s == 0 || hit(s) {
                return (i, s);
            }
            i += 1;
            if i == n {
                i = 0;
            }
        }
    }

    /// Puts a slot's contents in the first empty slot from its home (the name is not there).
    #[inline]
    fn place(&mut self, slot: u64) {
        let (i, _) = self.probe(tag_of(slot), |_| false);
        self.slots[i] = slot;
        self.len += 1;
    }

    /// Grows the shard (shard number `shard`) until `want` names fit.
    #[cold]
    fn grow(&mut self, shard: usize, want: usize) {
        let mut doublings = self.doublings + 1;
        while want * 8 > shard_slots(shard, doublings) * LOAD_EIGHTHS_MAX {
            doublings += 1;
        }
        let old = std::mem::replace(&mut self.slots, vec![0; shard_slots(shard, doublings)]);
        self.doublings = doublings;
        self.len = 0;
        for s in old.into_iter().filter(|&s| s != 0) {
            self.place(s);
        }
    }

    #[inline]
    fn reserve(&mut self, shard: usize, additional: usize) {
        let want = self.len + additional;
        if want * 8 > self.slots.len() * LOAD_EIGHTHS_MAX {
            self.grow(shard, want);
        }
    }
}

impl NameTable {
    /// Bytes held on the heap.
    pub fn heap_bytes(&self) -> usize {
        let slots: usize = self.shards.iter().map(|s| s.slots.capacity()).sum();
        slots * size_of::<u64>() + self.shards.capacity() * size_of::<Shard>()
    }

    /// The tag of `name`: 32 bits of its seeded hash, never 0.
    #[inline]
    fn tag(&self, name: &str) -> u64 {
        let h = self.hasher.hash_one(name.as_bytes());
        ((h ^ (h >> 32)) & 0xffff_ffff) | 1
    }

    /// The slot holding `name` in its shard, or the empty slot where it would go, with its
    /// contents. The table must have its shards.
    #[inline]
    fn probe_name<'a>(
        &self,
        name: &str,
        tag: u64,
        name_at: impl Fn(u32) -> &'a str,
    ) -> (usize, u64) {
        self.shards[shard_of(tag)].probe(tag, |s| tag_of(s) == tag && name_at(position(s)) == name)
    }

    /// The position of `name`; `name_at` reads the name stored at a position.
    #[inline]
    pub fn find<'a>(&self, name: &str, name_at: impl Fn(u32) -> &'a str) -> Option<u32> {
        if self.shards.is_empty() {
            return None;
        }
        let (_, s) = self.probe_name(name, self.tag(name), name_at);
        (s != 0).then(|| position(s))
    }

    /// Starts loading the slot where a lookup of `name` begins (a hint only).
    #[inline]
    pub fn prefetch_slot(&self, name: &str) {
        if !self.shards.is_empty() {
            let tag = self.tag(name);
            let shard = &self.shards[shard_of(tag)];
            let i = Shard::home(tag, shard.slots.len());
            crate::prefetch::prefetch_bytes(&shard.slots[i], 8);
        }
    }

    /// The position in the first slot from `name`'s home whose tag matches, without reading
    /// the name: usually the name's position, but only a guess, for prefetching.
    #[inline]
    pub fn guess(&self, name: &str) -> Option<u32> {
        if self.shards.is_empty() {
            return None;
        }
        let tag = self.tag(name);
        let (_, s) = self.shards[shard_of(tag)].probe(tag, |s| tag_of(s) == tag);
        (s != 0).then(|| position(s))
    }

    /// Finds `name`, or records it at `next` in one probe; the caller must then store the name
    /// at `next` before the next lookup.
    pub fn claim<'a>(&mut self, name: &str, next: u32, name_at: impl Fn(u32) -> &'a str) -> Slot {
        let tag = self.tag(name);
        let shard = self.room_for_one(tag);
        let (i, s) = self.probe_name(name, tag, name_at);
        if s != 0 {
            return Slot::Taken(position(s));
        }
        let shard = &mut self.shards[shard];
        shard.slots[i] = (u64::from(next) << 32) | tag;
        shard.len += 1;
        Slot::Claimed
    }

    /// Records a name known to be new at `at`.
    #[inline]
    pub fn insert_new(&mut self, name: &str, at: u32) {
        let tag = self.tag(name);
        let shard = self.room_for_one(tag);
        self.shards[shard].place((u64::from(at) << 32) | tag);
    }

    /// The shards of a table about to hold its first name, each at its smallest size, so that
    /// every probe finds slots.
    #[cold]
    fn make_shards(&mut self) {
        self.shards = (0..SHARDS)
            .map(|i| Shard {
                slots: vec![0; shard_slots(i, 0)],
                len: 0,
                doublings: 0,
            })
            .collect();
    }

    /// Makes room in `tag`'s shard for one more name; returns the shard's number.
    #[inline]
    fn room_for_one(&mut self, tag: u64) -> usize {
        if self.shards.is_empty() {
            self.make_shards();
        }
        let shard = shard_of(tag);
        self.shards[shard].reserve(shard, 1);
        shard
    }

    /// Makes room for about `additional` more names, spread evenly over the shards, so that
    /// adding them grows little.
    pub fn reserve(&mut self, additional: usize) {
        if self.shards.is_empty() {
            self.make_shards();
        }
        // Each shard's share, with room for the spread of a hash around it.
        let share = additional.div_ceil(SHARDS);
        let each = share + share / 8 + 8;
        for (i, shard) in self.shards.iter_mut().enumerate() {
            shard.reserve(i, each);
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
        table.insert_new("first", 0);
        names.push("first".into());
        for absent in ["a", "b", "c", "d", "e", "f", "g", "h"] {
            assert_eq!(table.find(absent, |p| &names[p as usize]), None);
            assert_eq!(table.guess(absent), None);
        }
        for i in 1..50_000u32 {
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

    /// A growth copies one shard, never the whole table, and the shards' growths are spread
    /// over each doubling rather than bunched; the table stays between a third and 6/8 full
    /// (each shard is 3/8 full just after it doubles, less a slot of rounding).
    #[test]
    fn grows_a_shard_at_a_time_spread_over_each_doubling() {
        let mut table = NameTable::default();
        let mut grown_at = Vec::new();
        let mut biggest_step = 0;
        let mut before = table.heap_bytes();
        for i in 0..400_000u32 {
            table.insert_new(&format!("id-{i}"), i);
            let after = table.heap_bytes();
            if after != before {
                grown_at.push(i);
                if i > 100_000 {
                    biggest_step = biggest_step.max(after - before);
                }
            }
            before = after;
            if i > 1_000 {
                let slots = (after - SHARDS * size_of::<Shard>()) / size_of::<u64>();
                let names = i as usize + 1;
                assert!(slots <= names * 3, "{slots} slots for {names}");
                assert!(
                    names * 8 <= slots * LOAD_EIGHTHS_MAX,
                    "{slots} slots for {names}"
                );
            }
        }
        // A whole-table growth would add as much as the table held; one shard adds about
        // 1/64 of it (1/32 for the largest shard).
        assert!(
            biggest_step * 24 < before,
            "{biggest_step} bytes in one step, of {before}"
        );
        // Between 200,000 and 400,000 names every shard doubles once: 64 growths, and no
        // 10,000 names in a row (a twentieth of the doubling) see more than 8 of them.
        let late: Vec<u32> = grown_at.into_iter().filter(|&i| i >= 200_000).collect();
        assert!((SHARDS - 2..=SHARDS + 2).contains(&late.len()), "{late:?}");
        let bunched = late
            .iter()
            .map(|&i| late.iter().filter(|&&j| j >= i && j < i + 10_000).count())
            .max();
        assert!(bunched <= Some(8), "{bunched:?} growths together: {late:?}");
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
