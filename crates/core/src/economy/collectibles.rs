//! Time, digital collectibles and certificates (SPEC §13).

use super::Economy;

use crate::account::{AccountId, Kind};
use crate::code::Code;
use crate::collectible::{parse_instant, parse_sha256_hex, Collectible, CollectibleState};
use crate::command::Amount;
use crate::name::is_valid_name;
use crate::order::OrderStatus;

impl Economy {
    // ----- time and collectibles (SPEC §13) -----

    pub(super) fn advance_clock(&mut self, at: &str) -> Result<(), Code> {
        let at = parse_instant(at)
            .filter(|&t| t >= self.clock)
            .ok_or(Code::InvalidTime)?;
        self.clock = at;
        self.expire_holds();
        Ok(())
    }

    /// A new collectible's name: valid and unused.
    pub(super) fn check_new_collectible(&self, name: &str) -> Result<(), Code> {
        if self.collectibles.find_id(name).is_some() {
            return Err(Code::DuplicateCollectible);
        }
        Ok(())
    }

    /// A series name and a content hash, as `mint_collectible` and `issue_certificate` take them.
    pub(super) fn check_series_and_hash(series: &str, content: &str) -> Result<[u8; 32], Code> {
        if !is_valid_name(series) {
            return Err(Code::InvalidCommand);
        }
        parse_sha256_hex(content).ok_or(Code::InvalidCommand)
    }

    pub(super) fn mint_collectible(
        &mut self,
        name: &str,
        account: &str,
        series: &str,
        atoms: Amount,
        content: &str,
    ) -> Result<(), Code> {
        if !is_valid_name(name) {
            return Err(Code::InvalidCommand);
        }
        let owner = self.require_kind(account, Kind::Consumer)?;
        self.check_new_collectible(name)?;
        let content_sha256 = Self::check_series_and_hash(series, content)?;
        let atoms = self.require_atoms(owner, atoms)?;
        self.sub_atoms(owner, atoms);
        self.lock(owner, atoms);
        self.reindex(owner);
        self.collectibles.insert(Collectible {
            name: name.into(),
            series: series.into(),
            owner,
            atoms,
            content_sha256,
            state: CollectibleState::Held,
            venue: None,
            acquired: self.clock,
        });
        Ok(())
    }

    pub(super) fn issue_certificate(
        &mut self,
        name: &str,
        order: &str,
        series: &str,
        content: &str,
    ) -> Result<(), Code> {
        if !is_valid_name(name) {
            return Err(Code::InvalidCommand);
        }
        let o = self.orders.find(order).ok_or(Code::UnknownOrder)?;
        if o.status != OrderStatus::Confirmed {
            return Err(Code::OrderNotConfirmed);
        }
        let owner = o.consumer;
        self.check_new_collectible(name)?;
        let content_sha256 = Self::check_series_and_hash(series, content)?;
        self.collectibles.insert(Collectible {
            name: name.into(),
            series: series.into(),
            owner,
            atoms: 0,
            content_sha256,
            state: CollectibleState::Held,
            venue: None,
            acquired: self.clock,
        });
        Ok(())
    }

    pub(super) fn require_collectible(
        &self,
        name: &str,
        state: CollectibleState,
    ) -> Result<u32, Code> {
        let id = self
            .collectibles
            .find_id(name)
            .ok_or(Code::UnknownCollectible)?;
        if self.collectibles.get(id).state != state {
            return Err(match state {
                CollectibleState::Exported => Code::CollectibleNotExported,
                _ => Code::CollectibleNotHeld,
            });
        }
        Ok(id)
    }

    pub(super) fn lock(&mut self, owner: AccountId, atoms: u64) {
        self.accounts
            .update_extras(owner, |x| x.locked_atoms += atoms);
        self.locked_total += atoms;
    }

    pub(super) fn unlock(&mut self, owner: AccountId, atoms: u64) {
        self.accounts
            .update_extras(owner, |x| x.locked_atoms -= atoms);
        self.locked_total -= atoms;
    }

    /// Hands collectible `id` (and its locked atoms) to `to`, acquired now.
    pub(super) fn transfer_collectible(&mut self, id: u32, to: AccountId) {
        let c = self.collectibles.get(id);
        let (from, atoms) = (c.owner, c.atoms);
        self.unlock(from, atoms);
        self.lock(to, atoms);
        let clock = self.clock;
        let c = self.collectibles.get_mut(id);
        c.owner = to;
        c.acquired = clock;
    }

    pub(super) fn gift_collectible(&mut self, name: &str, to: &str) -> Result<(), Code> {
        let id = self.require_collectible(name, CollectibleState::Held)?;
        self.require_not_frozen(self.collectibles.get(id).owner)?;
        if !self.policy.gifting_enabled {
            return Err(Code::GiftingDisabled);
        }
        let c = self.collectibles.get(id);
        if self.clock < c.giftable_at(&self.policy) {
            return Err(Code::HoldingPeriod);
        }
        let owner = c.owner;
        let to = self.require_kind(to, Kind::Consumer)?;
        if to == owner {
            return Err(Code::InvalidCommand);
        }
        self.transfer_collectible(id, to);
        Ok(())
    }

    pub(super) fn dissolve_collectible(&mut self, name: &str) -> Result<(), Code> {
        let id = self.require_collectible(name, CollectibleState::Held)?;
        let c = self.collectibles.get_mut(id);
        let (owner, atoms) = (c.owner, c.atoms);
        c.atoms = 0;
        c.state = CollectibleState::Dissolved;
        self.unlock(owner, atoms);
        self.add_atoms(owner, atoms);
        self.reindex(owner);
        Ok(())
    }

    pub(super) fn export_collectible(&mut self, name: &str, venue: &str) -> Result<(), Code> {
        let id = self.require_collectible(name, CollectibleState::Held)?;
        if !self.policy.exchange_enabled {
            return Err(Code::ExchangeDisabled);
        }
        if !is_valid_name(venue) {
            return Err(Code::InvalidCommand);
        }
        let c = self.collectibles.get_mut(id);
        c.state = CollectibleState::Exported;
        c.venue = Some(venue.into());
        Ok(())
    }

    pub(super) fn return_collectible(&mut self, name: &str, to: &str) -> Result<(), Code> {
        let id = self.require_collectible(name, CollectibleState::Exported)?;
        let to = self.require_kind(to, Kind::Consumer)?;
        self.transfer_collectible(id, to);
        let c = self.collectibles.get_mut(id);
        c.state = CollectibleState::Held;
        c.venue = None;
        Ok(())
    }
}
