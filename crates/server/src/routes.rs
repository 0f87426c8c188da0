//! The `/v1` handlers. Each one: find the economy the key may reach (404 otherwise), check the
//! role (403), then read committed state on the writer, or submit and wait for the commit.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use jifen_core::Outcome;
use jifen_journal::{PreparedBatch, View, BATCH_COMMANDS_MAX};
use jifen_wire::Parsed;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::app::{App, Economy, EconomySettings, AUTO_CONFIRM_DAYS_MAX};
use crate::auth::{allow, Auth, Need};
use crate::error::{ApiError, ApiResult};
use crate::keys::{self, Role};
use crate::views;

pub type AppState = State<Arc<App>>;

/// The longest list an events or leaderboard request returns.
pub const PAGE_LIMIT_MAX: usize = 1000;
/// The most points one price-history answer holds.
pub const HISTORY_POINTS_MAX: u64 = 10_000;

/// Runs `f` on the economy's committed state, on its writer, without blocking this task.
pub async fn read<R: Send + 'static>(
    economy: &Economy,
    f: impl FnOnce(&View<'_>) -> R + Send + 'static,
) -> ApiResult<R> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    economy.journal.read_with(Box::new(move |view| {
        let _ = tx.send(f(view));
    }))?;
    rx.await
        .map_err(|_| ApiError::unavailable("the economy's writer stopped"))
}

/// Runs store work on a blocking thread.
pub async fn blocking<R: Send + 'static>(
    app: &Arc<App>,
    f: impl FnOnce(&App) -> ApiResult<R> + Send + 'static,
) -> ApiResult<R> {
    let app = app.clone();
    tokio::task::spawn_blocking(move || f(&app))
        .await
        .map_err(ApiError::internal)?
}

pub fn json_ok(value: Value) -> Response {
    Json(views::with_string_twins(value)).into_response()
}

/// Parses a JSON request body with a clear error: 415 unless it says JSON, 400 for bad JSON.
pub fn json_body(headers: &HeaderMap, body: &[u8]) -> ApiResult<Value> {
    json_content_type(headers)?;
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {e}"))
    })
}

/// 415 unless the body is declared JSON.
fn json_content_type(headers: &HeaderMap) -> ApiResult<()> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let mime = v.split(';').next().unwrap_or("").trim();
            mime.eq_ignore_ascii_case("application/json")
        });
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as Content-Type: application/json",
        ));
    }
    Ok(())
}

/// The commands of a `POST …/commands` body, each as its JSON text: one object, or an array.
fn command_texts<'a>(headers: &HeaderMap, body: &'a [u8]) -> ApiResult<Vec<&'a str>> {
    let malformed = |e: &dyn std::fmt::Display| {
        ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {e}"))
    };
    json_content_type(headers)?;
    let text = std::str::from_utf8(body).map_err(|e| malformed(&e))?;
    let raws = match text.trim_start().as_bytes().first() {
        // Elements are split here and each is checked as it is parsed (see `commands`).
        Some(b'[') => jifen_wire::split_array(text).map_err(|e| malformed(&e))?,
        Some(b'{') => vec![serde_json::from_str::<&RawValue>(text)
            .map_err(|e| malformed(&e))?
            .get()],
        _ => {
            serde_json::from_str::<&RawValue>(text).map_err(|e| malformed(&e))?;
            return Err(ApiError::invalid(
                "the body must be a command object or an array of them",
            ));
        }
    };
    if raws.is_empty() {
        return Err(ApiError::invalid("the batch is empty"));
    }
    Ok(raws)
}

/// A typed request body: wrong types and unknown fields are 422 with the field named.
fn typed<T: serde::de::DeserializeOwned>(value: Value) -> ApiResult<T> {
    serde_json::from_value(value).map_err(|e| ApiError::invalid(format!("invalid body: {e}")))
}

// ----- economies -----

/// Creating an economy.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEconomy {
    /// `[A-Za-z0-9_.:@-]{1,64}`.
    pub id: String,
    pub name: String,
    /// SPEC §3 keys; missing keys take the defaults.
    #[schema(value_type = Object)]
    pub rules: Option<serde_json::Map<String, Value>>,
    /// An IANA time zone, `Asia/Shanghai` by default.
    pub timezone: Option<String>,
    /// Days after which pending orders are confirmed (default 7).
    pub auto_confirm_days: Option<u32>,
}

fn rules_from_object(map: serde_json::Map<String, Value>) -> ApiResult<jifen_core::Rules> {
    let table: toml::Table = serde_json::from_value(Value::Object(map))
        .map_err(|e| ApiError::invalid(format!("invalid rules: {e}")))?;
    let text =
        toml::to_string(&table).map_err(|e| ApiError::invalid(format!("invalid rules: {e}")))?;
    jifen_wire::rules_from_toml(&text).map_err(|e| ApiError::invalid(format!("invalid rules: {e}")))
}

fn check_auto_confirm_days(days: u32) -> ApiResult<()> {
    if (1..=AUTO_CONFIRM_DAYS_MAX).contains(&days) {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "auto_confirm_days must be 1 to {AUTO_CONFIRM_DAYS_MAX}"
        )))
    }
}

pub fn is_time_zone(name: &str) -> bool {
    jifen_journal::is_valid_timezone(name) && jiff::tz::TimeZone::get(name).is_ok()
}

#[utoipa::path(post, path = "/v1/economies", tag = "economies", request_body = CreateEconomy,
    responses((status = 201, description = "created", body = Object), (status = 409, body = crate::error::ErrorBody)))]
pub async fn create_economy(
    State(app): AppState,
    Auth(p): Auth,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    allow(&p, Need::Admin)?;
    let req: CreateEconomy = typed(json_body(&headers, &body)?)?;
    let rules = rules_from_object(req.rules.unwrap_or_default())?;
    let timezone = req
        .timezone
        .unwrap_or_else(|| jifen_journal::DEFAULT_TIMEZONE.to_string());
    if !is_time_zone(&timezone) {
        return Err(ApiError::invalid(format!(
            "{timezone:?} is not a known time zone"
        )));
    }
    let settings = EconomySettings {
        auto_confirm_days: req
            .auto_confirm_days
            .unwrap_or(crate::app::AUTO_CONFIRM_DAYS_DEFAULT),
    };
    check_auto_confirm_days(settings.auto_confirm_days)?;
    let economy = blocking(&app, move |app| {
        let now = app.now_ms();
        let meta = app
            .with_store(|s| {
                Ok(jifen_journal::create_economy(
                    s, &req.id, &req.name, &rules, &timezone, now,
                ))
            })?
            .map_err(|e| match e {
                jifen_journal::JournalError::Store(s) => ApiError::from(s),
                other => ApiError::from(other),
            })?;
        if app.config.cluster.is_some() {
            // Several nodes: the one it is assigned to takes its lease and opens it.
            let text = serde_json::to_string(&settings).map_err(ApiError::internal)?;
            app.with_store(|s| s.kv_put(crate::app::SETTINGS_SCOPE, &meta.id, &text))?;
            return Ok(Err(meta));
        }
        let economy = app.open_economy(meta)?;
        app.put_settings(&economy, settings)?;
        Ok(Ok(economy))
    })
    .await?;
    let economy = match economy {
        Ok(e) => e,
        Err(meta) => {
            tracing::info!(economy = %meta.id, "economy created; a node will take it");
            return Ok((
                StatusCode::CREATED,
                Json(json!({
                    "id": meta.id, "name": meta.name, "timezone": meta.timezone,
                    "created_at": meta.created_at,
                    "note": "created; the node it is assigned to opens it within a moment",
                })),
            )
                .into_response());
        }
    };
    tracing::info!(economy = %economy.meta.id, "economy created");
    let view = economy_view(&economy).await?;
    Ok((StatusCode::CREATED, Json(views::with_string_twins(view))).into_response())
}

#[utoipa::path(get, path = "/v1/economies", tag = "economies",
    responses((status = 200, description = "the economies this key reaches", body = Object)))]
pub async fn list_economies(State(app): AppState, Auth(p): Auth) -> ApiResult<Response> {
    // Every economy in the store (with several nodes, others are open elsewhere).
    let metas = blocking(&app, |app| Ok(app.with_store(|s| s.economies())?)).await?;
    let list: Vec<Value> = metas
        .iter()
        .filter(|m| p.reaches(&m.id))
        .filter(|_| p.role != Role::Merchant)
        .map(|m| json!({"id": m.id, "name": m.name, "timezone": m.timezone, "created_at": m.created_at}))
        .collect();
    Ok(json_ok(json!({ "economies": list })))
}

pub async fn economy_view(economy: &Arc<Economy>) -> ApiResult<Value> {
    let settings = economy
        .settings
        .read()
        .map(|s| s.clone())
        .unwrap_or_default();
    read(economy, move |v| {
        let e = v.ledger.economy();
        let price = e.price();
        let mut out = views::totals(v.ledger);
        let extra = json!({
            "id": v.meta.id,
            "name": v.meta.name,
            "timezone": v.meta.timezone,
            "created_at": v.meta.created_at,
            "auto_confirm_days": settings.auto_confirm_days,
            "price_yuan_per_point": price.yuan_per_point(4),
            "price": {"num_fen": price.num_fen, "den_atoms": price.den_atoms},
            "quota_outstanding_fen": e.quota_total_fen(),
            "exits": e.exits_total(),
            "clock": jifen_core::format_instant(e.clock()),
            "collectible_policy": {
                "gifting_enabled": e.policy().gifting_enabled,
                "gift_hold_days": e.policy().gift_hold_days,
                "exchange_enabled": e.policy().exchange_enabled,
            },
            "collectibles": e.collectibles().len(),
            "locked_atoms": e.locked_atoms(),
            "accounts": e.accounts().len(),
            "orders": e.orders().len(),
            "pending_orders": e.orders().pending(),
            "settled_days": e.settled_days().len(),
            "last_settled_day": e.settled_days().iter().next_back().map(|d| jifen_core::format_day(*d)),
            "head_seq": v.head_seq,
            "head_hash": hex::encode(v.head_hash),
        });
        if let (Value::Object(out), Value::Object(extra)) = (&mut out, extra) {
            out.extend(extra);
        }
        out
    })
    .await
}

#[utoipa::path(get, path = "/v1/economies/{eco}", tag = "economies",
    params(("eco" = String, Path)),
    responses((status = 200, description = "SPEC §11 state without accounts, the price in yuan per point, and the journal head", body = Object)))]
pub async fn get_economy(
    State(app): AppState,
    Auth(p): Auth,
    Path(eco): Path<String>,
) -> ApiResult<Response> {
    let economy = app.economy_for(&p, &eco)?;
    allow(&p, Need::Read)?;
    Ok(json_ok(economy_view(&economy).await?))
}

/// Changing an economy's settings (not its rules: those change by `set_rules`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchEconomy {
    pub auto_confirm_days: Option<u32>,
}

#[utoipa::path(patch, path = "/v1/economies/{eco}", tag = "economies", params(("eco" = String, Path)),
    request_body = PatchEconomy, responses((status = 200, body = Object)))]
pub async fn patch_economy(
    State(app): AppState,
    Auth(p): Auth,
    Path(eco): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let economy = app.economy_for(&p, &eco)?;
    allow(&p, Need::Manage)?;
    let req: PatchEconomy = typed(json_body(&headers, &body)?)?;
    let mut settings = economy
        .settings
        .read()
        .map(|s| s.clone())
        .unwrap_or_default();
    if let Some(days) = req.auto_confirm_days {
        check_auto_confirm_days(days)?;
        settings.auto_confirm_days = days;
    }
    let e2 = economy.clone();
    blocking(&app, move |app| app.put_settings(&e2, settings)).await?;
    Ok(json_ok(economy_view(&economy).await?))
}

// ----- rules -----

fn rules_json(rules: &jifen_core::Rules) -> Value {
    toml::from_str::<Value>(&jifen_wire::rules_to_toml(rules)).unwrap_or(Value::Null)
}

#[utoipa::path(get, path = "/v1/economies/{eco}/rules", tag = "rules", params(("eco" = String, Path)),
    responses((status = 200, description = "the rules in force", body = Object)))]
pub async fn get_rules(
    State(app): AppState,
    Auth(p): Auth,
    Path(eco): Path<String>,
) -> ApiResult<Response> {
    let economy = app.economy_for(&p, &eco)?;
    allow(&p, Need::Read)?;
    let rules = read(&economy, |v| rules_json(v.ledger.economy().rules())).await?;
    Ok(json_ok(json!({ "rules": rules })))
}

#[utoipa::path(get, path = "/v1/economies/{eco}/rules/history", tag = "rules", params(("eco" = String, Path)),
    responses((status = 200, description = "the initial rules, then every accepted set_rules with its seq and time", body = Object)))]
pub async fn rules_history(
    State(app): AppState,
    Auth(p): Auth,
    Path(eco): Path<String>,
) -> ApiResult<Response> {
    let economy = app.economy_for(&p, &eco)?;
    allow(&p, Need::Read)?;
    let meta = economy.meta.clone();
    let changes = blocking(&app, move |app| {
        let initial = jifen_wire::rules_from_toml(&meta.rules_toml).map_err(ApiError::internal)?;
        let mut out =
            vec![json!({"seq": 0, "time": meta.created_at, "rules": rules_json(&initial)})];
        let seqs = app.with_store(|s| s.rule_change_seqs(&meta.id))?;
        for seq in seqs {
            let entry = app
                .with_store(|s| s.entry(&meta.id, seq))?
                .ok_or_else(|| ApiError::internal(format!("rule change {seq} has no entry")))?;
            let command: Value =
                serde_json::from_str(&entry.command).map_err(ApiError::internal)?;
            out.push(json!({
                "seq": seq,
                "time": jifen_journal::time::rfc3339_ms(entry.ts_ms),
                "id": command.get("id"),
                "rules": command.get("rules"),
            }));
        }
        Ok(out)
    })
    .await?;
    Ok(json_ok(json!({ "history": changes })))
}

// ----- commands -----

/// The answer to a batch: one outcome per command, in order, all durably committed.
#[derive(serde::Serialize, ToSchema)]
pub struct Outcomes {
    pub outcomes: Vec<OutcomeView>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct OutcomeView {
    /// The command's `id` as given (any JSON type; null when absent).
    #[schema(value_type = Object)]
    pub id: Value,
    pub ok: bool,
    /// The SPEC §5 code of a rejection, null when ok.
    pub code: Option<String>,
    /// The journal seq of the command (of its first submission, for a retry).
    pub seq: u64,
}

/// A merchant key may only sell or redeem stable points on its own account.
fn merchant_may(account: &str, command: &Value) -> bool {
    let kind = command.get("type").and_then(Value::as_str);
    matches!(kind, Some("sell" | "redeem_stable"))
        && command.get("account").and_then(Value::as_str) == Some(account)
}

fn outcomes_body(parsed: &[Parsed], outcomes: &[Outcome]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(16 + outcomes.len() * 64);
    out.push_str("{\"outcomes\":[");
    for (i, (p, o)) in parsed.iter().zip(outcomes).enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"id\":");
        match &p.id {
            // A valid id needs no escaping; anything else is written as JSON.
            Some(id) if jifen_core::is_valid_name(id) => {
                out.push('"');
                out.push_str(id);
                out.push('"');
            }
            _ => out.push_str(&p.id_echo().to_string()),
        }
        let _ = match o.result {
            Ok(()) => write!(out, ",\"ok\":true,\"code\":null,\"seq\":{}}}", o.seq),
            Err(c) => write!(
                out,
                ",\"ok\":false,\"code\":\"{}\",\"seq\":{}}}",
                c.as_str(),
                o.seq
            ),
        };
    }
    out.push_str("]}");
    out
}

/// 422 `reserved_id` when a client's command takes an id of the server's own namespace (see
/// `jifen_journal::ids`): nothing of the request is journaled.
pub fn refuse_reserved_ids(parsed: &[Parsed]) -> ApiResult<()> {
    let reserved = parsed.iter().enumerate().find_map(|(i, p)| {
        p.id.as_deref()
            .filter(|id| jifen_journal::ids::is_reserved(id))
            .map(|id| (i, id))
    });
    match reserved {
        Some((i, id)) => Err(reserved_id(&format!("command {i}: id {id:?}"))),
        None => Ok(()),
    }
}

pub fn reserved_id(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "reserved_id",
        format!(
            "{what} is in the namespace the server keeps for the commands it issues itself (ids beginning jifen:, or auto-settle:, auto-confirm: or clock: from earlier versions); choose another id"
        ),
    )
}

#[utoipa::path(post, path = "/v1/economies/{eco}/commands", tag = "commands", params(("eco" = String, Path)),
    request_body(content = Object, description = "one SPEC §5 command object, or an array of up to 8190"),
    responses(
        (status = 200, description = "outcomes, after the durable commit; a rejected command is an outcome", body = Outcomes),
        (status = 422, description = "batch_too_large, or not a command object or array", body = crate::error::ErrorBody),
    ))]
pub async fn post_commands(
    State(app): AppState,
    Auth(p): Auth,
    Path(eco): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let economy = app.economy_for(&p, &eco)?;
    if p.role == Role::Auditor {
        return Err(ApiError::forbidden("an auditor key is read-only"));
    }
    let raws = command_texts(&headers, &body)?;
    if raws.len() > BATCH_COMMANDS_MAX {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "batch_too_large",
            format!(
                "{} commands in one request; at most {BATCH_COMMANDS_MAX}",
                raws.len()
            ),
        ));
    }
    if p.role == Role::Exchange {
        let venue = p.account.clone().unwrap_or_default();
        crate::exchange::check_exchange_batch(&economy, &venue, &raws).await?;
    }
    if p.role == Role::Merchant {
        let own = p.account.clone().unwrap_or_default();
        let allowed =
            |raw: &&str| serde_json::from_str::<Value>(raw).is_ok_and(|c| merchant_may(&own, &c));
        if let Some(bad) = raws.iter().position(|r| !allowed(r)) {
            return Err(ApiError::forbidden(format!(
                "command {bad}: a merchant key may only sell or redeem_stable on account {own:?}"
            )));
        }
    }
    // Parse and canonicalise here, so the writer only applies, hashes and commits.
    let mut batch = PreparedBatch::with_capacity(raws.len(), body.len());
    for (i, raw) in raws.iter().enumerate() {
        if !batch.push_text(raw) {
            return Err(ApiError::bad_request(
                "malformed_json",
                format!("the body is not valid JSON: command {i} is not a JSON value"),
            ));
        }
    }
    refuse_reserved_ids(batch.parsed())?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    economy.journal.submit_prepared(
        batch,
        Box::new(move |batch, r| {
            let _ = tx.send((batch, r));
        }),
    );
    let (batch, result) = rx
        .await
        .map_err(|_| ApiError::unavailable("the economy's writer stopped"))?;
    let outcomes = result?;
    let m = &app.metrics;
    for o in &outcomes {
        let counter = if o.retry {
            &m.commands_retried
        } else if o.result.is_ok() {
            &m.commands_applied
        } else {
            &m.commands_rejected
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
    let mut body = outcomes_body(batch.parsed(), &outcomes);
    // A gift refused for its holding period says when it will be allowed.
    let waiting: Vec<(usize, String)> = outcomes
        .iter()
        .zip(batch.parsed())
        .enumerate()
        .filter_map(|(i, (o, p))| match (&o.result, &p.command) {
            (
                Err(jifen_core::Code::HoldingPeriod),
                Ok(jifen_core::Command::GiftCollectible { collectible, .. }),
            ) => Some((i, collectible.to_string())),
            _ => None,
        })
        .collect();
    if !waiting.is_empty() {
        let opens = read(&economy, move |v| {
            let e = v.ledger.economy();
            waiting
                .into_iter()
                .filter_map(|(i, name)| {
                    let c = e.collectibles().find(&name)?;
                    Some((i, jifen_core::format_instant(c.giftable_at(e.policy()))))
                })
                .collect::<Vec<_>>()
        })
        .await?;
        let mut value: Value = serde_json::from_str(&body).map_err(ApiError::internal)?;
        for (i, at) in opens {
            value["outcomes"][i]["opens_at"] = json!(at);
        }
        body = value.to_string();
    }
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

// ----- reads -----

#[utoipa::path(get, path = "/v1/economies/{eco}/accounts/{name}", tag = "reads",
    params(("eco" = String, Path), ("name" = String, Path)),
    responses((status = 200, description = "balances, value now, quota and progress to exit, trigger price, level, referrer", body = Object)))]
pub async fn get_account(
    State(app): AppState,
    Auth(p): Auth,
    Path((eco, name)): Path<(String, String)>,
) -> ApiResult<Response> {
    let economy = app.economy_for(&p, &eco)?;
    allow(&p, Need::Account(&name))?;
    let view = account_view(&economy, name)
        .await?
        .ok_or_else(|| ApiError::not_found("no such account"))?;
    Ok(json_ok(view))
}

/// The account view of `name` (see `views::account`), read on the economy's writer.
pub async fn account_view(economy: &Economy, name: String) -> ApiResult<Option<Value>> {
    read(economy, move |v| {
        let e = v.ledger.economy();
        e.account(&name).map(|a| views::account(e, a))
    })
    .await
}

#[utoipa::path(get, path = "/v1/economies/{eco}/orders/{order}", tag = "reads",
    params(("eco" = String, Path), ("order" = String, Path)),
    responses((status = 200, body = Object)))]
pub async fn get_order(
    State(app): AppState,
    Auth(p): Auth,
    Path((eco, order)): Path<(String, String)>,
) -> ApiResult<Response> {
    let economy = app.economy_for(&p, &eco)?;
    allow(&p, Need::Read)?;
    let days = economy
        .settings
        .read()
        .map(|s| s.auto_confirm_days)
        .unwrap_or(7);
    let found = read(&economy, move |v| {
        let e = v.ledger.economy();
        e.orders()
            .find(&order)
            .map(|o| (views::order(e, o), o.paid_seq, o.status))
    })
    .await?
    .ok_or_else(|| ApiError::not_found("no such order"))?;
    let (mut view, paid_seq, status) = found;
    let id = economy.meta.id.clone();
    let paid = blocking(&app, move |app| {
        Ok(app.with_store(|s| s.entry(&id, paid_seq))?)
    })
    .await?;
    if let (Some(entry), Value::Object(map)) = (paid, &mut view) {
        map.insert(
            "paid_at".into(),
            json!(jifen_journal::time::rfc3339_ms(entry.ts_ms)),
        );
        if status == jifen_core::OrderStatus::Pending {
            let due = entry.ts_ms + days as i64 * crate::scheduler::DAY_MS;
            map.insert(
                "auto_confirm_at".into(),
                json!(jifen_journal::time::rfc3339_ms(due)),
            );
        }
    }
    Ok(json_ok(view))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateQuery {
    /// Every integer as a decimal string.
    pub strings: Option<bool>,
}

#[utoipa::path(get, path = "/v1/economies/{eco}/state", tag = "reads",
    params(("eco" = String, Path), ("strings" = Option<bool>, Query, description = "every integer as a decimal string")),
    responses((status = 200, description = "exactly the replay state object of SPEC §11", body = Object)))]
pub async fn get_state(
    State(app): AppState,
    Auth(p): Auth,
    Path(eco): Path<String>,
    Query(q): Query<StateQuery>,
) -> ApiResult<Response> {
    let economy = app.economy_for(&p, &eco)?;
    allow(&p, Need::Read)?;
    let (text, seq) = read(&economy, |v| {
        (
            jifen_wire::state_json(v.ledger, jifen_wire::StateVersion::V2),
            v.head_seq,
        )
    })
    .await?;
    let body = if q.strings == Some(true) {
        let value: Value = serde_json::from_str(&text).map_err(ApiError::internal)?;
        serde_json::to_string(&views::all_integers_as_strings(value)).map_err(ApiError::internal)?
    } else {
        text
    };
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (
                header::HeaderName::from_static("x-jifen-seq"),
                seq.to_string(),
            ),
        ],
        body,
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    pub after: Option<u64>,
    pub limit: Option<usize>,
    /// Also give each entry's Merkle leaf bytes, in hex (see `transparency`).
    pub leaves: Option<bool>,
}

fn check_limit(limit: Option<usize>, default: usize) -> ApiResult<usize> {
    limit_within(limit, default, PAGE_LIMIT_MAX)
}

/// A `limit` query value: `default` when absent, otherwise 1 to `max`, or 422.
pub fn limit_within(limit: Option<usize>, default: usize, max: usize) -> ApiResult<usize> {
    match limit.unwrap_or(default) {
        n if (1..=max).contains(&n) => Ok(n),
        _ => Err(ApiError::invalid(format!("limit must be 1 to {max}"))),
    }
}

#[utoipa::path(get, path = "/v1/economies/{eco}/events", tag = "reads",
    params(("eco" = String, Path), ("after" = Option<u64>, Query), ("limit" = Option<usize>, Query, description = "1 to 1000, default 100"),
           ("leaves" = Option<bool>, Query, description = "also each entry's Merkle leaf, in hex")),
    responses((status = 200, description = "journal entries: seq, time, command, outcome, hash", body = Object)))]
pub async fn get_events(
    State(app): AppState,
    Auth(p): Auth,
    Path(eco): Path<String>,
    Query(q): Query<EventsQuery>,
) -> ApiResult<Response> {
    let economy = app.economy_for(&p, &eco)?;
    allow(&p, Need::Read)?;
    let limit = check_limit(q.limit, 100)?;
    let after = q.after.unwrap_or(0);
    let id = economy.meta.id.clone();
    let entries = blocking(&app, move |app| {
        Ok(app.with_store(|s| s.entries(&id, after, limit))?)
    })
    .await?;
    let next_after = entries.last().map_or(after, |e| e.seq);
    let with_leaves = q.leaves.unwrap_or(false);
    let events: Vec<Value> = entries
        .into_iter()
        .map(|e| {
            let leaf = with_leaves.then(|| {
                hex::encode(jifen_journal::merkle::leaf_bytes(
                    e.seq, e.ts_ms, &e.command, &e.outcome,
                ))
            });
            let command: Value =
                serde_json::from_str(&e.command).unwrap_or(Value::String(e.command));
            let code = (e.outcome != "ok").then_some(e.outcome);
            let mut event = json!({
                "seq": e.seq,
                "ts_ms": e.ts_ms,
                "time": jifen_journal::time::rfc3339_ms(e.ts_ms),
                "command": command,
                "outcome": {"ok": code.is_none(), "code": code},
                "hash": hex::encode(e.hash),
            });
            if let Some(leaf) = leaf {
                event["leaf"] = Value::String(leaf);
            }
            event
        })
        .collect();
    Ok(json_ok(
        json!({ "events": events, "next_after": next_after }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub step: Option<String>,
}

#[utoipa::path(get, path = "/v1/economies/{eco}/price-history", tag = "reads",
    params(("eco" = String, Path),
        ("from" = Option<String>, Query, description = "RFC 3339 time or milliseconds since the epoch; default: the economy's creation"),
        ("to" = Option<String>, Query, description = "as from; default: now"),
        ("step" = Option<String>, Query, description = "seconds, or a number with s, m, h or d; default: about 500 points")),
    responses((status = 200, description = "price, reserve, circulating supply, treasury and dividend pool per step", body = Object)))]
pub async fn price_history(
    State(app): AppState,
    Auth(p): Auth,
    Path(eco): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<Response> {
    let economy = app.economy_for(&p, &eco)?;
    allow(&p, Need::Read)?;
    let created = crate::history::parse_time(&economy.meta.created_at).unwrap_or(0);
    let from = q
        .from
        .as_deref()
        .map(crate::history::parse_time_param)
        .transpose()?
        .unwrap_or(created);
    let to =
        q.to.as_deref()
            .map(crate::history::parse_time_param)
            .transpose()?
            .unwrap_or_else(|| app.now_ms());
    if to < from {
        return Err(ApiError::invalid("to is before from"));
    }
    let step_ms = match q.step.as_deref() {
        Some(s) => crate::history::parse_step(s)?,
        None => ((to - from) / 500).max(1000),
    };
    if ((to - from) / step_ms) as u64 + 1 > HISTORY_POINTS_MAX {
        return Err(ApiError::invalid(format!(
            "from, to and step give more than {HISTORY_POINTS_MAX} points; use a larger step"
        )));
    }
    let id = economy.meta.id.clone();
    let points = blocking(&app, move |app| {
        crate::history::bucketed(app, &id, from, to, step_ms)
    })
    .await?;
    Ok(json_ok(
        json!({ "from_ms": from, "to_ms": to, "step_ms": step_ms, "points": points }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitQuery {
    pub limit: Option<usize>,
}

#[utoipa::path(get, path = "/v1/economies/{eco}/leaderboard", tag = "reads",
    params(("eco" = String, Path), ("limit" = Option<usize>, Query, description = "1 to 1000, default 10")),
    responses((status = 200, description = "consumers holding the most points", body = Object)))]
pub async fn leaderboard(
    State(app): AppState,
    Auth(p): Auth,
    Path(eco): Path<String>,
    Query(q): Query<LimitQuery>,
) -> ApiResult<Response> {
    let economy = app.economy_for(&p, &eco)?;
    allow(&p, Need::Read)?;
    let limit = check_limit(q.limit, 10)?;
    let rows = read(&economy, move |v| {
        let e = v.ledger.economy();
        let mut holders: Vec<&jifen_core::Account> = e
            .accounts()
            .iter()
            .filter(|a| a.is_consumer() && a.atoms > 0)
            .collect();
        let by_rank = |a: &&jifen_core::Account, b: &&jifen_core::Account| {
            b.atoms
                .cmp(&a.atoms)
                .then_with(|| a.name.as_bytes().cmp(b.name.as_bytes()))
        };
        if holders.len() > limit {
            holders.select_nth_unstable_by(limit, by_rank);
            holders.truncate(limit);
        }
        holders.sort_unstable_by(by_rank);
        let price = e.price();
        holders
            .iter()
            .enumerate()
            .map(|(i, a)| {
                json!({
                    "rank": i + 1,
                    "account": a.name.as_str(),
                    "atoms": a.atoms,
                    "points": views::points(a.atoms),
                    "value_fen": price.value_fen(a.atoms),
                    "dividends_fen": a.dividends_fen,
                    "level_name": views::level(a.spent_fen).1,
                })
            })
            .collect::<Vec<_>>()
    })
    .await?;
    Ok(json_ok(json!({ "leaderboard": rows })))
}

// ----- keys -----

/// Creating a key for an economy.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    pub role: Role,
    /// Required for, and only for, a merchant key: its merchant account.
    pub account: Option<String>,
    /// Required for, and only for, an exchange key: its venue (configured first).
    pub venue: Option<String>,
}

fn key_view(r: &keys::KeyRecord) -> Value {
    json!({
        "id": r.id,
        "role": r.role,
        "economy": r.economy,
        "account": r.account,
        "created_at": jifen_journal::time::rfc3339_ms(r.created_ms),
        "revoked_at": r.revoked_ms.map(jifen_journal::time::rfc3339_ms),
    })
}

#[utoipa::path(post, path = "/v1/economies/{eco}/keys", tag = "keys", params(("eco" = String, Path)),
    request_body = CreateKey,
    responses((status = 201, description = "the key, shown this once, and its record", body = Object)))]
pub async fn create_key(
    State(app): AppState,
    Auth(p): Auth,
    Path(eco): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let economy = app.economy_for(&p, &eco)?;
    allow(&p, Need::Manage)?;
    let req: CreateKey = typed(json_body(&headers, &body)?)?;
    if req.role == Role::Admin {
        return Err(ApiError::invalid(
            "an economy key is operator, merchant or auditor",
        ));
    }
    let mut req = req;
    match (req.role, req.venue.take()) {
        (Role::Exchange, Some(venue)) => {
            let (id, name) = (economy.meta.id.clone(), venue.clone());
            let known = blocking(&app, move |app| {
                crate::exchange::venue_exists(app, &id, &name)
            })
            .await?;
            if !known || req.account.is_some() {
                return Err(ApiError::invalid(format!(
                    "{venue:?} is not a venue of this economy: configure it first (PUT …/venues/{{venue}})"
                )));
            }
            let (key, record) =
                keys::generate(req.role, Some(eco.clone()), Some(venue), app.now_ms())
                    .map_err(ApiError::internal)?;
            return finish_key(&app, key, record).await;
        }
        (Role::Exchange, None) => return Err(ApiError::invalid("an exchange key needs its venue")),
        (_, Some(_)) => return Err(ApiError::invalid("only an exchange key has a venue")),
        (_, None) => {}
    }
    match (req.role, &req.account) {
        (Role::Merchant, Some(account)) => {
            let name = account.clone();
            let is_merchant = read(&economy, move |v| {
                v.ledger
                    .economy()
                    .account(&name)
                    .is_some_and(|a| !a.is_consumer())
            })
            .await?;
            if !is_merchant {
                return Err(ApiError::invalid(format!(
                    "{account:?} is not a merchant of this economy"
                )));
            }
        }
        (Role::Merchant, None) => {
            return Err(ApiError::invalid("a merchant key needs its account"))
        }
        (_, Some(_)) => return Err(ApiError::invalid("only a merchant key has an account")),
        (_, None) => {}
    }
    let (key, record) = keys::generate(req.role, Some(eco.clone()), req.account, app.now_ms())
        .map_err(ApiError::internal)?;
    finish_key(&app, key, record).await
}

/// Stores a new key and answers with it, once.
async fn finish_key(app: &Arc<App>, key: String, record: keys::KeyRecord) -> ApiResult<Response> {
    let view = key_view(&record);
    blocking(app, move |app| app.put_key(record)).await?;
    let mut view = view;
    if let Value::Object(map) = &mut view {
        map.insert("key".into(), Value::String(key));
    }
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

#[utoipa::path(get, path = "/v1/economies/{eco}/keys", tag = "keys", params(("eco" = String, Path)),
    responses((status = 200, description = "the economy's keys, without secrets", body = Object)))]
pub async fn list_keys(
    State(app): AppState,
    Auth(p): Auth,
    Path(eco): Path<String>,
) -> ApiResult<Response> {
    app.economy_for(&p, &eco)?;
    allow(&p, Need::Manage)?;
    let list: Vec<Value> = app.keys_of(&eco).iter().map(key_view).collect();
    Ok(json_ok(json!({ "keys": list })))
}

#[utoipa::path(delete, path = "/v1/economies/{eco}/keys/{id}", tag = "keys",
    params(("eco" = String, Path), ("id" = String, Path)),
    responses((status = 200, description = "revoked", body = Object)))]
pub async fn revoke_key(
    State(app): AppState,
    Auth(p): Auth,
    Path((eco, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    app.economy_for(&p, &eco)?;
    allow(&p, Need::Manage)?;
    let mut record = app
        .key(&id)
        .filter(|r| r.economy.as_deref() == Some(eco.as_str()))
        .ok_or_else(|| ApiError::not_found("no such key"))?;
    if record.revoked_ms.is_none() {
        record.revoked_ms = Some(app.now_ms());
        let r2 = record.clone();
        blocking(&app, move |app| app.put_key(r2)).await?;
    }
    Ok(json_ok(key_view(&record)))
}
