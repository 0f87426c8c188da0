//! Idempotent command ids (SPEC §5) over an [`Economy`].

use hashbrown::HashTable;

use crate::code::Code;
use crate::command::Command;
use crate::economy::Economy;
use crate::name::{is_valid_name, Name};
use crate::rules::Rules;

/// A digest of a command's canonical form, computed by the edge that parsed it. Two commands
/// with the same id and different fingerprints are an `id_conflict`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub u128);

/// The outcome of one submitted command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub result: Result<(), Code>,
    /// A retry of an id already seen with the same command: nothing was done, and `result` is
    /// the first outcome.
    pub retry: bool,
}

impl Outcome {
    pub fn code(&self) -> Option<Code> {
        self.result.err()
    }
}

#[derive(Clone)]
struct IdRecord {
    id: Name,
    fingerprint: [u64; 2],
    /// 0 for an accepted command, otherwise the rejection code.
    code: u8,
}

impl IdRecord {
    fn result(&self) -> Result<(), Code> {
        match self.code {
            0 => Ok(()),
            c => Err(Code::from_u8(c).expect("stored codes are valid")),
        }
    }
}

fn split(fp: Fingerprint) -> [u64; 2] {
    [(fp.0 >> 64) as u64, fp.0 as u64]
}

/// An economy with its command ids: every id is used once, for ever.
#[derive(Clone)]
pub struct Ledger {
    economy: Economy,
    ids: HashTable<IdRecord>,
    hasher: foldhash::fast::RandomState,
    applied: u64,
    rejected: u64,
}

impl Ledger {
    pub fn new(rules: Rules) -> Ledger {
        Ledger {
            economy: Economy::new(rules),
            ids: HashTable::new(),
            hasher: foldhash::fast::RandomState::default(),
            applied: 0,
            rejected: 0,
        }
    }

    pub fn economy(&self) -> &Economy {
        &self.economy
    }

    /// Commands accepted.
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// Commands rejected (retries of a seen id count neither).
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// How many distinct ids have been recorded.
    pub fn ids_len(&self) -> usize {
        self.ids.len()
    }

    fn hash(&self, id: &str) -> u64 {
        use core::hash::BuildHasher;
        self.hasher.hash_one(id.as_bytes())
    }

    /// The first outcome recorded for `id`, with the fingerprint of its command.
    pub fn lookup(&self, id: &str) -> Option<(Fingerprint, Result<(), Code>)> {
        self.ids.find(self.hash(id), |r| r.id == id).map(|r| {
            let fp = (r.fingerprint[0] as u128) << 64 | r.fingerprint[1] as u128;
            (Fingerprint(fp), r.result())
        })
    }

    /// Submits one command. `id` is the command's `"id"` field when it is a string (`None` when
    /// missing or not a string); `command` is the parsed command, or the code that parsing
    /// gave. Checks the id, then applies the command once.
    pub fn submit(
        &mut self,
        id: Option<&str>,
        fingerprint: Fingerprint,
        command: Result<&Command, Code>,
    ) -> Outcome {
        let Some(id) = id.filter(|id| is_valid_name(id)) else {
            self.rejected += 1;
            return Outcome {
                result: Err(Code::InvalidCommand),
                retry: false,
            };
        };
        let hash = self.hash(id);
        let hasher = &self.hasher;
        let rehash = |r: &IdRecord| {
            use core::hash::BuildHasher;
            hasher.hash_one(r.id.as_bytes())
        };
        // One probe finds the id or the slot for it; the economy is a separate field, so the
        // command can run while the slot is held.
        match self.ids.entry(hash, |r| r.id == id, rehash) {
            hashbrown::hash_table::Entry::Occupied(seen) => {
                let seen = seen.get();
                if seen.fingerprint == split(fingerprint) {
                    return Outcome {
                        result: seen.result(),
                        retry: true,
                    };
                }
                self.rejected += 1;
                Outcome {
                    result: Err(Code::IdConflict),
                    retry: false,
                }
            }
            hashbrown::hash_table::Entry::Vacant(slot) => {
                let result = command.and_then(|c| self.economy.execute(c));
                match result {
                    Ok(()) => self.applied += 1,
                    Err(_) => self.rejected += 1,
                }
                slot.insert(IdRecord {
                    id: id.into(),
                    fingerprint: split(fingerprint),
                    code: result.err().map_or(0, Code::to_u8),
                });
                Outcome {
                    result,
                    retry: false,
                }
            }
        }
    }

    /// Reserves room for `ids` more command ids.
    pub fn reserve_ids(&mut self, ids: usize) {
        let hasher = &self.hasher;
        self.ids.reserve(ids, |r| {
            use core::hash::BuildHasher;
            hasher.hash_one(r.id.as_bytes())
        });
    }

    pub fn reserve_capacity(&mut self, accounts: usize, orders: usize) {
        self.economy.reserve_capacity(accounts, orders);
    }
}
