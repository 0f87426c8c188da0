//! SPEC §17 by example: each rule with an order just under its threshold (not held) and just
//! over it (held, with the reasons recorded as data), then the decisions on holds.

use jifen_core::risk::{
    Decision, Reason, RecentOrder, Ring, RiskRule, RiskRules, SignalKind, Signals, RECENT_ORDERS,
};
use jifen_core::{format_instant, Code, Command, Economy, OrderStatus, Rules};

const HOUR: i64 = 3600;

fn run(e: &mut Economy, c: Command) {
    e.execute(&c).unwrap_or_else(|code| panic!("{c:?}: {code}"));
}

fn at(e: &mut Economy, t: i64) {
    run(
        e,
        Command::AdvanceClock {
            at: format_instant(t).into(),
        },
    );
}

fn later(e: &mut Economy, seconds: i64) {
    let t = e.clock() + seconds;
    at(e, t);
}

fn signals(list: &[(SignalKind, u64)]) -> Option<Box<Signals>> {
    let mut s = Signals::default();
    for &(k, h) in list {
        s.set(k, h);
    }
    Some(Box::new(s))
}

fn pay_with(
    e: &mut Economy,
    consumer: &str,
    order: &str,
    fen: u64,
    sig: Option<Box<Signals>>,
) -> Vec<Reason> {
    run(
        e,
        Command::PayOrder {
            order: order.into(),
            consumer: consumer.into(),
            merchant: "shop".into(),
            cash_fen: Some(fen),
            stable_fen: Some(0),
            signals: sig,
        },
    );
    let id = e.orders().find_id(order).unwrap();
    assert_eq!(e.effects().held.is_some(), e.risk().is_held(id));
    e.risk()
        .hold_of(id)
        .map(|h| h.reasons.clone())
        .unwrap_or_default()
}

fn pay(e: &mut Economy, consumer: &str, order: &str, fen: u64) -> Vec<Reason> {
    pay_with(e, consumer, order, fen, None)
}

fn register(e: &mut Economy, account: &str, referrer: Option<&str>) {
    run(
        e,
        Command::RegisterConsumer {
            account: account.into(),
            referrer: referrer.map(Into::into),
        },
    );
}

/// An economy at 2026-12-01T00:00:00Z with one merchant, the rules `risk` on, and consumer
/// `c` registered a day ago (so the new-account rule leaves it alone).
fn economy(risk: RiskRules) -> Economy {
    let mut e = Economy::new(Rules::default());
    let start = 1_764_547_200;
    at(&mut e, start - 48 * HOUR);
    run(
        &mut e,
        Command::SetRiskRules {
            risk: Some(RiskRules {
                enabled: true,
                ..risk
            }),
        },
    );
    run(
        &mut e,
        Command::RegisterMerchant {
            account: "shop".into(),
        },
    );
    register(&mut e, "c", None);
    at(&mut e, start);
    e
}

/// Only the rules that `f` turns on.
fn only(f: impl FnOnce(&mut RiskRules)) -> RiskRules {
    let mut r = RiskRules::OFF;
    f(&mut r);
    r
}

fn one(rule: RiskRule, figure: u64, threshold: u64) -> Vec<Reason> {
    vec![Reason {
        rule,
        figure,
        threshold,
        signal: None,
    }]
}

#[test]
fn velocity_by_count() {
    let mut e = economy(only(|r| r.velocity_orders = 3));
    for i in 0..3 {
        assert!(pay(&mut e, "c", &format!("o{i}"), 100).is_empty());
    }
    assert_eq!(
        pay(&mut e, "c", "o3", 100),
        one(RiskRule::VelocityOrders, 4, 3)
    );
    // A day later the window has moved on.
    later(&mut e, 24 * HOUR);
    assert!(pay(&mut e, "c", "o4", 100).is_empty());
}

#[test]
fn velocity_by_amount() {
    let mut e = economy(only(|r| r.velocity_fen = 10_000));
    assert!(pay(&mut e, "c", "o1", 6_000).is_empty());
    assert!(pay(&mut e, "c", "o2", 4_000).is_empty());
    assert_eq!(
        pay(&mut e, "c", "o3", 1),
        one(RiskRule::VelocityFen, 10_001, 10_000)
    );
}

#[test]
fn large_orders() {
    let mut e = economy(only(|r| r.large_order_fen = 50_000));
    assert!(pay(&mut e, "c", "o1", 50_000).is_empty());
    assert_eq!(
        pay(&mut e, "c", "o2", 50_001),
        one(RiskRule::LargeOrder, 50_001, 50_000)
    );
}

#[test]
fn large_against_the_median() {
    let mut e = economy(only(|r| r.large_order_median_times = 10));
    // Fewer than three earlier orders: no median yet.
    assert!(pay(&mut e, "c", "o1", 1_000).is_empty());
    assert!(pay(&mut e, "c", "o2", 100_000).is_empty());
    assert!(pay(&mut e, "c", "o3", 2_000).is_empty());
    // Median of 1,000, 100,000, 2,000 is 2,000: the limit is 20,000.
    assert!(pay(&mut e, "c", "o4", 20_000).is_empty());
    // Median of the four is the lower middle, 2,000 again.
    assert_eq!(
        pay(&mut e, "c", "o5", 20_001),
        one(RiskRule::LargeOrderMedian, 20_001, 20_000)
    );
}

#[test]
fn self_dealing() {
    let mut e = economy(only(|r| r.self_dealing = true));
    let shop_phone = 0x1111;
    run(
        &mut e,
        Command::RecordSignals {
            account: "shop".into(),
            signals: signals(&[(SignalKind::Phone, shop_phone)]).unwrap(),
        },
    );
    let other = signals(&[(SignalKind::Phone, 0x2222), (SignalKind::Device, 7)]);
    assert!(pay_with(&mut e, "c", "o1", 100, other).is_empty());
    let same = signals(&[(SignalKind::Phone, shop_phone), (SignalKind::Device, 7)]);
    assert_eq!(
        pay_with(&mut e, "c", "o2", 100, same),
        vec![Reason {
            rule: RiskRule::SelfDealing,
            figure: 1,
            threshold: 0,
            signal: Some(SignalKind::Phone),
        }]
    );
}

#[test]
fn referral_ring_by_count() {
    let mut e = economy(only(|r| {
        r.ring_referees = 3;
        r.ring_hours = 24;
    }));
    register(&mut e, "boss", None);
    for i in 0..3 {
        register(&mut e, &format!("r{i}"), Some("boss"));
    }
    assert!(pay(&mut e, "r0", "o1", 100).is_empty());
    register(&mut e, "r3", Some("boss"));
    assert_eq!(
        pay(&mut e, "r0", "o2", 100),
        one(RiskRule::RingReferees, 4, 3)
    );
    // The referrer's own order is not a referee's.
    assert!(pay(&mut e, "boss", "o3", 100).is_empty());
    // Outside the window, the burst no longer counts.
    later(&mut e, 24 * HOUR);
    assert!(pay(&mut e, "r3", "o4", 100).is_empty());
}

#[test]
fn referral_ring_by_shared_signals() {
    let mut e = economy(only(|r| r.ring_shared_signals = true));
    register(&mut e, "boss", None);
    register(&mut e, "r1", Some("boss"));
    register(&mut e, "r2", Some("boss"));
    let device = |d: u64| signals(&[(SignalKind::Device, d)]);
    // A device of its own, and one an unrelated consumer used: not held.
    assert!(pay_with(&mut e, "c", "o0", 100, device(9)).is_empty());
    assert!(pay_with(&mut e, "r1", "o1", 100, device(9)).is_empty());
    // The second referee on the first one's device.
    assert_eq!(
        pay_with(&mut e, "r2", "o2", 100, device(9)),
        vec![Reason {
            rule: RiskRule::RingSharedSignal,
            figure: 1,
            threshold: 0,
            signal: Some(SignalKind::Device),
        }]
    );
    // The referrer's address shared with a referee.
    let address = |a: u64| signals(&[(SignalKind::Address, a)]);
    assert!(pay_with(&mut e, "boss", "o3", 100, address(5)).is_empty());
    assert_eq!(
        pay_with(&mut e, "r1", "o4", 100, address(5))[0].signal,
        Some(SignalKind::Address)
    );
}

#[test]
fn refund_abuse() {
    let mut e = economy(only(|r| r.refund_rate_pct = 50));
    // Five orders, two refunded (40 %): the sixth is not held.
    for i in 0..5 {
        assert!(pay(&mut e, "c", &format!("o{i}"), 100).is_empty());
    }
    for i in 0..2 {
        run(
            &mut e,
            Command::RefundOrder {
                order: format!("o{i}").into(),
                cash_fen: None,
                stable_fen: None,
            },
        );
    }
    assert!(pay(&mut e, "c", "o5", 100).is_empty());
    // Six orders, three refunded (50 %, not above): not held.
    run(
        &mut e,
        Command::RefundOrder {
            order: "o2".into(),
            cash_fen: Some(Some(1)),
            stable_fen: None,
        },
    );
    assert!(pay(&mut e, "c", "o6", 100).is_empty());
    // Seven orders, four refunded (57 %): held.
    run(
        &mut e,
        Command::RefundOrder {
            order: "o3".into(),
            cash_fen: None,
            stable_fen: None,
        },
    );
    assert_eq!(
        pay(&mut e, "c", "o7", 100),
        one(RiskRule::RefundRate, 57, 50)
    );
}

#[test]
fn new_accounts() {
    let mut e = economy(only(|r| {
        r.new_account_hours = 1;
        r.new_account_fen = 10_000;
    }));
    register(&mut e, "fresh", None);
    assert!(pay(&mut e, "fresh", "o1", 10_000).is_empty());
    assert_eq!(
        pay(&mut e, "fresh", "o2", 10_001),
        one(RiskRule::NewAccount, 10_001, 10_000)
    );
    // An account older than the window, and the same one an hour on.
    assert!(pay(&mut e, "c", "o3", 10_001).is_empty());
    later(&mut e, HOUR);
    assert!(pay(&mut e, "fresh", "o4", 10_001).is_empty());
}

fn trust(e: &mut Economy, account: &str, list: &str) {
    run(
        e,
        Command::SetTrust {
            account: account.into(),
            list: list.into(),
        },
    );
}

#[test]
fn trust_lists() {
    let mut e = economy(only(|r| r.large_order_fen = 100));
    trust(&mut e, "c", "allow");
    assert!(pay(&mut e, "c", "o1", 1_000).is_empty());
    trust(&mut e, "c", "none");
    assert_eq!(pay(&mut e, "c", "o2", 1_000)[0].rule, RiskRule::LargeOrder);
    trust(&mut e, "shop", "deny");
    assert_eq!(pay(&mut e, "c", "o3", 1), one(RiskRule::DenyList, 0, 0));
    assert_eq!(
        e.execute(&Command::SetTrust {
            account: "c".into(),
            list: "maybe".into()
        }),
        Err(Code::InvalidCommand)
    );
}

#[test]
fn rules_off_hold_nothing_and_remember_nothing() {
    let mut e = economy(RiskRules::RECOMMENDED);
    run(
        &mut e,
        Command::SetRiskRules {
            risk: Some(RiskRules {
                enabled: false,
                ..RiskRules::RECOMMENDED
            }),
        },
    );
    let recent_before = e.risk().tracking.recent.len();
    assert!(pay(&mut e, "c", "o1", 10_000_000).is_empty());
    assert_eq!(e.risk().tracking.recent.len(), recent_before);
    let bad = RiskRules {
        hold_days: 0,
        ..RiskRules::RECOMMENDED
    };
    assert_eq!(
        e.execute(&Command::SetRiskRules { risk: Some(bad) }),
        Err(Code::InvalidRiskRules)
    );
}

fn review(e: &mut Economy, order: &str, decision: &str) -> Result<(), Code> {
    e.execute(&Command::ReviewOrder {
        order: order.into(),
        decision: decision.into(),
        reviewer: "key-1".into(),
        note: "checked".into(),
    })
}

#[test]
fn decisions_on_holds() {
    let mut e = economy(only(|r| {
        r.large_order_fen = 100;
        r.hold_days = 2;
    }));
    for o in ["a", "b", "c1", "d"] {
        assert!(!pay(&mut e, "c", o, 10_000).is_empty());
    }
    let escrow_cash = e.totals().reserve_fen;
    // A held order is not confirmed, by anyone but a reviewer.
    assert_eq!(
        e.execute(&Command::ConfirmOrder { order: "a".into() }),
        Err(Code::OrderHeld)
    );
    assert_eq!(review(&mut e, "a", "maybe"), Err(Code::InvalidCommand));
    assert_eq!(review(&mut e, "zz", "approve"), Err(Code::UnknownOrder));
    review(&mut e, "a", "approve").unwrap();
    assert_eq!(e.orders().find("a").unwrap().status, OrderStatus::Confirmed);
    assert!(e.account("c").unwrap().atoms > 0);
    assert!(e.totals().reserve_fen > escrow_cash);
    assert_eq!(review(&mut e, "a", "reject"), Err(Code::OrderNotHeld));

    let atoms = e.account("c").unwrap().atoms;
    review(&mut e, "b", "reject").unwrap();
    assert_eq!(e.orders().find("b").unwrap().status, OrderStatus::Refunded);
    assert_eq!(e.account("c").unwrap().atoms, atoms);

    // Extended at day 1 for another 2 days; "d" expires at day 2 into a refund.
    later(&mut e, 24 * HOUR);
    review(&mut e, "c1", "extend").unwrap();
    later(&mut e, 24 * HOUR);
    let d = e.orders().find_id("d").unwrap();
    assert_eq!(e.orders().get(d).status, OrderStatus::Refunded);
    let last = e.risk().hold_of(d).unwrap().reviews.last().unwrap().clone();
    assert_eq!(last.decision, Decision::Expire);
    assert!(e.risk().is_held(e.orders().find_id("c1").unwrap()));
    later(&mut e, 24 * HOUR);
    assert_eq!(e.orders().find("c1").unwrap().status, OrderStatus::Refunded);
    assert_eq!(e.risk().open_count(), 0);
    assert_eq!(e.account("c").unwrap().atoms, atoms);
    e.check_full().unwrap();
}

/// The ring of a consumer's last orders against the list it replaced: oldest first, the
/// oldest dropped once full, a reused slot forgetting its refund, and the velocity window
/// counted from the newest.
#[test]
fn a_ring_keeps_the_last_orders_like_a_list() {
    let mut ring = Ring::default();
    let mut list = std::collections::VecDeque::new();
    for i in 0..(3 * RECENT_ORDERS as u32) {
        let o = RecentOrder {
            order: i,
            at: 100 * (i as i64 / 3),
            fen: 1 + (i as u64 * 7919) % 1000,
            refunded: false,
        };
        if list.len() == RECENT_ORDERS {
            list.pop_front();
        }
        list.push_back(o);
        ring.push(o);
        if i % 4 == 1 {
            ring.mark_refunded(i - 1);
            if let Some(r) = list.iter_mut().find(|r| r.order == i - 1) {
                r.refunded = true;
            }
        }
        assert!(ring.iter().eq(list.iter().copied()), "after order {i}");
        let refunded = list.iter().filter(|r| r.refunded).count() as u64;
        assert_eq!(ring.refunded(), refunded);
        let mut amounts: Vec<u64> = ring.amounts().to_vec();
        let mut expected: Vec<u64> = list.iter().map(|r| r.fen).collect();
        amounts.sort_unstable();
        expected.sort_unstable();
        assert_eq!(amounts, expected);
        for since in [-1, o.at - 250, o.at - 100, o.at - 1, o.at] {
            let inside = list.iter().filter(|r| r.at > since);
            let want = inside.fold((0, 0), |(n, f), r| (n + 1, f + r.fen));
            assert_eq!(ring.since(since), want, "after order {i}, since {since}");
        }
    }
    // An order dropped from the ring is no longer found.
    ring.mark_refunded(0);
    assert!(ring.iter().all(|r| r.order != 0));
}
