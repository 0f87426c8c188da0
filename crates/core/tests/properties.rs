//! Property tests: random command streams under random valid rules, with every SPEC §10
//! invariant checked after every command.
//!
//! A failing case shrinks to a short stream of readable `Step`s (each a `Command` in Debug form).
//! `PROPTEST_CASES` raises or lowers the number of streams.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use jifen_core::{Amount, Code, Command, Fingerprint, Ledger, Outcome, Price, Rules};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Step {
    /// A command under a fresh id.
    Fresh(Command),
    /// The n-th earlier submission again, byte for byte.
    Retry(usize),
    /// The id of the n-th earlier submission with another command.
    Conflict(usize, Command),
    /// Confirm the n-th most recently paid order (resolved when the stream runs).
    ConfirmRecent(u8),
    /// Refund part of the n-th most recently paid order.
    RefundRecent(u8, Option<Amount>, Option<Amount>),
    /// Sell, or convert, a share (in bps) of what the account holds now.
    SellShare(jifen_core::Text, u16),
    ConvertShare(jifen_core::Text, u16),
    /// Advance the clock by this many days and seconds from where it is.
    Tick(u16, u32),
    /// Lock a share (in bps) of what the consumer holds now in a new collectible.
    MintShare(jifen_core::Text, jifen_core::Text, u16),
    /// A certificate for the n-th most recently paid order.
    CertifyRecent(jifen_core::Text, u8),
    /// Record a payout of a share (in bps, up to 10,001: a fen over) of what the account is
    /// owed now (SPEC §14).
    PayShare(jifen_core::Text, u16),
    /// A decision (SPEC §17) on the n-th most recently paid order.
    ReviewRecent(u8, &'static str),
}

fn pick(prefix: &'static str, n: u32) -> impl Strategy<Value = jifen_core::Text> {
    (0..n).prop_map(move |i| format!("{prefix}{i}").into())
}

fn account() -> impl Strategy<Value = jifen_core::Text> {
    prop_oneof![
        30 => pick("c", 12),
        6 => pick("m", 3),
        1 => Just("ghost".into()),
        1 => Just("bad name!".into()),
    ]
}

fn consumer() -> impl Strategy<Value = jifen_core::Text> {
    prop_oneof![20 => pick("c", 12), 1 => account()]
}

fn merchant() -> impl Strategy<Value = jifen_core::Text> {
    prop_oneof![20 => pick("m", 3), 1 => account()]
}

/// Amounts around the scale of the rules, plus the edges of `u64` and malformed ones.
fn fen() -> impl Strategy<Value = Amount> {
    prop_oneof![
        1 => Just(None),
        1 => Just(Some(0)),
        16 => (1u64..50_000).prop_map(Some),
        1 => (1u64..1_000_000_000).prop_map(Some),
        1 => Just(Some(u64::MAX)),
    ]
}

fn atoms() -> impl Strategy<Value = Amount> {
    prop_oneof![
        1 => Just(None),
        1 => Just(Some(0)),
        8 => (1u64..4_000_000_000).prop_map(Some),
        1 => (1u64..100).prop_map(Some),
        1 => Just(Some(u64::MAX)),
    ]
}

fn optional_fen() -> impl Strategy<Value = Option<Amount>> {
    prop_oneof![3 => Just(None), 2 => fen().prop_map(Some)]
}

fn bps(max: u64) -> impl Strategy<Value = u64> {
    prop_oneof![Just(0), Just(max), 0..=max]
}

prop_compose! {
    fn valid_rules()(
        initial_price_fen in prop_oneof![Just(1u64), 1..2_000u64, Just(100_000_000)],
        reserve_bps in bps(10_000),
        dividend_share in 0..=10_000u64,
        reward_bps in bps(10_000),
        referral_share in 0..=10_000u64,
        quota_multiplier_bps in bps(100_000),
        sell_fee_bps in bps(10_000),
        convert_fee_bps in bps(3_000),
        issuance_cap_points in prop_oneof![1..300u64, Just(100_000_000_000)],
        exit_enabled in any::<bool>(),
        stable_payment_earns in any::<bool>(),
        order_max_fen in prop_oneof![Just(50_000u64), 1..1_000_000_000_000u64],
    ) -> Rules {
        let r = Rules {
            initial_price_fen,
            reserve_bps,
            reward_bps,
            referral_bps: referral_share * (10_000 - reward_bps) / 10_000,
            dividend_bps: dividend_share * (10_000 - reserve_bps) / 10_000,
            quota_multiplier_bps,
            sell_fee_bps,
            convert_fee_bps,
            issuance_cap_points,
            exit_enabled,
            stable_payment_earns,
            order_max_fen,
        };
        assert!(r.is_valid(0), "{r:?}");
        r
    }
}

fn command() -> impl Strategy<Value = Command> {
    let order = || prop_oneof![20 => pick("o", 100_000), 1 => Just("bad order!".into())];
    prop_oneof![
        8 => (pick("c", 12), prop::option::weighted(0.4, account()))
            .prop_map(|(account, referrer)| Command::RegisterConsumer { account, referrer }),
        2 => account().prop_map(|account| Command::RegisterMerchant { account }),
        12 => (order(), consumer(), merchant(), fen(), prop_oneof![4 => Just(Some(0)), 1 => fen()], signals())
            .prop_map(|(order, consumer, merchant, cash_fen, stable_fen, signals)| Command::PayOrder {
                order, consumer, merchant, cash_fen, stable_fen, signals,
            }),
        1 => order().prop_map(|order| Command::ConfirmOrder { order }),
        1 => (order(), optional_fen(), optional_fen())
            .prop_map(|(order, cash_fen, stable_fen)| Command::RefundOrder { order, cash_fen, stable_fen }),
        4 => (account(), atoms()).prop_map(|(account, atoms)| Command::Sell { account, atoms }),
        3 => (account(), atoms()).prop_map(|(account, atoms)| Command::ConvertToStable { account, atoms }),
        3 => (merchant(), fen()).prop_map(|(account, fen)| Command::RedeemStable { account, fen }),
        2 => prop_oneof![
            9 => (1u32..=28).prop_map(|d| format!("2026-02-{d:02}")),
            1 => Just("2026-02-30".to_string()),
        ].prop_map(|day| Command::SettleDividends { day: day.into() }),
        1 => prop_oneof![4 => valid_rules().prop_map(Some), 1 => Just(None)]
            .prop_map(|rules| Command::SetRules { rules }),
        // SPEC §13.
        1 => prop_oneof![
            3 => (0i64..800 * 86_400).prop_map(|s| jifen_core::format_instant(1_767_225_600 + s)),
            1 => Just("2026-02-30T00:00:00Z".to_string()),
            1 => Just("2026-01-01 00:00:00".to_string()),
        ].prop_map(|at| Command::AdvanceClock { at: at.into() }),
        1 => prop_oneof![
            4 => (any::<bool>(), prop_oneof![Just(0u32), 0..=400u32, Just(3650)], any::<bool>())
                .prop_map(|(gifting_enabled, gift_hold_days, exchange_enabled)| Some(jifen_core::Policy {
                    gifting_enabled, gift_hold_days, exchange_enabled,
                })),
            1 => Just(None),
        ].prop_map(|policy| Command::SetCollectiblePolicy { policy }),
        3 => (collectible(), consumer(), series(), atoms(), content())
            .prop_map(|(collectible, account, series, atoms, content_sha256)| Command::MintCollectible {
                collectible, account, series, atoms, content_sha256,
            }),
        2 => (collectible(), order(), series(), content())
            .prop_map(|(collectible, order, series, content_sha256)| Command::IssueCertificate {
                collectible, order, series, content_sha256,
            }),
        3 => (collectible(), consumer())
            .prop_map(|(collectible, to)| Command::GiftCollectible { collectible, to }),
        2 => collectible().prop_map(|collectible| Command::DissolveCollectible { collectible }),
        2 => (collectible(), prop_oneof![8 => Just("culture-exchange".into()), 1 => Just("bad venue!".into())])
            .prop_map(|(collectible, venue)| Command::ExportCollectible { collectible, venue }),
        2 => (collectible(), consumer())
            .prop_map(|(collectible, to)| Command::ReturnCollectible { collectible, to }),
        // SPEC §14.
        2 => (account(), fen(), reference())
            .prop_map(|(account, amount_fen, reference)| Command::RecordPayout { account, amount_fen, reference }),
        // SPEC §16.
        1 => prop_oneof![6 => tier_table().prop_map(|t| Some(Box::new(t))), 1 => Just(None)]
            .prop_map(|tiers| Command::SetTiers { tiers }),
        1 => (account(), prop_oneof![8 => Just("under review"), 1 => Just(""), 1 => Just("\u{7}bell")])
            .prop_map(|(account, reason)| Command::FreezeAccount { account, reason: reason.into() }),
        2 => account().prop_map(|account| Command::UnfreezeAccount { account }),
        1 => (
            prop_oneof![8 => pick("award", 6), 1 => Just("bad award!".into())],
            prop_oneof![Just(Some(0u64)), Just(Some(101)), Just(None), (1..=12u64).prop_map(Some)],
            prop_oneof![
                6 => prop::collection::vec(prop_oneof![Just("金奖".into()), Just("gift".into())], 1..4)
                    .prop_map(Some),
                1 => Just(Some(Vec::new())),
                1 => Just(None),
            ],
        ).prop_map(|(award, top, prizes)| Command::RecordAward { award, top, prizes }),
        // SPEC §17.
        3 => risk_command(),
    ]
}

/// Signals from a small set of hashes, so that accounts share them.
fn signals() -> impl Strategy<Value = Option<Box<jifen_core::risk::Signals>>> {
    use jifen_core::risk::{SignalKind, Signals};
    let hash = || prop::option::weighted(0.5, 0u64..4);
    prop_oneof![
        2 => Just(None),
        3 => (hash(), hash(), hash(), hash()).prop_map(|(p, a, d, n)| {
            let mut s = Signals::default();
            for (k, h) in [(SignalKind::Phone, p), (SignalKind::Address, a), (SignalKind::Device, d), (SignalKind::Network, n)] {
                if let Some(h) = h {
                    s.set(k, h);
                }
            }
            Some(Box::new(s))
        }),
    ]
}

/// Risk rules of SPEC §17 with thresholds low enough to hold often; sometimes out of bounds.
fn risk_rules() -> impl Strategy<Value = jifen_core::risk::RiskRules> {
    use jifen_core::risk::RiskRules;
    (
        (
            prop_oneof![5 => Just(true), 1 => Just(false)],
            0u32..=4,
            prop_oneof![Just(0u64), 1..100_000u64],
            prop_oneof![Just(0u64), 1..50_000u64],
        ),
        (
            0u32..=12,
            any::<bool>(),
            0u32..=4,
            prop_oneof![Just(0u32), 1..=48u32],
        ),
        (
            any::<bool>(),
            0u32..=100,
            0u32..=3,
            0u64..20_000,
            prop_oneof![9 => 1u32..=5, 1 => Just(0u32), 1 => Just(91u32)],
        ),
    )
        .prop_map(
            |(
                (enabled, velocity_orders, velocity_fen, large_order_fen),
                (median, self_dealing, ring_referees, ring_hours),
                (shared, refund, new_hours, new_fen, hold_days),
            )| RiskRules {
                enabled,
                velocity_orders,
                velocity_fen,
                large_order_fen,
                large_order_median_times: median,
                self_dealing,
                ring_referees,
                ring_hours: if ring_referees > 0 {
                    ring_hours.max(1)
                } else {
                    ring_hours
                },
                ring_shared_signals: shared,
                refund_rate_pct: refund,
                new_account_hours: new_hours,
                new_account_fen: new_fen,
                hold_days,
            },
        )
}

/// SPEC §17's commands other than the reviews (which `Step::ReviewRecent` sends).
fn risk_command() -> impl Strategy<Value = Command> {
    prop_oneof![
        2 => prop_oneof![6 => risk_rules().prop_map(Some), 1 => Just(None)]
            .prop_map(|risk| Command::SetRiskRules { risk }),
        2 => (account(), prop_oneof![Just("allow"), Just("deny"), Just("none"), Just("maybe")])
            .prop_map(|(account, list)| Command::SetTrust { account, list: list.into() }),
        2 => (account(), signals())
            .prop_map(|(account, s)| Command::RecordSignals { account, signals: s.unwrap_or_default() }),
    ]
}

/// Tier tables of SPEC §16: mostly valid, sometimes out of bounds.
fn tier_table() -> impl Strategy<Value = jifen_core::members::TierTable> {
    use jifen_core::members::{Basis, Downgrade, Tier, TierTable};
    (
        any::<bool>(),
        any::<bool>(),
        prop::option::of(prop_oneof![Just(0u64), 1..10_000_000_000u64]),
        prop::collection::vec((1..5_000_000_000u64, any::<bool>()), 0..5),
        prop_oneof![9 => Just(0u64), 1 => Just(1u64)],
    )
        .prop_map(|(points, at_settlement, partner_min, steps, first)| {
            let mut min = first;
            let mut tiers = vec![Tier {
                name_zh: "会员".into(),
                name_en: "Member".into(),
                min,
                partner: false,
                benefits_zh: "".into(),
                benefits_en: "".into(),
            }];
            for (i, (step, partner)) in steps.into_iter().enumerate() {
                min += step;
                tiers.push(Tier {
                    name_zh: format!("等级{i}").into(),
                    name_en: format!("Tier {i}").into(),
                    min,
                    partner,
                    benefits_zh: "礼品".into(),
                    benefits_en: "a gift".into(),
                });
            }
            TierTable {
                basis: if points { Basis::Points } else { Basis::Spend },
                downgrade: if at_settlement {
                    Downgrade::AtSettlement
                } else {
                    Downgrade::Never
                },
                partner_min,
                tiers,
            }
        })
}

fn reference() -> impl Strategy<Value = jifen_core::Text> {
    prop_oneof![12 => pick("wx-", 1_000), 1 => Just("bad ref".into()), 1 => Just("".into())]
}

fn collectible() -> impl Strategy<Value = jifen_core::Text> {
    prop_oneof![20 => pick("k", 24), 1 => Just("bad name!".into())]
}

fn series() -> impl Strategy<Value = jifen_core::Text> {
    prop_oneof![8 => Just("pearl".into()), 4 => Just("certificate".into()), 1 => Just("bad series!".into())]
}

fn content() -> impl Strategy<Value = jifen_core::Text> {
    prop_oneof![
        12 => any::<[u8; 32]>().prop_map(|b| b.iter().map(|x| format!("{x:02x}")).collect::<String>().into()),
        1 => Just("ABCDEF".repeat(10).into()),
        1 => Just("00".into()),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let share = || prop_oneof![Just(10_000u16), 1..=10_000u16];
    prop_oneof![
        30 => command().prop_map(Step::Fresh),
        10 => any::<u8>().prop_map(|n| Step::ConfirmRecent(n % 3)),
        2 => (any::<u8>(), optional_fen(), optional_fen()).prop_map(|(n, c, s)| Step::RefundRecent(n % 6, c, s)),
        4 => (account(), share()).prop_map(|(a, s)| Step::SellShare(a, s)),
        3 => (consumer(), share()).prop_map(|(a, s)| Step::ConvertShare(a, s)),
        1 => any::<usize>().prop_map(Step::Retry),
        3 => (prop_oneof![Just(0u16), 0..3u16, 0..400u16], 0..86_400u32).prop_map(|(d, s)| Step::Tick(d, s)),
        4 => (collectible(), consumer(), share()).prop_map(|(k, a, s)| Step::MintShare(k, a, s)),
        2 => (collectible(), any::<u8>()).prop_map(|(k, n)| Step::CertifyRecent(k, n % 4)),
        3 => (account(), prop_oneof![Just(10_000u16), Just(10_001u16), 1..=10_000u16])
            .prop_map(|(a, s)| Step::PayShare(a, s)),
        1 => (any::<usize>(), command()).prop_map(|(i, c)| Step::Conflict(i, c)),
        4 => (any::<u8>(), prop_oneof![3 => Just("approve"), 3 => Just("reject"), 2 => Just("extend"), 1 => Just("maybe")])
            .prop_map(|(n, d)| Step::ReviewRecent(n % 4, d)),
    ]
}

/// The k-th most recently paid order (or a name no order has).
fn recent(paid: &[jifen_core::Text], k: u8) -> jifen_core::Text {
    paid.iter()
        .rev()
        .nth(k as usize)
        .cloned()
        .unwrap_or_else(|| "none".into())
}

fn fingerprint(c: &Command) -> Fingerprint {
    let mut h = DefaultHasher::new();
    format!("{c:?}").hash(&mut h);
    Fingerprint(h.finish() as u128)
}

/// Everything observable about a ledger, for comparing two of them: the state, then the
/// applied and rejected counts.
fn digest(l: &Ledger) -> (String, u64, u64) {
    let e = l.economy();
    let state = format!(
        "{} {} {}",
        economic_state(e),
        members_digest(e),
        risk_digest(e)
    );
    (state, l.applied(), l.rejected())
}

/// The state that money and points are: everything but SPEC §16's members.
fn economic_state(e: &jifen_core::Economy) -> String {
    let mut accounts: Vec<_> = e
        .accounts()
        .iter()
        .enumerate()
        .map(|(id, a)| {
            (
                a.name.clone(),
                a.kind,
                a.atoms,
                a.quota_fen,
                a.stable_fen,
                a.spent_fen,
                a.dividends_fen,
                a.exits,
                e.accounts().extras(id as u32),
                e.owed_since(id as u32),
            )
        })
        .collect();
    accounts.sort_by(|a, b| a.0.cmp(&b.0));
    let collectibles: Vec<_> = e.collectibles().iter().collect();
    format!(
        "{:?} {:?} {:?} {:?} clock {} {:?} {:?}",
        e.totals(),
        e.flows(),
        e.price(),
        accounts,
        e.clock(),
        e.policy(),
        collectibles,
    )
}

/// SPEC §16's state: the table, every account's status, the log, frozen accounts and awards.
fn members_digest(e: &jifen_core::Economy) -> String {
    let m = e.members();
    let status: Vec<u8> = (0..e.accounts().len() as u32)
        .map(|id| m.status(id))
        .collect();
    format!(
        "{:?} {status:?} {:?} {:?} {:?}",
        m.table(),
        m.log(),
        m.frozen_accounts(),
        m.awards()
    )
}

/// SPEC §17's state: rules, trust lists, holds and what the rules remember, in key order.
fn risk_digest(e: &jifen_core::Economy) -> String {
    let r = e.risk();
    let t = &r.tracking;
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let recent = sorted(t.recent.iter().map(|x| format!("{x:?}")).collect());
    let signals = sorted(t.signals.iter().map(|x| format!("{x:?}")).collect());
    let referees = sorted(t.referees.iter().map(|x| format!("{x:?}")).collect());
    format!(
        "{:?} {:?} {:?} {recent:?} {signals:?} {:?} {referees:?}",
        r.rules(),
        r.trusted(),
        r.holds(),
        t.registered
    )
}

/// Adds the flows a command's lines show to `f`.
fn add_flows(f: &mut jifen_core::Flows, lines: &[jifen_core::books::Line]) {
    use jifen_core::books::{Book, Why};
    for l in lines {
        let amount = l.debit_fen.max(l.credit_fen);
        match (l.why, l.book, l.credit_fen > 0) {
            (Why::Contribution, Book::Reserve, true) => f.to_reserve_fen += amount,
            (Why::Contribution, Book::DividendPool, true) => f.to_dividend_pool_fen += amount,
            (Why::StableIntoEscrow, Book::Escrow, true) => f.to_escrow_fen += amount,
            (Why::Dividends, Book::DividendPool, false) => f.dividends_paid_fen += amount,
            (Why::Fee, Book::FeeIncome, true) => f.fees_kept_fen += amount,
            (Why::Sale, Book::PayoutsPayable, true) => f.owed_added_fen += amount,
            _ => {}
        }
    }
}

/// A command of a stream with its id, and, for a retry, the outcome its first submission had.
type Sent = (String, Command, Option<Result<(), Code>>);

/// The share `bps` of the atoms `account` holds (1 when it does not exist).
fn share_of(ledger: &Ledger, account: &str, bps: u64) -> Amount {
    let held = ledger.economy().account(account).map_or(1, |a| a.atoms);
    Some((held as u128 * bps as u128 / 10_000) as u64)
}

/// The command a step that is not a retry or a conflict sends.
fn fresh_command(ledger: &Ledger, paid: &[jifen_core::Text], step: &Step) -> Option<Command> {
    Some(match step {
        Step::Fresh(c) => c.clone(),
        Step::Retry(_) | Step::Conflict(..) => return None,
        Step::ConfirmRecent(k) => Command::ConfirmOrder {
            order: recent(paid, *k),
        },
        Step::ReviewRecent(k, decision) => Command::ReviewOrder {
            order: recent(paid, *k),
            decision: (*decision).into(),
            reviewer: "key-1".into(),
            note: "checked".into(),
        },
        Step::RefundRecent(k, cash_fen, stable_fen) => Command::RefundOrder {
            order: recent(paid, *k),
            cash_fen: *cash_fen,
            stable_fen: *stable_fen,
        },
        Step::Tick(days, seconds) => {
            let at = ledger.economy().clock() + *days as i64 * 86_400 + *seconds as i64;
            Command::AdvanceClock {
                at: jifen_core::format_instant(at.max(1_767_225_600)).into(),
            }
        }
        Step::MintShare(collectible, account, bps) => Command::MintCollectible {
            collectible: collectible.clone(),
            account: account.clone(),
            series: "pearl".into(),
            atoms: share_of(ledger, account, *bps as u64),
            content_sha256: "ab".repeat(32).into(),
        },
        Step::CertifyRecent(collectible, k) => Command::IssueCertificate {
            collectible: collectible.clone(),
            order: recent(paid, *k),
            series: "certificate".into(),
            content_sha256: "cd".repeat(32).into(),
        },
        Step::SellShare(account, bps) => Command::Sell {
            account: account.clone(),
            atoms: share_of(ledger, account, *bps as u64),
        },
        Step::ConvertShare(account, bps) => Command::ConvertToStable {
            account: account.clone(),
            atoms: share_of(ledger, account, *bps as u64),
        },
        Step::PayShare(account, bps) => {
            let e = ledger.economy();
            let owed = e
                .accounts()
                .find(account)
                .map_or(1, |id| e.accounts().extras(id).owed_fen);
            let amount = (owed as u128 * *bps as u128).div_ceil(10_000) as u64;
            Command::RecordPayout {
                account: account.clone(),
                amount_fen: Some(amount),
                reference: format!("wx-pay-{bps}").into(),
            }
        }
    })
}

/// What the engine said a command would do, asked just before it is applied.
struct Previews {
    sale: Option<Result<jifen_core::Quote, Code>>,
    confirm: Option<Result<jifen_core::ConfirmQuote, Code>>,
    contributions_before: jifen_core::Fen,
    payouts: Option<Vec<(String, u64)>>,
    totals_before: jifen_core::Totals,
    price_before: Price,
}

impl Previews {
    fn of(ledger: &Ledger, command: &Command) -> Previews {
        let e = ledger.economy();
        Previews {
            sale: match command {
                Command::Sell { account, atoms } => Some(e.quote_sale(account, *atoms, false)),
                Command::ConvertToStable { account, atoms } => {
                    Some(e.quote_sale(account, *atoms, true))
                }
                _ => None,
            },
            confirm: match command {
                Command::ConfirmOrder { order } => Some(e.quote_confirm(order)),
                _ => None,
            },
            contributions_before: e.totals().contributions_fen,
            payouts: matches!(command, Command::SettleDividends { .. })
                .then(|| settlement_by_the_book(e)),
            totals_before: e.totals(),
            price_before: e.price(),
        }
    }

    /// SPEC §14: an applied payout moves its amount from owed to settled and nothing else.
    fn hold_payout(&self, n: usize, command: &Command, e: &jifen_core::Economy) {
        let Command::RecordPayout { amount_fen, .. } = command else {
            return;
        };
        let amount = jifen_core::Fen(amount_fen.expect("an applied payout has an amount"));
        let (b, a) = (self.totals_before, e.totals());
        assert_eq!(a.settled_fen, b.settled_fen + amount, "step {n}: settled");
        assert_eq!(a.owed_fen + amount, b.owed_fen, "step {n}: owed");
        let same = jifen_core::Totals {
            settled_fen: b.settled_fen,
            owed_fen: b.owed_fen,
            ..a
        };
        assert_eq!(
            same, b,
            "step {n}: a payout moved more than owed to settled"
        );
        assert_eq!(
            e.price(),
            self.price_before,
            "step {n}: a payout moved the price"
        );
        assert!(
            e.effects().exits.is_empty(),
            "step {n}: a payout ran the exit rule"
        );
    }

    /// Each preview is exactly what the command then did (or the same rejection).
    fn hold(self, n: usize, command: &Command, e: &jifen_core::Economy, result: Result<(), Code>) {
        if result.is_ok() {
            self.hold_payout(n, command, e);
        }
        match (self.sale, result) {
            (Some(Ok(q)), Ok(())) => assert_eq!(
                e.effects().sale,
                Some(jifen_core::Sale {
                    atoms: q.atoms,
                    gross: q.value_fen,
                    fee: q.fee_fen
                }),
                "step {n}: the preview of {command:?} differs from the sale"
            ),
            (Some(Err(c)), Err(d)) => assert_eq!(c, d, "step {n}: {command:?}"),
            (Some(q), r) => panic!("step {n}: preview {q:?} but outcome {r:?} for {command:?}"),
            (None, _) => {}
        }
        match (self.confirm, result) {
            (Some(Ok(q)), Ok(())) => {
                let granted: Vec<u64> = e.effects().grants.iter().map(|g| g.atoms.0).collect();
                let quoted: Vec<u64> = [q.buyer_atoms.0, q.referrer_atoms.0]
                    .into_iter()
                    .filter(|a| *a > 0)
                    .collect();
                assert_eq!(granted, quoted, "step {n}: confirm preview {q:?}");
                assert_eq!(
                    e.totals().contributions_fen - self.contributions_before,
                    q.reserve_in_fen + q.dividend_in_fen,
                    "step {n}"
                );
            }
            (Some(Err(c)), Err(d)) => assert_eq!(c, d, "step {n}: {command:?}"),
            (Some(q), r) => panic!("step {n}: preview {q:?} but outcome {r:?} for {command:?}"),
            (None, _) => {}
        }
        if let (Some(expected), Ok(())) = (&self.payouts, result) {
            assert_eq!(
                &payouts_by_name(e),
                expected,
                "step {n}: settlement differs from SPEC §8"
            );
        }
    }
}

/// A stream as it runs: the ledger, what was sent, the orders paid, the outcomes, and the
/// lowest price seen since points were first issued.
struct Runner {
    ledger: Ledger,
    /// Each book's balance from the double-entry lines of every command so far.
    books: std::collections::BTreeMap<jifen_core::books::Book, i128>,
    /// The flows the lines show so far, as the engine's running totals name them.
    flows: jifen_core::Flows,
    sent: Vec<(String, Command)>,
    paid: Vec<jifen_core::Text>,
    outcomes: Vec<Outcome>,
    price_floor: Option<Price>,
}

impl Runner {
    /// The command step `n` sends; `None` for a retry or conflict with nothing sent yet.
    fn command(&self, n: usize, step: &Step) -> Option<Sent> {
        match step {
            Step::Retry(i) if !self.sent.is_empty() => {
                let (id, c) = self.sent[i % self.sent.len()].clone();
                let first = self.ledger.lookup(&id).map(|(_, o)| o.result);
                Some((id, c, first))
            }
            Step::Conflict(i, c) if !self.sent.is_empty() => {
                Some((self.sent[i % self.sent.len()].0.clone(), c.clone(), None))
            }
            _ => {
                fresh_command(&self.ledger, &self.paid, step).map(|c| (format!("cmd-{n}"), c, None))
            }
        }
    }

    /// A retry changes nothing and repeats its first outcome; a conflict is `id_conflict`; a
    /// rejection changes nothing but the rejected count, and says why in words.
    fn check_ids_and_rejections(
        &self,
        n: usize,
        step: &Step,
        sent: &Sent,
        outcome: &Outcome,
        before: &(String, u64, u64),
    ) {
        let (_, command, first) = sent;
        if let Some(first) = first {
            assert!(outcome.retry, "step {n}: a retry was not recognised");
            assert_eq!(
                outcome.result, *first,
                "step {n}: a retry gave another outcome"
            );
            assert_eq!(
                &digest(&self.ledger),
                before,
                "step {n}: a retry changed the state"
            );
        }
        if matches!(step, Step::Conflict(..)) && !outcome.retry {
            assert_eq!(outcome.result, Err(Code::IdConflict), "step {n}");
        }
        if let (Err(code), false) = (outcome.result, outcome.retry) {
            let (state, applied, rejected) = digest(&self.ledger);
            assert_eq!(
                state, before.0,
                "step {n}: a rejected {command:?} changed the state"
            );
            assert_eq!((applied, rejected), (before.1, before.2 + 1), "step {n}");
            let why = jifen_core::explain(command, code, self.ledger.economy());
            assert!(!why.is_empty(), "step {n}: no words for {code:?}");
        }
    }

    /// Every invariant holds, and the price never falls once points are issued.
    fn check_invariants_and_price(&mut self, n: usize, command: &Command) {
        let e = self.ledger.economy();
        if let Err(broken) = e.check_full() {
            panic!("step {n}: after {command:?}: {broken}");
        }
        if e.totals().issued_atoms.0 > 0 {
            let price = e.price();
            if let Some(floor) = self.price_floor {
                assert!(
                    price >= floor,
                    "step {n}: price fell from {floor:?} to {price:?} on {command:?}"
                );
            }
            self.price_floor = Some(price);
        }
    }

    /// The command's double-entry lines balance, and every book's running balance is the
    /// engine's figure for it.
    fn check_books(&mut self, n: usize, command: &Command, before: &jifen_core::Totals) {
        use jifen_core::books::{balances, postings};
        let e = self.ledger.economy();
        let mut lines = Vec::new();
        postings(command, before, e, &mut lines);
        let debits: u128 = lines.iter().map(|l| l.debit_fen as u128).sum();
        let credits: u128 = lines.iter().map(|l| l.credit_fen as u128).sum();
        assert_eq!(
            debits, credits,
            "step {n}: {command:?} does not balance: {lines:?}"
        );
        for l in &lines {
            let sign = if l.book.is_debit_side() { 1 } else { -1 };
            *self.books.entry(l.book).or_default() +=
                sign * (l.debit_fen as i128 - l.credit_fen as i128);
        }
        add_flows(&mut self.flows, &lines);
        assert_eq!(
            self.flows,
            e.flows(),
            "step {n}: running flows after {command:?}"
        );
        for (book, want) in balances(&e.totals()) {
            let got = self.books.get(&book).copied().unwrap_or(0);
            assert_eq!(
                got, want as i128,
                "step {n}: {book:?} after {command:?}: {lines:?}"
            );
        }
    }

    fn step(&mut self, n: usize, step: &Step) {
        let Some(sent) = self.command(n, step) else {
            return;
        };
        let (id, command, _) = &sent;
        let before = digest(&self.ledger);
        let totals_before = self.ledger.economy().totals();
        let previews = Previews::of(&self.ledger, command);
        let outcome = self
            .ledger
            .submit(Some(id), fingerprint(command), Ok(command));
        // (A reused id is refused before the economy sees the command.)
        if !outcome.retry && outcome.result != Err(Code::IdConflict) {
            previews.hold(n, command, self.ledger.economy(), outcome.result);
        }
        self.check_ids_and_rejections(n, step, &sent, &outcome, &before);
        self.check_invariants_and_price(n, command);
        if outcome.result.is_ok() && !outcome.retry {
            self.check_books(n, command, &totals_before);
        }
        if let (Command::PayOrder { order, .. }, Ok(()), false) =
            (command, outcome.result, outcome.retry)
        {
            self.paid.push(order.clone());
        }
        if !matches!(step, Step::Retry(_) | Step::Conflict(..)) {
            self.sent.push((id.clone(), command.clone()));
        }
        self.outcomes.push(outcome);
    }
}

fn print_stats(ledger: &Ledger, outcomes: &[Outcome], steps: usize) {
    let mut codes = std::collections::BTreeMap::new();
    for o in outcomes {
        *codes
            .entry(o.code().map_or("ok", Code::as_str))
            .or_insert(0u32) += 1;
    }
    let exits: u32 = ledger.economy().accounts().iter().map(|a| a.exits).sum();
    let risk = ledger.economy().risk();
    let mut decisions = std::collections::BTreeMap::new();
    for h in risk.holds() {
        for r in &h.reviews {
            *decisions.entry(r.decision.as_str()).or_insert(0u32) += 1;
        }
    }
    eprintln!(
        "{steps} steps, exits {exits}, {:?}, codes {codes:?}, holds {} ({} open), decisions {decisions:?}",
        ledger.economy().totals(),
        risk.holds().len(),
        risk.open_count()
    );
}

/// Runs a stream, checking every invariant after every command. Returns the outcomes. With
/// `restore_at`, the ledger is encoded and decoded (as a snapshot would) before that step.
fn run(rules: Rules, steps: &[Step], restore_at: Option<usize>) -> (Ledger, Vec<Outcome>) {
    let mut r = Runner {
        ledger: Ledger::new(rules),
        books: Default::default(),
        flows: Default::default(),
        sent: Vec::new(),
        paid: Vec::new(),
        outcomes: Vec::new(),
        price_floor: None,
    };
    for (n, step) in steps.iter().enumerate() {
        if restore_at == Some(n) {
            r.ledger = round_trip(&r.ledger);
        }
        r.step(n, step);
    }
    let back = round_trip(&r.ledger);
    assert_eq!(
        digest(&back),
        digest(&r.ledger),
        "a snapshot round trip changed the state"
    );
    if std::env::var_os("JIFEN_PROPTEST_STATS").is_some() {
        print_stats(&r.ledger, &r.outcomes, steps.len());
    }
    (r.ledger, r.outcomes)
}

/// The last settlement's payments, by account name.
fn payouts_by_name(e: &jifen_core::Economy) -> Vec<(String, u64)> {
    let payouts = &e.effects().payouts;
    payouts
        .iter()
        .map(|p| (e.accounts().get(p.account).name.to_string(), p.paid.0))
        .collect()
}

/// SPEC §8 computed the plain way, from scratch: every eligible consumer sorted by
/// `quota / atoms` then name, and the pool water-filled in that order. The engine keeps its
/// holders nearly sorted between settlements instead; the payouts must be the same.
fn settlement_by_the_book(e: &jifen_core::Economy) -> Vec<(String, u64)> {
    let mut eligible: Vec<(u64, u64, String)> = e
        .accounts()
        .iter()
        .filter(|a| a.is_consumer() && a.atoms > 0 && a.quota_fen > 0)
        .map(|a| (a.quota_fen, a.atoms, a.name.to_string()))
        .collect();
    eligible.sort_by(|x, y| {
        (x.0 as u128 * y.1 as u128)
            .cmp(&(y.0 as u128 * x.1 as u128))
            .then_with(|| x.2.as_bytes().cmp(y.2.as_bytes()))
    });
    let mut weight: u128 = eligible.iter().map(|x| x.1 as u128).sum();
    let mut pool = e.totals().dividend_pool_fen.0 as u128;
    let mut paid = Vec::new();
    for (quota, atoms, name) in eligible {
        let pay = (pool * atoms as u128 / weight).min(quota as u128);
        weight -= atoms as u128;
        if pay > 0 {
            pool -= pay;
            paid.push((name, pay as u64));
        }
    }
    paid
}

/// Encodes and decodes a ledger, checking that encoding is deterministic, and that the copy a
/// background snapshot encodes (made without the name indexes) gives the same bytes. The
/// ledger it was made from goes on with the rest of the steps, so they check that its indexes
/// came back.
fn round_trip(ledger: &Ledger) -> Ledger {
    let bytes = ledger.encode();
    let mut back =
        Ledger::decode(&bytes).unwrap_or_else(|e| panic!("snapshot does not decode: {e}"));
    assert_eq!(back.encode(), bytes, "encoding is not deterministic");
    let mut copied = Vec::new();
    back.copy_to_encode().encode_into(&mut copied);
    assert_eq!(copied, bytes, "the copy to encode encodes differently");
    back
}

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(24), max_shrink_iters: 20_000, ..ProptestConfig::default() })]

    /// Streams of at least 2,000 commands: every invariant holds after every command, and a
    /// second run of the same stream gives the same state and outcomes.
    #[test]
    fn invariants_hold_on_long_streams(
        rules in valid_rules(),
        steps in prop::collection::vec(step(), 2_000..2_400),
        cut in 0usize..2_000,
    ) {
        let (first, first_outcomes) = run(rules, &steps, None);
        // The same stream again, restored from a snapshot part of the way through.
        let (second, second_outcomes) = run(rules, &steps, Some(cut));
        prop_assert_eq!(digest(&first), digest(&second));
        prop_assert_eq!(first_outcomes, second_outcomes);
    }
}

/// The same stream with every tier table replaced by `table` (SPEC §16's guard rail).
fn with_tiers(steps: &[Step], table: &jifen_core::members::TierTable) -> Vec<Step> {
    let swap = |c: &Command| match c {
        Command::SetTiers { .. } => Command::SetTiers {
            tiers: Some(Box::new(table.clone())),
        },
        other => other.clone(),
    };
    steps
        .iter()
        .map(|s| match s {
            Step::Fresh(c) => Step::Fresh(swap(c)),
            Step::Conflict(i, c) => Step::Conflict(*i, swap(c)),
            other => other.clone(),
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(48), ..ProptestConfig::default() })]

    /// SPEC §16: tiers never change how money or points are computed. The same stream under two
    /// different tier tables (each `set_tiers` swapped for one or the other) gives the same
    /// economic state and the same outcome for every command.
    #[test]
    fn tier_tables_do_not_change_the_economic_state(
        rules in valid_rules(),
        steps in prop::collection::vec(step(), 200..600),
        a in tier_table(),
        b in tier_table(),
    ) {
        prop_assume!(a.check().is_ok() && b.check().is_ok());
        let (first, first_outcomes) = run(rules, &with_tiers(&steps, &a), None);
        let (second, second_outcomes) = run(rules, &with_tiers(&steps, &b), None);
        prop_assert_eq!(economic_state(first.economy()), economic_state(second.economy()));
        prop_assert_eq!(first_outcomes, second_outcomes);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(256), ..ProptestConfig::default() })]

    /// Short streams, many of them: this is where shrinking gives the most readable failures.
    #[test]
    fn invariants_hold_on_short_streams(rules in valid_rules(), steps in prop::collection::vec(step(), 1..80)) {
        run(rules, &steps, None);
    }
}

#[test]
fn a_retry_with_the_same_id_changes_nothing() {
    let mut l = Ledger::new(Rules::default());
    let submit = |l: &mut Ledger, id: &str, c: &Command| l.submit(Some(id), fingerprint(c), Ok(c));
    let pay = Command::PayOrder {
        order: "o1".into(),
        consumer: "c1".into(),
        merchant: "m".into(),
        cash_fen: Some(10_000),
        stable_fen: Some(0),
        signals: None,
    };
    submit(
        &mut l,
        "r1",
        &Command::RegisterConsumer {
            account: "c1".into(),
            referrer: None,
        },
    );
    submit(
        &mut l,
        "r2",
        &Command::RegisterMerchant {
            account: "m".into(),
        },
    );
    assert_eq!(submit(&mut l, "p1", &pay).result, Ok(()));
    let confirm = Command::ConfirmOrder { order: "o1".into() };
    assert_eq!(submit(&mut l, "k1", &confirm).result, Ok(()));
    let before = digest(&l);

    let again = submit(&mut l, "k1", &confirm);
    assert_eq!(
        again,
        Outcome {
            result: Ok(()),
            retry: true,
            seq: 4
        }
    );
    assert_eq!(
        digest(&l),
        before,
        "a retry of an applied command changed the state"
    );

    // A rejection is remembered too: the retry returns it even once it would now succeed.
    let early = Command::ConfirmOrder { order: "o2".into() };
    assert_eq!(submit(&mut l, "k2", &early).result, Err(Code::UnknownOrder));
    let pay2 = Command::PayOrder {
        order: "o2".into(),
        consumer: "c1".into(),
        merchant: "m".into(),
        cash_fen: Some(10_000),
        stable_fen: Some(0),
        signals: None,
    };
    assert_eq!(submit(&mut l, "p2", &pay2).result, Ok(()));
    let after_reject = digest(&l);
    assert_eq!(
        submit(&mut l, "k2", &early),
        Outcome {
            result: Err(Code::UnknownOrder),
            retry: true,
            seq: 5
        }
    );
    assert_eq!(digest(&l), after_reject);

    // The same id with another command is a conflict, and changes nothing else.
    let rejected = l.rejected();
    assert_eq!(submit(&mut l, "k1", &early).result, Err(Code::IdConflict));
    assert_eq!(l.rejected(), rejected + 1);
    assert_eq!(
        l.economy().orders().find("o2").map(|o| o.status),
        Some(jifen_core::OrderStatus::Pending)
    );

    // A missing or malformed id is an invalid command and is not remembered.
    assert_eq!(
        l.submit(None, fingerprint(&confirm), Ok(&confirm)).result,
        Err(Code::InvalidCommand)
    );
    assert_eq!(
        l.submit(Some("bad id!"), fingerprint(&confirm), Ok(&confirm))
            .result,
        Err(Code::InvalidCommand)
    );
    assert_eq!(l.lookup("bad id!"), None);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(64), ..ProptestConfig::default() })]

    /// A damaged snapshot never panics the decoder: it is refused, or it decodes to a state
    /// that passes every invariant.
    #[test]
    fn damaged_snapshots_are_refused_or_valid(
        steps in prop::collection::vec(step(), 50..200),
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4),
    ) {
        let (ledger, _) = run(Rules::default(), &steps, None);
        let mut bytes = ledger.encode();
        for (at, xor) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= xor;
        }
        if let Ok(back) = Ledger::decode(&bytes) {
            prop_assert!(back.economy().check_full().is_ok());
        }
        let truncated = &bytes[..bytes.len() / 2];
        prop_assert!(Ledger::decode(truncated).is_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(32), ..ProptestConfig::default() })]

    /// Replaying a journal with the id table kept apart (`IdTable::decide_journaled` then
    /// `Ledger::submit_decided`) gives exactly the ledger that `submit` gave.
    #[test]
    fn ids_decided_apart_give_the_same_ledger(rules in valid_rules(), steps in prop::collection::vec(step(), 1..600)) {
        // Build the journal: every recorded submission, in seq order, with its outcome.
        type Entry = (u64, Option<String>, Fingerprint, Command, Result<(), Code>);
        let mut journal: Vec<Entry> = Vec::new();
        let mut live = Ledger::new(rules);
        let mut sent: Vec<(String, Command)> = Vec::new();
        for (n, step) in steps.iter().enumerate() {
            let (id, command) = match step {
                Step::Fresh(c) => (format!("cmd-{n}"), c.clone()),
                Step::Retry(i) if !sent.is_empty() => sent[i % sent.len()].clone(),
                Step::Conflict(i, c) if !sent.is_empty() => (sent[i % sent.len()].0.clone(), c.clone()),
                _ => continue,
            };
            let o = live.submit(Some(&id), fingerprint(&command), Ok(&command));
            if !o.retry {
                journal.push((o.seq, Some(id.clone()), fingerprint(&command), command.clone(), o.result));
            }
            if matches!(step, Step::Fresh(_)) {
                sent.push((id, command));
            }
        }
        let mut replayed = Ledger::new(rules);
        let mut ids = replayed.take_ids();
        for (seq, id, fp, command, result) in &journal {
            let decision = ids.decide_journaled(id.as_deref(), *fp, *seq, *result);
            let o = replayed.submit_decided(decision, Ok(command));
            prop_assert_eq!((o.seq, o.result, o.retry), (*seq, *result, false));
        }
        replayed.put_ids(ids);
        prop_assert_eq!(replayed.encode(), live.encode());
    }
}

/// Settlements large enough to credit accounts on a second thread (from 2^15 holders) pay
/// exactly what SPEC §8 computed from scratch pays, day after day, with orders, sales and
/// exits in between.
#[test]
fn large_settlements_match_the_book() {
    let mut e = jifen_core::Economy::new(Rules::default());
    let run = |e: &mut jifen_core::Economy, c: Command| {
        let book = matches!(c, Command::SettleDividends { .. }).then(|| settlement_by_the_book(e));
        assert_eq!(e.execute(&c), Ok(()), "{c:?}");
        if let Some(expected) = book {
            let paid = payouts_by_name(e);
            assert!(paid.len() > 1 << 15, "only {} holders paid", paid.len());
            assert_eq!(paid, expected, "{c:?}");
            e.check_full().unwrap();
        }
    };
    run(
        &mut e,
        Command::RegisterMerchant {
            account: "m".into(),
        },
    );
    let consumers = 40_000u64;
    for i in 0..consumers {
        let account = format!("c{i}").into();
        run(
            &mut e,
            Command::RegisterConsumer {
                account,
                referrer: None,
            },
        );
    }
    let mut order = 0u64;
    for day in 1..=4u64 {
        for i in 0..consumers / 2 {
            let who = (i * 7_919 + day * 104_729) % consumers;
            if day == 1 || who.is_multiple_of(3) {
                for c in [who, (who + consumers / 2) % consumers] {
                    order += 1;
                    run(
                        &mut e,
                        Command::PayOrder {
                            order: format!("o{order}").into(),
                            consumer: format!("c{c}").into(),
                            merchant: "m".into(),
                            // Equal amounts among many buyers, so that names decide ties.
                            cash_fen: Some(1_000 + (c % 7) * 2_500),
                            stable_fen: Some(0),
                            signals: None,
                        },
                    );
                    run(
                        &mut e,
                        Command::ConfirmOrder {
                            order: format!("o{order}").into(),
                        },
                    );
                }
            }
            if who.is_multiple_of(97) && day > 1 {
                let account: jifen_core::Text = format!("c{who}").into();
                let held = e.account(&account).map_or(0, |a| a.atoms);
                if held > 0 {
                    run(
                        &mut e,
                        Command::Sell {
                            account,
                            atoms: Some(held / 2),
                        },
                    );
                }
            }
        }
        run(
            &mut e,
            Command::SettleDividends {
                day: format!("2026-01-0{day}").into(),
            },
        );
    }
}
