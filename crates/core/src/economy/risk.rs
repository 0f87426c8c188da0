//! SPEC §17: risk controls. Evaluating the rules when an order is paid, holding it, and the
//! decisions that release a hold: approval (a confirmation), rejection and expiry (a full
//! refund), or extension. Money never moves here except through `confirm_order` and
//! `refund_order`, so a held order's money stays in escrow and it earns nothing.

use super::Economy;
use crate::account::AccountId;
use crate::code::Code;
use crate::members::is_valid_text;
use crate::name::is_valid_name;
use crate::order::OrderId;
use crate::risk::{
    Decision, Hold, Reason, RecentOrder, Review, Ring, RiskRule, RiskRules, SignalKind, Signals,
    Trust, MEDIAN_MIN_ORDERS, NOTE_CHARS_MAX, RECENT_ORDERS, REFEREES_MAX, REFUND_MIN_ORDERS,
    WINDOW_HOURS_MAX,
};

const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

fn reason(rule: RiskRule, figure: u64, threshold: u64) -> Reason {
    Reason {
        rule,
        figure,
        threshold,
        signal: None,
    }
}

/// The median of the amounts of `recent` (the lower middle of an even count), without
/// allocating.
fn median_fen(recent: &Ring) -> u64 {
    let mut amounts = [0u64; RECENT_ORDERS];
    let n = recent.len();
    amounts[..n].copy_from_slice(recent.amounts());
    *amounts[..n].select_nth_unstable((n - 1) / 2).1
}

impl Economy {
    /// The risk controls: rules, trust lists and holds (SPEC §17).
    pub fn risk(&self) -> &crate::risk::Risk {
        &self.risk
    }

    pub(super) fn set_risk_rules(&mut self, rules: Option<&RiskRules>) -> Result<(), Code> {
        let rules = rules
            .filter(|r| r.is_valid())
            .ok_or(Code::InvalidRiskRules)?;
        self.risk.rules = *rules;
        Ok(())
    }

    pub(super) fn set_trust(&mut self, account: &str, list: &str) -> Result<(), Code> {
        let id = self.require_account(account)?;
        let trust = match list {
            "allow" => Some(Trust::Allow),
            "deny" => Some(Trust::Deny),
            "none" => None,
            _ => return Err(Code::InvalidCommand),
        };
        match trust {
            Some(t) => self.risk.trust.insert(id, t),
            None => self.risk.trust.remove(&id),
        };
        Ok(())
    }

    pub(super) fn record_signals(&mut self, account: &str, signals: &Signals) -> Result<(), Code> {
        let id = self.require_account(account)?;
        if signals.is_empty() {
            return Err(Code::InvalidCommand);
        }
        self.remember_signals(id, signals);
        Ok(())
    }

    /// Adds `account` to the accounts seen with each of `signals`.
    fn remember_signals(&mut self, account: AccountId, signals: &Signals) {
        // No rule reads the network prefix, so it is not remembered.
        for (kind, hash) in signals.iter().filter(|(k, _)| *k != SignalKind::Network) {
            self.risk.tracking.signals.add(kind, hash, account);
        }
    }

    /// A hint when an order is paid, while the rules are on: start loading the signal table's
    /// slots for the order's values, which the rules read last.
    pub(super) fn prefetch_signals(&self, signals: Option<&Signals>) {
        if let Some(signals) = signals.filter(|_| self.risk.rules.enabled) {
            for (kind, hash) in signals.iter().filter(|(k, _)| *k != SignalKind::Network) {
                self.risk.tracking.signals.prefetch(kind, hash);
            }
        }
    }

    /// After a registration, while the rules are on: its clock, and its referrer's referee.
    pub(super) fn track_registration(&mut self, id: AccountId, referrer: Option<AccountId>) {
        if !self.risk.rules.enabled {
            return;
        }
        let now = self.clock;
        let oldest = now - WINDOW_HOURS_MAX as i64 * HOUR;
        let t = &mut self.risk.tracking;
        t.registered.push_back((id, now));
        while t.registered.front().is_some_and(|&(_, at)| at < oldest) {
            t.registered.pop_front();
        }
        if let Some(r) = referrer {
            let times = t.referees.entry(r).or_default();
            times.push_back(now);
            while times.len() > REFEREES_MAX as usize + 1
                || times.front().is_some_and(|&at| at < oldest)
            {
                times.pop_front();
            }
        }
    }

    /// After a payment, while the rules are on: the reasons to hold it (none: it is not held),
    /// then what the rules remember of it.
    pub(super) fn screen_order(
        &mut self,
        order: OrderId,
        buyer: AccountId,
        merchant: AccountId,
        fen: u64,
        signals: Option<&Signals>,
    ) {
        if !self.risk.rules.enabled {
            return;
        }
        let signals = signals.copied().unwrap_or_default();
        let trust = self.trust_verdict(buyer, merchant);
        let mut reasons = match trust {
            Some(Trust::Deny) => vec![reason(RiskRule::DenyList, 0, 0)],
            Some(Trust::Allow) => Vec::new(),
            None => self.reasons(buyer, fen),
        };
        if !signals.is_empty() {
            self.screen_signals(buyer, merchant, &signals, trust.is_none(), &mut reasons);
        }
        let now = self.clock;
        self.risk.tracking.recent.list(buyer).push(RecentOrder {
            order,
            at: now,
            fen,
            refunded: false,
        });
        if !reasons.is_empty() {
            self.hold(order, reasons);
        }
    }

    fn hold(&mut self, order: OrderId, reasons: Vec<Reason>) {
        let expires_at = self.clock + self.risk.rules.hold_days as i64 * DAY;
        let index = self.risk.holds.len() as u32;
        self.risk.holds.push(Hold {
            order,
            reasons,
            seq: self.command_seq,
            at: self.clock,
            expires_at,
            reviews: Vec::new(),
        });
        self.risk.by_order.insert(order, index);
        self.risk.open.insert((expires_at, order));
        self.effects.held = Some(order);
    }

    /// A trust list's word on an order by `buyer` at `merchant`: deny if either is denied,
    /// else allow if either is allowed, else none (the rules decide).
    fn trust_verdict(&self, buyer: AccountId, merchant: AccountId) -> Option<Trust> {
        if self.risk.trust.is_empty() {
            return None;
        }
        let trust = [self.risk.trust_of(buyer), self.risk.trust_of(merchant)];
        if trust.contains(&Some(Trust::Deny)) {
            return Some(Trust::Deny);
        }
        trust.contains(&Some(Trust::Allow)).then_some(Trust::Allow)
    }

    /// Why the rules that read no signal would hold an order of `fen` by `buyer` now.
    fn reasons(&self, buyer: AccountId, fen: u64) -> Vec<Reason> {
        let mut out = Vec::new();
        self.amount_reasons(buyer, fen, &mut out);
        self.history_reasons(buyer, fen, &mut out);
        self.referee_reasons(buyer, &mut out);
        out
    }

    /// The rules that read signals, with one lookup per signal value that also remembers the
    /// buyer with it (each value is judged before its own update, and no rule reads another's):
    /// referees sharing an address or device, then self-dealing, as SPEC §17 lists them.
    /// `judge` is false when a trust list has decided; the values are still remembered.
    fn screen_signals(
        &mut self,
        buyer: AccountId,
        merchant: AccountId,
        signals: &Signals,
        judge: bool,
        out: &mut Vec<Reason>,
    ) {
        let rules = self.risk.rules;
        let referrer = (judge && rules.ring_shared_signals)
            .then(|| self.accounts.get(buyer).referrer())
            .flatten();
        let accounts = &self.accounts;
        let in_ring = |a: AccountId, referrer: AccountId| {
            a != buyer && (a == referrer || accounts.get(a).referrer() == Some(referrer))
        };
        let mut dealing = Vec::new();
        for (kind, hash) in signals.iter().filter(|(k, _)| *k != SignalKind::Network) {
            let table = &mut self.risk.tracking.signals;
            table.judge_and_add(kind, hash, buyer, |seen| {
                if let Some(referrer) = referrer.filter(|_| kind != SignalKind::Phone) {
                    let shared = seen.iter().filter(|&a| in_ring(a, referrer)).count() as u64;
                    if shared > 0 {
                        out.push(Reason {
                            signal: Some(kind),
                            ..reason(RiskRule::RingSharedSignal, shared, 0)
                        });
                    }
                }
                if judge && rules.self_dealing && seen.contains(merchant) {
                    dealing.push(Reason {
                        signal: Some(kind),
                        ..reason(RiskRule::SelfDealing, 1, 0)
                    });
                }
            });
        }
        out.append(&mut dealing);
    }

    /// Velocity and large orders.
    fn amount_reasons(&self, buyer: AccountId, fen: u64, out: &mut Vec<Reason>) {
        let r = &self.risk.rules;
        if r.velocity_orders > 0 || r.velocity_fen > 0 {
            let since = self.clock - DAY;
            let (mut count, mut sum) = (1u64, fen as u128);
            if let Some(recent) = self.risk.tracking.recent.get(buyer) {
                let (n, fen) = recent.since(since);
                count += n;
                sum += fen as u128;
            }
            if r.velocity_orders > 0 && count > r.velocity_orders as u64 {
                out.push(reason(
                    RiskRule::VelocityOrders,
                    count,
                    r.velocity_orders as u64,
                ));
            }
            if r.velocity_fen > 0 && sum > r.velocity_fen as u128 {
                let sum = u64::try_from(sum).unwrap_or(u64::MAX);
                out.push(reason(RiskRule::VelocityFen, sum, r.velocity_fen));
            }
        }
        if r.large_order_fen > 0 && fen > r.large_order_fen {
            out.push(reason(RiskRule::LargeOrder, fen, r.large_order_fen));
        }
    }

    /// The consumer's own history: the median, refunds and the account's age.
    fn history_reasons(&self, buyer: AccountId, fen: u64, out: &mut Vec<Reason>) {
        let r = &self.risk.rules;
        if let Some(recent) = self.risk.tracking.recent.get(buyer) {
            let times = r.large_order_median_times as u64;
            // The median is at least the smallest amount, so an order within `times` the
            // smallest is within `times` the median, without finding it.
            let smallest = recent.amounts().iter().copied().min().unwrap_or(0);
            if times > 0
                && recent.len() >= MEDIAN_MIN_ORDERS
                && fen > smallest.saturating_mul(times)
            {
                let limit = median_fen(recent).saturating_mul(times);
                if fen > limit {
                    out.push(reason(RiskRule::LargeOrderMedian, fen, limit));
                }
            }
            let n = recent.len() as u64;
            let refunded = recent.refunded();
            if r.refund_rate_pct > 0
                && recent.len() >= REFUND_MIN_ORDERS
                && refunded * 100 > r.refund_rate_pct as u64 * n
            {
                let pct = refunded * 100 / n;
                out.push(reason(RiskRule::RefundRate, pct, r.refund_rate_pct as u64));
            }
        }
        if r.new_account_hours > 0 && r.new_account_fen > 0 && fen > r.new_account_fen {
            let registered = &self.risk.tracking.registered;
            if let Ok(i) = registered.binary_search_by_key(&buyer, |&(id, _)| id) {
                let age = self.clock - registered[i].1;
                if age < r.new_account_hours as i64 * HOUR {
                    out.push(reason(RiskRule::NewAccount, fen, r.new_account_fen));
                }
            }
        }
    }

    /// Referral rings: the referrer's recent referees.
    fn referee_reasons(&self, buyer: AccountId, out: &mut Vec<Reason>) {
        let r = &self.risk.rules;
        let Some(referrer) = self.accounts.get(buyer).referrer() else {
            return;
        };
        if r.ring_referees > 0 {
            let since = self.clock - r.ring_hours as i64 * HOUR;
            let count = self
                .risk
                .tracking
                .referees
                .get(&referrer)
                .map_or(0, |t| t.iter().filter(|&&at| at > since).count() as u64);
            if count > r.ring_referees as u64 {
                out.push(reason(
                    RiskRule::RingReferees,
                    count,
                    r.ring_referees as u64,
                ));
            }
        }
    }

    pub(super) fn review_order(
        &mut self,
        order: &str,
        decision: &str,
        reviewer: &str,
        note: &str,
    ) -> Result<(), Code> {
        let id = self.orders.find_id(order).ok_or(Code::UnknownOrder)?;
        let decision = Decision::parse_review(decision).ok_or(Code::InvalidCommand)?;
        if !is_valid_name(reviewer) || !is_valid_text(note, NOTE_CHARS_MAX, true) {
            return Err(Code::InvalidCommand);
        }
        if !self.risk.is_held(id) {
            return Err(Code::OrderNotHeld);
        }
        self.decide(id, decision, reviewer, note);
        match decision {
            Decision::Approve => self.confirm_pending(id),
            Decision::Reject => self.refund_all(id),
            _ => {}
        }
        Ok(())
    }

    /// Records `decision` on the open hold of `order`; an extension moves its expiry.
    fn decide(&mut self, order: OrderId, decision: Decision, reviewer: &str, note: &str) {
        let (seq, now, days) = (self.command_seq, self.clock, self.risk.rules.hold_days);
        let hold = self.risk.hold_mut(order).expect("an open hold");
        let old_expiry = hold.expires_at;
        hold.reviews.push(Review {
            seq,
            at: now,
            decision,
            reviewer: reviewer.into(),
            note: note.into(),
        });
        if decision == Decision::Extend {
            hold.expires_at = now + days as i64 * DAY;
        }
        let new_expiry = hold.expires_at;
        self.risk.open.remove(&(old_expiry, order));
        if decision == Decision::Extend {
            self.risk.open.insert((new_expiry, order));
        }
        self.effects.reviewed.push((order, decision));
    }

    /// A refund of a held order: marked in the consumer's recent orders, and a full refund
    /// closes the hold.
    pub(super) fn note_refund(&mut self, order: OrderId, consumer: AccountId, full: bool) {
        if let Some(recent) = self.risk.tracking.recent.get_mut(consumer) {
            recent.mark_refunded(order);
        }
        if full && self.risk.is_held(order) {
            self.decide(order, Decision::Refunded, "", "");
        }
    }

    /// After the clock moves: every hold that has run out is rejected, its money refunded.
    pub(super) fn expire_holds(&mut self) {
        while let Some(&(expires_at, order)) = self.risk.open.first() {
            if expires_at > self.clock {
                break;
            }
            self.decide(order, Decision::Expire, "", "");
            self.refund_all(order);
        }
    }
}
