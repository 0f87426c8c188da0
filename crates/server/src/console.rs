//! The operator console (issue 6): the page at `/`, and the reads and previews it needs beyond
//! the rest of the API. Everything here is an ordinary `/v1` endpoint with the usual roles, so
//! a script can use it as well as the page.
//!
//! - `GET …/overview`: the economy, and what happened today in its time zone (orders,
//!   contributions, payouts and exits, as differences of exact samples), and the last verify;
//! - `POST …/verify` runs `jifen verify` on the economy in the background; `GET …/verify`;
//! - `GET …/accounts?q=` searches accounts; `GET …/accounts/{name}/history` is an account's
//!   journal entries (see `activity.rs`);
//! - `GET …/orders?status=pending` lists pending orders with their auto-confirmation time;
//!   `GET …/orders/{order}/preview?action=confirm|refund` shows what the action would do;
//! - `GET …/settlements` lists settled days with their totals;
//! - `POST …/rules/preview` replays the last 30 days under proposed rules (the what-if).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jifen_core::{format_day, Ledger};
use jifen_journal::time::rfc3339_ms;
use jifen_journal::{ledger_at, open_store, verify_economy, JournalError};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::activity::Activity;
use crate::app::{App, Economy};
use crate::auth::{allow, Auth, Need};
use crate::error::{ApiError, ApiResult};
use crate::routes::{
    blocking, economy_view, json_body, json_ok, limit_within, read, AppState, LimitQuery,
};
use crate::views;

/// The console's server-side state: the account activity index and verify runs in progress.
#[derive(Default)]
pub struct ConsoleState {
    pub activity: Activity,
    /// Economy → (entries checked, entries in all) of a verify run in progress.
    verifying: Mutex<HashMap<String, (u64, u64)>>,
    /// Economies with a what-if running: at most one each, since one can hold a core for
    /// seconds.
    what_ifs: Mutex<std::collections::HashSet<String>>,
}

/// The right to run an economy's what-if, held by the work and given back when it stops.
struct WhatIfSlot {
    app: Arc<App>,
    economy: String,
}

impl WhatIfSlot {
    fn take(app: &Arc<App>, economy: &str) -> Option<WhatIfSlot> {
        let mut running = app.console.what_ifs.lock().ok()?;
        running.insert(economy.to_string()).then(|| WhatIfSlot {
            app: app.clone(),
            economy: economy.to_string(),
        })
    }
}

impl Drop for WhatIfSlot {
    fn drop(&mut self) {
        if let Ok(mut running) = self.app.console.what_ifs.lock() {
            running.remove(&self.economy);
        }
    }
}

/// Raised when the request that asked for work is dropped: answered `timeout`, or its client
/// hung up. The work asks it as it goes and stops.
struct CancelOnDrop(Arc<std::sync::atomic::AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

const VERIFY_SCOPE: &str = "verify";
/// The what-if window, and the most entries it replays (the newest, when there are more).
const WHAT_IF_DAYS: i64 = 30;
const WHAT_IF_ENTRIES_MAX: u64 = 3_000_000;
const QUARTER_HOUR_MS: i64 = 15 * 60 * 1000;
const SEARCH_LIMIT_MAX: usize = 100;
const PENDING_LIMIT_MAX: usize = 500;

fn time_zone(economy: &Economy) -> ApiResult<jiff::tz::TimeZone> {
    jiff::tz::TimeZone::get(&economy.meta.timezone).map_err(ApiError::internal)
}

/// The start of the local day holding `ms`, and that day, in the economy's time zone.
fn day_start(tz: &jiff::tz::TimeZone, ms: i64) -> ApiResult<(i64, jiff::civil::Date)> {
    let zoned = jiff::Timestamp::from_millisecond(ms)
        .map_err(ApiError::internal)?
        .to_zoned(tz.clone());
    let start = zoned.start_of_day().map_err(ApiError::internal)?;
    Ok((start.timestamp().as_millisecond(), zoned.date()))
}

// ----- overview -----

#[utoipa::path(get, path = "/v1/economies/{eco}/overview", tag = "console",
    params(("eco" = String, Path)),
    responses((status = 200, description = "the economy, today's figures in its time zone, and the last verify", body = Object)))]
pub async fn overview(
    State(app): AppState,
    Auth(p): Auth,
    Path(eco): Path<String>,
) -> ApiResult<Response> {
    let economy = app.economy_for(&p, &eco)?;
    allow(&p, Need::Read)?;
    let view = economy_view(&economy).await?;
    let (midnight, _) = day_start(&time_zone(&economy)?, app.now_ms())?;
    let id = economy.meta.id.clone();
    let (base, verify) = blocking(&app, move |app| {
        let base = app.with_store(|s| s.sample_before(&id, midnight))?;
        Ok((base.unwrap_or_default(), verify_status(app, &id)?))
    })
    .await?;
    let now = |k: &str| view[k].as_u64().unwrap_or(0);
    let today = json!({
        "since": rfc3339_ms(midnight),
        "orders": now("orders").saturating_sub(base.orders),
        "contributions_fen": now("contributions_fen").saturating_sub(base.contributions_fen),
        "paid_out_fen": now("paid_out_fen").saturating_sub(base.paid_out_fen),
        "exits": now("exits").saturating_sub(base.exits),
    });
    let problems: Vec<Value> = app
        .scheduler_health
        .of(&economy.meta.id)
        .iter()
        .map(crate::scheduler::Problem::view)
        .collect();
    Ok(json_ok(json!({
        "economy": view,
        "today": today,
        "verify": verify,
        "scheduler_problems": problems,
        "store_problems": app.store_problems(),
    })))
}

// ----- verify -----

fn verify_status(app: &App, economy: &str) -> ApiResult<Value> {
    let last = app
        .with_store(|s| s.kv_get(VERIFY_SCOPE, economy))?
        .and_then(|t| serde_json::from_str::<Value>(&t).ok());
    let running = app
        .console
        .verifying
        .lock()
        .ok()
        .and_then(|m| m.get(economy).copied());
    Ok(json!({
        "last": last,
        "running": running.map(|(done, total)| json!({"checked": done, "entries": total})),
    }))
}

#[utoipa::path(get, path = "/v1/economies/{eco}/verify", tag = "console",
    params(("eco" = String, Path)),
    responses((status = 200, description = "the last verify of the economy, and one in progress", body = Object)))]
pub async fn get_verify(
    State(app): AppState,
    Auth(p): Auth,
    Path(eco): Path<String>,
) -> ApiResult<Response> {
    let economy = app.economy_for(&p, &eco)?;
    allow(&p, Need::Read)?;
    let id = economy.meta.id.clone();
    let status = blocking(&app, move |app| verify_status(app, &id)).await?;
    Ok(json_ok(status))
}

#[utoipa::path(post, path = "/v1/economies/{eco}/verify", tag = "console",
    params(("eco" = String, Path)),
    responses((status = 202, description = "a verify of the whole journal has started (or was already running)", body = Object)))]
pub async fn start_verify(
    State(app): AppState,
    Auth(p): Auth,
    Path(eco): Path<String>,
) -> ApiResult<Response> {
    let economy = app.economy_for(&p, &eco)?;
    allow(&p, Need::Read)?;
    let id = economy.meta.id.clone();
    let fresh = app
        .console
        .verifying
        .lock()
        .map(|mut m| m.insert(id.clone(), (0, 0)).is_none())
        .unwrap_or(false);
    if fresh {
        let app2 = app.clone();
        std::thread::Builder::new()
            .name("console-verify".into())
            .spawn(move || run_verify(&app2, &id))
            .map_err(ApiError::internal)?;
    }
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({"started": fresh, "running": true})),
    )
        .into_response())
}

/// Verifies the economy on a connection of its own, and records the result.
fn run_verify(app: &App, economy: &str) {
    let started = app.now_ms();
    let result = open_store(&app.config.data_dir, app.config.database.as_deref())
        .map_err(JournalError::from)
        .and_then(|mut store| {
            verify_economy(store.as_mut(), economy, &mut |done, total| {
                if let Ok(mut m) = app.console.verifying.lock() {
                    m.insert(economy.to_string(), (done, total));
                }
            })
        });
    let record = match result {
        Ok(r) => json!({
            "ok": r.ok(),
            "at": rfc3339_ms(app.now_ms()),
            "started_at": rfc3339_ms(started),
            "entries": r.entries,
            "head_hash": r.head_hash.map(hex::encode),
            "snapshots_checked": r.snapshots_checked,
            "tree_heads_checked": r.tree_heads_checked,
            "problems": r.problems.iter().take(20).collect::<Vec<_>>(),
        }),
        Err(e) => json!({
            "ok": false,
            "at": rfc3339_ms(app.now_ms()),
            "started_at": rfc3339_ms(started),
            "problems": [format!("verify could not run: {e}")],
        }),
    };
    if record["ok"] == true {
        tracing::info!(economy, "verify passed");
    } else {
        tracing::warn!(economy, problems = %record["problems"], "verify failed");
    }
    if let Err(e) = app.with_store(|s| s.kv_put(VERIFY_SCOPE, economy, &record.to_string())) {
        tracing::warn!(economy, "cannot record the verify result: {e}");
    }
    if let Ok(mut m) = app.console.verifying.lock() {
        m.remove(economy);
    }
}

// ----- accounts -----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// Part of the name, matched without regard to ASCII case; empty lists the first accounts.
    pub q: Option<String>,
    pub limit: Option<usize>,
}

#[utoipa::path(get, path = "/v1/economies/{eco}/accounts", tag = "console",
    params(("eco" = String, Path), ("q" = Option<String>, Query), ("limit" = Option<usize>, Query)),
    responses((status = 200, description = "accounts whose name contains q, in creation order", body = Object)))]
pub async fn search_accounts(
    State(app): AppState,
    Auth(p): Auth,
    Path(eco): Path<String>,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Response> {
    let economy = app.economy_for(&p, &eco)?;
    allow(&p, Need::Read)?;
    let limit = limit_within(q.limit, 20, SEARCH_LIMIT_MAX)?;
    let needle = q.q.unwrap_or_default().to_ascii_lowercase();
    if needle.len() > jifen_core::NAME_BYTES_MAX {
        return Err(ApiError::invalid("q is longer than any name"));
    }
    let (rows, more) = read(&economy, move |v| {
        let e = v.ledger.economy();
        let mut found = e.accounts().iter().filter(|a| {
            needle.is_empty()
                || a.name
                    .as_bytes()
                    .windows(needle.len())
                    .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
        });
        let rows: Vec<Value> = found
            .by_ref()
            .take(limit)
            .map(|a| {
                json!({
                    "account": a.name.as_str(),
                    "kind": if a.is_consumer() { "consumer" } else { "merchant" },
                    "atoms": a.atoms,
                    "points": views::points(a.atoms),
                    "stable_fen": a.stable_fen,
                    "quota_fen": a.quota_fen,
                })
            })
            .collect();
        (rows, found.next().is_some())
    })
    .await?;
    Ok(json_ok(json!({"accounts": rows, "more": more})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Only entries before this seq (for the next page).
    pub before: Option<u64>,
    pub limit: Option<usize>,
}

/// An entry as the console and the wallet show it.
pub fn entry_view(e: &jifen_journal::Entry) -> Value {
    let command: Value = serde_json::from_str(&e.command).unwrap_or(Value::Null);
    json!({
        "seq": e.seq,
        "time": rfc3339_ms(e.ts_ms),
        "type": command["type"],
        "command": command,
        "ok": e.outcome == "ok",
        "outcome": e.outcome,
    })
}

/// Up to `limit` entries concerning `account`, newest first, before `before`; and how many
/// there are in all.
pub fn account_entries(
    app: &App,
    economy: &str,
    account: &str,
    before: Option<u64>,
    limit: usize,
) -> ApiResult<(Vec<Value>, usize)> {
    app.with_store(|s| -> Result<_, jifen_journal::StoreError> {
        let (seqs, total) = app
            .console
            .activity
            .of(
                s,
                economy,
                crate::activity::Subject::Account(account),
                before,
                limit,
            )
            .map_err(|e| jifen_journal::StoreError::Malformed(e.to_string()))?;
        let mut out = Vec::with_capacity(seqs.len());
        for seq in seqs {
            if let Some(e) = s.entry(economy, seq)? {
                out.push(entry_view(&e));
            }
        }
        Ok((out, total))
    })
    .map_err(ApiError::from)
}

#[utoipa::path(get, path = "/v1/economies/{eco}/accounts/{name}/history", tag = "console",
    params(("eco" = String, Path), ("name" = String, Path), ("before" = Option<u64>, Query), ("limit" = Option<usize>, Query)),
    responses((status = 200, description = "the account's journal entries, newest first", body = Object)))]
pub async fn account_history(
    State(app): AppState,
    Auth(p): Auth,
    Path((eco, name)): Path<(String, String)>,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<Response> {
    let economy = app.economy_for(&p, &eco)?;
    allow(&p, Need::Account(&name))?;
    let limit = limit_within(q.limit, 50, crate::routes::PAGE_LIMIT_MAX)?;
    let id = economy.meta.id.clone();
    let (entries, total) = blocking(&app, move |app| {
        account_entries(app, &id, &name, q.before, limit)
    })
    .await?;
    let next = if entries.len() == limit {
        entries.last().and_then(|e| e["seq"].as_u64())
    } else {
        None
    };
    Ok(json_ok(json!({
        "entries": entries,
        "total": total,
        "next_before": next,
    })))
}

// ----- orders -----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrdersQuery {
    /// Only `pending` is listed.
    pub status: Option<String>,
    pub limit: Option<usize>,
}

#[utoipa::path(get, path = "/v1/economies/{eco}/orders", tag = "console",
    params(("eco" = String, Path), ("status" = Option<String>, Query, description = "pending"), ("limit" = Option<usize>, Query)),
    responses((status = 200, description = "pending orders, oldest first, with when each is confirmed automatically", body = Object)))]
pub async fn list_orders(
    State(app): AppState,
    Auth(p): Auth,
    Path(eco): Path<String>,
    Query(q): Query<OrdersQuery>,
) -> ApiResult<Response> {
    let economy = app.economy_for(&p, &eco)?;
    allow(&p, Need::Read)?;
    if q.status.as_deref().unwrap_or("pending") != "pending" {
        return Err(ApiError::invalid("status must be pending"));
    }
    let limit = limit_within(q.limit, 100, PENDING_LIMIT_MAX)?;
    let days = economy
        .settings
        .read()
        .map(|s| s.auto_confirm_days)
        .unwrap_or(7);
    let (rows, total) = read(&economy, move |v| {
        let e = v.ledger.economy();
        let rows: Vec<(Value, u64)> = e
            .orders()
            .iter()
            .filter(|o| o.status == jifen_core::OrderStatus::Pending)
            .take(limit)
            .map(|o| (views::order(e, o), o.paid_seq))
            .collect();
        (rows, e.orders().pending())
    })
    .await?;
    let id = economy.meta.id.clone();
    let orders = blocking(&app, move |app| {
        app.with_store(|s| -> Result<Vec<Value>, jifen_journal::StoreError> {
            let mut out = Vec::with_capacity(rows.len());
            for (mut view, paid_seq) in rows {
                if let (Some(entry), Value::Object(map)) = (s.entry(&id, paid_seq)?, &mut view) {
                    let due = entry.ts_ms + days as i64 * crate::scheduler::DAY_MS;
                    map.insert("paid_at".into(), json!(rfc3339_ms(entry.ts_ms)));
                    map.insert("auto_confirm_at".into(), json!(rfc3339_ms(due)));
                }
                out.push(view);
            }
            Ok(out)
        })
        .map_err(ApiError::from)
    })
    .await?;
    Ok(json_ok(json!({
        "orders": orders,
        "pending": total,
        "auto_confirm_days": days,
        "now": rfc3339_ms(app.now_ms()),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewQuery {
    /// `confirm` or `refund`.
    pub action: String,
}

#[utoipa::path(get, path = "/v1/economies/{eco}/orders/{order}/preview", tag = "console",
    params(("eco" = String, Path), ("order" = String, Path), ("action" = String, Query, description = "confirm or refund")),
    responses((status = 200, description = "what confirming or refunding the order would do now", body = Object)))]
pub async fn preview_order(
    State(app): AppState,
    Auth(p): Auth,
    Path((eco, order)): Path<(String, String)>,
    Query(q): Query<PreviewQuery>,
) -> ApiResult<Response> {
    let economy = app.economy_for(&p, &eco)?;
    allow(&p, Need::Manage)?;
    let action = q.action;
    if action != "confirm" && action != "refund" {
        return Err(ApiError::invalid("action must be confirm or refund"));
    }
    let preview = read(&economy, move |v| {
        let e = v.ledger.economy();
        let o = e.orders().find(&order)?;
        let consumer = e.accounts().get(o.consumer).name.to_string();
        if action == "refund" {
            // Only a pending order can be refunded: the same check as the command's.
            if let Err(code) = e.quote_confirm(&order) {
                return Some(Err(code));
            }
            return Some(Ok(json!({
                "action": "refund",
                "order": order,
                "consumer": consumer,
                "cash_fen": o.cash_fen,
                "stable_fen": o.stable_fen,
                "note": "the whole order is refunded: its cash is returned by the shop, its stable points go back to the consumer; no points are granted",
            })));
        }
        Some(e.quote_confirm(&order).map(|q| {
            let price = e.price();
            json!({
                "action": "confirm",
                "order": order,
                "consumer": consumer,
                "eligible_fen": q.eligible_fen.0,
                "reserve_in_fen": q.reserve_in_fen.0,
                "dividend_in_fen": q.dividend_in_fen.0,
                "quota_fen": q.quota_fen.0,
                "buyer_atoms": q.buyer_atoms.0,
                "buyer_points": views::points(q.buyer_atoms.0),
                "referrer": q.referrer,
                "referrer_atoms": q.referrer_atoms.0,
                "referrer_points": views::points(q.referrer_atoms.0),
                "price_yuan_per_point": price.yuan_per_point(4),
                "note": "at the price now; the command is priced when it is applied, and the higher price may cause exits",
            })
        }))
    })
    .await?
    .ok_or_else(|| ApiError::not_found("no such order"))?;
    match preview {
        Ok(v) => Ok(json_ok(v)),
        Err(code) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            code.as_str(),
            format!(
                "this action on the order would be refused: {}",
                code.as_str()
            ),
        )),
    }
}

// ----- settlements -----

#[utoipa::path(get, path = "/v1/economies/{eco}/settlements", tag = "console",
    params(("eco" = String, Path), ("limit" = Option<usize>, Query)),
    responses((status = 200, description = "settled days, newest first: the pool paid, holders paid and holders whose quota was used up", body = Object)))]
pub async fn settlements(
    State(app): AppState,
    Auth(p): Auth,
    Path(eco): Path<String>,
    Query(q): Query<LimitQuery>,
) -> ApiResult<Response> {
    let economy = app.economy_for(&p, &eco)?;
    allow(&p, Need::Read)?;
    let limit = limit_within(q.limit, 60, crate::routes::PAGE_LIMIT_MAX)?;
    let id = economy.meta.id.clone();
    let rows = blocking(&app, move |app| settlement_rows(app, &id, limit)).await?;
    Ok(json_ok(json!({ "settlements": rows })))
}

/// The economy's settlements, newest first, as JSON.
pub fn settlement_rows(app: &App, economy: &str, limit: usize) -> ApiResult<Vec<Value>> {
    // One hold of the store for the list and each settlement's time.
    let rows = app.with_store(|s| {
        s.settlements(economy, limit)?
            .into_iter()
            .map(|r| Ok((s.entry(economy, r.seq)?.map(|e| e.ts_ms), r)))
            .collect::<Result<Vec<_>, jifen_journal::StoreError>>()
    })?;
    Ok(rows
        .into_iter()
        .map(|(ts_ms, r)| {
            json!({
                "day": format_day(r.day),
                "seq": r.seq,
                "settled_at": ts_ms.map(rfc3339_ms),
                "holders_eligible": r.holders_eligible,
                // Kept for clients written before it was renamed: a count of holders, not atoms.
                "eligible_atoms": r.holders_eligible,
                "paid_fen": r.paid_fen,
                "holders_paid": r.holders_paid,
                "holders_capped": r.holders_capped,
            })
        })
        .collect())
}

// ----- rules what-if -----

#[utoipa::path(post, path = "/v1/economies/{eco}/rules/preview", tag = "console",
    params(("eco" = String, Path)),
    request_body(content = Object, description = r#"{"rules": {...}}: the proposed rules, as in set_rules"#),
    responses((status = 200, description = "the last 30 days replayed as they happened and under the proposed rules, day by day", body = Object)))]
pub async fn rules_preview(
    State(app): AppState,
    Auth(p): Auth,
    Path(eco): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let economy = app.economy_for(&p, &eco)?;
    allow(&p, Need::Manage)?;
    let body = json_body(&headers, &body)?;
    let Some(Value::Object(rules)) = body.get("rules") else {
        return Err(ApiError::invalid(r#"the body must be {"rules": {...}}"#));
    };
    let rules = Value::Object(rules.clone());
    let tz = time_zone(&economy)?;
    let id = economy.meta.id.clone();
    let now = app.now_ms();
    let slot = WhatIfSlot::take(&app, &id).ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "what_if_running",
            "a what-if of this economy is already running; try again when it has finished",
        )
    })?;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let _stop_when_dropped = CancelOnDrop(stop.clone());
    let result = blocking(&app, move |app| {
        let _slot = slot;
        let keep_going = || !stop.load(std::sync::atomic::Ordering::Relaxed);
        what_if(app, &id, &tz, rules, now, &keep_going)
    })
    .await?;
    Ok(json_ok(result))
}

/// One day's figures in one of the two runs.
#[derive(Clone, Copy, Default)]
struct DayFigures {
    dividends_fen: u64,
    exits: u64,
}

fn figures(ledger: &Ledger, day: DayFigures) -> Value {
    let e = ledger.economy();
    let t = e.totals();
    json!({
        "price_yuan_per_point": e.price().yuan_per_point(4),
        "reserve_fen": t.reserve_fen.0,
        "circulating_atoms": t.circulating_atoms.0,
        "dividend_pool_fen": t.dividend_pool_fen.0,
        "dividends_fen": day.dividends_fen,
        "exits": day.exits,
        "quota_outstanding_fen": e.quota_total_fen(),
    })
}

/// Applies one journaled command to a what-if ledger; returns what it paid out in dividends and
/// how many exits it caused.
fn apply(ledger: &mut Ledger, parsed: &jifen_wire::Parsed) -> DayFigures {
    let outcome = ledger.submit(
        parsed.id.as_deref(),
        parsed.fingerprint,
        parsed.command.as_ref().map_err(|c| *c),
    );
    if outcome.retry || outcome.result.is_err() {
        return DayFigures::default();
    }
    let fx = ledger.economy().effects();
    DayFigures {
        dividends_fen: fx.settlement.map_or(0, |s| s.paid.0),
        exits: fx.exits.len() as u64,
    }
}

fn what_if(
    app: &App,
    economy: &str,
    tz: &jiff::tz::TimeZone,
    proposal: Value,
    now_ms: i64,
    keep_going: &dyn Fn() -> bool,
) -> ApiResult<Value> {
    // Its own connection: this reads up to millions of entries.
    let mut store = open_store(&app.config.data_dir, app.config.database.as_deref())?;
    let window_ms = now_ms - WHAT_IF_DAYS * crate::scheduler::DAY_MS;
    // Samples fall exactly on quarter hours, so this is the state as it stood then.
    let window_ms = window_ms - window_ms.rem_euclid(QUARTER_HOUR_MS);
    let head = store.head(economy)?.map_or(0, |e| e.seq);
    let sampled = store
        .sample_before(economy, window_ms)?
        .map_or(0, |s| s.seq);
    let from_seq = sampled.max(head.saturating_sub(WHAT_IF_ENTRIES_MAX));
    let start = ledger_at(store.as_mut(), economy, from_seq, keep_going)?;
    let start_figures = figures(&start, DayFigures::default());
    let mut actual = start.clone();
    let mut proposed = start;
    let set_rules = jifen_wire::parse_command_value(json!({
        "type": "set_rules",
        "id": "what-if-proposal",
        "rules": proposal,
    }));
    let outcome = proposed.submit(
        set_rules.id.as_deref(),
        set_rules.fingerprint,
        set_rules.command.as_ref().map_err(|c| *c),
    );
    if let Err(code) = outcome.result {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            code.as_str(),
            format!(
                "set_rules with these rules would be refused: {}",
                code.as_str()
            ),
        ));
    }
    let mut days = Vec::new();
    let mut day: Option<(String, i64)> = None; // (the local day, when the next one starts)
    let (mut a_day, mut b_day) = (DayFigures::default(), DayFigures::default());
    let mut skipped_rule_changes = 0u64;
    let mut first_ts = None;
    let mut after = from_seq;
    let mut close_day = |label: String,
                         actual: &Ledger,
                         proposed: &Ledger,
                         a: &mut DayFigures,
                         b: &mut DayFigures| {
        days.push(json!({
            "day": label,
            "actual": figures(actual, *a),
            "proposed": figures(proposed, *b),
        }));
        *a = DayFigures::default();
        *b = DayFigures::default();
    };
    while after < head {
        let entries = store.entries(economy, after, 10_000)?;
        let Some(last) = entries.last() else { break };
        after = last.seq;
        for e in entries {
            if !keep_going() {
                return Err(ApiError::unavailable(
                    "the what-if stopped: its caller has gone",
                ));
            }
            first_ts.get_or_insert(e.ts_ms);
            let starts_day = day.as_ref().is_none_or(|(_, next)| e.ts_ms >= *next);
            if starts_day {
                if let Some((label, _)) = day.take() {
                    close_day(label, &actual, &proposed, &mut a_day, &mut b_day);
                }
                let (start, date) = day_start(tz, e.ts_ms)?;
                let next = date
                    .tomorrow()
                    .ok()
                    .and_then(|d| d.to_zoned(tz.clone()).ok())
                    .map_or(start + crate::scheduler::DAY_MS, |z| {
                        z.timestamp().as_millisecond()
                    });
                day = Some((date.to_string(), next));
            }
            let parsed = jifen_wire::parse_command_line(&e.command);
            let f = apply(&mut actual, &parsed);
            a_day.dividends_fen += f.dividends_fen;
            a_day.exits += f.exits;
            if matches!(parsed.command, Ok(jifen_core::Command::SetRules { .. })) {
                // The proposal stands for the whole window.
                skipped_rule_changes += 1;
                continue;
            }
            let f = apply(&mut proposed, &parsed);
            b_day.dividends_fen += f.dividends_fen;
            b_day.exits += f.exits;
        }
    }
    if let Some((label, _)) = day.take() {
        close_day(label, &actual, &proposed, &mut a_day, &mut b_day);
    }
    let sum = |run: &str, key: &str| -> u64 {
        days.iter().map(|d| d[run][key].as_u64().unwrap_or(0)).sum()
    };
    let totals = json!({
        "actual": {"dividends_fen": sum("actual", "dividends_fen"), "exits": sum("actual", "exits")},
        "proposed": {"dividends_fen": sum("proposed", "dividends_fen"), "exits": sum("proposed", "exits")},
    });
    Ok(json!({
        "window": {
            "from": first_ts.map(rfc3339_ms),
            "from_seq": from_seq,
            "to_seq": head,
            "entries": head - from_seq,
            "days": WHAT_IF_DAYS,
            "rule_changes_replaced": skipped_rule_changes,
        },
        "start": start_figures,
        "end": {"actual": figures(&actual, DayFigures::default()), "proposed": figures(&proposed, DayFigures::default())},
        "totals": totals,
        "days": days,
        "note": "the same commands, replayed from the state 30 days ago under the proposed rules; consumers might have behaved differently under them",
    }))
}

// ----- the page -----

const PAGE: &str = include_str!("../assets/console.html");

/// The console: one self-contained document (no CDN), uPlot inlined.
pub async fn page() -> Response {
    crate::wallet::self_contained(PAGE)
}
