//! What readers see of an economy: committed state only. A [`View`] is lent by the writer
//! between batches; a [`Committed`] is a copy of it that readers keep and share off the
//! writer's thread, for views too large to compute there.

use jifen_core::Ledger;

use crate::entry::Hash;
use crate::store::EconomyMeta;

/// What a read sees: committed state only.
pub struct View<'a> {
    pub meta: &'a EconomyMeta,
    pub ledger: &'a Ledger,
    pub head_seq: u64,
    pub head_hash: Hash,
    /// The timestamp of the newest entry (0 before any).
    pub head_ts_ms: i64,
    pub last_snapshot_seq: u64,
}

/// Where a journal's committed history ends: the last entry's seq, hash and time, and the last
/// snapshot's seq.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    pub seq: u64,
    pub hash: Hash,
    pub ts_ms: i64,
    pub last_snapshot_seq: u64,
}

impl<'a> View<'a> {
    pub(crate) fn of(meta: &'a EconomyMeta, ledger: &'a Ledger, head: Head) -> View<'a> {
        View {
            meta,
            ledger,
            head_seq: head.seq,
            head_hash: head.hash,
            head_ts_ms: head.ts_ms,
            last_snapshot_seq: head.last_snapshot_seq,
        }
    }
}

/// A copy of the committed state at one head. The ledger's large tables are shared with the
/// writer's by chunk (a chunk is copied only when the writer changes it while a copy lives),
/// so making one costs little, and one copy serves every reader until the head moves.
pub struct Committed {
    pub meta: EconomyMeta,
    pub ledger: Ledger,
    pub head: Head,
}

impl Committed {
    pub(crate) fn of(meta: &EconomyMeta, ledger: &Ledger, head: Head) -> Committed {
        Committed {
            meta: meta.clone(),
            ledger: ledger.clone(),
            head,
        }
    }

    /// The copy as a [`View`], so the same code reads either.
    pub fn view(&self) -> View<'_> {
        View::of(&self.meta, &self.ledger, self.head)
    }
}
