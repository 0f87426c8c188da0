//! Accounts as the console finds them: a search by part of the name, and an account's whole
//! history in the journal.

use std::sync::Arc;

use axum::extract::Query;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::activity::{entry_view, Named, Page};
use crate::auth::{Eco, Read, ReadAccount};
use crate::bounds::PAGE_LIMIT_MAX;
use crate::error::{ApiError, ApiResult};
use crate::http::{json_ok, limit_within};
use crate::state::App;
use crate::views;

const SEARCH_LIMIT_MAX: usize = 100;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(search_accounts))
        .routes(routes!(account_history))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchQuery {
    /// Part of the name, matched without regard to ASCII case; empty lists the first accounts.
    q: Option<String>,
    limit: Option<usize>,
}

/// Up to `limit` accounts whose name holds `needle` (lower case), in creation order, and
/// whether there are more.
fn search(e: &jifen_core::Economy, needle: &str, limit: usize) -> (Vec<Value>, bool) {
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
}

#[utoipa::path(get, path = "/v1/economies/{eco}/accounts", tag = "console",
    params(("q" = Option<String>, Query), ("limit" = Option<usize>, Query, description = "1 to 100, default 20")),
    responses((status = 200, description = "accounts whose name contains q, in creation order", body = Object)))]
async fn search_accounts(eco: Eco<Read>, Query(q): Query<SearchQuery>) -> ApiResult<Response> {
    let limit = limit_within(q.limit, 20, SEARCH_LIMIT_MAX)?;
    let needle = q.q.unwrap_or_default().to_ascii_lowercase();
    if needle.len() > jifen_core::NAME_BYTES_MAX {
        return Err(ApiError::invalid("q is longer than any name"));
    }
    let (rows, more) = eco
        .economy
        .read_copy(move |v| search(v.ledger.economy(), &needle, limit))
        .await?;
    Ok(json_ok(json!({"accounts": rows, "more": more})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    /// Only entries before this seq (for the next page).
    before: Option<u64>,
    limit: Option<usize>,
}

#[utoipa::path(get, path = "/v1/economies/{eco}/accounts/{name}/history", tag = "console",
    params(("before" = Option<u64>, Query), ("limit" = Option<usize>, Query, description = "1 to 1000, default 50")),
    responses((status = 200, description = "the account's journal entries, newest first", body = Object)))]
async fn account_history(
    eco: Eco<ReadAccount>,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<Response> {
    let limit = limit_within(q.limit, 50, PAGE_LIMIT_MAX)?;
    let page = Page {
        before: q.before,
        limit,
    };
    let named = Named::Account(eco.path("name").to_string());
    let (entries, total) = (eco.app.activity)
        .entries(&eco.app.store, eco.economy.meta.id.clone(), named, page)
        .await?;
    let next = (entries.len() == limit)
        .then(|| entries.last().map(|e| e.seq))
        .flatten();
    let entries: Vec<Value> = entries.iter().map(entry_view).collect();
    Ok(json_ok(json!({
        "entries": entries,
        "total": total,
        "next_before": next,
    })))
}
