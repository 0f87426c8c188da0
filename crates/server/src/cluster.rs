//! Several nodes on one PostgreSQL (issue 9): which economies this node writes, and where the
//! others are.
//!
//! With `--node-id`, a node opens no economy at start. Its manager thread heartbeats, computes
//! the balanced assignment of every economy over the live nodes, takes the leases of the
//! economies assigned to it (loading each exactly as after a restart, with its store fenced at
//! the lease's epoch), renews them, and closes an economy as soon as its lease is lost or the
//! assignment hands it to another node (releasing the lease so the new owner need not wait).
//! A request for an economy this node does not write is forwarded to its owner (see
//! `forward`).

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jifen_journal::cluster::{assign, Cluster};
use jifen_journal::JournalError;

use crate::app::App;

#[derive(Clone, Debug)]
pub struct ClusterConfig {
    pub node_id: String,
    /// The URL other nodes forward requests to.
    pub advertise: String,
    pub lease_ms: i64,
}

/// Economy → (owner's node id, owner's URL).
type OwnerMap = HashMap<String, (String, String)>;

/// Where each economy's owner is, as last read (refreshed at most every `OWNERS_TTL`).
#[derive(Default)]
pub struct Owners {
    cache: Mutex<Option<(Instant, OwnerMap)>>,
    /// The connection the reads go through, kept between them (reopened after an error).
    conn: Mutex<Option<Cluster>>,
}

const OWNERS_TTL: Duration = Duration::from_millis(200);

impl Owners {
    /// The node id and URL of the live owner of `economy`, if any.
    pub fn of(&self, app: &App, economy: &str) -> Option<(String, String)> {
        let mut cache = self.cache.lock().ok()?;
        let fresh = cache
            .as_ref()
            .is_some_and(|(at, _)| at.elapsed() < OWNERS_TTL);
        if !fresh {
            let mut conn = self.conn.lock().ok()?;
            let map = read_owners(app, &mut conn).unwrap_or_else(|_| {
                *conn = None;
                HashMap::new()
            });
            *cache = Some((Instant::now(), map));
        }
        cache.as_ref()?.1.get(economy).cloned()
    }

    /// Whether `ip` is the address of a node that owns an economy now (as last read).
    pub fn is_node_address(&self, ip: std::net::IpAddr) -> bool {
        let Ok(cache) = self.cache.lock() else {
            return false;
        };
        cache.as_ref().is_some_and(|(_, map)| {
            map.values().any(|(_, url)| {
                let host = url
                    .split("://")
                    .nth(1)
                    .and_then(|rest| rest.split('/').next())
                    .map(|authority| authority.rsplit_once(':').map_or(authority, |(h, _)| h))
                    .map(|h| h.trim_start_matches('[').trim_end_matches(']'));
                host.and_then(|h| h.parse::<std::net::IpAddr>().ok()) == Some(ip)
            })
        })
    }
}

fn read_owners(app: &App, conn: &mut Option<Cluster>) -> Result<OwnerMap, JournalError> {
    let (Some(cfg), Some(url)) = (&app.config.cluster, &app.config.database) else {
        return Ok(HashMap::new());
    };
    if conn.is_none() {
        *conn = Some(Cluster::connect(url)?);
    }
    let Some(c) = conn.as_mut() else {
        return Ok(HashMap::new());
    };
    let now = app.now_ms();
    let nodes: HashMap<String, String> = c
        .live_nodes(now, cfg.lease_ms)?
        .into_iter()
        .map(|n| (n.node_id, n.url))
        .collect();
    Ok(c.leases()?
        .into_iter()
        .filter(|l| l.expires_ms >= now)
        .filter_map(|l| {
            let url = nodes.get(&l.owner)?.clone();
            Some((l.economy, (l.owner, url)))
        })
        .collect())
}

/// The manager: runs until `stop` receives or closes, then releases every lease it holds.
pub fn run(app: Arc<App>, stop: Receiver<()>) {
    let Some(cfg) = app.config.cluster.clone() else {
        return;
    };
    let Some(url) = app.config.database.clone() else {
        return;
    };
    let tick = Duration::from_millis((cfg.lease_ms / 4).max(50) as u64);
    let mut held: HashMap<String, i64> = HashMap::new();
    let mut cluster = None;
    loop {
        if cluster.is_none() {
            cluster = Cluster::connect(&url).ok();
        }
        if let Some(c) = cluster.as_mut() {
            if let Err(e) = manage(&app, &cfg, c, &mut held) {
                tracing::warn!("cluster: {e}");
                cluster = None;
            }
        }
        match stop.recv_timeout(tick) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => break,
        }
    }
    if let Some(c) = cluster.as_mut() {
        for (economy, epoch) in held {
            app.close_economy(&economy);
            let _ = c.release(&economy, &cfg.node_id, epoch);
        }
    }
}

fn manage(
    app: &App,
    cfg: &ClusterConfig,
    c: &mut Cluster,
    held: &mut HashMap<String, i64>,
) -> Result<(), JournalError> {
    let now = app.now_ms();
    c.heartbeat(&cfg.node_id, &cfg.advertise, now)?;
    let live: Vec<String> = c
        .live_nodes(now, cfg.lease_ms)?
        .into_iter()
        .map(|n| n.node_id)
        .collect();
    let metas = app.with_store(|s| s.economies())?;
    let ids: Vec<String> = metas.iter().map(|m| m.id.clone()).collect();
    let mine: Vec<String> = assign(&ids, &live)
        .into_iter()
        .filter(|(_, node)| *node == cfg.node_id)
        .map(|(e, _)| e)
        .collect();
    // Keep what is still ours; hand over what is assigned elsewhere; stop at once on a loss.
    for (economy, epoch) in held.clone() {
        if !mine.contains(&economy) {
            app.close_economy(&economy);
            c.release(&economy, &cfg.node_id, epoch)?;
            held.remove(&economy);
            tracing::info!(economy, "cluster: handed over");
        } else {
            match c.renew(&economy, &cfg.node_id, epoch, now, cfg.lease_ms) {
                Ok(true) => {}
                Ok(false) => {
                    app.close_economy(&economy);
                    held.remove(&economy);
                    tracing::warn!(economy, epoch, "cluster: lease lost; writer closed");
                }
                // Busy for a moment: the next tick tries again (the fence guards meanwhile).
                Err(e) => tracing::info!(economy, "cluster: renewal delayed: {e}"),
            }
        }
    }
    let mut taken = Vec::new();
    for meta in metas {
        if held.contains_key(&meta.id) || !mine.contains(&meta.id) {
            continue;
        }
        // None: its old owner has not let go yet. An error (a lock held by an append in
        // flight): try again next tick.
        match c.acquire(&meta.id, &cfg.node_id, now, cfg.lease_ms) {
            Ok(Some(lease)) => taken.push((meta, lease.epoch)),
            Ok(None) => {}
            Err(e) => tracing::info!(economy = %meta.id, "cluster: lease busy: {e}"),
        }
    }
    // Load the economies taken over side by side: a failed node's share moves at once.
    let opened: Vec<(String, i64, Result<(), JournalError>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = taken
            .into_iter()
            .map(|(meta, epoch)| {
                scope.spawn(move || {
                    let id = meta.id.clone();
                    let r = app
                        .open_economy_fenced(meta, &cfg.node_id, epoch)
                        .map(|_| ());
                    (id, epoch, r)
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    for (id, epoch, result) in opened {
        match result {
            Ok(()) => {
                held.insert(id.clone(), epoch);
                tracing::info!(economy = id, epoch, "cluster: took the lease");
            }
            Err(e) => {
                tracing::error!(economy = id, "cluster: cannot open: {e}");
                c.release(&id, &cfg.node_id, epoch)?;
            }
        }
    }
    Ok(())
}

// ----- forwarding -----

/// The header a forwarded request carries, so it is never forwarded twice.
const FORWARDED: &str = "x-jifen-forwarded";
/// Headers a forwarded request keeps.
const KEPT: [&str; 7] = [
    "authorization",
    "content-type",
    "cookie",
    "x-csrf-token",
    "x-wallet-token",
    "x-request-id",
    "accept",
];

/// Whether `req` was forwarded by another node of the cluster (which applied the limits of the
/// client's address): it says so, and it comes from the address a node advertises.
pub fn forwarded_by_node(app: &App, req: &axum::extract::Request, peer: std::net::IpAddr) -> bool {
    app.config.cluster.is_some()
        && req.headers().contains_key(FORWARDED)
        && app.owners.is_node_address(peer)
}

/// The economy a request is about, when its path (or wallet token) names one.
fn target_economy(app: &App, req: &axum::extract::Request) -> Option<String> {
    let parts: Vec<&str> = req.uri().path().split('/').collect();
    match parts.as_slice() {
        ["", "v1", "economies", eco, ..] if !eco.is_empty() => Some(eco.to_string()),
        ["", "v1", "public", eco, ..] | ["", "c", eco, ..] => Some(eco.to_string()),
        ["", "v1", "wallet", ..] => {
            let token = req.headers().get("x-wallet-token")?.to_str().ok()?;
            let claims = crate::keys::unseal(&app.signer.wallet_key(), token)?;
            claims["e"].as_str().map(str::to_string)
        }
        _ => None,
    }
}

/// With several nodes: a request for an economy another node writes goes to that node, and
/// its answer comes back as it was. `Err` hands the request back to be served here.
pub async fn forward(
    app: &Arc<App>,
    req: axum::extract::Request,
) -> Result<axum::response::Response, axum::extract::Request> {
    use axum::response::IntoResponse;
    let Some(cfg) = app.config.cluster.clone() else {
        return Err(req);
    };
    let Some(eco) = target_economy(app, &req) else {
        return Err(req);
    };
    if app.economy(&eco).is_some() || req.headers().contains_key(FORWARDED) {
        return Err(req);
    }
    let app2 = app.clone();
    let eco2 = eco.clone();
    let me = cfg.node_id.clone();
    let found = tokio::task::spawn_blocking(move || {
        let owner = app2.owners.of(&app2, &eco2).filter(|(node, _)| *node != me);
        // Whether the economy exists matters only when no other node serves it.
        let exists = owner.is_none()
            && app2
                .with_store(|s| s.economy(&eco2))
                .ok()
                .flatten()
                .is_some();
        (owner, exists)
    })
    .await
    .unwrap_or((None, false));
    let (owner, exists) = found;
    let Some((node, url)) = owner else {
        if !exists {
            return Err(req); // the handler answers 404
        }
        return Ok(crate::error::ApiError::unavailable(
            "no node serves this economy at this moment (it is moving between nodes); retry",
        )
        .into_response());
    };
    let method = req.method().clone();
    let target = format!(
        "{url}{}",
        req.uri().path_and_query().map_or("/", |p| p.as_str())
    );
    let headers = req.headers().clone();
    let body =
        match axum::body::to_bytes(req.into_body(), crate::content::CONTENT_BYTES_MAX + 1).await {
            Ok(b) => b,
            Err(_) => {
                return Ok(crate::error::ApiError::new(
                    axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    "the body is over the limit",
                )
                .into_response())
            }
        };
    let me = cfg.node_id.clone();
    let answer = tokio::task::spawn_blocking(move || proxy(&method, &target, &headers, &body, &me))
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
    Ok(match answer {
        Ok(r) => r,
        Err(why) => {
            tracing::warn!(
                economy = eco,
                owner = node,
                "cluster: forwarding failed: {why}"
            );
            crate::error::ApiError::unavailable(
                "the node that serves this economy did not answer; retry with the same id",
            )
            .into_response()
        }
    })
}

fn proxy(
    method: &axum::http::Method,
    target: &str,
    headers: &axum::http::HeaderMap,
    body: &[u8],
    me: &str,
) -> Result<axum::response::Response, String> {
    use axum::response::IntoResponse;
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build();
    let mut r = agent.request(method.as_str(), target).set(FORWARDED, me);
    for name in KEPT {
        for v in headers.get_all(name) {
            if let Ok(v) = v.to_str() {
                r = r.set(name, v);
            }
        }
    }
    let answer = if body.is_empty()
        && (method == axum::http::Method::GET || method == axum::http::Method::HEAD)
    {
        r.call()
    } else {
        r.send_bytes(body)
    };
    let resp = match answer {
        Ok(resp) | Err(ureq::Error::Status(_, resp)) => resp,
        Err(e) => return Err(e.to_string()),
    };
    let status = axum::http::StatusCode::from_u16(resp.status()).map_err(|e| e.to_string())?;
    let mut out_headers = axum::http::HeaderMap::new();
    for name in [
        "content-type",
        "cache-control",
        "set-cookie",
        "etag",
        "content-security-policy",
        "x-content-type-options",
        "referrer-policy",
        "x-frame-options",
        "x-jifen-seq",
    ] {
        for v in resp.all(name) {
            if let (Ok(n), Ok(v)) = (
                axum::http::HeaderName::from_bytes(name.as_bytes()),
                axum::http::HeaderValue::from_str(v),
            ) {
                out_headers.append(n, v);
            }
        }
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(
            resp.into_reader(),
            (crate::content::CONTENT_BYTES_MAX + 1) as u64,
        ),
        &mut bytes,
    )
    .map_err(|e| e.to_string())?;
    Ok((status, out_headers, bytes).into_response())
}
