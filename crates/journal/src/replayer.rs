//! Re-deriving an economy from its journal, checking everything on the way.

use jifen_core::{Ledger, Price};
use jifen_wire::parse_command_line;

use crate::entry::{outcome_text, Entry, Hash};
use crate::JournalError;

/// Applies journal entries to a ledger, checking for every entry: the next seq, the hash chain,
/// that re-running the command gives the stored outcome, and the O(1) invariants of SPEC §10
/// (with the price never falling from the first issuance on).
pub struct Replayer {
    pub economy: String,
    pub ledger: Ledger,
    pub seq: u64,
    pub hash: Hash,
    price_floor: Option<Price>,
}

impl Replayer {
    pub fn new(economy: &str, ledger: Ledger, seq: u64, hash: Hash) -> Replayer {
        let price_floor =
            (ledger.economy().totals().issued_atoms > 0).then(|| ledger.economy().price());
        Replayer {
            economy: economy.to_string(),
            ledger,
            seq,
            hash,
            price_floor,
        }
    }

    fn corrupt(&self, seq: u64, what: String) -> JournalError {
        JournalError::Corrupt {
            economy: self.economy.clone(),
            seq,
            what,
        }
    }

    /// Checks only the chain: the next seq and the hash (no engine work).
    pub fn check_link(
        &self,
        e: &Entry,
        prev_seq: u64,
        prev_hash: &Hash,
    ) -> Result<(), JournalError> {
        if e.seq != prev_seq + 1 {
            return Err(self.corrupt(
                prev_seq + 1,
                format!("entry {} follows entry {prev_seq}: a gap", e.seq),
            ));
        }
        if !e.chains_from(prev_hash) {
            return Err(self.corrupt(
                e.seq,
                "hash chain broken: the entry or its hash was changed".into(),
            ));
        }
        Ok(())
    }

    pub fn apply(&mut self, e: &Entry) -> Result<(), JournalError> {
        self.check_link(e, self.seq, &self.hash)?;
        let parsed = parse_command_line(&e.command);
        let outcome = self.ledger.submit(
            parsed.id.as_deref(),
            parsed.fingerprint,
            parsed.command.as_ref().map_err(|c| *c),
        );
        if outcome.retry || outcome.seq != e.seq {
            return Err(self.corrupt(
                e.seq,
                format!(
                    "the command replays as seq {} (retry: {})",
                    outcome.seq, outcome.retry
                ),
            ));
        }
        let recomputed = outcome_text(outcome.result);
        if recomputed != e.outcome {
            return Err(self.corrupt(
                e.seq,
                format!("stored outcome {:?}, recomputed {recomputed:?}", e.outcome),
            ));
        }
        let economy = self.ledger.economy();
        if let Err(broken) = economy.check_fast() {
            return Err(self.corrupt(e.seq, format!("invariant broken: {broken}")));
        }
        if economy.totals().issued_atoms > 0 {
            let price = economy.price();
            if let Some(floor) = self.price_floor {
                if price < floor {
                    return Err(self.corrupt(e.seq, format!("price fell from {floor} to {price}")));
                }
            }
            self.price_floor = Some(price);
        }
        self.seq = e.seq;
        self.hash = e.hash;
        Ok(())
    }
}
