//! The consumer wallet (issue 6) through its link (see `wallet_links`): the page at `/wallet`;
//! the account, its entries and the latest signed tree head; the inclusion proof of one of its
//! entries, which the page checks in the browser; a sale or conversion, quoted then made; the
//! price history for its chart; and its collectibles.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jifen_journal::merkle::{leaf_bytes, to_hex};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::activity::{entry_view, Page, Subject};
use crate::auth::{Eco, Manage, Wallet};
use crate::error::{ApiError, ApiResult};
use crate::http::{blocking, json_ok, JsonBody};
use crate::state::App;
use crate::wallet_links::Holder;

/// How long a wallet link lasts unless asked otherwise (at most the configured longest).
const LINK_TTL_DEFAULT_S: u64 = 15 * 60;
/// How many of the account's entries, and of its dividends, the wallet shows.
const OWN_ENTRIES_SHOWN: usize = 50;
const DIVIDENDS_SHOWN: usize = 60;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(create_link))
        .routes(routes!(me))
        .routes(routes!(proof))
        .routes(routes!(quote))
        .routes(routes!(act))
        .routes(routes!(wallet_price_history))
        .routes(routes!(wallet_collectibles))
        .route("/wallet", axum::routing::get(page))
}

/// The wallet page; its token is read from the fragment.
async fn page() -> Response {
    crate::pages::self_contained(crate::pages::WALLET)
}

/// Asking for a link to a consumer's wallet.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LinkRequest {
    /// The consumer.
    account: String,
    /// Seconds the link lasts: default 900, at most the configured longest (86400 by default).
    #[schema(minimum = 1)]
    ttl_s: Option<u64>,
    /// Where the consumer reaches this server (`https://shop.example`): the answer then also
    /// has the whole `link` and its QR code (`qr_png`, a PNG data URL), to show or print once.
    base_url: Option<String>,
}

/// The most bytes of a link's base URL.
const BASE_URL_BYTES_MAX: usize = 200;

/// The whole link from `base` (an http(s) origin, perhaps with a path) and the path of the
/// wallet, with its QR code as a PNG data URL.
fn link_with_qr(base: &str, path: &str) -> ApiResult<(String, String)> {
    let bad = || {
        ApiError::invalid(format!("base_url must be an http:// or https:// address of at most {BASE_URL_BYTES_MAX} bytes, without a query or fragment"))
    };
    // The form only (scheme, host, no user or password): the consumer's browser goes there,
    // not the server.
    let ok = base.len() <= BASE_URL_BYTES_MAX
        && crate::outgoing::check_url(base, true).is_ok()
        && !base.contains(['?', '#', '"', '<', '>']);
    if !ok {
        return Err(bad());
    }
    let link = format!("{}{path}", base.trim_end_matches('/'));
    let code = qrcode::QrCode::with_error_correction_level(&link, qrcode::EcLevel::M)
        .map_err(|_| bad())?;
    use base64::Engine;
    let png = qr_png(&code);
    let data = base64::engine::general_purpose::STANDARD.encode(png);
    Ok((link, format!("data:image/png;base64,{data}")))
}

/// A QR code as a greyscale PNG: 6 pixels a module, with the standard 4-module quiet zone.
fn qr_png(code: &qrcode::QrCode) -> Vec<u8> {
    const SCALE: usize = 6;
    const QUIET: usize = 4;
    let n = code.width();
    let side = (n + 2 * QUIET) * SCALE;
    let colors = code.to_colors();
    let mut pixels = vec![255u8; side * side];
    for (i, c) in colors.iter().enumerate() {
        if *c == qrcode::Color::Dark {
            let (mx, my) = (i % n + QUIET, i / n + QUIET);
            for y in my * SCALE..(my + 1) * SCALE {
                pixels[y * side + mx * SCALE..y * side + (mx + 1) * SCALE].fill(0);
            }
        }
    }
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, side as u32, side as u32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    // Encoding into memory fails only on a wrong size, which the QR test would show.
    if let Ok(mut writer) = encoder.write_header() {
        let _ = writer.write_image_data(&pixels);
    }
    png
}

#[utoipa::path(post, path = "/v1/economies/{eco}/wallet-links", tag = "wallet",
    request_body = LinkRequest,
    responses((status = 200, description = "a short-lived signed link to the consumer's wallet", body = Object)))]
async fn create_link(
    eco: Eco<Manage>,
    JsonBody(req): JsonBody<LinkRequest>,
) -> ApiResult<Response> {
    let ttl_max_s = eco.app.links.ttl_max_s();
    let ttl = req.ttl_s.unwrap_or(LINK_TTL_DEFAULT_S.min(ttl_max_s));
    if ttl == 0 || ttl > ttl_max_s {
        return Err(ApiError::invalid(format!("ttl_s must be 1 to {ttl_max_s}")));
    }
    let name = req.account.clone();
    let is_consumer = eco
        .economy
        .read(move |v| {
            let e = v.ledger.economy();
            e.account(&name).is_some_and(|a| a.is_consumer())
        })
        .await?;
    if !is_consumer {
        return Err(ApiError::not_found("no such consumer"));
    }
    let expires = eco.app.now_ms() + ttl as i64 * 1000;
    let token = eco.app.links.make(eco.economy.id(), &req.account, expires);
    let url = format!("/wallet#t={token}");
    let mut answer = json!({
        "url": url,
        "token": token,
        "expires_at": jifen_journal::time::rfc3339_ms(expires),
    });
    if let Some(base) = &req.base_url {
        let (link, svg) = link_with_qr(base, &url)?;
        answer["link"] = json!(link);
        answer["qr_png"] = json!(svg);
    }
    Ok(axum::Json(answer).into_response())
}

/// The account's position in its economy (how the dividends table names it).
async fn position(holder: &Holder) -> ApiResult<Option<u32>> {
    let name = holder.account.clone();
    holder
        .economy
        .read(move |v| v.ledger.economy().accounts().find(&name))
        .await
}

/// The account's own entries (newest first) with the settlements that paid it among them, and
/// its dividends: day, fen and the settlement's seq (blocking).
fn wallet_entries(
    app: &App,
    holder: &Holder,
    position: Option<u32>,
) -> ApiResult<(Vec<Value>, Vec<Value>)> {
    let id = holder.economy.id();
    let subject = Subject::Account(&holder.account);
    let page = Page {
        before: None,
        limit: OWN_ENTRIES_SHOWN,
    };
    let (own, _) = app.store.with(|s| {
        let (seqs, total) = (app.activity.of(s, id, subject, page))
            .map_err(|e| jifen_journal::StoreError::Malformed(e.to_string()))?;
        Ok((crate::activity::load(s, id, &seqs)?, total))
    })?;
    let mut entries: Vec<Value> = own.iter().map(entry_view).collect();
    let paid = match position {
        Some(p) => app.store.with(|s| s.dividends_of(id, p, DIVIDENDS_SHOWN))?,
        None => Vec::new(),
    };
    let mut dividends = Vec::with_capacity(paid.len());
    for (seq, fen) in paid {
        if let Some(e) = app.store.with(|s| s.entry(id, seq))? {
            let view = entry_view(&e);
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
/// entries a wallet link may see proofs of (blocking).
fn concerns(app: &App, holder: &Holder, position: Option<u32>, seq: u64) -> ApiResult<bool> {
    let id = holder.economy.id();
    let subject = Subject::Account(&holder.account);
    let (seqs, _) = app.store.with(|s| {
        app.activity
            .of(
                s,
                id,
                subject,
                Page {
                    before: Some(seq + 1),
                    limit: 1,
                },
            )
            .map_err(|e| jifen_journal::StoreError::Malformed(e.to_string()))
    })?;
    if seqs.first() == Some(&seq) {
        return Ok(true);
    }
    let Some(p) = position else { return Ok(false) };
    let paid = app.store.with(|s| s.dividends_of(id, p, usize::MAX >> 1))?;
    Ok(paid.iter().any(|(s, _)| *s == seq))
}

#[utoipa::path(get, path = "/v1/wallet", tag = "wallet", security(("wallet" = [])),
    responses((status = 200, description = "the link's account, its recent entries and the latest signed tree head", body = Object),
              (status = 404, description = "the link's account is gone", body = crate::error::ErrorBody)))]
async fn me(State(app): State<Arc<App>>, Wallet(holder): Wallet) -> ApiResult<Response> {
    let account = holder
        .economy
        .account_view(holder.account.clone())
        .await?
        .ok_or_else(|| ApiError::not_found("no such account"))?;
    let position = position(&holder).await?;
    let eco = holder.economy.meta.id.clone();
    let terms = holder.economy.settings().terms.shown();
    let timezone = holder.economy.meta.timezone.clone();
    let tiers = (holder.economy)
        .tier_history(&app.store, holder.account.clone())
        .await?;
    let app2 = app.clone();
    let (entries, dividends, head) = blocking(move || {
        let (entries, dividends) = wallet_entries(&app2, &holder, position)?;
        let id = holder.economy.id();
        let head = crate::proofs::latest_stored_head(&app2.store, id)?;
        Ok((entries, dividends, head))
    })
    .await?;
    Ok(json_ok(json!({
        "economy": eco,
        "timezone": timezone,
        "terms": terms,
        "account": account,
        "entries": entries,
        "tier_changes": tiers,
        "dividends": dividends,
        "tree_head": head,
        "public_key": app.signer.public_json(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProofQuery {
    seq: u64,
}

fn not_signed_yet() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_signed_yet",
        "no signed tree head covers this entry yet: one is signed after every dividend settlement",
    )
}

/// The proof of the holder's entry `seq` against the latest signed head (blocking).
fn entry_proof(app: &App, holder: &Holder, position: Option<u32>, seq: u64) -> ApiResult<Value> {
    let id = holder.economy.id();
    let entry = app
        .store
        .with(|s| s.entry(id, seq))?
        .ok_or_else(|| ApiError::not_found("no such entry"))?;
    if !concerns(app, holder, position, seq)? {
        // The same answer as a missing entry: a link reveals only its own account.
        return Err(ApiError::not_found("no such entry"));
    }
    let head = crate::proofs::latest_stored_head(&app.store, id)?
        .filter(|h| crate::proofs::size_of(h) >= seq)
        .ok_or_else(not_signed_yet)?;
    let size = crate::proofs::size_of(&head);
    let proof = crate::proofs::inclusion_proof(&app.store, &holder.economy, seq, size)?;
    let leaf = leaf_bytes(entry.seq, entry.ts_ms, &entry.command, &entry.outcome);
    Ok(json!({
        "seq": seq,
        "tree_size": size,
        "leaf": hex::encode(&leaf),
        "proof": proof.iter().map(to_hex).collect::<Vec<_>>(),
        "tree_head": head,
    }))
}

#[utoipa::path(get, path = "/v1/wallet/proof", tag = "wallet", security(("wallet" = [])),
    params(("seq" = u64, Query, description = "one of the account's own entries")),
    responses((status = 200, description = "the entry's inclusion proof against the latest signed tree head", body = Object),
              (status = 404, description = "not_found: no such entry of the account's; not_signed_yet: no signed head covers it yet", body = crate::error::ErrorBody)))]
async fn proof(
    State(app): State<Arc<App>>,
    Wallet(holder): Wallet,
    Query(q): Query<ProofQuery>,
) -> ApiResult<Response> {
    let position = position(&holder).await?;
    let body = blocking(move || entry_proof(&app, &holder, position, q.seq)).await?;
    Ok(axum::Json(body).into_response())
}

/// A sale or conversion asked through the wallet.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SaleRequest {
    /// `sell` (buyback, for cash) or `convert` (to stable points).
    #[schema(example = "sell")]
    action: String,
    /// Atoms to sell or convert; a point is 100,000,000 atoms.
    #[schema(minimum = 1, example = 100000000)]
    atoms: u64,
    /// For `act`: the command's id, chosen by the page once per confirmation, so a repeated
    /// request is a retry.
    id: Option<String>,
}

impl SaleRequest {
    /// Whether this is a conversion: 422 unless the action is `sell` or `convert`.
    fn convert(&self) -> ApiResult<bool> {
        match self.action.as_str() {
            "sell" => Ok(false),
            "convert" => Ok(true),
            other => Err(ApiError::invalid(format!(
                "action must be sell or convert, not {other:?}"
            ))),
        }
    }
}

#[utoipa::path(post, path = "/v1/wallet/quote", tag = "wallet", security(("wallet" = [])),
    request_body = SaleRequest,
    responses((status = 200, description = "what the sale or conversion would give now: value, fee, net", body = Object)))]
async fn quote(
    Wallet(holder): Wallet,
    JsonBody(req): JsonBody<SaleRequest>,
) -> ApiResult<Response> {
    let convert = req.convert()?;
    let (account, atoms) = (holder.account.clone(), req.atoms);
    let quoted = holder
        .economy
        .read(move |v| {
            v.ledger
                .economy()
                .quote_sale(&account, Some(atoms), convert)
        })
        .await?;
    let q = quoted.map_err(|code| {
        let what = if convert { "conversion" } else { "sale" };
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            code.as_str(),
            format!("this {what} would be refused: {}", code.as_str()),
        )
    })?;
    Ok(json_ok(json!({
        "action": req.action,
        "atoms": q.atoms.0,
        "value_fen": q.value_fen.0,
        "fee_fen": q.fee_fen.0,
        "net_fen": q.net_fen().0,
        "note": "at the price now; the command is priced when it is applied",
    })))
}

#[utoipa::path(post, path = "/v1/wallet/act", tag = "wallet", security(("wallet" = [])),
    request_body = SaleRequest,
    responses((status = 200, description = "the command's outcome, once durable, and the account after it", body = Object)))]
async fn act(Wallet(holder): Wallet, JsonBody(req): JsonBody<SaleRequest>) -> ApiResult<Response> {
    let convert = req.convert()?;
    let id = req
        .id
        .filter(|id| jifen_core::is_valid_name(id))
        .ok_or_else(|| ApiError::invalid("id must be a command id (1 to 64 plain characters)"))?;
    if jifen_journal::ids::is_reserved(&id) {
        return Err(crate::command_rights::reserved_id(&format!("id {id:?}")));
    }
    let command = json!({
        "type": if convert { "convert_to_stable" } else { "sell" },
        "id": id,
        "account": holder.account,
        "atoms": req.atoms,
    });
    let economy = holder.economy.clone();
    let parsed = jifen_wire::parse_command_value(command.clone());
    let acks = blocking(move || {
        Ok(economy
            .journal
            .submit_wait(vec![jifen_journal::Submitted::Value(command)])?)
    })
    .await?;
    let outcome = acks[0].outcome;
    let message = match (outcome.result, parsed.command) {
        (Err(code), Ok(c)) => Some(
            holder
                .economy
                .read(move |v| jifen_core::explain(&c, code, v.ledger.economy()))
                .await?,
        ),
        _ => None,
    };
    let account = holder.economy.account_view(holder.account.clone()).await?;
    Ok(json_ok(json!({
        "ok": outcome.result.is_ok(),
        "code": outcome.result.err().map(|c| c.as_str()),
        "message": message,
        "seq": outcome.seq,
        "retry": outcome.retry,
        "account": account,
    })))
}

#[utoipa::path(get, path = "/v1/wallet/price-history", tag = "wallet", security(("wallet" = [])),
    responses((status = 200, description = "the price over the economy's life, up to 500 points, for the wallet's chart", body = Object)))]
async fn wallet_price_history(
    State(app): State<Arc<App>>,
    Wallet(holder): Wallet,
) -> ApiResult<Response> {
    let from = crate::times::parse_time(&holder.economy.meta.created_at).unwrap_or(0);
    let to = app.now_ms().max(from);
    let step_ms = ((to - from) / 500).max(1000);
    let (store, id) = (app.store.clone(), holder.economy.meta.id.clone());
    let points = blocking(move || crate::history::bucketed(&store, &id, from, to, step_ms)).await?;
    Ok(axum::Json(json!({ "step_ms": step_ms, "points": points })).into_response())
}

#[utoipa::path(get, path = "/v1/wallet/collectibles", tag = "wallet", security(("wallet" = [])),
    responses((status = 200, description = "the link's consumer's collectibles: locked points at today's value, and when each may be gifted", body = Object)))]
async fn wallet_collectibles(Wallet(holder): Wallet) -> ApiResult<Response> {
    let account = holder.account.clone();
    let list = holder
        .economy
        .read_copy(move |v| {
            let e = v.ledger.economy();
            let Some(owner) = e.accounts().find(&account) else {
                return Vec::new();
            };
            e.collectibles()
                .iter()
                .filter(|c| c.owner == owner && c.state != jifen_core::CollectibleState::Dissolved)
                .map(|c| crate::views::collectible(e, c, e.policy()))
                .collect::<Vec<_>>()
        })
        .await?;
    Ok(json_ok(json!({
        "economy": holder.economy.meta.id,
        "collectibles": list,
    })))
}
