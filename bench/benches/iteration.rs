//! One iteration's overhead: a `tasks::Loop` at interval 0 against the
//! hand-written tokio loop it is measured against in the peer harness (the
//! floor: `sleep_until` on absolute deadlines), both running an empty body
//! on a `current_thread` runtime.
//!
//! `cargo bench` (in `bench/`) runs it. It is a quick check of the one
//! figure a change to the runtime most often moves; the tables of
//! BENCHMARKS.md come from `bench/run`, in a fresh process per peer and
//! with allocations counted, and are not these figures.

#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};

/// Every iteration is due at once: what is left is the loop's own cost.
const INTERVAL: Duration = Duration::ZERO;

/// The floor: `iterations` iterations of an empty body on deadlines
/// `start + k * interval`, in a spawned task as `tasks` runs its loops.
async fn tokio_loop(iterations: u64) {
    tokio::spawn(async move {
        let body = || async {};
        let mut next = tokio::time::Instant::now();
        for _ in 0..iterations {
            body().await;
            next += INTERVAL;
            tokio::time::sleep_until(next).await;
        }
    })
    .await
    .expect("the tokio loop runs to its end");
}

/// `tasks`: a loop of `iterations` iterations of an empty body.
async fn tasks_loop(iterations: u64) {
    let ticker = tasks::Loop::builder(|()| async {})
        .seconds(INTERVAL.as_secs_f64())
        .count(iterations)
        .build()
        .expect("a valid loop");
    let outcome = ticker.start(()).expect("not running").await;
    assert_eq!(outcome, tasks::RunOutcome::Completed);
}

fn iteration(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut group = c.benchmark_group("iteration at interval 0");
    // Each sample is one loop of `iters` iterations, and the sample sizes
    // grow linearly: the slope criterion fits is the cost of one
    // iteration, without the fixed cost of starting the loop.
    group.sampling_mode(SamplingMode::Linear);
    group.bench_function("tokio loop (floor)", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                tokio_loop(iters).await;
                start.elapsed()
            })
        });
    });
    group.bench_function("tasks", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                tasks_loop(iters).await;
                start.elapsed()
            })
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    // Shorter than criterion's defaults (3 s and 5 s) so that the whole
    // benchmark takes about ten seconds; `--warm-up-time` and
    // `--measurement-time` still override them.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = iteration
}
criterion_main!(benches);
