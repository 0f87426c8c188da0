//! Collectibles for people (SPEC §13, issue 7): the public certificate page and its data, and
//! the wallet's list of a consumer's collectibles.
//!
//! `/c/{economy}/{collectible}` is public: anyone holding a piece, or buying one, can check its
//! certificate. It shows the piece, its series, its owner in masked form, its history (the
//! accepted journal entries naming it) and a control that recomputes the content's SHA-256 in
//! the browser.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use jifen_core::{format_instant, Collectible, CollectibleState, Economy as Engine, Policy};
use serde_json::{json, Value};

use crate::activity::Subject;
use crate::error::{ApiError, ApiResult};
use crate::routes::{blocking, json_ok, read, AppState};
use crate::views;

/// How many history entries the certificate page lists.
const HISTORY_SHOWN: usize = 100;

/// A name shown without revealing it: the first two characters and the last.
pub fn mask(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    match chars.len() {
        0 => String::new(),
        1..=3 => format!("{}***", chars[0]),
        n => format!("{}{}***{}", chars[0], chars[1], chars[n - 1]),
    }
}

/// What the public and the owner may see of a collectible.
fn view(e: &Engine, c: &Collectible, policy: &Policy) -> Value {
    let price = e.price();
    let giftable_at = c.giftable_at(policy);
    json!({
        "collectible": c.name.as_str(),
        "series": c.series.as_str(),
        "state": c.state.as_str(),
        "venue": c.venue.as_deref(),
        "atoms": c.atoms,
        "points": views::points(c.atoms),
        "value_fen": price.value_fen(c.atoms),
        "price_yuan_per_point": price.yuan_per_point(4),
        "content_sha256": c.content_hex(),
        "content_url": format!("/v1/content/{}", c.content_hex()),
        "is_certificate": c.atoms == 0 && c.state != CollectibleState::Dissolved,
        "acquired_at": format_instant(c.acquired),
        "clock": format_instant(e.clock()),
        "gifting_enabled": policy.gifting_enabled,
        "giftable_at": format_instant(giftable_at),
        "giftable_in_s": (giftable_at - e.clock()).max(0),
    })
}

#[utoipa::path(get, path = "/v1/public/{economy}/collectibles/{collectible}", tag = "collectibles", security(()),
    params(("economy" = String, Path), ("collectible" = String, Path)),
    responses((status = 200, description = "a collectible's public record: series, masked owner, state, content hash and history (no key needed)", body = Object)))]
pub async fn public_collectible(
    State(app): AppState,
    Path((eco, name)): Path<(String, String)>,
) -> ApiResult<Response> {
    let missing = || ApiError::not_found("no such collectible");
    let economy = app.economy(&eco).ok_or_else(missing)?;
    let wanted = name.clone();
    let found = read(&economy, move |v| {
        let e = v.ledger.economy();
        e.collectibles().find(&wanted).map(|c| {
            let mut out = view(e, c, e.policy());
            out["owner_masked"] = json!(mask(&e.accounts().get(c.owner).name));
            out
        })
    })
    .await?
    .ok_or_else(missing)?;
    let id = economy.meta.id.clone();
    let history = blocking(&app, move |app| {
        app.with_store(|s| -> Result<Vec<Value>, jifen_journal::StoreError> {
            let (seqs, _) = app
                .console
                .activity
                .of(s, &id, Subject::Collectible(&name), None, HISTORY_SHOWN)
                .map_err(|e| jifen_journal::StoreError::Malformed(e.to_string()))?;
            let mut out = Vec::new();
            for seq in seqs {
                let Some(e) = s.entry(&id, seq)? else {
                    continue;
                };
                if e.outcome != "ok" {
                    continue;
                }
                let command: Value = serde_json::from_str(&e.command).unwrap_or(Value::Null);
                // Owners appear masked here too; venues are public.
                let mut event = json!({
                    "seq": e.seq,
                    "time": jifen_journal::time::rfc3339_ms(e.ts_ms),
                    "type": command["type"],
                });
                for key in ["account", "to"] {
                    if let Some(who) = command[key].as_str() {
                        event["owner_masked"] = json!(mask(who));
                    }
                }
                if let Some(venue) = command["venue"].as_str() {
                    event["venue"] = json!(venue);
                }
                out.push(event);
            }
            Ok(out)
        })
        .map_err(ApiError::from)
    })
    .await?;
    let mut body = found;
    body["economy"] = json!(economy.meta.id);
    body["economy_name"] = json!(economy.meta.name);
    body["history"] = Value::Array(history);
    Ok(json_ok(body))
}

#[utoipa::path(get, path = "/v1/wallet/collectibles", tag = "wallet",
    responses((status = 200, description = "the link's consumer's collectibles: locked points at today's value, and when each may be gifted", body = Object)))]
pub async fn wallet_collectibles(State(app): AppState, headers: HeaderMap) -> ApiResult<Response> {
    let holder = crate::wallet::check_token(&app, &headers)?;
    let account = holder.account.clone();
    let list = read(&holder.economy, move |v| {
        let e = v.ledger.economy();
        let Some(owner) = e.accounts().find(&account) else {
            return Vec::new();
        };
        e.collectibles()
            .iter()
            .filter(|c| c.owner == owner && c.state != CollectibleState::Dissolved)
            .map(|c| view(e, c, e.policy()))
            .collect::<Vec<_>>()
    })
    .await?;
    Ok(json_ok(json!({
        "economy": holder.economy.meta.id,
        "collectibles": list,
    })))
}

const PAGE: &str = include_str!("../assets/certificate.html");

/// The public certificate page; it reads its economy and collectible from its own path.
pub async fn page() -> Response {
    crate::wallet::self_contained(PAGE)
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn masks() {
        assert_eq!(mask("user.12"), "us***2");
        assert_eq!(mask("abc"), "a***");
        assert_eq!(mask("王小明先生"), "王小***生");
    }
}
