//! The scheduler: commands the server issues itself, through the same journal as everyone's.
//!
//! - `confirm_order` for pending orders older than the economy's `auto_confirm_days`;
//! - `settle_dividends` for each past day not yet settled, just after midnight in the
//!   economy's time zone, from the day it was created.
//!
//! Every command carries an id derived from what it does, in the server's own namespace
//! (`jifen:settle:2026-11-25`, `jifen:confirm:<order>`, see `jifen_journal::ids`), which no
//! client may write. So issuing one twice, after a crash or a restart, is a retry that changes
//! nothing: each day is settled and each order confirmed exactly once.
//!
//! When one of these commands is refused anyway, that is a fault for a person to look at: it is
//! logged as an ERROR, counted in the metrics, shown in the console's banner ([`Health`]), and
//! retried with backoff, at least an hour apart, so a refusal is journaled at most once an hour
//! per item. A failure to reach the journal at all is retried sooner (nothing was journaled).

use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jifen_core::{Code, OrderStatus};
use jifen_journal::{ids, Acked, JournalError, Submitted, BATCH_COMMANDS_MAX};
use prometheus_client::metrics::counter::Counter;
use serde_json::{json, Value};

use crate::bounds::DAY_MS;
use crate::config::Clock;
use crate::economies::{Economies, Economy};
use crate::store::StoreHandle;
/// The id under which a failed pass over an economy (the journal out of reach) is kept.
const PASS_ITEM: &str = "";
/// The most past days one tick settles (a long outage catches up over several ticks).
const DAYS_PER_TICK_MAX: usize = 366;
/// After a refusal, the first retry; each later one waits twice as long, up to a day.
const REFUSED_RETRY_FIRST_MS: i64 = 60 * 60 * 1000;
const REFUSED_RETRY_MAX_MS: i64 = DAY_MS;
/// After the journal could not be reached, the first retry, doubling up to five minutes.
const UNAVAILABLE_RETRY_FIRST_MS: i64 = 1000;
const UNAVAILABLE_RETRY_MAX_MS: i64 = 5 * 60 * 1000;

/// The id of the scheduler's `confirm_order` for `order`.
pub fn auto_confirm_id(order: &str) -> String {
    ids::confirm(order)
}

pub fn auto_settle_id(day: &str) -> String {
    ids::settle(day)
}

/// A command the scheduler issues: its type, the field naming what it is for, and its id.
struct Kind {
    command: &'static str,
    field: &'static str,
    id: fn(&str) -> String,
}

const SETTLE: Kind = Kind {
    command: "settle_dividends",
    field: "day",
    id: ids::settle,
};

const CONFIRM: Kind = Kind {
    command: "confirm_order",
    field: "order",
    id: ids::confirm,
};

/// One of the scheduler's commands that keeps failing.
#[derive(Clone, Debug)]
pub struct Problem {
    /// `settle_dividends` or `confirm_order`; `journal` when the journal could not be reached.
    pub command: &'static str,
    /// The day or the order it is for.
    pub subject: String,
    pub id: String,
    /// The outcome's code, or what went wrong.
    pub code: String,
    pub attempts: u32,
    pub first_failed_ms: i64,
    pub next_attempt_ms: i64,
}

impl Problem {
    pub fn view(&self) -> Value {
        use jifen_journal::time::rfc3339_ms;
        json!({
            "command": self.command,
            "subject": self.subject,
            "id": self.id,
            "code": self.code,
            "attempts": self.attempts,
            "first_failed_at": rfc3339_ms(self.first_failed_ms),
            "next_attempt_at": rfc3339_ms(self.next_attempt_ms),
        })
    }
}

/// What the scheduler could not do, per economy, for the console, the metrics and itself.
pub struct Health {
    problems: Mutex<HashMap<String, BTreeMap<String, Problem>>>,
    /// Refusals and failures of the scheduler's own commands since start.
    failures: Counter,
}

impl Health {
    /// `failures` counts every refusal and failure (the metrics' counter).
    pub fn new(failures: Counter) -> Health {
        Health {
            problems: Mutex::default(),
            failures,
        }
    }

    /// The economy's problems, by id.
    pub fn of(&self, economy: &str) -> Vec<Problem> {
        let problems = self.problems.lock().unwrap_or_else(|p| p.into_inner());
        problems
            .get(economy)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// What the economy's failing `command`s are for (days, orders).
    fn subjects(&self, economy: &str, command: &str) -> Vec<String> {
        self.of(economy)
            .into_iter()
            .filter(|p| p.command == command)
            .map(|p| p.subject)
            .collect()
    }

    /// How many items are failing now, over every economy.
    pub fn failing(&self) -> usize {
        let problems = self.problems.lock().unwrap_or_else(|p| p.into_inner());
        problems.values().map(BTreeMap::len).sum()
    }

    /// Whether the item `id` waits for its next attempt at `now_ms`.
    fn waiting(&self, economy: &str, id: &str, now_ms: i64) -> bool {
        let problems = self.problems.lock().unwrap_or_else(|p| p.into_inner());
        problems
            .get(economy)
            .and_then(|m| m.get(id))
            .is_some_and(|p| p.next_attempt_ms > now_ms)
    }

    fn clear(&self, economy: &str, id: &str) {
        let mut problems = self.problems.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = problems.get_mut(economy) {
            m.remove(id);
        }
    }

    /// Forgets the economy's problems of `command` whose subject `still_due` no longer holds.
    fn retain(&self, economy: &str, command: &str, still_due: impl Fn(&str) -> bool) {
        let mut problems = self.problems.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = problems.get_mut(economy) {
            m.retain(|_, p| p.command != command || still_due(&p.subject));
        }
    }

    /// Records a failure of `id` (the scheduler's `command` for `subject`) and when to retry.
    fn failed(
        &self,
        economy: &str,
        command: &'static str,
        subject: &str,
        id: &str,
        code: String,
        now_ms: i64,
    ) -> Problem {
        let (first_ms, max_ms) = if command == "journal" {
            (UNAVAILABLE_RETRY_FIRST_MS, UNAVAILABLE_RETRY_MAX_MS)
        } else {
            (REFUSED_RETRY_FIRST_MS, REFUSED_RETRY_MAX_MS)
        };
        self.failures.inc();
        let mut problems = self.problems.lock().unwrap_or_else(|p| p.into_inner());
        let entry = problems
            .entry(economy.to_string())
            .or_default()
            .entry(id.to_string())
            .or_insert_with(|| Problem {
                command,
                subject: subject.to_string(),
                id: id.to_string(),
                code: String::new(),
                attempts: 0,
                first_failed_ms: now_ms,
                next_attempt_ms: now_ms,
            });
        entry.attempts += 1;
        entry.code = code;
        let wait = first_ms
            .saturating_mul(1i64 << (entry.attempts - 1).min(20))
            .min(max_ms);
        entry.next_attempt_ms = now_ms + wait;
        entry.clone()
    }
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

/// What the scheduler works with: the economies, the store (to find orders due), its health
/// record, the counter of its commands, and the time.
pub struct Scheduler {
    economies: Arc<Economies>,
    store: Arc<StoreHandle>,
    health: Arc<Health>,
    commands: Counter,
    clock: Clock,
    progress: HashMap<String, Progress>,
}

impl Scheduler {
    pub fn new(
        economies: Arc<Economies>,
        store: Arc<StoreHandle>,
        health: Arc<Health>,
        commands: Counter,
        clock: Clock,
    ) -> Scheduler {
        Scheduler {
            economies,
            store,
            health,
            commands,
            clock,
            progress: HashMap::new(),
        }
    }

    fn now(&self) -> i64 {
        (self.clock)()
    }

    /// Ticks every `every` until `stop` receives or closes.
    pub fn run(mut self, every: Duration, stop: Receiver<()>) {
        loop {
            self.tick();
            match stop.recv_timeout(every) {
                Err(RecvTimeoutError::Timeout) => {}
                _ => return,
            }
        }
    }

    /// One pass over every economy.
    pub fn tick(&mut self) {
        let health = self.health.clone();
        for economy in self.economies.all() {
            let id = &economy.meta.id;
            let now = self.now();
            if health.waiting(id, PASS_ITEM, now) {
                continue;
            }
            match self.tick_economy(&economy) {
                Ok(()) => health.clear(id, PASS_ITEM),
                Err(e) => {
                    let p = health.failed(id, "journal", "", PASS_ITEM, e.to_string(), now);
                    tracing::error!(economy = %id, error = %e, attempts = p.attempts, next_attempt_ms = p.next_attempt_ms - now, "the scheduler could not reach the journal");
                }
            }
        }
    }

    fn tick_economy(&mut self, economy: &Arc<Economy>) -> Result<(), JournalError> {
        let now = self.now();
        self.settle_days(economy, now)?;
        self.confirm_orders(economy, now)
    }

    /// The days from the last one known settled (or the economy's creation) to yesterday in
    /// its time zone, at most [`DAYS_PER_TICK_MAX`]; and yesterday, when they reach it.
    fn days_to_check(
        &mut self,
        economy: &Economy,
        now: i64,
    ) -> Result<(Vec<jiff::civil::Date>, Option<jiff::civil::Date>), JournalError> {
        let invalid = |e: jiff::Error| JournalError::Invalid(e.to_string());
        let tz = jiff::tz::TimeZone::get(&economy.meta.timezone).map_err(invalid)?;
        let local_day = |ms: i64| -> Result<jiff::civil::Date, JournalError> {
            let ts = jiff::Timestamp::from_millisecond(ms).map_err(invalid)?;
            Ok(ts.to_zoned(tz.clone()).date())
        };
        let yesterday = local_day(now)?.yesterday().map_err(invalid)?;
        let progress = self.progress.entry(economy.meta.id.clone()).or_default();
        if progress.settled_through == Some(yesterday) {
            return Ok((Vec::new(), Some(yesterday)));
        }
        let created_ms = crate::times::parse_time(&economy.meta.created_at).unwrap_or(now);
        let mut day = match progress.settled_through {
            Some(d) => d.tomorrow().map_err(invalid)?,
            None => local_day(created_ms)?,
        };
        let mut days = Vec::new();
        while day <= yesterday && days.len() < DAYS_PER_TICK_MAX {
            days.push(day);
            day = day.tomorrow().map_err(invalid)?;
        }
        Ok((days, (day > yesterday).then_some(yesterday)))
    }

    fn settle_days(&mut self, economy: &Economy, now: i64) -> Result<(), JournalError> {
        let (days, reached) = self.days_to_check(economy, now)?;
        let Some(last) = days.last().copied() else {
            self.progress
                .entry(economy.meta.id.clone())
                .or_default()
                .settled_through = reached;
            return Ok(());
        };
        let candidates: Vec<String> = days.iter().map(ToString::to_string).collect();
        let unsettled = economy.journal.read(move |v| {
            let settled = v.ledger.economy().settled_days();
            candidates
                .into_iter()
                .filter(|d| jifen_core::parse_day(d).is_none_or(|n| !settled.contains(&n)))
                .collect::<Vec<_>>()
        })?;
        let eco = economy.meta.id.as_str();
        let health = &self.health;
        health.retain(eco, SETTLE.command, |d| unsettled.iter().any(|u| u == d));
        for (day, ack) in self.issue_due(economy, &SETTLE, unsettled, now)? {
            tracing::info!(economy = %eco, %day, seq = ack.outcome.seq, ok = ack.outcome.result.is_ok(), retry = ack.outcome.retry, "dividends settled by the scheduler");
        }
        // A day that could not be settled is looked at again on every tick (and retried when
        // its backoff ends): the days known settled stop before it.
        let stuck = health
            .subjects(eco, SETTLE.command)
            .iter()
            .filter_map(|d| jiff::civil::Date::strptime("%Y-%m-%d", d).ok())
            .min();
        let progress = self.progress.entry(eco.to_string()).or_default();
        progress.settled_through = match stuck {
            Some(d) => d.yesterday().ok(),
            None => Some(reached.unwrap_or(last)),
        };
        Ok(())
    }

    /// Issues `kind` for each of `subjects` not waiting for a retry, and notes each outcome:
    /// the subjects issued, with their acknowledgements.
    fn issue_due(
        &self,
        economy: &Economy,
        kind: &Kind,
        subjects: Vec<String>,
        now: i64,
    ) -> Result<Vec<(String, Acked)>, JournalError> {
        let eco = economy.meta.id.as_str();
        let health = &self.health;
        let due: Vec<String> = subjects
            .into_iter()
            .filter(|s| !health.waiting(eco, &(kind.id)(s), now))
            .collect();
        let commands = due
            .iter()
            .map(|s| json!({"type": kind.command, "id": (kind.id)(s), kind.field: s}));
        let acks = self.issue(economy, commands.collect())?;
        for (subject, ack) in due.iter().zip(&acks) {
            self.outcome(eco, kind.command, subject, &(kind.id)(subject), ack, now);
        }
        Ok(due.into_iter().zip(acks).collect())
    }

    /// Submits the scheduler's own commands and waits for them to be durable.
    fn issue(&self, economy: &Economy, commands: Vec<Value>) -> Result<Vec<Acked>, JournalError> {
        if commands.is_empty() {
            return Ok(Vec::new());
        }
        let n = commands.len() as u64;
        let acks = economy
            .journal
            .submit_wait(commands.into_iter().map(Submitted::Value).collect())?;
        self.commands.inc_by(n);
        Ok(acks)
    }

    /// Notes what became of one of the scheduler's commands: an ERROR and a problem for the
    /// console when it was refused, nothing when it was applied (now or before).
    fn outcome(
        &self,
        economy: &str,
        command: &'static str,
        subject: &str,
        id: &str,
        ack: &Acked,
        now: i64,
    ) {
        let health = &self.health;
        let code = match ack.outcome.result {
            // Done, now or before; or done by someone else in the meantime (an operator
            // settled the day or confirmed or refunded the order between the scheduler's look
            // and its command): nothing is left to do.
            Ok(()) | Err(Code::AlreadySettled | Code::OrderNotPending) => {
                health.clear(economy, id);
                return;
            }
            Err(code) => code,
        };
        let p = health.failed(
            economy,
            command,
            subject,
            id,
            code.as_str().to_string(),
            now,
        );
        tracing::error!(economy, command, subject, id, code = code.as_str(), journaled = !ack.outcome.retry, attempts = p.attempts, next_attempt_at = %jifen_journal::time::rfc3339_ms(p.next_attempt_ms), "the scheduler's own command was refused; it is retried with backoff");
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
                .store
                .with(|s| s.entry(economy, mid))?
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
        let days = economy.settings().auto_confirm_days;
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
        let eco = economy.meta.id.as_str();
        let health = &self.health;
        let stuck = health.subjects(eco, CONFIRM.command);
        let (due, new_cursor, stuck_pending) = economy.journal.read(move |v| {
            let orders = v.ledger.economy().orders();
            let risk = v.ledger.economy().risk();
            let mut due = Vec::new();
            let mut advance = 0;
            for (i, o) in orders.from_index(cursor).enumerate() {
                if o.paid_seq > due_seq || due.len() == BATCH_COMMANDS_MAX {
                    break;
                }
                if o.status == OrderStatus::Pending {
                    // SPEC §17: a held order waits for its reviewer, never for the clock.
                    if !risk.is_held((cursor + i) as u32) {
                        due.push(o.name.to_string());
                    }
                } else if due.is_empty() {
                    advance = i + 1;
                }
            }
            let pending = |o: &String| {
                orders
                    .find(o)
                    .is_some_and(|o| o.status == OrderStatus::Pending)
            };
            let stuck_pending: Vec<String> = stuck.into_iter().filter(pending).collect();
            (due, cursor + advance, stuck_pending)
        })?;
        health.retain(eco, "confirm_order", |o| {
            stuck_pending.iter().any(|s| s == o)
        });
        let progress = self.progress.entry(eco.to_string()).or_default();
        progress.order_cursor = new_cursor;
        progress.due = (cutoff, due_seq);
        let issued = self.issue_due(economy, &CONFIRM, due, now)?;
        if issued.is_empty() {
            return Ok(());
        }
        let applied = issued
            .iter()
            .filter(|(_, a)| !a.outcome.retry && a.outcome.result.is_ok())
            .count();
        tracing::info!(economy = %eco, due = issued.len(), applied, "orders auto-confirmed");
        Ok(())
    }
}
