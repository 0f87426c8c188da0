//! A growable list stored in fixed-size chunks that copies share until one side writes.
//!
//! Orders and command ids only grow, and old ones rarely change, but a big economy holds
//! millions of them. Cloning a ledger (for a snapshot taken beside the writer) then costs one
//! reference count per chunk instead of a copy of every element; a chunk is copied only when
//! one side changes it while the other still holds it.

use std::ops::Index;
// triomphe's Arc has no weak count, so `make_mut` checks uniqueness with one load; std's does a
// locked compare-and-swap, which waits for every earlier store to reach the cache and cost the
// order path about a tenth of its time (see BENCHMARKS.md).
use triomphe::Arc;

const CHUNK_BITS: u32 = 12;
const CHUNK: usize = 1 << CHUNK_BITS;
const MASK: usize = CHUNK - 1;

#[derive(Clone, Debug)]
pub(crate) struct Chunked<T> {
    chunks: Vec<Arc<Vec<T>>>,
    len: usize,
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T: Clone> Chunked<T> {
    /// Bytes held on the heap: every chunk at full size, and the list of chunks.
    pub fn heap_bytes(&self) -> usize {
        let chunks: usize = self.chunks.iter().map(|c| c.capacity()).sum();
        chunks * size_of::<T>() + self.chunks.capacity() * size_of::<Arc<Vec<T>>>()
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    pub fn get(&self, i: usize) -> Option<&T> {
        (i < self.len).then(|| &self.chunks[i >> CHUNK_BITS][i & MASK])
    }

    /// The element at `i`, copying its chunk first if a clone still shares it.
    #[inline]
    pub fn get_mut(&mut self, i: usize) -> &mut T {
        assert!(i < self.len, "index {i} beyond {}", self.len);
        &mut Arc::make_mut(&mut self.chunks[i >> CHUNK_BITS])[i & MASK]
    }

    pub fn push(&mut self, value: T) {
        if self.len & MASK == 0 {
            self.chunks.push(Arc::new(Vec::with_capacity(CHUNK)));
        }
        let last = self.chunks.last_mut().expect("a chunk with room");
        Arc::make_mut(last).push(value);
        self.len += 1;
    }

    pub fn last(&self) -> Option<&T> {
        self.len.checked_sub(1).and_then(|i| self.get(i))
    }

    pub fn reserve(&mut self, additional: usize) {
        self.chunks.reserve(additional.div_ceil(CHUNK));
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flat_map(|c| c.iter())
    }

    /// The elements from index `from` on.
    pub fn iter_from(&self, from: usize) -> impl Iterator<Item = &T> {
        let from = from.min(self.len);
        let skip = from & MASK;
        self.chunks[from >> CHUNK_BITS..]
            .iter()
            .enumerate()
            .flat_map(move |(n, c)| c[if n == 0 { skip } else { 0 }..].iter())
    }
}

impl<T: Clone> Index<usize> for Chunked<T> {
    type Output = T;

    #[inline]
    fn index(&self, i: usize) -> &T {
        self.get(i)
            .unwrap_or_else(|| panic!("index {i} beyond {}", self.len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_chunks_until_one_side_writes() {
        let mut a = Chunked::default();
        for i in 0..3 * CHUNK as u64 + 5 {
            a.push(i);
        }
        let b = a.clone();
        *a.get_mut(7) = 1_000_000;
        a.push(42);
        assert_eq!(b[7], 7);
        assert_eq!(a[7], 1_000_000);
        assert_eq!(b.len() + 1, a.len());
        assert_eq!(a.last(), Some(&42));
        assert!(Arc::ptr_eq(&a.chunks[1], &b.chunks[1]));
        assert!(!Arc::ptr_eq(&a.chunks[0], &b.chunks[0]));
        let all: Vec<u64> = b.iter().copied().collect();
        assert_eq!(all, (0..3 * CHUNK as u64 + 5).collect::<Vec<_>>());
        for from in [0, 1, CHUNK - 1, CHUNK, CHUNK + 3, b.len(), b.len() + 9] {
            let tail: Vec<u64> = b.iter_from(from).copied().collect();
            assert_eq!(tail, all[from.min(all.len())..], "from {from}");
        }
        assert_eq!(b.get(b.len()), None);
    }
}
