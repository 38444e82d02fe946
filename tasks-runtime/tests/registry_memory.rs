//! A dropped loop's memory is freed when it is dropped, not when the
//! registry is next read: counted by `stats_alloc`'s counting allocator
//! (this test binary only). One test in the binary, so that nothing else
//! allocates while it counts.

use std::alloc::System;

use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use tasks_runtime::{Loop, RunOutcome};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Builds `n` loops, runs each, cancels it, then drops them all.
async fn build_run_and_drop(n: usize) {
    let mut loops = Vec::with_capacity(n);
    for _ in 0..n {
        let lp = Loop::builder(|()| async {}).seconds(1.0).build().unwrap();
        let run = lp.start(()).unwrap();
        tokio::task::yield_now().await;
        lp.cancel();
        assert_eq!(run.await, RunOutcome::Cancelled);
        loops.push(lp);
    }
    drop(loops);
}

#[test]
fn a_dropped_loop_leaves_no_memory_behind() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        // The runtime's and the registry's own first allocations.
        build_run_and_drop(10).await;
        let loops = 1_000;
        let region = Region::new(GLOBAL);
        build_run_and_drop(loops).await;
        let change = region.change();
        // A reallocation counts its growth as allocated, its shrinking as
        // deallocated.
        let live = change.bytes_allocated as isize - change.bytes_deallocated as isize;
        // Without a registry entry freed on drop, each loop's shared block
        // (about 220 bytes) stays until the registry is next read. The
        // process allocates a few hundred bytes once, at a moment of its
        // own (the test harness's thread), which may fall in the count:
        // under 4 bytes a loop is nothing kept per loop.
        assert!(
            live < 4 * loops as isize,
            "{live} bytes still live after {loops} loops were dropped"
        );
    });
}
