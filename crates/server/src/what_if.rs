//! The rules what-if: the last 30 days replayed from the state they started from, once as they
//! happened and once under proposed rules, day by day in the economy's time zone. One runs per
//! economy at a time (it can hold a core for seconds), and it stops when its caller has gone.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use jifen_core::{Command, Ledger};
use jifen_journal::time::rfc3339_ms;
use jifen_journal::{ledger_at, Store};
use serde_json::{json, Value};

use crate::bounds::DAY_MS;
use crate::error::{ApiError, ApiResult};
use crate::times::day_start;

/// The what-if window, and the most entries it replays (the newest, when there are more).
const WHAT_IF_DAYS: i64 = 30;
const WHAT_IF_ENTRIES_MAX: u64 = 3_000_000;
const QUARTER_HOUR_MS: i64 = 15 * 60 * 1000;
/// Entries read per query.
const ENTRIES_PER_READ: usize = 10_000;

/// The economies with a what-if running.
#[derive(Default)]
pub struct WhatIfs {
    running: Mutex<HashSet<String>>,
}

/// The right to run an economy's what-if, held by the work and given back when it stops.
pub struct Slot {
    runs: Arc<WhatIfs>,
    economy: String,
}

impl WhatIfs {
    /// The economy's slot, or 409 `what_if_running` while another what-if of it runs.
    pub fn take(self: &Arc<Self>, economy: &str) -> ApiResult<Slot> {
        let taken = self
            .running
            .lock()
            .is_ok_and(|mut r| r.insert(economy.to_string()));
        if !taken {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "what_if_running",
                "a what-if of this economy is already running; try again when it has finished",
            ));
        }
        Ok(Slot {
            runs: self.clone(),
            economy: economy.to_string(),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut running) = self.runs.running.lock() {
            running.remove(&self.economy);
        }
    }
}

/// Raised when the request that asked for work is dropped: answered `timeout`, or its client
/// hung up. The work asks it as it goes and stops.
pub struct CancelOnDrop(pub Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// What one what-if is asked: of which economy, in which time zone, under which rules, now.
pub struct Question {
    pub economy: String,
    pub tz: jiff::tz::TimeZone,
    pub rules: Value,
    pub now_ms: i64,
}

/// One day's figures in one of the two runs.
#[derive(Clone, Copy, Default)]
struct DayFigures {
    dividends_fen: u64,
    exits: u64,
}

impl DayFigures {
    fn add(&mut self, other: DayFigures) {
        self.dividends_fen += other.dividends_fen;
        self.exits += other.exits;
    }
}

fn figures(ledger: &Ledger, day: DayFigures) -> Value {
    let e = ledger.economy();
    let t = e.totals();
    json!({
        "price_yuan_per_point": e.price().yuan_per_point(4),
        "reserve_fen": t.reserve_fen.0,
        "circulating_atoms": t.circulating_atoms.0,
        "dividend_pool_fen": t.dividend_pool_fen.0,
        "dividends_fen": day.dividends_fen,
        "exits": day.exits,
        "quota_outstanding_fen": e.quota_total_fen(),
    })
}

/// Applies one journaled command to a what-if ledger; returns what it paid out in dividends and
/// how many exits it caused.
fn apply(ledger: &mut Ledger, parsed: &jifen_wire::Parsed) -> DayFigures {
    let outcome = ledger.submit(
        parsed.id.as_deref(),
        parsed.fingerprint,
        parsed.command.as_ref().map_err(|c| *c),
    );
    if outcome.retry || outcome.result.is_err() {
        return DayFigures::default();
    }
    let fx = ledger.economy().effects();
    DayFigures {
        dividends_fen: fx.settlement.map_or(0, |s| s.paid.0),
        exits: fx.exits.len() as u64,
    }
}

/// The two runs as they go: the ledgers, the days closed, and the day open.
struct Runs {
    actual: Ledger,
    proposed: Ledger,
    days: Vec<Value>,
    /// The local day open, and when the next one starts.
    day: Option<(String, i64)>,
    today: (DayFigures, DayFigures),
    rule_changes_replaced: u64,
    first_ts: Option<i64>,
}

impl Runs {
    fn close_day(&mut self) {
        if let Some((label, _)) = self.day.take() {
            let (a, b) = std::mem::take(&mut self.today);
            self.days.push(json!({
                "day": label,
                "actual": figures(&self.actual, a),
                "proposed": figures(&self.proposed, b),
            }));
        }
    }

    /// Closes the day open when `ts_ms` lies past it, and opens the day holding `ts_ms`.
    fn enter_day(&mut self, tz: &jiff::tz::TimeZone, ts_ms: i64) -> ApiResult<()> {
        if self.day.as_ref().is_some_and(|(_, next)| ts_ms < *next) {
            return Ok(());
        }
        self.close_day();
        let (start, date) = day_start(tz, ts_ms)?;
        let next = date
            .tomorrow()
            .ok()
            .and_then(|d| d.to_zoned(tz.clone()).ok())
            .map_or(start + DAY_MS, |z| z.timestamp().as_millisecond());
        self.day = Some((date.to_string(), next));
        Ok(())
    }

    fn replay(&mut self, tz: &jiff::tz::TimeZone, e: &jifen_journal::Entry) -> ApiResult<()> {
        self.first_ts.get_or_insert(e.ts_ms);
        self.enter_day(tz, e.ts_ms)?;
        let parsed = jifen_wire::parse_command_line(&e.command);
        self.today.0.add(apply(&mut self.actual, &parsed));
        if matches!(parsed.command, Ok(Command::SetRules { .. })) {
            // The proposal stands for the whole window.
            self.rule_changes_replaced += 1;
            return Ok(());
        }
        self.today.1.add(apply(&mut self.proposed, &parsed));
        Ok(())
    }

    fn total(&self, run: &str, key: &str) -> u64 {
        self.days
            .iter()
            .map(|d| d[run][key].as_u64().unwrap_or(0))
            .sum()
    }
}

/// The proposed rules applied as `set_rules` to `ledger`: 422 with the code when refused.
fn propose(ledger: &mut Ledger, rules: Value) -> ApiResult<()> {
    let set_rules = jifen_wire::parse_command_value(json!({
        "type": "set_rules",
        "id": "what-if-proposal",
        "rules": rules,
    }));
    let outcome = ledger.submit(
        set_rules.id.as_deref(),
        set_rules.fingerprint,
        set_rules.command.as_ref().map_err(|c| *c),
    );
    outcome.result.map_err(|code| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            code.as_str(),
            format!(
                "set_rules with these rules would be refused: {}",
                code.as_str()
            ),
        )
    })
}

/// Answers `q` from `store` (a connection of its own: this reads up to millions of entries),
/// asking `keep_going` as it goes.
pub fn run(
    mut store: Box<dyn Store>,
    q: Question,
    keep_going: &dyn Fn() -> bool,
) -> ApiResult<Value> {
    let economy = q.economy.as_str();
    let window_ms = q.now_ms - WHAT_IF_DAYS * DAY_MS;
    // Samples fall exactly on quarter hours, so this is the state as it stood then.
    let window_ms = window_ms - window_ms.rem_euclid(QUARTER_HOUR_MS);
    let head = store.head(economy)?.map_or(0, |e| e.seq);
    let sampled = store
        .sample_before(economy, window_ms)?
        .map_or(0, |s| s.seq);
    let from_seq = sampled.max(head.saturating_sub(WHAT_IF_ENTRIES_MAX));
    let start = ledger_at(store.as_mut(), economy, from_seq, keep_going)?;
    let start_figures = figures(&start, DayFigures::default());
    let mut proposed = start.clone();
    propose(&mut proposed, q.rules)?;
    let mut runs = Runs {
        actual: start,
        proposed,
        days: Vec::new(),
        day: None,
        today: Default::default(),
        rule_changes_replaced: 0,
        first_ts: None,
    };
    let mut after = from_seq;
    while after < head {
        let entries = store.entries(economy, after, ENTRIES_PER_READ)?;
        let Some(last) = entries.last() else { break };
        after = last.seq;
        for e in &entries {
            if !keep_going() {
                return Err(ApiError::unavailable(
                    "the what-if stopped: its caller has gone",
                ));
            }
            runs.replay(&q.tz, e)?;
        }
    }
    runs.close_day();
    Ok(answer(&runs, start_figures, from_seq, head))
}

fn answer(runs: &Runs, start: Value, from_seq: u64, head: u64) -> Value {
    let none = DayFigures::default();
    json!({
        "window": {
            "from": runs.first_ts.map(rfc3339_ms),
            "from_seq": from_seq,
            "to_seq": head,
            "entries": head - from_seq,
            "days": WHAT_IF_DAYS,
            "rule_changes_replaced": runs.rule_changes_replaced,
        },
        "start": start,
        "end": {"actual": figures(&runs.actual, none), "proposed": figures(&runs.proposed, none)},
        "totals": {
            "actual": {"dividends_fen": runs.total("actual", "dividends_fen"), "exits": runs.total("actual", "exits")},
            "proposed": {"dividends_fen": runs.total("proposed", "dividends_fen"), "exits": runs.total("proposed", "exits")},
        },
        "days": runs.days,
        "note": "the same commands, replayed from the state 30 days ago under the proposed rules; consumers might have behaved differently under them",
    })
}
