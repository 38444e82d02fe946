//! The iteration a body takes (`Loop::builder_with_iteration`): its number,
//! its scheduled instant and its fencing token, as values that do not
//! change under it. A task the body spawns that reads the token later gets
//! the iteration's, where `Loop::fence` has moved on to a newer claim or
//! term. On tokio's paused clock with the in-memory store.

mod common;
use common::utc;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tasks_runtime::cluster::{Cluster, Fence, MemoryStore, ReplicaId};
use tasks_runtime::testing::VirtualClock;
use tasks_runtime::{Iteration, Loop, RunOutcome, TimeOfDay};

/// What a task spawned by the first iteration read once the loop had moved
/// on: the iteration's token, the loop's token then, and the token the
/// first iteration held as it began.
#[derive(Debug, Default)]
struct ReadLater {
    iteration: Option<Fence>,
    loop_now: Option<Fence>,
    at_start: Option<Fence>,
}

/// A loop every second whose first iteration (of its first run) spawns a
/// task that reads the token `later`, once other claims or terms have
/// replaced it.
fn spawning(
    cluster: Cluster,
    clock: Arc<VirtualClock>,
    later: Duration,
) -> (Loop<()>, Arc<Mutex<ReadLater>>) {
    let read: Arc<Mutex<ReadLater>> = Arc::default();
    let cell: Arc<OnceLock<Loop<()>>> = Arc::default();
    let (inside, seen) = (cell.clone(), read.clone());
    let lp = Loop::builder_with_iteration(move |(), iteration: Iteration| {
        let (inside, seen) = (inside.clone(), seen.clone());
        async move {
            {
                let mut seen = seen.lock().unwrap();
                if seen.at_start.is_some() {
                    return;
                }
                seen.at_start = inside.get().and_then(Loop::fence);
            }
            tokio::spawn(async move {
                tokio::time::sleep(later).await;
                let mut seen = seen.lock().unwrap();
                seen.iteration = iteration.fence();
                seen.loop_now = inside.get().and_then(Loop::fence);
            });
        }
    })
    .seconds(1.0)
    .name("report")
    .clock(clock)
    .cluster(cluster.replica(ReplicaId::new("r0")))
    .build()
    .unwrap();
    let _ = cell.set(lp.clone());
    (lp, read)
}

#[tokio::test(start_paused = true)]
async fn claim_mode_a_task_spawned_by_the_body_keeps_the_iteration_s_token() {
    let clock = VirtualClock::starting_at(utc("2026-12-02T09:00:00.500Z"));
    let store = Arc::new(MemoryStore::with_clock(clock.clone()));
    let (lp, read) = spawning(Cluster::claim(store), clock, Duration::from_millis(2500));
    lp.start(()).unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    lp.cancel();
    let read = read.lock().unwrap();
    let first = read.at_start.expect("the first slot was claimed");
    assert_eq!(read.iteration, Some(first), "{read:?}");
    // Two more slots were claimed meanwhile: the loop's token is theirs,
    // and would pass a database's check for a write of the first slot.
    assert!(read.loop_now.is_some_and(|now| now > first), "{read:?}");
}

#[tokio::test(start_paused = true)]
async fn leader_mode_a_task_spawned_in_one_term_keeps_that_term_s_token() {
    let clock = VirtualClock::starting_at(utc("2026-12-02T09:00:00Z"));
    let store = Arc::new(MemoryStore::with_clock(clock.clone()));
    let (lp, read) = spawning(Cluster::leader(store), clock, Duration::from_secs(3));
    lp.start(()).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The term ends (the lease is given back); the next begins with a
    // newer token while the first term's task still runs.
    lp.stop();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!lp.is_running());
    lp.start(()).unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    lp.cancel();
    let read = read.lock().unwrap();
    let first = read.at_start.expect("the first term had a token");
    assert_eq!(read.iteration, Some(first), "{read:?}");
    assert!(read.loop_now.is_some_and(|now| now > first), "{read:?}");
}

#[tokio::test(start_paused = true)]
async fn a_retried_iteration_keeps_its_number_slot_and_token() {
    let clock = VirtualClock::starting_at(utc("2026-12-02T09:00:00.500Z"));
    let store = Arc::new(MemoryStore::with_clock(clock.clone()));
    let seen: Arc<Mutex<Vec<Iteration>>> = Arc::default();
    let log = seen.clone();
    let lp = Loop::builder_with_iteration(move |(), iteration: Iteration| {
        let first_try = {
            let mut seen = log.lock().unwrap();
            seen.push(iteration);
            seen.len() == 1
        };
        async move {
            if first_try {
                Err(std::io::Error::other("flaky"))
            } else {
                Ok(())
            }
        }
    })
    .seconds(10.0)
    .backoff(|| tasks_runtime::FixedBackoff::new(Duration::from_millis(100)))
    .clock(clock)
    .cluster(Cluster::claim(store))
    .build()
    .unwrap();
    lp.start(()).unwrap();
    tokio::time::sleep(Duration::from_secs(25)).await;
    lp.cancel();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(seen[0], seen[1], "the retry is the same iteration");
    assert_eq!(seen[0].number(), 0);
    assert_eq!(seen[0].scheduled(), Some(utc("2026-12-02T09:00:10Z")));
    assert!(seen[0].fence().is_some());
    assert_eq!(seen[2].number(), 1);
    assert_eq!(seen[2].scheduled(), Some(utc("2026-12-02T09:00:20Z")));
    assert!(seen[2].fence() > seen[0].fence());
}

#[tokio::test(start_paused = true)]
async fn outside_a_cluster_the_iteration_has_its_number_and_time_of_day() {
    let clock = VirtualClock::starting_at(utc("2026-12-02T07:59:00Z"));
    let seen: Arc<Mutex<Vec<Iteration>>> = Arc::default();
    let log = seen.clone();
    let lp = Loop::builder_with_iteration(move |(), iteration: Iteration| {
        log.lock().unwrap().push(iteration);
        async {}
    })
    .times(["08:00", "20:00"].map(|t| TimeOfDay::parse_in(t, "UTC").unwrap()))
    .count(3)
    .clock(clock)
    .build()
    .unwrap();
    assert_eq!(lp.start(()).unwrap().await, RunOutcome::Completed);
    let seen = seen.lock().unwrap();
    let numbers: Vec<u64> = seen.iter().map(|i| i.number()).collect();
    assert_eq!(numbers, [0, 1, 2]);
    let scheduled: Vec<_> = seen.iter().map(|i| i.scheduled().unwrap()).collect();
    assert_eq!(
        scheduled,
        [
            utc("2026-12-02T08:00:00Z"),
            utc("2026-12-02T20:00:00Z"),
            utc("2026-12-03T08:00:00Z")
        ]
    );
    assert!(seen.iter().all(|i| i.fence().is_none()));
}

#[tokio::test(start_paused = true)]
async fn a_relative_interval_s_iterations_are_scheduled_a_whole_interval_apart() {
    let clock = VirtualClock::starting_at(utc("2026-12-02T09:00:00.250Z"));
    let seen: Arc<Mutex<Vec<Iteration>>> = Arc::default();
    let log = seen.clone();
    let lp = Loop::builder_with_iteration(move |(), iteration: Iteration| {
        log.lock().unwrap().push(iteration);
        async {}
    })
    .seconds(1.0)
    .count(2)
    .clock(clock)
    .build()
    .unwrap();
    assert_eq!(lp.start(()).unwrap().await, RunOutcome::Completed);
    lp.call(()).await.unwrap();
    let seen = seen.lock().unwrap();
    let scheduled: Vec<_> = seen.iter().map(|i| i.scheduled()).collect();
    assert_eq!(
        scheduled,
        [
            Some(utc("2026-12-02T09:00:00.250Z")),
            Some(utc("2026-12-02T09:00:01.250Z")),
            None,
        ],
        "the last is a direct call"
    );
    assert!(seen.iter().all(|i| i.fence().is_none()));
    assert_eq!(seen[2].number(), lp.current_loop());
}

#[tokio::test(start_paused = true)]
async fn a_body_with_its_iteration_is_named_after_its_function_by_default() {
    async fn nightly_report((): (), _: Iteration) {}
    let lp = Loop::builder_with_iteration(nightly_report)
        .build()
        .unwrap();
    assert!(lp.name().ends_with("nightly_report"), "{}", lp.name());
}
