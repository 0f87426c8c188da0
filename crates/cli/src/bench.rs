//! `jifen bench`: the engine's performance figures, printed as one JSON object.

use std::io::Write;
use std::time::{Duration, Instant};

use jifen_core::workload;
use jifen_core::{Command, Economy, Ledger};
use serde_json::json;

#[derive(clap::Subcommand)]
pub enum What {
    /// The in-memory engine: pay, confirm, settlement, exits, memory and replay throughput.
    Core(CoreArgs),
    /// The durable journal: commands/s by batch size, full replay, start-up from a snapshot.
    Journal(crate::bench_journal::Args),
    /// A real server over loopback: throughput and latency p50, p99 and max.
    Http(crate::bench_http::Args),
    /// Shop deliveries over loopback: a generic connector's signed order events, deliveries/s.
    Deliveries(crate::bench_deliveries::Args),
    /// Webhook deliveries to a receiver in this process over loopback, events/s.
    Webhooks(crate::bench_webhooks::Args),
    /// The liability report and the double-entry export over a year of a busy economy.
    Finance(crate::bench_finance::Args),
    /// The Merkle tree: the cost of an append as the tree grows, and of proofs in memory.
    Tree {
        /// Leaves appended.
        #[arg(long, default_value_t = 10_000_000)]
        leaves: u64,
    },
    /// (Internal) memory per account, measured in a fresh process.
    #[command(hide = true)]
    Memory {
        #[arg(long, default_value_t = 1_000_000)]
        accounts: u64,
    },
}

#[derive(clap::Args)]
pub struct CoreArgs {
    /// Accounts holding points (and eligible holders for settlement).
    #[arg(long, default_value_t = 1_000_000)]
    accounts: u64,
    /// Consumers exiting at once in the exit benchmark.
    #[arg(long, default_value_t = 100_000)]
    exits: u64,
    /// Lines in the replay benchmark.
    #[arg(long, default_value_t = 1_000_000)]
    replay_lines: u64,
    /// Repetitions of each measurement; the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Every risk rule on (SPEC §17, the recommended values), and every consumer with five
    /// earlier orders the rules remember (so the median and refund-rate rules have a history
    /// to read).
    #[arg(long)]
    risk: bool,
    /// With `--risk`: each order also carries a phone, an address and a device of its
    /// consumer, which the self-dealing and ring rules look up and remember.
    #[arg(long)]
    signals: bool,
}

pub fn run(store: &crate::store_cmds::StoreArgs, what: What) -> anyhow::Result<()> {
    match what {
        What::Core(args) => core(args),
        What::Journal(args) => crate::bench_journal::run(store, args),
        What::Http(args) => crate::bench_http::run(args),
        What::Deliveries(args) => crate::bench_deliveries::run(args),
        What::Webhooks(args) => crate::bench_webhooks::run(args),
        What::Finance(args) => crate::bench_finance::run(store, args),
        What::Memory { accounts } => memory(accounts),
        What::Tree { leaves } => tree(leaves),
    }
}

/// Appends `n` leaf hashes (made up front, so only the tree's own work is timed) and reports
/// the time per append in each tenth of the run: flat when appends cost O(1) amortised and
/// O(log n) at worst.
fn tree(n: u64) -> anyhow::Result<()> {
    use jifen_journal::merkle::{leaf_hash, Tree};
    progress(&format!("hashing {n} leaves"));
    let leaves: Vec<_> = (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect();
    progress("appending");
    let mut tree = Tree::default();
    let tenth = (n / 10).max(1);
    let mut per_tenth = Vec::new();
    let mut worst_ns = 0u128;
    let mut at = std::time::Instant::now();
    for (i, l) in leaves.iter().enumerate() {
        let one = std::time::Instant::now();
        tree.push(*l);
        worst_ns = worst_ns.max(one.elapsed().as_nanos());
        if (i as u64 + 1).is_multiple_of(tenth) {
            per_tenth.push(at.elapsed().as_nanos() as f64 / tenth as f64);
            at = std::time::Instant::now();
        }
    }
    let mut fetch = |g: u64| -> Result<Vec<_>, std::convert::Infallible> {
        let from = (g * 256) as usize;
        Ok(leaves[from..from + 256].to_vec())
    };
    let proof_start = std::time::Instant::now();
    let proofs = 1000u64;
    for k in 0..proofs {
        let index = (k * 7_919_993) % n;
        tree.inclusion_proof(index, n, &mut fetch)?;
    }
    let proof_us = proof_start.elapsed().as_secs_f64() * 1e6 / proofs as f64;
    println!(
        "{}",
        serde_json::json!({
            "leaves": n,
            "append_ns_by_tenth": per_tenth.iter().map(|x| (x * 10.0).round() / 10.0).collect::<Vec<_>>(),
            "worst_single_append_ns": worst_ns as u64,
            "inclusion_proof_in_memory_us": (proof_us * 10.0).round() / 10.0,
            "memory_bytes_kept": tree.groups().len() * 64,
        })
    );
    Ok(())
}

fn progress(msg: &str) {
    eprintln!("[bench] {msg}");
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

fn execute_all(e: &mut Economy, commands: &[Command]) {
    for c in commands {
        if let Err(code) = e.execute(c) {
            panic!("benchmark command {c:?} rejected: {code}");
        }
    }
}

fn core(args: CoreArgs) -> anyhow::Result<()> {
    let n = args.accounts;
    progress(&format!("building {n} accounts holding points"));
    let (base, build) = time(|| workload::holders(workload::bench_rules(), n));
    let signals = args.risk && args.signals;
    let ordered = with_earlier_orders(&base, n, args.risk, signals);
    let (pay_rates, confirm_rates) = order_rates(ordered, n, args.runs, signals);
    let (settle_ms, settle_paid) = settle_times(&base, n, args.runs);
    let (exit_ms, exits) = exit_times(args.exits, args.runs);
    let ledger_confirm = ledger_confirm_rate(n.min(200_000));
    let (replay_rate, replay_lines) = replay_rate(args.replay_lines, args.runs)?;
    progress("measuring memory per account in a fresh process");
    let memory = memory_in_child(n)?;
    let report = json!({
        "machine": machine(),
        "accounts_holding_points": n,
        "build_holders_s": build.as_secs_f64(),
        "pay_order_per_s": median(pay_rates).round(),
        "confirm_order_per_s": median(confirm_rates).round(),
        "confirm_order_with_ids_per_s": ledger_confirm.round(),
        "settle_holders": n,
        "settle_holders_paid": settle_paid,
        "settle_ms": median(settle_ms),
        "exits_in_one_command": exits,
        "exit_cascade_ms": median(exit_ms),
        "memory": memory,
        "replay_lines": replay_lines,
        "replay_lines_per_s": replay_rate.round(),
        "runs": args.runs,
        "risk_rules": args.risk,
        "risk_signals": signals,
        "statistic": "median",
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// Each consumer's own phone, address and device on a `pay_order`, as the server would hash
/// them.
fn add_signals(commands: &mut [Command]) {
    use jifen_core::risk::{SignalKind, Signals};
    for c in commands {
        if let Command::PayOrder {
            consumer, signals, ..
        } = c
        {
            let who = consumer
                .bytes()
                .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64));
            let mut s = Signals::default();
            s.set(SignalKind::Phone, who ^ 0x5151);
            s.set(SignalKind::Address, who ^ 0xadd4);
            s.set(SignalKind::Device, who ^ 0xde71);
            *signals = Some(Box::new(s));
        }
    }
}

/// `base` after five rounds of orders (each consumer one per round): with the recommended
/// risk rules on, orders they remember. The rounds run with the rules off too, so both modes
/// measure the same economy and differ only in the rules.
fn with_earlier_orders(base: &Economy, n: u64, risk: bool, signals: bool) -> Economy {
    let mut e = base.clone();
    let rules = if risk { "on" } else { "off" };
    progress(&format!(
        "five earlier orders per consumer, risk rules {rules}"
    ));
    if risk {
        let risk = Some(jifen_core::risk::RiskRules::RECOMMENDED);
        execute_all(&mut e, &[Command::SetRiskRules { risk }]);
    }
    for round in 0..5 {
        let prefix = format!("w{round}x");
        let mut pays = workload::payments(&prefix, n, n);
        if signals {
            add_signals(&mut pays);
        }
        execute_all(&mut e, &pays);
        execute_all(&mut e, &workload::confirmations(&prefix, n));
    }
    e
}

/// `pay_order` and `confirm_order` a second, on `n` holders, each run. The economy is taken,
/// not copied: a copy would share its chunks, and the first run would pay for copying every
/// chunk it writes to.
fn order_rates(mut e: Economy, n: u64, runs: usize, risk: bool) -> (Vec<f64>, Vec<f64>) {
    let mut pay_rates = Vec::new();
    let mut confirm_rates = Vec::new();
    for run in 0..runs {
        progress(&format!(
            "pay and confirm {n} orders, run {}/{}",
            run + 1,
            runs
        ));
        let prefix = format!("b{run}x");
        let mut pays = workload::payments(&prefix, n, n);
        if risk {
            add_signals(&mut pays);
        }
        let confirms = workload::confirmations(&prefix, n);
        let ((), paid) = time(|| execute_all(&mut e, &pays));
        let ((), confirmed) = time(|| execute_all(&mut e, &confirms));
        pay_rates.push(n as f64 / paid.as_secs_f64());
        confirm_rates.push(n as f64 / confirmed.as_secs_f64());
    }
    (pay_rates, confirm_rates)
}

/// Milliseconds to settle `n` holders, each run, and how many were paid.
fn settle_times(base: &Economy, n: u64, runs: usize) -> (Vec<f64>, u64) {
    let mut settle_ms = Vec::new();
    let mut paid = 0;
    for run in 0..runs {
        progress(&format!("settle {n} holders, run {}/{}", run + 1, runs));
        let mut e = base.clone();
        let day = Command::SettleDividends {
            day: "2026-11-25".into(),
        };
        let ((), took) = time(|| execute_all(&mut e, std::slice::from_ref(&day)));
        settle_ms.push(took.as_secs_f64() * 1e3);
        paid = e.effects().settlement.map_or(0, |s| s.holders_paid);
    }
    (settle_ms, paid)
}

/// Milliseconds for one price move that exits `exits` holders, each run, and the exits.
fn exit_times(exits: u64, runs: usize) -> (Vec<f64>, usize) {
    progress(&format!("building {exits} holders about to exit"));
    let (cascade, whale) = workload::exit_cascade(exits);
    let mut exit_ms = Vec::new();
    let mut done = 0;
    for run in 0..runs {
        progress(&format!(
            "one price move, {exits} exits, run {}/{}",
            run + 1,
            runs
        ));
        let mut e = cascade.clone();
        let ((), took) = time(|| execute_all(&mut e, std::slice::from_ref(&whale)));
        exit_ms.push(took.as_secs_f64() * 1e3);
        done = e.effects().exits.len();
    }
    (exit_ms, done)
}

/// `confirm_order` through the idempotent ledger (ids remembered), on a smaller economy.
fn ledger_confirm_rate(n: u64) -> f64 {
    progress(&format!(
        "pay and confirm {n} orders through the ledger, with ids"
    ));
    let mut l = Ledger::new(workload::bench_rules());
    let fp = jifen_core::Fingerprint(0);
    let mut submit = |id: String, c: &Command| {
        let o = l.submit(Some(&id), fp, Ok(c));
        assert!(o.result.is_ok(), "{c:?}");
    };
    submit("m".into(), &workload::register_merchant());
    for i in 0..n {
        submit(format!("r{i}"), &workload::register(i));
    }
    for (i, c) in workload::payments("b", n, n).iter().enumerate() {
        submit(format!("p{i}"), c);
    }
    let confirms = workload::confirmations("b", n);
    let ((), took) = time(|| {
        for (i, c) in confirms.iter().enumerate() {
            submit(format!("k{i}"), c);
        }
    });
    n as f64 / took.as_secs_f64()
}

fn replay_rate(lines: u64, runs: usize) -> anyhow::Result<(f64, u64)> {
    progress(&format!("writing a {lines}-line command file"));
    let dir = std::env::temp_dir().join(format!("jifen-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("commands.jsonl");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path)?);
        for line in workload::replay_lines(lines) {
            writeln!(f, "{line}")?;
        }
        f.flush()?;
    }
    let mut rates = Vec::new();
    for run in 0..runs {
        progress(&format!("replay {lines} lines, run {}/{}", run + 1, runs));
        let file = std::fs::File::open(&path)?;
        let size = file.metadata()?.len();
        let input = std::io::BufReader::with_capacity(1 << 20, file);
        let (ledger, took) = time(|| {
            crate::replay::replay(workload::bench_rules(), size, input, |_, _, _, _| Ok(()))
        });
        let ledger = ledger?;
        anyhow::ensure!(ledger.rejected() == 0, "the replay workload had rejections");
        rates.push(lines as f64 / took.as_secs_f64());
    }
    std::fs::remove_dir_all(&dir).ok();
    Ok((median(rates), lines))
}

fn memory_in_child(accounts: u64) -> anyhow::Result<serde_json::Value> {
    let exe = std::env::current_exe()?;
    let out = std::process::Command::new(exe)
        .args(["bench", "memory", "--accounts", &accounts.to_string()])
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "memory child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// Peak resident memory over a baseline, per account, for `accounts` accounts holding points
/// (each through one confirmed order, so the order book is counted too).
fn memory(accounts: u64) -> anyhow::Result<()> {
    let baseline = proc_status_kib("VmRSS")?;
    let e = workload::holders(workload::bench_rules(), accounts);
    let rss = proc_status_kib("VmRSS")?;
    let peak = proc_status_kib("VmHWM")?;
    let per = |kib: u64| (kib.saturating_sub(baseline) * 1024) as f64 / accounts as f64;
    let report = json!({
        "accounts": accounts,
        "orders": e.orders().len(),
        "exit_index_entries": e.exit_index_len(),
        "baseline_rss_kib": baseline,
        "rss_kib": rss,
        "peak_rss_kib": peak,
        "bytes_per_account_rss": per(rss).round(),
        "bytes_per_account_peak": per(peak).round(),
        "heap_bytes_per_account": heap_per_account(&e, accounts),
    });
    println!("{report}");
    Ok(())
}

/// The engine's own count of what its largest parts hold, per account, in bytes.
fn heap_per_account(e: &jifen_core::Economy, accounts: u64) -> serde_json::Value {
    let parts = e.heap_bytes();
    let total: usize = parts.iter().map(|(_, b)| b).sum();
    let mut out = serde_json::Map::new();
    for (part, bytes) in parts.into_iter().chain([("total", total)]) {
        let per = (bytes as f64 / accounts as f64 * 10.0).round() / 10.0;
        out.insert(part.to_string(), json!(per));
    }
    serde_json::Value::Object(out)
}

fn proc_status_kib(key: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("{key} not found in /proc/self/status"))
}

fn machine() -> serde_json::Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    json!({ "cpu": model, "cores": cores, "threads_used": 1 })
}
