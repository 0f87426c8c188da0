//! Fraud actors and the risk controls in the simulation (issue 24): merchants ordering from
//! themselves, a ring of accounts behind one referrer sharing devices, and refunders; the
//! engine's recommended risk rules when the run has its controls on; and a reviewer who
//! rejects what fraud the rules held and approves the honest orders they held.

use jifen_core::risk::{RiskRules, SignalKind, Signals};
use jifen_core::{AccountId, Command, Text};

use super::Sim;
use crate::decimal::name;
use crate::rng::Rng;

/// What the controls held, and what fraud drew, over a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FraudTally {
    pub fraud_orders: u64,
    pub fraud_held: u64,
    pub honest_orders: u64,
    pub honest_held: u64,
    /// Points granted to fraud accounts (buyers and the ring's referrer).
    pub fraud_atoms: u64,
    /// Their value at the price of each grant.
    pub fraud_reward_fen: u64,
    /// Daily rewards paid to fraud accounts.
    pub fraud_dividends_fen: u64,
}

/// The fraud accounts, registered first after the merchants.
pub(super) struct Actors {
    pub(super) self_dealers: u64,
    pub(super) ring_size: u64,
    pub(super) refunders: u64,
}

impl Actors {
    pub(super) fn count(&self) -> u64 {
        self.self_dealers + 1 + self.ring_size + self.refunders
    }
}

/// A signal hash fixed by what it stands for, as the server's keyed hash would be.
fn hash(kind: u64, who: u64) -> u64 {
    Rng::new(kind.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ who).next_u64()
}

fn signals(list: &[(SignalKind, u64)]) -> Option<Box<Signals>> {
    let mut s = Signals::default();
    for &(k, h) in list {
        s.set(k, h);
    }
    Some(Box::new(s))
}

/// An honest consumer's own phone, address and device.
pub(super) fn honest_signals(person: u64) -> Option<Box<Signals>> {
    signals(&[
        (SignalKind::Phone, hash(1, person)),
        (SignalKind::Address, hash(2, person)),
        (SignalKind::Device, hash(3, person)),
    ])
}

/// The ring shares three devices and one address among its members and its referrer.
fn ring_signals(member: u64) -> Option<Box<Signals>> {
    signals(&[
        (SignalKind::Device, hash(30, member % 3)),
        (SignalKind::Address, hash(20, 0)),
        (SignalKind::Phone, hash(10, 1_000 + member)),
    ])
}

/// A self-dealer's consumer account carries its merchant's phone and device.
fn merchant_signals(merchant: u64) -> Option<Box<Signals>> {
    signals(&[
        (SignalKind::Phone, hash(11, merchant)),
        (SignalKind::Device, hash(31, merchant)),
    ])
}

impl Sim<'_> {
    /// At the start, with fraud actors: the risk rules when the controls are on, the clock at
    /// the first midnight, the self-dealing merchants' registered identities, and every
    /// fraud account (so people keep their account numbers after them).
    pub(super) fn start_fraud(&mut self) {
        let Some(f) = self.s.fraud.clone() else {
            return;
        };
        self.advance_to_day(0);
        if self.s.controls {
            let risk = Some(RiskRules::RECOMMENDED);
            assert!(self.run(&Command::SetRiskRules { risk }));
        }
        for m in 0..f.self_dealers.min(self.s.merchants) {
            let account = name("m", m);
            let signals = *merchant_signals(m).expect("signals");
            let ok = self.run(&Command::RecordSignals {
                account,
                signals: Box::new(signals),
            });
            assert!(ok, "recording a merchant's identity failed");
        }
        let register =
            |account: Text, referrer: Option<Text>| Command::RegisterConsumer { account, referrer };
        for i in 0..f.self_dealers {
            assert!(self.run(&register(name("x-self-", i), None)));
        }
        assert!(self.run(&register("x-ring-boss".into(), None)));
        let boss = *ring_signals(0).expect("signals");
        assert!(self.run(&Command::RecordSignals {
            account: "x-ring-boss".into(),
            signals: Box::new(boss),
        }));
        for i in 0..f.ring_size {
            assert!(self.run(&register(name("x-ring-", i), Some("x-ring-boss".into()))));
        }
        for i in 0..f.refunders {
            assert!(self.run(&register(name("x-refund-", i), None)));
        }
    }

    /// The economy's clock at midnight (UTC) of simulated day `day`.
    pub(super) fn advance_to_day(&mut self, day: u64) {
        let date = super::add_days(self.s.start_day, day);
        let at = format!("{}T00:00:00Z", jifen_core::format_day(date)).into();
        assert!(self.run(&Command::AdvanceClock { at }), "the clock");
    }

    /// Whether `account` is one of the fraud actors.
    pub(super) fn is_fraud(&self, account: AccountId) -> bool {
        let first = self.s.merchants;
        (first..first + self.fraud_accounts).contains(&(account as u64))
    }

    /// The fraud actors' orders of `day`.
    pub(super) fn fraud_day(&mut self, day: u64) {
        let Some(f) = self.s.fraud.clone() else {
            return;
        };
        if day >= f.start_day {
            for i in 0..f.self_dealers {
                let merchant = i.min(self.s.merchants - 1);
                for _ in 0..f.self_dealer_orders_per_day {
                    let s = merchant_signals(merchant);
                    self.fraud_order(name("x-self-", i), name("m", merchant), s, false);
                }
            }
            for i in 0..f.refunders {
                for _ in 0..f.refunder_orders_per_day {
                    let merchant = name("m", self.rng.below(self.s.merchants));
                    let refund = self.rng.below(10) < 8;
                    let s = signals(&[(SignalKind::Device, hash(40, i))]);
                    self.fraud_order(name("x-refund-", i), merchant, s, refund);
                }
            }
        }
        if day >= f.ring_day && day < f.ring_day + f.ring_orders_each {
            for i in 0..f.ring_size {
                let merchant = name("m", self.rng.below(self.s.merchants));
                self.fraud_order(name("x-ring-", i), merchant, ring_signals(i), false);
            }
            // The referrer orders too, on the ring's devices.
            let merchant = name("m", self.rng.below(self.s.merchants));
            self.fraud_order("x-ring-boss".into(), merchant, ring_signals(0), false);
        }
    }

    /// One fraud order: paid, then refunded (`refund`) or confirmed; when the rules hold it,
    /// the reviewer rejects it.
    fn fraud_order(&mut self, buyer: Text, merchant: Text, s: Option<Box<Signals>>, refund: bool) {
        let order = name("o", self.orders);
        self.orders += 1;
        let fen = self.s.fraud.as_ref().map_or(1, |f| f.order_fen);
        let paid = self.run(&Command::PayOrder {
            order: order.clone(),
            consumer: buyer,
            merchant,
            cash_fen: Some(fen),
            stable_fen: Some(0),
            signals: s,
        });
        if !paid {
            return;
        }
        self.tally.fraud_orders += 1;
        let held = self.e.effects().held.is_some();
        if held {
            self.tally.fraud_held += 1;
            self.review(order, "reject");
        } else if refund {
            self.run(&Command::RefundOrder {
                order,
                cash_fen: None,
                stable_fen: None,
            });
        } else {
            self.run(&Command::ConfirmOrder { order });
        }
    }

    /// The reviewer's decision on a held order.
    pub(super) fn review(&mut self, order: Text, decision: &str) -> bool {
        self.run(&Command::ReviewOrder {
            order,
            decision: decision.into(),
            reviewer: "sim-reviewer".into(),
            note: "".into(),
        })
    }

    /// Counts what a command granted or paid to fraud accounts.
    pub(super) fn tally_fraud(&mut self) {
        if self.fraud_accounts == 0 {
            return;
        }
        let fx = self.e.effects();
        let price = fx.price_before;
        for g in &fx.grants {
            if self.is_fraud(g.account) {
                self.tally.fraud_atoms += g.atoms.0;
                self.tally.fraud_reward_fen += price.value_fen(g.atoms.0);
            }
        }
        for p in &fx.payouts {
            if self.is_fraud(p.account) {
                self.tally.fraud_dividends_fen += p.paid.0;
            }
        }
    }
}
