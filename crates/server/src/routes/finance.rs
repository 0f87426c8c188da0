//! Money out and the finance view (docs/FINANCE.md): who is owed, payouts recorded, payout
//! batches and their result files, the daily liability report and the double-entry export.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::Query;
use axum::response::Response;
use jifen_core::{Code, Outcome};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Eco, Manage, Read};
use crate::error::{ApiError, ApiResult};
use crate::finance::owed::{self, Batch, Filter, BATCH_LINES_MAX};
use crate::finance::{self, Payout, Range};
use crate::http::{download, file_or_json, json_ok, limit_within, JsonBody};
use crate::state::App;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(owed_list))
        .routes(routes!(record_payouts))
        .routes(routes!(create_batch, list_batches))
        .routes(routes!(get_batch))
        .routes(routes!(upload_results))
        .routes(routes!(liabilities))
        .routes(routes!(journal_export))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OwedQuery {
    min_fen: Option<u64>,
    older_than_days: Option<u64>,
    /// The cursor of the next page (`next_after` of the page before).
    after: Option<u64>,
    limit: Option<usize>,
}

#[utoipa::path(get, path = "/v1/economies/{eco}/payouts/owed", tag = "finance",
    params(("min_fen" = Option<u64>, Query, description = "only accounts owed at least this"),
        ("older_than_days" = Option<u64>, Query, description = "only debts at least this many days old"),
        ("after" = Option<u64>, Query, description = "the next page's cursor"),
        ("limit" = Option<usize>, Query, description = "1 to 1000, default 100")),
    responses((status = 200, description = "accounts the brand owes money from sales and exits (SPEC §14), in account order, with the count and sum of all the filter takes", body = Object)))]
async fn owed_list(eco: Eco<Read>, Query(q): Query<OwedQuery>) -> ApiResult<Response> {
    let limit = limit_within(q.limit, 100, 1000)?;
    let filter = Filter {
        min_fen: q.min_fen.unwrap_or(0),
        older_than_days: q.older_than_days.unwrap_or(0),
    };
    let (page, clock) = eco
        .economy
        .read_copy(move |v| {
            let e = v.ledger.economy();
            (owed::owed_page(e, filter, q.after, limit), e.clock())
        })
        .await?;
    let rows: Vec<Value> = page
        .rows
        .iter()
        .map(|o| {
            json!({
                "account": o.account, "kind": o.kind, "owed_fen": o.owed_fen,
                "owed_yuan": owed::yuan(o.owed_fen),
                "since": jifen_core::format_instant(o.since),
                "days": (clock - o.since).max(0) / 86_400,
            })
        })
        .collect();
    Ok(json_ok(json!({
        "accounts": rows, "count": page.count, "total_fen": page.total_fen,
        "total_yuan": owed::yuan(page.total_fen), "next_after": page.next,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PayoutsBody {
    payouts: Vec<Payout>,
}

#[utoipa::path(post, path = "/v1/economies/{eco}/payouts", tag = "finance",
    request_body(content = Object, description = "{\"payouts\": [{\"account\", \"amount_fen\", \"reference\"}]}, up to 8190"),
    responses((status = 200, description = "each payout recorded, already recorded (the same reference and amount: nothing changes), or rejected with its code and why", body = Object)))]
async fn record_payouts(
    eco: Eco<Manage>,
    JsonBody(body): JsonBody<PayoutsBody>,
) -> ApiResult<Response> {
    if body.payouts.is_empty() || body.payouts.len() > BATCH_LINES_MAX {
        return Err(ApiError::invalid(format!(
            "payouts: 1 to {BATCH_LINES_MAX} at a time"
        )));
    }
    let commands: Vec<String> = body.payouts.iter().map(finance::payout_command).collect();
    let outcomes = finance::submit(&eco.economy, &commands, Vec::new()).await?;
    let results = explain_outcomes(&eco, &body.payouts, &outcomes).await?;
    let count = |s: &str| results.iter().filter(|r| r["status"] == s).count();
    Ok(json_ok(json!({
        "recorded": count("recorded"), "already_recorded": count("already_recorded"),
        "rejected": count("rejected"), "results": results,
    })))
}

/// Each payout's result: recorded, already recorded, or rejected with its code and words.
async fn explain_outcomes<N: crate::auth::Need>(
    eco: &Eco<N>,
    payouts: &[Payout],
    outcomes: &[Outcome],
) -> ApiResult<Vec<Value>> {
    let pairs: Vec<(Payout, Outcome)> = payouts
        .iter()
        .cloned()
        .zip(outcomes.iter().cloned())
        .collect();
    eco.economy
        .read_copy(move |v| {
            let e = v.ledger.economy();
            pairs.iter().map(|(p, o)| payout_result(e, p, o)).collect()
        })
        .await
}

fn payout_result(e: &jifen_core::Economy, p: &Payout, o: &Outcome) -> Value {
    let mut r = json!({"account": p.account, "amount_fen": p.amount_fen, "reference": p.reference});
    match o.result {
        Ok(()) if o.retry => r["status"] = json!("already_recorded"),
        Ok(()) => r["status"] = json!("recorded"),
        Err(code) => {
            r["status"] = json!("rejected");
            r["code"] = json!(code.as_str());
            r["message"] = json!(match code {
                Code::IdConflict => "reference: already used for a different payout".to_string(),
                _ => command_of(p)
                    .map(|c| jifen_core::explain(&c, code, e))
                    .unwrap_or_else(|| code.as_str().to_string()),
            });
        }
    }
    r
}

fn command_of(p: &Payout) -> Option<jifen_core::Command> {
    jifen_wire::parse_command_line(&finance::payout_command(p))
        .command
        .ok()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchBody {
    min_fen: Option<u64>,
    older_than_days: Option<u64>,
    limit: Option<usize>,
    remark: Option<String>,
}

#[utoipa::path(post, path = "/v1/economies/{eco}/payouts/batches", tag = "finance",
    request_body(content = Object, description = "{\"min_fen\", \"older_than_days\", \"limit\" (1 to 8190, default 1000), \"remark\" (up to 32 characters)}, each optional"),
    responses((status = 200, description = "a new payout batch of the accounts owed that the filter takes, each for all it is owed", body = Object)))]
async fn create_batch(
    eco: Eco<Manage>,
    JsonBody(body): JsonBody<BatchBody>,
) -> ApiResult<Response> {
    let limit = limit_within(body.limit, 1000, BATCH_LINES_MAX)?;
    let remark = body.remark.unwrap_or_else(|| owed::DEFAULT_REMARK.into());
    if !owed::remark_ok(&remark) {
        return Err(ApiError::invalid(
            "remark: at most 32 characters, no line breaks, not starting with = + - @",
        ));
    }
    let filter = Filter {
        min_fen: body.min_fen.unwrap_or(0),
        older_than_days: body.older_than_days.unwrap_or(0),
    };
    let shop = eco.app.connectors.shop(&eco.economy).await?;
    let identities = shop.identities_by_account();
    let now = eco.app.now_ms();
    let (batch_no, created_at) = (batch_no(&eco, now)?, jifen_journal::time::rfc3339_ms(now));
    let batch = eco
        .economy
        .read_copy(move |v| {
            let e = v.ledger.economy();
            Batch::of(e, filter, limit, batch_no, created_at, remark, &identities)
        })
        .await?;
    if batch.lines.is_empty() {
        return Err(ApiError::invalid(
            "no account owed money matches the filter",
        ));
    }
    let text = serde_json::to_string(&batch).map_err(ApiError::internal)?;
    let (scope, key) = (
        finance::batches_scope(eco.economy.id()),
        batch.batch_no.clone(),
    );
    eco.app
        .store
        .run(move |s| s.kv_put(&scope, &key, &text))
        .await?;
    Ok(json_ok(batch_json(&batch)))
}

/// `JF`, the time in the economy's zone to the second, and four random hex digits.
fn batch_no<N: crate::auth::Need>(eco: &Eco<N>, now_ms: i64) -> ApiResult<String> {
    let tz = crate::times::time_zone(&eco.economy.meta.timezone)?;
    let t = jiff::Timestamp::from_millisecond(now_ms)
        .map_err(ApiError::internal)?
        .to_zoned(tz);
    let mut random = [0u8; 2];
    getrandom::fill(&mut random).map_err(ApiError::internal)?;
    Ok(format!(
        "JF{}{}",
        t.strftime("%Y%m%d%H%M%S"),
        hex::encode_upper(random)
    ))
}

fn batch_json(b: &Batch) -> Value {
    let count = |s: &str| b.lines.iter().filter(|l| l.status == s).count();
    json!({
        "batch_no": b.batch_no, "created_at": b.created_at, "remark": b.remark,
        "lines": b.lines, "count": b.lines.len(), "total_fen": b.total_fen(),
        "total_yuan": owed::yuan(b.total_fen()),
        "paid": count("paid"), "failed": count("failed"), "pending": count("pending"),
        "unreported": count(""),
    })
}

async fn load_batches(eco: &Eco<impl crate::auth::Need>) -> ApiResult<Vec<Batch>> {
    let scope = finance::batches_scope(eco.economy.id());
    let rows = eco.app.store.run(move |s| s.kv_list(&scope)).await?;
    let mut batches: Vec<Batch> = rows
        .into_iter()
        .filter_map(|(_, t)| serde_json::from_str(&t).ok())
        .collect();
    batches.sort_by(|a, b| b.created_at.cmp(&a.created_at));
    Ok(batches)
}

#[utoipa::path(get, path = "/v1/economies/{eco}/payouts/batches", tag = "finance",
    responses((status = 200, description = "the payout batches, newest first, with how many lines were paid, failed, are pending or not yet reported", body = Object)))]
async fn list_batches(eco: Eco<Read>) -> ApiResult<Response> {
    let batches = load_batches(&eco).await?;
    let list: Vec<Value> = batches
        .iter()
        .map(|b| {
            let mut v = batch_json(b);
            v.as_object_mut().map(|o| o.remove("lines"));
            v
        })
        .collect();
    Ok(json_ok(json!({"batches": list})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FormatQuery {
    format: Option<String>,
}

#[utoipa::path(get, path = "/v1/economies/{eco}/payouts/batches/{batch}", tag = "finance",
    params(("format" = Option<String>, Query, description = "json (default), csv or xlsx")),
    responses((status = 200, description = "the batch: batch and detail numbers, account, amount in fen and yuan, payout identity, remark", body = Object)))]
async fn get_batch(eco: Eco<Read>, Query(q): Query<FormatQuery>) -> ApiResult<Response> {
    let batch = find_batch(&eco).await?;
    let name = format!("jifen-payouts-{}", batch.batch_no);
    file_or_json(
        q.format.as_deref(),
        &name,
        || finance::batch_table(&batch),
        || batch_json(&batch),
    )
}

async fn find_batch<N: crate::auth::Need>(eco: &Eco<N>) -> ApiResult<Batch> {
    let (scope, key) = (
        finance::batches_scope(eco.economy.id()),
        eco.path("batch").to_string(),
    );
    let text = eco.app.store.run(move |s| s.kv_get(&scope, &key)).await?;
    text.and_then(|t| serde_json::from_str(&t).ok())
        .ok_or_else(|| ApiError::not_found("no such payout batch"))
}

#[utoipa::path(post, path = "/v1/economies/{eco}/payouts/batches/{batch}/results", tag = "finance",
    request_body(content = String, content_type = "text/csv", description = "the payment platform's result file: a detail number and a status per line, an amount and a reason where it has them (docs/FINANCE.md)"),
    responses((status = 200, description = "the lines that succeeded, recorded as payouts (or already recorded), and those that failed, are pending, or could not be matched, with why", body = Object)))]
async fn upload_results(eco: Eco<Manage>, body: Bytes) -> ApiResult<Response> {
    if body.len() > finance::results::RESULT_FILE_BYTES_MAX {
        return Err(ApiError::body_too_large());
    }
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::invalid("the result file must be UTF-8 text (CSV)"))?;
    let (lines, problems) = finance::results::parse(text).map_err(ApiError::invalid)?;
    let batch = find_batch(&eco).await?;
    crate::finance::reconcile::apply(&eco, batch, finance::results::by_detail(lines), problems)
        .await
        .map(json_ok)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RangeQuery {
    from: Option<String>,
    to: Option<String>,
    format: Option<String>,
    /// `journal`: work the report out by replaying the journal, not from the day-boundary
    /// samples (for an auditor's second opinion; slower).
    via: Option<String>,
}

#[utoipa::path(get, path = "/v1/economies/{eco}/reports/liabilities", tag = "finance",
    params(("from" = Option<String>, Query, description = "first day, YYYY-MM-DD in the economy's time zone; default 29 days before to"),
        ("to" = Option<String>, Query, description = "last day; default today"),
        ("format" = Option<String>, Query, description = "json (default), csv or xlsx"),
        ("via" = Option<String>, Query, description = "stored (default: the writer's day-boundary samples) or journal (replay the journal: the same figures, slower)")),
    responses((status = 200, description = "one row per day: contributions and their split, dividends, fees kept, payouts owed and settled, balances at the close, points issued, burned and in circulation with their value at the closing price, outstanding quota (a cap, not a liability), exits, and the signed tree head that covers the day", body = Object)))]
async fn liabilities(eco: Eco<Read>, Query(q): Query<RangeQuery>) -> ApiResult<Response> {
    let (range, tz) = range_of(&eco, &q)?;
    let replay = via_journal(q.via.as_deref())?;
    let live = eco
        .economy
        .read_copy(|v| {
            let seq = v.ledger.seq();
            (jifen_journal::Sample::of(v.ledger.economy(), seq, 0), seq)
        })
        .await?;
    let id = eco.economy.id().to_string();
    let own = eco.app.store.clone();
    // Blocking work, the signed heads' read included (PostgreSQL's client blocks).
    let (rows, source) = tokio::task::spawn_blocking(move || {
        let heads = heads_of(&own, &id)?;
        let mut store = own.open_own()?;
        let (mut live, seq) = live;
        live.ts_ms = store.entry(&id, seq)?.map_or(0, |e| e.ts_ms);
        let live = (!replay).then_some(&live);
        finance::liability_rows(store.as_mut(), &id, tz, range, &heads, live)
    })
    .await
    .map_err(ApiError::internal)??;
    let name = format!(
        "jifen-liabilities-{}-{}-{}",
        eco.economy.id(),
        range.from,
        range.to
    );
    file_or_json(
        q.format.as_deref(),
        &name,
        || finance::report_table(&rows),
        || {
            json!({"from": range.from.to_string(), "to": range.to.to_string(),
            "timezone": eco.economy.meta.timezone, "computed_from": source.as_str(), "days": rows})
        },
    )
}

/// Whether `via` asks for a replay of the journal (`journal`) rather than what the writer
/// stored (`stored`, the default).
fn via_journal(via: Option<&str>) -> ApiResult<bool> {
    match via {
        None | Some("stored") => Ok(false),
        Some("journal") => Ok(true),
        Some(other) => Err(ApiError::invalid(format!(
            "via: {other:?} is not stored or journal"
        ))),
    }
}

/// Every stored signed head, `(tree size, root)`, smallest first. Blocking.
fn heads_of(
    store: &crate::store::StoreHandle,
    eco: &str,
) -> Result<Vec<(u64, String)>, jifen_journal::JournalError> {
    let mut heads: Vec<(u64, String)> = crate::proofs::stored_heads(store, eco)?
        .iter()
        .map(|h| {
            (
                crate::proofs::size_of(h),
                h["root_hash"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    heads.sort();
    Ok(heads)
}

fn range_of<N: crate::auth::Need>(
    eco: &Eco<N>,
    q: &RangeQuery,
) -> ApiResult<(Range, jiff::tz::TimeZone)> {
    let tz = crate::times::time_zone(&eco.economy.meta.timezone)?;
    let day = |text: &str, what: &str| {
        text.parse::<jiff::civil::Date>()
            .map_err(|_| ApiError::invalid(format!("{what}: must be a date written YYYY-MM-DD")))
    };
    let today = jiff::Timestamp::now().to_zoned(tz.clone()).date();
    let to =
        q.to.as_deref()
            .map(|t| day(t, "to"))
            .transpose()?
            .unwrap_or(today);
    let from = match q.from.as_deref() {
        Some(t) => day(t, "from")?,
        None => to.checked_sub(jiff::Span::new().days(29)).unwrap_or(to),
    };
    let span = (to - from).get_days() as i64;
    if from > to || span >= finance::report::REPORT_DAYS_MAX {
        return Err(ApiError::invalid(format!(
            "from, to: from must not be after to, and the range at most {} days",
            finance::report::REPORT_DAYS_MAX
        )));
    }
    Ok((Range { from, to }, tz))
}

#[utoipa::path(get, path = "/v1/economies/{eco}/reports/journal", tag = "finance",
    params(("from" = Option<String>, Query, description = "first day, YYYY-MM-DD; default 29 days before to"),
        ("to" = Option<String>, Query, description = "last day; default today"),
        ("format" = Option<String>, Query, description = "csv (default) or xlsx (up to 1,000,000 lines)"),
        ("via" = Option<String>, Query, description = "stored (default: the lines the writer kept with each commit) or journal (replay the journal: the same lines, slower)")),
    responses((status = 200, description = "the double-entry export: each command's lines of (date, seq, account code, account name, debit fen, credit fen, memo), debits equal to credits per command (docs/FINANCE.md)", body = String, content_type = "text/csv")))]
async fn journal_export(eco: Eco<Read>, Query(q): Query<RangeQuery>) -> ApiResult<Response> {
    let (range, tz) = range_of(&eco, &q)?;
    let xlsx = match q.format.as_deref().unwrap_or("csv") {
        "csv" => false,
        "xlsx" => true,
        other => {
            return Err(ApiError::invalid(format!(
                "format: {other:?} is not csv or xlsx"
            )))
        }
    };
    let id = eco.economy.id().to_string();
    let own = eco.app.store.clone();
    let name = format!(
        "jifen-journal-{}-{}-{}",
        eco.economy.id(),
        range.from,
        range.to
    );
    let replay = via_journal(q.via.as_deref())?;
    let committed = eco.economy.copy().await?;
    let ask = crate::finance::export::Ask {
        range,
        xlsx,
        replay,
    };
    let (bytes, source) = tokio::task::spawn_blocking(move || {
        let accounts = committed.ledger.economy().accounts();
        crate::finance::export::run(&own, &id, tz, ask, accounts)
    })
    .await
    .map_err(ApiError::internal)??;
    let mut answer = if xlsx {
        let mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
        download(bytes, mime, &format!("{name}.xlsx"))
    } else {
        download(bytes, "text/csv; charset=utf-8", &format!("{name}.csv"))
    };
    answer.headers_mut().insert(
        "x-jifen-computed-from",
        axum::http::HeaderValue::from_static(source.as_str()),
    );
    Ok(answer)
}
