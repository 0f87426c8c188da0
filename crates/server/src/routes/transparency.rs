//! Transparency (issue 8): the tree key, the signed tree heads, and inclusion and consistency
//! proofs (see `proofs`).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use jifen_journal::merkle::{self, leaf_bytes, to_hex, Tree};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Eco, Manage, Need, Read};
use crate::bounds::PAGE_LIMIT_MAX;
use crate::error::{ApiError, ApiResult};
use crate::http::{blocking, limit_within, LimitQuery};
use crate::proofs::{self, GroupReader};
use crate::state::App;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(tree_key))
        .routes(routes!(latest_head))
        .routes(routes!(list_heads, post_head))
        .routes(routes!(inclusion))
        .routes(routes!(consistency))
}

#[utoipa::path(get, path = "/v1/tree-key", tag = "transparency", security(()),
    responses((status = 200, description = "the Ed25519 public key that signs tree heads", body = Object)))]
async fn tree_key(State(app): State<Arc<App>>) -> Response {
    Json(app.signer.public_json()).into_response()
}

#[utoipa::path(get, path = "/v1/economies/{eco}/tree-heads/latest", tag = "transparency",
    responses((status = 200, description = "the newest signed tree head", body = Object)))]
async fn latest_head(eco: Eco<Read>) -> ApiResult<Response> {
    let id = eco.economy.meta.id.clone();
    let latest = blocking(move || Ok(proofs::latest_stored_head(&eco.app.store, &id)?)).await?;
    let latest = latest.ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "no_tree_head",
            "no tree head has been signed yet: one is signed after every dividend settlement, or POST …/tree-heads",
        )
    })?;
    Ok(Json(latest).into_response())
}

#[utoipa::path(get, path = "/v1/economies/{eco}/tree-heads", tag = "transparency",
    params(("limit" = Option<usize>, Query, description = "1 to 1000, default 100; newest first")),
    responses((status = 200, description = "signed tree heads, newest first", body = Object)))]
async fn list_heads(eco: Eco<Read>, Query(q): Query<LimitQuery>) -> ApiResult<Response> {
    let limit = limit_within(q.limit, 100, PAGE_LIMIT_MAX)?;
    let (id, store) = (eco.economy.meta.id.clone(), eco.app.store.clone());
    let mut heads = blocking(move || Ok(proofs::stored_heads(&store, &id)?)).await?;
    heads.sort_by_key(|h| std::cmp::Reverse(proofs::size_of(h)));
    heads.truncate(limit);
    Ok(
        Json(json!({ "tree_heads": heads, "public_key": eco.app.signer.public_json() }))
            .into_response(),
    )
}

#[utoipa::path(post, path = "/v1/economies/{eco}/tree-heads", tag = "transparency",
    responses((status = 200, description = "a head signed now, over every committed entry", body = Object)))]
async fn post_head(eco: Eco<Manage>) -> ApiResult<Response> {
    let (economy, app2) = (eco.economy, eco.app.clone());
    let head = blocking(move || {
        let size = proofs::tree_of(&economy)?.size();
        let now = app2.now_ms();
        Ok(proofs::sign_head(
            &app2.store,
            &app2.signer,
            &economy,
            size,
            now,
        )?)
    })
    .await?;
    Ok(Json(head.to_json(&eco.app.signer.public())).into_response())
}

/// What a proof is worked out from: the economy's id, a copy of its tree, and a reader of
/// complete groups' leaves.
struct ProofWork<'a> {
    id: &'a str,
    tree: &'a Tree,
    groups: GroupReader<'a>,
}

/// Works out a proof off the async threads.
async fn prove<N: Need>(
    eco: Eco<N>,
    work: impl FnOnce(&App, &mut ProofWork<'_>) -> ApiResult<Value> + Send + 'static,
) -> ApiResult<Response> {
    let (app, economy) = (eco.app, eco.economy);
    let body = blocking(move || {
        let tree = proofs::tree_of(&economy)?;
        let mut w = ProofWork {
            id: economy.id(),
            tree: &tree,
            groups: GroupReader::new(&app.store, economy.id()),
        };
        work(&app, &mut w)
    })
    .await?;
    Ok(Json(body).into_response())
}

/// The tree size a proof is for: the one asked, or the whole tree; within the tree.
fn check_size(tree: &Tree, size: Option<u64>, what: &str) -> ApiResult<u64> {
    let size = size.unwrap_or(tree.size());
    if size > tree.size() {
        return Err(ApiError::invalid(format!(
            "{what} {size} is beyond the journal's {} entries",
            tree.size()
        )));
    }
    Ok(size)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InclusionQuery {
    seq: u64,
    tree_size: Option<u64>,
}

#[utoipa::path(get, path = "/v1/economies/{eco}/proofs/inclusion", tag = "transparency",
    params(("seq" = u64, Query, description = "the entry"),
           ("tree_size" = Option<u64>, Query, description = "the tree the proof is for; default: every committed entry")),
    responses((status = 200, description = "the entry's leaf and its RFC 9162 inclusion proof", body = Object)))]
async fn inclusion(eco: Eco<Read>, Query(q): Query<InclusionQuery>) -> ApiResult<Response> {
    prove(eco, move |app, w| {
        let size = check_size(w.tree, q.tree_size, "tree_size")?;
        if q.seq == 0 || q.seq > size {
            return Err(ApiError::invalid(format!(
                "seq must be 1 to the tree size {size}"
            )));
        }
        let fetch = &mut |g| w.groups.get(g);
        let proof = w.tree.inclusion_proof(q.seq - 1, size, fetch)?;
        let root = w.tree.root_at(size, fetch)?;
        let entry = app
            .store
            .with(|s| s.entry(w.id, q.seq))?
            .ok_or_else(|| ApiError::internal(format!("entry {} is missing", q.seq)))?;
        let leaf = leaf_bytes(entry.seq, entry.ts_ms, &entry.command, &entry.outcome);
        Ok(json!({
            "economy": w.id,
            "seq": q.seq,
            "leaf_index": q.seq - 1,
            "tree_size": size,
            "leaf": hex::encode(&leaf),
            "leaf_hash": to_hex(&merkle::leaf_hash(&leaf)),
            "proof": proof.iter().map(to_hex).collect::<Vec<_>>(),
            "root_hash": to_hex(&root),
        }))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsistencyQuery {
    from: u64,
    to: Option<u64>,
}

#[utoipa::path(get, path = "/v1/economies/{eco}/proofs/consistency", tag = "transparency",
    params(("from" = u64, Query, description = "the older tree size"),
           ("to" = Option<u64>, Query, description = "the newer tree size; default: every committed entry")),
    responses((status = 200, description = "an RFC 9162 consistency proof between two tree sizes", body = Object)))]
async fn consistency(eco: Eco<Read>, Query(q): Query<ConsistencyQuery>) -> ApiResult<Response> {
    prove(eco, move |_, w| {
        let to = check_size(w.tree, q.to, "to")?;
        if q.from > to {
            return Err(ApiError::invalid(format!(
                "from ({}) must not be beyond to ({to})",
                q.from
            )));
        }
        let fetch = &mut |g| w.groups.get(g);
        let proof = w.tree.consistency_proof(q.from, to, fetch)?;
        Ok(json!({
            "economy": w.id,
            "from": q.from,
            "to": to,
            "proof": proof.iter().map(to_hex).collect::<Vec<_>>(),
            "from_root": to_hex(&w.tree.root_at(q.from, fetch)?),
            "to_root": to_hex(&w.tree.root_at(to, fetch)?),
        }))
    })
    .await
}
