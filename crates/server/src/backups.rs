//! Scheduled backups (`--backup-dir`, `--backup-every`, `--backup-keep`): a worker that makes a
//! verified backup of the store (SQLite, or a logical copy of PostgreSQL) on schedule (`jifen_journal::backup`), names it by its
//! time, keeps the newest N, and reports each in the log and the metrics. The first is made one
//! period after start.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;

use crate::config::{BackupSchedule, Clock};
use crate::metrics::Metrics;

/// The prefix of a scheduled backup's directory name; the rest is its UTC time.
const PREFIX: &str = "jifen-backup-";

pub struct Backups {
    pub schedule: BackupSchedule,
    pub data_dir: PathBuf,
    /// The PostgreSQL database, when the store is there.
    pub database: Option<String>,
    pub metrics: Arc<Metrics>,
    pub clock: Clock,
}

impl Backups {
    /// Runs until `stop` receives or closes, in Linux's `SCHED_IDLE` class: a backup takes
    /// only the CPU that answering requests and committing leave (BENCHMARKS.md measures it).
    pub fn run(&self, stop: Receiver<()>) {
        crate::priority::set_background(true);
        loop {
            match stop.recv_timeout(self.schedule.every) {
                Err(RecvTimeoutError::Timeout) => self.once(),
                _ => return,
            }
        }
    }

    /// One backup, then the oldest beyond `keep` removed.
    pub fn once(&self) {
        let now_ms = (self.clock)();
        let name = format!(
            "{PREFIX}{}",
            jifen_journal::time::rfc3339_ms(now_ms).replace(':', "")
        );
        let to = self.schedule.dir.join(name);
        let started = std::time::Instant::now();
        let made = std::fs::create_dir_all(&self.schedule.dir)
            .map_err(|e| format!("cannot create {}: {e}", self.schedule.dir.display()))
            .and_then(|_| {
                let quiet = &mut |_: &_, _, _| {};
                match &self.database {
                    Some(url) => jifen_journal::backup::backup_postgres(
                        url,
                        &self.data_dir,
                        &to,
                        false,
                        quiet,
                    ),
                    None => jifen_journal::backup::backup_sqlite(&self.data_dir, &to, false, quiet),
                }
            });
        match made {
            Ok(m) => {
                // Pruned before it is counted: whoever sees the count sees the kept set.
                self.prune();
                self.metrics.backups.inc();
                (self.metrics.backup_last_duration_s).set(started.elapsed().as_secs_f64());
                self.metrics
                    .backup_last_success_s
                    .set(now_ms.div_euclid(1000));
                tracing::info!(path = %to.display(), bytes = m.bytes, economies = m.economies.len(),
                    seconds = started.elapsed().as_secs_f64(), "backup made and verified");
            }
            Err(e) => {
                self.metrics.backup_failures.inc();
                tracing::error!(path = %to.display(), error = %e, "the scheduled backup failed");
            }
        }
    }

    fn prune(&self) {
        let Ok(entries) = std::fs::read_dir(&self.schedule.dir) else {
            return;
        };
        let mut made: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(PREFIX) && !n.ends_with(".partial"))
            })
            .collect();
        made.sort();
        let excess = made.len().saturating_sub(self.schedule.keep.max(1));
        for old in &made[..excess] {
            if let Err(e) = std::fs::remove_dir_all(old) {
                tracing::warn!(path = %old.display(), error = %e, "cannot remove an old backup");
            }
        }
    }
}
