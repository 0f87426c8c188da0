//! Buyback, conversion to stable points, and merchants' redemption (SPEC §7), with their previews.

use super::{Economy, Quote};
use crate::effects::Sale;
use crate::units::{Atoms, Fen};

use crate::account::{AccountId, Kind};
use crate::code::Code;
use crate::command::Amount;
use crate::effects::{Grant, Payout};
use crate::name::is_valid_name;
use crate::units::{bps_ceil, mul_div_floor, to_u64};

impl Economy {
    // ----- buyback, conversion, redemption (SPEC §7) -----

    pub(super) fn sell(&mut self, account: &str, atoms: Amount) -> Result<(), Code> {
        let id = self.require_seller(account, false)?;
        let atoms = self.require_atoms(id, atoms)?;
        let (gross_fen, fee_fen) = self.sell_atoms(id, atoms);
        self.effects.sale = Some(Sale {
            atoms: Atoms(atoms),
            gross: Fen(gross_fen),
            fee: Fen(fee_fen),
        });
        self.reindex(id);
        Ok(())
    }

    /// What `sell` (or, with `convert`, `convert_to_stable`) of `atoms` by `account` would pay
    /// now, without doing it: the value at the current price and the fee, by the command's own
    /// arithmetic and checks. For previews; the command itself decides.
    pub fn quote_sale(&self, account: &str, atoms: Amount, convert: bool) -> Result<Quote, Code> {
        let id = self.require_seller(account, convert)?;
        let atoms = self.require_atoms(id, atoms)?;
        let (value_fen, fee_fen) = self.sale_value(atoms, convert);
        Ok(Quote {
            atoms: Atoms(atoms),
            value_fen: Fen(value_fen),
            fee_fen: Fen(fee_fen),
        })
    }

    /// The checks before the amount: the account exists (and is a consumer, to convert), and
    /// is not frozen (SPEC §16).
    fn require_seller(&self, account: &str, convert: bool) -> Result<AccountId, Code> {
        let id = if convert {
            self.require_kind(account, Kind::Consumer)?
        } else {
            self.require_account(account)?
        };
        self.require_not_frozen(id)?;
        Ok(id)
    }

    /// The value of `atoms` now and the fee on it (the sell fee, or the conversion fee).
    pub(super) fn sale_value(&self, atoms: u64, convert: bool) -> (u64, u64) {
        let value_fen = self.value_of(atoms);
        let bps = if convert {
            self.rules.convert_fee_bps
        } else {
            self.rules.sell_fee_bps
        };
        (value_fen, bps_ceil(value_fen, bps))
    }

    /// Buys `atoms` back from `id` at the current price and burns them. Returns gross and fee.
    pub(super) fn sell_atoms(&mut self, id: AccountId, atoms: u64) -> (u64, u64) {
        let (gross_fen, fee_fen) = self.sale_value(atoms, false);
        let net_fen = gross_fen - fee_fen;
        self.take_out_of_circulation(atoms);
        self.reserve_fen -= net_fen;
        self.paid_out_fen += net_fen;
        self.owe(id, net_fen);
        self.flows.owed_added_fen += net_fen;
        self.flows.fees_kept_fen += fee_fen;
        self.burned_atoms += atoms;
        self.sub_atoms(id, atoms);
        if self.accounts.get(id).is_consumer() {
            self.lower_quota(id, gross_fen);
        }
        (gross_fen, fee_fen)
    }

    /// `floor(atoms × reserve / circulating)`: what `atoms` are worth to the reserve now.
    pub(super) fn value_of(&self, atoms: u64) -> u64 {
        debug_assert!(atoms <= self.circulating_atoms);
        to_u64(mul_div_floor(
            atoms,
            self.reserve_fen,
            self.circulating_atoms,
        ))
    }

    /// Lowers circulation, remembering the price if it is the last moment points circulate.
    pub(super) fn take_out_of_circulation(&mut self, atoms: u64) {
        if atoms == self.circulating_atoms {
            self.high_water = Some(self.price());
        }
        self.circulating_atoms -= atoms;
    }

    pub(super) fn convert_to_stable(&mut self, account: &str, atoms: Amount) -> Result<(), Code> {
        let id = self.require_seller(account, true)?;
        let atoms = self.require_atoms(id, atoms)?;
        let (value_fen, fee_fen) = self.sale_value(atoms, true);
        let credit_fen = value_fen - fee_fen;
        self.flows.fees_kept_fen += fee_fen;
        self.take_out_of_circulation(atoms);
        self.reserve_fen -= credit_fen;
        self.treasury_atoms += atoms;
        self.sub_atoms(id, atoms);
        self.add_stable(id, credit_fen);
        self.lower_quota(id, value_fen);
        self.reindex(id);
        self.effects.sale = Some(Sale {
            atoms: Atoms(atoms),
            gross: Fen(value_fen),
            fee: Fen(fee_fen),
        });
        Ok(())
    }

    pub(super) fn redeem_stable(&mut self, account: &str, fen: Amount) -> Result<(), Code> {
        let id = self.require_kind(account, Kind::Merchant)?;
        let fen = fen.filter(|&f| f >= 1).ok_or(Code::InvalidAmount)?;
        if fen > self.accounts.get(id).stable_fen {
            return Err(Code::InsufficientStable);
        }
        let want = self.price().atoms_for(fen);
        if want < 1 {
            return Err(Code::AmountTooSmall);
        }
        let unissued = self.rules.cap_atoms().saturating_sub(self.issued_atoms);
        if want > self.treasury_atoms as u128 + unissued as u128 {
            return Err(Code::SupplyExhausted);
        }
        let atoms = want as u64;
        let from_treasury = atoms.min(self.treasury_atoms);
        self.treasury_atoms -= from_treasury;
        self.issued_atoms += atoms - from_treasury;
        self.circulating_atoms += atoms;
        self.sub_stable(id, fen);
        self.reserve_fen += fen;
        self.add_atoms(id, atoms);
        self.effects.grants.push(Grant {
            account: id,
            atoms: Atoms(atoms),
            from_treasury: Atoms(from_treasury),
        });
        Ok(())
    }

    // ----- payouts (SPEC §14) -----

    /// Adds a seller's net to what the brand owes it.
    fn owe(&mut self, id: AccountId, net_fen: u64) {
        if net_fen == 0 {
            return;
        }
        let clock = self.clock;
        self.accounts.update_extras(id, |x| {
            if x.owed_fen == 0 {
                x.owed_since = clock;
            }
            x.owed_fen += net_fen;
        });
        self.owed_total_fen += net_fen;
    }

    /// Moves `amount_fen` of what `account` is owed to the settled total. No points or reserve
    /// move: the cash left the reserve at the sale or exit.
    pub(super) fn record_payout(
        &mut self,
        account: &str,
        amount_fen: Amount,
        reference: &str,
    ) -> Result<(), Code> {
        let id = self.require_account(account)?;
        if !is_valid_name(reference) {
            return Err(Code::InvalidCommand);
        }
        let amount = amount_fen.filter(|&a| a >= 1).ok_or(Code::InvalidAmount)?;
        if amount > self.accounts.extras(id).owed_fen {
            return Err(Code::PayoutExceedsOwed);
        }
        self.accounts.update_extras(id, |x| x.owed_fen -= amount);
        self.owed_total_fen -= amount;
        self.settled_fen += amount;
        self.effects.recorded_payout = Some(Payout {
            account: id,
            paid: Fen(amount),
        });
        Ok(())
    }
}
