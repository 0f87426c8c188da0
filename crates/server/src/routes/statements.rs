//! Monthly statements (对账单, docs/FINANCE.md): a consumer's own through its wallet link, and
//! any account's for the economy's staff.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Semaphore;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Eco, Read, Wallet};
use crate::economies::Economy;
use crate::error::{ApiError, ApiResult};
use crate::finance::statement::{self, Statement};
use crate::state::App;

/// Statements worked out at once across the server; each replays a month of the journal, so
/// a burst of them waits its turn (up to [`WAIT_S`]) rather than taking every core.
static REPLAYS: Semaphore = Semaphore::const_new(2);
const WAIT_S: u64 = 20;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(wallet_statement))
        .routes(routes!(account_statement))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MonthQuery {
    /// `YYYY-MM` in the economy's time zone; default this month.
    month: Option<String>,
    /// json (default), csv or xlsx.
    format: Option<String>,
}

#[utoipa::path(get, path = "/v1/wallet/statement", tag = "wallet", security(("wallet" = [])),
    params(("month" = Option<String>, Query, description = "YYYY-MM in the economy's time zone; default this month"),
        ("format" = Option<String>, Query, description = "json (default), csv or xlsx")),
    responses((status = 200, description = "the link's consumer's statement for the month: opening and closing position, points granted, sold and converted, exits, dividends, cash owed and paid, and every entry that changed the account", body = Object)))]
async fn wallet_statement(
    State(app): State<Arc<App>>,
    Wallet(holder): Wallet,
    Query(q): Query<MonthQuery>,
) -> ApiResult<Response> {
    answer(&app, &holder.economy, holder.account, q).await
}

#[utoipa::path(get, path = "/v1/economies/{eco}/accounts/{account}/statement", tag = "finance",
    params(("account" = String, Path, description = "the account"),
        ("month" = Option<String>, Query, description = "YYYY-MM in the economy's time zone; default this month"),
        ("format" = Option<String>, Query, description = "json (default), csv or xlsx")),
    responses((status = 200, description = "the account's statement for the month, as the consumer's wallet shows it", body = Object),
        (status = 404, description = "no such account", body = crate::error::ErrorBody)))]
async fn account_statement(
    eco: Eco<Read>,
    Path((_, account)): Path<(String, String)>,
    Query(q): Query<MonthQuery>,
) -> ApiResult<Response> {
    answer(&eco.app, &eco.economy, account, q).await
}

/// The month asked for: `YYYY-MM`, not after this month; this month by default.
fn month_of(text: Option<&str>, today: jiff::civil::Date) -> ApiResult<crate::finance::Range> {
    let bad = || ApiError::invalid("month: must be a month written YYYY-MM, not after this one");
    let day = match text {
        None => today,
        Some(t) if t.len() == 7 => format!("{t}-01")
            .parse::<jiff::civil::Date>()
            .map_err(|_| bad())?,
        Some(_) => return Err(bad()),
    };
    if day.first_of_month() > today {
        return Err(bad());
    }
    Ok(statement::month_of(day))
}

async fn answer(
    app: &Arc<App>,
    economy: &Arc<Economy>,
    account: String,
    q: MonthQuery,
) -> ApiResult<Response> {
    let format = q.format.as_deref().unwrap_or("json");
    if !matches!(format, "json" | "csv" | "xlsx") {
        return Err(ApiError::invalid(format!(
            "format: {format:?} is not json, csv or xlsx"
        )));
    }
    let tz = crate::times::time_zone(&economy.meta.timezone)?;
    let today = jiff::Timestamp::from_millisecond(app.now_ms())
        .map_err(ApiError::internal)?
        .to_zoned(tz.clone())
        .date();
    let range = month_of(q.month.as_deref(), today)?;
    let name = account.clone();
    let exists = economy
        .read(move |v| v.ledger.economy().account(&name).is_some())
        .await?;
    if !exists {
        return Err(ApiError::not_found("no such account"));
    }
    let s = replay(app, economy, tz, account, range).await?;
    let file = format!("jifen-statement-{}-{}", s.account, s.month);
    crate::http::file_or_json(
        Some(format),
        &file,
        || s.table(),
        || {
            json!({ "economy": economy.meta.id, "timezone": economy.meta.timezone,
            "points_note": "points are not shares, stock or equity; the quota is a cap paid only from the dividend pool, not a promise",
            "statement": s })
        },
    )
}

async fn replay(
    app: &Arc<App>,
    economy: &Arc<Economy>,
    tz: jiff::tz::TimeZone,
    account: String,
    range: crate::finance::Range,
) -> ApiResult<Statement> {
    let wait = tokio::time::timeout(std::time::Duration::from_secs(WAIT_S), REPLAYS.acquire());
    let permit = wait
        .await
        .map_err(|_| ApiError::unavailable("statements are busy: try again in a minute"))?;
    let (store, id) = (app.store.clone(), economy.id().to_string());
    let s = tokio::task::spawn_blocking(move || {
        let mut own = store.open_own()?;
        statement::statement(own.as_mut(), &id, tz, &account, range)
    })
    .await
    .map_err(ApiError::internal)??;
    drop(permit);
    debug_assert!(s.ties_out(), "a statement that does not tie out: {s:?}");
    Ok(s)
}
