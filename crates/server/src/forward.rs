//! With several nodes: a request for an economy another node writes goes to that node, through
//! a pooled asynchronous HTTP client, its body streamed both ways (nothing is cut), and its
//! answer comes back as it was.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::cluster::Owners;
use crate::economies::Economies;
use crate::error::ApiError;
use crate::store::StoreHandle;
use crate::wallet_links::{self, WalletLinks};

/// The header a forwarded request carries, so it is never forwarded twice.
pub const FORWARDED: &str = "x-jifen-forwarded";
/// Headers a forwarded request keeps.
const KEPT: [&str; 8] = [
    "authorization",
    "content-type",
    "content-length",
    "cookie",
    "x-csrf-token",
    wallet_links::HEADER,
    "x-request-id",
    "accept",
];
/// Headers of an answer that belong to its connection, not to the answer.
const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-connection",
];

pub struct Forwarder {
    client: Client<HttpConnector, Body>,
    owners: Arc<Owners>,
    economies: Arc<Economies>,
    links: Arc<WalletLinks>,
    store: Arc<StoreHandle>,
    timeout: Duration,
}

/// The economy a request is about, when its path (or wallet token) names one.
fn target_economy(links: &WalletLinks, req: &Request) -> Option<String> {
    let parts: Vec<&str> = req.uri().path().split('/').collect();
    match parts.as_slice() {
        ["", "v1", "economies", eco, ..] if !eco.is_empty() => Some(eco.to_string()),
        ["", "v1", "public", eco, ..] | ["", "c", eco, ..] => Some(eco.to_string()),
        ["", "v1", "wallet", ..] => {
            let token = req.headers().get(wallet_links::HEADER)?.to_str().ok()?;
            links.economy_of(token)
        }
        _ => None,
    }
}

impl Forwarder {
    pub fn new(
        owners: Arc<Owners>,
        economies: Arc<Economies>,
        links: Arc<WalletLinks>,
        store: Arc<StoreHandle>,
        timeout: Duration,
    ) -> Forwarder {
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build_http();
        Forwarder {
            client,
            owners,
            economies,
            links,
            store,
            timeout,
        }
    }

    /// Whether `req` came from another node of the cluster, which applied the limits of the
    /// client's address: it says so, and it comes from the address a node advertises.
    pub fn forwarded_by_node(&self, req: &Request, peer: std::net::IpAddr) -> bool {
        req.headers().contains_key(FORWARDED) && self.owners.is_node_address(peer)
    }

    /// The owner's answer when another node writes the economy `req` is about; `Err` hands the
    /// request back to be served here.
    pub async fn forward(&self, req: Request) -> Result<Response, Request> {
        let Some(eco) = target_economy(&self.links, &req) else {
            return Err(req);
        };
        if self.economies.get(&eco).is_some() || req.headers().contains_key(FORWARDED) {
            return Err(req);
        }
        let (owners, store, eco2) = (self.owners.clone(), self.store.clone(), eco.clone());
        let found = tokio::task::spawn_blocking(move || {
            let me = owners.node_id().to_string();
            let owner = owners.of(&eco2).filter(|(node, _)| *node != me);
            // Whether the economy exists matters only when no other node serves it.
            let exists =
                owner.is_none() && store.with(|s| s.economy(&eco2)).ok().flatten().is_some();
            (owner, exists)
        })
        .await
        .unwrap_or((None, false));
        let Some((node, url)) = found.0 else {
            if !found.1 {
                return Err(req); // the handler answers 404
            }
            return Ok(ApiError::unavailable(
                "no node serves this economy at this moment (it is moving between nodes); retry",
            )
            .into_response());
        };
        Ok(match self.send(&url, req).await {
            Ok(r) => r,
            Err(why) => {
                tracing::warn!(
                    economy = eco,
                    owner = node,
                    "cluster: forwarding failed: {why}"
                );
                ApiError::unavailable(
                    "the node that serves this economy did not answer; retry with the same id",
                )
                .into_response()
            }
        })
    }

    async fn send(&self, base: &str, req: Request) -> Result<Response, String> {
        let (parts, body) = req.into_parts();
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let uri: Uri = format!("{base}{path}")
            .parse()
            .map_err(|e| format!("{e}"))?;
        let mut out = axum::http::Request::builder().method(parts.method).uri(uri);
        for name in KEPT {
            for v in parts.headers.get_all(name) {
                out = out.header(name, v);
            }
        }
        let me = HeaderValue::from_str(self.owners.node_id()).map_err(|e| e.to_string())?;
        let out = out
            .header(FORWARDED, me)
            .body(body)
            .map_err(|e| e.to_string())?;
        let answer = tokio::time::timeout(self.timeout, self.client.request(out))
            .await
            .map_err(|_| "no answer in time".to_string())?
            .map_err(|e| e.to_string())?;
        let (mut parts, body) = answer.into_parts();
        for name in HOP_BY_HOP {
            parts.headers.remove(HeaderName::from_static(name));
        }
        Ok(Response::from_parts(parts, Body::new(body)))
    }
}
