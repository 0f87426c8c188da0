//! The operator console (issue 6): the page at `/`, and the reads and previews it needs beyond
//! the rest of the API. Everything here is an ordinary `/v1` endpoint with the usual roles, so
//! a script can use it as well as the page.
//!
//! - `GET …/overview`: the economy, and what happened today in its time zone (orders,
//!   contributions, payouts and exits, as differences of exact samples), and the last verify;
//! - `POST …/verify` runs `jifen verify` on the economy in the background; `GET …/verify`;
//! - `GET …/orders?status=pending` lists pending orders with their auto-confirmation time;
//!   `GET …/orders/{order}/preview?action=confirm|refund` shows what the action would do;
//! - `GET …/settlements` lists settled days with their totals;
//! - `POST …/rules/preview` replays the last 30 days under proposed rules (the what-if).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use jifen_journal::time::rfc3339_ms;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Eco, Manage, Read};
use crate::bounds::{DAY_MS, PAGE_LIMIT_MAX};
use crate::error::{ApiError, ApiResult};
use crate::http::{blocking, json_ok, json_with, limit_within, JsonBody, LimitQuery};
use crate::state::App;
use crate::times::{day_start, time_zone};
use crate::views;

const PENDING_LIMIT_MAX: usize = 500;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(overview))
        .routes(routes!(get_verify, start_verify))
        .routes(routes!(list_orders))
        .routes(routes!(preview_order))
        .routes(routes!(settlements))
        .routes(routes!(rules_preview))
        .route("/", axum::routing::get(page))
}

/// The console: one self-contained document.
async fn page() -> Response {
    crate::pages::self_contained(crate::pages::CONSOLE)
}

#[utoipa::path(get, path = "/v1/economies/{eco}/overview", tag = "console",
    responses((status = 200, description = "the economy, today's figures in its time zone, the last verify, and what the scheduler and the store checks found wrong", body = Object)))]
async fn overview(eco: Eco<Read>) -> ApiResult<Response> {
    let economy = eco.economy;
    let view = economy.view().await?;
    let (midnight, _) = day_start(&time_zone(&economy.meta.timezone)?, eco.app.now_ms())?;
    let (id, app2) = (economy.meta.id.clone(), eco.app.clone());
    let (base, verify) = blocking(move || {
        let base = app2.store.with(|s| s.sample_before(&id, midnight))?;
        Ok((base.unwrap_or_default(), app2.verify_runs.status(&id)?))
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
    let problems: Vec<Value> = eco
        .app
        .scheduler_health
        .of(economy.id())
        .iter()
        .map(crate::scheduler::Problem::view)
        .collect();
    Ok(json_ok(json!({
        "economy": view,
        "today": today,
        "verify": verify,
        "scheduler_problems": problems,
        "store_problems": eco.app.store_health.problems(),
    })))
}

#[utoipa::path(get, path = "/v1/economies/{eco}/verify", tag = "console",
    responses((status = 200, description = "the last verify of the economy, and one in progress", body = Object)))]
async fn get_verify(eco: Eco<Read>) -> ApiResult<Response> {
    let id = eco.economy.meta.id.clone();
    let status = blocking(move || eco.app.verify_runs.status(&id)).await?;
    Ok(json_ok(status))
}

#[utoipa::path(post, path = "/v1/economies/{eco}/verify", tag = "console",
    responses((status = 202, description = "a verify of the whole journal has started (or was already running)", body = Object)))]
async fn start_verify(eco: Eco<Read>) -> ApiResult<Response> {
    let fresh = eco
        .app
        .verify_runs
        .start(eco.economy.id())
        .map_err(ApiError::internal)?;
    Ok(json_with(
        StatusCode::ACCEPTED,
        json!({"started": fresh, "running": true}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrdersQuery {
    /// Only `pending` is listed.
    status: Option<String>,
    limit: Option<usize>,
}

#[utoipa::path(get, path = "/v1/economies/{eco}/orders", tag = "console",
    params(("status" = Option<String>, Query, description = "pending"), ("limit" = Option<usize>, Query, description = "1 to 500, default 100")),
    responses((status = 200, description = "pending orders, oldest first, with when each is confirmed automatically", body = Object)))]
async fn list_orders(eco: Eco<Read>, Query(q): Query<OrdersQuery>) -> ApiResult<Response> {
    if q.status.as_deref().unwrap_or("pending") != "pending" {
        return Err(ApiError::invalid("status must be pending"));
    }
    let limit = limit_within(q.limit, 100, PENDING_LIMIT_MAX)?;
    let economy = eco.economy;
    let days = economy.settings().auto_confirm_days;
    let (rows, total) = economy
        .read_copy(move |v| {
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
    let orders = eco
        .app
        .store
        .run(move |s| {
            let mut out = Vec::with_capacity(rows.len());
            for (mut view, paid_seq) in rows {
                if let (Some(entry), Value::Object(map)) = (s.entry(&id, paid_seq)?, &mut view) {
                    let due = entry.ts_ms + days as i64 * DAY_MS;
                    map.insert("paid_at".into(), json!(rfc3339_ms(entry.ts_ms)));
                    map.insert("auto_confirm_at".into(), json!(rfc3339_ms(due)));
                }
                out.push(view);
            }
            Ok(out)
        })
        .await?;
    Ok(json_ok(json!({
        "orders": orders,
        "pending": total,
        "auto_confirm_days": days,
        "now": rfc3339_ms(eco.app.now_ms()),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PreviewQuery {
    /// `confirm` or `refund`.
    action: String,
}

/// What confirming or refunding `order` would do now, or the code it would be refused with.
fn preview(
    e: &jifen_core::Economy,
    order: &str,
    refund: bool,
) -> Option<Result<Value, jifen_core::Code>> {
    let o = e.orders().find(order)?;
    let consumer = e.accounts().get(o.consumer).name.to_string();
    // Only a pending order can be refunded: the same check as confirming's.
    let quote = match e.quote_confirm(order) {
        Ok(q) => q,
        Err(code) => return Some(Err(code)),
    };
    if refund {
        return Some(Ok(json!({
            "action": "refund",
            "order": order,
            "consumer": consumer,
            "cash_fen": o.cash_fen,
            "stable_fen": o.stable_fen,
            "note": "the whole order is refunded: its cash is returned by the shop, its stable points go back to the consumer; no points are granted",
        })));
    }
    Some(Ok(json!({
        "action": "confirm",
        "order": order,
        "consumer": consumer,
        "eligible_fen": quote.eligible_fen.0,
        "reserve_in_fen": quote.reserve_in_fen.0,
        "dividend_in_fen": quote.dividend_in_fen.0,
        "quota_fen": quote.quota_fen.0,
        "buyer_atoms": quote.buyer_atoms.0,
        "buyer_points": views::points(quote.buyer_atoms.0),
        "referrer": quote.referrer,
        "referrer_atoms": quote.referrer_atoms.0,
        "referrer_points": views::points(quote.referrer_atoms.0),
        "price_yuan_per_point": e.price().yuan_per_point(4),
        "note": "at the price now; the command is priced when it is applied, and the higher price may cause exits",
    })))
}

#[utoipa::path(get, path = "/v1/economies/{eco}/orders/{order}/preview", tag = "console",
    params(("action" = String, Query, description = "confirm or refund")),
    responses((status = 200, description = "what confirming or refunding the order would do now", body = Object)))]
async fn preview_order(eco: Eco<Manage>, Query(q): Query<PreviewQuery>) -> ApiResult<Response> {
    let refund = match q.action.as_str() {
        "confirm" => false,
        "refund" => true,
        _ => return Err(ApiError::invalid("action must be confirm or refund")),
    };
    let order = eco.path("order").to_string();
    let previewed = eco
        .economy
        .read(move |v| preview(v.ledger.economy(), &order, refund))
        .await?
        .ok_or_else(|| ApiError::not_found("no such order"))?;
    match previewed {
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

#[utoipa::path(get, path = "/v1/economies/{eco}/settlements", tag = "console",
    params(("limit" = Option<usize>, Query, description = "1 to 1000, default 60")),
    responses((status = 200, description = "settled days, newest first: the pool paid, holders paid and holders whose quota was used up", body = Object)))]
async fn settlements(eco: Eco<Read>, Query(q): Query<LimitQuery>) -> ApiResult<Response> {
    let limit = limit_within(q.limit, 60, PAGE_LIMIT_MAX)?;
    let id = eco.economy.meta.id.clone();
    // One hold of the store for the list and each settlement's time.
    let rows = eco
        .app
        .store
        .run(move |s| {
            s.settlements(&id, limit)?
                .into_iter()
                .map(|r| Ok((s.entry(&id, r.seq)?.map(|e| e.ts_ms), r)))
                .collect::<Result<Vec<_>, jifen_journal::StoreError>>()
        })
        .await?;
    let rows: Vec<Value> = rows
        .into_iter()
        .map(|(ts_ms, r)| {
            json!({
                "day": jifen_core::format_day(r.day),
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
        .collect();
    Ok(json_ok(json!({ "settlements": rows })))
}

/// Proposed rules for the what-if.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RulesProposal {
    /// The proposed rules, as in `set_rules`.
    #[schema(schema_with = crate::openapi::rules_schema)]
    rules: serde_json::Map<String, Value>,
}

#[utoipa::path(post, path = "/v1/economies/{eco}/rules/preview", tag = "console",
    request_body = RulesProposal,
    responses((status = 200, description = "the last 30 days replayed as they happened and under the proposed rules, day by day", body = Object),
              (status = 409, description = "what_if_running: another what-if of this economy is running", body = crate::error::ErrorBody)))]
async fn rules_preview(
    eco: Eco<Manage>,
    JsonBody(req): JsonBody<RulesProposal>,
) -> ApiResult<Response> {
    let economy = eco.economy;
    let question = crate::what_if::Question {
        economy: economy.meta.id.clone(),
        tz: time_zone(&economy.meta.timezone)?,
        rules: Value::Object(req.rules),
        now_ms: eco.app.now_ms(),
    };
    let slot = eco.app.what_ifs.take(economy.id())?;
    let stop = Arc::new(AtomicBool::new(false));
    let _stop_when_dropped = crate::what_if::CancelOnDrop(stop.clone());
    let store = eco.app.store.clone();
    let result = blocking(move || {
        let _slot = slot;
        let keep_going = || !stop.load(Ordering::Relaxed);
        crate::what_if::run(store.open_own()?, question, &keep_going)
    })
    .await?;
    Ok(json_ok(result))
}
