//! The outbox: exports announced to their venues. **The outbox is the journal**: each accepted
//! `export_collectible` is an event for its venue. The delivery worker reads the journal after
//! each venue's cursor and POSTs each event, in journal order, as JSON signed by the Standard
//! Webhooks scheme (see `jifen_connect::standard_webhooks`). Only a 2xx moves the cursor, and the cursor is stored
//! after each delivery, so delivery is at least once and survives restarts; a crash between a
//! delivery and its cursor write repeats that one event, which the venue drops by its
//! `webhook-id`. Failures retry with exponential backoff (0.5 s doubling to 60 s).

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::economies::{Economies, Economy};
use crate::error::{ApiError, ApiResult};
use crate::store::StoreHandle;
use crate::venues::{self, Venue};

/// How often the worker looks for events.
const TICK: Duration = Duration::from_millis(200);
/// Journal entries read per look.
const SCAN_ENTRIES: usize = 2000;
const BACKOFF_FIRST_MS: u64 = 500;
const BACKOFF_MAX_MS: u64 = 60_000;
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

fn cursor_scope(economy: &str) -> String {
    format!("outbox/{economy}")
}

/// The event waiting for its next attempt.
#[derive(Clone)]
struct Waiting {
    seq: u64,
    collectible: String,
    attempts: u32,
    error: String,
    next: Instant,
}

/// One venue's delivery progress, in memory (the cursor itself is stored).
#[derive(Clone, Default)]
struct Progress {
    /// Every event up to this seq is delivered (or was not for this venue).
    through: u64,
    delivered: u64,
    waiting: Option<Waiting>,
    loaded: bool,
}

/// The delivery worker's state and what it needs: the economies, the store, and whether venues
/// may be on private addresses.
pub struct Outbox {
    progress: Mutex<HashMap<(String, String), Progress>>,
    economies: Arc<Economies>,
    store: Arc<StoreHandle>,
    allow_private: bool,
}

fn backoff_ms(attempts: u32) -> u64 {
    (BACKOFF_FIRST_MS << attempts.min(16)).min(BACKOFF_MAX_MS)
}

impl Outbox {
    pub fn new(economies: Arc<Economies>, store: Arc<StoreHandle>, allow_private: bool) -> Outbox {
        Outbox {
            progress: Mutex::default(),
            economies,
            store,
            allow_private,
        }
    }

    /// The delivery worker: runs until `stop` receives or closes.
    pub fn run(&self, stop: Receiver<()>) {
        loop {
            for economy in self.economies.all() {
                if let Err(e) = self.deliver_economy(&economy) {
                    tracing::warn!(economy = %economy.meta.id, "outbox: {}", e.message);
                }
            }
            match stop.recv_timeout(TICK) {
                Err(RecvTimeoutError::Timeout) => {}
                _ => return,
            }
        }
    }

    fn deliver_economy(&self, economy: &Arc<Economy>) -> ApiResult<()> {
        for (name, venue) in venues::list(&self.store, &economy.meta.id)? {
            self.deliver_venue(economy, &name, &venue)?;
        }
        Ok(())
    }

    fn progress_of(&self, key: &(String, String)) -> ApiResult<Progress> {
        let mut p = self
            .progress
            .lock()
            .map_err(|_| ApiError::internal("outbox lock"))?
            .get(key)
            .cloned()
            .unwrap_or_default();
        if !p.loaded {
            p.through = self
                .store
                .with(|s| s.kv_get(&cursor_scope(&key.0), &key.1))?
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            p.loaded = true;
        }
        Ok(p)
    }

    fn deliver_venue(&self, economy: &Arc<Economy>, name: &str, venue: &Venue) -> ApiResult<()> {
        let id = &economy.meta.id;
        let key = (id.clone(), name.to_string());
        let mut p = self.progress_of(&key)?;
        if p.waiting.as_ref().is_some_and(|w| Instant::now() < w.next) {
            return self.save(key, p);
        }
        let entries = self
            .store
            .with(|s| s.entries(id, p.through, SCAN_ENTRIES))?;
        let mut moved = false;
        for e in entries {
            let command: Value = serde_json::from_str(&e.command).unwrap_or(Value::Null);
            let ours = e.outcome == "ok"
                && command["type"] == "export_collectible"
                && command["venue"].as_str() == Some(name);
            if ours {
                let collectible = command["collectible"].as_str().unwrap_or("").to_string();
                if !self.attempt(economy, name, venue, &e, collectible, &mut p)? {
                    break;
                }
            }
            p.through = e.seq;
            moved = true;
            if ours {
                // Stored at once: a delivered event is repeated only by a crash right here.
                self.store_cursor(id, name, p.through)?;
                moved = false;
            }
        }
        if moved {
            self.store_cursor(id, name, p.through)?;
        }
        self.save(key, p)
    }

    /// One delivery attempt of the export at `e`: whether it was delivered.
    fn attempt(
        &self,
        economy: &Economy,
        name: &str,
        venue: &Venue,
        e: &jifen_journal::Entry,
        collectible: String,
        p: &mut Progress,
    ) -> ApiResult<bool> {
        let id = &economy.meta.id;
        let event_id = format!("jifen:{id}:{}", e.seq);
        let body = event_body(economy, &event_id, e, &collectible, name)?;
        match self.post(venue, &event_id, &body) {
            Ok(()) => {
                p.delivered += 1;
                p.waiting = None;
                tracing::info!(economy = %id, venue = name, seq = e.seq, "outbox: delivered");
                Ok(true)
            }
            Err(why) => {
                let attempts = match &p.waiting {
                    Some(w) if w.seq == e.seq => w.attempts + 1,
                    _ => 1,
                };
                let next = Instant::now() + Duration::from_millis(backoff_ms(attempts - 1));
                tracing::warn!(economy = %id, venue = name, seq = e.seq, attempts, "outbox: delivery failed: {why}");
                p.waiting = Some(Waiting {
                    seq: e.seq,
                    collectible,
                    attempts,
                    error: why,
                    next,
                });
                Ok(false)
            }
        }
    }

    fn store_cursor(&self, economy: &str, venue: &str, seq: u64) -> ApiResult<()> {
        Ok(self
            .store
            .with(|s| s.kv_put(&cursor_scope(economy), venue, &seq.to_string()))?)
    }

    fn save(&self, key: (String, String), p: Progress) -> ApiResult<()> {
        self.progress
            .lock()
            .map_err(|_| ApiError::internal("outbox lock"))?
            .insert(key, p);
        Ok(())
    }

    fn post(&self, venue: &Venue, event_id: &str, body: &str) -> Result<(), String> {
        // Checked again at every delivery: the host's addresses may have changed since.
        let agent = crate::outgoing::agent(DELIVERY_TIMEOUT, self.allow_private);
        // Real time, whatever the economy's clock says: receivers check it against theirs.
        let now_s = jifen_journal::time::now_ms().div_euclid(1000);
        let mut request = agent
            .post(&venue.url)
            .set("Content-Type", "application/json");
        for (name, value) in jifen_connect::standard_webhooks::headers(
            &venue.secret,
            event_id,
            now_s,
            body.as_bytes(),
        ) {
            request = request.set(name, &value);
        }
        match request.send_string(body) {
            Ok(r) if (200..300).contains(&r.status()) => Ok(()),
            Ok(r) => Err(format!("the venue answered {}", r.status())),
            Err(ureq::Error::Status(code, _)) => Err(format!("the venue answered {code}")),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Each venue's progress: how far, how many, and the event waiting with its attempts and
    /// last error.
    pub fn status(&self, economy: &str, venues: &[(String, Venue)]) -> ApiResult<Vec<Value>> {
        let progress = self
            .progress
            .lock()
            .map_err(|_| ApiError::internal("outbox lock"))?
            .clone();
        let now = Instant::now();
        Ok(venues
            .iter()
            .map(|(name, v)| {
                let p = progress
                    .get(&(economy.to_string(), name.clone()))
                    .cloned()
                    .unwrap_or_default();
                json!({
                    "venue": name,
                    "url": v.url,
                    "delivered_through_seq": p.through,
                    "delivered_since_start": p.delivered,
                    "waiting": p.waiting.as_ref().map(|w| json!({
                        "seq": w.seq,
                        "collectible": w.collectible,
                        "attempts": w.attempts,
                        "last_error": w.error,
                        "next_attempt_in_ms": w.next.saturating_duration_since(now).as_millis() as u64,
                    })),
                })
            })
            .collect())
    }
}

/// The event for the export at `e`: what it is, when, and the collectible's fixed facts.
fn event_body(
    economy: &Economy,
    event_id: &str,
    e: &jifen_journal::Entry,
    collectible: &str,
    venue: &str,
) -> ApiResult<String> {
    let name = collectible.to_string();
    let facts = economy
        .journal
        .read(move |v| {
            let e = v.ledger.economy();
            e.collectibles().find(&name).map(|c| {
                json!({
                    "series": c.series.as_str(),
                    "content_sha256": c.content_hex(),
                    "atoms": c.atoms,
                    "owner": e.accounts().get(c.owner).name.as_str(),
                    "state_now": c.state.as_str(),
                })
            })
        })
        .map_err(ApiError::from)?;
    let body = json!({
        "event_id": event_id,
        "type": "collectible_exported",
        "economy": economy.meta.id,
        "seq": e.seq,
        "time": jifen_journal::time::rfc3339_ms(e.ts_ms),
        "venue": venue,
        "collectible": collectible,
        "facts": facts,
    });
    Ok(body.to_string())
}
