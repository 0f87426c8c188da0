//! `jifen bench journal`: durable throughput by batch size, full replay speed and start-up time.

use std::time::Instant;

use jifen_core::workload;
use jifen_journal::{create_economy, recover, Journal, JournalConfig, StartupCheck, Submitted};
use serde_json::json;

use crate::store_cmds::{progress_bar, StoreArgs};

#[derive(clap::Args)]
pub struct Args {
    /// Batch sizes (commands per transaction) to measure.
    #[arg(long, value_delimiter = ',', default_value = "1,64,1024,8190")]
    batches: Vec<usize>,
    /// Commands written per batch size (the batch of 1 writes a tenth of this, at least 1000).
    #[arg(long, default_value_t = 300_000)]
    commands: u64,
    /// Entries in the journal replayed in full.
    #[arg(long, default_value_t = 10_000_000)]
    replay_entries: u64,
    /// Entries covered by the snapshot in the start-up measurement.
    #[arg(long, default_value_t = 1_000_000)]
    snapshot_entries: u64,
    /// Entries after the snapshot in the start-up measurement.
    #[arg(long, default_value_t = 100_000)]
    tail_entries: u64,
    /// Orders per simulated day (a settlement closes each day) in the written journals.
    #[arg(long, default_value_t = 100_000)]
    orders_per_day: u64,
    /// Only time a full replay (recovery from empty) of this existing economy, several times.
    #[arg(long)]
    replay_existing: Option<String>,
    /// Repetitions of `--replay-existing`; the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// A tag for the economies this run creates.
    #[arg(long, default_value = "bench")]
    tag: String,
}

fn lines(n: u64, orders_per_day: u64) -> Vec<Submitted> {
    workload::replay_lines_per_day(n, orders_per_day)
        .into_iter()
        .map(Submitted::Line)
        .collect()
}

fn progress(msg: &str) {
    eprintln!("[bench] {msg}");
}

/// Writes `commands` into a new economy in transactions of exactly `batch` commands, one after
/// another, and returns commands per second.
fn durable_rate(
    store: &StoreArgs,
    economy: &str,
    batch: usize,
    all: Vec<Submitted>,
    snapshot_every: u64,
) -> anyhow::Result<f64> {
    let commands = all.len() as u64;
    let mut s = store.open()?;
    create_economy(
        s.as_mut(),
        economy,
        economy,
        &workload::bench_rules(),
        "UTC",
        jifen_journal::time::now_ms(),
    )?;
    let config = JournalConfig {
        snapshot_every_entries: snapshot_every,
        snapshot_on_shutdown: false,
        ..JournalConfig::default()
    };
    let (journal, _) = Journal::open(s, economy, config)?;
    let bar = progress_bar(commands, &format!("batch {batch}"));
    let start = Instant::now();
    for chunk in all.chunks(batch) {
        let acks = journal.submit_wait(chunk.to_vec())?;
        anyhow::ensure!(
            acks.iter().all(|a| a.outcome.result.is_ok()),
            "benchmark commands were rejected"
        );
        bar.inc(chunk.len() as u64);
    }
    let took = start.elapsed();
    bar.finish_and_clear();
    journal.shutdown()?;
    Ok(commands as f64 / took.as_secs_f64())
}

/// Times full replays of an existing economy: recovery from empty, every check included.
fn replay_existing(store: &StoreArgs, economy: &str, runs: usize) -> anyhow::Result<()> {
    let mut rates = Vec::new();
    let mut entries = 0;
    for run in 0..runs.max(1) {
        progress(&format!("replaying {economy}, run {}/{}", run + 1, runs));
        let mut s = store.open()?;
        let start = Instant::now();
        let r = recover(s.as_mut(), economy, StartupCheck::Tail)?;
        let took = start.elapsed().as_secs_f64();
        anyhow::ensure!(
            r.snapshot_seq.is_none(),
            "{economy} has a snapshot: this would not be a full replay"
        );
        entries = r.head_seq;
        rates.push(entries as f64 / took);
    }
    rates.sort_by(|a, b| a.total_cmp(b));
    let report = json!({
        "backend": store.open()?.backend(),
        "economy": economy,
        "replay_entries": entries,
        "replay_entries_per_s_runs": rates,
        "replay_entries_per_s_median": rates[rates.len() / 2].round(),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

pub fn run(store: &StoreArgs, args: Args) -> anyhow::Result<()> {
    if let Some(economy) = &args.replay_existing {
        return replay_existing(store, economy, args.runs);
    }
    let backend = store.open()?.backend();
    let by_batch = batch_rates(store, &args, backend)?;
    let (write_rate, replay_s) = replay_rate(store, &args, backend)?;
    let startups = startup_times(store, &args, backend)?;
    let report = json!({
        "backend": backend,
        "durable_commands_per_s_by_batch": by_batch,
        "replay_entries": args.replay_entries,
        "orders_per_day": args.orders_per_day,
        "replay_entries_per_s": (args.replay_entries as f64 / replay_s).round(),
        "replay_s": replay_s,
        "write_rate_8190_at_scale_per_s": write_rate.round(),
        "startup_snapshot_entries": args.snapshot_entries,
        "startup_tail_entries": args.tail_entries,
        "startup_s": startups,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// Durable commands a second, for each transaction size asked for.
fn batch_rates(
    store: &StoreArgs,
    args: &Args,
    backend: &str,
) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    let mut by_batch = serde_json::Map::new();
    for &batch in &args.batches {
        let n = if batch == 1 {
            (args.commands / 10).max(1_000)
        } else {
            args.commands
        };
        progress(&format!(
            "{backend}: {n} commands in transactions of {batch}"
        ));
        let economy = format!("{}-b{batch}", args.tag);
        let rate = durable_rate(
            store,
            &economy,
            batch,
            lines(n, args.orders_per_day),
            u64::MAX,
        )?;
        by_batch.insert(batch.to_string(), json!(rate.round()));
    }
    Ok(by_batch)
}

/// Writes a long journal (its durable rate), then replays it from empty (its seconds).
fn replay_rate(store: &StoreArgs, args: &Args, backend: &str) -> anyhow::Result<(f64, f64)> {
    progress(&format!(
        "{backend}: writing a {}-entry journal",
        args.replay_entries
    ));
    let big = format!("{}-replay", args.tag);
    let all = lines(args.replay_entries, args.orders_per_day);
    let write_rate = durable_rate(store, &big, 8190, all, u64::MAX)?;
    progress(&format!(
        "{backend}: replaying {} entries from empty",
        args.replay_entries
    ));
    let mut s = store.open()?;
    let start = Instant::now();
    let r = recover(s.as_mut(), &big, StartupCheck::Tail)?;
    let replay_s = start.elapsed().as_secs_f64();
    anyhow::ensure!(
        r.head_seq == args.replay_entries && r.snapshot_seq.is_none(),
        "unexpected replay: head {} snapshot {:?}",
        r.head_seq,
        r.snapshot_seq
    );
    Ok((write_rate, replay_s))
}

/// Start-up from a snapshot plus a tail, with each start-up check.
fn startup_times(
    store: &StoreArgs,
    args: &Args,
    backend: &str,
) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    let total = args.snapshot_entries + args.tail_entries;
    progress(&format!(
        "{backend}: snapshot at {} plus a {}-entry tail",
        args.snapshot_entries, args.tail_entries
    ));
    let startup = format!("{}-startup", args.tag);
    let mut all = lines(total, args.orders_per_day);
    let tail = all.split_off(args.snapshot_entries as usize);
    durable_rate(store, &startup, 8190, all, u64::MAX)?;
    let config = JournalConfig {
        snapshot_every_entries: u64::MAX,
        snapshot_on_shutdown: false,
        ..JournalConfig::default()
    };
    let (journal, _) = Journal::open(store.open()?, &startup, config)?;
    journal.snapshot()?;
    for chunk in tail.chunks(8190) {
        journal.submit_wait(chunk.to_vec())?;
    }
    // No snapshot on shutdown, so start-up must replay the tail.
    journal.shutdown()?;
    let mut startups = serde_json::Map::new();
    for (name, check) in [
        ("tail", StartupCheck::Tail),
        ("full_chain", StartupCheck::FullChain),
    ] {
        let mut s = store.open()?;
        let start = Instant::now();
        let r = recover(s.as_mut(), &startup, check)?;
        let took = start.elapsed().as_secs_f64();
        anyhow::ensure!(
            r.snapshot_seq == Some(args.snapshot_entries) && r.head_seq == total,
            "start-up did not use the snapshot"
        );
        startups.insert(name.into(), json!(took));
    }
    Ok(startups)
}
