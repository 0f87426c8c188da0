//! `jifen serve`: the main job. Wiring only; the service lives in `jifen-server`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jifen_server::{App, ServerConfig};

use crate::store_cmds::StoreArgs;
use crate::usage;

#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on; port 0 picks a free port (the address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Create the `demo` economy with the brief's rules and sample activity, unless it exists.
    #[arg(long)]
    demo: bool,
    /// Requests per second allowed per API key (bursts of twice that); 0 turns the limit off.
    #[arg(long, default_value_t = 100_000)]
    rate_limit_per_key: u32,
    /// Requests per second allowed per wallet link (bursts of twice that; a sale or conversion
    /// counts as 4); 0: no limit.
    #[arg(long, default_value_t = 10)]
    rate_limit_per_wallet_link: u32,
    /// Requests per second allowed per client address for everything without a key (public
    /// pages, certificates, content, the wallet, sign-in) and for failed authentications
    /// (bursts of twice that); 0: no limit.
    #[arg(long, default_value_t = 50)]
    rate_limit_per_address: u32,
    /// Behind a proxy: the header it puts the client's address in (X-Forwarded-For,
    /// X-Real-IP), whose last address is taken as the client's. Set it only behind a proxy
    /// that sets it, or clients could name any address.
    #[arg(long)]
    client_address_header: Option<String>,
    /// Seconds a client may take to send a request's headers, and a kept-alive connection may
    /// stay silent; then the connection is closed.
    #[arg(long, default_value_t = 10)]
    header_read_timeout_s: u64,
    /// Connections open at once (more wait to be accepted); lowered to fit the process's limit
    /// on open files, which is raised to its hard limit first.
    #[arg(long, default_value_t = 4096)]
    connections_max: usize,
    /// Seconds before a request is answered 503 `timeout`.
    #[arg(long, default_value_t = 30)]
    request_timeout_s: u64,
    /// How often the scheduler looks for orders to confirm and days to settle, in ms.
    #[arg(long, default_value_t = 1000)]
    scheduler_tick_ms: u64,
    /// Snapshot every this many journal entries (and on shutdown).
    #[arg(long, default_value_t = 1_000_000)]
    snapshot_every: u64,
    /// The most megabytes (10^6 bytes) a second a background snapshot is written at, so that
    /// its writes do not delay commits on the same disk; 0 writes at full speed.
    #[arg(long, default_value_t = jifen_journal::SNAPSHOT_WRITE_BYTES_PER_S / 1_000_000)]
    snapshot_write_mb_per_s: u64,
    /// The admin key to use instead of a generated one (16 to 256 bytes). Prefer the
    /// environment variable JIFEN_ADMIN_KEY: a value given on the command line is visible to
    /// every user of the machine in `ps`.
    #[arg(long, env = "JIFEN_ADMIN_KEY", hide_env_values = true)]
    admin_key: Option<String>,
    /// Path of the file holding the deployment's Ed25519 seed (64 hex digits), which signs
    /// tree heads, console sessions and wallet links; it must be readable by its owner only
    /// (mode 0600). Default: DATA/tree-signing.key, created on first start.
    #[arg(long, value_name = "FILE")]
    signing_key: Option<std::path::PathBuf>,
    /// The longest a wallet link may last, in seconds; links claiming more are refused.
    #[arg(long, default_value_t = 86_400)]
    wallet_link_ttl_max_s: u64,
    /// How long a console session lasts, in seconds; cookies claiming more are refused.
    #[arg(long, default_value_t = 28_800)]
    session_ttl_s: u64,
    /// Threads serving HTTP (the writers have threads of their own); default: one per core.
    #[arg(long)]
    http_threads: Option<usize>,
    /// Let the server send to loopback, private and link-local addresses (exchange venues on a
    /// private network; tests). Without it such URLs are refused, as written and as resolved.
    #[arg(long)]
    allow_private_targets: bool,
    /// How long a webhook subscription's failing deliveries are retried (with backoff) before
    /// it is paused with its reason: `24h` (1 second to 30 days).
    #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
    webhook_retry_for: std::time::Duration,
    /// How long a rotated webhook secret still signs beside the new one: `24h` (1 second to 30
    /// days).
    #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
    webhook_secret_overlap: std::time::Duration,
    /// Also serve /metrics, with every economy's series and no key, on this address (for a
    /// private network that Prometheus scrapes). On the main address, /metrics without a key
    /// has only the process-wide series.
    #[arg(long)]
    metrics_listen: Option<SocketAddr>,
    /// Log lines as JSON instead of text.
    #[arg(long)]
    log_json: bool,
    /// Make a verified backup of the store (SQLite, or a logical copy of PostgreSQL) into this
    /// directory on a schedule (see
    /// `jifen backup`; the signing seed is not included).
    #[arg(long)]
    backup_dir: Option<PathBuf>,
    /// How often: `30s`, `15m`, `1h`, `1day` (1 second to 7 days).
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration, requires = "backup_dir")]
    backup_every: std::time::Duration,
    /// How many scheduled backups to keep, newest first (1 to 10000).
    #[arg(long, default_value_t = 48, requires = "backup_dir")]
    backup_keep: usize,
    /// Several nodes on one PostgreSQL: this node's id (each economy is then written by the
    /// node holding its lease; requests for others are forwarded to them).
    #[arg(long, requires = "advertise")]
    node_id: Option<String>,
    /// With --node-id: the URL the other nodes reach this one at, e.g. http://10.0.0.5:8080.
    #[arg(long, requires = "node_id")]
    advertise: Option<String>,
    /// With --node-id: how long a lease lasts unless renewed, in ms (a failed node's
    /// economies move within about twice this).
    #[arg(long, default_value_t = 3000)]
    lease_ms: i64,
    /// (Testing) read the time from this file (milliseconds since the epoch) when it exists.
    #[arg(long, hide = true)]
    clock_file: Option<PathBuf>,
}

fn clock_from(file: Option<PathBuf>) -> jifen_server::Clock {
    match file {
        None => Arc::new(jifen_journal::time::now_ms),
        Some(path) => {
            // The last time read: a file caught mid-write keeps the clock where it was.
            let last = std::sync::atomic::AtomicI64::new(i64::MIN);
            Arc::new(move || {
                use std::sync::atomic::Ordering;
                let read = std::fs::read_to_string(&path)
                    .ok()
                    .and_then(|t| t.trim().parse::<i64>().ok());
                match read {
                    Some(ms) => {
                        last.store(ms, Ordering::Relaxed);
                        ms
                    }
                    None => match last.load(Ordering::Relaxed) {
                        i64::MIN => jifen_journal::time::now_ms(),
                        ms => ms,
                    },
                }
            })
        }
    }
}

fn axum_header(name: &str) -> Option<jifen_server::HeaderName> {
    jifen_server::HeaderName::from_bytes(name.trim().as_bytes()).ok()
}

fn init_logs(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("JIFEN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,jifen_server=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Resolves on SIGTERM or SIGINT. The handlers are installed when this is called, not when
/// the future is first polled, so a signal that comes right after "listening" is not lost.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::info!("shutting down: no new connections; finishing requests, flushing writers");
    })
}

pub fn run(store: &StoreArgs, args: Args) -> anyhow::Result<()> {
    init_logs(args.log_json);
    let config = config_of(store, &args)?;
    // The ports first: a start that fails here has made nothing, and above all no admin key
    // that would be printed once and lost.
    let listener = bind(args.listen, "")?;
    let metrics_listener = args
        .metrics_listen
        .map(|a| bind(a, " (--metrics-listen)"))
        .transpose()?;
    let (app, new_key) = App::open(config).map_err(|e| usage(format!("cannot start: {e}")))?;
    let app = Arc::new(app);
    let mut out = std::io::stdout().lock();
    if let Some(key) = new_key {
        writeln!(
            out,
            "admin key (shown once; only its hash is stored): {key}"
        )?;
    }
    if args.demo && jifen_server::demo::ensure_demo(&app.economies, &app.store, app.now_ms())? {
        writeln!(out, "created the demo economy: GET /v1/economies/demo")?;
    }
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.http_threads {
        builder.worker_threads(n.clamp(1, 256));
    }
    let runtime = builder.enable_all().build()?;
    // The app is dropped after the runtime: a PostgreSQL client must not close inside it.
    let keep = app.clone();
    let served = runtime.block_on(async move {
        let shutdown = shutdown_signal()?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let metrics_listener = match metrics_listener {
            Some(l) => {
                let l = tokio::net::TcpListener::from_std(l)?;
                writeln!(out, "metrics on http://{}/metrics", l.local_addr()?)?;
                Some(l)
            }
            None => None,
        };
        let addr = listener.local_addr()?;
        writeln!(out, "listening on http://{addr}")?;
        out.flush()?;
        drop(out);
        tracing::info!(%addr, "serving");
        jifen_server::serve(app, listener, metrics_listener, shutdown).await?;
        Ok(())
    });
    drop(runtime);
    drop(keep);
    served
}

/// A listening socket on `addr`, ready for the runtime.
fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(addr)
        .map_err(|e| usage(format!("cannot listen on {addr}{what}: {e}")))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// The scheduled backups the flags ask for, checked.
fn backups_of(args: &Args) -> anyhow::Result<Option<jifen_server::BackupSchedule>> {
    let Some(dir) = &args.backup_dir else {
        return Ok(None);
    };
    let every = args.backup_every;
    let week = std::time::Duration::from_secs(7 * 24 * 3600);
    if every < std::time::Duration::from_secs(1)
        || every > week
        || !(1..=10_000).contains(&args.backup_keep)
    {
        return Err(usage(
            "--backup-every must be 1 second to 7 days and --backup-keep 1 to 10000".to_string(),
        ));
    }
    Ok(Some(jifen_server::BackupSchedule {
        dir: dir.clone(),
        every,
        keep: args.backup_keep,
    }))
}

/// The server's configuration from the flags, each bound checked with a clear message.
fn config_of(store: &StoreArgs, args: &Args) -> anyhow::Result<ServerConfig> {
    let mut config = ServerConfig::new(store.data.clone(), store.database.clone());
    config.admin_key = args.admin_key.clone();
    config.signing_key = args.signing_key.clone();
    config.allow_private_targets = args.allow_private_targets;
    let month = std::time::Duration::from_secs(30 * 86_400);
    for (flag, d) in [
        ("--webhook-retry-for", args.webhook_retry_for),
        ("--webhook-secret-overlap", args.webhook_secret_overlap),
    ] {
        if d < std::time::Duration::from_secs(1) || d > month {
            anyhow::bail!("{flag} must be 1 second to 30 days, not {d:?}");
        }
    }
    config.webhook_retry_for = args.webhook_retry_for;
    config.webhook_secret_overlap = args.webhook_secret_overlap;
    config.backups = backups_of(args)?;
    config.rate_limits = jifen_server::limits::RateLimits {
        per_key: args.rate_limit_per_key,
        per_wallet_link: args.rate_limit_per_wallet_link,
        per_address: args.rate_limit_per_address,
    };
    if let Some(name) = &args.client_address_header {
        let header = axum_header(name).ok_or_else(|| {
            usage(format!(
                "--client-address-header {name:?} is not a header name"
            ))
        })?;
        config.client_address_header = Some(header);
    }
    config.request_timeout = Duration::from_secs(args.request_timeout_s.max(1));
    config.scheduler_tick = Duration::from_millis(args.scheduler_tick_ms.max(10));
    config.snapshot_every_entries = args.snapshot_every.max(1);
    config.snapshot_write_bytes_per_s = args.snapshot_write_mb_per_s.saturating_mul(1_000_000);
    config.clock = clock_from(args.clock_file.clone());
    let ttl_ok = |s: u64| (60..=30 * 86_400).contains(&s);
    if !ttl_ok(args.wallet_link_ttl_max_s) || !ttl_ok(args.session_ttl_s) {
        return Err(usage(
            "--wallet-link-ttl-max-s and --session-ttl-s must be 60 to 2592000 (30 days)",
        ));
    }
    config.wallet_link_ttl_max = Duration::from_secs(args.wallet_link_ttl_max_s);
    config.session_ttl = Duration::from_secs(args.session_ttl_s);
    if !(1..=3600).contains(&args.header_read_timeout_s) || args.connections_max == 0 {
        return Err(usage(
            "--header-read-timeout-s must be 1 to 3600, and --connections-max at least 1",
        ));
    }
    config.connection_limits = jifen_server::connections::ConnectionLimits {
        header_read_timeout: Duration::from_secs(args.header_read_timeout_s),
        connections_max: jifen_server::connections::connections_within_file_limit(
            args.connections_max,
        ),
    };
    config.cluster = cluster_of(store, args)?;
    Ok(config)
}

/// With `--node-id`: this node's place among several on one PostgreSQL.
fn cluster_of(
    store: &StoreArgs,
    args: &Args,
) -> anyhow::Result<Option<jifen_server::ClusterConfig>> {
    let Some(node_id) = args.node_id.clone() else {
        return Ok(None);
    };
    if store.database.is_none() {
        return Err(usage(
            "--node-id needs --database postgres://…: the nodes share it",
        ));
    }
    if !jifen_core::is_valid_name(&node_id) || !(100..=600_000).contains(&args.lease_ms) {
        return Err(usage(
            "--node-id must be 1 to 64 plain characters, and --lease-ms 100 to 600000",
        ));
    }
    Ok(Some(jifen_server::ClusterConfig {
        node_id,
        advertise: args.advertise.clone().unwrap_or_default(),
        lease_ms: args.lease_ms,
    }))
}
