//! The consumer wallet (issue 6, first part) and its links (issue 8's wallet check).
//!
//! Consumers never hold API keys. The operator's backend asks
//! `POST /v1/economies/{eco}/wallet-links {"account"}` and hands the consumer the answer's
//! `url`: `/wallet#t=<token>`. The token sits in the fragment, which browsers never send to a
//! server or write to its logs; the page sends it in the `X-Wallet-Token` header. A token is
//! `<payload>.<HMAC-SHA256>`: the payload (hex of JSON: economy, account, expiry in ms) is
//! signed with a key derived from the deployment's signing seed, so tokens survive restarts and
//! cannot be made without the server.
//!
//! With a token, `GET /v1/wallet` returns that one account, its recent entries in the journal
//! and the latest signed tree head; `GET /v1/wallet/proof?seq=N` returns the inclusion proof of
//! one of those entries (no other) against that head, which the page checks in the browser.

use std::sync::Arc;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use jifen_journal::merkle::{leaf_bytes, to_hex};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::app::{App, Economy};
use crate::auth::{allow, Auth, Need};
use crate::error::{ApiError, ApiResult};
use crate::routes::{account_view, blocking, json_body, read, AppState};

/// How long a wallet link lasts unless asked otherwise, and at most.
const LINK_TTL_DEFAULT_S: u64 = 15 * 60;
const LINK_TTL_MAX_S: u64 = 24 * 60 * 60;
/// How far back the wallet looks for the account's own entries.
const OWN_ENTRIES_SCAN: u64 = 20_000;
const OWN_ENTRIES_SHOWN: usize = 50;

/// HMAC-SHA256 (RFC 2104).
fn hmac(key: &[u8; 32], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// Who a valid token speaks for.
pub struct Holder {
    pub economy: Arc<Economy>,
    pub account: String,
}

fn make_token(app: &App, economy: &str, account: &str, expires_ms: i64) -> String {
    let payload = hex::encode(json!({"e": economy, "a": account, "x": expires_ms}).to_string());
    let mac = hmac(&app.signer.wallet_key(), payload.as_bytes());
    format!("{payload}.{}", hex::encode(mac))
}

fn check_token(app: &App, headers: &HeaderMap) -> ApiResult<Holder> {
    let unauthorized =
        |why: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", why.to_string());
    let token = headers
        .get("x-wallet-token")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| unauthorized("send the wallet link's token in X-Wallet-Token"))?;
    let (payload, mac) = token
        .split_once('.')
        .ok_or_else(|| unauthorized("not a wallet token"))?;
    let want = hmac(&app.signer.wallet_key(), payload.as_bytes());
    let given = hex::decode(mac).unwrap_or_default();
    // Compare without stopping at the first difference.
    let same = given.len() == want.len()
        && given
            .iter()
            .zip(want.iter())
            .fold(0u8, |d, (a, b)| d | (a ^ b))
            == 0;
    if !same {
        return Err(unauthorized("the wallet link is not valid"));
    }
    let claims: Value = hex::decode(payload)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| unauthorized("not a wallet token"))?;
    if claims["x"].as_i64().unwrap_or(0) < app.now_ms() {
        return Err(unauthorized(
            "the wallet link has expired: ask for a new one",
        ));
    }
    let economy = app
        .economy(claims["e"].as_str().unwrap_or(""))
        .ok_or_else(|| unauthorized("the wallet link's economy is gone"))?;
    Ok(Holder {
        economy,
        account: claims["a"].as_str().unwrap_or("").to_string(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkRequest {
    account: String,
    ttl_s: Option<u64>,
}

#[utoipa::path(post, path = "/v1/economies/{eco}/wallet-links", tag = "wallet",
    params(("eco" = String, Path)),
    request_body(content = Object, description = r#"{"account", "ttl_s"?}: the consumer, and seconds the link lasts (default 900, at most 86400)"#),
    responses((status = 200, description = "a short-lived signed link to the consumer's wallet", body = Object)))]
pub async fn create_link(
    State(app): AppState,
    Auth(p): Auth,
    UrlPath(eco): UrlPath<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let economy = app.economy_for(&p, &eco)?;
    allow(&p, Need::Manage)?;
    let req: LinkRequest = serde_json::from_value(json_body(&headers, &body)?)
        .map_err(|e| ApiError::invalid(format!("invalid body: {e}")))?;
    let ttl = req.ttl_s.unwrap_or(LINK_TTL_DEFAULT_S);
    if ttl == 0 || ttl > LINK_TTL_MAX_S {
        return Err(ApiError::invalid(format!(
            "ttl_s must be 1 to {LINK_TTL_MAX_S}"
        )));
    }
    let name = req.account.clone();
    let is_consumer = read(&economy, move |v| {
        v.ledger
            .economy()
            .account(&name)
            .is_some_and(|a| a.is_consumer())
    })
    .await?;
    if !is_consumer {
        return Err(ApiError::not_found("no such consumer"));
    }
    let expires = app.now_ms() + ttl as i64 * 1000;
    let token = make_token(&app, &economy.meta.id, &req.account, expires);
    Ok(Json(json!({
        "url": format!("/wallet#t={token}"),
        "token": token,
        "expires_at": jifen_journal::time::rfc3339_ms(expires),
    }))
    .into_response())
}

/// Whether a journal command belongs in the account's wallet: it names the account as the one
/// acting, or it is a dividend settlement (which pays every holder, and names no one).
fn is_own(command: &Value, account: &str) -> bool {
    command["type"] == "settle_dividends"
        || ["account", "consumer"]
            .iter()
            .any(|k| command[*k].as_str() == Some(account))
}

/// The account's own entries among the last [`OWN_ENTRIES_SCAN`], newest first.
fn own_entries(app: &App, holder: &Holder) -> ApiResult<Vec<Value>> {
    let id = &holder.economy.meta.id;
    let head = app.with_store(|s| s.head(id))?.map_or(0, |e| e.seq);
    let mut out = Vec::new();
    let mut after = head.saturating_sub(OWN_ENTRIES_SCAN);
    while after < head {
        let entries = app.with_store(|s| s.entries(id, after, 1000))?;
        let Some(last) = entries.last() else { break };
        after = last.seq;
        for e in entries {
            let command: Value = serde_json::from_str(&e.command).unwrap_or(Value::Null);
            if is_own(&command, &holder.account) {
                out.push(json!({
                    "seq": e.seq,
                    "time": jifen_journal::time::rfc3339_ms(e.ts_ms),
                    "type": command["type"],
                    "command": command,
                    "ok": e.outcome == "ok",
                    "outcome": e.outcome,
                }));
            }
        }
    }
    out.reverse();
    out.truncate(OWN_ENTRIES_SHOWN);
    Ok(out)
}

#[utoipa::path(get, path = "/v1/wallet", tag = "wallet",
    responses((status = 200, description = "the link's account, its recent entries and the latest signed tree head", body = Object)))]
pub async fn me(State(app): AppState, headers: HeaderMap) -> ApiResult<Response> {
    let holder = check_token(&app, &headers)?;
    let account = account_view(&holder.economy, holder.account.clone())
        .await?
        .ok_or_else(|| ApiError::not_found("no such account"))?;
    let eco = holder.economy.meta.id.clone();
    let (entries, head) = blocking(&app, move |app| {
        let entries = own_entries(app, &holder)?;
        let head = crate::transparency::latest_stored_head(app, &holder.economy.meta.id)?;
        Ok((entries, head))
    })
    .await?;
    Ok(Json(json!({
        "economy": eco,
        "account": account,
        "entries": entries,
        "tree_head": head,
        "public_key": app.signer.public_json(),
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofQuery {
    pub seq: u64,
}

#[utoipa::path(get, path = "/v1/wallet/proof", tag = "wallet",
    params(("seq" = u64, Query, description = "one of the account's own entries")),
    responses((status = 200, description = "the entry's inclusion proof against the latest signed tree head", body = Object)))]
pub async fn proof(
    State(app): AppState,
    headers: HeaderMap,
    Query(q): Query<ProofQuery>,
) -> ApiResult<Response> {
    let holder = check_token(&app, &headers)?;
    let body = blocking(&app, move |app| {
        let id = holder.economy.meta.id.clone();
        let entry = app
            .with_store(|s| s.entry(&id, q.seq))?
            .ok_or_else(|| ApiError::not_found("no such entry"))?;
        let command: Value = serde_json::from_str(&entry.command).unwrap_or(Value::Null);
        if !is_own(&command, &holder.account) {
            // The same answer as a missing entry: a link reveals only its own account.
            return Err(ApiError::not_found("no such entry"));
        }
        let head = crate::transparency::latest_stored_head(app, &id)?
            .filter(|h| h["tree_size"].as_u64().unwrap_or(0) >= q.seq)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "not_signed_yet",
                    "no signed tree head covers this entry yet: one is signed after every dividend settlement",
                )
            })?;
        let size = head["tree_size"].as_u64().unwrap_or(0);
        let proof = crate::transparency::inclusion_proof(app, &holder.economy, q.seq, size)?;
        let leaf = leaf_bytes(entry.seq, entry.ts_ms, &entry.command, &entry.outcome);
        Ok(json!({
            "seq": q.seq,
            "tree_size": size,
            "leaf": hex::encode(&leaf),
            "proof": proof.iter().map(to_hex).collect::<Vec<_>>(),
            "tree_head": head,
        }))
    })
    .await?;
    Ok(Json(body).into_response())
}

const PAGE: &str = include_str!("../assets/wallet.html");
/// uPlot (MIT, vendored beside the simulator's report), inlined so the page needs no network.
const UPLOT_JS: &str = include_str!("../../sim/assets/uplot/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("../../sim/assets/uplot/uPlot.min.css");

/// The wallet page: one self-contained document (no CDN), its token read from the fragment.
pub async fn page() -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        axum::http::header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:"
            .parse()
            .expect("a valid header"),
    );
    headers.insert(
        axum::http::header::REFERRER_POLICY,
        "no-referrer".parse().expect("a valid header"),
    );
    let page = PAGE
        .replace("/*UPLOT_CSS*/", UPLOT_CSS)
        .replace("/*UPLOT_JS*/", UPLOT_JS);
    (headers, Html(page)).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SaleRequest {
    /// `sell` or `convert`.
    action: String,
    atoms: u64,
    /// For `POST /v1/wallet/act`: the command's id, chosen by the page once per confirmation,
    /// so a repeated request is a retry.
    id: Option<String>,
}

/// The wallet a sale request speaks for, the request, and whether it is a conversion.
fn sale_request(
    app: &App,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<(Holder, SaleRequest, bool)> {
    let holder = check_token(app, headers)?;
    let req: SaleRequest = serde_json::from_value(json_body(headers, body)?)
        .map_err(|e| ApiError::invalid(format!("invalid body: {e}")))?;
    let convert = match req.action.as_str() {
        "sell" => false,
        "convert" => true,
        other => {
            return Err(ApiError::invalid(format!(
                "action must be sell or convert, not {other:?}"
            )))
        }
    };
    Ok((holder, req, convert))
}

#[utoipa::path(post, path = "/v1/wallet/quote", tag = "wallet",
    request_body(content = Object, description = r#"{"action": "sell"|"convert", "atoms"}"#),
    responses((status = 200, description = "what the sale or conversion would give now: value, fee, net", body = Object)))]
pub async fn quote(
    State(app): AppState,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let (holder, req, convert) = sale_request(&app, &headers, &body)?;
    let account = holder.account.clone();
    let quoted = read(&holder.economy, move |v| {
        v.ledger
            .economy()
            .quote_sale(&account, Some(req.atoms), convert)
    })
    .await?;
    match quoted {
        Ok(q) => Ok(crate::routes::json_ok(json!({
            "action": if convert { "convert" } else { "sell" },
            "atoms": q.atoms,
            "value_fen": q.value_fen,
            "fee_fen": q.fee_fen,
            "net_fen": q.net_fen(),
            "note": "at the price now; the command is priced when it is applied",
        }))),
        Err(code) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            code.as_str(),
            format!(
                "this {} would be refused: {}",
                req_name(convert),
                code.as_str()
            ),
        )),
    }
}

fn req_name(convert: bool) -> &'static str {
    if convert {
        "conversion"
    } else {
        "sale"
    }
}

#[utoipa::path(post, path = "/v1/wallet/act", tag = "wallet",
    request_body(content = Object, description = r#"{"action": "sell"|"convert", "atoms", "id"}"#),
    responses((status = 200, description = "the command's outcome, once durable, and the account after it", body = Object)))]
pub async fn act(
    State(app): AppState,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let (holder, req, convert) = sale_request(&app, &headers, &body)?;
    let id = req
        .id
        .filter(|id| jifen_core::is_valid_name(id))
        .ok_or_else(|| ApiError::invalid("id must be a command id (1 to 64 plain characters)"))?;
    let command = json!({
        "type": if convert { "convert_to_stable" } else { "sell" },
        "id": id,
        "account": holder.account,
        "atoms": req.atoms,
    });
    let economy = holder.economy.clone();
    let acks = blocking(&app, move |_| {
        Ok(economy
            .journal
            .submit_wait(vec![jifen_journal::Submitted::Value(command)])?)
    })
    .await?;
    let outcome = &acks[0].outcome;
    let account = account_view(&holder.economy, holder.account.clone()).await?;
    Ok(crate::routes::json_ok(json!({
        "ok": outcome.result.is_ok(),
        "code": outcome.result.err().map(|c| c.as_str()),
        "seq": outcome.seq,
        "retry": outcome.retry,
        "account": account,
    })))
}

#[utoipa::path(get, path = "/v1/wallet/price-history", tag = "wallet",
    responses((status = 200, description = "the price over the economy's life, up to 500 points, for the wallet's chart", body = Object)))]
pub async fn price_history(State(app): AppState, headers: HeaderMap) -> ApiResult<Response> {
    let holder = check_token(&app, &headers)?;
    let from = crate::history::parse_time(&holder.economy.meta.created_at).unwrap_or(0);
    let to = app.now_ms().max(from);
    let step_ms = ((to - from) / 500).max(1000);
    let id = holder.economy.meta.id.clone();
    let points = blocking(&app, move |app| {
        crate::history::bucketed(app, &id, from, to, step_ms)
    })
    .await?;
    Ok(Json(json!({ "step_ms": step_ms, "points": points })).into_response())
}
