//! `jifen demo`: the brief's worked example, told step by step.

use jifen_core::{workload, Command, Economy, Rules, ATOMS_PER_POINT};

#[derive(clap::Args)]
pub struct Args {
    /// How many buyers of a 100-yuan bottle of wine.
    #[arg(long, default_value_t = 100)]
    buyers: u64,
}

fn points(atoms: u64) -> String {
    let whole = atoms / ATOMS_PER_POINT;
    let frac = format!("{:08}", atoms % ATOMS_PER_POINT);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        whole.to_string()
    } else {
        format!("{whole}.{frac}")
    }
}

fn yuan(fen: u64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

fn must(e: &mut Economy, c: &Command) -> anyhow::Result<()> {
    e.execute(c)
        .map_err(|code| anyhow::anyhow!("demo command {c:?} rejected: {code}"))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let rules = Rules::default();
    let mut e = Economy::new(rules);
    println!("jifen demo: a winery sells 100-yuan bottles under the default rules.");
    println!(
        "Each fulfilled order puts {}% of the sale into the reserve and {}% into the dividend pool;",
        rules.reserve_bps / 100,
        rules.dividend_bps / 100
    );
    println!(
        "the buyer gets points worth {}% of what went into the reserve, at the price before the order.\n",
        rules.reward_bps / 100
    );
    println!(
        "{:>6}  {:>14}  {:>18}  {:>12}",
        "order", "points granted", "price (yuan/point)", "reserve"
    );
    must(&mut e, &workload::register_merchant())?;
    for i in 0..args.buyers {
        let order = format!("o{i}");
        must(&mut e, &workload::register(i))?;
        must(&mut e, &workload::pay(&order, i, 10_000))?;
        must(&mut e, &workload::confirm(&order))?;
        let granted: u64 = e.effects().grants.iter().map(|g| g.atoms.0).sum();
        if i < 4 || i + 1 == args.buyers || (i + 1) % 25 == 0 {
            println!(
                "{:>6}  {:>14}  {:>18}  {:>12}",
                i + 1,
                points(granted),
                e.price().yuan_per_point(4),
                yuan(e.totals().reserve_fen.0)
            );
        }
    }
    let first = e.account("c0").map_or(0, |a| a.atoms);
    let value = e.price().value_fen(first);
    println!(
        "\nThe first buyer's {} points are now worth {} yuan at today's price (they paid 100 yuan).",
        points(first),
        yuan(value)
    );
    println!(
        "Their dividend quota is {} yuan: a cap on what the dividend pool may pay them, not a promise.",
        yuan(e.account("c0").map_or(0, |a| a.quota_fen))
    );
    must(
        &mut e,
        &Command::SettleDividends {
            day: "2026-11-25".into(),
        },
    )?;
    if let Some(s) = e.effects().settlement {
        println!(
            "Settling today's dividend pool pays {} yuan to {} holders, pro rata to their points.",
            yuan(s.paid.0),
            s.holders_paid
        );
    }
    e.check_full()
        .map_err(|broken| anyhow::anyhow!("invariant broken: {broken}"))?;
    println!("Every invariant holds: money and points are fully accounted for.");
    println!(
        "\nNext: `jifen replay --rules RULES.toml COMMANDS.jsonl` runs your own command file."
    );
    Ok(())
}
