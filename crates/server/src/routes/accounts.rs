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
/// The most accounts one page of a search reads.
const SEARCH_SCAN_MAX: usize = 200_000;

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
    /// Only accounts after this position (the previous page's `next_after`).
    after: Option<u64>,
    /// Only frozen accounts (`true`) or only accounts not frozen (`false`).
    frozen: Option<bool>,
    /// Only accounts of this tier (0 is the first).
    level: Option<u8>,
}

/// What a search keeps.
struct Filter {
    needle: String,
    frozen: Option<bool>,
    level: Option<u8>,
}

impl Filter {
    fn keeps(&self, e: &jifen_core::Economy, id: u32, a: &jifen_core::Account) -> bool {
        let m = e.members();
        let name_ok = self.needle.is_empty()
            || a.name
                .as_bytes()
                .windows(self.needle.len())
                .any(|w| w.eq_ignore_ascii_case(self.needle.as_bytes()));
        name_ok
            && self.frozen.is_none_or(|f| m.frozen(id).is_some() == f)
            && self
                .level
                .is_none_or(|l| jifen_core::members::level_of(m.status(id)) == l as usize)
    }
}

/// Up to `limit` accounts after position `after` that `filter` keeps, in creation order, and
/// the position to continue from when there are more. A page reads at most
/// `SEARCH_SCAN_MAX` accounts, so a rare match over millions is found page by page.
fn search(
    e: &jifen_core::Economy,
    filter: &Filter,
    after: u64,
    limit: usize,
) -> (Vec<Value>, Option<u64>) {
    let mut rows = Vec::new();
    let start = (after as usize).min(e.accounts().len());
    let scan = e.accounts().as_slice()[start..]
        .iter()
        .take(SEARCH_SCAN_MAX);
    let mut last = start;
    for (i, a) in scan.enumerate() {
        let id = (start + i) as u32;
        last = start + i + 1;
        if !filter.keeps(e, id, a) {
            continue;
        }
        rows.push(json!({
            "account": a.name.as_str(),
            "kind": if a.is_consumer() { "consumer" } else { "merchant" },
            "atoms": a.atoms,
            "points": views::points(a.atoms),
            "stable_fen": a.stable_fen,
            "quota_fen": a.quota_fen,
            "tier": views::tier(e, id),
        }));
        if rows.len() == limit {
            break;
        }
    }
    let more = last < e.accounts().len();
    (rows, more.then_some(last as u64))
}

#[utoipa::path(get, path = "/v1/economies/{eco}/accounts", tag = "console",
    params(("q" = Option<String>, Query), ("limit" = Option<usize>, Query, description = "1 to 100, default 20"),
        ("after" = Option<u64>, Query, description = "the previous page's next_after"),
        ("frozen" = Option<bool>, Query), ("level" = Option<u8>, Query)),
    responses((status = 200, description = "accounts whose name contains q, in creation order, a page at a time", body = Object)))]
async fn search_accounts(eco: Eco<Read>, Query(q): Query<SearchQuery>) -> ApiResult<Response> {
    let limit = limit_within(q.limit, 20, SEARCH_LIMIT_MAX)?;
    let needle = q.q.unwrap_or_default().to_ascii_lowercase();
    if needle.len() > jifen_core::NAME_BYTES_MAX {
        return Err(ApiError::invalid("q is longer than any name"));
    }
    let filter = Filter {
        needle,
        frozen: q.frozen,
        level: q.level,
    };
    let after = q.after.unwrap_or(0);
    let (rows, next) = eco
        .economy
        .read_copy(move |v| search(v.ledger.economy(), &filter, after, limit))
        .await?;
    Ok(json_ok(
        json!({"accounts": rows, "more": next.is_some(), "next_after": next}),
    ))
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
    let name = eco.path("name").to_string();
    let tiers = eco
        .economy
        .tier_history(&eco.app.store, name.clone())
        .await?;
    let (entries, total) = (eco.app.activity)
        .entries(
            &eco.app.store,
            eco.economy.meta.id.clone(),
            Named::Account(name),
            page,
        )
        .await?;
    let next = (entries.len() == limit)
        .then(|| entries.last().map(|e| e.seq))
        .flatten();
    let mut entries: Vec<Value> = entries.iter().map(entry_view).collect();
    eco.economy.mark_held(&mut entries).await?;
    Ok(json_ok(json!({
        "entries": entries,
        "tier_changes": tiers,
        "total": total,
        "next_before": next,
    })))
}
