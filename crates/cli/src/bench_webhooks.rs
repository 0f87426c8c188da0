//! `jifen bench webhooks`: webhook deliveries from a real server to a receiver in this process,
//! over loopback. It fills an economy with `--orders` orders (each paid and confirmed: three
//! events), then subscribes the receiver from seq 1 and measures how fast the backlog arrives,
//! events/s. With `--hold`, it only subscribes and keeps receiving for that many seconds (so
//! `jifen bench http` can measure the server with one active subscription). The server must
//! allow private targets (`serve --allow-private-targets`): the receiver is on loopback.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use axum::body::Bytes;
use axum::serve::ListenerExt;

use crate::bench_http::{head, target, with_economy, Conn, Target};

#[derive(clap::Args, Clone)]
pub struct Args {
    #[command(flatten)]
    server: crate::bench_http::ServerArgs,
    /// The economy; created when missing.
    #[arg(long, default_value = "bench-webhooks")]
    economy: String,
    /// Orders loaded before subscribing (three events each).
    #[arg(long, default_value_t = 50_000)]
    orders: u64,
    /// Events per POST (1 to 100).
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Only subscribe and receive for this many seconds (or until SIGTERM), then unsubscribe;
    /// load nothing, measure nothing. The
    /// receiver then runs at idle priority: it stands for the brand's own machine, and should not
    /// take the CPU the server would have had.
    #[arg(long)]
    hold: Option<u64>,
}

/// Counts what arrives: events, and the time of the last.
#[derive(Default)]
struct Counts {
    events: AtomicU64,
    last_ns: AtomicU64,
}

/// A receiver on a free loopback port, answering 200 to every POST: its port.
async fn receiver(counts: Arc<Counts>, started: Instant) -> anyhow::Result<u16> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let app = axum::Router::new().fallback(move |body: Bytes| {
        let counts = counts.clone();
        async move {
            let n = if body.starts_with(br#"{"events":"#) {
                serde_json::from_slice::<serde_json::Value>(&body)
                    .map(|v| v["events"].as_array().map_or(0, |a| a.len() as u64))
                    .unwrap_or(0)
            } else {
                1
            };
            counts.events.fetch_add(n, Ordering::Relaxed);
            counts
                .last_ns
                .store(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
            "ok"
        }
    });
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(port)
}

async fn call_ok(
    c: &mut Conn,
    t: &Target,
    key: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> anyhow::Result<Vec<u8>> {
    let (status, answer) = c.call(&head(method, path, t, key), body).await?;
    if !(200..300).contains(&status) {
        bail!(
            "{method} {path}: HTTP {status}: {}",
            String::from_utf8_lossy(&answer)
        );
    }
    Ok(answer)
}

/// Loads the orders, 500 at a time (a pay and a confirm each).
async fn load(args: &Args, t: &Target, c: &mut Conn) -> anyhow::Result<()> {
    let path = format!("/v1/economies/{}/commands", args.economy);
    let run = format!("{:x}", jifen_journal::time::now_ms());
    let setup = serde_json::json!([
        {"type":"register_merchant","id":format!("m-{run}"),"account":format!("m{run}")},
        {"type":"register_consumer","id":format!("c-{run}"),"account":format!("c{run}")},
    ]);
    call_ok(
        c,
        t,
        &args.server.key,
        "POST",
        &path,
        setup.to_string().as_bytes(),
    )
    .await?;
    let mut k = 0;
    while k < args.orders {
        let n = (args.orders - k).min(500);
        let mut batch = Vec::with_capacity(2 * n as usize);
        for i in k..k + n {
            let order = format!("o{run}-{i}");
            batch.push(serde_json::json!({"type":"pay_order","id":format!("p{run}-{i}"),"order":order,"consumer":format!("c{run}"),"merchant":format!("m{run}"),"cash_fen":1000,"stable_fen":0}));
            batch.push(serde_json::json!({"type":"confirm_order","id":format!("k{run}-{i}"),"order":order}));
        }
        call_ok(
            c,
            t,
            &args.server.key,
            "POST",
            &path,
            &serde_json::to_vec(&batch)?,
        )
        .await?;
        k += n;
    }
    Ok(())
}

/// Subscribes the receiver at `port` from `from_seq`.
async fn subscribe(
    args: &Args,
    t: &Target,
    c: &mut Conn,
    port: u16,
    from_seq: u64,
) -> anyhow::Result<String> {
    let path = format!("/v1/economies/{}/webhooks", args.economy);
    let id = format!("bench-{:x}", jifen_journal::time::now_ms() % 0xffff_ffff);
    let body = serde_json::json!({
        "id": id, "url": format!("http://127.0.0.1:{port}/hook"), "events": ["*"],
        "batch": args.batch, "from_seq": from_seq,
    });
    call_ok(
        c,
        t,
        &args.server.key,
        "POST",
        &path,
        body.to_string().as_bytes(),
    )
    .await?;
    Ok(id)
}

/// The economy's committed head.
async fn head_seq(args: &Args, t: &Target, c: &mut Conn) -> anyhow::Result<u64> {
    let path = format!("/v1/economies/{}", args.economy);
    let answer = call_ok(c, t, &args.server.key, "GET", &path, b"").await?;
    let v: serde_json::Value = serde_json::from_slice(&answer)?;
    v["head_seq"].as_u64().context("no head_seq in the answer")
}

/// Waits until no event has arrived for a second; the events counted.
async fn settle(counts: &Counts) -> u64 {
    let mut seen = 0;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = counts.events.load(Ordering::Relaxed);
        if now == seen && now > 0 {
            return now;
        }
        seen = now;
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if !(1..=100).contains(&args.batch) {
        bail!("--batch must be 1 to 100");
    }
    let t = target(&args.server.url)?;
    let hold = args.hold.is_some();
    if hold {
        jifen_server::priority::set_background(true);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .on_thread_start(move || {
            if hold {
                jifen_server::priority::set_background(true);
            }
        })
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let started = Instant::now();
        let counts = Arc::new(Counts::default());
        let port = receiver(counts.clone(), started).await?;
        let mut c = with_economy(&t, &args.server.key, &args.economy).await?;
        if let Some(secs) = args.hold {
            let id = subscribe(&args, &t, &mut c, port, 1).await?;
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(secs)) => {}
                _ = term.recv() => {}
            }
            let path = format!("/v1/economies/{}/webhooks/{id}", args.economy);
            // The server has closed the idle connection by now.
            let mut c = Conn::open(&t).await?;
            call_ok(&mut c, &t, &args.server.key, "DELETE", &path, b"").await?;
            println!("{}", serde_json::json!({"held_s": secs, "events": counts.events.load(Ordering::Relaxed)}));
            return Ok(());
        }
        let from = head_seq(&args, &t, &mut c).await? + 1;
        load(&args, &t, &mut c).await?;
        let subscribed = started.elapsed();
        subscribe(&args, &t, &mut c, port, from).await?;
        let events = settle(&counts).await;
        let took = Duration::from_nanos(counts.last_ns.load(Ordering::Relaxed)) - subscribed;
        let expected = 3 * args.orders;
        println!("{}", serde_json::json!({
            "orders": args.orders, "batch": args.batch, "events": events, "expected_events": expected,
            "seconds": (took.as_secs_f64() * 100.0).round() / 100.0,
            "events_per_s": (events as f64 / took.as_secs_f64()).round(),
        }));
        if events != expected {
            bail!("{events} events arrived, {expected} expected");
        }
        Ok(())
    })
}
