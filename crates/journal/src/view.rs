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

/// A copy of the committed state at one head. The ledger's large tables are shared with the
/// writer's by chunk (a chunk is copied only when the writer changes it while a copy lives),
/// so making one costs little, and one copy serves every reader until the head moves.
pub struct Committed {
    pub meta: EconomyMeta,
    pub ledger: Ledger,
    pub head_seq: u64,
    pub head_hash: Hash,
    pub head_ts_ms: i64,
    pub last_snapshot_seq: u64,
}

impl Committed {
    pub(crate) fn of(view: &View<'_>) -> Committed {
        Committed {
            meta: view.meta.clone(),
            ledger: view.ledger.clone(),
            head_seq: view.head_seq,
            head_hash: view.head_hash,
            head_ts_ms: view.head_ts_ms,
            last_snapshot_seq: view.last_snapshot_seq,
        }
    }

    /// The copy as a [`View`], so the same code reads either.
    pub fn view(&self) -> View<'_> {
        View {
            meta: &self.meta,
            ledger: &self.ledger,
            head_seq: self.head_seq,
            head_hash: self.head_hash,
            head_ts_ms: self.head_ts_ms,
            last_snapshot_seq: self.last_snapshot_seq,
        }
    }
}
