//! Journal entries are stored in blocks: one row holds the consecutive entries of (part of) one
//! commit, so a commit of a thousand commands writes one row, not a thousand. A block is the
//! entries one after another, each as
//!
//! `seq u64 ‖ ts_ms i64 ‖ hash [32] ‖ len u32 ‖ command ‖ len u16 ‖ outcome`
//!
//! (integers little-endian). Each entry keeps its own seq, so a block whose entries were
//! removed or reordered behind the journal's back shows a gap or a broken chain at the exact
//! seq, like any other damage.

use crate::entry::{Entry, EntryRef, Hash};
use crate::error::{StoreError, StoreResult};

/// A commit is split into blocks of at most this many bytes (a block holds at least one
/// entry, however large).
pub const BLOCK_BYTES_MAX: usize = 1 << 20;

const ENTRY_HEAD_BYTES: usize = 8 + 8 + 32 + 4;

/// One stored block: the entries `first_seq..=last_seq`, encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub first_seq: u64,
    pub last_seq: u64,
    pub data: Vec<u8>,
}

fn put_entry(out: &mut Vec<u8>, seq: u64, ts_ms: i64, hash: &Hash, command: &str, outcome: &str) {
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&ts_ms.to_le_bytes());
    out.extend_from_slice(hash);
    out.extend_from_slice(&(command.len() as u32).to_le_bytes());
    out.extend_from_slice(command.as_bytes());
    out.extend_from_slice(&(outcome.len() as u16).to_le_bytes());
    out.extend_from_slice(outcome.as_bytes());
}

/// Builds the blocks of one commit, entry by entry, starting a new block when one would pass
/// [`BLOCK_BYTES_MAX`].
#[derive(Default)]
pub struct BlockBuilder {
    blocks: Vec<Block>,
}

impl BlockBuilder {
    pub fn push(&mut self, seq: u64, ts_ms: i64, hash: &Hash, command: &str, outcome: &str) {
        let size = ENTRY_HEAD_BYTES + command.len() + 2 + outcome.len();
        let fits = self
            .blocks
            .last()
            .is_some_and(|b| b.data.len() + size <= BLOCK_BYTES_MAX);
        if !fits {
            self.blocks.push(Block {
                first_seq: seq,
                last_seq: seq,
                data: Vec::with_capacity(size.clamp(64 * 1024, BLOCK_BYTES_MAX)),
            });
        }
        if let Some(block) = self.blocks.last_mut() {
            block.last_seq = seq;
            put_entry(&mut block.data, seq, ts_ms, hash, command, outcome);
        }
    }

    pub fn push_entry(&mut self, e: &Entry) {
        self.push(e.seq, e.ts_ms, &e.hash, &e.command, &e.outcome);
    }

    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    pub fn finish(self) -> Vec<Block> {
        self.blocks
    }
}

/// The blocks holding `entries`.
pub fn blocks_of(entries: &[Entry]) -> Vec<Block> {
    let mut b = BlockBuilder::default();
    for e in entries {
        b.push_entry(e);
    }
    b.finish()
}

/// Encodes `entries` into one block's data, whatever its size.
pub fn encode_block(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        put_entry(&mut out, e.seq, e.ts_ms, &e.hash, &e.command, &e.outcome);
    }
    out
}

fn malformed(what: &str) -> StoreError {
    StoreError::Malformed(format!("a journal block is damaged: {what}"))
}

/// Lends each entry of a block, in order, without copying.
pub fn for_each_in_block(
    block: &[u8],
    f: &mut dyn FnMut(EntryRef<'_>) -> StoreResult<bool>,
) -> StoreResult<()> {
    let mut at = 0;
    let take = |at: &mut usize, n: usize| -> StoreResult<&[u8]> {
        let end = at.checked_add(n).filter(|e| *e <= block.len());
        let end = end.ok_or_else(|| malformed("it ends inside an entry"))?;
        let s = &block[*at..end];
        *at = end;
        Ok(s)
    };
    while at < block.len() {
        let seq = u64::from_le_bytes(take(&mut at, 8)?.try_into().unwrap_or_default());
        let ts_ms = i64::from_le_bytes(take(&mut at, 8)?.try_into().unwrap_or_default());
        let hash: &Hash = take(&mut at, 32)?
            .try_into()
            .map_err(|_| malformed("hash"))?;
        let len = u32::from_le_bytes(take(&mut at, 4)?.try_into().unwrap_or_default());
        let command = std::str::from_utf8(take(&mut at, len as usize)?)
            .map_err(|_| malformed(&format!("entry {seq}: the command is not UTF-8")))?;
        let len = u16::from_le_bytes(take(&mut at, 2)?.try_into().unwrap_or_default());
        let outcome = std::str::from_utf8(take(&mut at, len as usize)?)
            .map_err(|_| malformed(&format!("entry {seq}: the outcome is not UTF-8")))?;
        let more = f(EntryRef {
            seq,
            ts_ms,
            command,
            outcome,
            hash,
        })?;
        if !more {
            break;
        }
    }
    Ok(())
}

/// Every entry of a block, copied.
pub fn decode_block(block: &[u8]) -> StoreResult<Vec<Entry>> {
    let mut out = Vec::new();
    for_each_in_block(block, &mut |e| {
        out.push(e.to_entry());
        Ok(true)
    })?;
    Ok(out)
}

/// The blocks' first seqs, last seqs and data, as the columns of an append (PostgreSQL's
/// `UNNEST` arrays).
pub(crate) fn columns(blocks: &[Block]) -> (Vec<i64>, Vec<i64>, Vec<&[u8]>) {
    let firsts = blocks.iter().map(|b| b.first_seq as i64).collect();
    let lasts = blocks.iter().map(|b| b.last_seq as i64).collect();
    let data = blocks.iter().map(|b| b.data.as_slice()).collect();
    (firsts, lasts, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64, command: &str) -> Entry {
        Entry {
            seq,
            ts_ms: 1_700_000_000_000 + seq as i64,
            command: command.into(),
            outcome: "ok".into(),
            hash: [seq as u8; 32],
        }
    }

    #[test]
    fn a_block_decodes_to_its_entries() {
        let entries: Vec<Entry> = (1..=5).map(|s| entry(s, "{\"积分\":1}")).collect();
        assert_eq!(decode_block(&encode_block(&entries)).unwrap(), entries);
        assert!(decode_block(&encode_block(&entries)[..40]).is_err());
    }

    #[test]
    fn large_commits_are_split_into_bounded_blocks() {
        let big = "x".repeat(300_000);
        let entries: Vec<Entry> = (1..=10).map(|s| entry(s, &big)).collect();
        let blocks = blocks_of(&entries);
        assert!(blocks.len() > 1);
        assert!(blocks.iter().all(|b| b.data.len() <= BLOCK_BYTES_MAX));
        let back: Vec<Entry> = blocks
            .iter()
            .flat_map(|b| decode_block(&b.data).unwrap())
            .collect();
        assert_eq!(back, entries);
        for w in blocks.windows(2) {
            assert_eq!(w[1].first_seq, w[0].last_seq + 1);
        }
        let huge = entry(1, &"y".repeat(2 * BLOCK_BYTES_MAX));
        assert_eq!(blocks_of(std::slice::from_ref(&huge)).len(), 1);
    }
}
