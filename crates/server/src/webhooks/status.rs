//! What the API and the console show of a target: its settings (never its secrets), state,
//! position, lag, counts and recent attempts.

use std::time::Instant;

use serde_json::{json, Value};

use super::engine::{Attempt, Target};
use super::model::Subscription;

fn attempt_json(a: &Attempt) -> Value {
    json!({
        "time": jifen_journal::time::rfc3339_ms(a.at_ms),
        "first_event": a.first,
        "events": a.events,
        "status": a.status,
        "answer": a.answer,
        "took_ms": a.took_ms,
    })
}

/// A subscription and, when it runs on this node, its delivery state.
pub fn subscription_json(sub: &Subscription, target: Option<&Target>, now_ms: i64) -> Value {
    let rotating_until = sub
        .secrets
        .iter()
        .filter_map(|s| s.until_ms)
        .find(|u| *u > now_ms);
    let mut v = json!({
        "id": sub.id,
        "url": sub.url,
        "events": sub.events,
        "batch": sub.batch,
        "created": jifen_journal::time::rfc3339_ms(sub.created_ms),
        "old_secret_valid_until": rotating_until.map(jifen_journal::time::rfc3339_ms),
        "state": if sub.paused.is_some() { "paused" } else { "active" },
        "paused_reason": sub.paused,
    });
    let Some(t) = target else {
        v["running"] = json!(false);
        return v;
    };
    let (lag_events, oldest) = t.lag();
    let s = t.lock();
    let now = Instant::now();
    let failing = s.failing.as_ref();
    if failing.is_some() && sub.paused.is_none() {
        v["state"] = json!("failing");
    }
    let lag_seconds = oldest.map_or(0.0, |ts| ((now_ms - ts).max(0) as f64) / 1000.0);
    v["running"] = json!(true);
    v["cursor"] = json!({"seq": s.next.seq, "n": s.next.n});
    v["lag_events"] = json!(lag_events);
    v["lag_seconds"] = json!(lag_seconds);
    v["delivered"] = json!(s.delivered);
    v["failed"] = json!(s.failed);
    v["last_error"] = json!(failing.map(|f| f.error.clone()));
    v["attempts"] = json!(failing.map_or(0, |f| f.attempts));
    v["next_attempt_in_ms"] =
        json!(failing.map(|f| f.next.saturating_duration_since(now).as_millis() as u64));
    v["recent"] = s.recent.iter().rev().map(attempt_json).collect();
    v
}

/// A venue's deliveries, in the shape the outbox status has always had.
pub fn venue_json(name: &str, url: &str, target: Option<&Target>) -> Value {
    let now = Instant::now();
    let (through, delivered, waiting) = match target {
        Some(t) => {
            let s = t.lock();
            let waiting = s.failing.as_ref().map(|w| {
                json!({
                    "seq": w.at.seq,
                    "collectible": w.label,
                    "attempts": w.attempts,
                    "last_error": w.error,
                    "next_attempt_in_ms": w.next.saturating_duration_since(now).as_millis() as u64,
                })
            });
            (s.next.seq.saturating_sub(1), s.delivered, waiting)
        }
        None => (0, 0, None),
    };
    json!({
        "venue": name,
        "url": url,
        "delivered_through_seq": through,
        "delivered_since_start": delivered,
        "waiting": waiting,
    })
}
