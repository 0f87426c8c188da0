//! The brief's worked example (SPEC §6): default rules, orders of 10 000 fen, no referrers.

use jifen_core::{Command, Economy, Fen, Price, Rules, ATOMS_PER_POINT};

fn order(economy: &mut Economy, n: usize) {
    let buyer = format!("c{n}");
    let order = format!("o{n}");
    let run =
        |e: &mut Economy, c: Command| e.execute(&c).unwrap_or_else(|code| panic!("{c:?}: {code}"));
    run(
        economy,
        Command::RegisterConsumer {
            account: buyer.as_str().into(),
            referrer: None,
        },
    );
    run(
        economy,
        Command::PayOrder {
            order: order.as_str().into(),
            consumer: buyer.as_str().into(),
            merchant: "winery".into(),
            cash_fen: Some(10_000),
            stable_fen: Some(0),
            signals: None,
        },
    );
    run(
        economy,
        Command::ConfirmOrder {
            order: order.as_str().into(),
        },
    );
}

fn wine() -> Economy {
    let mut e = Economy::new(Rules::default());
    e.execute(&Command::RegisterMerchant {
        account: "winery".into(),
    })
    .unwrap();
    e
}

fn points(e: &Economy, name: &str) -> (u64, u64) {
    let atoms = e.account(name).unwrap().atoms;
    (atoms / ATOMS_PER_POINT, atoms % ATOMS_PER_POINT)
}

#[test]
fn first_orders_grant_the_briefs_points_and_prices() {
    let mut e = wine();
    let mut prices = Vec::new();
    for n in 0..4 {
        order(&mut e, n);
        prices.push(e.price().yuan_per_point(4));
    }
    assert_eq!(points(&e, "c0"), (21, 0), "order 1 grants 21 points");
    assert_eq!(
        points(&e, "c1"),
        (14, 70_000_000),
        "order 2 grants 14.7 points"
    );
    assert_eq!(
        points(&e, "c2"),
        (12, 49_500_000),
        "order 3 grants 12.495 points"
    );
    assert_eq!(prices, ["1.4286", "1.6807", "1.8674", "2.0188"]);
}

#[test]
fn after_a_hundred_orders_the_first_buyer_holds_10863_fen() {
    let mut e = wine();
    for n in 0..100 {
        order(&mut e, n);
    }
    assert_eq!(e.price().yuan_per_point(4), "5.1731");
    let first = e.account("c0").unwrap();
    assert_eq!(first.atoms, 21 * ATOMS_PER_POINT);
    assert_eq!(e.price().value_fen(first.atoms), 10_863);
    // Nobody exits: a 20 000 fen quota is far above any holding's value.
    assert!(e.accounts().iter().all(|a| a.exits == 0));
    let t = e.totals();
    assert_eq!(t.reserve_fen, Fen(300_000));
    assert_eq!(t.dividend_pool_fen, Fen(300_000));
    assert_eq!(
        e.price(),
        Price {
            num_fen: t.reserve_fen.0,
            den_atoms: t.circulating_atoms.0
        }
    );
    e.check_full().unwrap();
}
