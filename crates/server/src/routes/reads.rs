//! Reads of an economy: an account, an order, the whole state, the journal's entries, the
//! price history and the leaderboard. Large views (the state, the leaderboard) are read from a
//! copy of committed state, off the writer's thread.

use std::sync::Arc;

use axum::extract::Query;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Eco, Read, ReadAccount};
use crate::bounds::{DAY_MS, PAGE_LIMIT_MAX};
use crate::error::{ApiError, ApiResult};
use crate::http::{json_ok, limit_within, LimitQuery};
use crate::state::App;
use crate::views;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(get_account))
        .routes(routes!(get_order))
        .routes(routes!(get_state))
        .routes(routes!(get_events))
        .routes(routes!(price_history))
        .routes(routes!(leaderboard))
}

#[utoipa::path(get, path = "/v1/economies/{eco}/accounts/{name}", tag = "reads",
    responses((status = 200, description = "balances, value now, quota and progress to exit, trigger price, level, referrer", body = Object)))]
async fn get_account(eco: Eco<ReadAccount>) -> ApiResult<Response> {
    let view = eco
        .economy
        .account_view(eco.path("name").to_string())
        .await?
        .ok_or_else(|| ApiError::not_found("no such account"))?;
    Ok(json_ok(view))
}

#[utoipa::path(get, path = "/v1/economies/{eco}/orders/{order}", tag = "reads",
    responses((status = 200, description = "the order, when it was paid and, while pending, when it is confirmed automatically", body = Object)))]
async fn get_order(eco: Eco<Read>) -> ApiResult<Response> {
    let order = eco.path("order").to_string();
    let economy = eco.economy;
    let days = economy.settings().auto_confirm_days;
    let (mut view, paid_seq, status) = economy
        .read(move |v| {
            let e = v.ledger.economy();
            e.orders()
                .find(&order)
                .map(|o| (views::order(e, o), o.paid_seq, o.status))
        })
        .await?
        .ok_or_else(|| ApiError::not_found("no such order"))?;
    let id = economy.meta.id.clone();
    let paid = eco.app.store.run(move |s| s.entry(&id, paid_seq)).await?;
    if let (Some(entry), Value::Object(map)) = (paid, &mut view) {
        map.insert(
            "paid_at".into(),
            json!(jifen_journal::time::rfc3339_ms(entry.ts_ms)),
        );
        if status == jifen_core::OrderStatus::Pending {
            let due = entry.ts_ms + days as i64 * DAY_MS;
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
struct StateQuery {
    /// Every integer as a decimal string.
    strings: Option<bool>,
}

#[utoipa::path(get, path = "/v1/economies/{eco}/state", tag = "reads",
    params(("strings" = Option<bool>, Query, description = "every integer as a decimal string")),
    responses((status = 200, description = "exactly the replay state object of SPEC §11", body = Object)))]
async fn get_state(eco: Eco<Read>, Query(q): Query<StateQuery>) -> ApiResult<Response> {
    let strings = q.strings == Some(true);
    let (body, seq) = eco
        .economy
        .read_copy(move |v| {
            let text = jifen_wire::state_json(v.ledger, jifen_wire::StateVersion::V2);
            if !strings {
                return Ok((text, v.head_seq));
            }
            let value: Value = serde_json::from_str(&text).map_err(ApiError::internal)?;
            let text = serde_json::to_string(&views::all_integers_as_strings(value))
                .map_err(ApiError::internal)?;
            Ok::<_, ApiError>((text, v.head_seq))
        })
        .await??;
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
struct EventsQuery {
    after: Option<u64>,
    limit: Option<usize>,
    /// Also give each entry's Merkle leaf bytes, in hex (see `proofs`).
    leaves: Option<bool>,
}

fn event_json(e: jifen_journal::Entry, with_leaf: bool) -> Value {
    let leaf = with_leaf.then(|| {
        hex::encode(jifen_journal::merkle::leaf_bytes(
            e.seq, e.ts_ms, &e.command, &e.outcome,
        ))
    });
    let command: Value = serde_json::from_str(&e.command).unwrap_or(Value::String(e.command));
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
}

#[utoipa::path(get, path = "/v1/economies/{eco}/events", tag = "reads",
    params(("after" = Option<u64>, Query), ("limit" = Option<usize>, Query, description = "1 to 1000, default 100"),
           ("leaves" = Option<bool>, Query, description = "also each entry's Merkle leaf, in hex")),
    responses((status = 200, description = "journal entries: seq, time, command, outcome, hash", body = Object)))]
async fn get_events(eco: Eco<Read>, Query(q): Query<EventsQuery>) -> ApiResult<Response> {
    let limit = limit_within(q.limit, 100, PAGE_LIMIT_MAX)?;
    let after = q.after.unwrap_or(0);
    let id = eco.economy.meta.id.clone();
    let entries = eco
        .app
        .store
        .run(move |s| s.entries(&id, after, limit))
        .await?;
    let next_after = entries.last().map_or(after, |e| e.seq);
    let with_leaves = q.leaves.unwrap_or(false);
    let events: Vec<Value> = entries
        .into_iter()
        .map(|e| event_json(e, with_leaves))
        .collect();
    Ok(json_ok(
        json!({ "events": events, "next_after": next_after }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    from: Option<String>,
    to: Option<String>,
    step: Option<String>,
}

#[utoipa::path(get, path = "/v1/economies/{eco}/price-history", tag = "reads",
    params(
        ("from" = Option<String>, Query, description = "RFC 3339 time or milliseconds since the epoch; default: the economy's creation"),
        ("to" = Option<String>, Query, description = "as from; default: now"),
        ("step" = Option<String>, Query, description = "seconds, or a number with s, m, h or d; default: about 500 points")),
    responses((status = 200, description = "price, reserve, circulating supply, treasury and dividend pool per step", body = Object)))]
async fn price_history(eco: Eco<Read>, Query(q): Query<HistoryQuery>) -> ApiResult<Response> {
    use crate::times::{parse_step, parse_time, parse_time_param};
    let created = parse_time(&eco.economy.meta.created_at).unwrap_or(0);
    let from = q.from.as_deref().map(parse_time_param).transpose()?;
    let from = from.unwrap_or(created);
    let to = q.to.as_deref().map(parse_time_param).transpose()?;
    let to = to.unwrap_or_else(|| eco.app.now_ms());
    if to < from {
        return Err(ApiError::invalid("to is before from"));
    }
    let step_ms = match q.step.as_deref() {
        Some(s) => parse_step(s)?,
        None => ((to - from) / 500).max(1000),
    };
    let max = crate::history::POINTS_MAX;
    if ((to - from) / step_ms) as u64 + 1 > max {
        return Err(ApiError::invalid(format!(
            "from, to and step give more than {max} points; use a larger step"
        )));
    }
    let id = eco.economy.meta.id.clone();
    let store = eco.app.store.clone();
    let points =
        crate::http::blocking(move || crate::history::bucketed(&store, &id, from, to, step_ms))
            .await?;
    Ok(json_ok(
        json!({ "from_ms": from, "to_ms": to, "step_ms": step_ms, "points": points }),
    ))
}

/// The `limit` consumers holding the most points, largest first.
fn top_holders(e: &jifen_core::Economy, limit: usize) -> Vec<Value> {
    let mut holders: Vec<(u32, &jifen_core::Account)> = e
        .accounts()
        .iter()
        .enumerate()
        .filter(|(_, a)| a.is_consumer() && a.atoms > 0)
        .map(|(id, a)| (id as u32, a))
        .collect();
    let by_rank = |(_, a): &(u32, &jifen_core::Account), (_, b): &(u32, &jifen_core::Account)| {
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
        .map(|(i, (id, a))| {
            let tier = views::tier(e, *id);
            json!({
                "rank": i + 1,
                "account": a.name.as_str(),
                "atoms": a.atoms,
                "points": views::points(a.atoms),
                "value_fen": price.value_fen(a.atoms),
                "dividends_fen": a.dividends_fen,
                "level_name": tier["name_zh"],
                "tier": tier,
            })
        })
        .collect()
}

#[utoipa::path(get, path = "/v1/economies/{eco}/leaderboard", tag = "reads",
    params(("limit" = Option<usize>, Query, description = "1 to 1000, default 10")),
    responses((status = 200, description = "consumers holding the most points", body = Object)))]
async fn leaderboard(eco: Eco<Read>, Query(q): Query<LimitQuery>) -> ApiResult<Response> {
    let limit = limit_within(q.limit, 10, PAGE_LIMIT_MAX)?;
    let rows = eco
        .economy
        .read_copy(move |v| top_holders(v.ledger.economy(), limit))
        .await?;
    Ok(json_ok(json!({ "leaderboard": rows })))
}
