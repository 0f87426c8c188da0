//! Rebuilding an economy from a snapshot (see `snapshot.rs`): each part checked as it goes in.

use super::{Economy, Totals};
use std::collections::BTreeSet;

use crate::account::{Account, AccountId, Kind};
use crate::collectible::{Collectible, CollectibleState, Policy};
use crate::index::Entry;
use crate::name::is_valid_name;
use crate::order::Order;
use crate::rules::Rules;
use crate::units::Price;

impl Economy {
    // ----- restoring from a snapshot (see snapshot.rs) -----

    pub(crate) fn restore_start(
        rules: Rules,
        totals: Totals,
        high_water: Option<Price>,
        settled_days: BTreeSet<u32>,
    ) -> Result<Economy, String> {
        rules
            .check(totals.issued_atoms.0)
            .map_err(|why| format!("snapshot rules are invalid: {why}"))?;
        // Rules valid with `issued` atoms out are valid with none.
        let mut e = Economy::new(rules);
        e.reserve_fen = totals.reserve_fen.0;
        e.dividend_pool_fen = totals.dividend_pool_fen.0;
        e.escrow_fen = totals.escrow_fen.0;
        e.paid_out_fen = totals.paid_out_fen.0;
        e.contributions_fen = totals.contributions_fen.0;
        e.circulating_atoms = totals.circulating_atoms.0;
        e.treasury_atoms = totals.treasury_atoms.0;
        e.burned_atoms = totals.burned_atoms.0;
        e.issued_atoms = totals.issued_atoms.0;
        e.high_water = high_water;
        e.settled_days = settled_days;
        Ok(e)
    }

    pub(crate) fn restore_account(&mut self, account: Account) -> Result<(), String> {
        if self.accounts.find(&account.name).is_some() {
            return Err(format!("account {} appears twice", account.name));
        }
        if let Some(r) = account.referrer() {
            let ok = (r as usize) < self.accounts.len() && self.accounts.get(r).is_consumer();
            if !ok || account.kind != Kind::Consumer {
                return Err(format!("account {} has an invalid referrer", account.name));
            }
        }
        self.stable_total_fen = self
            .stable_total_fen
            .checked_add(account.stable_fen)
            .ok_or("stable total overflows")?;
        self.atoms_total = self
            .atoms_total
            .checked_add(account.atoms)
            .ok_or("atoms total overflows")?;
        self.quota_total_fen = self
            .quota_total_fen
            .checked_add(account.quota_fen)
            .ok_or("quota total overflows")?;
        self.exits_total += account.exits as u64;
        self.accounts.insert(account);
        Ok(())
    }

    /// Restores what account `id` is owed (after every account).
    pub(crate) fn restore_owed(&mut self, id: u64, fen: u64, since: i64) -> Result<(), String> {
        if id >= self.accounts.len() as u64 || fen == 0 {
            return Err(format!("owed entry for account {id} is not valid"));
        }
        self.owed_total_fen = self
            .owed_total_fen
            .checked_add(fen)
            .ok_or("owed total overflows")?;
        self.accounts.update_extras(id as AccountId, |x| {
            x.owed_fen = fen;
            x.owed_since = since;
        });
        Ok(())
    }

    pub(crate) fn restore_settled(&mut self, settled: u64) {
        self.settled_fen = settled;
    }

    pub(crate) fn restore_clock(&mut self, clock: i64, policy: Policy) {
        self.clock = clock;
        self.policy = policy;
    }

    /// Restores a collectible (after every account), locking its atoms with its owner.
    pub(crate) fn restore_collectible(&mut self, c: Collectible) -> Result<(), String> {
        let owner_ok =
            (c.owner as usize) < self.accounts.len() && self.accounts.get(c.owner).is_consumer();
        let names_ok = is_valid_name(&c.name)
            && is_valid_name(&c.series)
            && c.venue.as_deref().is_none_or(is_valid_name)
            && self.collectibles.find_id(&c.name).is_none();
        if !owner_ok || !names_ok {
            return Err(format!("collectible {} is not valid", c.name));
        }
        if c.state != CollectibleState::Dissolved {
            let locked = self.accounts.extras(c.owner).locked_atoms;
            let total = locked
                .checked_add(c.atoms)
                .and_then(|_| self.locked_total.checked_add(c.atoms))
                .ok_or("locked atoms overflow")?;
            self.locked_total = total;
            self.accounts
                .update_extras(c.owner, |x| x.locked_atoms += c.atoms);
        }
        self.collectibles.insert(c);
        Ok(())
    }

    pub(crate) fn restore_order(&mut self, order: Order) -> Result<(), String> {
        let n = self.accounts.len() as u32;
        let (consumer, merchant) = (order.consumer, order.merchant);
        let kinds_ok = consumer < n
            && merchant < n
            && self.accounts.get(consumer).is_consumer()
            && !self.accounts.get(merchant).is_consumer();
        if !kinds_ok || self.orders.find(&order.name).is_some() {
            return Err(format!("order {} is invalid or appears twice", order.name));
        }
        self.orders.restore(order)
    }

    /// Rebuilds derived state after restoring, and checks every invariant.
    pub(crate) fn restore_finish(&mut self) -> Result<(), String> {
        let mut entries = Vec::new();
        self.indexed_count = 0;
        for id in 0..self.accounts.len() as AccountId {
            let a = self.accounts.get_mut(id);
            a.indexed = a.kind == Kind::Consumer && a.atoms > 0;
            if a.indexed {
                entries.push(Entry::new(a.quota_fen, a.atoms, id, a.version));
                self.indexed_count += 1;
            }
        }
        self.index.replace(entries, self.accounts.as_slice());
        self.check_full()
            .map_err(|broken| format!("restored state breaks an invariant: {broken}"))
    }
}
