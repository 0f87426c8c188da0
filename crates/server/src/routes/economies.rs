//! Economies: create, list, read and change their settings; their rules and the history of
//! their rules.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use jifen_journal::EconomyMeta;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{AdminCaller, Caller, Eco, Manage, Read};
use crate::config::{EconomySettings, AUTO_CONFIRM_DAYS_DEFAULT};
use crate::economies::{store_settings, Economy};
use crate::error::{ApiError, ApiResult};
use crate::http::{blocking, json_ok, json_with, JsonBody};
use crate::keys::Role;
use crate::state::App;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(create_economy, list_economies))
        .routes(routes!(get_economy, patch_economy))
        .routes(routes!(get_rules))
        .routes(routes!(rules_history))
}

/// Creating an economy.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateEconomy {
    /// `[A-Za-z0-9_.:@-]{1,64}`.
    #[schema(example = "wine-shop")]
    id: String,
    /// 1 to 200 bytes, no control characters.
    #[schema(example = "示例酒庄 Demo wine shop")]
    name: String,
    /// SPEC §3 keys; missing keys take the defaults.
    #[schema(schema_with = crate::openapi::rules_schema)]
    rules: Option<serde_json::Map<String, Value>>,
    /// An IANA time zone, `Asia/Shanghai` by default.
    #[schema(example = "Asia/Shanghai")]
    timezone: Option<String>,
    /// Days after which pending orders are confirmed (1 to 365, default 7).
    #[schema(minimum = 1, maximum = 365)]
    auto_confirm_days: Option<u32>,
    /// The words the pages show for the daily reward and its pool; a field left out keeps the
    /// default. Investment words (股权, 分红, dividend, shares, …) are refused.
    terms: Option<crate::terms::Terms>,
    /// The risk rules (SPEC §17), every key; left out, the recommended defaults, which hold
    /// suspicious orders for review. `{"enabled": false, …}` starts with them off.
    #[schema(value_type = Option<Object>)]
    risk: Option<Value>,
}

/// Rules given as a JSON object (SPEC §3 keys), checked as `set_rules` would.
fn rules_from_object(map: serde_json::Map<String, Value>) -> ApiResult<jifen_core::Rules> {
    let invalid = |e: &dyn std::fmt::Display| ApiError::invalid(format!("invalid rules: {e}"));
    let table: toml::Table = serde_json::from_value(Value::Object(map)).map_err(|e| invalid(&e))?;
    let text = toml::to_string(&table).map_err(|e| invalid(&e))?;
    jifen_wire::rules_from_toml(&text).map_err(|e| invalid(&e))
}

fn meta_json(m: &EconomyMeta) -> Value {
    json!({"id": m.id, "name": m.name, "timezone": m.timezone, "created_at": m.created_at})
}

#[utoipa::path(post, path = "/v1/economies", tag = "economies", request_body = CreateEconomy,
    responses((status = 201, description = "created", body = Object),
              (status = 409, description = "economy_exists", body = crate::error::ErrorBody)))]
async fn create_economy(
    State(app): State<Arc<App>>,
    _admin: AdminCaller,
    JsonBody(req): JsonBody<CreateEconomy>,
) -> ApiResult<Response> {
    let rules = rules_from_object(req.rules.unwrap_or_default())?;
    let risk = match &req.risk {
        None => jifen_core::risk::RiskRules::RECOMMENDED,
        Some(v) => jifen_wire::risk_from_json(v)
            .filter(|r| r.is_valid())
            .ok_or_else(|| {
                ApiError::invalid(
                    "invalid risk rules: give every key of SPEC §17 within its bounds",
                )
            })?,
    };
    let timezone = req
        .timezone
        .unwrap_or_else(|| jifen_journal::DEFAULT_TIMEZONE.to_string());
    if !crate::times::is_time_zone(&timezone) {
        return Err(ApiError::invalid(format!(
            "{timezone:?} is not a known time zone"
        )));
    }
    let settings = EconomySettings {
        auto_confirm_days: req.auto_confirm_days.unwrap_or(AUTO_CONFIRM_DAYS_DEFAULT),
        terms: req.terms.unwrap_or_default(),
    };
    settings.terms.check().map_err(invalid_term)?;
    settings.check().map_err(ApiError::invalid)?;
    let (id, name, now) = (req.id, req.name, app.now_ms());
    let app2 = app.clone();
    let opened = blocking(move || {
        let meta = app2
            .store
            .with(|s| {
                Ok(jifen_journal::create_economy(
                    s, &id, &name, &rules, &timezone, now,
                ))
            })?
            .map_err(|e| match e {
                jifen_journal::JournalError::Store(s) => ApiError::from(s),
                other => ApiError::from(other),
            })?;
        store_settings(&app2.store, &meta.id, &settings)?;
        if app2.config.cluster.is_some() {
            // Several nodes: the one it is assigned to takes its lease and opens it.
            return Ok(Err(meta));
        }
        Ok(Ok(app2.economies.open(meta)?))
    })
    .await?;
    match opened {
        Ok(economy) => {
            set_initial_risk(&economy, &risk).await?;
            tracing::info!(economy = %economy.meta.id, "economy created");
            Ok(json_with(StatusCode::CREATED, economy.view().await?))
        }
        Err(meta) => {
            tracing::info!(economy = %meta.id, "economy created; a node will take it");
            let mut view = meta_json(&meta);
            view["note"] = json!("created; the node it is assigned to opens it within a moment");
            Ok(json_with(StatusCode::CREATED, view))
        }
    }
}

/// A new economy's first command: its risk rules (SPEC §17), under an id fixed by the economy
/// so a repeat is a retry. Rules that are off are the engine's starting state, so nothing is
/// journaled for them (and a replayed economy's counts stay those of its own commands).
async fn set_initial_risk(
    economy: &crate::economies::Economy,
    risk: &jifen_core::risk::RiskRules,
) -> ApiResult<()> {
    if !risk.enabled {
        return Ok(());
    }
    let command = json!({"type": "set_risk_rules", "id": jifen_journal::ids::initial_risk(),
        "risk": jifen_wire::risk_to_json(risk)});
    let outcomes = crate::finance::submit(economy, &[command.to_string()], Vec::new()).await?;
    match outcomes[0].result {
        Ok(()) => Ok(()),
        Err(code) => Err(ApiError::internal(format!(
            "the initial risk rules were refused: {code}"
        ))),
    }
}

#[utoipa::path(get, path = "/v1/economies", tag = "economies",
    responses((status = 200, description = "the economies this key reaches", body = Object)))]
async fn list_economies(State(app): State<Arc<App>>, Caller(p): Caller) -> ApiResult<Response> {
    // Every economy in the store (with several nodes, others are open elsewhere).
    let metas = app.store.run(|s| s.economies()).await?;
    let list: Vec<Value> = metas
        .iter()
        .filter(|m| p.reaches(&m.id) && p.role != Role::Merchant)
        .map(meta_json)
        .collect();
    Ok(json_ok(json!({ "economies": list })))
}

#[utoipa::path(get, path = "/v1/economies/{eco}", tag = "economies",
    responses((status = 200, description = "SPEC §11 state without accounts, the price in yuan per point, and the journal head", body = Object)))]
async fn get_economy(eco: Eco<Read>) -> ApiResult<Response> {
    Ok(json_ok(eco.economy.view().await?))
}

/// Changing an economy's settings (not its rules: those change by `set_rules`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PatchEconomy {
    /// Days after which pending orders are confirmed (1 to 365).
    #[schema(minimum = 1, maximum = 365)]
    auto_confirm_days: Option<u32>,
    /// The words the pages show for the daily reward and its pool; a field left out keeps the
    /// default. Investment words (股权, 分红, dividend, shares, …) are refused.
    terms: Option<crate::terms::Terms>,
}

fn invalid_term(why: String) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_term", why)
}

#[utoipa::path(patch, path = "/v1/economies/{eco}", tag = "economies",
    request_body = PatchEconomy, responses((status = 200, description = "the economy", body = Object)))]
async fn patch_economy(
    eco: Eco<Manage>,
    JsonBody(req): JsonBody<PatchEconomy>,
) -> ApiResult<Response> {
    let economy = eco.economy;
    let mut settings = economy.settings();
    if let Some(days) = req.auto_confirm_days {
        settings.auto_confirm_days = days;
    }
    if let Some(terms) = req.terms {
        terms
            .check()
            .map_err(|why| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_term", why))?;
        settings.terms = terms;
    }
    settings.check().map_err(ApiError::invalid)?;
    let e2 = economy.clone();
    blocking(move || eco.app.economies.put_settings(&e2, settings)).await?;
    Ok(json_ok(economy.view().await?))
}

fn rules_json(rules: &jifen_core::Rules) -> Value {
    toml::from_str::<Value>(&jifen_wire::rules_to_toml(rules)).unwrap_or(Value::Null)
}

#[utoipa::path(get, path = "/v1/economies/{eco}/rules", tag = "rules",
    responses((status = 200, description = "the rules in force", body = Object)))]
async fn get_rules(eco: Eco<Read>) -> ApiResult<Response> {
    let rules = eco
        .economy
        .read(|v| rules_json(v.ledger.economy().rules()))
        .await?;
    Ok(json_ok(json!({ "rules": rules })))
}

#[utoipa::path(get, path = "/v1/economies/{eco}/rules/history", tag = "rules",
    responses((status = 200, description = "the initial rules, then every accepted set_rules with its seq and time", body = Object)))]
async fn rules_history(eco: Eco<Read>) -> ApiResult<Response> {
    let economy: Arc<Economy> = eco.economy;
    let changes = blocking(move || {
        let meta = &economy.meta;
        let initial = jifen_wire::rules_from_toml(&meta.rules_toml).map_err(ApiError::internal)?;
        let mut out =
            vec![json!({"seq": 0, "time": meta.created_at, "rules": rules_json(&initial)})];
        let scope = crate::economies::rule_authors_scope(&meta.id);
        let authors: std::collections::HashMap<String, String> = eco
            .app
            .store
            .with(|s| s.kv_list(&scope))?
            .into_iter()
            .collect();
        for seq in eco.app.store.with(|s| s.rule_change_seqs(&meta.id))? {
            let entry = eco
                .app
                .store
                .with(|s| s.entry(&meta.id, seq))?
                .ok_or_else(|| ApiError::internal(format!("rule change {seq} has no entry")))?;
            let command: Value =
                serde_json::from_str(&entry.command).map_err(ApiError::internal)?;
            let key = authors.get(&format!("{seq:020}"));
            out.push(json!({
                "seq": seq,
                "key": key,
                "time": jifen_journal::time::rfc3339_ms(entry.ts_ms),
                "id": command.get("id"),
                "rules": command.get("rules"),
            }));
        }
        Ok(out)
    })
    .await?;
    Ok(json_ok(json!({ "history": changes })))
}
