//! Risk controls (SPEC §17) for the operator: the rules, the trust lists and the review queue
//! (`GET /risk`), and a reviewer's decision on a held order, journaled as `review_order` with
//! the caller's key id as the reviewer. Rules and trust lists change through the commands
//! endpoint (`set_risk_rules`, `set_trust`), like every other rule.

use std::sync::Arc;

use axum::extract::{Path, Query};
use axum::response::Response;
use jifen_core::risk::RiskRules;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Eco, Manage, Read};
use crate::error::{ApiError, ApiResult};
use crate::http::{json_ok, JsonBody};
use crate::state::App;

/// The most holds one answer lists.
const HOLDS_PAGE_MAX: usize = 500;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(get_risk))
        .routes(routes!(review))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RiskQuery {
    /// `open` (the default): holds awaiting a decision; `all`: every hold, newest first.
    status: Option<String>,
    /// At most this many holds (1 to 500, default 100).
    limit: Option<usize>,
}

#[utoipa::path(get, path = "/v1/economies/{eco}/risk", tag = "risk",
    params(("status" = Option<String>, Query, description = "open (default) or all"),
           ("limit" = Option<usize>, Query, description = "1 to 500, default 100")),
    responses((status = 200, description = "the risk rules, the recommended defaults, the trust lists and the holds, oldest open first", body = Object)))]
async fn get_risk(eco: Eco<Read>, Query(q): Query<RiskQuery>) -> ApiResult<Response> {
    let all = match q.status.as_deref() {
        None | Some("open") => false,
        Some("all") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "status: {other:?} is neither open nor all"
            )))
        }
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=HOLDS_PAGE_MAX).contains(&limit) {
        return Err(ApiError::invalid(format!(
            "limit: must be 1 to {HOLDS_PAGE_MAX}"
        )));
    }
    let view = eco
        .economy
        .read_copy(move |ledger| {
            let e = ledger.ledger.economy();
            let risk = e.risk();
            let holds: Vec<Value> = if all {
                let newest_first = risk.holds().iter().rev();
                newest_first
                    .take(limit)
                    .map(|h| crate::views::hold(e, h))
                    .collect()
            } else {
                risk.open
                    .iter()
                    .filter_map(|(_, order)| risk.hold_of(*order))
                    .take(limit)
                    .map(|h| crate::views::hold(e, h))
                    .collect()
            };
            let trust: Vec<Value> = risk
                .trusted()
                .into_iter()
                .map(|(id, t)| json!({"account": e.accounts().get(id).name.as_str(), "list": t.as_str()}))
                .collect();
            json!({
                "rules": jifen_wire::risk_to_json(risk.rules()),
                "recommended": jifen_wire::risk_to_json(&RiskRules::RECOMMENDED),
                "open": risk.open_count(),
                "holds_total": risk.holds().len(),
                "trust": trust,
                "holds": holds,
            })
        })
        .await?;
    Ok(json_ok(crate::views::with_string_twins(view)))
}

/// A reviewer's decision on a held order.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Review {
    /// `approve` (the order is confirmed and earns), `reject` (it is refunded) or `extend`
    /// (held for another `hold_days`).
    decision: String,
    /// Why, up to 200 characters; journaled with the decision.
    note: Option<String>,
}

#[utoipa::path(post, path = "/v1/economies/{eco}/risk/holds/{order}/review", tag = "risk",
    params(("order" = String, Path, description = "a held order")),
    request_body = Review,
    responses((status = 200, description = "the outcome of the review_order command, and the hold after it", body = Object)))]
async fn review(
    eco: Eco<Manage>,
    Path((_, order)): Path<(String, String)>,
    JsonBody(req): JsonBody<Review>,
) -> ApiResult<Response> {
    let reviews = {
        let order = order.clone();
        eco.economy
            .read(move |v| {
                let e = v.ledger.economy();
                let id = e.orders().find_id(&order)?;
                // A decided hold's last decision was its `len - 1`-th.
                let h = e.risk().hold_of(id)?;
                Some(h.reviews.len() - usize::from(!h.is_open()))
            })
            .await?
    };
    // Fixed by the order and how many extensions it had: a repeated click is a retry, and a
    // second reviewer deciding otherwise gets id_conflict instead of a second decision.
    let id = jifen_journal::ids::review(&order, reviews.unwrap_or(0));
    let command = json!({"type": "review_order", "id": id, "order": order,
        "decision": req.decision, "reviewer": eco.caller.key_id,
        "note": req.note.unwrap_or_default()});
    let outcomes = crate::finance::submit(&eco.economy, &[command.to_string()], Vec::new()).await?;
    let outcome = &outcomes[0];
    let hold = eco
        .economy
        .read(move |v| {
            let e = v.ledger.economy();
            let id = e.orders().find_id(&order)?;
            e.risk().hold_of(id).map(|h| crate::views::hold(e, h))
        })
        .await?;
    Ok(json_ok(json!({
        "ok": outcome.result.is_ok(),
        "code": outcome.result.err().map(|c| c.as_str()),
        "seq": outcome.seq,
        "hold": hold,
    })))
}
