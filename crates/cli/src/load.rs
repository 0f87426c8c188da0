//! `jifen load` (hidden): concurrent writers against the durable journal, printing a line for
//! every command once it is acknowledged. The crash test kills it at random moments and checks
//! that every acknowledged command survived exactly once.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jifen_core::Rules;
use jifen_journal::{create_economy, JournalConfig, Submitted, DEFAULT_TIMEZONE};
use serde_json::json;

use crate::store_cmds::StoreArgs;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    economy: String,
    /// A tag that makes this run's ids unique.
    #[arg(long)]
    run: String,
    #[arg(long, default_value_t = 4)]
    threads: u64,
    /// Largest batch one request carries (sizes vary from 1 up to this).
    #[arg(long, default_value_t = 64)]
    batch_max: u64,
    /// Stop after this long.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Take a snapshot every this many entries.
    #[arg(long, default_value_t = 500)]
    snapshot_every: u64,
}

/// A small deterministic generator (SplitMix64), so each thread's stream is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The k-th command of thread `t`: a shop, then rounds of register, pay, confirm and sell.
fn command(run: &str, t: u64, k: u64) -> serde_json::Value {
    let id = format!("{run}-{t}-{k}");
    let shop = format!("shop-{run}-{t}");
    if k == 0 {
        return json!({"type": "register_merchant", "id": id, "account": shop});
    }
    let round = (k - 1) / 4;
    let buyer = format!("c-{run}-{t}-{round}");
    let order = format!("o-{run}-{t}-{round}");
    match (k - 1) % 4 {
        0 => json!({"type": "register_consumer", "id": id, "account": buyer}),
        1 => {
            json!({"type": "pay_order", "id": id, "order": order, "consumer": buyer, "merchant": shop,
                     "cash_fen": 10_000 + round % 5_000, "stable_fen": 0})
        }
        2 => json!({"type": "confirm_order", "id": id, "order": order}),
        _ => json!({"type": "sell", "id": id, "account": buyer, "atoms": 1_000_000}),
    }
}

pub fn run(store: &StoreArgs, args: Args) -> anyhow::Result<()> {
    let _lock = store.lock_for_writing("jifen load")?;
    let mut s = store.open()?;
    if s.economy(&args.economy)?.is_none() {
        let now = jifen_journal::time::now_ms();
        create_economy(
            s.as_mut(),
            &args.economy,
            &args.economy,
            &Rules::default(),
            DEFAULT_TIMEZONE,
            now,
        )?;
    }
    let config = JournalConfig {
        snapshot_every_entries: args.snapshot_every,
        ..JournalConfig::default()
    };
    let journal = crate::store_cmds::open_journal(s, &args.economy, config)?;
    let journal = Arc::new(journal);
    let out = Arc::new(Mutex::new(std::io::stdout()));
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let mut threads = Vec::new();
    for t in 0..args.threads {
        let (journal, out, run) = (journal.clone(), out.clone(), args.run.clone());
        let batch_max = args.batch_max.max(1);
        threads.push(std::thread::spawn(move || -> anyhow::Result<u64> {
            let mut rng = Rng(t + 1);
            let mut k = 0u64;
            while Instant::now() < deadline {
                let n = 1 + rng.next() % batch_max;
                let batch: Vec<Submitted> = (k..k + n)
                    .map(|i| Submitted::Value(command(&run, t, i)))
                    .collect();
                let acks = journal.submit_wait(batch)?;
                let mut text = String::new();
                for a in &acks {
                    let code = a.outcome.code().map_or("ok", |c| c.as_str());
                    text.push_str(&format!(
                        "ACK {} {} {code}\n",
                        a.id_echo.as_str().unwrap_or(""),
                        a.outcome.seq
                    ));
                }
                let mut o = out
                    .lock()
                    .map_err(|_| anyhow::anyhow!("stdout lock poisoned"))?;
                o.write_all(text.as_bytes())?;
                o.flush()?;
                k += n;
            }
            Ok(k)
        }));
    }
    let mut total = 0;
    for t in threads {
        total += t
            .join()
            .map_err(|_| anyhow::anyhow!("a load thread panicked"))??;
    }
    eprintln!("load: {total} commands acknowledged");
    match Arc::try_unwrap(journal) {
        Ok(j) => j.shutdown()?,
        Err(_) => anyhow::bail!("journal still shared"),
    }
    Ok(())
}
