//! `jifen serve`: the HTTP API over the journal, with keys and roles, rate limits, request
//! timeouts, a scheduler, an outbox, metrics and an OpenAPI document generated from the routes.
//!
//! Every request gets a request id (`x-request-id`, taken from the caller when it is a short
//! token, made up otherwise) that is on every log line of the request. Keys are never logged.
//! The parts and how they depend on each other are in ARCHITECTURE.md.

pub use jiff;
pub mod activity;
pub mod auth;
pub mod backups;
pub mod bounds;
pub mod cluster;
pub mod command_rights;
pub mod config;
pub mod connections;
pub mod connectors;
pub mod content;
pub mod demo;
pub mod demo_history;
pub mod economies;
pub mod error;
pub mod finance;
pub mod forward;
pub mod history;
pub mod http;
pub mod keyring;
pub mod keys;
pub mod limits;
pub mod member_import;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod outgoing;
pub mod pages;
pub mod priority;
pub mod proofs;
mod routes;
pub mod scheduler;
pub mod sessions;
pub mod signing;
pub mod state;
pub mod store;
pub mod store_check;
pub mod terms;
pub mod times;
pub mod venues;
pub mod verify_runs;
pub mod views;
pub mod wallet_links;
pub mod webhooks;
pub mod what_if;

use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

use axum::extract::DefaultBodyLimit;
use axum::{middleware as mw, Router};

pub use axum::http::HeaderName;
pub use config::{BackupSchedule, Clock, ClusterConfig, ServerConfig};
pub use state::App;

/// The router of the API, with the OpenAPI document it serves.
pub fn router(app: Arc<App>) -> Router {
    let (router, mut doc) = routes::api().split_for_parts();
    openapi::finish(&mut doc);
    routes::DOCUMENT.get_or_init(|| serde_json::to_string(&doc).unwrap_or_else(|_| "{}".into()));
    router
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(DefaultBodyLimit::max(bounds::BODY_BYTES_MAX))
        .layer(mw::from_fn_with_state(
            app.clone(),
            middleware::around_request,
        ))
        .with_state(app)
}

/// A background thread and the way to stop it.
struct Worker {
    stop: std::sync::mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

fn spawn(name: &str, work: impl FnOnce(Receiver<()>) + Send + 'static) -> std::io::Result<Worker> {
    let (stop, rx) = channel();
    let thread = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || work(rx))?;
    Ok(Worker { stop, thread })
}

impl Worker {
    fn stop(self) {
        drop(self.stop);
        let _ = self.thread.join();
    }
}

/// The background workers, each given only the parts it uses.
fn start_workers(app: &App) -> std::io::Result<Vec<Worker>> {
    let tick = app.config.scheduler_tick;
    let scheduler = scheduler::Scheduler::new(
        app.economies.clone(),
        app.store.clone(),
        app.scheduler_health.clone(),
        app.metrics.scheduler_commands.clone(),
        app.config.clock.clone(),
    );
    let signer = proofs::HeadSigner {
        economies: app.economies.clone(),
        store: app.store.clone(),
        signer: app.signer.clone(),
        clock: app.config.clock.clone(),
    };
    let webhooks = app.webhooks.clone();
    let health = app.store_health.clone();
    let mut workers = vec![
        spawn("scheduler", move |stop| scheduler.run(tick, stop))?,
        spawn("tree-signer", move |stop| signer.run(tick, stop))?,
        spawn("webhooks", move |stop| webhooks.run(stop))?,
        spawn("store-check", move |stop| health.run(stop))?,
    ];
    if let Some(schedule) = app.config.backups.clone() {
        let backups = backups::Backups {
            schedule,
            data_dir: app.config.data_dir.clone(),
            database: app.config.database.clone(),
            metrics: app.metrics.clone(),
            clock: app.config.clock.clone(),
        };
        workers.push(spawn("backups", move |stop| backups.run(stop))?);
    }
    if let Some(node) = app.node() {
        let manager = cluster::Manager {
            node,
            economies: app.economies.clone(),
            store: app.store.clone(),
        };
        workers.push(spawn("cluster", move |stop| manager.run(stop))?);
    }
    Ok(workers)
}

/// Serves until `shutdown` resolves; then stops accepting, finishes requests in flight, stops
/// the workers, and lets every writer finish its queue and take a snapshot.
pub async fn serve(
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    metrics_listener: Option<tokio::net::TcpListener>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let workers = start_workers(&app)?;
    // Rate limiters forget callers idle long enough to be as good as new.
    let limits = app.limits.clone();
    let housekeeping = tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            every.tick().await;
            limits.forget_idle();
        }
    });
    let connection_limits = app.config.connection_limits;
    // One shutdown signal for the API and the metrics address.
    let (stopping_tx, stopping) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stopping_tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let metrics_served = metrics_listener.map(|l| {
        let router = routes::metrics_only(app.clone());
        tokio::spawn(connections::serve(
            l,
            router,
            connection_limits,
            stopped(stopping.clone()),
        ))
    });
    let api = router(app.clone());
    let served = connections::serve(listener, api, connection_limits, stopped(stopping)).await;
    if let Some(m) = metrics_served {
        let _ = m.await;
    }
    housekeeping.abort();
    for w in workers {
        w.stop();
    }
    let app2 = app.clone();
    tokio::task::spawn_blocking(move || app2.shutdown())
        .await
        .map_err(std::io::Error::other)?;
    tracing::info!("stopped: writers flushed, snapshots taken");
    served
}
