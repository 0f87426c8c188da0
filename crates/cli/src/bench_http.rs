//! `jifen bench http`: a load generator for a real server over loopback. Each connection is a
//! keep-alive HTTP/1.1 client sending batches of `pay_order` + `confirm_order` commands (every
//! one accepted), closed-loop, or open-loop at `--rate` requests/s. Latency is measured from
//! when a request was due, so a slow server cannot hide its queueing (no coordinated omission).
//! Loops are bounded in time (`--duration`) and in count (`--requests-max`).

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The server a benchmark loads, and the key it uses.
#[derive(clap::Args, Clone)]
pub struct ServerArgs {
    /// The server, e.g. http://127.0.0.1:8080.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub(crate) url: String,
    /// An admin key (it creates the economy, and what the benchmark needs in it).
    #[arg(long, env = "JIFEN_KEY", hide_env_values = true)]
    pub(crate) key: String,
}

#[derive(clap::Args, Clone)]
pub struct Args {
    #[command(flatten)]
    server: ServerArgs,
    /// The economy to load; created when missing (with an admin key).
    #[arg(long, default_value = "bench-http")]
    economy: String,
    /// Commands per request.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Connections, each with one request in flight.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Seconds of measurement.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Requests per second in all (open loop); closed loop when absent.
    #[arg(long)]
    rate: Option<u64>,
    /// Seconds of the same load before measuring (not counted).
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Stop after this many requests even if time is left.
    #[arg(long, default_value_t = 100_000_000)]
    requests_max: u64,
    /// Worker threads of the load generator (the server needs the rest of the machine).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Consumers registered before the run; orders cycle over them.
    #[arg(long, default_value_t = 10_000)]
    consumers: usize,
}

pub(crate) struct Target {
    pub(crate) host: String,
    addr: String,
}

pub(crate) fn target(url: &str) -> anyhow::Result<Target> {
    let rest = url
        .strip_prefix("http://")
        .context("--url must start with http://")?;
    let host = rest.trim_end_matches('/').to_string();
    if host.contains('/') {
        bail!("--url must be only scheme, host and port");
    }
    Ok(Target {
        addr: host.clone(),
        host,
    })
}

pub(crate) struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// The most header bytes of one answer.
const RESPONSE_HEADER_BYTES_MAX: usize = 16 * 1024;

impl Conn {
    pub(crate) async fn open(t: &Target) -> anyhow::Result<Conn> {
        let stream = TcpStream::connect(&t.addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(64 * 1024),
        })
    }

    /// Sends one request and reads the answer: its status and body.
    pub(crate) async fn call(&mut self, head: &str, body: &[u8]) -> anyhow::Result<(u16, Vec<u8>)> {
        let mut req = Vec::with_capacity(head.len() + 32 + body.len());
        req.extend_from_slice(head.as_bytes());
        req.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        req.extend_from_slice(body);
        self.stream.write_all(&req).await?;
        self.buf.clear();
        let header_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if self.buf.len() > RESPONSE_HEADER_BYTES_MAX {
                bail!("response headers too long");
            }
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                bail!("the server closed the connection");
            }
        };
        let text = String::from_utf8_lossy(&self.buf[..header_end]);
        let status: u16 = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("no status line")?;
        let length: usize = text
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .context("no content-length")?;
        while self.buf.len() < header_end + length {
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                bail!("the server closed the connection mid-answer");
            }
        }
        Ok((status, self.buf[header_end..header_end + length].to_vec()))
    }
}

pub(crate) fn head(method: &str, path: &str, t: &Target, key: &str) -> String {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\n",
        t.host
    )
}

/// Appends the decimal digits of `n`.
pub(crate) fn push_u64(out: &mut String, n: u64) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// The commands of request `n` of connection `conn`: pay then confirm, so every one applies.
/// Written by hand rather than with `format!`, so the generator leaves the CPU to the server.
fn batch_body(run: &str, conn: usize, n: u64, batch: usize, consumers: usize) -> Vec<u8> {
    let mut out = String::with_capacity(batch * 150 + 2);
    out.push('[');
    for i in 0..batch {
        if i > 0 {
            out.push(',');
        }
        let k = n * batch as u64 + i as u64;
        let order = |out: &mut String| {
            out.push_str(run);
            out.push('-');
            push_u64(out, conn as u64);
            out.push('-');
            push_u64(out, k / 2);
        };
        if k.is_multiple_of(2) {
            let consumer = (k as usize / 2 + conn * 7919) % consumers;
            out.push_str(r#"{"type":"pay_order","id":"p-"#);
            order(&mut out);
            out.push_str(r#"","order":""#);
            order(&mut out);
            out.push_str(r#"","consumer":"hc"#);
            push_u64(&mut out, consumer as u64);
            out.push_str(r#"","merchant":"hm","cash_fen":"#);
            push_u64(&mut out, 1000 + k % 9000);
            out.push_str(r#","stable_fen":0}"#);
        } else {
            out.push_str(r#"{"type":"confirm_order","id":"c-"#);
            order(&mut out);
            out.push_str(r#"","order":""#);
            order(&mut out);
            out.push_str(r#""}"#);
        }
    }
    out.push(']');
    out.into_bytes()
}

/// A connection to the server with the economy made (or found), for a benchmark's set-up.
pub(crate) async fn with_economy(t: &Target, key: &str, economy: &str) -> anyhow::Result<Conn> {
    let mut c = Conn::open(t).await?;
    // The risk rules off: the benchmarks measure the durable path with the same commands as
    // before them (`jifen bench core --risk` measures what the rules cost).
    let mut risk = jifen_wire::risk_to_json(&jifen_core::risk::RiskRules::RECOMMENDED);
    risk["enabled"] = serde_json::json!(false);
    let create = serde_json::json!({"id": economy, "name": "benchmark", "risk": risk}).to_string();
    let (status, body) = c
        .call(&head("POST", "/v1/economies", t, key), create.as_bytes())
        .await?;
    if status != 201 && status != 409 {
        bail!(
            "creating the economy: HTTP {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    Ok(c)
}

async fn setup(args: &Args, t: &Target) -> anyhow::Result<()> {
    let mut c = with_economy(t, &args.server.key, &args.economy).await?;
    let path = format!("/v1/economies/{}/commands", args.economy);
    let mut commands =
        vec![serde_json::json!({"type":"register_merchant","id":"r-hm","account":"hm"})];
    for i in 0..args.consumers {
        commands.push(serde_json::json!({"type":"register_consumer","id":format!("r-hc{i}"),"account":format!("hc{i}")}));
    }
    for chunk in commands.chunks(1000) {
        let body = serde_json::to_vec(chunk)?;
        let (status, answer) = c
            .call(&head("POST", &path, t, &args.server.key), &body)
            .await?;
        if status != 200 {
            bail!(
                "registering: HTTP {status}: {}",
                String::from_utf8_lossy(&answer)
            );
        }
    }
    Ok(())
}

struct ConnResult {
    latencies_us: Vec<u64>,
    commands: u64,
    rejected: u64,
    errors: u64,
}

#[allow(clippy::too_many_arguments)]
async fn drive(
    args: Args,
    t: std::sync::Arc<Target>,
    run: String,
    conn_no: usize,
    start: Instant,
    end: Instant,
    interval: Option<Duration>,
    requests: u64,
) -> anyhow::Result<ConnResult> {
    let mut c = Conn::open(&t).await?;
    let h = head(
        "POST",
        &format!("/v1/economies/{}/commands", args.economy),
        &t,
        &args.server.key,
    );
    let mut r = ConnResult {
        latencies_us: Vec::with_capacity(requests.min(1 << 20) as usize),
        commands: 0,
        rejected: 0,
        errors: 0,
    };
    // Spread connections over the interval so an open loop does not send in bursts.
    let offset = interval.map(|i| i * conn_no as u32 / args.concurrency as u32);
    for n in 0..requests {
        // Closed loop: the next request goes at once. (Even a `sleep_until` that is already
        // due waits for the timer's next millisecond tick, which would add up to a millisecond
        // to every request and cap the rate a fixed concurrency can reach.)
        let due = match (interval, offset) {
            (Some(i), Some(o)) => start + o + i * n as u32,
            _ => Instant::now(),
        };
        if due >= end {
            break;
        }
        if due > Instant::now() {
            tokio::time::sleep_until(due.into()).await;
        }
        let body = batch_body(&run, conn_no, n, args.batch, args.consumers);
        let (status, answer) = c.call(&h, &body).await?;
        r.latencies_us.push(due.elapsed().as_micros() as u64);
        if status != 200 {
            r.errors += 1;
            continue;
        }
        r.commands += args.batch as u64;
        r.rejected += count(&answer, b"\"ok\":false");
    }
    Ok(r)
}

/// Runs the load for `length`; returns every latency (µs), the commands sent, the commands
/// rejected and the requests that failed.
async fn load(
    args: &Args,
    t: &std::sync::Arc<Target>,
    run: &str,
    length: Duration,
    interval: Option<Duration>,
) -> anyhow::Result<(Vec<u64>, u64, u64, u64)> {
    let start = Instant::now();
    let end = start + length;
    let mut tasks = Vec::new();
    for conn_no in 0..args.concurrency {
        // `--requests-max` split over the connections, exactly.
        let c = args.concurrency as u64;
        let per_conn = args.requests_max / c + u64::from((conn_no as u64) < args.requests_max % c);
        tasks.push(tokio::spawn(drive(
            args.clone(),
            t.clone(),
            run.to_string(),
            conn_no,
            start,
            end,
            interval,
            per_conn,
        )));
    }
    let mut all = Vec::new();
    let (mut commands, mut rejected, mut errors) = (0, 0, 0);
    for task in tasks {
        let r = task.await??;
        all.extend(r.latencies_us);
        commands += r.commands;
        rejected += r.rejected;
        errors += r.errors;
    }
    Ok((all, commands, rejected, errors))
}

/// Prints `summary` with the latencies' p50, p99 and max in milliseconds (`all` in µs).
pub(crate) fn print_with_latencies(
    summary: &mut serde_json::Value,
    all: &mut [u64],
) -> anyhow::Result<()> {
    all.sort_unstable();
    let pct = |p: f64| {
        let i = ((all.len() as f64 * p).ceil() as usize).clamp(1, all.len().max(1)) - 1;
        all.get(i).map_or(0.0, |us| *us as f64 / 1000.0)
    };
    for (name, p) in [("p50", 0.5), ("p99", 0.99), ("max", 1.0)] {
        summary[format!("latency_ms_{name}")] = serde_json::json!(pct(p));
    }
    println!("{}", serde_json::to_string_pretty(summary)?);
    Ok(())
}

fn count(hay: &[u8], needle: &[u8]) -> u64 {
    hay.windows(needle.len()).filter(|w| *w == needle).count() as u64
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.batch == 0 || args.batch > 8190 || args.concurrency == 0 || args.concurrency > 4096 {
        bail!("--batch must be 1 to 8190 and --concurrency 1 to 4096");
    }
    let t = std::sync::Arc::new(target(&args.server.url)?);
    // One thread: a current-thread runtime, which wakes no other thread to run a task.
    let runtime = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()?
    };
    runtime.block_on(async {
        setup(&args, &t).await?;
        let interval = args
            .rate
            .map(|rate| Duration::from_secs_f64(args.concurrency as f64 / rate.max(1) as f64));
        if args.warmup > 0 {
            // The same load, not measured: the server's caches, threads and memory settle.
            let run = format!("w{:x}", jifen_journal::time::now_ms());
            load(&args, &t, &run, Duration::from_secs(args.warmup), interval).await?;
        }
        let run = format!("{:x}", jifen_journal::time::now_ms());
        let start = Instant::now();
        let (mut all, commands, rejected, errors) = load(
            &args,
            &t,
            &run,
            Duration::from_secs(args.duration),
            interval,
        )
        .await?;
        let secs = start.elapsed().as_secs_f64();
        let mut summary = serde_json::json!({
            "batch": args.batch,
            "concurrency": args.concurrency,
            "rate_target_per_s": args.rate,
            "seconds": (secs * 100.0).round() / 100.0,
            "requests": all.len(),
            "requests_per_s": (all.len() as f64 / secs).round(),
            "commands": commands,
            "commands_per_s": (commands as f64 / secs).round(),
            "rejected_commands": rejected,
            "http_errors": errors,
        });
        print_with_latencies(&mut summary, &mut all)?;
        if errors > 0 {
            bail!("{errors} requests failed");
        }
        Ok(())
    })
}
