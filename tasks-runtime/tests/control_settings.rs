//! Which setting is set where (the table on `LoopBuilder`): what the
//! builder sets, the loop can change after build, to the same effect; a
//! jitter seed given before its jitter is kept for it.

mod common;
use common::utc;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use common::{sleep_ms, Recorder};
use tasks_runtime::testing::VirtualClock;
use tasks_runtime::{AmbiguousTime, Loop, LoopBuilder, LoopError, RunOutcome, TimeOfDay};
use tokio::time::Instant;

// --- the jitter's seed ---

/// The offsets (ms) from their slots at which the iterations of a 1 s loop
/// with up to 400 ms of jitter ran, the loop made by `build` and changed
/// by `change` before it starts.
async fn jitter_delays(
    build: impl FnOnce(LoopBuilder<()>) -> LoopBuilder<()>,
    change: impl FnOnce(&Loop<()>),
) -> Vec<u128> {
    let starts: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let seen = Arc::clone(&starts);
    let builder = Loop::builder(move |()| {
        seen.lock().unwrap().push(Instant::now());
        async {}
    })
    .seconds(1.0)
    .count(20);
    let lp = build(builder).build().unwrap();
    change(&lp);
    let origin = Instant::now();
    lp.start(()).unwrap().await;
    let starts = starts.lock().unwrap();
    starts
        .iter()
        .enumerate()
        .map(|(k, at)| (*at - (origin + Duration::from_secs(k as u64))).as_millis())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_jitter_seed_given_before_its_jitter_is_kept_for_it() {
    let max = Duration::from_millis(400);
    let seeded = jitter_delays(|b| b.jitter(max).jitter_seed(9), |_| {}).await;
    assert!(seeded.iter().skip(1).any(|ms| *ms > 0), "{seeded:?}");
    // On the builder, the seed first and the jitter set on the loop.
    let builder_seed = jitter_delays(
        |b| b.jitter_seed(9),
        |lp| {
            assert_eq!(lp.jitter(), None, "a seed alone is no jitter");
            lp.set_jitter(Some(max)).unwrap();
        },
    )
    .await;
    assert_eq!(builder_seed, seeded);
    // On the loop, the same.
    let loop_seed = jitter_delays(
        |b| b,
        |lp| {
            lp.set_jitter_seed(9);
            assert_eq!(lp.jitter(), None, "a seed alone is no jitter");
            lp.set_jitter(Some(max)).unwrap();
        },
    )
    .await;
    assert_eq!(loop_seed, seeded);
    // A seed given to the loop's jitter starts its source over.
    let reseeded =
        jitter_delays(|b| b.jitter(max).jitter_seed(1), |lp| lp.set_jitter_seed(9)).await;
    assert_eq!(reseeded, seeded);
}

// --- the wall-clock options, on the loop ---

/// The wall-clock instants a loop's body began at.
type Runs = Arc<Mutex<Vec<DateTime<Utc>>>>;

/// A times-of-day loop on a virtual clock, whose body logs the wall clock.
fn wall_clock_loop(
    start: &str,
    time: TimeOfDay,
    configure: impl FnOnce(LoopBuilder<()>) -> LoopBuilder<()>,
) -> (Loop<()>, Arc<VirtualClock>, Runs) {
    let clock = VirtualClock::starting_at(utc(start));
    let runs: Runs = Arc::default();
    let body = {
        let (clock, runs) = (Arc::clone(&clock), Arc::clone(&runs));
        move |()| {
            runs.lock().unwrap().push(clock.now());
            async {}
        }
    };
    let builder = Loop::builder(body).time(time).clock(clock.clone());
    (configure(builder).build().unwrap(), clock, runs)
}

#[tokio::test(start_paused = true)]
async fn a_grace_period_set_on_a_running_loop_applies_at_the_next_jump() {
    let eight = TimeOfDay::parse("08:00").unwrap();
    let (lp, clock, runs) = wall_clock_loop("2024-01-01T07:00:00Z", eight, |b| b);
    lp.start(()).unwrap();
    sleep_ms(1_830_000).await; // 07:30:30
    lp.set_grace_period(Some(Duration::from_secs(2 * 3600)));
    assert_eq!(lp.grace_period(), Some(Duration::from_secs(2 * 3600)));
    clock.suspend(Duration::from_secs(3600)); // wakes at 08:30:30
    sleep_ms(3 * 3_600_000).await;
    // Noticed at the end of the 60 s chunk under way, and run then.
    assert_eq!(*runs.lock().unwrap(), [utc("2024-01-01T08:31:00Z")]);
    lp.cancel();
}

#[tokio::test(start_paused = true)]
async fn a_wall_clock_check_set_on_the_loop_applies_from_the_next_sleep() {
    let eight = TimeOfDay::parse("08:00").unwrap();
    let (lp, clock, runs) = wall_clock_loop("2024-01-01T07:00:00Z", eight, |b| {
        b.grace_period(Duration::from_secs(3600))
    });
    lp.set_wall_clock_check(Duration::from_secs(600)).unwrap();
    lp.start(()).unwrap();
    sleep_ms(31 * 60_000).await;
    clock.jump(TimeDelta::hours(1));
    sleep_ms(3_600_000).await;
    // Noticed at the end of the 10-minute chunk under way (07:40 + 1 h).
    assert_eq!(*runs.lock().unwrap(), [utc("2024-01-01T08:40:00Z")]);
    lp.cancel();
}

#[tokio::test(start_paused = true)]
async fn an_ambiguous_time_set_on_the_loop_picks_the_instant() {
    // 02:30 happens twice in Paris on 2024-10-27: at 00:30 and 01:30 UTC.
    let twice = TimeOfDay::parse_in("02:30", "Europe/Paris").unwrap();
    for (choice, expected) in [
        (AmbiguousTime::Later, "2024-10-27T01:30:00Z"),
        (AmbiguousTime::Earlier, "2024-10-27T00:30:00Z"),
    ] {
        let (lp, _clock, _runs) = wall_clock_loop("2024-10-26T22:00:00Z", twice, |b| b);
        lp.set_ambiguous_time(choice);
        assert_eq!(lp.ambiguous_time(), choice);
        lp.start(()).unwrap();
        tokio::task::yield_now().await;
        assert_eq!(lp.next_iteration(), Some(utc(expected)), "{choice:?}");
        lp.cancel();
    }
}

// --- hooks and retried error types, on the builder ---

#[derive(Debug, thiserror::Error)]
#[error("busy")]
struct Busy;

#[tokio::test(start_paused = true)]
async fn hooks_given_to_the_builder_run_as_the_loop_s_own() {
    let rec = Recorder::new();
    let log = |what: &'static str| {
        let rec = rec.clone();
        move || {
            let rec = rec.clone();
            async move { rec.log(what) }
        }
    };
    let on_error = {
        let rec = rec.clone();
        move |error: LoopError| {
            let rec = rec.clone();
            async move { rec.log(format!("error {error}")) }
        }
    };
    let body = {
        let rec = rec.clone();
        move |()| {
            rec.log("body");
            async { Err::<(), _>(Busy) }
        }
    };
    let lp = Loop::builder(body)
        .seconds(1.0)
        .before_loop(log("before"))
        .after_loop(log("after"))
        .error(on_error)
        .build()
        .unwrap();
    let outcome = lp.start(()).unwrap().await;
    assert!(matches!(outcome, RunOutcome::Failed(_)), "{outcome:?}");
    assert_eq!(
        rec.events(),
        ["0 before", "0 body", "0 error busy", "0 after"]
    );
}

#[tokio::test(start_paused = true)]
async fn retried_error_types_given_to_the_builder_are_the_loop_s() {
    let lp = Loop::builder(|()| async { Err::<(), _>(Busy) })
        .seconds(1.0)
        .clear_exception_types()
        .add_exception_type::<Busy>()
        .add_exception_type::<std::io::Error>()
        .remove_exception_type::<std::io::Error>()
        .build()
        .unwrap();
    let names = lp.exception_types();
    assert_eq!(names.len(), 1);
    assert!(names[0].ends_with("Busy"), "{names:?}");
    // Retried: the run is still going after the first failures.
    let run = lp.start(()).unwrap();
    sleep_ms(5_000).await;
    assert!(lp.is_running());
    assert!(lp.status().retries_since_success > 1);
    lp.cancel();
    assert_eq!(run.await, RunOutcome::Cancelled);
}
