//! Deterministic workloads for benchmarks and tests: pure command generators, no I/O.

use crate::command::Command;
use crate::economy::Economy;
use crate::rules::Rules;

/// The merchant every workload sells through.
pub const MERCHANT: &str = "shop";

/// Rules for large workloads: the defaults with the largest issuance cap, so that grants keep
/// flowing however many orders arrive.
pub fn bench_rules() -> Rules {
    Rules {
        issuance_cap_points: 100_000_000_000,
        ..Rules::default()
    }
}

/// An order amount between 100 and 500 yuan, spread deterministically.
pub fn amount_fen(i: u64) -> u64 {
    10_000 + (i.wrapping_mul(7919) % 40_000)
}

pub fn consumer_name(i: u64) -> String {
    format!("c{i}")
}

pub fn register_merchant() -> Command {
    Command::RegisterMerchant {
        account: MERCHANT.into(),
    }
}

pub fn register(i: u64) -> Command {
    Command::RegisterConsumer {
        account: consumer_name(i).as_str().into(),
        referrer: None,
    }
}

pub fn pay(order: &str, consumer: u64, cash_fen: u64) -> Command {
    Command::PayOrder {
        order: order.into(),
        consumer: consumer_name(consumer).as_str().into(),
        merchant: MERCHANT.into(),
        cash_fen: Some(cash_fen),
        stable_fen: Some(0),
        signals: None,
    }
}

pub fn confirm(order: &str) -> Command {
    Command::ConfirmOrder {
        order: order.into(),
    }
}

fn must(economy: &mut Economy, command: &Command) {
    if let Err(code) = economy.execute(command) {
        panic!("workload command {command:?} was rejected: {code}");
    }
}

/// An economy under `rules` with `n` consumers, each holding points from one confirmed order.
pub fn holders(rules: Rules, n: u64) -> Economy {
    let mut e = Economy::new(rules);
    e.reserve_capacity(n as usize + 1, n as usize);
    must(&mut e, &register_merchant());
    for i in 0..n {
        must(&mut e, &register(i));
        let order = format!("h{i}");
        must(&mut e, &pay(&order, i, amount_fen(i)));
        must(&mut e, &confirm(&order));
    }
    e
}

/// `n` `pay_order` commands for orders `{prefix}0..{prefix}n`, spread over `consumers` holders.
pub fn payments(prefix: &str, n: u64, consumers: u64) -> Vec<Command> {
    (0..n)
        .map(|i| {
            let consumer = i.wrapping_mul(48_271) % consumers;
            pay(&format!("{prefix}{i}"), consumer, amount_fen(i + 1))
        })
        .collect()
}

/// The confirmations of the orders of [`payments`].
pub fn confirmations(prefix: &str, n: u64) -> Vec<Command> {
    (0..n).map(|i| confirm(&format!("{prefix}{i}"))).collect()
}

/// An economy where at least `n` consumers hold points below their exit line (their quota is
/// ten times what they spent), plus a pending order large enough that confirming it moves the
/// price past every one of their triggers at once. Returns the economy and the confirmation
/// that causes the exits. A few of the earliest buyers exit while the economy is built (the
/// price rises a hundredfold), so 1 % more holders are built than asked for.
pub fn exit_cascade(n: u64) -> (Economy, Command) {
    let rules = Rules {
        quota_multiplier_bps: 100_000,
        ..bench_rules()
    };
    let n = n + n / 100;
    let mut e = holders(rules, n);
    // The whale's order carries no points, so all of its reserve share lifts the price.
    let whale_rules = Rules {
        reward_bps: 0,
        referral_bps: 0,
        order_max_fen: 1_000_000_000_000,
        ..rules
    };
    must(
        &mut e,
        &Command::SetRules {
            rules: Some(whale_rules),
        },
    );
    must(&mut e, &register(n));
    must(&mut e, &pay("whale", n, 1_000_000_000_000));
    (e, confirm("whale"))
}

/// A command file of `lines` lines, as `jifen replay` reads it: registrations, payments,
/// confirmations, sales, and a daily settlement after every 10,000 orders (so a 1,000,000-line
/// file covers 30 days of a shop taking 10,000 orders a day).
pub fn replay_lines(lines: u64) -> Vec<String> {
    replay_lines_per_day(lines, 10_000)
}

/// Like [`replay_lines`], with a settlement after every `orders_per_day` orders.
pub fn replay_lines_per_day(lines: u64, orders_per_day: u64) -> Vec<String> {
    let mut out = Vec::with_capacity(lines as usize);
    out.push(format!(
        r#"{{"type": "register_merchant", "id": "m", "account": "{MERCHANT}"}}"#
    ));
    let mut i = 0u64;
    while (out.len() as u64) < lines {
        let c = consumer_name(i);
        out.push(format!(
            r#"{{"type": "register_consumer", "id": "r{i}", "account": "{c}"}}"#
        ));
        out.push(format!(
            r#"{{"type": "pay_order", "id": "p{i}", "order": "o{i}", "consumer": "{c}", "merchant": "{MERCHANT}", "cash_fen": {}, "stable_fen": 0}}"#,
            amount_fen(i)
        ));
        out.push(format!(
            r#"{{"type": "confirm_order", "id": "k{i}", "order": "o{i}"}}"#
        ));
        if i % 7 == 3 {
            out.push(format!(
                r#"{{"type": "sell", "id": "s{i}", "account": "{c}", "atoms": 1000000}}"#
            ));
        }
        if i % orders_per_day == orders_per_day - 1 {
            let day = i / orders_per_day;
            out.push(format!(
                r#"{{"type": "settle_dividends", "id": "d{day}", "day": "{:04}-{:02}-{:02}"}}"#,
                2026 + day / 336,
                day / 28 % 12 + 1,
                day % 28 + 1
            ));
        }
        i += 1;
    }
    out.truncate(lines as usize);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workloads_are_valid() {
        let mut e = holders(bench_rules(), 50);
        for c in payments("b", 100, 50)
            .iter()
            .chain(confirmations("b", 100).iter())
        {
            must(&mut e, c);
        }
        e.check_full().unwrap();
        let (mut e, whale) = exit_cascade(200);
        must(&mut e, &whale);
        assert_eq!(e.effects().exits.len(), 202);
        e.check_full().unwrap();
        let lines = replay_lines(10_000);
        assert_eq!(lines.len(), 10_000);
    }
}
