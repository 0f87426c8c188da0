//! SPEC §16 by example: when tiers rise and fall, who a ranking lists, what freezing refuses.

use jifen_core::members::{Basis, Downgrade, Tier, TierTable, PARTNER_BIT};
use jifen_core::{Code, Command, Economy, Rules, ATOMS_PER_POINT};

fn run(e: &mut Economy, c: Command) {
    e.execute(&c).unwrap_or_else(|code| panic!("{c:?}: {code}"));
}

fn buy(e: &mut Economy, consumer: &str, order: &str, fen: u64) {
    run(
        e,
        Command::PayOrder {
            order: order.into(),
            consumer: consumer.into(),
            merchant: "shop".into(),
            cash_fen: Some(fen),
            stable_fen: Some(0),
            signals: None,
        },
    );
    run(
        e,
        Command::ConfirmOrder {
            order: order.into(),
        },
    );
}

fn level(name: &str, min: u64, partner: bool) -> Tier {
    Tier {
        name_zh: name.into(),
        name_en: name.into(),
        min,
        partner,
        benefits_zh: "".into(),
        benefits_en: "".into(),
    }
}

/// Three tiers by points held (0, 10 and 50 points), the top one a partner.
fn by_points(downgrade: Downgrade) -> TierTable {
    TierTable {
        basis: Basis::Points,
        downgrade,
        partner_min: None,
        tiers: vec![
            level("普通", 0, false),
            level("银", 10 * ATOMS_PER_POINT, false),
            level("金", 50 * ATOMS_PER_POINT, true),
        ],
    }
}

fn economy(table: TierTable) -> Economy {
    let rules = Rules {
        exit_enabled: false,
        ..Rules::default()
    };
    let mut e = Economy::new(rules);
    run(
        &mut e,
        Command::RegisterMerchant {
            account: "shop".into(),
        },
    );
    for c in ["alice", "bob", "carol"] {
        run(
            &mut e,
            Command::RegisterConsumer {
                account: c.into(),
                referrer: None,
            },
        );
    }
    run(
        &mut e,
        Command::SetTiers {
            tiers: Some(Box::new(table)),
        },
    );
    e
}

fn status(e: &Economy, name: &str) -> u8 {
    e.members().status(e.accounts().find(name).unwrap())
}

#[test]
fn a_confirmation_raises_the_tier_and_a_settlement_lowers_it_only_when_told() {
    for (downgrade, after_sale) in [
        (Downgrade::Never, 2 | PARTNER_BIT),
        (Downgrade::AtSettlement, 0),
    ] {
        let mut e = economy(by_points(downgrade));
        // 10,000 fen at 1 yuan a point: 30 % to the reserve, 70 % of it as points = 21 points.
        buy(&mut e, "alice", "o1", 10_000);
        assert_eq!(e.account("alice").unwrap().atoms, 21 * ATOMS_PER_POINT);
        assert_eq!(status(&e, "alice"), 1, "{downgrade:?}");
        buy(&mut e, "alice", "o2", 20_000);
        assert!(e.account("alice").unwrap().atoms >= 50 * ATOMS_PER_POINT);
        assert_eq!(status(&e, "alice"), 2 | PARTNER_BIT);
        let atoms = e.account("alice").unwrap().atoms;
        run(
            &mut e,
            Command::Sell {
                account: "alice".into(),
                atoms: Some(atoms),
            },
        );
        // A sale alone changes no tier; the settlement applies the policy.
        assert_eq!(status(&e, "alice"), 2 | PARTNER_BIT);
        run(
            &mut e,
            Command::SettleDividends {
                day: "2026-12-01".into(),
            },
        );
        assert_eq!(status(&e, "alice"), after_sale, "{downgrade:?}");
        let changes: Vec<(u8, u8)> = e.members().log().iter().map(|c| (c.from, c.to)).collect();
        let mut want = vec![(0, 1), (1, 2 | PARTNER_BIT)];
        if downgrade == Downgrade::AtSettlement {
            want.push((2 | PARTNER_BIT, 0));
        }
        assert_eq!(changes, want);
    }
}

#[test]
fn thresholds_are_met_at_exactly_the_minimum_and_a_partner_threshold_stands_alone() {
    let mut table = by_points(Downgrade::Never);
    table.basis = Basis::Spend;
    table.tiers[1].min = 10_000;
    table.tiers[2].min = 30_001;
    table.partner_min = Some(30_000);
    let mut e = economy(table);
    buy(&mut e, "alice", "o1", 9_999);
    buy(&mut e, "bob", "o2", 10_000);
    buy(&mut e, "carol", "o3", 30_000);
    assert_eq!(status(&e, "alice"), 0);
    assert_eq!(status(&e, "bob"), 1);
    assert_eq!(status(&e, "carol"), 1 | PARTNER_BIT);
    buy(&mut e, "carol", "o4", 1);
    assert_eq!(status(&e, "carol"), 2 | PARTNER_BIT);
}

#[test]
fn a_new_table_evaluates_everyone_afresh_and_bad_tables_are_refused() {
    let mut e = economy(by_points(Downgrade::Never));
    buy(&mut e, "alice", "o1", 30_000);
    assert_eq!(status(&e, "alice"), 2 | PARTNER_BIT);
    run(
        &mut e,
        Command::SetTiers {
            tiers: Some(Box::default()),
        },
    );
    // The default table goes by spend: 300 yuan is bronze.
    assert_eq!(status(&e, "alice"), 1);
    let mut bad = by_points(Downgrade::Never);
    bad.tiers[2].min = bad.tiers[1].min;
    for tiers in [None, Some(Box::new(bad))] {
        assert_eq!(
            e.execute(&Command::SetTiers { tiers }),
            Err(Code::InvalidTiers)
        );
    }
}

#[test]
fn an_award_ranks_holders_by_points_then_name_and_leaves_out_the_frozen() {
    let mut e = economy(by_points(Downgrade::Never));
    buy(&mut e, "alice", "o1", 10_000);
    buy(&mut e, "bob", "o2", 10_000);
    buy(&mut e, "carol", "o3", 50_000);
    let award = |name: &str, top: u64| Command::RecordAward {
        award: name.into(),
        top: Some(top),
        prizes: Some(
            ["金", "纪念"][..top.clamp(1, 2) as usize]
                .iter()
                .map(|p| (*p).into())
                .collect(),
        ),
    };
    run(&mut e, award("a1", 3));
    let names = |e: &Economy, award: &str| -> Vec<String> {
        let a = e.members().award(award).unwrap();
        a.ranking
            .iter()
            .map(|(id, _)| e.accounts().get(*id).name.to_string())
            .collect()
    };
    assert_eq!(names(&e, "a1"), ["carol", "alice", "bob"]);
    assert_eq!(e.members().award("a1").unwrap().prize(2), "纪念");
    run(
        &mut e,
        Command::FreezeAccount {
            account: "carol".into(),
            reason: "刷单嫌疑".into(),
        },
    );
    run(&mut e, award("a2", 1));
    assert_eq!(names(&e, "a2"), ["alice"]);
    assert_eq!(e.execute(&award("a2", 1)), Err(Code::DuplicateAward));
    assert_eq!(e.execute(&award("a3", 0)), Err(Code::InvalidAmount));
    assert_eq!(e.execute(&award("a3", 101)), Err(Code::InvalidAmount));
    let too_many = Command::RecordAward {
        award: "a3".into(),
        top: Some(1),
        prizes: Some(vec!["a".into(), "b".into()]),
    };
    assert_eq!(e.execute(&too_many), Err(Code::InvalidCommand));
}

#[test]
fn a_frozen_account_cannot_sell_or_convert_until_unfrozen() {
    let mut e = economy(by_points(Downgrade::Never));
    buy(&mut e, "alice", "o1", 10_000);
    let freeze = Command::FreezeAccount {
        account: "alice".into(),
        reason: "under review".into(),
    };
    run(&mut e, freeze.clone());
    assert_eq!(e.execute(&freeze), Err(Code::AccountFrozen));
    let sell = Command::Sell {
        account: "alice".into(),
        atoms: Some(1),
    };
    let convert = Command::ConvertToStable {
        account: "alice".into(),
        atoms: Some(1),
    };
    assert_eq!(e.execute(&sell), Err(Code::AccountFrozen));
    assert_eq!(e.execute(&convert), Err(Code::AccountFrozen));
    assert_eq!(
        e.quote_sale("alice", Some(1), false),
        Err(Code::AccountFrozen)
    );
    // Orders still earn: freezing stops points leaving, not coming in.
    buy(&mut e, "alice", "o2", 10_000);
    let unfreeze = Command::UnfreezeAccount {
        account: "alice".into(),
    };
    run(&mut e, unfreeze.clone());
    assert_eq!(e.execute(&unfreeze), Err(Code::AccountNotFrozen));
    run(&mut e, sell);
    run(&mut e, convert);
    let blank = Command::FreezeAccount {
        account: "alice".into(),
        reason: "".into(),
    };
    assert_eq!(e.execute(&blank), Err(Code::InvalidCommand));
}
