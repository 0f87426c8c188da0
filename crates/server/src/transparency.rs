//! Transparency (issue 8): signed tree heads over each economy's journal, and the inclusion and
//! consistency proofs of RFC 9162, so anyone can check the books without trusting the server.
//!
//! The deployment's Ed25519 key lives in the data directory (`tree-signing.key`, created on
//! first start, readable only by its owner) unless `--signing-key FILE` names another. The
//! server signs a head after every accepted dividend settlement (the scheduler's tick collects
//! them from the journal's tree) and on demand. Heads are kept in the store's settings, under
//! `tree_heads/<economy>`, keyed by tree size.

use std::path::Path;
use std::sync::Arc;

use axum::extract::{Path as UrlPath, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use jifen_journal::ed25519_dalek::{SigningKey, VerifyingKey};
use jifen_journal::heads::{key_id, TreeHead};
use jifen_journal::merkle::{self, entry_leaf_hash, leaf_bytes, to_hex, Tree, GROUP};
use jifen_journal::{Hash, JournalError};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::app::{App, Economy};
use crate::auth::{allow, Auth, Need};
use crate::error::{ApiError, ApiResult};
use crate::routes::{blocking, AppState};

/// The settings scope holding an economy's signed heads.
fn heads_scope(economy: &str) -> String {
    format!("tree_heads/{economy}")
}

/// The most heads one list request returns.
const HEADS_LIMIT_MAX: usize = 1000;

/// The deployment's signing key.
pub struct TreeSigner {
    key: SigningKey,
}

impl TreeSigner {
    /// Reads the key file (64 hex digits: the Ed25519 seed), creating it when absent.
    pub fn load_or_create(path: &Path) -> Result<TreeSigner, String> {
        let shown = path.display();
        match std::fs::read_to_string(path) {
            Ok(text) => {
                refuse_if_shared(path)?;
                let seed: [u8; 32] = hex::decode(text.trim())
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| format!("{shown}: not an Ed25519 seed (64 hex digits)"))?;
                Ok(TreeSigner {
                    key: SigningKey::from_bytes(&seed),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut seed = [0u8; 32];
                getrandom::fill(&mut seed).map_err(|e| format!("no randomness: {e}"))?;
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                }
                write_private(path, &hex::encode(seed)).map_err(|e| format!("{shown}: {e}"))?;
                Ok(TreeSigner {
                    key: SigningKey::from_bytes(&seed),
                })
            }
            Err(e) => Err(format!("{shown}: {e}")),
        }
    }

    /// The key wallet links are signed with: derived from the seed, so links survive restarts.
    pub fn wallet_key(&self) -> [u8; 32] {
        self.derived_key(b"jifen-wallet-link-v1")
    }

    /// The key console sessions are signed with.
    pub fn session_key(&self) -> [u8; 32] {
        self.derived_key(b"jifen-console-session-v1")
    }

    /// A key for one purpose, derived from the seed.
    fn derived_key(&self, purpose: &[u8]) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        Sha256::new()
            .chain_update(purpose)
            .chain_update(self.key.to_bytes())
            .finalize()
            .into()
    }

    pub fn public(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    pub fn public_json(&self) -> Value {
        let public = self.public();
        json!({
            "algorithm": "ed25519",
            "public_key": hex::encode(public.as_bytes()),
            "key_id": key_id(&public),
        })
    }
}

/// Refuses a key file that the file's group or other users can read or write: whoever reads
/// the seed can sign tree heads, console sessions and wallet links as this server.
fn refuse_if_shared(path: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(format!(
                "the signing key {} can be read by other users (mode {:o}); anyone who reads it can sign sessions, wallet links and tree heads as this server. Run `chmod 600 {}`, and if others may already have read it, replace it with a new key (see docs/API.md, Security model)",
                path.display(),
                mode & 0o777,
                path.display()
            ));
        }
    }
    Ok(())
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// Reads complete groups' leaf hashes back from the journal, each group once per request
/// (a proof and the roots beside it often need the same group).
struct GroupReader<'a> {
    app: &'a App,
    economy: &'a str,
    read: std::collections::HashMap<u64, Vec<Hash>>,
}

impl<'a> GroupReader<'a> {
    fn new(app: &'a App, economy: &'a str) -> Self {
        GroupReader {
            app,
            economy,
            read: Default::default(),
        }
    }

    fn get(&mut self, group: u64) -> Result<Vec<Hash>, JournalError> {
        if let Some(leaves) = self.read.get(&group) {
            return Ok(leaves.clone());
        }
        let leaves = group_leaves(self.app, self.economy, group)?;
        self.read.insert(group, leaves.clone());
        Ok(leaves)
    }
}

/// The leaf hashes of complete group `group`, read back from the journal.
fn group_leaves(app: &App, economy: &str, group: u64) -> Result<Vec<Hash>, JournalError> {
    let entries = app.with_store(|s| s.entries(economy, group * GROUP, GROUP as usize))?;
    if entries.len() as u64 != GROUP {
        return Err(JournalError::Corrupt {
            economy: economy.to_string(),
            seq: group * GROUP + entries.len() as u64 + 1,
            what: "a Merkle group's entry is missing".into(),
        });
    }
    Ok(entries
        .iter()
        .map(|e| entry_leaf_hash(e.seq, e.ts_ms, &e.command, &e.outcome))
        .collect())
}

/// A copy of the economy's tree (a few bytes per 256 entries) holding at least every entry
/// committed when called, so proofs never hold the lock its feeding thread needs.
fn tree_of(economy: &Economy) -> Result<Tree, JournalError> {
    let committed = economy.journal.read(|v| v.head_seq)?;
    // The tree's thread hashes committed blocks just after their commit: wait for it briefly.
    for _ in 0..400 {
        let state = merkle::lock(economy.journal.tree());
        if state.tree.size() >= committed {
            return Ok(state.tree.clone());
        }
        drop(state);
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    Err(JournalError::Unavailable(
        "the Merkle tree is still catching up with the journal; retry".into(),
    ))
}

/// The economy's tree once its thread has built it at start-up (it may take a while on a long
/// journal): a copy holding every entry committed when called.
pub fn tree_when_built(economy: &Economy) -> Result<Tree, JournalError> {
    for _ in 0..150 {
        match tree_of(economy) {
            Err(JournalError::Unavailable(_)) => {}
            done => return done,
        }
    }
    tree_of(economy)
}

/// The inclusion proof of entry `seq` in the tree of `size` entries.
pub fn inclusion_proof(
    app: &App,
    economy: &Economy,
    seq: u64,
    size: u64,
) -> Result<Vec<Hash>, JournalError> {
    let tree = tree_of(economy)?;
    let mut groups = GroupReader::new(app, &economy.meta.id);
    tree.inclusion_proof(seq - 1, size, &mut |g| groups.get(g))
}

/// Signs and stores the head of the first `size` entries.
pub fn sign_head(app: &App, economy: &Economy, size: u64) -> Result<TreeHead, JournalError> {
    let id = &economy.meta.id;
    let tree = tree_of(economy)?;
    let root = tree.root_at(size, &mut |g| group_leaves(app, id, g))?;
    let head = TreeHead::sign(id, size, root, app.now_ms(), &app.signer.key);
    let text = head.to_json(&app.signer.public()).to_string();
    app.with_store(|s| s.kv_put(&heads_scope(id), &format!("{size:020}"), &text))?;
    Ok(head)
}

/// Signs a head for every settlement committed since the last call.
pub fn sign_due_heads(app: &App, economy: &Economy) -> Result<(), JournalError> {
    let due = std::mem::take(&mut merkle::lock(economy.journal.tree()).heads_due);
    if let Some(&size) = due.last() {
        // One head at the latest settlement covers the ones before it.
        let head = sign_head(app, economy, size)?;
        tracing::info!(economy = %economy.meta.id, tree_size = head.tree_size, root = %to_hex(&head.root), "tree head signed after a settlement");
    }
    Ok(())
}

/// Every stored head of an economy, oldest first.
pub fn stored_heads(app: &App, economy: &str) -> Result<Vec<Value>, JournalError> {
    let rows = app.with_store(|s| s.kv_list(&heads_scope(economy)))?;
    Ok(rows
        .into_iter()
        .filter_map(|(_, text)| serde_json::from_str(&text).ok())
        .collect())
}

fn size_of(head: &Value) -> u64 {
    head["tree_size"].as_u64().unwrap_or(0)
}

/// The stored head of the largest tree, if any.
pub fn latest_stored_head(app: &App, economy: &str) -> Result<Option<Value>, JournalError> {
    Ok(stored_heads(app, economy)?.into_iter().max_by_key(size_of))
}

#[utoipa::path(get, path = "/v1/tree-key", tag = "transparency",
    responses((status = 200, description = "the Ed25519 public key that signs tree heads", body = Object)))]
pub async fn tree_key(State(app): AppState) -> Response {
    Json(app.signer.public_json()).into_response()
}

#[utoipa::path(get, path = "/v1/economies/{eco}/tree-heads/latest", tag = "transparency",
    params(("eco" = String, Path)),
    responses((status = 200, description = "the newest signed tree head", body = Object),
              (status = 404, description = "no head signed yet")))]
pub async fn latest_head(
    State(app): AppState,
    Auth(p): Auth,
    UrlPath(eco): UrlPath<String>,
) -> ApiResult<Response> {
    let economy = app.economy_for(&p, &eco)?;
    allow(&p, Need::Read)?;
    let id = economy.meta.id.clone();
    let latest = blocking(&app, move |app| Ok(latest_stored_head(app, &id)?)).await?;
    let latest = latest.ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "no_tree_head",
            "no tree head has been signed yet: one is signed after every dividend settlement, or POST …/tree-heads",
        )
    })?;
    Ok(Json(latest).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadsQuery {
    pub limit: Option<usize>,
}

#[utoipa::path(get, path = "/v1/economies/{eco}/tree-heads", tag = "transparency",
    params(("eco" = String, Path), ("limit" = Option<usize>, Query, description = "1 to 1000, default 100; newest first")),
    responses((status = 200, description = "signed tree heads, newest first", body = Object)))]
pub async fn list_heads(
    State(app): AppState,
    Auth(p): Auth,
    UrlPath(eco): UrlPath<String>,
    Query(q): Query<HeadsQuery>,
) -> ApiResult<Response> {
    let economy = app.economy_for(&p, &eco)?;
    allow(&p, Need::Read)?;
    let limit = crate::routes::limit_within(q.limit, 100, HEADS_LIMIT_MAX)?;
    let id = economy.meta.id.clone();
    let mut heads = blocking(&app, move |app| Ok(stored_heads(app, &id)?)).await?;
    heads.sort_by_key(|h| std::cmp::Reverse(size_of(h)));
    heads.truncate(limit);
    Ok(
        Json(json!({ "tree_heads": heads, "public_key": app.signer.public_json() }))
            .into_response(),
    )
}

#[utoipa::path(post, path = "/v1/economies/{eco}/tree-heads", tag = "transparency",
    params(("eco" = String, Path)),
    responses((status = 200, description = "a head signed now, over every committed entry", body = Object)))]
pub async fn post_head(
    State(app): AppState,
    Auth(p): Auth,
    UrlPath(eco): UrlPath<String>,
) -> ApiResult<Response> {
    let economy = app.economy_for(&p, &eco)?;
    allow(&p, Need::Manage)?;
    let head = blocking(&app, move |app| {
        let size = tree_of(&economy)?.size();
        Ok(sign_head(app, &economy, size)?)
    })
    .await?;
    Ok(Json(head.to_json(&app.signer.public())).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    pub seq: u64,
    pub tree_size: Option<u64>,
}

/// What a proof handler works with: the app, the economy's id, a copy of its tree, and a reader
/// of complete groups' leaves.
type ProofWork = dyn FnOnce(
        &App,
        &str,
        &Tree,
        &mut dyn FnMut(u64) -> Result<Vec<Hash>, JournalError>,
    ) -> ApiResult<Value>
    + Send;

/// Runs a proof request for a reader of `eco`, off the async threads.
async fn prove(app: AppState, p: Auth, eco: String, work: Box<ProofWork>) -> ApiResult<Response> {
    let (State(app), Auth(p)) = (app, p);
    let economy = app.economy_for(&p, &eco)?;
    allow(&p, Need::Read)?;
    let body = blocking(&app, move |app| {
        let id = economy.meta.id.clone();
        let tree = tree_of(&economy)?;
        let mut groups = GroupReader::new(app, &id);
        work(app, &id, &tree, &mut |g| groups.get(g))
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

#[utoipa::path(get, path = "/v1/economies/{eco}/proofs/inclusion", tag = "transparency",
    params(("eco" = String, Path), ("seq" = u64, Query, description = "the entry"),
           ("tree_size" = Option<u64>, Query, description = "the tree the proof is for; default: every committed entry")),
    responses((status = 200, description = "the entry's leaf and its RFC 9162 inclusion proof", body = Object)))]
pub async fn inclusion(
    app: AppState,
    auth: Auth,
    UrlPath(eco): UrlPath<String>,
    Query(q): Query<InclusionQuery>,
) -> ApiResult<Response> {
    prove(
        app,
        auth,
        eco,
        Box::new(move |app, id, tree, fetch| {
            let size = check_size(tree, q.tree_size, "tree_size")?;
            if q.seq == 0 || q.seq > size {
                return Err(ApiError::invalid(format!(
                    "seq must be 1 to the tree size {size}"
                )));
            }
            let proof = tree.inclusion_proof(q.seq - 1, size, fetch)?;
            let root = tree.root_at(size, fetch)?;
            let entry = app
                .with_store(|s| s.entry(id, q.seq))?
                .ok_or_else(|| ApiError::internal(format!("entry {} is missing", q.seq)))?;
            let leaf = leaf_bytes(entry.seq, entry.ts_ms, &entry.command, &entry.outcome);
            Ok(json!({
                "economy": id,
                "seq": q.seq,
                "leaf_index": q.seq - 1,
                "tree_size": size,
                "leaf": hex::encode(&leaf),
                "leaf_hash": to_hex(&merkle::leaf_hash(&leaf)),
                "proof": proof.iter().map(to_hex).collect::<Vec<_>>(),
                "root_hash": to_hex(&root),
            }))
        }),
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    pub from: u64,
    pub to: Option<u64>,
}

#[utoipa::path(get, path = "/v1/economies/{eco}/proofs/consistency", tag = "transparency",
    params(("eco" = String, Path), ("from" = u64, Query, description = "the older tree size"),
           ("to" = Option<u64>, Query, description = "the newer tree size; default: every committed entry")),
    responses((status = 200, description = "an RFC 9162 consistency proof between two tree sizes", body = Object)))]
pub async fn consistency(
    app: AppState,
    auth: Auth,
    UrlPath(eco): UrlPath<String>,
    Query(q): Query<ConsistencyQuery>,
) -> ApiResult<Response> {
    prove(
        app,
        auth,
        eco,
        Box::new(move |_, id, tree, fetch| {
            let to = check_size(tree, q.to, "to")?;
            if q.from > to {
                return Err(ApiError::invalid(format!(
                    "from ({}) must not be beyond to ({to})",
                    q.from
                )));
            }
            let proof = tree.consistency_proof(q.from, to, fetch)?;
            Ok(json!({
                "economy": id,
                "from": q.from,
                "to": to,
                "proof": proof.iter().map(to_hex).collect::<Vec<_>>(),
                "from_root": to_hex(&tree.root_at(q.from, fetch)?),
                "to_root": to_hex(&tree.root_at(to, fetch)?),
            }))
        }),
    )
    .await
}

/// The signer an [`App`] holds: `--signing-key`, or the data directory's key file.
pub fn signer_for(data_dir: &Path, file: Option<&Path>) -> Result<Arc<TreeSigner>, JournalError> {
    let path = file.map_or_else(|| data_dir.join("tree-signing.key"), Path::to_path_buf);
    TreeSigner::load_or_create(&path)
        .map(Arc::new)
        .map_err(JournalError::Invalid)
}
