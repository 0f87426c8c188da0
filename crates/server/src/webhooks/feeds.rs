//! The two kinds of feed the engine delivers: an operator's subscription (the events the
//! journal implies, from the economy's event log) and an exchange venue (the exports to it,
//! each with the collectible's facts).

use std::sync::{Arc, Mutex};

use jifen_journal::Store;
use serde_json::{json, Value};

use crate::economies::Economy;
use crate::store::StoreHandle;

use super::engine::{Feed, Fetched, Item};
use super::log::{event_id, EventLog, Position};
use super::model;

/// Entries a venue's feed reads per look.
const VENUE_SCAN: usize = 2000;

/// An economy's shared event log and the store connection it reads with.
pub struct SharedLog {
    economy: Arc<Economy>,
    store: Arc<StoreHandle>,
    log: Mutex<Option<(EventLog, Box<dyn Store>)>>,
}

/// How many entries past a reader's position the shared log derives before it waits for the
/// reader to come closer.
const AHEAD_ENTRIES: u64 = 10_000;

impl SharedLog {
    pub fn new(economy: Arc<Economy>, store: Arc<StoreHandle>) -> Arc<SharedLog> {
        Arc::new(SharedLog {
            economy,
            store,
            log: Mutex::new(None),
        })
    }

    /// Runs `f` on the log as it stands, without reading the store; `None` when there is no
    /// log yet or it does not cover `at`.
    fn peek<R>(&self, at: Position, f: impl FnOnce(&EventLog) -> R) -> Option<R> {
        let guard = self.log.lock().unwrap_or_else(|p| p.into_inner());
        let (log, _) = guard.as_ref()?;
        log.covers(at).then(|| f(log))
    }

    /// Runs `f` on the log brought up to the committed head (a chunk at a time); `None` when
    /// the log does not cover `at` (a private log must serve it).
    fn with<R>(&self, at: Position, f: impl FnOnce(&EventLog) -> R) -> Result<Option<R>, String> {
        let mut guard = self.log.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            let mut conn = self.store.open_own().map_err(|e| e.to_string())?;
            let from = at
                .seq
                .saturating_sub(1)
                .min(self.economy.journal.committed_seq());
            let log = EventLog::at(conn.as_mut(), self.economy.id(), from)?;
            *guard = Some((log, conn));
        }
        let (log, conn) = guard.as_mut().expect("just set");
        // Derive events only as far ahead of the reader as it will soon need: the work keeps
        // pace with delivery (and a busy server's spare CPU) instead of racing the writer.
        if log.applied < at.seq.saturating_add(AHEAD_ENTRIES) {
            log.follow(conn.as_mut(), self.economy.journal.committed_seq())?;
        }
        Ok(log.covers(at).then(|| f(log)))
    }
}

/// An operator's subscription: events from the shared log, or from a private one while far
/// behind it.
pub struct SubscriptionFeed {
    pub shared: Arc<SharedLog>,
    pub id: String,
    private: Mutex<Option<(EventLog, Box<dyn Store>)>>,
}

impl SubscriptionFeed {
    pub fn new(shared: Arc<SharedLog>, id: &str) -> SubscriptionFeed {
        SubscriptionFeed {
            shared,
            id: id.to_string(),
            private: Mutex::new(None),
        }
    }

    fn private_fetch(
        &self,
        at: Position,
        max: usize,
        wanted: &[String],
    ) -> Result<Fetched, String> {
        let mut guard = self.private.lock().unwrap_or_else(|p| p.into_inner());
        let usable = guard.as_ref().is_some_and(|(log, _)| log.covers(at));
        if !usable {
            let mut conn = self.shared.store.open_own().map_err(|e| e.to_string())?;
            let log = EventLog::at(
                conn.as_mut(),
                self.shared.economy.id(),
                at.seq.saturating_sub(1),
            )?;
            *guard = Some((log, conn));
        }
        let (log, conn) = guard.as_mut().expect("just set");
        log.follow(conn.as_mut(), self.shared.economy.journal.committed_seq())?;
        Ok(take(log, at, max, wanted))
    }
}

/// Entries committed at or after `at`.
fn entries_from(economy: &Economy, at: Position) -> u64 {
    (economy.journal.committed_seq() + 1).saturating_sub(at.seq)
}

fn wants(wanted: &[String], kind: &str) -> bool {
    wanted.iter().any(|w| w == kind || w == "*")
}

/// The wanted events of `log` from `at`, up to `max`.
fn take(log: &EventLog, at: Position, max: usize, wanted: &[String]) -> Fetched {
    let (entries, through) = log.from(at, max);
    let mut items = Vec::new();
    for x in entries {
        let skip = if x.seq == at.seq { at.n } else { 0 };
        for e in x
            .events
            .iter()
            .filter(|e| e.n >= skip && wants(wanted, e.kind))
        {
            if items.len() == max {
                return Fetched {
                    next: Position { seq: x.seq, n: e.n },
                    items,
                };
            }
            items.push(Item {
                id: event_id(log.economy(), x.seq, e.n),
                at: Position { seq: x.seq, n: e.n },
                ts_ms: x.ts_ms,
                body: e.body.clone(),
                label: e.kind.to_string(),
            });
        }
    }
    Fetched {
        items,
        next: Position {
            seq: through + 1,
            n: 0,
        }
        .max(at),
    }
}

impl Feed for SubscriptionFeed {
    fn fetch(&self, at: Position, max: usize, wanted: &[String]) -> Result<Fetched, String> {
        if let Some(f) = self.shared.with(at, |log| take(log, at, max, wanted))? {
            *self.private.lock().unwrap_or_else(|p| p.into_inner()) = None;
            return Ok(f);
        }
        self.private_fetch(at, max, wanted)
    }

    fn lag(&self, at: Position, wanted: &[String]) -> (u64, Option<i64>) {
        // Never reads the store: the API and metrics ask from async code.
        let head = self.shared.economy.journal.committed_seq();
        let pending = |log: &EventLog| {
            let (n, oldest) = log.pending(at, &|k| wants(wanted, k));
            // Entries not derived yet count as one event each.
            (n + head.saturating_sub(log.applied), oldest)
        };
        if let Some(found) = self.shared.peek(at, pending) {
            return found;
        }
        let guard = self.private.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            Some((log, _)) if log.covers(at) => pending(log),
            _ => (entries_from(&self.shared.economy, at), None),
        }
    }

    fn behind(&self, at: Position) -> u64 {
        entries_from(&self.shared.economy, at)
    }

    fn save(&self, at: Position) -> Result<(), String> {
        model::put_cursor(&self.shared.store, self.shared.economy.id(), &self.id, at)
            .map_err(|e| e.message)
    }

    fn paused(&self, reason: Option<&str>) -> Result<(), String> {
        let (store, eco) = (&self.shared.store, self.shared.economy.id());
        if let Some(mut sub) = model::get(store, eco, &self.id).map_err(|e| e.message)? {
            sub.paused = reason.map(str::to_string);
            model::put(store, eco, &sub).map_err(|e| e.message)?;
        }
        Ok(())
    }
}

/// An exchange venue: each accepted `export_collectible` to it, with the collectible's facts.
pub struct VenueFeed {
    pub economy: Arc<Economy>,
    pub store: Arc<StoreHandle>,
    pub venue: String,
    conn: Mutex<Option<Box<dyn Store>>>,
}

fn venue_cursor_scope(economy: &str) -> String {
    format!("outbox/{economy}")
}

impl VenueFeed {
    pub fn new(economy: Arc<Economy>, store: Arc<StoreHandle>, venue: &str) -> VenueFeed {
        VenueFeed {
            economy,
            store,
            venue: venue.to_string(),
            conn: Mutex::new(None),
        }
    }

    /// Where the venue's deliveries stand: the next seq to look at.
    pub fn stored(store: &StoreHandle, economy: &str, venue: &str) -> Position {
        let through: u64 = store
            .with(|s| s.kv_get(&venue_cursor_scope(economy), venue))
            .ok()
            .flatten()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Position {
            seq: through + 1,
            n: 0,
        }
    }

    fn item(&self, seq: u64, ts_ms: i64, collectible: &str) -> Result<Item, String> {
        let id = format!("jifen:{}:{seq}", self.economy.id());
        let body = venue_body(&self.economy, &id, seq, ts_ms, collectible, &self.venue)?;
        Ok(Item {
            id,
            at: Position { seq, n: 0 },
            ts_ms,
            body,
            label: collectible.to_string(),
        })
    }
}

impl Feed for VenueFeed {
    fn behind(&self, at: Position) -> u64 {
        entries_from(&self.economy, at)
    }

    fn fetch(&self, at: Position, max: usize, _: &[String]) -> Result<Fetched, String> {
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = Some(self.store.open_own().map_err(|e| e.to_string())?);
        }
        let conn = guard.as_mut().expect("just set");
        let head = self.economy.journal.committed_seq();
        let after = at.seq.saturating_sub(1);
        let want = VENUE_SCAN.min(head.saturating_sub(after) as usize);
        let entries = conn
            .entries(self.economy.id(), after, want)
            .map_err(|e| e.to_string())?;
        let mut items = Vec::new();
        let mut through = after;
        for e in entries {
            let command: Value = serde_json::from_str(&e.command).unwrap_or(Value::Null);
            let ours = e.outcome == "ok"
                && command["type"] == "export_collectible"
                && command["venue"].as_str() == Some(self.venue.as_str());
            if ours {
                if items.len() == max {
                    break;
                }
                let collectible = command["collectible"].as_str().unwrap_or("");
                items.push(self.item(e.seq, e.ts_ms, collectible)?);
            }
            through = e.seq;
        }
        Ok(Fetched {
            items,
            next: Position {
                seq: through + 1,
                n: 0,
            },
        })
    }

    /// Entries not yet passed, and the time of the oldest of them (which the export waiting, if
    /// any, cannot precede).
    fn lag(&self, at: Position, _: &[String]) -> (u64, Option<i64>) {
        let head = self.economy.journal.committed_seq();
        let behind = head.saturating_sub(at.seq.saturating_sub(1));
        let oldest = (behind > 0)
            .then(|| {
                self.store
                    .with(|s| s.entry(self.economy.id(), at.seq.max(1)))
            })
            .and_then(|found| found.ok().flatten())
            .map(|e| e.ts_ms);
        (behind, oldest)
    }

    fn save(&self, at: Position) -> Result<(), String> {
        let through = at.seq.saturating_sub(1).to_string();
        self.store
            .with(|s| {
                s.kv_put(
                    &venue_cursor_scope(self.economy.id()),
                    &self.venue,
                    &through,
                )
            })
            .map_err(|e| e.to_string())
    }

    fn paused(&self, _: Option<&str>) -> Result<(), String> {
        Ok(())
    }
}

/// The event sent to a venue for the export at `seq`: what it is, when, and the collectible's
/// fixed facts.
fn venue_body(
    economy: &Economy,
    event_id: &str,
    seq: u64,
    ts_ms: i64,
    collectible: &str,
    venue: &str,
) -> Result<String, String> {
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
        .map_err(|e| e.to_string())?;
    let body = json!({
        "event_id": event_id,
        "type": "collectible_exported",
        "economy": economy.meta.id,
        "seq": seq,
        "time": jifen_journal::time::rfc3339_ms(ts_ms),
        "venue": venue,
        "collectible": collectible,
        "facts": facts,
    });
    Ok(body.to_string())
}
