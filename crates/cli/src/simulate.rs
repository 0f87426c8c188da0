//! `jifen simulate`: a scenario through the real engine, with a report.

use std::path::PathBuf;
use std::time::Instant;

use jifen_sim::{
    accounts_csv, daily_csv, headlines, parse_scenario, report_html, simulate, summary_json,
};

use crate::store_cmds::progress_bar;
use crate::usage;

#[derive(clap::Args)]
pub struct Args {
    /// The scenario (TOML): rules, days, arrivals, spending, behaviours, shocks.
    scenario: PathBuf,
    /// Where to write daily.csv, accounts.csv, summary.json and report.html.
    #[arg(long, default_value = "simulation")]
    out: PathBuf,
    /// Seed of the behaviour model (the scenario's own seed by default).
    #[arg(long)]
    seed: Option<u64>,
    /// Recount every invariant of SPEC §10 after every simulated day.
    #[arg(long)]
    check: bool,
    /// Also write every command the simulation ran here, as a replay-format command file: each
    /// day opens with an `advance_clock` to its midnight (UTC), so the file replays with
    /// `jifen replay` and loads day by day into a server.
    #[arg(long)]
    commands: Option<std::path::PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.scenario)
        .map_err(|e| usage(format!("cannot read {}: {e}", args.scenario.display())))?;
    let mut scenario =
        parse_scenario(&text).map_err(|e| usage(format!("{}: {e}", args.scenario.display())))?;
    let seed = args.seed.unwrap_or(scenario.seed);
    std::fs::create_dir_all(&args.out)
        .map_err(|e| usage(format!("cannot create {}: {e}", args.out.display())))?;
    let start = Instant::now();
    // A scenario with fraud actors runs twice: without the risk controls, then with them.
    let runs = if scenario.fraud.is_some() { 2 } else { 1 };
    let bar = progress_bar(
        scenario.days * runs,
        &format!("simulating {}", scenario.name),
    );
    let log = args.commands.is_some();
    // With fraud actors: first the same run with the risk controls off, for comparison.
    let without = match scenario.fraud.is_some() {
        true => {
            let r = simulate(&scenario, seed, (args.check, false), &mut |day, _| {
                bar.set_position(day)
            })
            .map_err(|e| anyhow::anyhow!("the simulation without controls stopped: {e}"))?;
            scenario.controls = true;
            Some(r.tally)
        }
        false => None,
    };
    let done = if without.is_some() { scenario.days } else { 0 };
    let result = simulate(&scenario, seed, (args.check, log), &mut |day, _| {
        bar.set_position(done + day)
    });
    let mut result = result.map_err(|e| anyhow::anyhow!("the simulation stopped: {e}"))?;
    result.without_controls = without;
    bar.finish_and_clear();
    if let Some(path) = &args.commands {
        write_commands(path, &result.commands)?;
    }
    let simulated = start.elapsed();
    let files = [
        ("daily.csv", daily_csv(&result)),
        ("accounts.csv", accounts_csv(&result)),
        ("summary.json", summary_json(&result)),
        ("report.html", report_html(&result)),
    ];
    for (name, content) in &files {
        std::fs::write(args.out.join(name), content)?;
    }
    let total = start.elapsed();
    print_summary(
        &result,
        &args.out,
        simulated.as_secs_f64(),
        total.as_secs_f64(),
    );
    Ok(())
}

fn print_summary(r: &jifen_sim::SimResult, out: &std::path::Path, simulated_s: f64, total_s: f64) {
    let last = r.days.last().cloned().unwrap_or_default();
    let yuan = |fen: u64| format!("{}.{:02}", fen / 100, fen % 100);
    let rows = [
        ("days", r.scenario.days.to_string()),
        ("consumers", r.people.len().to_string()),
        (
            "orders",
            r.days.iter().map(|d| d.orders).sum::<u64>().to_string(),
        ),
        ("sales (yuan)", yuan(last.sales_total_fen)),
        ("set aside (yuan)", yuan(last.money_in_total_fen)),
        (
            "dividends paid (yuan)",
            yuan(r.days.iter().map(|d| d.dividends_paid_fen).sum()),
        ),
        (
            "paid to sellers (yuan)",
            yuan(r.economy.totals().paid_out_fen.0),
        ),
        (
            "exits",
            r.days.iter().map(|d| d.exits).sum::<u64>().to_string(),
        ),
        (
            "final price (yuan/point)",
            r.economy.price().yuan_per_point(4),
        ),
        (
            "outstanding quota (yuan)",
            yuan(r.economy.quota_total_fen()),
        ),
    ];
    println!("{} (seed {})", r.scenario.name, r.seed);
    for (k, v) in rows {
        println!("  {k:<26} {v:>18}");
    }
    println!();
    for line in headlines(r) {
        println!("- {line}");
    }
    println!(
        "\nwrote {}/{{daily.csv,accounts.csv,summary.json,report.html}} in {total_s:.2} s ({simulated_s:.2} s simulating)",
        out.display()
    );
}

/// The commands as a replay-format file, each day opened by an `advance_clock` to its midnight.
fn write_commands(
    path: &std::path::Path,
    commands: &[(u32, jifen_core::Command)],
) -> anyhow::Result<()> {
    use std::io::Write;
    let file = std::fs::File::create(path)
        .map_err(|e| usage(format!("cannot write {}: {e}", path.display())))?;
    let mut out = std::io::BufWriter::new(file);
    let mut day = 0;
    for (n, (date, c)) in commands.iter().enumerate() {
        if *date != day {
            day = *date;
            let at = format!("{}T00:00:00Z", jifen_core::format_day(day));
            let clock = jifen_core::Command::AdvanceClock { at: at.into() };
            let id = format!("sim-clock-{}", jifen_core::format_day(day));
            writeln!(out, "{}", jifen_wire::command_json(&id, &clock))?;
        }
        writeln!(out, "{}", jifen_wire::command_json(&format!("sim-{n}"), c))?;
    }
    out.flush()?;
    Ok(())
}
