//! The open economies, each with its writer, and how to read them: small reads run on the
//! writer between batches ([`Economy::read`]); large views read a copy of committed state off
//! the writer's thread ([`Economy::copy`]), so they never hold up commits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use jifen_journal::{Committed, EconomyMeta, Journal, JournalConfig, JournalError, Store, View};
use serde_json::{json, Value};

use crate::config::{EconomySettings, SETTINGS_SCOPE};
use crate::error::{ApiError, ApiResult};
use crate::store::StoreHandle;
use crate::views;

/// How many of an account's status changes its history shows.
const TIER_CHANGES_SHOWN: usize = 20;

/// One open economy: its writer and what the server keeps beside it.
pub struct Economy {
    pub meta: EconomyMeta,
    settings: RwLock<EconomySettings>,
    pub journal: Journal,
    /// Which opening of the economy this is, in this process: what is cached beside an
    /// economy (a connector's orders) is read again when the economy was opened again (with
    /// several nodes, another node may have written it in between).
    pub opening: u64,
}

static OPENINGS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl Economy {
    pub fn id(&self) -> &str {
        &self.meta.id
    }

    pub fn settings(&self) -> EconomySettings {
        self.settings.read().map(|s| s.clone()).unwrap_or_default()
    }

    /// Runs `f` on committed state, on the economy's writer, without blocking this task. For
    /// small reads: a large view reads a [`copy`](Self::copy) instead.
    pub async fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&View<'_>) -> R + Send + 'static,
    ) -> ApiResult<R> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.journal.read_with(Box::new(move |view| {
            let _ = tx.send(f(view));
        }))?;
        rx.await
            .map_err(|_| ApiError::unavailable("the economy's writer stopped"))
    }

    /// A copy of committed state holding every command answered so far, to read off the
    /// writer's thread (one copy serves every reader until the next commit).
    pub async fn copy(&self) -> ApiResult<Arc<Committed>> {
        if let Some(copy) = self.journal.current_copy() {
            return Ok(copy);
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.journal.copy_with(Box::new(move |copy| {
            let _ = tx.send(copy);
        }))?;
        rx.await
            .map_err(|_| ApiError::unavailable("the economy's writer stopped"))
    }

    /// Runs `f` on a copy of committed state, on a blocking thread.
    pub async fn read_copy<R: Send + 'static>(
        &self,
        f: impl FnOnce(&View<'_>) -> R + Send + 'static,
    ) -> ApiResult<R> {
        let copy = self.copy().await?;
        tokio::task::spawn_blocking(move || f(&copy.view()))
            .await
            .map_err(ApiError::internal)
    }

    /// The account view of `name` (see `views::account`).
    pub async fn account_view(&self, name: String) -> ApiResult<Option<Value>> {
        self.read(move |v| {
            let e = v.ledger.economy();
            e.account(&name).map(|a| views::account(e, a))
        })
        .await
    }

    /// The latest status changes of `name` (SPEC §16) as history lines, newest first: seq, the
    /// time of the entry that made it, and what it became, named by the table now.
    pub async fn tier_history(
        &self,
        store: &Arc<StoreHandle>,
        name: String,
    ) -> ApiResult<Vec<Value>> {
        let changes = self.tier_changes(name).await?;
        let id = self.meta.id.clone();
        let lines = store
            .run(move |s| {
                let mut out = Vec::with_capacity(changes.len());
                for (seq, mut line) in changes {
                    if let Some(e) = s.entry(&id, seq)? {
                        line["time"] = json!(jifen_journal::time::rfc3339_ms(e.ts_ms));
                        out.push(line);
                    }
                }
                Ok(out)
            })
            .await?;
        Ok(lines)
    }

    /// Marks the `pay_order` entries of a history whose order is held for review now (SPEC
    /// §17) with `"held": true`, so the line can say so.
    pub async fn mark_held(&self, entries: &mut [Value]) -> ApiResult<()> {
        let orders: Vec<String> = entries
            .iter()
            .filter(|e| e["type"] == "pay_order")
            .filter_map(|e| e["command"]["order"].as_str().map(String::from))
            .collect();
        if orders.is_empty() {
            return Ok(());
        }
        let held: std::collections::HashSet<String> = self
            .read(move |v| {
                let e = v.ledger.economy();
                let held =
                    |o: &&String| e.orders().find_id(o).is_some_and(|id| e.risk().is_held(id));
                orders.iter().filter(held).cloned().collect()
            })
            .await?;
        for e in entries.iter_mut().filter(|e| e["type"] == "pay_order") {
            if e["command"]["order"]
                .as_str()
                .is_some_and(|o| held.contains(o))
            {
                e["held"] = json!(true);
            }
        }
        Ok(())
    }

    async fn tier_changes(&self, name: String) -> ApiResult<Vec<(u64, Value)>> {
        self.read(move |v| {
            let e = v.ledger.economy();
            let Some(id) = e.accounts().find(&name) else {
                return Vec::new();
            };
            let mine = e.members().log().iter().rev().filter(|c| c.account == id);
            mine.take(TIER_CHANGES_SHOWN)
                .map(|c| {
                    let mut line = views::tier_change(e, c);
                    line["seq"] = json!(c.seq);
                    (c.seq, line)
                })
                .collect()
        })
        .await
    }

    /// The economy as `GET /v1/economies/{eco}` shows it.
    pub async fn view(&self) -> ApiResult<Value> {
        let settings = self.settings();
        self.read(move |v| economy_json(v, &settings)).await
    }
}

/// SPEC §11's totals without accounts, the price, the settings and the journal head.
fn economy_json(v: &View<'_>, settings: &EconomySettings) -> Value {
    let e = v.ledger.economy();
    let price = e.price();
    let policy = e.policy();
    let mut out = views::totals(v.ledger);
    let extra = json!({
        "id": v.meta.id,
        "name": v.meta.name,
        "timezone": v.meta.timezone,
        "created_at": v.meta.created_at,
        "auto_confirm_days": settings.auto_confirm_days,
        "terms": settings.terms.shown(),
        "members": views::members(e),
        "price_yuan_per_point": price.yuan_per_point(4),
        "price": {"num_fen": price.num_fen, "den_atoms": price.den_atoms},
        "quota_outstanding_fen": e.quota_total_fen(),
        "exits": e.exits_total(),
        "clock": jifen_core::format_instant(e.clock()),
        "collectible_policy": {
            "gifting_enabled": policy.gifting_enabled,
            "gift_hold_days": policy.gift_hold_days,
            "exchange_enabled": policy.exchange_enabled,
        },
        "collectibles": e.collectibles().len(),
        "locked_atoms": e.locked_atoms(),
        "accounts": e.accounts().len(),
        "orders": e.orders().len(),
        "pending_orders": e.orders().pending(),
        "settled_days": e.settled_days().len(),
        "last_settled_day": e.settled_days().iter().next_back().map(|d| jifen_core::format_day(*d)),
        "head_seq": v.head_seq,
        "head_hash": hex::encode(v.head_hash),
    });
    if let (Value::Object(out), Value::Object(extra)) = (&mut out, extra) {
        out.extend(extra);
    }
    out
}

/// Every economy open on this node, by id.
pub struct Economies {
    open: RwLock<HashMap<String, Arc<Economy>>>,
    store: Arc<StoreHandle>,
    journal: JournalConfig,
    /// Damage found while opening (snapshots that failed their checks).
    startup_problems: Mutex<Vec<String>>,
}

impl Economies {
    pub fn new(store: Arc<StoreHandle>, journal: JournalConfig) -> Economies {
        Economies {
            open: RwLock::default(),
            store,
            journal,
            startup_problems: Mutex::default(),
        }
    }

    /// The configuration each economy's journal is opened with.
    pub fn journal_config(&self) -> JournalConfig {
        self.journal.clone()
    }

    pub fn get(&self, id: &str) -> Option<Arc<Economy>> {
        self.open.read().ok()?.get(id).cloned()
    }

    /// Every open economy, by id.
    pub fn all(&self) -> Vec<Arc<Economy>> {
        let mut all: Vec<_> = self
            .open
            .read()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        all.sort_by(|a: &Arc<Economy>, b| a.meta.id.cmp(&b.meta.id));
        all
    }

    pub fn len(&self) -> usize {
        self.open.read().map_or(0, |m| m.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What start-up found wrong (snapshots skipped), economy by economy.
    pub fn startup_problems(&self) -> Vec<String> {
        self.startup_problems
            .lock()
            .map(|p| p.clone())
            .unwrap_or_default()
    }

    /// Recovers an economy and starts its writer.
    pub fn open(&self, meta: EconomyMeta) -> Result<Arc<Economy>, JournalError> {
        let store = self.store.open_own()?;
        self.open_on(meta, store)
    }

    /// As `open`, on a PostgreSQL store fenced at the lease this node holds.
    pub fn open_fenced(
        &self,
        meta: EconomyMeta,
        node: &str,
        epoch: i64,
    ) -> Result<Arc<Economy>, JournalError> {
        let url = self
            .store
            .database()
            .ok_or_else(|| JournalError::Invalid("several nodes need PostgreSQL".into()))?;
        let mut store = jifen_journal::postgres::PgStore::connect(url)?;
        store.set_fence(node, epoch)?;
        self.open_on(meta, Box::new(store))
    }

    fn open_on(
        &self,
        meta: EconomyMeta,
        store: Box<dyn Store>,
    ) -> Result<Arc<Economy>, JournalError> {
        let (journal, info) = Journal::open(store, &meta.id, self.journal.clone())?;
        for skipped in &info.skipped_snapshots {
            tracing::error!(economy = %meta.id, %skipped, "snapshot skipped: it failed its checks; the economy was rebuilt from the journal");
            if let Ok(mut p) = self.startup_problems.lock() {
                p.push(format!("economy {}: {skipped}", meta.id));
            }
        }
        tracing::info!(economy = %meta.id, head_seq = info.head_seq, snapshot_seq = ?info.snapshot_seq, "economy open");
        let settings = self
            .store
            .with(|s| s.kv_get(SETTINGS_SCOPE, &meta.id))?
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        let economy = Arc::new(Economy {
            meta: meta.clone(),
            settings: RwLock::new(settings),
            journal,
            opening: OPENINGS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        });
        self.open
            .write()
            .map_err(|_| JournalError::Unavailable("lock poisoned".into()))?
            .insert(meta.id.clone(), economy.clone());
        Ok(economy)
    }

    /// Stores an economy's settings (blocking).
    pub fn put_settings(&self, economy: &Economy, settings: EconomySettings) -> ApiResult<()> {
        store_settings(&self.store, &economy.meta.id, &settings)?;
        if let Ok(mut guard) = economy.settings.write() {
            *guard = settings;
        }
        Ok(())
    }

    /// Stops serving an economy here (its lease is gone or handed over). Requests in flight
    /// keep their reference; the fence refuses anything they try to commit.
    pub fn close(&self, id: &str) {
        let removed = self.open.write().ok().and_then(|mut m| m.remove(id));
        if let Some(e) = removed {
            if let Ok(e) = Arc::try_unwrap(e) {
                let _ = e.journal.shutdown();
            }
        }
    }

    /// Stops every writer: each finishes its queue and takes a snapshot.
    pub fn shutdown(&self) {
        let all: Vec<Arc<Economy>> = match self.open.write() {
            Ok(mut m) => m.drain().map(|(_, e)| e).collect(),
            Err(_) => return,
        };
        for economy in all {
            let id = economy.meta.id.clone();
            let result = match Arc::try_unwrap(economy) {
                Ok(e) => e.journal.shutdown(),
                // Still referenced by a request in flight: snapshot now; the writer stops
                // when the last reference goes.
                Err(shared) => shared.journal.snapshot().map(|_| ()),
            };
            if let Err(err) = result {
                tracing::error!(economy = %id, %err, "shutdown snapshot failed");
            }
        }
    }
}

/// Stores an economy's settings under its id (blocking).
pub fn store_settings(
    store: &StoreHandle,
    economy: &str,
    settings: &EconomySettings,
) -> ApiResult<()> {
    let text = serde_json::to_string(settings).map_err(ApiError::internal)?;
    store.with(|s| s.kv_put(SETTINGS_SCOPE, economy, &text))?;
    Ok(())
}

/// Where the key that made each of an economy's rule changes is kept, by seq.
pub fn rule_authors_scope(economy: &str) -> String {
    format!("rule_authors/{economy}")
}
