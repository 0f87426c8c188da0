//! `jifen bench finance`: the daily liability report and the double-entry export over a year of
//! a busy economy, as the server makes them (docs/FINANCE.md).
//!
//! It writes a year of entries through the durable writer, the writer's clock moving one day at
//! each settlement (so the entries fall on 365 days of the economy's time zone), then times
//! the report (JSON rows and CSV) and the export (CSV) over the whole year, several times.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use jifen_core::workload;
use jifen_journal::{create_economy, Journal, JournalConfig, Submitted};
use jifen_server::finance::{self, Range};
use serde_json::json;

use crate::store_cmds::{progress_bar, StoreArgs};

#[derive(clap::Args)]
pub struct Args {
    /// Journal entries in the year.
    #[arg(long, default_value_t = 3_650_000)]
    entries: u64,
    /// Days they cover (one settlement a day).
    #[arg(long, default_value_t = 365)]
    days: u64,
    /// Repetitions of each timing; the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Time an economy this benchmark wrote before (its id) instead of writing a new one.
    #[arg(long)]
    existing: Option<String>,
}

/// 2026-01-01T04:00:00Z: noon in Shanghai.
const DAY0_MS: i64 = 1_767_240_000_000;
const DAY_MS: i64 = 86_400_000;
const TIME_ZONE: &str = "Asia/Shanghai";

pub fn run(store: &StoreArgs, args: Args) -> anyhow::Result<()> {
    let economy = match &args.existing {
        Some(id) => id.clone(),
        None => {
            let id = format!("bench-finance-{}", jifen_journal::time::now_ms());
            write_year(store, &id, &args)?;
            id
        }
    };
    let tz = jifen_server::jiff::tz::TimeZone::get(TIME_ZONE)?;
    let from = jifen_server::jiff::civil::date(2026, 1, 1);
    let to = from.checked_add(jifen_server::jiff::Span::new().days(args.days as i64 - 1))?;
    let range = Range { from, to };
    let handle = jifen_server::store::StoreHandle::new(
        store.open()?,
        store.data.clone(),
        store.database.clone(),
    );
    // What a server holds in memory: the committed state now.
    let (live, ledger) = live_sample(store.open()?.as_mut(), &economy)?;
    let mut report_s = Vec::new();
    let mut export_s = Vec::new();
    let mut statement_s = Vec::new();
    let (mut rows, mut bytes, mut covered) = (0, 0, (0, 0));
    for run in 0..args.runs.max(1) {
        eprintln!("[bench] run {}/{}: the report", run + 1, args.runs);
        let start = Instant::now();
        let mut s = store.open()?;
        let (days, source) =
            finance::liability_rows(s.as_mut(), &economy, tz.clone(), range, &[], Some(&live))?;
        let csv = finance::report_table(&days).csv();
        report_s.push(start.elapsed().as_secs_f64());
        anyhow::ensure!(
            source == finance::Source::Stored,
            "the report fell back to replaying the journal"
        );
        rows = days.len();
        eprintln!("[bench] run {}/{}: the export", run + 1, args.runs);
        let start = Instant::now();
        let ask = finance::export::Ask {
            range,
            xlsx: false,
            replay: false,
        };
        let accounts = ledger.economy().accounts();
        let (out, source) = finance::export::run(&handle, &economy, tz.clone(), ask, accounts)
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        anyhow::ensure!(
            source == finance::Source::Stored,
            "the export fell back to replaying the journal"
        );
        export_s.push(start.elapsed().as_secs_f64());
        bytes = out.len();
        covered = export_coverage(&out);
        drop(csv);
        eprintln!("[bench] run {}/{}: a statement", run + 1, args.runs);
        let start = Instant::now();
        let june = finance::statement::month_of(jifen_server::jiff::civil::date(2026, 6, 15));
        let mut s = store.open()?;
        let statement =
            finance::statement::statement(s.as_mut(), &economy, tz.clone(), "c100000", june)?;
        statement_s.push(start.elapsed().as_secs_f64());
        anyhow::ensure!(statement.ties_out(), "the statement does not tie out");
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let report = json!({
        "economy": economy, "entries": live.seq, "days": rows,
        "report_seconds_median": median(&mut report_s), "report_seconds": report_s,
        "export_seconds_median": median(&mut export_s), "export_seconds": export_s,
        "export_csv_bytes": bytes,
        "export_lines": covered.0, "export_last_seq": covered.1,
        "statement_june_seconds_median": median(&mut statement_s), "statement_seconds": statement_s,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// The export's lines and the seq of its last line, to show it covers the whole journal.
fn export_coverage(csv: &[u8]) -> (usize, u64) {
    let lines = csv
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        .saturating_sub(1);
    let last = csv[..csv.len().saturating_sub(1)]
        .rsplit(|b| *b == b'\n')
        .next()
        .and_then(|row| row.split(|b| *b == b',').nth(1))
        .and_then(|seq| std::str::from_utf8(seq).ok()?.parse().ok())
        .unwrap_or(0);
    (lines, last)
}

/// The committed state now, as a sample (what a server's live ledger gives the report).
fn live_sample(
    store: &mut dyn jifen_journal::Store,
    economy: &str,
) -> anyhow::Result<(jifen_journal::Sample, jifen_core::Ledger)> {
    let head = store.head(economy)?.map_or((0, 0), |e| (e.seq, e.ts_ms));
    let ledger = jifen_journal::ledger_at(store, economy, head.0, &|| true)?;
    let sample = jifen_journal::Sample::of(ledger.economy(), head.0, head.1);
    Ok((sample, ledger))
}

/// The journal workload's rules with the dividend pool off: a settlement otherwise stores one
/// dividend row per holder per day (a million holders by the year's end, some 200 million rows),
/// which only slows the writing of the year; the report and the export carry a settlement as one
/// pair of lines whatever the number of holders.
fn year_rules() -> jifen_core::Rules {
    jifen_core::Rules {
        dividend_bps: 0,
        ..workload::bench_rules()
    }
}

/// A year of the journal workload, the writer's clock at noon of each day in turn.
fn write_year(store: &StoreArgs, id: &str, args: &Args) -> anyhow::Result<()> {
    // About 3.14 entries an order (registration, payment, confirmation, a sale in seven), and
    // rounded up, so that every entry falls within the days.
    let per_day = (args.entries * 7).div_ceil(22 * args.days.max(1)).max(1);
    let lines = workload::replay_lines_per_day(args.entries, per_day);
    let mut s = store.open()?;
    create_economy(s.as_mut(), id, id, &year_rules(), TIME_ZONE, DAY0_MS)?;
    let now = Arc::new(AtomicI64::new(DAY0_MS));
    let clock = now.clone();
    let config = JournalConfig {
        clock: Arc::new(move || clock.load(Ordering::Relaxed)),
        ..JournalConfig::default()
    };
    let (journal, _) = Journal::open(s, id, config)?;
    let bar = progress_bar(args.entries, "writing a year");
    let mut day_lines: Vec<Submitted> = Vec::with_capacity(8190);
    let mut day = 0;
    for line in lines {
        let settles = line.contains("settle_dividends");
        day_lines.push(Submitted::Line(line));
        if settles || day_lines.len() == 8190 {
            bar.inc(day_lines.len() as u64);
            journal.submit_wait(std::mem::take(&mut day_lines))?;
        }
        if settles {
            day += 1;
            now.store(DAY0_MS + day * DAY_MS, Ordering::Relaxed);
        }
    }
    if !day_lines.is_empty() {
        journal.submit_wait(day_lines)?;
    }
    bar.finish_and_clear();
    journal.shutdown()?;
    eprintln!(
        "[bench] wrote {} entries over {} days into {id}",
        args.entries,
        day + 1
    );
    Ok(())
}
