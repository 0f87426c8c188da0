//! What the state holds per holder, by the engine's own count (deterministic, unlike RSS), so a
//! change that grows a record or keeps a buffer fails here instead of going unnoticed until
//! someone runs `jifen bench memory` (BENCHMARKS.md, "Memory per account").

use jifen_core::workload;

/// Heap bytes per holder, part by part, for `n` holders each with one confirmed order.
fn per_holder(n: u64) -> Vec<(&'static str, f64)> {
    let e = workload::holders(workload::bench_rules(), n);
    e.heap_bytes()
        .into_iter()
        .map(|(part, bytes)| (part, bytes as f64 / n as f64))
        .collect()
}

#[test]
fn a_holder_costs_no_more_than_the_recorded_parts() {
    // The figure of `jifen bench memory`: a million holders, so the exit index has consolidated.
    let parts = per_holder(1_000_000);
    let total: f64 = parts.iter().map(|(_, b)| b).sum();
    let part = |name: &str| {
        parts
            .iter()
            .find(|(p, _)| *p == name)
            .map(|(_, b)| *b)
            .unwrap()
    };
    // The records: 80-byte accounts (their rarely used parts apart, in `Extras`) and 64-byte
    // orders (in chunks of 4,096, so a little over).
    assert!(part("accounts") <= 80.5, "{parts:?}");
    assert!(part("orders") <= 64.5, "{parts:?}");
    // After a burst of new holders the exit index keeps one sorted copy, not two.
    let index: f64 = parts
        .iter()
        .filter(|(p, _)| p.starts_with("exit index"))
        .map(|(_, b)| b)
        .sum();
    assert!(
        index <= 30.0,
        "the exit index holds {index:.1} B per holder: {parts:?}"
    );
    assert!(total <= 210.0, "{total:.1} B per holder: {parts:?}");
}
