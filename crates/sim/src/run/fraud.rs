//! Fraud actors and the risk controls in the simulation (issue 24): merchants ordering from
//! themselves, a ring of accounts behind one referrer sharing devices, and refunders; the
//! engine's recommended risk rules when the run has its controls on; and a reviewer who
//! rejects what fraud the rules held and approves the honest orders they held.

use jifen_core::risk::{RiskRules, SignalKind, Signals};
use jifen_core::{Command, Text};

use crate::decimal::name;
use crate::rng::Rng;
use crate::scenario::Scenario;

/// What the fraud actors need of the simulation that runs them (it implements this, so this
/// module needs nothing of it).
pub(crate) trait Host {
    fn scenario(&self) -> &Scenario;
    fn economy(&self) -> &jifen_core::Economy;
    /// Runs a command; whether it was applied.
    fn run(&mut self, command: &Command) -> bool;
    fn rng(&mut self) -> &mut Rng;
    /// The next order's name.
    fn next_order(&mut self) -> Text;
    fn tally(&mut self) -> &mut FraudTally;
    /// How many fraud accounts follow the merchants.
    fn fraud_accounts(&self) -> u64;
    /// The date (`YYYYMMDD`) of simulated day `day`.
    fn date_of(&self, day: u64) -> u32;
}

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

/// A signal hash fixed by what it stands for, as the server's keyed hash would be.
fn hash(kind: u64, who: u64) -> u64 {
    Rng::new(kind.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ who).next_u64()
}

fn signals(list: &[(SignalKind, u64)]) -> Box<Signals> {
    let mut s = Signals::default();
    for &(k, h) in list {
        s.set(k, h);
    }
    Box::new(s)
}

/// An honest consumer's own phone, address and device.
pub(crate) fn honest_signals(person: u64) -> Box<Signals> {
    signals(&[
        (SignalKind::Phone, hash(1, person)),
        (SignalKind::Address, hash(2, person)),
        (SignalKind::Device, hash(3, person)),
    ])
}

/// The ring shares three devices and one address among its members and its referrer.
fn ring_signals(member: u64) -> Box<Signals> {
    signals(&[
        (SignalKind::Device, hash(30, member % 3)),
        (SignalKind::Address, hash(20, 0)),
        (SignalKind::Phone, hash(10, 1_000 + member)),
    ])
}

/// A self-dealer's consumer account carries its merchant's phone and device.
fn merchant_signals(merchant: u64) -> Box<Signals> {
    signals(&[
        (SignalKind::Phone, hash(11, merchant)),
        (SignalKind::Device, hash(31, merchant)),
    ])
}

/// The fraud actors and the reviewer, on any [`Host`].
pub(crate) trait Actors: Host {
    /// At the start, with fraud actors: the risk rules when the controls are on, the clock at
    /// the first midnight, the self-dealing merchants' registered identities, and every
    /// fraud account (so people keep their account numbers after them).
    fn start_fraud(&mut self) {
        let Some(f) = self.scenario().fraud.clone() else {
            return;
        };
        self.advance_to_day(0);
        if self.scenario().controls {
            let risk = Some(RiskRules::RECOMMENDED);
            assert!(self.run(&Command::SetRiskRules { risk }));
        }
        for m in 0..f.self_dealers.min(self.scenario().merchants) {
            let account = name("m", m);
            let ok = self.run(&Command::RecordSignals {
                account,
                signals: merchant_signals(m),
            });
            assert!(ok, "recording a merchant's identity failed");
        }
        let register =
            |account: Text, referrer: Option<Text>| Command::RegisterConsumer { account, referrer };
        for i in 0..f.self_dealers {
            assert!(self.run(&register(name("x-self-", i), None)));
        }
        assert!(self.run(&register("x-ring-boss".into(), None)));
        assert!(self.run(&Command::RecordSignals {
            account: "x-ring-boss".into(),
            signals: ring_signals(0),
        }));
        for i in 0..f.ring_size {
            assert!(self.run(&register(name("x-ring-", i), Some("x-ring-boss".into()))));
        }
        for i in 0..f.refunders {
            assert!(self.run(&register(name("x-refund-", i), None)));
        }
    }

    /// The economy's clock at midnight (UTC) of simulated day `day`.
    fn advance_to_day(&mut self, day: u64) {
        let date = self.date_of(day);
        let at = format!("{}T00:00:00Z", jifen_core::format_day(date)).into();
        assert!(self.run(&Command::AdvanceClock { at }), "the clock");
    }

    /// The fraud actors' orders of `day`.
    fn fraud_day(&mut self, day: u64) {
        let Some(f) = self.scenario().fraud.clone() else {
            return;
        };
        let merchants = self.scenario().merchants;
        if day >= f.start_day {
            for i in 0..f.self_dealers {
                let merchant = i.min(merchants - 1);
                for _ in 0..f.self_dealer_orders_per_day {
                    let s = merchant_signals(merchant);
                    self.fraud_order(name("x-self-", i), name("m", merchant), s, false);
                }
            }
            for i in 0..f.refunders {
                for _ in 0..f.refunder_orders_per_day {
                    let merchant = name("m", self.rng().below(merchants));
                    let refund = self.rng().below(10) < 8;
                    let s = signals(&[(SignalKind::Device, hash(40, i))]);
                    self.fraud_order(name("x-refund-", i), merchant, s, refund);
                }
            }
        }
        if day >= f.ring_day && day < f.ring_day + f.ring_orders_each {
            for i in 0..f.ring_size {
                let merchant = name("m", self.rng().below(merchants));
                self.fraud_order(name("x-ring-", i), merchant, ring_signals(i), false);
            }
            // The referrer orders too, on the ring's devices.
            let merchant = name("m", self.rng().below(merchants));
            self.fraud_order("x-ring-boss".into(), merchant, ring_signals(0), false);
        }
    }

    /// One fraud order: paid, then refunded (`refund`) or confirmed; when the rules hold it,
    /// the reviewer rejects it.
    fn fraud_order(&mut self, buyer: Text, merchant: Text, s: Box<Signals>, refund: bool) {
        let order = self.next_order();
        let fen = self.scenario().fraud.as_ref().map_or(1, |f| f.order_fen);
        let paid = self.run(&Command::PayOrder {
            order: order.clone(),
            consumer: buyer,
            merchant,
            cash_fen: Some(fen),
            stable_fen: Some(0),
            signals: Some(s),
        });
        if !paid {
            return;
        }
        self.tally().fraud_orders += 1;
        let held = self.economy().effects().held.is_some();
        if held {
            self.tally().fraud_held += 1;
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
    fn review(&mut self, order: Text, decision: &str) -> bool {
        self.run(&Command::ReviewOrder {
            order,
            decision: decision.into(),
            reviewer: "sim-reviewer".into(),
            note: "".into(),
        })
    }

    /// Counts what a command granted or paid to fraud accounts.
    fn tally_fraud(&mut self) {
        if self.fraud_accounts() == 0 {
            return;
        }
        let first = self.scenario().merchants;
        let fraud = first..first + self.fraud_accounts();
        let fx = self.economy().effects();
        let price = fx.price_before;
        let (mut atoms, mut value, mut paid) = (0, 0, 0);
        for g in fx
            .grants
            .iter()
            .filter(|g| fraud.contains(&(g.account as u64)))
        {
            atoms += g.atoms.0;
            value += price.value_fen(g.atoms.0);
        }
        for p in fx
            .payouts
            .iter()
            .filter(|p| fraud.contains(&(p.account as u64)))
        {
            paid += p.paid.0;
        }
        let t = self.tally();
        t.fraud_atoms += atoms;
        t.fraud_reward_fen += value;
        t.fraud_dividends_fen += paid;
    }
}
