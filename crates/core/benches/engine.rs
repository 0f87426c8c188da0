//! Criterion benchmarks of the engine at 100,000 holders. `jifen bench core` measures the
//! full-size targets (1,000,000 holders) and prints them as JSON; see BENCHMARKS.md.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use jifen_core::workload;
use jifen_core::{Command, Economy};

const HOLDERS: u64 = 100_000;

fn run(e: &mut Economy, commands: &[Command]) {
    for c in commands {
        e.execute(c).expect("benchmark command accepted");
    }
}

fn orders(c: &mut Criterion) {
    let base = workload::holders(workload::bench_rules(), HOLDERS);
    let mut group = c.benchmark_group("orders");
    group.throughput(Throughput::Elements(1));
    group.bench_function("pay_order_100k_holders", |b| {
        b.iter_custom(|iters| {
            let mut e = base.clone();
            let pays = workload::payments("b", iters, HOLDERS);
            let start = Instant::now();
            run(&mut e, &pays);
            start.elapsed()
        })
    });
    group.bench_function("confirm_order_100k_holders", |b| {
        b.iter_custom(|iters| {
            let mut e = base.clone();
            run(&mut e, &workload::payments("b", iters, HOLDERS));
            let confirms = workload::confirmations("b", iters);
            let start = Instant::now();
            run(&mut e, &confirms);
            start.elapsed()
        })
    });
    group.finish();
}

fn settlement(c: &mut Criterion) {
    let base = workload::holders(workload::bench_rules(), HOLDERS);
    let day = Command::SettleDividends {
        day: "2026-11-25".into(),
    };
    let mut group = c.benchmark_group("settlement");
    group.sample_size(20);
    group.bench_function("settle_100k_holders", |b| {
        b.iter_batched(
            || base.clone(),
            |mut e| run(&mut e, std::slice::from_ref(&day)),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn exits(c: &mut Criterion) {
    let (base, whale) = workload::exit_cascade(10_000);
    let mut group = c.benchmark_group("exits");
    group.sample_size(20);
    group.bench_function("cascade_10k_exits", |b| {
        b.iter_batched(
            || base.clone(),
            |mut e| run(&mut e, std::slice::from_ref(&whale)),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = orders, settlement, exits
}
criterion_main!(benches);
