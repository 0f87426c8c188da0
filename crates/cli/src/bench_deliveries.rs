//! `jifen bench deliveries`: shop deliveries to a real server over loopback. It makes an
//! economy with a merchant and a `generic` connector, then each connection posts, order after
//! order, the order's `order_paid` and its `order_completed`, each signed by Standard Webhooks
//! with the connector's secret, closed-loop for `--duration` seconds after a warm-up. Every
//! delivery must be answered 200.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::bench_http::{head, print_with_latencies, push_u64, target, with_economy, Conn, Target};

#[derive(clap::Args, Clone)]
pub struct Args {
    #[command(flatten)]
    server: crate::bench_http::ServerArgs,
    /// The economy to load; created when missing.
    #[arg(long, default_value = "bench-deliveries")]
    economy: String,
    /// Connections, each with one delivery in flight.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Seconds of measurement.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Seconds of the same load before measuring (not counted).
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Distinct buyers; orders cycle over them.
    #[arg(long, default_value_t = 10_000)]
    buyers: usize,
    /// Worker threads of the load generator.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

/// The economy, its merchant and a connector: the connector's id and secret.
async fn setup(args: &Args, t: &Target) -> anyhow::Result<(String, String)> {
    let mut c = with_economy(t, &args.server.key, &args.economy).await?;
    let path = format!("/v1/economies/{}/commands", args.economy);
    let merchant = br#"{"type":"register_merchant","id":"r-bm","account":"bm"}"#;
    c.call(&head("POST", &path, t, &args.server.key), merchant)
        .await?;
    let id = format!("b{:x}", jifen_journal::time::now_ms() % 0xffff_ffff);
    let connector = serde_json::json!({"id": id, "kind": "generic", "merchant": "bm"}).to_string();
    let path = format!("/v1/economies/{}/connectors", args.economy);
    let (status, body) = c
        .call(
            &head("POST", &path, t, &args.server.key),
            connector.as_bytes(),
        )
        .await?;
    if status != 201 {
        bail!(
            "creating the connector: HTTP {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    let made: serde_json::Value = serde_json::from_slice(&body)?;
    let secret = made["secret"].as_str().context("no secret")?.to_string();
    Ok((id, secret))
}

/// Delivery `n` of connection `conn`: even `n` pays an order, odd `n` completes it.
fn delivery(run: &str, conn: usize, n: u64, buyers: usize, secret: &str) -> (String, Vec<u8>) {
    let mut order = String::with_capacity(32);
    order.push_str(run);
    order.push('-');
    push_u64(&mut order, conn as u64);
    order.push('-');
    push_u64(&mut order, n / 2);
    let mut body = String::with_capacity(160);
    if n.is_multiple_of(2) {
        body.push_str(r#"{"type":"order_paid","order":""#);
        body.push_str(&order);
        body.push_str(r#"","buyer":"u"#);
        push_u64(
            &mut body,
            ((n / 2) as usize * 31 + conn * 7919) as u64 % buyers as u64,
        );
        body.push_str(r#"","amount_fen":"#);
        push_u64(&mut body, 1000 + n % 9000);
        body.push_str(r#","currency":"CNY"}"#);
    } else {
        body.push_str(r#"{"type":"order_completed","order":""#);
        body.push_str(&order);
        body.push_str(r#""}"#);
    }
    let id = format!("{order}-{}", n % 2);
    let now = jifen_journal::time::now_ms() / 1000;
    let mut headers = String::new();
    for (k, v) in jifen_connect::standard_webhooks::headers(&[secret], &id, now, body.as_bytes()) {
        headers.push_str(&format!("{k}: {v}\r\n"));
    }
    (headers, body.into_bytes())
}

struct Sent {
    latencies_us: Vec<u64>,
    errors: u64,
}

async fn drive(
    args: Args,
    t: std::sync::Arc<Target>,
    to: (String, String),
    run: String,
    conn: usize,
    end: Instant,
) -> anyhow::Result<Sent> {
    let mut c = Conn::open(&t).await?;
    let path = format!("/v1/economies/{}/connectors/{}/events", args.economy, to.0);
    let base = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n",
        t.host
    );
    let mut sent = Sent {
        latencies_us: Vec::new(),
        errors: 0,
    };
    let mut n = 0u64;
    while Instant::now() < end {
        let (headers, body) = delivery(&run, conn, n, args.buyers, &to.1);
        let started = Instant::now();
        let (status, _) = c.call(&format!("{base}{headers}"), &body).await?;
        sent.latencies_us.push(started.elapsed().as_micros() as u64);
        if status != 200 {
            sent.errors += 1;
        }
        n += 1;
    }
    Ok(sent)
}

async fn load(
    args: &Args,
    t: &std::sync::Arc<Target>,
    to: &(String, String),
    run: &str,
    length: Duration,
) -> anyhow::Result<(Vec<u64>, u64)> {
    let end = Instant::now() + length;
    let tasks: Vec<_> = (0..args.concurrency)
        .map(|conn| {
            tokio::spawn(drive(
                args.clone(),
                t.clone(),
                to.clone(),
                run.to_string(),
                conn,
                end,
            ))
        })
        .collect();
    let (mut all, mut errors) = (Vec::new(), 0);
    for task in tasks {
        let s = task.await??;
        all.extend(s.latencies_us);
        errors += s.errors;
    }
    Ok((all, errors))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.concurrency == 0 || args.concurrency > 4096 || args.buyers == 0 {
        bail!("--concurrency must be 1 to 4096 and --buyers at least 1");
    }
    let t = std::sync::Arc::new(target(&args.server.url)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let to = setup(&args, &t).await?;
        if args.warmup > 0 {
            let run = format!("w{:x}", jifen_journal::time::now_ms());
            load(&args, &t, &to, &run, Duration::from_secs(args.warmup)).await?;
        }
        let run = format!("{:x}", jifen_journal::time::now_ms());
        let start = Instant::now();
        let (mut all, errors) =
            load(&args, &t, &to, &run, Duration::from_secs(args.duration)).await?;
        let secs = start.elapsed().as_secs_f64();
        let mut summary = serde_json::json!({
            "concurrency": args.concurrency,
            "seconds": (secs * 100.0).round() / 100.0,
            "deliveries": all.len(),
            "deliveries_per_s": (all.len() as f64 / secs).round(),
            "orders_per_s": (all.len() as f64 / secs / 2.0).round(),
            "errors": errors,
        });
        print_with_latencies(&mut summary, &mut all)?;
        if errors > 0 {
            bail!("{errors} deliveries were not answered 200");
        }
        Ok(())
    })
}
