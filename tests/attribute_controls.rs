//! What the attribute's loops get from the production controls: a test
//! clock given to a `static` loop (times of day through a DST change, on
//! a `VirtualClock`), `missed`, `timeout`, `jitter` and `grace_period` as
//! arguments.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tasks::testing::VirtualClock;
use tasks::{MissedTickBehavior, RunOutcome};

type Runs = Arc<Mutex<Vec<String>>>;

/// 02:30 in Berlin: on 2024-03-31 it does not exist (02:00 → 03:00), on
/// 2024-10-27 it happens twice.
#[tasks::r#loop(time = "02:30", tz = "Europe/Berlin", count = 4)]
async fn nightly(clock: Arc<VirtualClock>, runs: Runs) {
    runs.lock().unwrap().push(clock.now().to_rfc3339());
}

async fn run_nightly_from(start: &str) -> Vec<String> {
    let start: DateTime<Utc> = start.parse().unwrap();
    let clock = VirtualClock::starting_at(start);
    nightly.set_clock(clock.clone()).unwrap();
    let runs = Runs::default();
    let outcome = nightly.start((clock, Arc::clone(&runs))).unwrap().await;
    assert_eq!(outcome, RunOutcome::Completed);
    let runs = runs.lock().unwrap().clone();
    runs
}

#[tokio::test(start_paused = true)]
async fn an_attribute_loop_runs_through_dst_changes_on_a_virtual_clock() {
    // Spring forward: 02:30 runs once, shifted by the gap (03:30 CEST).
    assert_eq!(
        run_nightly_from("2024-03-29T12:00:00Z").await,
        [
            "2024-03-30T01:30:00+00:00",
            "2024-03-31T01:30:00+00:00",
            "2024-04-01T00:30:00+00:00",
            "2024-04-02T00:30:00+00:00",
        ]
    );
    // Fall back: 02:30 happens twice and runs once, at the later one
    // (02:30 CET).
    assert_eq!(
        run_nightly_from("2024-10-25T12:00:00Z").await,
        [
            "2024-10-26T00:30:00+00:00",
            "2024-10-27T01:30:00+00:00",
            "2024-10-28T01:30:00+00:00",
            "2024-10-29T01:30:00+00:00",
        ]
    );
    // The clock stays with the loop; set_clock is refused while it runs.
    let clock = VirtualClock::starting_at("2024-01-01T00:00:00Z".parse().unwrap());
    nightly.set_clock(clock.clone()).unwrap();
    nightly.start((clock.clone(), Runs::default())).unwrap();
    assert!(nightly.set_clock(clock).is_err());
    assert_eq!(
        nightly.next_iteration_local().map(|at| at.to_rfc3339()),
        None,
        "not scheduled before the task first runs"
    );
    tokio::task::yield_now().await;
    assert_eq!(
        nightly.next_iteration_local().unwrap().to_rfc3339(),
        "2024-01-01T02:30:00+01:00"
    );
    nightly.cancel();
}

#[tasks::r#loop(seconds = 1, missed = "delay", timeout = 0.5, jitter = 0.25)]
async fn guarded() {}

#[test]
fn the_attribute_sets_missed_timeout_and_jitter() {
    assert_eq!(guarded.missed(), MissedTickBehavior::Delay);
    assert_eq!(guarded.timeout(), Some(Duration::from_millis(500)));
    assert_eq!(guarded.jitter(), Some(Duration::from_millis(250)));
}

#[tasks::r#loop(time = "03:00", tz = "Europe/Paris", grace_period = 90.5)]
async fn forgiving() {}

#[test]
fn the_attribute_sets_the_grace_period() {
    assert_eq!(
        forgiving.grace_period(),
        Some(Duration::from_millis(90_500))
    );
    assert_eq!(guarded.grace_period(), None);
}
