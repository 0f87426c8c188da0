//! The event log of one economy: a ledger that follows the journal's committed entries (read
//! from the store, so nothing is seen before it is committed) and the events each entry
//! implies, kept for a window of recent entries. One log per economy serves every subscription
//! near the head; a subscription far behind (after a long outage, or redelivering from long
//! ago) follows with a private log of its own, started from the ledger as of its position,
//! until it reaches the shared one.

use std::collections::VecDeque;
use std::sync::Arc;

use jifen_core::Ledger;
use jifen_journal::{Entry, Store};
use jifen_wire::parse_command_line;

use super::events;

/// Entries read from the store per look.
const READ_ENTRIES: usize = 2000;
/// Events kept in the window (the entries holding them are dropped oldest first).
const WINDOW_EVENTS: usize = 200_000;

/// Where a subscription stands: the next event to deliver is the first at or after
/// (`seq`, `n`), `n` counting the events of entry `seq` from 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub seq: u64,
    pub n: u32,
}

impl Position {
    /// The text stored for a cursor: `<seq>:<n>`.
    pub fn text(&self) -> String {
        format!("{}:{}", self.seq, self.n)
    }

    pub fn parse(s: &str) -> Option<Position> {
        let (seq, n) = s.split_once(':')?;
        Some(Position {
            seq: seq.parse().ok()?,
            n: n.parse().ok()?,
        })
    }
}

/// One event, as derived.
pub struct Event {
    pub kind: &'static str,
    pub n: u32,
    /// The whole body: `{"type", "id", "economy", "seq", "time", "data"}`.
    pub body: String,
}

/// The events of one entry (entries without events are not kept).
pub struct EntryEvents {
    pub seq: u64,
    pub ts_ms: i64,
    pub events: Vec<Event>,
}

/// A ledger following the journal, and the events of the entries in its window.
pub struct EventLog {
    economy: String,
    ledger: Ledger,
    /// Every entry up to here is applied.
    pub applied: u64,
    /// The window covers the entries after this seq.
    pub window_after: u64,
    window: VecDeque<Arc<EntryEvents>>,
    window_events: usize,
}

impl EventLog {
    /// A log whose ledger stands after entry `seq`, read from `store` (the newest snapshot at
    /// or before it, then the entries up to it).
    pub fn at(store: &mut dyn Store, economy: &str, seq: u64) -> Result<EventLog, String> {
        let ledger = jifen_journal::ledger_at(store, economy, seq, &|| true)
            .map_err(|e| format!("the ledger as of seq {seq}: {e}"))?;
        Ok(EventLog {
            economy: economy.to_string(),
            ledger,
            applied: seq,
            window_after: seq,
            window: VecDeque::new(),
            window_events: 0,
        })
    }

    /// Reads and applies committed entries after `applied`, up to `head` (at most a chunk).
    pub fn follow(&mut self, store: &mut dyn Store, head: u64) -> Result<(), String> {
        if head <= self.applied {
            return Ok(());
        }
        let want = READ_ENTRIES.min((head - self.applied) as usize);
        let entries = store
            .entries(&self.economy, self.applied, want)
            .map_err(|e| e.to_string())?;
        for e in entries {
            self.apply(e)?;
        }
        Ok(())
    }

    fn apply(&mut self, e: Entry) -> Result<(), String> {
        if e.seq != self.applied + 1 {
            return Err(format!("entry {} follows {}: a gap", e.seq, self.applied));
        }
        let parsed = parse_command_line(&e.command);
        let command = parsed.command.as_ref().map_err(|c| *c);
        let before = command.ok().map(|c| events::before(&self.ledger, c));
        let outcome = self
            .ledger
            .submit(parsed.id.as_deref(), parsed.fingerprint, command);
        if outcome.seq != e.seq || outcome.retry {
            return Err(format!("entry {} replays as {}", e.seq, outcome.seq));
        }
        self.applied = e.seq;
        let (Ok(()), Ok(c), Some(b)) = (outcome.result, command, before) else {
            return Ok(());
        };
        let derived = events::after(&self.ledger, parsed.id.as_deref().unwrap_or(""), c, b);
        if derived.is_empty() {
            return Ok(());
        }
        let time = jifen_journal::time::rfc3339_ms(e.ts_ms);
        let events: Vec<Event> = derived
            .into_iter()
            .enumerate()
            .map(|(n, (kind, data))| Event {
                kind,
                n: n as u32,
                body: body(&self.economy, e.seq, n as u32, kind, &time, data),
            })
            .collect();
        self.window_events += events.len();
        self.window.push_back(Arc::new(EntryEvents {
            seq: e.seq,
            ts_ms: e.ts_ms,
            events,
        }));
        while self.window_events > WINDOW_EVENTS && self.window.len() > 1 {
            let old = self.window.pop_front().expect("non-empty");
            self.window_events -= old.events.len();
            self.window_after = old.seq;
        }
        Ok(())
    }

    pub fn economy(&self) -> &str {
        &self.economy
    }

    /// Whether the window holds everything from `at` on.
    pub fn covers(&self, at: Position) -> bool {
        at.seq > self.window_after
    }

    /// The entries with events at or after `at`, up to `max` events, each with the events
    /// from `at` on; and the seq through which the answer is complete.
    pub fn from(&self, at: Position, max: usize) -> (Vec<Arc<EntryEvents>>, u64) {
        let start = self.window.partition_point(|x| x.seq < at.seq);
        let mut out = Vec::new();
        let mut count = 0;
        for x in self.window.range(start..) {
            let skip = if x.seq == at.seq { at.n as usize } else { 0 };
            let here = x.events.len().saturating_sub(skip);
            if count + here > max && count > 0 {
                return (out, x.seq - 1);
            }
            count += here;
            out.push(x.clone());
        }
        (out, self.applied)
    }

    /// Events in the window at or after `at` whose type `wanted` accepts, and the time of the
    /// oldest (for lag).
    pub fn pending(&self, at: Position, wanted: &dyn Fn(&str) -> bool) -> (u64, Option<i64>) {
        let start = self.window.partition_point(|x| x.seq < at.seq);
        let mut count = 0;
        let mut oldest = None;
        for x in self.window.range(start..) {
            let skip = if x.seq == at.seq { at.n as usize } else { 0 };
            let n = x.events[skip.min(x.events.len())..]
                .iter()
                .filter(|e| wanted(e.kind))
                .count();
            if n > 0 && oldest.is_none() {
                oldest = Some(x.ts_ms);
            }
            count += n as u64;
        }
        (count, oldest)
    }
}

/// An event's id: `jifen:<economy>:<seq>:<n>`.
pub fn event_id(economy: &str, seq: u64, n: u32) -> String {
    format!("jifen:{economy}:{seq}:{n}")
}

fn body(
    economy: &str,
    seq: u64,
    n: u32,
    kind: &str,
    time: &str,
    data: serde_json::Value,
) -> String {
    serde_json::json!({
        "type": kind,
        "id": event_id(economy, seq, n),
        "economy": economy,
        "seq": seq,
        "time": time,
        "data": data,
    })
    .to_string()
}
