//! Crash test: the real `jifen` binary writes under concurrent load and is killed with SIGKILL
//! at random moments, 20 times per backend. After each kill, every acknowledged command is in
//! the journal exactly once, unacknowledged ones at most once, and `jifen verify` passes.

mod common;
#[path = "../../journal/tests/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{jifen, run};
use support::Backend;

const KILLS_PER_BACKEND: u64 = 20;

fn crash_rounds(backend: &Backend) {
    let mut acked_total = 0usize;
    for round in 0..KILLS_PER_BACKEND {
        let mut child: std::process::Child = Command::new(env!("CARGO_BIN_EXE_jifen"))
            .args(backend.cli_args())
            .args([
                "load",
                "--economy",
                "crash",
                "--run",
                &format!("r{round}"),
                "--threads",
                "4",
                "--seconds",
                "30",
            ])
            .args(["--snapshot-every", "700"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut acked = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let mut parts = line.split(' ');
                if let (Some("ACK"), Some(id)) = (parts.next(), parts.next()) {
                    acked.push(id.to_string());
                }
            }
            acked
        });
        // A pseudo-random moment between 150 ms and 1.35 s after start.
        let wait_ms = 150 + (round * 7919 + 13) % 1200;
        std::thread::sleep(Duration::from_millis(wait_ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let acked = reader.join().unwrap();
        let ids = backend.journal_ids("crash");
        for id in &acked {
            assert_eq!(
                ids.get(id),
                Some(&1),
                "{} round {round}: acknowledged {id} is not in the journal exactly once",
                backend.name()
            );
        }
        if let Some((id, n)) = ids.iter().find(|(_, &n)| n > 1) {
            panic!(
                "{} round {round}: {id} is in the journal {n} times",
                backend.name()
            );
        }
        acked_total += acked.len();
        if backend.open().economy("crash").unwrap().is_none() {
            // Killed before it created the economy (the first rounds kill early, and a debug
            // build on a busy machine starts slowly): then nothing may have been acknowledged.
            assert!(
                acked.is_empty(),
                "round {round}: acknowledged without an economy"
            );
            continue;
        }
        // The restarted economy verifies from empty: chain, outcomes, invariants, snapshots.
        let (out, described) =
            run(jifen()
                .args(backend.cli_args())
                .args(["verify", "--economy", "crash"]));
        assert!(out.status.success(), "round {round}: {described}");
        assert!(
            String::from_utf8_lossy(&out.stdout).starts_with("ok"),
            "round {round}: {described}"
        );
    }
    assert!(
        acked_total > 1_000,
        "{}: only {acked_total} commands were acknowledged in all rounds",
        backend.name()
    );
}

#[test]
fn sigkill_under_load_loses_nothing_acknowledged_on_sqlite() {
    crash_rounds(&Backend::sqlite());
}

#[test]
fn sigkill_under_load_loses_nothing_acknowledged_on_postgres() {
    crash_rounds(&Backend::postgres());
}
