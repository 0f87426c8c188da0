//! SPEC §16: tiers, awards and freezing. Nothing here touches money or points.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::Economy;
use crate::account::AccountId;
use crate::code::Code;
use crate::command::{Amount, Text};
use crate::members::{
    is_valid_text, Award, Downgrade, Frozen, TierTable, AWARD_TOP_MAX, PRIZE_CHARS_MAX,
    REASON_CHARS_MAX,
};
use crate::name::is_valid_name;

/// A candidate place in a ranking. Greater is worse (fewer atoms, then the later name), so a
/// max-heap keeps the worst of the best on top.
struct Place<'a> {
    atoms: u64,
    name: &'a str,
    id: AccountId,
}

impl Ord for Place<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .atoms
            .cmp(&self.atoms)
            .then_with(|| self.name.cmp(other.name))
    }
}

impl PartialOrd for Place<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Place<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Place<'_> {}

impl Economy {
    pub(super) fn set_tiers(&mut self, table: Option<&TierTable>) -> Result<(), Code> {
        let table = table
            .filter(|t| t.check().is_ok())
            .ok_or(Code::InvalidTiers)?;
        self.members.table = table.clone();
        let seq = self.command_seq;
        self.members.evaluate_all(&self.accounts, seq, true);
        Ok(())
    }

    /// After a settlement: every consumer's tier by the table's downgrade policy.
    pub(super) fn evaluate_tiers_at_settlement(&mut self) {
        if !self.members.table.settlement_may_change() {
            return;
        }
        let fresh = self.members.table.downgrade == Downgrade::AtSettlement;
        let seq = self.command_seq;
        self.members.evaluate_all(&self.accounts, seq, fresh);
    }

    /// After a confirmation: raises the tier of a consumer whose figures rose.
    pub(super) fn raise_tier(&mut self, id: AccountId) {
        let seq = self.command_seq;
        self.members.raise(id, &self.accounts, seq);
    }

    pub(super) fn freeze_account(&mut self, account: &str, reason: &str) -> Result<(), Code> {
        let id = self.require_account(account)?;
        if !is_valid_text(reason, REASON_CHARS_MAX, false) {
            return Err(Code::InvalidCommand);
        }
        if self.members.is_frozen(id) {
            return Err(Code::AccountFrozen);
        }
        let frozen = Frozen {
            reason: reason.into(),
            seq: self.command_seq,
        };
        self.members.frozen.insert(id, frozen);
        Ok(())
    }

    pub(super) fn unfreeze_account(&mut self, account: &str) -> Result<(), Code> {
        let id = self.require_account(account)?;
        self.members
            .frozen
            .remove(&id)
            .map(|_| ())
            .ok_or(Code::AccountNotFrozen)
    }

    /// SPEC §16: refuses what a frozen account may not do.
    pub(super) fn require_not_frozen(&self, id: AccountId) -> Result<(), Code> {
        if self.members.is_frozen(id) {
            Err(Code::AccountFrozen)
        } else {
            Ok(())
        }
    }

    pub(super) fn record_award(
        &mut self,
        award: &str,
        top: Amount,
        prizes: Option<&[Text]>,
    ) -> Result<(), Code> {
        if !is_valid_name(award) {
            return Err(Code::InvalidCommand);
        }
        if self.members.award(award).is_some() {
            return Err(Code::DuplicateAward);
        }
        let top = top
            .filter(|t| (1..=AWARD_TOP_MAX).contains(t))
            .ok_or(Code::InvalidAmount)?;
        let prizes = prizes
            .filter(|p| !p.is_empty() && p.len() as u64 <= top)
            .filter(|p| p.iter().all(|t| is_valid_text(t, PRIZE_CHARS_MAX, false)))
            .ok_or(Code::InvalidCommand)?;
        let ranking = self.top_holders(top as usize);
        self.members.awards.push(Award {
            name: award.into(),
            at: self.clock,
            seq: self.command_seq,
            prizes: prizes.to_vec(),
            ranking,
        });
        Ok(())
    }

    /// The `n` consumers holding the most atoms (free and locked), most first, ties by name;
    /// frozen accounts and those holding nothing are left out. O(accounts × log n).
    pub fn top_holders(&self, n: usize) -> Vec<(AccountId, u64)> {
        let mut heap: BinaryHeap<Place<'_>> = BinaryHeap::with_capacity(n + 1);
        for (id, a) in self.accounts.iter().enumerate() {
            let atoms = a.atoms + self.accounts.extras(id as AccountId).locked_atoms;
            if !a.is_consumer() || atoms == 0 || self.members.is_frozen(id as AccountId) {
                continue;
            }
            let place = Place {
                atoms,
                name: &a.name,
                id: id as AccountId,
            };
            if heap.len() < n {
                heap.push(place);
            } else if heap.peek().is_some_and(|worst| place < *worst) {
                heap.pop();
                heap.push(place);
            }
        }
        heap.into_sorted_vec()
            .into_iter()
            .map(|p| (p.id, p.atoms))
            .collect()
    }
}
