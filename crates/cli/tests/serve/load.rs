//! The load generator against the real server.

use std::time::Duration;

use serde_json::Value;

use crate::common;
use crate::support::Backend;
use crate::web::*;

/// `jifen bench http` against the real server: a closed loop, an open loop at a fixed rate, and
/// the request bound. Every command it sends applies, and the economy's state shows them.
#[test]
fn the_load_generator_drives_a_real_server() {
    let backend = Backend::sqlite();
    let s = Server::simple(&backend);
    let url = format!("http://{}", s.addr);
    let bench = |extra: &[&str]| -> Value {
        let mut cmd = common::jifen();
        cmd.args(["bench", "http", "--url", &url, "--key", ADMIN])
            .args(["--economy", "lg", "--warmup", "0", "--consumers", "50"])
            .args(extra);
        let (out, text) = common::run(&mut cmd);
        assert!(out.status.success(), "{text}");
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("not JSON: {text}"))
    };
    let mut sent = 0;
    // Closed loop: each connection sends its next request as soon as the last is answered.
    let closed = bench(&["--duration", "1", "--concurrency", "8", "--batch", "3"]);
    let requests = closed["requests"].as_u64().unwrap();
    assert!(requests > 8, "{closed}");
    assert_eq!(closed["commands"].as_u64(), Some(requests * 3), "{closed}");
    assert_eq!(closed["rejected_commands"], 0, "{closed}");
    assert_eq!(closed["http_errors"], 0, "{closed}");
    let ms = |k: &str| closed[k].as_f64().unwrap();
    assert!(0.0 < ms("latency_ms_p50") && ms("latency_ms_p50") <= ms("latency_ms_p99"));
    assert!(ms("latency_ms_p99") <= ms("latency_ms_max"), "{closed}");
    sent += requests * 3;
    // Open loop: 100 requests/s for 2 s is 200 requests due, each sent however slow the
    // answers (the schedule does not wait for them).
    let open = bench(&["--duration", "2", "--concurrency", "4", "--rate", "100"]);
    assert_eq!(open["requests"], 200, "{open}");
    assert_eq!(open["http_errors"], 0, "{open}");
    sent += 200;
    // The request bound stops a long run early, exactly.
    let started = std::time::Instant::now();
    let bounded = bench(&[
        "--duration",
        "60",
        "--concurrency",
        "4",
        "--requests-max",
        "10",
    ]);
    assert_eq!(bounded["requests"], 10, "{bounded}");
    assert!(started.elapsed() < Duration::from_secs(30));
    sent += 10;
    // The registrations (1 merchant, 50 consumers) and every command sent applied.
    let state = s.get("/v1/economies/lg/state", ADMIN);
    assert_eq!(state["rejected"], 0, "{state}");
    let applied = state["applied"].as_u64().unwrap();
    assert!(applied >= 51 + sent, "{applied} applied, {sent} sent");
    // Bad arguments are a clear error, not a run.
    let mut cmd = common::jifen();
    cmd.args([
        "bench", "http", "--url", &url, "--key", ADMIN, "--batch", "0",
    ]);
    let (out, text) = common::run(&mut cmd);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("--batch must be 1 to 8190"), "{text}");
    s.stop();
}

/// Issue 25's memory target, measured the way BENCHMARKS.md records it: the real binary's peak
/// resident memory over its baseline, per account, for a million holders each with a confirmed
/// order (`jifen bench memory`, its own process, so the other tests' memory is not counted).
/// The engine's own heap count is checked part by part in `crates/core/tests/memory.rs`; this
/// catches what that count cannot see, such as the allocator keeping freed memory.
#[test]
fn a_million_holders_fit_in_256_bytes_each() {
    let mut cmd = common::jifen();
    cmd.args(["bench", "memory", "--accounts", "1000000"]);
    let (out, text) = common::run(&mut cmd);
    assert!(out.status.success(), "{text}");
    let report: Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    let peak = report["bytes_per_account_peak"].as_f64().unwrap();
    assert!(peak <= 256.0, "{peak} B per account at the peak: {report}");
    assert_eq!(report["orders"], 1_000_000, "{report}");
}
