//! Members beyond the engine's commands (issue 23): an import from CSV, checked whole before
//! anything is written (`member_import`), and each account's display name and note, kept
//! beside the journal in the store's settings.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use jifen_connect::Identity;
use jifen_journal::KvWrite;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Eco, Manage, Read};
use crate::connectors::Shop;
use crate::error::{ApiError, ApiResult};
use crate::http::{blocking, json_ok, json_with, JsonBody};
use crate::member_import::{self, Existing, Member};
use crate::state::App;

/// The most characters of an account's note.
const NOTE_CHARS_MAX: usize = 500;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(import_members))
        .routes(routes!(get_member))
        .routes(routes!(put_note))
}

/// Where the display names and notes of an economy's accounts are kept, by account.
pub fn profiles_scope(economy: &str) -> String {
    format!("member_profiles/{economy}")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportQuery {
    /// `true`: check every line and report, writing nothing.
    dry_run: Option<bool>,
}

/// What the economy holds, for the checks of an import.
struct Held<'a> {
    economy: &'a jifen_core::Economy,
    shop: &'a Shop,
}

impl Existing for Held<'_> {
    fn account(&self, name: &str) -> Option<bool> {
        self.economy.account(name).map(|a| a.is_consumer())
    }
    fn identity(&self, identity: &Identity) -> (String, Option<String>) {
        let hash = self.shop.identity_hash(identity);
        let linked = self.shop.linked(&hash);
        (hash, linked)
    }
}

#[utoipa::path(post, path = "/v1/economies/{eco}/members/import", tag = "members",
    params(("dry_run" = Option<bool>, Query, description = "check every line and report, writing nothing")),
    request_body(content = String, content_type = "text/csv", description = "a header line `account,display_name,referrer,identity`, then one consumer per line (at most 8190)"),
    responses((status = 200, description = "the dry run's report, or the members imported", body = Object),
              (status = 422, description = "invalid_import: bad lines, each in `problems` with its number, code and words; nothing was written", body = crate::error::ErrorBody)))]
async fn import_members(
    eco: Eco<Manage>,
    Query(q): Query<ImportQuery>,
    body: Bytes,
) -> ApiResult<Response> {
    let text = String::from_utf8(body.to_vec())
        .map_err(|_| ApiError::invalid("the member file must be UTF-8 text (CSV)"))?;
    let shop = eco.app.connectors.shop(&eco.economy).await?;
    let shop2 = shop.clone();
    let checked = eco
        .economy
        .read(move |v| {
            let held = Held {
                economy: v.ledger.economy(),
                shop: &shop2,
            };
            member_import::check(&text, &held)
        })
        .await?;
    let dry_run = q.dry_run.unwrap_or(false);
    let members = match checked {
        Err(problems) => return Ok(refused(dry_run, &problems)),
        Ok(m) if dry_run => {
            return Ok(json_ok(
                json!({"dry_run": true, "members": m.len(), "problems": []}),
            ))
        }
        Ok(m) => m,
    };
    let (commands, kv) = writes(&eco.economy.meta.id, &shop, &members);
    let outcomes = crate::finance::submit(&eco.economy, &commands, kv).await?;
    for (m, hash) in &members {
        if let Some(hash) = hash {
            shop.remember(hash, &m.account);
        }
    }
    let lines: Vec<Value> = members
        .iter()
        .zip(&outcomes)
        .map(|((m, _), o)| {
            json!({"line": m.line, "account": m.account, "ok": o.result.is_ok(),
            "code": o.result.err().map(|c| c.as_str()), "seq": o.seq})
        })
        .collect();
    let imported = outcomes.iter().filter(|o| o.result.is_ok()).count();
    Ok(json_ok(
        json!({"dry_run": false, "members": members.len(), "imported": imported, "lines": lines}),
    ))
}

/// Bad lines: a report for a dry run, a refusal for an import; nothing is written either way.
fn refused(dry_run: bool, problems: &[member_import::Problem]) -> Response {
    if dry_run {
        return json_ok(json!({"dry_run": true, "members": 0, "problems": problems}));
    }
    let message = format!("{} bad line(s); nothing was imported", problems.len());
    json_with(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"error": {"code": "invalid_import", "message": message}, "problems": problems}),
    )
}

/// The `register_consumer` commands of an import, and the display names and identity links
/// written with them.
fn writes(
    economy: &str,
    shop: &Shop,
    members: &[(Member, Option<String>)],
) -> (Vec<String>, Vec<KvWrite>) {
    let mut commands = Vec::with_capacity(members.len());
    let mut kv = Vec::new();
    for (m, hash) in members {
        let mut c = json!({"type": "register_consumer", "id": format!("import-{}", m.account), "account": m.account});
        if let Some(r) = &m.referrer {
            c["referrer"] = json!(r);
        }
        commands.push(c.to_string());
        if !m.display_name.is_empty() {
            let profile = json!({"display_name": m.display_name}).to_string();
            kv.push(KvWrite {
                scope: profiles_scope(economy),
                key: m.account.clone(),
                value: Some(profile),
            });
        }
        if let Some(hash) = hash {
            kv.push(shop.link_write(hash, &m.account));
        }
    }
    (commands, kv)
}

/// An account's profile (blocking): its display name and note, empty when none.
fn profile(store: &crate::store::StoreHandle, economy: &str, account: &str) -> ApiResult<Value> {
    let scope = profiles_scope(economy);
    let text = store.with(|s| s.kv_get(&scope, account))?;
    let mut p: Value = text
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(json!({}));
    for k in ["display_name", "note"] {
        if p.get(k).is_none() {
            p[k] = json!("");
        }
    }
    p["account"] = json!(account);
    Ok(p)
}

async fn known(eco: &Eco<impl crate::auth::Need>, account: &str) -> ApiResult<()> {
    let name = account.to_string();
    let exists = eco
        .economy
        .read(move |v| v.ledger.economy().account(&name).is_some())
        .await?;
    exists
        .then_some(())
        .ok_or_else(|| ApiError::not_found("no such account"))
}

#[utoipa::path(get, path = "/v1/economies/{eco}/members/{account}", tag = "members",
    responses((status = 200, description = "the account's display name and note (empty when none)", body = Object)))]
async fn get_member(eco: Eco<Read>) -> ApiResult<Response> {
    let account = eco.path("account").to_string();
    known(&eco, &account).await?;
    let (store, id) = (eco.app.store.clone(), eco.economy.meta.id.clone());
    Ok(json_ok(
        blocking(move || profile(&store, &id, &account)).await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Note {
    /// 0 to 500 characters, without control characters but line breaks.
    note: String,
}

#[utoipa::path(put, path = "/v1/economies/{eco}/members/{account}/note", tag = "members",
    request_body = Note,
    responses((status = 200, description = "the account's profile with the new note", body = Object)))]
async fn put_note(eco: Eco<Manage>, JsonBody(req): JsonBody<Note>) -> ApiResult<Response> {
    let account = eco.path("account").to_string();
    let flat = req.note.replace(['\n', '\r'], " ");
    if !jifen_core::members::is_valid_text(&flat, NOTE_CHARS_MAX, true) {
        return Err(ApiError::invalid(format!(
            "a note is at most {NOTE_CHARS_MAX} characters, without control characters"
        )));
    }
    known(&eco, &account).await?;
    let (store, id) = (eco.app.store.clone(), eco.economy.meta.id.clone());
    let p = blocking(move || {
        let mut p = profile(&store, &id, &account)?;
        p["note"] = json!(req.note);
        let stored = json!({"display_name": p["display_name"], "note": p["note"]}).to_string();
        store.with(|s| s.kv_put(&profiles_scope(&id), &account, &stored))?;
        Ok(p)
    })
    .await?;
    Ok(json_ok(p))
}
