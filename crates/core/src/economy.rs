//! The economy state machine: SPEC §4 to §9.

use std::collections::BTreeSet;

use crate::account::{Account, AccountId, Accounts, Kind, Soon, NO_REFERRER};
use crate::code::Code;
use crate::collectible::{
    parse_instant, parse_sha256_hex, Collectible, CollectibleState, Collectibles, Policy,
};
use crate::command::{Amount, Command, OptionalAmount};
use crate::day::parse_day;
use crate::effects::{Effects, ExitEffect, Grant, Settlement};
use crate::index::{Entry, ExitIndex};
use crate::name::is_valid_name;
use crate::order::{Order, OrderId, OrderStatus, Orders};
use crate::rules::Rules;
use crate::units::{bps_ceil, bps_floor, div_wide, mul_div_floor, to_u64, Price};

/// One operator's economy: its reserve, pools, rules, accounts and orders.
///
/// [`Economy::execute`] applies one command. A rejected command changes nothing. After every
/// accepted command the exit rule runs to a fixed point, and in debug builds every invariant of
/// SPEC §10 that can be checked in O(1) is asserted.
#[derive(Clone)]
pub struct Economy {
    rules: Rules,
    pub(crate) reserve_fen: u64,
    pub(crate) dividend_pool_fen: u64,
    pub(crate) escrow_fen: u64,
    pub(crate) paid_out_fen: u64,
    pub(crate) contributions_fen: u64,
    pub(crate) circulating_atoms: u64,
    pub(crate) treasury_atoms: u64,
    pub(crate) burned_atoms: u64,
    pub(crate) issued_atoms: u64,
    /// The last price while points circulated; `None` before the first issuance.
    high_water: Option<Price>,
    settled_days: BTreeSet<u32>,
    pub(crate) accounts: Accounts,
    pub(crate) orders: Orders,
    index: ExitIndex,
    /// Consumers with a live entry in the exit index (those holding atoms).
    indexed_count: usize,
    /// The seq the command being applied will get; set by the ledger, recorded on orders.
    pub(crate) command_seq: u64,
    /// Running totals over all accounts, so that conservation is checked in O(1).
    pub(crate) stable_total_fen: u64,
    pub(crate) atoms_total: u64,
    /// Σ quota over all accounts: the dividend allowance not yet paid.
    pub(crate) quota_total_fen: u64,
    /// Σ forced exits over all accounts, for reports ("exits today").
    pub(crate) exits_total: u64,
    /// The economy clock, seconds since the epoch (SPEC §13); 0 until `advance_clock`.
    pub(crate) clock: i64,
    pub(crate) policy: Policy,
    pub(crate) collectibles: Collectibles,
    /// Σ atoms locked in collectibles (held or exported).
    pub(crate) locked_total: u64,
    effects: Effects,
}

/// How many entries ahead a loop over index entries fetches their accounts.
pub(crate) const PREFETCH_AHEAD: usize = 16;

/// Asks the CPU to start loading the cache lines of the first `bytes` bytes of `value`. A hint
/// only: it reads nothing and changes nothing, so it cannot affect any result.
#[inline]
pub(crate) fn prefetch_bytes<T>(value: &T, bytes: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        let first = (value as *const T).cast::<i8>();
        let fetch = |offset: usize| {
            // SAFETY: `_mm_prefetch` never dereferences its argument and never faults; SSE is
            // part of the x86_64 baseline. The pointer comes from a live reference.
            unsafe {
                core::arch::x86_64::_mm_prefetch(
                    first.wrapping_add(offset),
                    core::arch::x86_64::_MM_HINT_T0,
                )
            }
        };
        // Every 64 bytes, and the last byte: each line the range touches.
        let mut offset = 0;
        while offset < bytes {
            fetch(offset);
            offset += 64;
        }
        fetch(bytes.saturating_sub(1));
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (value, bytes);
}

/// Asks the CPU to start loading an account that will be needed soon (a hint, as above).
#[inline]
pub(crate) fn prefetch(accounts: &[Account], id: AccountId) {
    if let Some(a) = accounts.get(id as usize) {
        // The settlement fields are the first 24 bytes (see `Account`); fetch both lines when
        // they straddle two.
        prefetch_bytes(a, 24);
    }
}

/// `floor(pool × atoms / weight)`, the pro-rata share of SPEC §8, with `atoms ≤ weight`. The
/// product and the weight usually fit in 64 bits, where division is several times cheaper
/// than in 128; the result is the same either way.
#[inline]
fn share_of(pool_fen: u64, atoms: u64, weight: u128) -> u64 {
    let product = pool_fen as u128 * atoms as u128;
    // With `atoms ≤ weight` the share is at most the pool, so it fits in 64 bits whenever the
    // weight does.
    u64::try_from(weight)
        .ok()
        .and_then(|w| div_wide(product, w))
        .unwrap_or_else(|| to_u64(product / weight))
}

/// Holders paid per chunk handed to `credit`.
const PAYOUT_CHUNK: usize = 4096;

/// From this many eligible holders on, settlement credits accounts on a second thread.
const THREADED_SETTLEMENT_FROM: usize = 1 << 15;

/// Credits one chunk of a settlement's payments to the holders' accounts, and records them.
fn credit(
    accounts: &mut [Account],
    payouts: &mut Vec<(AccountId, u64)>,
    chunk: Vec<(AccountId, u64)>,
) {
    for (i, &(id, pay_fen)) in chunk.iter().enumerate() {
        // Holders come in trigger order, not account order: fetch ahead to hide the misses.
        if let Some(&(ahead, _)) = chunk.get(i + PREFETCH_AHEAD) {
            prefetch(accounts, ahead);
        }
        let holder = &mut accounts[id as usize];
        holder.quota_fen -= pay_fen;
        holder.stable_fen += pay_fen;
        holder.dividends_fen += pay_fen;
    }
    payouts.extend_from_slice(&chunk);
}

/// A snapshot of the economy-wide figures of SPEC §4.
/// A preview of a sale or conversion: [`Economy::quote_sale`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quote {
    pub atoms: u64,
    /// The points' value at the current price (the gross of a sale).
    pub value_fen: u64,
    pub fee_fen: u64,
}

impl Quote {
    /// What the holder receives: cash for a sale, stable points for a conversion.
    pub fn net_fen(&self) -> u64 {
        self.value_fen - self.fee_fen
    }
}

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

/// A preview of an order's confirmation: [`Economy::quote_confirm`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfirmQuote {
    /// The part of the payment that earns (cash, plus stable points when the rules say so).
    pub eligible_fen: u64,
    pub reserve_in_fen: u64,
    pub dividend_in_fen: u64,
    pub quota_fen: u64,
    pub buyer_atoms: u64,
    pub referrer: Option<String>,
    pub referrer_atoms: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Totals {
    pub reserve_fen: u64,
    pub dividend_pool_fen: u64,
    pub escrow_fen: u64,
    pub paid_out_fen: u64,
    pub contributions_fen: u64,
    pub circulating_atoms: u64,
    pub treasury_atoms: u64,
    pub burned_atoms: u64,
    pub issued_atoms: u64,
}

impl Economy {
    /// A new, empty economy. `rules` must be valid.
    pub fn new(rules: Rules) -> Economy {
        assert!(rules.is_valid(0), "Economy::new needs valid rules");
        Economy {
            rules,
            reserve_fen: 0,
            dividend_pool_fen: 0,
            escrow_fen: 0,
            paid_out_fen: 0,
            contributions_fen: 0,
            circulating_atoms: 0,
            treasury_atoms: 0,
            burned_atoms: 0,
            issued_atoms: 0,
            high_water: None,
            settled_days: BTreeSet::new(),
            accounts: Accounts::default(),
            orders: Orders::default(),
            index: ExitIndex::default(),
            indexed_count: 0,
            command_seq: 0,
            stable_total_fen: 0,
            atoms_total: 0,
            quota_total_fen: 0,
            exits_total: 0,
            clock: 0,
            policy: Policy::default(),
            collectibles: Collectibles::default(),
            locked_total: 0,
            effects: Effects::default(),
        }
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    pub fn totals(&self) -> Totals {
        Totals {
            reserve_fen: self.reserve_fen,
            dividend_pool_fen: self.dividend_pool_fen,
            escrow_fen: self.escrow_fen,
            paid_out_fen: self.paid_out_fen,
            contributions_fen: self.contributions_fen,
            circulating_atoms: self.circulating_atoms,
            treasury_atoms: self.treasury_atoms,
            burned_atoms: self.burned_atoms,
            issued_atoms: self.issued_atoms,
        }
    }

    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    pub fn account(&self, name: &str) -> Option<&Account> {
        self.accounts.find(name).map(|id| self.accounts.get(id))
    }

    /// A hint that a command naming `account` follows soon, for callers that know their next
    /// commands (the simulator, a batch): `Soon::Later` starts loading the name's slot in the
    /// account table, `Soon::Next` (some commands on, after `Later`) the account itself. It
    /// reads nothing it returns and changes nothing, so it cannot affect any result.
    #[inline]
    pub fn prefetch_account(&self, account: &str, soon: Soon) {
        self.accounts.prefetch(account, soon);
    }

    /// The same hint for a new order named `order`: its slot in the order table.
    #[inline]
    pub fn prefetch_new_order(&self, order: &str) {
        self.orders.prefetch_slot(order);
    }

    pub fn orders(&self) -> &Orders {
        &self.orders
    }

    pub fn settled_days(&self) -> &BTreeSet<u32> {
        &self.settled_days
    }

    /// What the last accepted command did.
    pub fn effects(&self) -> &Effects {
        &self.effects
    }

    /// The current price (SPEC §4).
    pub fn price(&self) -> Price {
        if self.circulating_atoms > 0 {
            Price {
                num_fen: self.reserve_fen,
                den_atoms: self.circulating_atoms,
            }
        } else if let Some(high_water) = self.high_water {
            high_water
        } else {
            Price::per_point(self.rules.initial_price_fen)
        }
    }

    /// The dividend quota not yet paid, over all consumers: a cap on what the pool may still pay
    /// them, not a debt.
    pub fn quota_total_fen(&self) -> u64 {
        self.quota_total_fen
    }

    /// The economy clock (seconds since the epoch).
    pub fn clock(&self) -> i64 {
        self.clock
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn collectibles(&self) -> &Collectibles {
        &self.collectibles
    }

    /// Atoms locked in collectibles.
    pub fn locked_atoms(&self) -> u64 {
        self.locked_total
    }

    /// How many forced exits there have been (Σ of every account's `exits`).
    pub fn exits_total(&self) -> u64 {
        self.exits_total
    }

    /// The high-water price, if any points were ever issued.
    pub fn high_water(&self) -> Option<Price> {
        self.high_water
    }

    /// Reserves room for `accounts` more accounts and `orders` more orders.
    pub fn reserve_capacity(&mut self, accounts: usize, orders: usize) {
        self.accounts.reserve(accounts);
        self.orders.reserve(orders);
    }

    /// Applies one command. `Err` is a rejection with its SPEC code, and then nothing changed.
    pub fn execute(&mut self, command: &Command) -> Result<(), Code> {
        self.effects.clear(self.price(), self.issued_atoms > 0);
        let result = self.dispatch(command);
        if result.is_ok() {
            self.run_exits();
            self.index
                .maybe_compact(self.indexed_count, self.accounts.as_slice());
            self.effects.price_after = self.price();
            #[cfg(debug_assertions)]
            self.debug_check();
        }
        result
    }

    fn dispatch(&mut self, command: &Command) -> Result<(), Code> {
        match command {
            Command::RegisterConsumer { account, referrer } => {
                self.register_consumer(account, referrer.as_deref())
            }
            Command::RegisterMerchant { account } => self.register_merchant(account),
            Command::PayOrder {
                order,
                consumer,
                merchant,
                cash_fen,
                stable_fen,
            } => self.pay_order(order, consumer, merchant, *cash_fen, *stable_fen),
            Command::ConfirmOrder { order } => self.confirm_order(order),
            Command::RefundOrder {
                order,
                cash_fen,
                stable_fen,
            } => self.refund_order(order, *cash_fen, *stable_fen),
            Command::Sell { account, atoms } => self.sell(account, *atoms),
            Command::ConvertToStable { account, atoms } => self.convert_to_stable(account, *atoms),
            Command::RedeemStable { account, fen } => self.redeem_stable(account, *fen),
            Command::SettleDividends { day } => self.settle_dividends(day),
            Command::SetRules { rules } => self.set_rules(rules.as_ref()),
            Command::AdvanceClock { at } => self.advance_clock(at),
            Command::SetCollectiblePolicy { policy } => {
                self.policy = policy.ok_or(Code::InvalidPolicy)?;
                Ok(())
            }
            Command::MintCollectible {
                collectible,
                account,
                series,
                atoms,
                content_sha256,
            } => self.mint_collectible(collectible, account, series, *atoms, content_sha256),
            Command::IssueCertificate {
                collectible,
                order,
                series,
                content_sha256,
            } => self.issue_certificate(collectible, order, series, content_sha256),
            Command::GiftCollectible { collectible, to } => self.gift_collectible(collectible, to),
            Command::DissolveCollectible { collectible } => self.dissolve_collectible(collectible),
            Command::ExportCollectible { collectible, venue } => {
                self.export_collectible(collectible, venue)
            }
            Command::ReturnCollectible { collectible, to } => {
                self.return_collectible(collectible, to)
            }
        }
    }

    // ----- time and collectibles (SPEC §13) -----

    fn advance_clock(&mut self, at: &str) -> Result<(), Code> {
        let at = parse_instant(at)
            .filter(|&t| t >= self.clock)
            .ok_or(Code::InvalidTime)?;
        self.clock = at;
        Ok(())
    }

    /// A new collectible's name: valid and unused.
    fn check_new_collectible(&self, name: &str) -> Result<(), Code> {
        if self.collectibles.find_id(name).is_some() {
            return Err(Code::DuplicateCollectible);
        }
        Ok(())
    }

    /// A series name and a content hash, as `mint_collectible` and `issue_certificate` take them.
    fn check_series_and_hash(series: &str, content: &str) -> Result<[u8; 32], Code> {
        if !is_valid_name(series) {
            return Err(Code::InvalidCommand);
        }
        parse_sha256_hex(content).ok_or(Code::InvalidCommand)
    }

    fn mint_collectible(
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

    fn issue_certificate(
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

    fn require_collectible(&self, name: &str, state: CollectibleState) -> Result<u32, Code> {
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

    fn lock(&mut self, owner: AccountId, atoms: u64) {
        self.accounts.get_mut(owner).locked_atoms += atoms;
        self.locked_total += atoms;
    }

    fn unlock(&mut self, owner: AccountId, atoms: u64) {
        self.accounts.get_mut(owner).locked_atoms -= atoms;
        self.locked_total -= atoms;
    }

    /// Hands collectible `id` (and its locked atoms) to `to`, acquired now.
    fn transfer_collectible(&mut self, id: u32, to: AccountId) {
        let c = self.collectibles.get(id);
        let (from, atoms) = (c.owner, c.atoms);
        self.unlock(from, atoms);
        self.lock(to, atoms);
        let clock = self.clock;
        let c = self.collectibles.get_mut(id);
        c.owner = to;
        c.acquired = clock;
    }

    fn gift_collectible(&mut self, name: &str, to: &str) -> Result<(), Code> {
        let id = self.require_collectible(name, CollectibleState::Held)?;
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

    fn dissolve_collectible(&mut self, name: &str) -> Result<(), Code> {
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

    fn export_collectible(&mut self, name: &str, venue: &str) -> Result<(), Code> {
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

    fn return_collectible(&mut self, name: &str, to: &str) -> Result<(), Code> {
        let id = self.require_collectible(name, CollectibleState::Exported)?;
        let to = self.require_kind(to, Kind::Consumer)?;
        self.transfer_collectible(id, to);
        let c = self.collectibles.get_mut(id);
        c.state = CollectibleState::Held;
        c.venue = None;
        Ok(())
    }

    // ----- checks shared by several commands -----

    fn require_account(&self, name: &str) -> Result<AccountId, Code> {
        self.accounts.find(name).ok_or(Code::UnknownAccount)
    }

    fn require_kind(&self, name: &str, kind: Kind) -> Result<AccountId, Code> {
        let id = self.require_account(name)?;
        if self.accounts.get(id).kind != kind {
            return Err(match kind {
                Kind::Consumer => Code::NotAConsumer,
                Kind::Merchant => Code::NotAMerchant,
            });
        }
        Ok(id)
    }

    fn require_pending(&self, order: &str) -> Result<(OrderId, &Order), Code> {
        let id = self.orders.find_id(order).ok_or(Code::UnknownOrder)?;
        let o = self.orders.get(id);
        if o.status != OrderStatus::Pending {
            return Err(Code::OrderNotPending);
        }
        Ok((id, o))
    }

    /// `atoms ≥ 1` and held as free atoms by `id`.
    fn require_atoms(&self, id: AccountId, atoms: Amount) -> Result<u64, Code> {
        let atoms = atoms.filter(|&a| a >= 1).ok_or(Code::InvalidAmount)?;
        if atoms > self.accounts.get(id).atoms {
            return Err(Code::InsufficientPoints);
        }
        Ok(atoms)
    }

    // ----- registration -----

    fn register_consumer(&mut self, account: &str, referrer: Option<&str>) -> Result<(), Code> {
        let referrer_id = match referrer {
            None => NO_REFERRER,
            Some(r) => self
                .accounts
                .find(r)
                .filter(|&id| self.accounts.get(id).is_consumer())
                .ok_or(Code::UnknownReferrer)?,
        };
        self.register(account, Kind::Consumer, referrer_id)
    }

    fn register_merchant(&mut self, account: &str) -> Result<(), Code> {
        self.register(account, Kind::Merchant, NO_REFERRER)
    }

    fn register(&mut self, account: &str, kind: Kind, referrer: AccountId) -> Result<(), Code> {
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

    fn pay_order(
        &mut self,
        order: &str,
        consumer: &str,
        merchant: &str,
        cash_fen: Amount,
        stable_fen: Amount,
    ) -> Result<(), Code> {
        let consumer_id = self.require_kind(consumer, Kind::Consumer)?;
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
        let rates = self.rules.order_rates();
        self.orders.insert(
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
        Ok(())
    }

    fn confirm_order(&mut self, order: &str) -> Result<(), Code> {
        let (order_id, o) = self.require_pending(order)?;
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
        self.contributions_fen += reserve_in_fen + dividend_in_fen;
        self.quota_total_fen += quota_fen;
        let buyer = self.accounts.get_mut(consumer);
        buyer.quota_fen += quota_fen;
        buyer.spent_fen += eligible_fen;
        self.reindex(consumer);
        if let Some(referrer) = referrer {
            self.reindex(referrer);
        }

        self.escrow_fen -= stable_fen;
        self.add_stable(merchant, stable_fen);
        self.finish_order(order_id, OrderStatus::Confirmed);
        Ok(())
    }

    fn refund_order(
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
        Ok(())
    }

    fn finish_order(&mut self, order: OrderId, status: OrderStatus) {
        let o = self.orders.get_mut(order);
        debug_assert_eq!(o.status, OrderStatus::Pending);
        o.status = status;
        self.orders.note_left_pending();
    }

    /// Grants up to `want` atoms to `id`: newly issued atoms up to the cap first, then treasury
    /// atoms. What neither covers is not granted; its value stays in the reserve (SPEC §6).
    fn grant(&mut self, id: AccountId, want: u128) {
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
            atoms,
            from_treasury_atoms: from_treasury,
        });
    }

    // ----- buyback, conversion, redemption (SPEC §7) -----

    fn sell(&mut self, account: &str, atoms: Amount) -> Result<(), Code> {
        let id = self.require_account(account)?;
        let atoms = self.require_atoms(id, atoms)?;
        let (gross_fen, fee_fen) = self.sell_atoms(id, atoms);
        self.effects.sale = Some((atoms, gross_fen, fee_fen));
        self.reindex(id);
        Ok(())
    }

    /// What `sell` (or, with `convert`, `convert_to_stable`) of `atoms` by `account` would pay
    /// now, without doing it: the value at the current price and the fee, by the command's own
    /// arithmetic and checks. For previews; the command itself decides.
    pub fn quote_sale(&self, account: &str, atoms: Amount, convert: bool) -> Result<Quote, Code> {
        let id = if convert {
            self.require_kind(account, Kind::Consumer)?
        } else {
            self.require_account(account)?
        };
        let atoms = self.require_atoms(id, atoms)?;
        let (value_fen, fee_fen) = self.sale_value(atoms, convert);
        Ok(Quote {
            atoms,
            value_fen,
            fee_fen,
        })
    }

    /// What `confirm_order` of `order` would do now, without doing it: the reserve and pool
    /// contributions, the quota, and the points the buyer and referrer would receive at the
    /// current price, within the issuance cap (before any exits the higher price causes). For previews; the command itself decides.
    pub fn quote_confirm(&self, order: &str) -> Result<ConfirmQuote, Code> {
        let (_, o) = self.require_pending(order)?;
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
            eligible_fen: amounts.eligible_fen,
            reserve_in_fen,
            dividend_in_fen: amounts.dividend_in_fen,
            quota_fen: amounts.quota_fen,
            buyer_atoms,
            referrer: referrer.map(|r| self.accounts.get(r).name.to_string()),
            referrer_atoms,
        })
    }

    /// The value of `atoms` now and the fee on it (the sell fee, or the conversion fee).
    fn sale_value(&self, atoms: u64, convert: bool) -> (u64, u64) {
        let value_fen = self.value_of(atoms);
        let bps = if convert {
            self.rules.convert_fee_bps
        } else {
            self.rules.sell_fee_bps
        };
        (value_fen, bps_ceil(value_fen, bps))
    }

    /// Buys `atoms` back from `id` at the current price and burns them. Returns gross and fee.
    fn sell_atoms(&mut self, id: AccountId, atoms: u64) -> (u64, u64) {
        let (gross_fen, fee_fen) = self.sale_value(atoms, false);
        let net_fen = gross_fen - fee_fen;
        self.take_out_of_circulation(atoms);
        self.reserve_fen -= net_fen;
        self.paid_out_fen += net_fen;
        self.burned_atoms += atoms;
        self.sub_atoms(id, atoms);
        if self.accounts.get(id).is_consumer() {
            self.lower_quota(id, gross_fen);
        }
        (gross_fen, fee_fen)
    }

    /// `floor(atoms × reserve / circulating)`: what `atoms` are worth to the reserve now.
    fn value_of(&self, atoms: u64) -> u64 {
        debug_assert!(atoms <= self.circulating_atoms);
        to_u64(mul_div_floor(
            atoms,
            self.reserve_fen,
            self.circulating_atoms,
        ))
    }

    /// Lowers circulation, remembering the price if it is the last moment points circulate.
    fn take_out_of_circulation(&mut self, atoms: u64) {
        if atoms == self.circulating_atoms {
            self.high_water = Some(self.price());
        }
        self.circulating_atoms -= atoms;
    }

    fn convert_to_stable(&mut self, account: &str, atoms: Amount) -> Result<(), Code> {
        let id = self.require_kind(account, Kind::Consumer)?;
        let atoms = self.require_atoms(id, atoms)?;
        let (value_fen, fee_fen) = self.sale_value(atoms, true);
        let credit_fen = value_fen - fee_fen;
        self.take_out_of_circulation(atoms);
        self.reserve_fen -= credit_fen;
        self.treasury_atoms += atoms;
        self.sub_atoms(id, atoms);
        self.add_stable(id, credit_fen);
        self.lower_quota(id, value_fen);
        self.reindex(id);
        self.effects.sale = Some((atoms, value_fen, fee_fen));
        Ok(())
    }

    fn redeem_stable(&mut self, account: &str, fen: Amount) -> Result<(), Code> {
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
            atoms,
            from_treasury_atoms: from_treasury,
        });
        Ok(())
    }

    // ----- daily dividends (SPEC §8) -----

    fn settle_dividends(&mut self, day: &str) -> Result<(), Code> {
        let day = parse_day(day).ok_or(Code::InvalidDay)?;
        if self.settled_days.contains(&day) {
            return Err(Code::AlreadySettled);
        }
        self.settled_days.insert(day);

        // Every holder in ascending trigger price; those without a quota (trigger 0) come first
        // and are not eligible. Names break ties, so the order is total.
        let entries = self.index.take_sorted(self.accounts.as_slice());
        let split = entries.partition_point(|e| e.quota_fen == 0);
        let mut weight_left: u128 = entries[split..].iter().map(|e| e.atoms as u128).sum();
        // Paying only lowers triggers: the last holder's bounds them all.
        let mut resorted = self.index.resorter(entries.len(), entries.last());
        for e in &entries[..split] {
            resorted.push_unpaid(*e);
        }

        let mut pool_left_fen = self.dividend_pool_fen;
        let mut settlement = Settlement {
            day,
            eligible: (entries.len() - split) as u64,
            ..Settlement::default()
        };
        // The payments depend only on the entries (each holds its account's quota and atoms),
        // so they are worked out here in one pass, and the holders' accounts are credited by
        // `credit`, chunk by chunk: on a second thread when there are many holders, since
        // crediting visits the accounts in trigger order and waits on memory for each. The
        // result is the same either way. Re-sorting compares fractions only, so it needs no
        // account; the few exact ties are put in name order at the end.
        let accounts = self.accounts.as_mut_slice();
        // (`execute` cleared the effects, payouts included.)
        let payouts = &mut self.effects.payouts;
        let mut pay_holders = |send: &mut dyn FnMut(Vec<(AccountId, u64)>)| {
            let mut chunk = Vec::with_capacity(PAYOUT_CHUNK);
            for &entry in &entries[split..] {
                let mut e = entry;
                let share_fen = share_of(pool_left_fen, e.atoms, weight_left);
                let pay_fen = share_fen.min(e.quota_fen);
                weight_left -= e.atoms as u128;
                if pay_fen > 0 {
                    pool_left_fen -= pay_fen;
                    // The entry is the account's only one (settlement consolidated the index)
                    // and changes with it, so no version bump is needed.
                    e.quota_fen -= pay_fen;
                    chunk.push((e.account, pay_fen));
                    settlement.paid_fen += pay_fen;
                    settlement.holders_paid += 1;
                    settlement.holders_capped += u64::from(e.quota_fen == 0);
                    if chunk.len() == PAYOUT_CHUNK {
                        send(std::mem::replace(
                            &mut chunk,
                            Vec::with_capacity(PAYOUT_CHUNK),
                        ));
                    }
                }
                resorted.push_by_trigger(e);
            }
            send(chunk);
        };
        if entries.len() - split < THREADED_SETTLEMENT_FROM {
            pay_holders(&mut |chunk| credit(accounts, payouts, chunk));
        } else {
            std::thread::scope(|scope| {
                let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<(AccountId, u64)>>(16);
                let crediting = scope.spawn(move || {
                    for chunk in rx {
                        credit(accounts, payouts, chunk);
                    }
                });
                pay_holders(&mut |chunk| {
                    // The receiver only stops when this side is done.
                    let _ = tx.send(chunk);
                });
                drop(tx);
                if let Err(panic) = crediting.join() {
                    std::panic::resume_unwind(panic);
                }
            });
        }
        let paid_fen = settlement.paid_fen;
        self.stable_total_fen += paid_fen;
        self.quota_total_fen -= paid_fen;
        self.dividend_pool_fen = pool_left_fen;
        self.index
            .put_back(entries, resorted, self.accounts.as_slice());
        self.effects.settlement = Some(settlement);
        Ok(())
    }

    // ----- rules -----

    fn set_rules(&mut self, rules: Option<&Rules>) -> Result<(), Code> {
        let rules = rules
            .filter(|r| r.is_valid(self.issued_atoms))
            .ok_or(Code::InvalidRules)?;
        self.rules = *rules;
        Ok(())
    }

    // ----- the exit rule (SPEC §9) -----

    /// Force-sells every consumer whose free points are worth their quota, lowest trigger
    /// price first, until none is left. Each exit costs O(log n).
    fn run_exits(&mut self) {
        if !self.rules.exit_enabled {
            return;
        }
        while let Some(top) = self.index.first_live(self.accounts.as_slice()) {
            if !self.qualifies_for_exit(top.quota_fen, top.atoms) {
                break;
            }
            self.index.pop(self.accounts.as_slice());
            let (gross_fen, fee_fen) = self.sell_atoms(top.account, top.atoms);
            self.lower_quota(top.account, u64::MAX);
            self.accounts.get_mut(top.account).exits += 1;
            self.exits_total += 1;
            self.reindex(top.account);
            self.effects.exits.push(ExitEffect {
                account: top.account,
                atoms: top.atoms,
                gross_fen,
                fee_fen,
            });
        }
    }

    /// `atoms × reserve ≥ quota × circulating`.
    #[inline]
    fn qualifies_for_exit(&self, quota_fen: u64, atoms: u64) -> bool {
        atoms as u128 * self.reserve_fen as u128
            >= quota_fen as u128 * self.circulating_atoms as u128
    }

    // ----- balance helpers: every change to atoms, stable and quota goes through these -----

    fn add_atoms(&mut self, id: AccountId, atoms: u64) {
        self.accounts.get_mut(id).atoms += atoms;
        self.atoms_total += atoms;
    }

    fn sub_atoms(&mut self, id: AccountId, atoms: u64) {
        self.accounts.get_mut(id).atoms -= atoms;
        self.atoms_total -= atoms;
    }

    /// Lowers a consumer's quota by up to `fen` (never below zero).
    fn lower_quota(&mut self, id: AccountId, fen: u64) {
        let account = self.accounts.get_mut(id);
        let cut = account.quota_fen.min(fen);
        account.quota_fen -= cut;
        self.quota_total_fen -= cut;
    }

    fn add_stable(&mut self, id: AccountId, fen: u64) {
        self.accounts.get_mut(id).stable_fen += fen;
        self.stable_total_fen += fen;
    }

    fn sub_stable(&mut self, id: AccountId, fen: u64) {
        self.accounts.get_mut(id).stable_fen -= fen;
        self.stable_total_fen -= fen;
    }

    /// Records a change to a consumer's atoms or quota in the exit index.
    fn reindex(&mut self, id: AccountId) {
        let account = self.accounts.get_mut(id);
        if account.kind != Kind::Consumer {
            return;
        }
        if account.indexed {
            self.indexed_count -= 1;
        }
        account.version = account.version.wrapping_add(1);
        account.indexed = account.atoms > 0;
        let entry = account
            .indexed
            .then(|| Entry::new(account.quota_fen, account.atoms, id, account.version));
        self.indexed_count += usize::from(entry.is_some());
        self.index.push(id, entry, self.accounts.as_slice());
    }

    // ----- restoring from a snapshot (see snapshot.rs) -----

    pub(crate) fn restore_start(
        rules: Rules,
        totals: [u64; 9],
        high_water: Option<Price>,
        settled_days: BTreeSet<u32>,
    ) -> Result<Economy, String> {
        let [reserve, pool, escrow, paid_out, contributions, circulating, treasury, burned, issued] =
            totals;
        rules
            .check(issued)
            .map_err(|why| format!("snapshot rules are invalid: {why}"))?;
        // Rules valid with `issued` atoms out are valid with none.
        let mut e = Economy::new(rules);
        e.reserve_fen = reserve;
        e.dividend_pool_fen = pool;
        e.escrow_fen = escrow;
        e.paid_out_fen = paid_out;
        e.contributions_fen = contributions;
        e.circulating_atoms = circulating;
        e.treasury_atoms = treasury;
        e.burned_atoms = burned;
        e.issued_atoms = issued;
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
            let locked = self.accounts.get(c.owner).locked_atoms;
            let total = locked
                .checked_add(c.atoms)
                .and_then(|_| self.locked_total.checked_add(c.atoms))
                .ok_or("locked atoms overflow")?;
            self.locked_total = total;
            self.accounts.get_mut(c.owner).locked_atoms += c.atoms;
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

    /// The number of entries in the exit index, live and stale (for tests and benchmarks).
    pub fn exit_index_len(&self) -> usize {
        self.index.len()
    }

    /// Invariant 5 in O(1): when the exit rule is on, the top of the exit index is live and
    /// below the exit line, so every other holder is too.
    pub(crate) fn check_exit_line(&self) -> Result<(), String> {
        if !self.rules.exit_enabled {
            return Ok(());
        }
        match self.index.top(self.accounts.as_slice()) {
            None => Ok(()),
            Some((_, false)) => {
                Err("exit index: the top entry is stale after the exit rule".into())
            }
            Some((top, true)) if self.qualifies_for_exit(top.quota_fen, top.atoms) => {
                let name = &self.accounts.get(top.account).name;
                Err(format!("exit: consumer {name} is over the exit line"))
            }
            Some(_) => Ok(()),
        }
    }

    pub(crate) fn indexed_count(&self) -> usize {
        self.indexed_count
    }

    #[cfg(debug_assertions)]
    fn debug_check(&self) {
        if let Err(broken) = self.check_fast() {
            panic!("invariant broken after a command: {broken}");
        }
        // Invariant 3: from the first issuance on, the price never decreases.
        if self.effects.issued_before {
            let before = self.effects.price_before;
            assert!(
                self.price() >= before,
                "price fell: {before:?} -> {:?}",
                self.price()
            );
        }
    }
}
