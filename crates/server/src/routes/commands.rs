//! `POST /v1/economies/{eco}/commands`: one command or a batch, parsed and canonicalised here,
//! authorized on the parsed commands, and answered once durably committed.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jifen_core::{Code, Command, Outcome};
use jifen_journal::{PreparedBatch, BATCH_COMMANDS_MAX};
use jifen_wire::Parsed;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Eco, Submit};
use crate::command_rights::{authorize, refuse_reserved_ids};
use crate::economies::Economy;
use crate::error::{ApiError, ApiResult};
use crate::http::json_content_type;
use crate::metrics::Metrics;
use crate::state::App;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(post_commands))
}

/// The answer to a batch: one outcome per command, in order, all durably committed.
#[derive(serde::Serialize, ToSchema)]
struct Outcomes {
    outcomes: Vec<OutcomeView>,
}

#[derive(serde::Serialize, ToSchema)]
struct OutcomeView {
    /// The command's `id` as given (any JSON type; null when absent).
    #[schema(value_type = Object)]
    id: Value,
    ok: bool,
    /// The SPEC §5 code of a rejection, null when ok.
    code: Option<String>,
    /// The journal seq of the command (of its first submission, for a retry).
    seq: u64,
    /// For a rejection: which field, and the bound it broke, in words.
    message: Option<String>,
    /// For a gift refused for its holding period: when it will be allowed.
    opens_at: Option<String>,
}

fn malformed(e: &dyn std::fmt::Display) -> ApiError {
    ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {e}"))
}

/// The commands of a body, each as its JSON text: one object, or an array of them.
fn command_texts<'a>(headers: &HeaderMap, body: &'a [u8]) -> ApiResult<Vec<&'a str>> {
    json_content_type(headers)?;
    let text = std::str::from_utf8(body).map_err(|e| malformed(&e))?;
    let raws = match text.trim_start().as_bytes().first() {
        // Elements are split here and each is checked as it is parsed.
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
    Ok(raws)
}

/// Parses and canonicalises every command here, so the writer only applies, hashes and
/// commits.
fn prepare(raws: &[&str], body_len: usize) -> ApiResult<PreparedBatch> {
    let mut batch = PreparedBatch::with_capacity(raws.len(), body_len);
    for (i, raw) in raws.iter().enumerate() {
        if !batch.push_text(raw) {
            return Err(malformed(&format!("command {i} is not a JSON value")));
        }
    }
    Ok(batch)
}

#[utoipa::path(post, path = "/v1/economies/{eco}/commands", tag = "commands", params(("eco" = String, Path)),
    request_body(content = crate::openapi::CommandsBody, description = "one SPEC §5 command, or an array of up to 8190"),
    responses(
        (status = 200, description = "outcomes, after the durable commit; a rejected command is an outcome", body = Outcomes),
    ))]
async fn post_commands(
    State(app): State<Arc<App>>,
    eco: Eco<Submit>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let raws = command_texts(&headers, &body)?;
    let mut batch = prepare(&raws, body.len())?;
    let guard = authorize(&eco.caller, batch.parsed())?;
    refuse_reserved_ids(batch.parsed())?;
    if let Some(guard) = guard {
        batch.guard(guard);
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    eco.economy.journal.submit_prepared(
        batch,
        Box::new(move |batch, r| {
            let _ = tx.send((batch, r));
        }),
    );
    let (batch, result) = rx
        .await
        .map_err(|_| ApiError::unavailable("the economy's writer stopped"))?;
    let outcomes = result?;
    count(&app.metrics, &outcomes);
    let mut body = outcomes_body(batch.parsed(), &outcomes);
    let waiting = holding(batch.parsed(), &outcomes);
    if !waiting.is_empty() {
        body = with_opening_times(&eco.economy, body, waiting).await?;
    }
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

fn count(m: &Metrics, outcomes: &[Outcome]) {
    for o in outcomes {
        let counter = if o.retry {
            &m.commands_retried
        } else if o.result.is_ok() {
            &m.commands_applied
        } else {
            &m.commands_rejected
        };
        counter.inc();
    }
}

/// The outcomes as JSON, written directly (a batch can hold thousands).
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

/// The gifts refused for their holding period: their places in the batch and collectibles.
fn holding(parsed: &[Parsed], outcomes: &[Outcome]) -> Vec<(usize, String)> {
    outcomes
        .iter()
        .zip(parsed)
        .enumerate()
        .filter_map(|(i, (o, p))| match (&o.result, &p.command) {
            (Err(Code::HoldingPeriod), Ok(Command::GiftCollectible { collectible, .. })) => {
                Some((i, collectible.to_string()))
            }
            _ => None,
        })
        .collect()
}

/// The answer with `opens_at` on each gift refused for its holding period.
async fn with_opening_times(
    economy: &Economy,
    body: String,
    waiting: Vec<(usize, String)>,
) -> ApiResult<String> {
    let opens = economy
        .read(move |v| {
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
    Ok(value.to_string())
}
