//! No allocation per iteration in steady state, for a loop built by hand and
//! for one made by the attribute: counted by `stats_alloc`'s counting
//! allocator (this test binary only), on tokio's paused clock. One test in
//! the binary, so that nothing else allocates while it counts.

use std::alloc::System;
use std::time::Duration;

use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use tasks::{Loop, RunOutcome};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[tasks::r#loop(seconds = 1)]
async fn tick(step: u64) {
    std::hint::black_box(step);
}

/// Allocations while `loop_` runs 100 iterations after 10 of warm-up.
async fn allocations_over_100_iterations(loop_: &Loop<u64>) -> usize {
    let run = loop_.start(7).expect("not running");
    tokio::time::sleep(Duration::from_millis(10_500)).await;
    let region = Region::new(GLOBAL);
    tokio::time::sleep(Duration::from_secs(100)).await;
    let allocations = region.change().allocations;
    assert_eq!(loop_.current_loop(), 110);
    loop_.cancel();
    assert_eq!(run.await, RunOutcome::Cancelled);
    allocations
}

#[test]
fn a_running_loop_allocates_nothing_per_iteration() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let by_hand = Loop::builder(|step: u64| async move {
            std::hint::black_box(step);
        })
        .seconds(1.0)
        .build()
        .expect("a valid loop");
        assert_eq!(
            allocations_over_100_iterations(&by_hand).await,
            0,
            "built by hand"
        );
        assert_eq!(
            allocations_over_100_iterations(&tick).await,
            0,
            "made by the attribute"
        );
    });
}
