//! Clock steps and suspends, end to end: a real loop on tokio's paused
//! clock with a `VirtualClock` as its wall clock.
//!
//! Times are wall-clock instants; each test starts its clock at a round
//! instant so that the recorded runs can be compared exactly.

mod common;
use common::utc;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tasks_runtime::testing::VirtualClock;
use tasks_runtime::{Interval, Loop, LoopBuilder, TimeOfDay};

async fn sleep_secs(secs: u64) {
    tokio::time::sleep(Duration::from_secs(secs)).await;
}

/// When a body began (wall clock), and the `next_iteration` it saw.
type Run = (DateTime<Utc>, Option<DateTime<Utc>>);

/// A loop whose body records its runs.
struct Recorded {
    clock: Arc<VirtualClock>,
    runs: Arc<Mutex<Vec<Run>>>,
    the_loop: Loop<()>,
}

impl Recorded {
    fn new(start: &str, configure: impl FnOnce(LoopBuilder<()>) -> LoopBuilder<()>) -> Self {
        let clock = VirtualClock::starting_at(utc(start));
        let runs: Arc<Mutex<Vec<_>>> = Arc::default();
        let cell: Arc<OnceLock<Loop<()>>> = Arc::default();
        let body = {
            let (clock, runs, cell) = (Arc::clone(&clock), Arc::clone(&runs), Arc::clone(&cell));
            move |()| {
                let next = cell.get().and_then(Loop::next_iteration);
                runs.lock().unwrap().push((clock.now(), next));
                async {}
            }
        };
        let the_loop = configure(Loop::builder(body).clock(clock.clone()))
            .build()
            .unwrap();
        let _ = cell.set(the_loop.clone());
        the_loop.start(()).unwrap();
        Self {
            clock,
            runs,
            the_loop,
        }
    }

    /// The wall-clock instants the body began at, as RFC 3339 strings.
    fn runs(&self) -> Vec<String> {
        self.runs
            .lock()
            .unwrap()
            .iter()
            .map(|(at, _)| at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
            .collect()
    }

    fn next(&self) -> Option<String> {
        self.the_loop
            .next_iteration()
            .map(|at| at.format("%Y-%m-%dT%H:%M:%SZ").to_string())
    }
}

impl Drop for Recorded {
    fn drop(&mut self) {
        self.the_loop.cancel();
    }
}

fn at(times: &[&str]) -> Vec<TimeOfDay> {
    times.iter().map(|t| TimeOfDay::parse(t).unwrap()).collect()
}

#[tokio::test(start_paused = true)]
async fn a_forward_step_over_a_listed_time_skips_it() {
    let rec = Recorded::new("2024-01-01T07:00:00Z", |b| b.times(at(&["08:00"])));
    sleep_secs(1830).await; // 07:30:30
    rec.clock.jump(TimeDelta::hours(1)); // 08:30:30: 08:00 was jumped over
    sleep_secs(600).await;
    assert!(rec.runs().is_empty());
    assert_eq!(rec.next().as_deref(), Some("2024-01-02T08:00:00Z"));
    sleep_secs(86_400).await;
    assert_eq!(rec.runs(), ["2024-01-02T08:00:00.000Z"]);
}

#[tokio::test(start_paused = true)]
async fn with_a_grace_period_a_jumped_over_time_runs_once_on_wake_up() {
    let rec = Recorded::new("2024-01-01T07:00:00Z", |b| {
        b.times(at(&["08:00"]))
            .grace_period(Duration::from_secs(2 * 3600))
    });
    sleep_secs(1830).await; // 07:30:30
    rec.clock.suspend(Duration::from_secs(3600)); // wakes at 08:30:30
    sleep_secs(3 * 3600).await;
    // Noticed at the end of the 60 s chunk under way: 08:31.
    assert_eq!(rec.runs(), ["2024-01-01T08:31:00.000Z"]);
    assert_eq!(rec.next().as_deref(), Some("2024-01-02T08:00:00Z"));
}

#[tokio::test(start_paused = true)]
async fn a_time_older_than_the_grace_period_is_still_skipped() {
    let rec = Recorded::new("2024-01-01T07:00:00Z", |b| {
        b.times(at(&["08:00"]))
            .grace_period(Duration::from_secs(600))
    });
    sleep_secs(1830).await;
    rec.clock.suspend(Duration::from_secs(3600)); // noticed at 08:31, 31 min late
    sleep_secs(3 * 3600).await;
    assert!(rec.runs().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_long_suspend_over_several_times_runs_once_not_a_burst() {
    let rec = Recorded::new("2024-01-01T07:00:00Z", |b| {
        b.times(at(&["08:00", "09:00", "10:00"]))
            .grace_period(Duration::from_secs(2 * 3600))
    });
    sleep_secs(1830).await;
    rec.clock.suspend(Duration::from_secs(3 * 3600)); // noticed at 10:31
    sleep_secs(6 * 3600).await;
    // One run on wake-up (for 09:00, the oldest within the grace period),
    // then the next day.
    assert_eq!(rec.runs(), ["2024-01-01T10:31:00.000Z"]);
    assert_eq!(rec.next().as_deref(), Some("2024-01-02T08:00:00Z"));
}

#[tokio::test(start_paused = true)]
async fn a_suspend_in_the_last_minute_before_a_time_skips_it() {
    // The final chunk of sleep (30 s) would end at 08:00 by the monotonic
    // clock; a one-hour suspend in it must not pass for an on-time wake-up.
    let rec = Recorded::new("2024-01-01T07:59:30Z", |b| b.times(at(&["08:00"])));
    sleep_secs(10).await;
    rec.clock.suspend(Duration::from_secs(3600));
    sleep_secs(600).await;
    assert!(rec.runs().is_empty());
    assert_eq!(rec.next().as_deref(), Some("2024-01-02T08:00:00Z"));
}

#[tokio::test(start_paused = true)]
async fn a_forward_step_short_of_a_time_runs_it_at_the_right_wall_time() {
    let rec = Recorded::new("2024-01-01T06:00:00Z", |b| b.times(at(&["08:00"])));
    sleep_secs(1830).await; // 06:30:30
    rec.clock.jump(TimeDelta::minutes(45)); // 07:15:30
    sleep_secs(3600).await;
    // 08:00 on the wall clock, 45 minutes before the old monotonic deadline.
    assert_eq!(rec.runs(), ["2024-01-01T08:00:00.000Z"]);
}

#[tokio::test(start_paused = true)]
async fn a_backward_step_during_a_sleep_never_runs_early() {
    let rec = Recorded::new("2024-01-01T07:00:00Z", |b| b.times(at(&["08:00"])));
    sleep_secs(1830).await; // 07:30:30
    rec.clock.jump(TimeDelta::hours(-2)); // 05:30:30
    sleep_secs(2 * 3600).await; // 07:30:30 again
    assert!(rec.runs().is_empty());
    sleep_secs(3600).await;
    assert_eq!(rec.runs(), ["2024-01-01T08:00:00.000Z"]);
}

#[tokio::test(start_paused = true)]
async fn a_backward_step_right_after_a_run_never_runs_it_twice() {
    let rec = Recorded::new("2024-01-01T07:59:00Z", |b| b.times(at(&["08:00"])));
    sleep_secs(61).await; // 08:00:01, just after the run
    assert_eq!(rec.runs(), ["2024-01-01T08:00:00.000Z"]);
    rec.clock.jump(TimeDelta::minutes(-30)); // 07:30:01
    sleep_secs(3 * 3600).await;
    assert_eq!(rec.runs(), ["2024-01-01T08:00:00.000Z"]);
    sleep_secs(86_400).await;
    assert_eq!(
        rec.runs(),
        ["2024-01-01T08:00:00.000Z", "2024-01-02T08:00:00.000Z"]
    );
}

#[tokio::test(start_paused = true)]
async fn change_interval_after_a_big_backward_step_never_reruns_a_time() {
    // The clock was set back three days after the 08:00 run; changing the
    // schedule must not lose track of what already ran (it used to find no
    // next time at all, and run at once).
    let rec = Recorded::new("2024-01-04T07:59:00Z", |b| b.times(at(&["08:00"])));
    sleep_secs(130).await;
    rec.clock.jump(TimeDelta::days(-3)); // 2024-01-01 08:01:10
    rec.the_loop
        .change_interval(Interval::times(at(&["08:00", "20:00"])))
        .unwrap();
    sleep_secs(3600).await;
    assert_eq!(rec.runs(), ["2024-01-04T08:00:00.000Z"]);
    assert_eq!(rec.next().as_deref(), Some("2024-01-04T20:00:00Z"));
}

#[tokio::test(start_paused = true)]
async fn a_listed_time_is_noticed_within_the_wall_clock_check() {
    // With a 10-minute check, a jump over 08:00 at 07:31 is noticed at the
    // end of the chunk under way (07:40 + 1 h); with grace it runs then.
    let rec = Recorded::new("2024-01-01T07:00:00Z", |b| {
        b.times(at(&["08:00"]))
            .wall_clock_check(Duration::from_secs(600))
            .grace_period(Duration::from_secs(3600))
    });
    sleep_secs(31 * 60).await;
    rec.clock.jump(TimeDelta::hours(1));
    sleep_secs(3600).await;
    assert_eq!(rec.runs(), ["2024-01-01T08:40:00.000Z"]);
}

#[tokio::test(start_paused = true)]
async fn relative_intervals_run_on_the_monotonic_clock_whatever_the_wall_clock_does() {
    let rec = Recorded::new("2024-01-01T00:00:00Z", |b| b.minutes(10.0).count(4));
    sleep_secs(5 * 60).await;
    rec.clock.jump(TimeDelta::hours(3)); // no burst
    sleep_secs(10 * 60).await;
    rec.clock.jump(TimeDelta::hours(-5)); // no stall
    sleep_secs(20 * 60).await;
    assert_eq!(
        rec.runs(),
        [
            "2024-01-01T00:00:00.000Z",
            "2024-01-01T03:10:00.000Z",
            "2023-12-31T22:20:00.000Z",
            "2023-12-31T22:30:00.000Z"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn switching_relative_to_times_of_day_while_running() {
    let rec = Recorded::new("2024-01-01T10:00:00Z", |b| b.hours(1.0));
    sleep_secs(600).await; // 10:10, sleeping until 11:00
    assert_eq!(rec.next().as_deref(), Some("2024-01-01T11:00:00Z"));
    rec.the_loop
        .change_interval(Interval::times(at(&["10:30", "22:00"])))
        .unwrap();
    assert_eq!(rec.next().as_deref(), Some("2024-01-01T10:30:00Z"));
    sleep_secs(3600).await;
    assert_eq!(
        rec.runs(),
        ["2024-01-01T10:00:00.000Z", "2024-01-01T10:30:00.000Z"]
    );
    assert_eq!(rec.next().as_deref(), Some("2024-01-01T22:00:00Z"));
    // The body saw the next iteration: 22:00, after its own run.
    let seen = rec.runs.lock().unwrap()[1].1;
    assert_eq!(seen, Some(utc("2024-01-01T22:00:00Z")));
}

#[tokio::test(start_paused = true)]
async fn switching_times_of_day_to_relative_anchors_to_the_last_run() {
    let rec = Recorded::new("2024-01-01T09:00:00Z", |b| b.times(at(&["10:00"])));
    sleep_secs(3600 + 600).await; // 10:10, after the 10:00 run
    rec.the_loop.change_interval(Interval::hours(1.0)).unwrap();
    assert_eq!(rec.next().as_deref(), Some("2024-01-01T11:00:00Z"));
    sleep_secs(2 * 3600).await;
    assert_eq!(
        rec.runs(),
        [
            "2024-01-01T10:00:00.000Z",
            "2024-01-01T11:00:00.000Z",
            "2024-01-01T12:00:00.000Z"
        ]
    );
    assert_eq!(rec.next().as_deref(), Some("2024-01-01T13:00:00Z"));
}

/// A time of day is reached on the wall clock, so the slot it leaves as
/// `last` takes its monotonic instant from the wake-up, not from when it was
/// scheduled.
#[tokio::test(start_paused = true)]
async fn switching_to_relative_after_a_clock_step_anchors_to_the_wall_time_of_the_last_run() {
    let rec = Recorded::new("2024-01-01T09:00:00Z", |b| b.times(at(&["10:00"])));
    sleep_secs(630).await; // 09:10:30
    rec.clock.jump(TimeDelta::minutes(30)); // 09:40:30: 10:00 comes 30 min early
    sleep_secs(25 * 60).await; // 10:05, after the run
    assert_eq!(rec.runs(), ["2024-01-01T10:00:00.000Z"]);
    rec.the_loop.change_interval(Interval::hours(1.0)).unwrap();
    assert_eq!(rec.next().as_deref(), Some("2024-01-01T11:00:00Z"));
    sleep_secs(3600).await;
    // 11:00 on the wall clock, not 11:30 (the old monotonic anchor + 1 h).
    assert_eq!(
        rec.runs(),
        ["2024-01-01T10:00:00.000Z", "2024-01-01T11:00:00.000Z"]
    );
}

/// A time of day that a clock step carried past while the body ran is
/// jumped over, not an overrun to be run late.
#[tokio::test(start_paused = true)]
async fn a_forward_step_during_the_body_over_the_next_time_skips_it() {
    let clock = VirtualClock::starting_at(utc("2024-01-01T07:59:00Z"));
    let runs: Arc<Mutex<Vec<DateTime<Utc>>>> = Arc::default();
    let body = {
        let (clock, runs) = (clock.clone(), runs.clone());
        move |()| {
            let (clock, runs) = (clock.clone(), runs.clone());
            async move {
                runs.lock().unwrap().push(clock.now());
                if runs.lock().unwrap().len() == 1 {
                    // The machine sleeps for 2 hours while the 08:00 body
                    // runs: 09:00 passes meanwhile.
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    clock.suspend(Duration::from_secs(2 * 3600));
                }
            }
        }
    };
    let lp = Loop::builder(body)
        .times(at(&["08:00", "09:00"]))
        .clock(clock.clone())
        .build()
        .unwrap();
    lp.start(()).unwrap();
    sleep_secs(3 * 3600).await;
    lp.cancel();
    let runs: Vec<String> = runs
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.to_rfc3339())
        .collect();
    // Not a late 09:00 at 10:01.
    assert_eq!(runs, ["2024-01-01T08:00:00+00:00"]);
}

/// A relative interval runs on the monotonic clock, so after a wall-clock
/// step its next iteration is as far ahead of the (new) wall time as it is
/// on the monotonic clock.
#[tokio::test(start_paused = true)]
async fn next_iteration_of_a_relative_loop_follows_a_clock_step() {
    let rec = Recorded::new("2024-01-01T00:00:00Z", |b| b.hours(1.0));
    sleep_secs(600).await;
    rec.clock.jump(TimeDelta::hours(3));
    assert_eq!(rec.next().as_deref(), Some("2024-01-01T04:00:00Z"));
    sleep_secs(3060).await;
    assert_eq!(
        rec.runs(),
        ["2024-01-01T00:00:00.000Z", "2024-01-01T04:00:00.000Z"]
    );
}
