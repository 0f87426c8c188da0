//! Journal entries and the hash chain.
//!
//! `hash(n) = SHA-256(hash(n-1) ‖ seq ‖ len(command) ‖ command ‖ len(outcome) ‖ outcome)`, with
//! every integer a big-endian `u64`, `command` the canonical JSON of the command as received and
//! `outcome` the stored outcome text (`ok` or the rejection code). The chain starts from the
//! economy's genesis hash, which covers its id, creation time, initial rules and time zone, so
//! no entry, no outcome and none of those can change without breaking every later hash.

use jifen_core::Code;
use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

/// One journal entry: a command as received, with its outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Gapless, from 1.
    pub seq: u64,
    /// When the writer committed it, in milliseconds since the Unix epoch, UTC.
    pub ts_ms: i64,
    /// The canonical JSON of the command (a JSON string holding the raw text when the input was
    /// not JSON at all).
    pub command: String,
    /// `ok`, or the rejection code.
    pub outcome: String,
    pub hash: Hash,
}

/// The stored outcome text of a result.
pub fn outcome_text(result: Result<(), Code>) -> &'static str {
    match result {
        Ok(()) => "ok",
        Err(code) => code.as_str(),
    }
}

/// Parses stored outcome text back into a result.
pub fn parse_outcome(text: &str) -> Option<Result<(), Code>> {
    if text == "ok" {
        return Some(Ok(()));
    }
    Code::from_str_code(text).map(Err)
}

fn put(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_be_bytes());
    h.update(bytes);
}

/// The hash of the entry `seq` with `command` and `outcome`, chained to `prev`.
pub fn chain_hash(prev: &Hash, seq: u64, command: &str, outcome: &str) -> Hash {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(seq.to_be_bytes());
    put(&mut h, command.as_bytes());
    put(&mut h, outcome.as_bytes());
    h.finalize().into()
}

/// The genesis hash of an economy: the start of its chain.
pub fn genesis_hash(id: &str, created_at: &str, rules_toml: &str, timezone: &str) -> Hash {
    let mut h = Sha256::new();
    h.update(b"jifen/genesis/v1");
    for part in [id, created_at, rules_toml, timezone] {
        put(&mut h, part.as_bytes());
    }
    h.finalize().into()
}

impl Entry {
    /// Whether this entry's hash is right, given the previous hash.
    pub fn chains_from(&self, prev: &Hash) -> bool {
        chain_hash(prev, self.seq, &self.command, &self.outcome) == self.hash
    }
}

/// A journal entry lent by `Store::scan`, without copying.
#[derive(Clone, Copy, Debug)]
pub struct EntryRef<'a> {
    pub seq: u64,
    pub ts_ms: i64,
    pub command: &'a str,
    pub outcome: &'a str,
    pub hash: &'a Hash,
}

impl EntryRef<'_> {
    pub fn to_entry(&self) -> Entry {
        Entry {
            seq: self.seq,
            ts_ms: self.ts_ms,
            command: self.command.to_string(),
            outcome: self.outcome.to_string(),
            hash: *self.hash,
        }
    }

    /// Whether this entry's hash is right, given the previous hash.
    pub fn chains_from(&self, prev: &Hash) -> bool {
        chain_hash(prev, self.seq, self.command, self.outcome) == *self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_of_an_entry_is_covered() {
        let g = genesis_hash("eco", "2026-11-25T00:00:00Z", "", "Asia/Shanghai");
        let h = chain_hash(&g, 1, r#"{"id":"a"}"#, "ok");
        assert_ne!(h, chain_hash(&g, 2, r#"{"id":"a"}"#, "ok"));
        assert_ne!(h, chain_hash(&g, 1, r#"{"id":"b"}"#, "ok"));
        assert_ne!(h, chain_hash(&g, 1, r#"{"id":"a"}"#, "invalid_command"));
        assert_ne!(h, chain_hash(&[0; 32], 1, r#"{"id":"a"}"#, "ok"));
        // Lengths keep the boundary between command and outcome unambiguous.
        assert_ne!(chain_hash(&g, 1, "ab", "c"), chain_hash(&g, 1, "a", "bc"));
        assert_ne!(g, genesis_hash("eco", "2026-11-25T00:00:00Z", "", "UTC"));
        assert_eq!(parse_outcome("ok"), Some(Ok(())));
        assert_eq!(
            parse_outcome("unknown_order"),
            Some(Err(Code::UnknownOrder))
        );
        assert_eq!(parse_outcome("nonsense"), None);
    }
}
