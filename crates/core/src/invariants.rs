//! The invariants of SPEC §10.
//!
//! [`Economy::check_fast`] runs in O(1) against running totals and is asserted after every
//! command in debug builds. [`Economy::check_full`] recounts everything from the accounts and
//! orders in O(n); tests run it after every command and `jifen verify` after every entry.

use crate::account::{AccountId, Extras, Kind};
use crate::collectible::CollectibleState;
use crate::economy::Economy;
use crate::order::OrderStatus;

impl Economy {
    /// The invariants that running totals make O(1) to check.
    pub fn check_fast(&self) -> Result<(), String> {
        let money_fen = self.reserve_fen as u128
            + self.dividend_pool_fen as u128
            + self.paid_out_fen as u128
            + self.escrow_fen as u128
            + self.stable_total_fen as u128;
        if money_fen != self.contributions_fen as u128 {
            return Err(format!(
                "money: reserve {} + pool {} + paid out {} + escrow {} + stable {} != contributions {}",
                self.reserve_fen,
                self.dividend_pool_fen,
                self.paid_out_fen,
                self.escrow_fen,
                self.stable_total_fen,
                self.contributions_fen
            ));
        }
        // Invariant 7 (SPEC §14).
        if self.owed_total_fen as u128 + self.settled_fen as u128 != self.paid_out_fen as u128 {
            return Err(format!(
                "payouts: owed {} + settled {} != paid out {}",
                self.owed_total_fen, self.settled_fen, self.paid_out_fen
            ));
        }
        if self.atoms_total as u128 + self.locked_total as u128 != self.circulating_atoms as u128 {
            return Err(format!(
                "points: free {} + locked {} != circulating {}",
                self.atoms_total, self.locked_total, self.circulating_atoms
            ));
        }
        let accounted = self.circulating_atoms as u128
            + self.treasury_atoms as u128
            + self.burned_atoms as u128;
        if accounted != self.issued_atoms as u128 {
            return Err(format!(
                "points: circulating {} + treasury {} + burned {} != issued {}",
                self.circulating_atoms, self.treasury_atoms, self.burned_atoms, self.issued_atoms
            ));
        }
        if self.issued_atoms > self.rules().cap_atoms() {
            return Err(format!(
                "points: issued {} above the cap {}",
                self.issued_atoms,
                self.rules().cap_atoms()
            ));
        }
        if self.circulating_atoms > 0 && self.reserve_fen == 0 {
            return Err("points circulate with an empty reserve".into());
        }
        self.check_exit_line()
    }

    /// Every invariant that can be checked on one state, recounting from the accounts.
    /// (Invariant 3, the price never falling, and 6, determinism, compare states over time:
    /// the tests and `jifen verify` check those.)
    pub fn check_full(&self) -> Result<(), String> {
        self.check_fast()?;
        let free = self.check_accounts()?;
        let locked_sum = self.check_locked()?;
        if free.atoms + locked_sum != self.circulating_atoms as u128 {
            return Err(format!(
                "points: accounts hold {} free and {locked_sum} locked, circulating {}",
                free.atoms, self.circulating_atoms
            ));
        }
        if free.holders != self.indexed_count() {
            return Err(format!(
                "exit index: {} holders, {} indexed",
                free.holders,
                self.indexed_count()
            ));
        }
        self.check_escrow()?;
        self.check_members()?;
        self.check_risk()
    }

    /// SPEC §17: an open hold's order is pending and earns nothing; a rejected, expired or
    /// refunded hold's order was refunded whole; an approved one was confirmed. The open set
    /// is exactly the open holds.
    fn check_risk(&self) -> Result<(), String> {
        use crate::risk::Decision;
        let risk = &self.risk;
        let mut open = 0;
        for h in &risk.holds {
            let o = self.orders.get(h.order);
            let want = match h.reviews.last().map(|r| r.decision) {
                None | Some(Decision::Extend) => {
                    open += 1;
                    if !risk.open.contains(&(h.expires_at, h.order)) {
                        return Err(format!("risk: hold of {} not indexed", o.name));
                    }
                    OrderStatus::Pending
                }
                Some(Decision::Approve) => OrderStatus::Confirmed,
                Some(_) => OrderStatus::Refunded,
            };
            if o.status != want {
                return Err(format!(
                    "risk: held order {} is {}, expected {}",
                    o.name,
                    o.status.as_str(),
                    want.as_str()
                ));
            }
        }
        if open != risk.open.len() {
            return Err(format!(
                "risk: {open} open holds, {} indexed",
                risk.open.len()
            ));
        }
        Ok(())
    }

    /// SPEC §16: every status names a tier of the table, and every frozen or ranked account
    /// exists; with tiers that never fall, no consumer is below what its figures earn.
    fn check_members(&self) -> Result<(), String> {
        let m = &self.members;
        let n = self.accounts.len();
        if m.status.len() > n
            || m.frozen.keys().any(|id| *id as usize >= n)
            || m.awards
                .iter()
                .flat_map(|a| &a.ranking)
                .any(|(id, _)| *id as usize >= n)
        {
            return Err("members: an account id out of range".into());
        }
        let tiers = m.table.tiers.len();
        if m.status
            .iter()
            .any(|s| (s & !crate::members::PARTNER_BIT) as usize >= tiers)
        {
            return Err("members: a status names no tier".into());
        }
        Ok(())
    }

    /// Recounts the accounts' stable points, quotas and exits against the running totals, and
    /// checks each holder against the exit line and each merchant against having a quota.
    fn check_accounts(&self) -> Result<Recount, String> {
        let mut count = Recount::default();
        let (mut stable_fen, mut quota_fen, mut exits) = (0u128, 0u128, 0u64);
        for a in self.accounts.iter() {
            stable_fen += a.stable_fen as u128;
            count.atoms += a.atoms as u128;
            quota_fen += a.quota_fen as u128;
            exits += a.exits as u64;
            if a.kind == Kind::Consumer && a.atoms > 0 {
                count.holders += 1;
                if self.rules().exit_enabled
                    && a.atoms as u128 * self.reserve_fen as u128
                        >= a.quota_fen as u128 * self.circulating_atoms as u128
                {
                    return Err(format!("exit: consumer {} is over the exit line", a.name));
                }
            }
            if a.kind == Kind::Merchant && (a.quota_fen != 0 || a.spent_fen != 0) {
                return Err(format!("merchant {} has a quota or spending", a.name));
            }
        }
        same("stable", stable_fen, self.stable_total_fen)?;
        same("exits", exits as u128, self.exits_total)?;
        same("quota", quota_fen, self.quota_total_fen)?;
        self.check_extras()?;
        Ok(count)
    }

    /// The accounts' extras: each entry names an account and holds something, and what they
    /// are owed sums to the running total.
    fn check_extras(&self) -> Result<(), String> {
        let mut owed_fen = 0u128;
        for (id, x) in self.accounts.with_extras() {
            if id as usize >= self.accounts.len() || x == Extras::default() {
                return Err(format!("extras: entry for account {id} is out of place"));
            }
            if x.owed_fen == 0 && x.owed_since != 0 {
                return Err(format!("owed: account {id} is dated but owed nothing"));
            }
            owed_fen += x.owed_fen as u128;
        }
        same("owed", owed_fen, self.owed_total_fen)
    }

    /// Every account's locked atoms are what its live collectibles hold; returns their sum.
    fn check_locked(&self) -> Result<u128, String> {
        let mut locked = vec![0u64; self.accounts.len()];
        let mut locked_sum: u128 = 0;
        for c in self.collectibles.iter() {
            match c.state {
                CollectibleState::Dissolved if c.atoms != 0 => {
                    return Err(format!("dissolved collectible {} holds atoms", c.name));
                }
                CollectibleState::Dissolved => {}
                _ => {
                    if !self.accounts.get(c.owner).is_consumer() {
                        return Err(format!("collectible {} is owned by a merchant", c.name));
                    }
                    locked[c.owner as usize] += c.atoms;
                    locked_sum += c.atoms as u128;
                }
            }
            if (c.state == CollectibleState::Exported) != c.venue.is_some() {
                return Err(format!("collectible {} has a venue out of place", c.name));
            }
        }
        for (id, (a, want)) in self.accounts.iter().zip(&locked).enumerate() {
            let says = self.accounts.extras(id as AccountId).locked_atoms;
            if says != *want {
                return Err(format!(
                    "locked: account {} says {says}, its collectibles hold {want}",
                    a.name
                ));
            }
        }
        if locked_sum != self.locked_total as u128 {
            return Err(format!(
                "locked: collectibles hold {locked_sum}, running total {}",
                self.locked_total
            ));
        }
        Ok(locked_sum)
    }

    /// The escrow is what pending orders hold in stable points, and no pending order is empty.
    fn check_escrow(&self) -> Result<(), String> {
        let mut escrow_fen: u128 = 0;
        let mut pending = 0u64;
        for o in self
            .orders
            .iter()
            .filter(|o| o.status == OrderStatus::Pending)
        {
            pending += 1;
            escrow_fen += o.stable_fen as u128;
            if o.cash_fen + o.stable_fen == 0 {
                return Err(format!("order {} is pending with nothing left", o.name));
            }
        }
        if escrow_fen != self.escrow_fen as u128 || pending != self.orders.pending() {
            return Err(format!(
                "escrow: pending orders hold {escrow_fen} in {pending} orders, escrow is {}",
                self.escrow_fen
            ));
        }
        Ok(())
    }
}

/// What a pass over the accounts counted.
#[derive(Default)]
struct Recount {
    /// Σ free atoms.
    atoms: u128,
    /// Consumers holding free atoms.
    holders: usize,
}

/// `Err` naming `what` when a recount and its running total differ.
fn same(what: &str, recounted: u128, running: u64) -> Result<(), String> {
    if recounted == running as u128 {
        Ok(())
    } else {
        Err(format!(
            "{what}: accounts hold {recounted}, running total {running}"
        ))
    }
}
