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
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use jifen_journal::merkle::{leaf_bytes, to_hex};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::app::{App, Economy};
use crate::auth::{allow, Auth, Need};
use crate::error::{ApiError, ApiResult};
use crate::keys;
use crate::routes::{account_view, blocking, json_body, read, AppState};

/// How long a wallet link lasts unless asked otherwise (at most `wallet_link_ttl_max`).
const LINK_TTL_DEFAULT_S: u64 = 15 * 60;
/// How many of the account's entries, and of its dividends, the wallet shows.
const OWN_ENTRIES_SHOWN: usize = 50;
const DIVIDENDS_SHOWN: usize = 60;

/// Who a valid token speaks for.
pub struct Holder {
    pub economy: Arc<Economy>,
    pub account: String,
}

fn make_token(app: &App, economy: &str, account: &str, expires_ms: i64) -> String {
    keys::seal(
        &app.signer.wallet_key(),
        &json!({"e": economy, "a": account, "x": expires_ms}),
    )
}

pub fn check_token(app: &App, headers: &HeaderMap) -> ApiResult<Holder> {
    let unauthorized =
        |why: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", why.to_string());
    let token = headers
        .get("x-wallet-token")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| unauthorized("send the wallet link's token in X-Wallet-Token"))?;
    let claims = keys::unseal(&app.signer.wallet_key(), token)
        .ok_or_else(|| unauthorized("the wallet link is not valid"))?;
    let expires_ms = claims["x"].as_i64().unwrap_or(0);
    let now = app.now_ms();
    if expires_ms < now {
        return Err(unauthorized(
            "the wallet link has expired: ask for a new one",
        ));
    }
    if expires_ms - now > app.config.wallet_link_ttl_max.as_millis() as i64 {
        return Err(unauthorized(
            "the wallet link claims to last longer than any link may: ask for a new one",
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
    let ttl_max_s = app.config.wallet_link_ttl_max.as_secs();
    let ttl = req.ttl_s.unwrap_or(LINK_TTL_DEFAULT_S.min(ttl_max_s));
    if ttl == 0 || ttl > ttl_max_s {
        return Err(ApiError::invalid(format!("ttl_s must be 1 to {ttl_max_s}")));
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

/// The account's position in its economy (how the dividends table names it).
async fn position(holder: &Holder) -> ApiResult<Option<u32>> {
    let name = holder.account.clone();
    read(&holder.economy, move |v| {
        v.ledger.economy().accounts().find(&name)
    })
    .await
}

/// The account's own entries (newest first) with the settlements that paid it among them,
/// and its dividends: day, fen and the settlement's seq.
fn wallet_entries(
    app: &App,
    holder: &Holder,
    position: Option<u32>,
) -> ApiResult<(Vec<Value>, Vec<Value>)> {
    let id = &holder.economy.meta.id;
    let (mut entries, _) =
        crate::console::account_entries(app, id, &holder.account, None, OWN_ENTRIES_SHOWN)?;
    let paid = match position {
        Some(p) => app.with_store(|s| s.dividends_of(id, p, DIVIDENDS_SHOWN))?,
        None => Vec::new(),
    };
    let mut dividends = Vec::with_capacity(paid.len());
    for (seq, fen) in paid {
        if let Some(e) = app.with_store(|s| s.entry(id, seq))? {
            let view = crate::console::entry_view(&e);
            dividends.push(json!({
                "day": view["command"]["day"],
                "seq": seq,
                "time": view["time"],
                "fen": fen,
            }));
            entries.push(view);
        }
    }
    entries.sort_by_key(|e| std::cmp::Reverse(e["seq"].as_u64().unwrap_or(0)));
    entries.truncate(OWN_ENTRIES_SHOWN);
    Ok((entries, dividends))
}

/// Whether entry `seq` is one of the account's own or a settlement that paid it: the only
/// entries a wallet link may see proofs of.
fn concerns(app: &App, holder: &Holder, position: Option<u32>, seq: u64) -> ApiResult<bool> {
    let id = &holder.economy.meta.id;
    let own = app.with_store(|s| -> Result<bool, jifen_journal::StoreError> {
        let (seqs, _) = app
            .console
            .activity
            .of(
                s,
                id,
                crate::activity::Subject::Account(&holder.account),
                Some(seq + 1),
                1,
            )
            .map_err(|e| jifen_journal::StoreError::Malformed(e.to_string()))?;
        Ok(seqs.first() == Some(&seq))
    })?;
    if own {
        return Ok(true);
    }
    let Some(p) = position else { return Ok(false) };
    let paid = app.with_store(|s| s.dividends_of(id, p, usize::MAX >> 1))?;
    Ok(paid.iter().any(|(s, _)| *s == seq))
}

#[utoipa::path(get, path = "/v1/wallet", tag = "wallet",
    responses((status = 200, description = "the link's account, its recent entries and the latest signed tree head", body = Object)))]
pub async fn me(State(app): AppState, headers: HeaderMap) -> ApiResult<Response> {
    let holder = check_token(&app, &headers)?;
    let account = account_view(&holder.economy, holder.account.clone())
        .await?
        .ok_or_else(|| ApiError::not_found("no such account"))?;
    let position = position(&holder).await?;
    let eco = holder.economy.meta.id.clone();
    let (entries, dividends, head) = blocking(&app, move |app| {
        let (entries, dividends) = wallet_entries(app, &holder, position)?;
        let head = crate::transparency::latest_stored_head(app, &holder.economy.meta.id)?;
        Ok((entries, dividends, head))
    })
    .await?;
    Ok(crate::routes::json_ok(json!({
        "economy": eco,
        "account": account,
        "entries": entries,
        "dividends": dividends,
        "tree_head": head,
        "public_key": app.signer.public_json(),
    })))
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
    let position = position(&holder).await?;
    let body = blocking(&app, move |app| {
        let id = holder.economy.meta.id.clone();
        let entry = app
            .with_store(|s| s.entry(&id, q.seq))?
            .ok_or_else(|| ApiError::not_found("no such entry"))?;
        if !concerns(app, &holder, position, q.seq)? {
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
    self_contained(PAGE)
}

/// A page with uPlot inlined (pasted once per page, on first use), served with a strict
/// content security policy: nothing from other origins, no referrer, and only the page's own
/// inline scripts, named by their SHA-256, may run (no `'unsafe-inline'`: a script injected
/// into the page would not match).
pub fn self_contained(page: &'static str) -> Response {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static PAGES: OnceLock<Mutex<HashMap<usize, (&'static str, HeaderValue)>>> = OnceLock::new();
    let (html, policy) = {
        let mut pages = PAGES
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        pages
            .entry(page.as_ptr() as usize)
            .or_insert_with(|| {
                let full = page
                    .replace("/*UPLOT_CSS*/", UPLOT_CSS)
                    .replace("/*UPLOT_JS*/", UPLOT_JS);
                let policy = content_security_policy(&full);
                (Box::leak(full.into_boxed_str()), policy)
            })
            .clone()
    };
    let mut headers = HeaderMap::new();
    headers.insert(axum::http::header::CONTENT_SECURITY_POLICY, policy);
    headers.insert(
        axum::http::header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        axum::http::header::X_FRAME_OPTIONS,
        HeaderValue::from_static("DENY"),
    );
    (headers, Html(html)).into_response()
}

/// The policy for one page: its inline scripts by hash.
fn content_security_policy(html: &str) -> HeaderValue {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    let mut hashes = String::new();
    let mut rest = html;
    while let Some(start) = rest.find("<script>") {
        let body = &rest[start + "<script>".len()..];
        let Some(end) = body.find("</script>") else {
            break;
        };
        let digest = Sha256::digest(&body.as_bytes()[..end]);
        hashes.push_str(" 'sha256-");
        hashes.push_str(&base64::engine::general_purpose::STANDARD.encode(digest));
        hashes.push('\'');
        rest = &body[end..];
    }
    let policy = format!(
        "default-src 'none'; script-src{hashes}; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    );
    HeaderValue::from_str(&policy)
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
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
            "atoms": q.atoms.0,
            "value_fen": q.value_fen.0,
            "fee_fen": q.fee_fen.0,
            "net_fen": q.net_fen().0,
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
    if jifen_journal::ids::is_reserved(&id) {
        return Err(crate::routes::reserved_id(&format!("id {id:?}")));
    }
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
