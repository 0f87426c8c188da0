//! Idempotent command ids (SPEC §5) over an [`Economy`].

use crate::chunked::Chunked;
use crate::code::Code;
use crate::command::Command;
use crate::economy::Economy;
use crate::name::{is_valid_name, Name};
use crate::name_table::{NameTable, Slot};
use crate::rules::Rules;

/// A digest of a command's canonical form, computed by the edge that parsed it. Two commands
/// with the same id and different fingerprints are an `id_conflict`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub u128);

/// The outcome of one submitted command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub result: Result<(), Code>,
    /// A retry of an id already seen with the same command: nothing was done, and `result` and
    /// `seq` are those of the first submission.
    pub retry: bool,
    /// The command's place in the economy's history: the n-th recorded submission, from 1.
    /// Every submission that is not a retry is recorded (accepted or rejected), so these are
    /// gapless; a journal stores submission `seq` as its entry `seq`.
    pub seq: u64,
}

impl Outcome {
    pub fn code(&self) -> Option<Code> {
        self.result.err()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct IdRecord {
    pub id: Name,
    pub fingerprint: [u64; 2],
    /// 0 for an accepted command, otherwise the rejection code.
    pub code: u8,
    pub seq: u64,
}

impl IdRecord {
    fn result(&self) -> Result<(), Code> {
        match self.code {
            0 => Ok(()),
            c => Err(Code::from_u8(c).expect("stored codes are valid")),
        }
    }
}

pub(crate) fn split(fp: Fingerprint) -> [u64; 2] {
    [(fp.0 >> 64) as u64, fp.0 as u64]
}

pub(crate) enum Claim {
    Seen(u32),
    New,
}

/// Every id seen, in the order first seen, with a hash index.
#[derive(Clone, Default)]
pub(crate) struct Ids {
    pub list: Chunked<IdRecord>,
    by_id: NameTable,
}

impl Ids {
    /// The id index, to set aside while the ids are copied for encoding.
    pub(crate) fn name_index(&mut self) -> &mut NameTable {
        &mut self.by_id
    }

    pub fn find(&self, id: &str) -> Option<&IdRecord> {
        let list = &self.list;
        self.by_id
            .find(id, |i| &list[i as usize].id)
            .map(|i| &list[i as usize])
    }

    /// Finds `id`, or reserves index `next` for it in one probe: the record must then be pushed
    /// before any other change to the table.
    pub fn claim(&mut self, id: &str, next: u32) -> Claim {
        let list = &self.list;
        match self
            .by_id
            .claim(id, next, |i| list.get(i as usize).map_or("", |r| &r.id))
        {
            Slot::Taken(i) => Claim::Seen(i),
            Slot::Claimed => Claim::New,
        }
    }

    /// Adds a record whose id is known to be new (after [`Ids::claim`], push to `list`).
    pub fn push(&mut self, record: IdRecord) {
        let index = u32::try_from(self.list.len()).expect("more than 2^32 ids");
        self.by_id.insert_new(&record.id, index);
        self.list.push(record);
    }

    pub fn reserve(&mut self, additional: usize) {
        self.list.reserve(additional);
        self.by_id.reserve(additional);
    }
}

/// What an id table decided for a journaled submission, before the economy sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdDecision {
    /// A new id: apply the command.
    New,
    /// An id already used by another command: `id_conflict`.
    Conflict,
    /// A missing or malformed id: `invalid_command`.
    Invalid,
    /// The same id and command again: a retry (which a journal never holds).
    Retry,
}

/// A ledger's id table, taken out so that another thread can maintain it while replaying a
/// journal (ids depend only on the stream of commands, not on the economy's state).
pub struct IdTable(Ids);

impl IdTable {
    /// Decides for a submission from a journal, recording a new id with the outcome the
    /// journal stored for it. The caller must then check that applying the command gives that
    /// outcome, or the table is wrong.
    pub fn decide_journaled(
        &mut self,
        id: Option<&str>,
        fingerprint: Fingerprint,
        seq: u64,
        stored: Result<(), Code>,
    ) -> IdDecision {
        let Some(id) = id.filter(|id| is_valid_name(id)) else {
            return IdDecision::Invalid;
        };
        let next = self.0.list.len() as u32;
        match self.0.claim(id, next) {
            Claim::Seen(seen) if self.0.list[seen as usize].fingerprint == split(fingerprint) => {
                IdDecision::Retry
            }
            Claim::Seen(_) => IdDecision::Conflict,
            Claim::New => {
                self.0.list.push(IdRecord {
                    id: id.into(),
                    fingerprint: split(fingerprint),
                    code: stored.err().map_or(0, Code::to_u8),
                    seq,
                });
                IdDecision::New
            }
        }
    }
}

/// An economy with its command ids: every id is used once, for ever.
#[derive(Clone)]
pub struct Ledger {
    pub(crate) economy: Economy,
    pub(crate) ids: Ids,
    pub(crate) applied: u64,
    pub(crate) rejected: u64,
}

impl Ledger {
    pub fn new(rules: Rules) -> Ledger {
        Ledger {
            economy: Economy::new(rules),
            ids: Ids::default(),
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

    /// Submissions recorded so far: the `seq` of the last one.
    pub fn seq(&self) -> u64 {
        self.applied + self.rejected
    }

    /// How many distinct ids have been recorded.
    pub fn ids_len(&self) -> usize {
        self.ids.list.len()
    }

    /// The first outcome recorded for `id`, with the fingerprint of its command.
    pub fn lookup(&self, id: &str) -> Option<(Fingerprint, Outcome)> {
        self.ids.find(id).map(|r| {
            let fp = (r.fingerprint[0] as u128) << 64 | r.fingerprint[1] as u128;
            let outcome = Outcome {
                result: r.result(),
                retry: true,
                seq: r.seq,
            };
            (Fingerprint(fp), outcome)
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
            return self.record_rejection(Code::InvalidCommand);
        };
        let next = self.ids.list.len() as u32;
        let slot = match self.ids.claim(id, next) {
            Claim::Seen(seen) => {
                let seen = &self.ids.list[seen as usize];
                if seen.fingerprint == split(fingerprint) {
                    return Outcome {
                        result: seen.result(),
                        retry: true,
                        seq: seen.seq,
                    };
                }
                return self.record_rejection(Code::IdConflict);
            }
            Claim::New => next,
        };
        self.economy.command_seq = self.seq() + 1;
        let result = command.and_then(|c| self.economy.execute(c));
        match result {
            Ok(()) => self.applied += 1,
            Err(_) => self.rejected += 1,
        }
        let seq = self.seq();
        debug_assert_eq!(slot as usize, self.ids.list.len());
        self.ids.list.push(IdRecord {
            id: id.into(),
            fingerprint: split(fingerprint),
            code: result.err().map_or(0, Code::to_u8),
            seq,
        });
        Outcome {
            result,
            retry: false,
            seq,
        }
    }

    /// Takes the id table out (see [`IdTable`]); [`Ledger::put_ids`] puts it back.
    pub fn take_ids(&mut self) -> IdTable {
        IdTable(std::mem::take(&mut self.ids))
    }

    pub fn put_ids(&mut self, ids: IdTable) {
        self.ids = ids.0;
    }

    /// Applies a submission whose id an [`IdTable`] already decided. With the table's records
    /// matching the outcomes given here, this is exactly [`Ledger::submit`].
    pub fn submit_decided(
        &mut self,
        decision: IdDecision,
        command: Result<&Command, Code>,
    ) -> Outcome {
        match decision {
            IdDecision::Invalid => self.record_rejection(Code::InvalidCommand),
            IdDecision::Conflict => self.record_rejection(Code::IdConflict),
            IdDecision::Retry => Outcome {
                result: Err(Code::InvalidCommand),
                retry: true,
                seq: 0,
            },
            IdDecision::New => {
                self.economy.command_seq = self.seq() + 1;
                let result = command.and_then(|c| self.economy.execute(c));
                match result {
                    Ok(()) => self.applied += 1,
                    Err(_) => self.rejected += 1,
                }
                Outcome {
                    result,
                    retry: false,
                    seq: self.seq(),
                }
            }
        }
    }

    /// A rejection that is recorded in history but not under an id (a malformed id, or an id
    /// that already names another command).
    fn record_rejection(&mut self, code: Code) -> Outcome {
        self.rejected += 1;
        Outcome {
            result: Err(code),
            retry: false,
            seq: self.seq(),
        }
    }

    /// Reserves room for `ids` more command ids.
    pub fn reserve_ids(&mut self, ids: usize) {
        self.ids.reserve(ids);
    }

    pub fn reserve_capacity(&mut self, accounts: usize, orders: usize) {
        self.economy.reserve_capacity(accounts, orders);
    }

    /// A copy to encode, made without copying the name indexes: they are set aside for the
    /// copy (a move, not a copy) and put back.
    pub fn copy_to_encode(&mut self) -> LedgerToEncode {
        let accounts = std::mem::take(self.economy.accounts.name_index());
        let orders = std::mem::take(self.economy.orders.name_index());
        let ids = std::mem::take(self.ids.name_index());
        let copy = self.clone();
        *self.economy.accounts.name_index() = accounts;
        *self.economy.orders.name_index() = orders;
        *self.ids.name_index() = ids;
        LedgerToEncode(copy)
    }
}

/// A copy of a ledger made to be encoded (a background snapshot), without the name indexes of
/// accounts, orders and command ids, which encoding never reads. Those indexes are flat tables
/// (8 bytes a slot, twice the names), so copying them was the writer's one long copy: 20 to
/// 75 ms a snapshot with 6,000,000 orders, while every request waited (BENCHMARKS.md, issue
/// 25). Everything else is shared by chunk or small. It answers nothing but its encoding.
pub struct LedgerToEncode(Ledger);

impl LedgerToEncode {
    /// [`Ledger::encoded_len_hint`] of the ledger copied.
    pub fn encoded_len_hint(&self) -> usize {
        self.0.encoded_len_hint()
    }

    /// [`Ledger::encode_into`] of the ledger copied: the same bytes.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        self.0.encode_into(out)
    }
}
