//! Verify runs started from the console: `jifen verify` of one economy, in the background on a
//! connection of its own, with its progress while it runs and its result stored after.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jifen_journal::time::rfc3339_ms;
use jifen_journal::{verify_economy, JournalError, VerifyReport};
use serde_json::{json, Value};

use crate::config::Clock;
use crate::error::ApiResult;
use crate::store::StoreHandle;

const VERIFY_SCOPE: &str = "verify";
/// The most problems a stored result lists.
const PROBLEMS_KEPT: usize = 20;

pub struct VerifyRuns {
    store: Arc<StoreHandle>,
    clock: Clock,
    /// Economy → (entries checked, entries in all) of a run in progress.
    running: Mutex<HashMap<String, (u64, u64)>>,
}

impl VerifyRuns {
    pub fn new(store: Arc<StoreHandle>, clock: Clock) -> VerifyRuns {
        VerifyRuns {
            store,
            clock,
            running: Mutex::default(),
        }
    }

    /// The last result and the run in progress, if any (blocking).
    pub fn status(&self, economy: &str) -> ApiResult<Value> {
        let last = self
            .store
            .with(|s| s.kv_get(VERIFY_SCOPE, economy))?
            .and_then(|t| serde_json::from_str::<Value>(&t).ok());
        let running = self
            .running
            .lock()
            .ok()
            .and_then(|m| m.get(economy).copied());
        Ok(json!({
            "last": last,
            "running": running.map(|(done, total)| json!({"checked": done, "entries": total})),
        }))
    }

    /// Starts a run unless one is running; answers whether this call started it.
    pub fn start(self: &Arc<Self>, economy: &str) -> std::io::Result<bool> {
        let fresh = self
            .running
            .lock()
            .map(|mut m| m.insert(economy.to_string(), (0, 0)).is_none())
            .unwrap_or(false);
        if fresh {
            let (runs, id) = (self.clone(), economy.to_string());
            std::thread::Builder::new()
                .name("console-verify".into())
                .spawn(move || runs.run(&id))?;
        }
        Ok(fresh)
    }

    /// Verifies the economy on a connection of its own, and records the result.
    fn run(&self, economy: &str) {
        let started = (self.clock)();
        let result = self.store.open_own().and_then(|mut store| {
            verify_economy(store.as_mut(), economy, &mut |done, total| {
                if let Ok(mut m) = self.running.lock() {
                    m.insert(economy.to_string(), (done, total));
                }
            })
        });
        let record = self.record(started, result);
        if record["ok"] == true {
            tracing::info!(economy, "verify passed");
        } else {
            tracing::warn!(economy, problems = %record["problems"], "verify failed");
        }
        if let Err(e) = self
            .store
            .with(|s| s.kv_put(VERIFY_SCOPE, economy, &record.to_string()))
        {
            tracing::warn!(economy, "cannot record the verify result: {e}");
        }
        if let Ok(mut m) = self.running.lock() {
            m.remove(economy);
        }
    }

    fn record(&self, started: i64, result: Result<VerifyReport, JournalError>) -> Value {
        let now = rfc3339_ms((self.clock)());
        match result {
            Ok(r) => json!({
                "ok": r.ok(),
                "at": now,
                "started_at": rfc3339_ms(started),
                "entries": r.entries,
                "head_hash": r.head_hash.map(hex::encode),
                "snapshots_checked": r.snapshots_checked,
                "tree_heads_checked": r.tree_heads_checked,
                "problems": r.problems.iter().take(PROBLEMS_KEPT).collect::<Vec<_>>(),
            }),
            Err(e) => json!({
                "ok": false,
                "at": now,
                "started_at": rfc3339_ms(started),
                "problems": [format!("verify could not run: {e}")],
            }),
        }
    }
}
