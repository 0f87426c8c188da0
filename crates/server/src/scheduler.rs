//! The scheduler: commands the server issues itself, through the same journal as everyone's.
//!
//! - `confirm_order` for pending orders older than the economy's `auto_confirm_days`;
//! - `settle_dividends` for each past day not yet settled, just after midnight in the
//!   economy's time zone, from the day it was created.
//!
//! Every command carries an id derived from what it does (`auto-settle:2026-11-25`,
//! `auto-confirm:<order>`), so issuing it twice, after a crash or a restart, is a retry that
//! changes nothing: each day is settled and each order confirmed exactly once.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;

use jifen_core::OrderStatus;
use jifen_journal::{JournalError, Submitted, BATCH_COMMANDS_MAX};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::app::{App, Economy};

pub const DAY_MS: i64 = 86_400_000;
/// The most past days one tick settles (a long outage catches up over several ticks).
const DAYS_PER_TICK_MAX: usize = 366;

/// The id of the scheduler's `confirm_order` for `order`: readable when it fits the id
/// pattern's 64 bytes, a digest of the order id otherwise.
pub fn auto_confirm_id(order: &str) -> String {
    let id = format!("auto-confirm:{order}");
    if id.len() <= jifen_core::NAME_BYTES_MAX {
        id
    } else {
        format!(
            "auto-confirm:{}",
            &hex::encode(Sha256::digest(order.as_bytes()))[..40]
        )
    }
}

pub fn auto_settle_id(day: &str) -> String {
    format!("auto-settle:{day}")
}

#[derive(Default)]
struct Progress {
    /// Orders before this index are no longer pending.
    order_cursor: usize,
    /// The last local "yesterday" every day up to which is known settled.
    settled_through: Option<jiff::civil::Date>,
    /// The last search for orders due: its cut-off and its answer. A later search with a cut-off
    /// at least as late starts from that answer instead of the journal's beginning.
    due: (i64, u64),
}

pub struct Scheduler {
    app: Arc<App>,
    progress: HashMap<String, Progress>,
}

impl Scheduler {
    pub fn new(app: Arc<App>) -> Scheduler {
        Scheduler {
            app,
            progress: HashMap::new(),
        }
    }

    /// Ticks until `stop` receives or closes.
    pub fn run(mut self, stop: Receiver<()>) {
        loop {
            self.tick();
            match stop.recv_timeout(self.app.config.scheduler_tick) {
                Err(RecvTimeoutError::Timeout) => {}
                _ => return,
            }
        }
    }

    /// One pass over every economy.
    pub fn tick(&mut self) {
        for economy in self.app.economies() {
            if let Err(e) = self.tick_economy(&economy) {
                tracing::warn!(economy = %economy.meta.id, error = %e, "scheduler pass failed; retrying next tick");
            }
        }
    }

    fn tick_economy(&mut self, economy: &Arc<Economy>) -> Result<(), JournalError> {
        let now = self.app.now_ms();
        self.settle_days(economy, now)?;
        self.confirm_orders(economy, now)?;
        crate::transparency::sign_due_heads(&self.app, economy)
    }

    fn settle_days(&mut self, economy: &Economy, now: i64) -> Result<(), JournalError> {
        let tz = jiff::tz::TimeZone::get(&economy.meta.timezone)
            .map_err(|e| JournalError::Invalid(format!("time zone: {e}")))?;
        let local_day = |ms: i64| -> Result<jiff::civil::Date, JournalError> {
            let ts = jiff::Timestamp::from_millisecond(ms)
                .map_err(|e| JournalError::Invalid(format!("time: {e}")))?;
            Ok(ts.to_zoned(tz.clone()).date())
        };
        let yesterday = local_day(now)?
            .yesterday()
            .map_err(|e| JournalError::Invalid(e.to_string()))?;
        let progress = self.progress.entry(economy.meta.id.clone()).or_default();
        if progress.settled_through == Some(yesterday) {
            return Ok(());
        }
        let created_ms = crate::history::parse_time(&economy.meta.created_at).unwrap_or(now);
        let mut day = match progress.settled_through {
            Some(d) => d
                .tomorrow()
                .map_err(|e| JournalError::Invalid(e.to_string()))?,
            None => local_day(created_ms)?,
        };
        let mut candidates = Vec::new();
        while day <= yesterday && candidates.len() < DAYS_PER_TICK_MAX {
            candidates.push(day.to_string());
            day = day
                .tomorrow()
                .map_err(|e| JournalError::Invalid(e.to_string()))?;
        }
        let caught_up = day > yesterday;
        let unsettled = economy.journal.read(move |v| {
            let settled = v.ledger.economy().settled_days();
            candidates
                .into_iter()
                .filter(|d| jifen_core::parse_day(d).is_none_or(|n| !settled.contains(&n)))
                .collect::<Vec<_>>()
        })?;
        if !unsettled.is_empty() {
            let commands = unsettled
                .iter()
                .map(|d| {
                    Submitted::Value(
                        json!({"type": "settle_dividends", "id": auto_settle_id(d), "day": d}),
                    )
                })
                .collect::<Vec<_>>();
            let n = commands.len() as u64;
            let acks = economy.journal.submit_wait(commands)?;
            for (day, ack) in unsettled.iter().zip(&acks) {
                tracing::info!(economy = %economy.meta.id, %day, seq = ack.outcome.seq, ok = ack.outcome.result.is_ok(), retry = ack.outcome.retry, "dividends settled by the scheduler");
            }
            self.app
                .metrics
                .scheduler_commands
                .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        }
        let progress = self.progress.entry(economy.meta.id.clone()).or_default();
        progress.settled_through = if caught_up {
            Some(yesterday)
        } else {
            day.yesterday().ok()
        };
        Ok(())
    }

    /// The largest seq whose entry is at or before `cutoff_ms` (timestamps never decrease
    /// along the journal), by binary search; 0 when there is none.
    /// The search starts at `from`, a seq already known to be at or before the cut-off.
    fn seq_at_or_before(
        &self,
        economy: &str,
        from: u64,
        head: u64,
        cutoff_ms: i64,
    ) -> Result<u64, JournalError> {
        let (mut lo, mut hi) = (from.min(head), head);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            let ts = self
                .app
                .with_store(|s| s.entry(economy, mid))?
                .map_or(i64::MAX, |e| e.ts_ms);
            if ts <= cutoff_ms {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        Ok(lo)
    }

    fn confirm_orders(&mut self, economy: &Economy, now: i64) -> Result<(), JournalError> {
        let days = economy
            .settings
            .read()
            .map(|s| s.auto_confirm_days)
            .unwrap_or(crate::app::AUTO_CONFIRM_DAYS_DEFAULT);
        let cutoff = now - days as i64 * DAY_MS;
        let (pending, head) = economy
            .journal
            .read(|v| (v.ledger.economy().orders().pending(), v.head_seq))?;
        if pending == 0 {
            return Ok(());
        }
        let (cursor, (known_cutoff, known_seq)) = self
            .progress
            .get(&economy.meta.id)
            .map_or((0, (i64::MIN, 0)), |p| (p.order_cursor, p.due));
        // The cut-off moves back when `auto_confirm_days` grows: then search from the start.
        let from = if cutoff >= known_cutoff { known_seq } else { 0 };
        let due_seq = self.seq_at_or_before(&economy.meta.id, from, head, cutoff)?;
        let (due, new_cursor) = economy.journal.read(move |v| {
            let orders = v.ledger.economy().orders().from_index(cursor);
            let mut due = Vec::new();
            let mut advance = 0;
            for (i, o) in orders.enumerate() {
                if o.paid_seq > due_seq || due.len() == BATCH_COMMANDS_MAX {
                    break;
                }
                if o.status == OrderStatus::Pending {
                    due.push(o.name.to_string());
                } else if due.is_empty() {
                    advance = i + 1;
                }
            }
            (due, cursor + advance)
        })?;
        let progress = self.progress.entry(economy.meta.id.clone()).or_default();
        progress.order_cursor = new_cursor;
        progress.due = (cutoff, due_seq);
        if due.is_empty() {
            return Ok(());
        }
        let commands = due
            .iter()
            .map(|o| {
                Submitted::Value(
                    json!({"type": "confirm_order", "id": auto_confirm_id(o), "order": o}),
                )
            })
            .collect::<Vec<_>>();
        let acks = economy.journal.submit_wait(commands)?;
        let applied = acks
            .iter()
            .filter(|a| !a.outcome.retry && a.outcome.result.is_ok())
            .count();
        tracing::info!(economy = %economy.meta.id, due = due.len(), applied, "orders auto-confirmed");
        self.app
            .metrics
            .scheduler_commands
            .fetch_add(due.len() as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }
}
