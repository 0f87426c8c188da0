//! `jifen cluster status` against the PostgreSQL cluster `scripts/test` starts (issue 9).

mod common;
#[path = "../../journal/tests/support/mod.rs"]
mod support;

use jifen_journal::cluster::Cluster;
use support::Backend;

#[test]
fn cluster_status_shows_nodes_and_leases() {
    let b = Backend::postgres();
    let Backend::Postgres { url, .. } = &b else {
        unreachable!()
    };
    let now = jifen_journal::time::now_ms();
    let mut c = Cluster::connect(url).unwrap();
    c.heartbeat("node-1", "http://127.0.0.1:9001", now).unwrap();
    c.heartbeat("node-2", "http://127.0.0.1:9002", now - 60_000)
        .unwrap();
    c.acquire("brand-a", "node-1", now, 60_000)
        .unwrap()
        .unwrap();
    c.acquire("brand-b", "node-2", now - 120_000, 1_000)
        .unwrap()
        .unwrap();
    // node-1 takes brand-b over: its lease lapsed.
    let taken = c
        .acquire("brand-b", "node-1", now, 60_000)
        .unwrap()
        .unwrap();
    assert_eq!(taken.epoch, 2);
    let (out, text) = common::run(
        common::jifen()
            .args(b.cli_args())
            .args(["cluster", "status"]),
    );
    assert!(out.status.success(), "{text}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("2 node(s)"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("node-1") && l.contains("live")),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("node-2") && l.contains("gone")),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("brand-b") && l.contains("owner node-1") && l.contains("epoch 2")),
        "{stdout}"
    );
}
