//! `POST /v1/economies/{eco}/commands`: one command or a batch, parsed and canonicalised here,
//! authorized on the parsed commands, and answered once durably committed.

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jifen_core::{Code, Command, Outcome};
use jifen_journal::{PreparedBatch, BATCH_COMMANDS_MAX};
use jifen_wire::Parsed;
use serde_json::value::RawValue;
use serde_json::Value;
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
    #[schema(value_type = Value)]
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

#[utoipa::path(post, path = "/v1/economies/{eco}/commands", tag = "commands",
    request_body(content = crate::openapi::CommandsBody, description = "one SPEC §5 command, or an array of up to 8190"),
    responses(
        (status = 200, description = "outcomes, after the durable commit; a rejected command is an outcome", body = Outcomes),
    ))]
async fn post_commands(eco: Eco<Submit>, headers: HeaderMap, body: Bytes) -> ApiResult<Response> {
    let raws = command_texts(&headers, &body)?;
    let hashed = hash_signals(&eco, &raws).await?;
    let raws: Vec<&str> = match &hashed {
        Some(texts) => texts.iter().map(String::as_str).collect(),
        None => raws,
    };
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
    note_rule_authors(&eco, batch.parsed(), &outcomes).await?;
    count(&eco.app.metrics, &outcomes);
    let rejected = rejected(&batch, &outcomes);
    let notes = notes(&eco.economy, rejected, outcomes.len()).await?;
    let body = outcomes_body(batch.parsed(), &outcomes, &notes);
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// SPEC §17: the `signals` of a command arrive as values (a phone, an address, a device id, a
/// client address prefix) and are journaled as keyed hashes, so the journal never holds them.
/// `None` when no command has signals (the common case costs one substring search).
async fn hash_signals(eco: &Eco<Submit>, raws: &[&str]) -> ApiResult<Option<Vec<String>>> {
    if !raws.iter().any(|r| r.contains("\"signals\"")) {
        return Ok(None);
    }
    let shop = eco.app.connectors.shop(&eco.economy).await?;
    Ok(Some(raws.iter().map(|r| hashed(&shop, r)).collect()))
}

/// One command's text with its signals' values replaced by their hashes. A value that is not
/// a string of 1 to 200 characters becomes null, which the parser refuses (`invalid_command`).
fn hashed(shop: &crate::connectors::Shop, raw: &str) -> String {
    let Ok(mut v) = serde_json::from_str::<Value>(raw) else {
        return raw.to_string();
    };
    let Some(Value::Object(signals)) = v.get_mut("signals") else {
        return raw.to_string();
    };
    for (kind, value) in signals.iter_mut() {
        *value = match value {
            Value::String(s) if (1..=200).contains(&s.chars().count()) => {
                Value::String(shop.signal_hash(kind, s))
            }
            _ => Value::Null,
        };
    }
    v.to_string()
}

/// Who made each rule change: the key's id, kept beside the journal (which records what was
/// done, not by whom) for the rules history. Written after the commit: a crash between the two
/// loses only the name, and the history then shows none.
async fn note_rule_authors(
    eco: &Eco<Submit>,
    parsed: &[Parsed],
    outcomes: &[Outcome],
) -> ApiResult<()> {
    let seqs: Vec<u64> = parsed
        .iter()
        .zip(outcomes)
        .filter(|(p, o)| {
            matches!(p.command, Ok(Command::SetRules { .. })) && o.result.is_ok() && !o.retry
        })
        .map(|(_, o)| o.seq)
        .collect();
    if seqs.is_empty() {
        return Ok(());
    }
    let scope = crate::economies::rule_authors_scope(&eco.economy.meta.id);
    let key = eco.caller.key_id.clone();
    eco.app
        .store
        .run(move |s| {
            seqs.iter()
                .try_for_each(|seq| s.kv_put(&scope, &format!("{seq:020}"), &key))
        })
        .await?;
    Ok(())
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

/// What a rejected command's outcome says besides its code: which field and which bound
/// (`message`), and for a gift refused for its holding period, when it will be allowed
/// (`opens_at`).
#[derive(Default)]
struct Note {
    message: String,
    opens_at: Option<String>,
}

/// A rejected command: its place, the command as parsed, what is wrong with its shape (when
/// that is why), and its code.
type Rejected = (usize, Result<Command, Code>, Option<String>, Code);

/// The rejected commands of a batch, with the words for those whose shape is wrong.
fn rejected(batch: &PreparedBatch, outcomes: &[Outcome]) -> Vec<Rejected> {
    let mut rejected = Vec::new();
    for (i, (p, o)) in batch.parsed().iter().zip(outcomes).enumerate() {
        let Err(code) = o.result else { continue };
        let shape = p.command.is_err().then(|| {
            jifen_wire::diagnose(batch.canonical(i))
                .unwrap_or_else(|| "the command is not valid".into())
        });
        let bad_id = p.id.as_deref().filter(|id| !jifen_core::is_valid_name(id));
        let shape =
            shape.or_else(|| bad_id.map(|_| "id: must match [A-Za-z0-9_.:@-]{1,64}".into()));
        rejected.push((i, p.command.clone(), shape, code));
    }
    rejected
}

/// The notes of the rejected commands of a batch of `n`, by place; none when all were
/// accepted. The engine's words are worked out on a copy of the state just after the batch
/// (see `jifen_core::explain`), off the writer's thread.
async fn notes(
    economy: &Economy,
    rejected: Vec<Rejected>,
    n: usize,
) -> ApiResult<Vec<Option<Note>>> {
    if rejected.is_empty() {
        return Ok(Vec::new());
    }
    economy
        .read_copy(move |v| {
            let e = v.ledger.economy();
            let mut notes: Vec<Option<Note>> = (0..n).map(|_| None).collect();
            for (i, command, shape, code) in rejected {
                let note = match (&command, shape) {
                    (_, Some(message)) => Note {
                        message,
                        opens_at: None,
                    },
                    (Ok(c), None) => Note {
                        message: jifen_core::explain(c, code, e),
                        opens_at: opens_at(e, c, code),
                    },
                    (Err(_), None) => Note::default(),
                };
                notes[i] = Some(note);
            }
            notes
        })
        .await
}

/// When a gift refused for its holding period will be allowed.
fn opens_at(e: &jifen_core::Economy, c: &Command, code: Code) -> Option<String> {
    match (code, c) {
        (Code::HoldingPeriod, Command::GiftCollectible { collectible, .. }) => {
            let c = e.collectibles().find(collectible)?;
            Some(jifen_core::format_instant(c.giftable_at(e.policy())))
        }
        _ => None,
    }
}

/// The outcomes as JSON, written directly (a batch can hold thousands).
fn outcomes_body(parsed: &[Parsed], outcomes: &[Outcome], notes: &[Option<Note>]) -> String {
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
            Ok(()) => write!(out, ",\"ok\":true,\"code\":null,\"seq\":{}", o.seq),
            Err(c) => write!(
                out,
                ",\"ok\":false,\"code\":\"{}\",\"seq\":{}",
                c.as_str(),
                o.seq
            ),
        };
        if let Some(Some(note)) = notes.get(i) {
            let _ = write!(out, ",\"message\":{}", Value::String(note.message.clone()));
            if let Some(at) = &note.opens_at {
                let _ = write!(out, ",\"opens_at\":{}", Value::String(at.clone()));
            }
        }
        out.push('}');
    }
    out.push_str("]}");
    out
}
