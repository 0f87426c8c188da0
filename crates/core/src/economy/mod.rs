//! The economy state machine: SPEC §4 to §9.

use crate::units::{Atoms, Fen};
use std::collections::BTreeSet;

use crate::account::{Account, AccountId, Accounts, Kind, Soon};
use crate::code::Code;
use crate::collectible::{Collectibles, Policy};
use crate::command::{Amount, Command};
use crate::effects::{Effects, ExitEffect};
use crate::index::{Entry, ExitIndex};
use crate::members::Members;
use crate::order::{Order, OrderId, OrderStatus, Orders};
use crate::risk::Risk;
use crate::rules::Rules;
use crate::units::Price;

mod collectibles;
mod dividends;
mod market;
mod members;
mod orders;
mod restore;
mod risk;

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
    /// Σ payouts recorded (SPEC §14): the part of `paid_out_fen` the brand has paid.
    pub(crate) settled_fen: u64,
    /// Σ `owed_fen` over all accounts: the part not yet paid.
    pub(crate) owed_total_fen: u64,
    /// Running totals of money flows, for reports (not in the replay state).
    pub(crate) flows: Flows,
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
    /// Tiers, awards and frozen accounts (SPEC §16): nothing that computes money reads them.
    pub(crate) members: Members,
    /// Risk controls (SPEC §17): rules, trust lists, holds and what the rules remember.
    pub(crate) risk: Risk,
    effects: Effects,
}

/// A preview of a sale or conversion: [`Economy::quote_sale`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quote {
    pub atoms: Atoms,
    /// The points' value at the current price (the gross of a sale).
    pub value_fen: Fen,
    pub fee_fen: Fen,
}

impl Quote {
    /// What the holder receives: cash for a sale, stable points for a conversion.
    pub fn net_fen(&self) -> Fen {
        Fen(self.value_fen.0 - self.fee_fen.0)
    }
}

/// A preview of an order's confirmation: [`Economy::quote_confirm`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfirmQuote {
    /// The part of the payment that earns (cash, plus stable points when the rules say so).
    pub eligible_fen: Fen,
    pub reserve_in_fen: Fen,
    pub dividend_in_fen: Fen,
    pub quota_fen: Fen,
    pub buyer_atoms: Atoms,
    pub referrer: Option<String>,
    pub referrer_atoms: Atoms,
}

/// Running totals of the economy's money flows since it began, so that the flows between two
/// moments are a difference (the finance reports, docs/FINANCE.md). Derived from the commands
/// like everything else, kept in snapshots, and not part of the replay state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Flows {
    /// Confirmed orders' shares paid into the reserve, and into the dividend pool.
    pub to_reserve_fen: u64,
    pub to_dividend_pool_fen: u64,
    /// Stable points paid into pending orders.
    pub to_escrow_fen: u64,
    /// Dividends paid by settlements.
    pub dividends_paid_fen: u64,
    /// Sale, exit and conversion fees kept in the reserve.
    pub fees_kept_fen: u64,
    /// Nets of sales and exits owed to sellers (SPEC §14).
    pub owed_added_fen: u64,
}

/// A snapshot of the economy-wide figures of SPEC §4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Totals {
    pub reserve_fen: Fen,
    pub dividend_pool_fen: Fen,
    pub escrow_fen: Fen,
    pub paid_out_fen: Fen,
    /// SPEC §14: the part of `paid_out_fen` recorded as paid.
    pub settled_fen: Fen,
    /// SPEC §14: the part of `paid_out_fen` still owed (Σ over accounts).
    pub owed_fen: Fen,
    /// Σ stable points held by accounts (spendable at merchants: a liability).
    pub stable_fen: Fen,
    pub contributions_fen: Fen,
    pub circulating_atoms: Atoms,
    pub treasury_atoms: Atoms,
    pub burned_atoms: Atoms,
    pub issued_atoms: Atoms,
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
            settled_fen: 0,
            owed_total_fen: 0,
            flows: Flows::default(),
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
            members: Members::default(),
            risk: Risk::default(),
            effects: Effects::default(),
        }
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    pub fn totals(&self) -> Totals {
        Totals {
            reserve_fen: Fen(self.reserve_fen),
            dividend_pool_fen: Fen(self.dividend_pool_fen),
            escrow_fen: Fen(self.escrow_fen),
            paid_out_fen: Fen(self.paid_out_fen),
            settled_fen: Fen(self.settled_fen),
            owed_fen: Fen(self.owed_total_fen),
            stable_fen: Fen(self.stable_total_fen),
            contributions_fen: Fen(self.contributions_fen),
            circulating_atoms: Atoms(self.circulating_atoms),
            treasury_atoms: Atoms(self.treasury_atoms),
            burned_atoms: Atoms(self.burned_atoms),
            issued_atoms: Atoms(self.issued_atoms),
        }
    }

    /// Tiers, partners, awards and frozen accounts (SPEC §16).
    pub fn members(&self) -> &Members {
        &self.members
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

    /// Since when (economy clock) `account` has been owed money; `None` when it is owed nothing.
    pub fn owed_since(&self, account: AccountId) -> Option<i64> {
        let x = self.accounts.extras(account);
        (x.owed_fen > 0).then_some(x.owed_since)
    }

    /// The running totals of money flows.
    pub fn flows(&self) -> Flows {
        self.flows
    }

    /// How many forced exits there have been (Σ of every account's `exits`).
    pub fn exits_total(&self) -> u64 {
        self.exits_total
    }

    /// The high-water price, if any points were ever issued.
    pub fn high_water(&self) -> Option<Price> {
        self.high_water
    }

    /// Bytes the largest parts of the state hold on the heap, by part, counting reserved
    /// capacity: what `jifen bench memory` breaks its figure into.
    pub fn heap_bytes(&self) -> Vec<(&'static str, usize)> {
        let (accounts, account_names) = self.accounts.heap_bytes();
        let (orders, order_names) = self.orders.heap_bytes();
        let mut parts = vec![
            ("accounts", accounts),
            ("account name table", account_names),
            ("orders", orders),
            ("order name table", order_names),
        ];
        parts.extend(self.index.heap_bytes());
        parts.push(("tier status", self.members.status.capacity()));
        parts.push((
            "risk, recent orders",
            self.risk.tracking.recent.heap_bytes(),
        ));
        parts.push(("risk, signals", self.risk.tracking.signals.heap_bytes()));
        parts
    }

    /// Reserves room for `accounts` more accounts and `orders` more orders.
    pub fn reserve_capacity(&mut self, accounts: usize, orders: usize) {
        self.accounts.reserve(accounts);
        self.orders.reserve(orders);
    }

    /// Applies one command. `Err` is a rejection with its SPEC code, and then nothing changed.
    pub fn execute(&mut self, command: &Command) -> Result<(), Code> {
        self.effects.clear(self.price(), self.issued_atoms > 0);
        self.effects.tier_log_from = self.members.log.len();
        let result = self.dispatch(command);
        if result.is_ok() {
            // SPEC §14: a payout changes nothing the exit rule reads.
            if !command.leaves_the_books_alone() {
                self.run_exits();
            }
            // SPEC §16: tiers are evaluated at a settlement once its exits are done.
            if let Command::SettleDividends { .. } = command {
                self.evaluate_tiers_at_settlement();
            }
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
                signals,
            } => self.pay_order(
                order,
                consumer,
                merchant,
                (*cash_fen, *stable_fen),
                signals.as_deref(),
            ),
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
            Command::RecordPayout {
                account,
                amount_fen,
                reference,
            } => self.record_payout(account, *amount_fen, reference),
            Command::SetTiers { tiers } => self.set_tiers(tiers.as_deref()),
            Command::FreezeAccount { account, reason } => self.freeze_account(account, reason),
            Command::UnfreezeAccount { account } => self.unfreeze_account(account),
            Command::RecordAward { award, top, prizes } => {
                self.record_award(award, *top, prizes.as_deref())
            }
            Command::SetRiskRules { risk } => self.set_risk_rules(risk.as_ref()),
            Command::SetTrust { account, list } => self.set_trust(account, list),
            Command::RecordSignals { account, signals } => self.record_signals(account, signals),
            Command::ReviewOrder {
                order,
                decision,
                reviewer,
                note,
            } => self.review_order(order, decision, reviewer, note),
        }
    }

    // ----- checks shared by several commands -----

    fn require_account(&self, name: &str) -> Result<AccountId, Code> {
        self.accounts.find(name).ok_or(Code::UnknownAccount)
    }

    fn require_kind(&self, name: &str, kind: Kind) -> Result<AccountId, Code> {
        let id = self.require_account(name)?;
        self.check_kind(id, kind)
    }

    fn check_kind(&self, id: AccountId, kind: Kind) -> Result<AccountId, Code> {
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
                atoms: Atoms(top.atoms),
                gross: Fen(gross_fen),
                fee: Fen(fee_fen),
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

    /// Consumers holding growth points (kept as the exit index changes: O(1)).
    pub fn holders(&self) -> usize {
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
        // SPEC §17: a held order is pending (its money in escrow, no points), and a decision
        // left its order confirmed (approved) or refunded, never pending.
        if let Some(order) = self.effects.held {
            assert_eq!(self.orders.get(order).status, OrderStatus::Pending);
        }
        for &(order, decision) in &self.effects.reviewed {
            let status = self.orders.get(order).status;
            assert!(
                (decision == crate::risk::Decision::Extend) == (status == OrderStatus::Pending),
                "a decision {decision:?} left its order {status:?}"
            );
        }
    }
}
