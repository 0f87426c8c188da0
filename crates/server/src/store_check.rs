//! The store's health while serving: the thorough integrity check (and the signed tree heads
//! against the journal they sign), run at start and every six hours on a connection of its
//! own, with what start-up found. Damage is an ERROR in the log, `/healthz` 503, a metric and a
//! banner in the console.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jifen_journal::{IntegrityReport, JournalError};

use crate::economies::Economies;
use crate::store::StoreHandle;

/// How often the thorough check runs while serving.
pub const EVERY: Duration = Duration::from_secs(6 * 60 * 60);

pub struct StoreHealth {
    store: Arc<StoreHandle>,
    economies: Arc<Economies>,
    last: Mutex<Option<IntegrityReport>>,
}

impl StoreHealth {
    pub fn new(store: Arc<StoreHandle>, economies: Arc<Economies>) -> StoreHealth {
        StoreHealth {
            store,
            economies,
            last: Mutex::new(None),
        }
    }

    /// What is known wrong with the store: snapshots that failed their checks at start-up,
    /// and what the last thorough check found (empty when nothing, or none has run yet).
    pub fn problems(&self) -> Vec<String> {
        let mut problems = self.economies.startup_problems();
        if let Some(r) = self.last() {
            problems.extend(r.problems);
        }
        problems
    }

    /// The last thorough check, if one has run.
    pub fn last(&self) -> Option<IntegrityReport> {
        self.last.lock().ok().and_then(|h| h.clone())
    }

    /// Runs the thorough check and keeps its answer.
    pub fn check(&self) {
        let report = self.thorough().unwrap_or_else(|e| IntegrityReport {
            method: "the store's integrity check".into(),
            checked: true,
            problems: vec![format!("it could not run: {e}")],
        });
        if report.ok() {
            tracing::info!(method = %report.method, checked = report.checked, "store checked: no damage");
        } else {
            tracing::error!(method = %report.method, problems = ?report.problems, "the store is damaged: restore it from a backup; `jifen verify` shows what is affected");
        }
        if let Ok(mut last) = self.last.lock() {
            *last = Some(report);
        }
    }

    fn thorough(&self) -> Result<IntegrityReport, JournalError> {
        let mut s = self.store.open_own()?;
        let mut report = s.integrity_check(true)?;
        for economy in self.economies.all() {
            let tree = crate::proofs::tree_when_built(&economy)?;
            let id = &economy.meta.id;
            let (_, problems) = jifen_journal::check_signed_heads(s.as_mut(), id, &tree)?;
            report
                .problems
                .extend(problems.into_iter().map(|p| format!("economy {id}: {p}")));
        }
        Ok(report)
    }

    /// The check's thread: at start, then every [`EVERY`], until `stop` receives or closes.
    pub fn run(&self, stop: Receiver<()>) {
        loop {
            self.check();
            match stop.recv_timeout(EVERY) {
                Err(RecvTimeoutError::Timeout) => {}
                _ => return,
            }
        }
    }
}
