//! Registration and the two phases of an order: payment, then confirmation or refund (SPEC §5, §6).

use super::{ConfirmQuote, Economy};
use crate::units::{Atoms, Fen};

use crate::account::{Account, AccountId, Kind, NO_REFERRER};
use crate::code::Code;
use crate::command::{Amount, OptionalAmount};
use crate::effects::Grant;
use crate::name::is_valid_name;
use crate::order::{Order, OrderId, OrderStatus};
use crate::risk::Signals;
use crate::units::{bps_floor, to_u64};

/// The money an order's confirmation moves, by its rates fixed at payment (SPEC §6).
struct ConfirmAmounts {
    eligible_fen: u64,
    reserve_in_fen: u64,
    dividend_in_fen: u64,
    quota_fen: u64,
}

/// What confirming `o` contributes, the one computation `confirm_order` and its preview share.
fn confirm_amounts(o: &Order, rates: &crate::rules::OrderRates) -> ConfirmAmounts {
    let eligible_fen = if rates.stable_payment_earns {
        o.cash_fen + o.stable_fen
    } else {
        o.cash_fen
    };
    ConfirmAmounts {
        eligible_fen,
        reserve_in_fen: bps_floor(eligible_fen, rates.reserve_bps as u64),
        dividend_in_fen: bps_floor(eligible_fen, rates.dividend_bps as u64),
        quota_fen: bps_floor(eligible_fen, rates.quota_multiplier_bps as u64),
    }
}

impl Economy {
    // ----- registration -----

    pub(super) fn register_consumer(
        &mut self,
        account: &str,
        referrer: Option<&str>,
    ) -> Result<(), Code> {
        let referrer_id = match referrer {
            None => NO_REFERRER,
            Some(r) => self
                .accounts
                .find(r)
                .filter(|&id| self.accounts.get(id).is_consumer())
                .ok_or(Code::UnknownReferrer)?,
        };
        self.register(account, Kind::Consumer, referrer_id)?;
        let id = (self.accounts.len() - 1) as AccountId;
        self.track_registration(id, (referrer_id != NO_REFERRER).then_some(referrer_id));
        Ok(())
    }

    pub(super) fn register_merchant(&mut self, account: &str) -> Result<(), Code> {
        self.register(account, Kind::Merchant, NO_REFERRER)
    }

    pub(super) fn register(
        &mut self,
        account: &str,
        kind: Kind,
        referrer: AccountId,
    ) -> Result<(), Code> {
        if !is_valid_name(account) {
            return Err(Code::InvalidCommand);
        }
        if self.accounts.find(account).is_some() {
            return Err(Code::DuplicateAccount);
        }
        self.accounts
            .insert(Account::new(account.into(), kind, referrer));
        Ok(())
    }

    // ----- orders -----

    pub(super) fn pay_order(
        &mut self,
        order: &str,
        consumer: &str,
        merchant: &str,
        (cash_fen, stable_fen): (Amount, Amount),
        signals: Option<&Signals>,
    ) -> Result<(), Code> {
        self.prefetch_signals(signals);
        let consumer_id = self.require_buyer(consumer)?;
        let merchant_id = self.require_kind(merchant, Kind::Merchant)?;
        if !is_valid_name(order) {
            return Err(Code::InvalidCommand);
        }
        if self.orders.find(order).is_some() {
            return Err(Code::DuplicateOrder);
        }
        let (Some(cash_fen), Some(stable_fen)) = (cash_fen, stable_fen) else {
            return Err(Code::InvalidAmount);
        };
        let total_fen = cash_fen as u128 + stable_fen as u128;
        if total_fen < 1 || total_fen > self.rules.order_max_fen as u128 {
            return Err(Code::InvalidAmount);
        }
        if stable_fen > self.accounts.get(consumer_id).stable_fen {
            return Err(Code::InsufficientStable);
        }

        self.sub_stable(consumer_id, stable_fen);
        self.escrow_fen += stable_fen;
        self.flows.to_escrow_fen += stable_fen;
        let rates = self.rules.order_rates();
        let id = self.orders.insert(
            Order {
                name: order.into(),
                consumer: consumer_id,
                merchant: merchant_id,
                cash_fen,
                stable_fen,
                rates: 0,
                status: OrderStatus::Pending,
                paid_seq: self.command_seq,
            },
            rates,
        );
        self.screen_order(id, consumer_id, merchant_id, total_fen as u64, signals);
        Ok(())
    }

    /// The consumer paying: `require_kind(consumer, Kind::Consumer)`. While the risk rules are
    /// on they will read the consumer's last orders, whose ring is found by account id through
    /// a slot: the slot starts loading as soon as the name table gives the position, beside
    /// the account's own record, so it is there when the rules look.
    fn require_buyer(&self, consumer: &str) -> Result<AccountId, Code> {
        if !self.risk.rules.enabled {
            return self.require_kind(consumer, Kind::Consumer);
        }
        let recent = &self.risk.tracking.recent;
        let id = (self.accounts)
            .find_hinted(consumer, |id| recent.prefetch_slot(id))
            .ok_or(Code::UnknownAccount)?;
        self.check_kind(id, Kind::Consumer)
    }

    /// A pending order that no hold keeps from confirmation (SPEC §6, §17).
    fn require_confirmable(&self, order: &str) -> Result<(OrderId, &Order), Code> {
        let (id, o) = self.require_pending(order)?;
        if self.risk.is_held(id) {
            return Err(Code::OrderHeld);
        }
        Ok((id, o))
    }

    pub(super) fn confirm_order(&mut self, order: &str) -> Result<(), Code> {
        let (order_id, _) = self.require_confirmable(order)?;
        self.confirm_pending(order_id);
        Ok(())
    }

    /// Confirms a pending order (§6): `confirm_order`, or a reviewer's approval (§17).
    pub(super) fn confirm_pending(&mut self, order_id: OrderId) {
        let o = self.orders.get(order_id);
        let rates = self.orders.rates(o);
        let (consumer, merchant, stable_fen) = (o.consumer, o.merchant, o.stable_fen);
        let ConfirmAmounts {
            eligible_fen,
            reserve_in_fen,
            dividend_in_fen,
            quota_fen,
        } = confirm_amounts(o, &rates);
        let price = self.price();

        let buyer_value_fen = bps_floor(reserve_in_fen, rates.reward_bps as u64);
        self.grant(consumer, price.atoms_for(buyer_value_fen));
        let referrer = self.accounts.get(consumer).referrer();
        if let Some(referrer) = referrer {
            let referrer_value_fen = bps_floor(reserve_in_fen, rates.referral_bps as u64);
            self.grant(referrer, price.atoms_for(referrer_value_fen));
        }

        self.reserve_fen += reserve_in_fen;
        self.dividend_pool_fen += dividend_in_fen;
        self.flows.to_reserve_fen += reserve_in_fen;
        self.flows.to_dividend_pool_fen += dividend_in_fen;
        self.contributions_fen += reserve_in_fen + dividend_in_fen;
        self.quota_total_fen += quota_fen;
        let buyer = self.accounts.get_mut(consumer);
        buyer.quota_fen += quota_fen;
        buyer.spent_fen += eligible_fen;
        self.reindex(consumer);
        self.raise_tier(consumer);
        if let Some(referrer) = referrer {
            self.reindex(referrer);
            self.raise_tier(referrer);
        }

        self.escrow_fen -= stable_fen;
        self.add_stable(merchant, stable_fen);
        self.finish_order(order_id, OrderStatus::Confirmed);
    }

    pub(super) fn refund_order(
        &mut self,
        order: &str,
        cash_fen: OptionalAmount,
        stable_fen: OptionalAmount,
    ) -> Result<(), Code> {
        let (order_id, o) = self.require_pending(order)?;
        let (cash_fen, stable_fen) = match (cash_fen, stable_fen) {
            (None, None) => (o.cash_fen, o.stable_fen),
            (cash, stable) => (
                cash.unwrap_or(Some(0)).ok_or(Code::InvalidAmount)?,
                stable.unwrap_or(Some(0)).ok_or(Code::InvalidAmount)?,
            ),
        };
        if cash_fen > o.cash_fen || stable_fen > o.stable_fen || cash_fen + stable_fen < 1 {
            return Err(Code::InvalidAmount);
        }
        self.refund_pending(order_id, cash_fen, stable_fen);
        Ok(())
    }

    /// Refunds part of a pending order (§6), or all of it: `refund_order`, or a rejection or
    /// an expiry (§17). The amounts are within what is left.
    fn refund_pending(&mut self, order_id: OrderId, cash_fen: u64, stable_fen: u64) {
        let o = self.orders.get(order_id);
        let consumer = o.consumer;
        let left_fen = (o.cash_fen - cash_fen) + (o.stable_fen - stable_fen);

        let o = self.orders.get_mut(order_id);
        o.cash_fen -= cash_fen;
        o.stable_fen -= stable_fen;
        self.escrow_fen -= stable_fen;
        self.add_stable(consumer, stable_fen);
        if left_fen == 0 {
            self.finish_order(order_id, OrderStatus::Refunded);
        }
        self.note_refund(order_id, consumer, left_fen == 0);
    }

    /// Refunds everything left of a pending order.
    pub(super) fn refund_all(&mut self, order_id: OrderId) {
        let o = self.orders.get(order_id);
        let (cash_fen, stable_fen) = (o.cash_fen, o.stable_fen);
        self.refund_pending(order_id, cash_fen, stable_fen);
    }

    pub(super) fn finish_order(&mut self, order: OrderId, status: OrderStatus) {
        let o = self.orders.get_mut(order);
        debug_assert_eq!(o.status, OrderStatus::Pending);
        o.status = status;
        self.orders.note_left_pending();
    }

    /// Grants up to `want` atoms to `id`: newly issued atoms up to the cap first, then treasury
    /// atoms. What neither covers is not granted; its value stays in the reserve (SPEC §6).
    pub(super) fn grant(&mut self, id: AccountId, want: u128) {
        let unissued = self.rules.cap_atoms().saturating_sub(self.issued_atoms);
        let new_atoms = want.min(unissued as u128) as u64;
        let from_treasury = (want - new_atoms as u128).min(self.treasury_atoms as u128) as u64;
        let atoms = new_atoms + from_treasury;
        if atoms == 0 {
            return;
        }
        self.issued_atoms += new_atoms;
        self.treasury_atoms -= from_treasury;
        self.circulating_atoms += atoms;
        self.add_atoms(id, atoms);
        self.effects.grants.push(Grant {
            account: id,
            atoms: Atoms(atoms),
            from_treasury: Atoms(from_treasury),
        });
    }

    /// What `confirm_order` of `order` would do now, without doing it: the reserve and pool
    /// contributions, the quota, and the points the buyer and referrer would receive at the
    /// current price, within the issuance cap (before any exits the higher price causes). For previews; the command itself decides.
    pub fn quote_confirm(&self, order: &str) -> Result<ConfirmQuote, Code> {
        let (_, o) = self.require_confirmable(order)?;
        let rates = self.orders.rates(o);
        let amounts = confirm_amounts(o, &rates);
        let reserve_in_fen = amounts.reserve_in_fen;
        let price = self.price();
        // As `grant` does: new issuance up to the cap, then the treasury, buyer first.
        let mut available = self.rules.cap_atoms().saturating_sub(self.issued_atoms) as u128
            + self.treasury_atoms as u128;
        let mut grant = |bps: u16| {
            let want = price.atoms_for(bps_floor(reserve_in_fen, bps as u64));
            let atoms = want.min(available);
            available -= atoms;
            to_u64(atoms)
        };
        let buyer_atoms = grant(rates.reward_bps);
        let referrer = self.accounts.get(o.consumer).referrer();
        let referrer_atoms = referrer.map_or(0, |_| grant(rates.referral_bps));
        Ok(ConfirmQuote {
            eligible_fen: Fen(amounts.eligible_fen),
            reserve_in_fen: Fen(reserve_in_fen),
            dividend_in_fen: Fen(amounts.dividend_in_fen),
            quota_fen: Fen(amounts.quota_fen),
            buyer_atoms: Atoms(buyer_atoms),
            referrer: referrer.map(|r| self.accounts.get(r).name.to_string()),
            referrer_atoms: Atoms(referrer_atoms),
        })
    }
}
