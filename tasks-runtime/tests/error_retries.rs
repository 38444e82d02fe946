//! Retried and unhandled errors, panics, failing hooks and the backoff, on
//! the paused clock.

mod common;

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{log_after_loop, self_aware, sleep_ms, times, Recorder};
use tasks_runtime::testing::VirtualClock;
use tasks_runtime::{
    Backoff, BoxError, FixedBackoff, Loop, LoopBuilder, LoopError, RunOutcome, TimeOfDay,
};

#[derive(Debug, thiserror::Error)]
#[error("custom")]
struct Custom;

#[derive(Debug, thiserror::Error)]
#[error("request failed")]
struct Wrapped(#[source] std::io::Error);

/// A loop whose k-th body call returns `plan(k)`, logging `body <k>
/// current_loop=<n>`.
fn failing_loop(
    rec: &Recorder,
    plan: fn(usize) -> Result<(), BoxError>,
    configure: impl FnOnce(LoopBuilder<()>) -> LoopBuilder<()>,
) -> Loop<()> {
    let rec = rec.clone();
    let calls = Arc::new(AtomicUsize::new(0));
    self_aware(configure, move |me| {
        let k = calls.fetch_add(1, Ordering::SeqCst);
        rec.log(format!("body {k} current_loop={}", me.current_loop()));
        async move { plan(k) }
    })
}

fn log_errors(lp: &Loop<()>, rec: &Recorder) {
    let (rec, me) = (rec.clone(), lp.clone());
    lp.error(move |error: LoopError| {
        let (rec, me) = (rec.clone(), me.clone());
        async move {
            rec.log(format!(
                "error {error} failed={} running={}",
                me.failed(),
                me.is_running()
            ))
        }
    });
}

fn fixed(ms: u64) -> impl Fn() -> FixedBackoff + Send + Sync + 'static {
    move || FixedBackoff::new(Duration::from_millis(ms))
}

#[tokio::test(start_paused = true)]
async fn a_held_error_is_retried_after_the_backoff_and_not_counted() {
    let rec = Recorder::new();
    let lp = failing_loop(
        &rec,
        |k| match k {
            1 => Err(std::io::Error::other("reset").into()),
            _ => Ok(()),
        },
        |b| b.seconds(0.5).count(3).backoff(fixed(1290)),
    );
    log_after_loop(&lp, &rec);
    assert_eq!(lp.start(()).unwrap().await, RunOutcome::Completed);
    assert_eq!(
        rec.events(),
        [
            "0 body 0 current_loop=0",
            "500 body 1 current_loop=1",
            "1790 body 2 current_loop=1",
            "1790 body 3 current_loop=2",
            // The slot at 1.5 s has passed: no trailing sleep is left.
            "1790 after current_loop=3 cancelled=false failed=false"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn next_iteration_does_not_move_during_a_retry() {
    let clock = VirtualClock::starting_at("2024-01-01T00:00:00Z".parse().unwrap());
    let rec = Recorder::new();
    let lp = failing_loop(
        &rec,
        |k| match k {
            1 => Err(std::io::Error::other("reset").into()),
            _ => Ok(()),
        },
        |b| b.seconds(0.2).backoff(fixed(150)).clock(clock.clone()),
    );
    lp.start(()).unwrap();
    sleep_ms(250).await;
    let during = lp.next_iteration().unwrap();
    assert_eq!(during.to_rfc3339(), "2024-01-01T00:00:00.400+00:00");
    lp.cancel();
}

#[tokio::test(start_paused = true)]
async fn errors_are_matched_through_the_source_chain() {
    let rec = Recorder::new();
    let lp = failing_loop(
        &rec,
        |k| match k {
            0 => Err(Wrapped(std::io::Error::other("reset")).into()),
            _ => Ok(()),
        },
        |b| b.seconds(1.0).count(1).backoff(fixed(100)),
    );
    assert_eq!(lp.start(()).unwrap().await, RunOutcome::Completed);
    assert_eq!(times(&rec), [0, 100]);
}

#[tokio::test(start_paused = true)]
async fn an_unhandled_error_runs_the_error_hook_then_after_loop_and_ends_the_run() {
    let rec = Recorder::new();
    let lp = failing_loop(
        &rec,
        |k| match k {
            1 => Err(Custom.into()),
            _ => Ok(()),
        },
        |b| b.seconds(0.1),
    );
    log_errors(&lp, &rec);
    log_after_loop(&lp, &rec);
    let outcome = lp.start(()).unwrap().await;
    let RunOutcome::Failed(error) = outcome else {
        panic!("expected a failure, got {outcome:?}")
    };
    assert!(error.is::<Custom>());
    assert_eq!(
        rec.events(),
        [
            "0 body 0 current_loop=0",
            "100 body 1 current_loop=1",
            "100 error custom failed=true running=true",
            "100 after current_loop=1 cancelled=false failed=true"
        ]
    );
    assert!(lp.failed());
    lp.start(()).unwrap();
    assert!(!lp.failed(), "start resets failed");
    lp.cancel();
}

#[tokio::test(start_paused = true)]
async fn reconnect_off_makes_held_errors_unhandled() {
    let rec = Recorder::new();
    let lp = failing_loop(
        &rec,
        |_| Err(std::io::Error::other("reset").into()),
        |b| b.seconds(0.1).reconnect(false),
    );
    log_errors(&lp, &rec);
    assert!(matches!(lp.start(()).unwrap().await, RunOutcome::Failed(_)));
    assert_eq!(
        rec.events(),
        [
            "0 body 0 current_loop=0",
            "0 error reset failed=true running=true"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn added_removed_and_cleared_types_decide_what_is_retried() {
    let rec = Recorder::new();
    let lp = failing_loop(
        &rec,
        |k| match k {
            0 => Err(Custom.into()),
            _ => Err(std::io::Error::other("reset").into()),
        },
        |b| b.seconds(1.0).backoff(fixed(100)),
    );
    log_errors(&lp, &rec);
    lp.add_exception_type::<Custom>();
    assert!(lp.remove_exception_type::<std::io::Error>());
    assert!(!lp.remove_exception_type::<std::io::Error>());
    lp.start(()).unwrap().await;
    assert_eq!(
        rec.events(),
        [
            "0 body 0 current_loop=0",
            "100 body 1 current_loop=0",
            "100 error reset failed=true running=true"
        ]
    );
    lp.clear_exception_types();
    assert!(lp.exception_types().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_panic_in_the_body_is_an_unhandled_error_with_its_message() {
    let rec = Recorder::new();
    let lp = self_aware(
        |b| b.seconds(0.1),
        |me| async move {
            if me.current_loop() == 1 {
                panic!("index out of bounds");
            }
        },
    );
    log_errors(&lp, &rec);
    log_after_loop(&lp, &rec);
    let RunOutcome::Failed(error) = lp.start(()).unwrap().await else {
        panic!("expected a failure")
    };
    assert_eq!(error.panic_message(), Some("index out of bounds"));
    assert_eq!(
        rec.events(),
        [
            "100 error the loop body panicked: index out of bounds failed=true running=true",
            "100 after current_loop=1 cancelled=false failed=true"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_failing_before_loop_is_an_unhandled_error() {
    let rec = Recorder::new();
    let lp = failing_loop(&rec, |_| Ok(()), |b| b.seconds(0.1));
    lp.before_loop(|| async { Err::<(), _>(Custom) });
    log_errors(&lp, &rec);
    log_after_loop(&lp, &rec);
    assert!(matches!(lp.start(()).unwrap().await, RunOutcome::Failed(_)));
    assert_eq!(
        rec.events(),
        [
            "0 error custom failed=true running=true",
            "0 after current_loop=0 cancelled=false failed=true"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn failing_or_panicking_hooks_are_logged_and_the_loop_stays_restartable() {
    let rec = Recorder::new();
    let lp = failing_loop(&rec, |_| Err(Custom.into()), |b| b.seconds(0.1));
    lp.error(|_| async { Err::<(), _>("the error hook failed too") });
    lp.after_loop(|| async {
        if true {
            panic!("the after_loop hook panicked");
        }
    });
    assert!(matches!(lp.start(()).unwrap().await, RunOutcome::Failed(_)));
    assert!(!lp.is_running());
    assert_eq!(lp.current_loop(), 0);
    assert!(matches!(lp.start(()).unwrap().await, RunOutcome::Failed(_)));
    assert_eq!(times(&rec), [0, 0]);
}

#[tokio::test(start_paused = true)]
async fn a_stop_left_by_a_failing_after_loop_does_not_leak_into_the_next_run() {
    let rec = Recorder::new();
    let lp = self_aware(|b| b.seconds(0.1).count(3), {
        let rec = rec.clone();
        move |me| {
            rec.log("body");
            if me.current_loop() == 2 {
                me.stop();
            }
            async {}
        }
    });
    lp.after_loop(|| async { Err::<(), _>("after_loop failed") });
    assert_eq!(lp.start(()).unwrap().await, RunOutcome::Stopped);
    assert_eq!(lp.start(()).unwrap().await, RunOutcome::Stopped);
    assert_eq!(times(&rec), [0, 100, 200, 200, 300, 400]);
}

#[tokio::test(start_paused = true)]
async fn with_times_of_day_a_retry_waits_for_the_backoff_not_the_next_time() {
    let clock = VirtualClock::starting_at("2024-01-01T12:00:00Z".parse().unwrap());
    let rec = Recorder::new();
    let t = |s: &str| TimeOfDay::parse(s).unwrap();
    let lp = failing_loop(
        &rec,
        |k| match k {
            0 => Err(std::io::Error::other("reset").into()),
            _ => Ok(()),
        },
        |b| {
            b.times([t("12:00:01"), t("12:00:03"), t("12:00:05")])
                .count(3)
                .backoff(fixed(330))
                .clock(clock.clone())
        },
    );
    lp.start(()).unwrap().await;
    assert_eq!(
        rec.events(),
        [
            "1000 body 0 current_loop=0",
            "1330 body 1 current_loop=0",
            "3000 body 2 current_loop=1",
            "5000 body 3 current_loop=2"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_body_that_keeps_failing_ignores_stop_and_ends_with_cancel() {
    let rec = Recorder::new();
    let lp = failing_loop(
        &rec,
        |_| Err(std::io::Error::other("down").into()),
        |b| b.seconds(1.0).backoff(fixed(50)),
    );
    let run = lp.start(()).unwrap();
    sleep_ms(10).await;
    lp.stop();
    sleep_ms(965).await;
    assert!(lp.is_running());
    assert_eq!(rec.events().len(), 20);
    lp.cancel();
    assert_eq!(run.await, RunOutcome::Cancelled);
}

/// Counts delays and resets.
struct Counting(Arc<(AtomicU32, AtomicU32)>);
impl Backoff for Counting {
    fn delay(&mut self) -> Duration {
        self.0 .0.fetch_add(1, Ordering::SeqCst);
        Duration::from_millis(10)
    }
    fn reset(&mut self) {
        self.0 .1.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn the_backoff_is_made_once_per_run_at_its_first_retry_and_reset_after_each_success() {
    let counts = Arc::new((AtomicU32::new(0), AtomicU32::new(0)));
    let made = Arc::new(AtomicU32::new(0));
    let (counts_b, made_b) = (counts.clone(), made.clone());
    let rec = Recorder::new();
    let lp = failing_loop(
        &rec,
        |k| match k {
            1 | 3 | 6 => Err(std::io::Error::other("reset").into()),
            _ => Ok(()),
        },
        move |b| {
            b.seconds(0.1).count(3).backoff(move || {
                made_b.fetch_add(1, Ordering::SeqCst);
                Counting(counts_b.clone())
            })
        },
    );
    lp.start(()).unwrap().await;
    assert_eq!(made.load(Ordering::SeqCst), 1, "made at the first retry");
    assert_eq!(counts.0.load(Ordering::SeqCst), 2, "two delays");
    assert_eq!(
        counts.1.load(Ordering::SeqCst),
        2,
        "reset after the two successes that follow a retry"
    );
    lp.start(()).unwrap().await;
    assert_eq!(made.load(Ordering::SeqCst), 2, "a new one for the new run");
    assert_eq!(counts.0.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn once_made_the_backoff_is_reset_after_every_success_not_only_the_first() {
    let counts = Arc::new((AtomicU32::new(0), AtomicU32::new(0)));
    let counts_b = counts.clone();
    let rec = Recorder::new();
    let lp = failing_loop(
        &rec,
        |k| match k {
            1 => Err(std::io::Error::other("reset").into()),
            _ => Ok(()),
        },
        move |b| {
            b.seconds(0.1)
                .count(4)
                .backoff(move || Counting(counts_b.clone()))
        },
    );
    lp.start(()).unwrap().await;
    assert_eq!(counts.0.load(Ordering::SeqCst), 1, "one delay");
    assert_eq!(
        counts.1.load(Ordering::SeqCst),
        3,
        "reset after each of the three successes that follow the retry"
    );
}

#[tokio::test(start_paused = true)]
async fn the_default_error_hook_logs_and_the_run_still_ends() {
    let lp = Loop::builder(|()| async { Err::<(), _>(Custom) })
        .build()
        .unwrap();
    let seen = Arc::new(Mutex::new(false));
    let (seen_after, me) = (seen.clone(), lp.clone());
    lp.after_loop(move || {
        *seen_after.lock().unwrap() = me.failed();
        async {}
    });
    assert!(matches!(lp.start(()).unwrap().await, RunOutcome::Failed(_)));
    assert!(*seen.lock().unwrap());
}

/// A backoff that panics: user code outside the body.
struct Broken;
impl Backoff for Broken {
    fn delay(&mut self) -> Duration {
        panic!("broken backoff")
    }
}

#[tokio::test(start_paused = true)]
async fn a_panic_in_user_code_outside_the_body_still_ends_the_run_cleanly() {
    let rec = Recorder::new();
    let lp = failing_loop(
        &rec,
        |_| Err(std::io::Error::other("reset").into()),
        |b| b.seconds(1.0).backoff(|| Broken),
    );
    log_after_loop(&lp, &rec);
    let RunOutcome::Failed(error) = lp.start(()).unwrap().await else {
        panic!("expected a failure")
    };
    assert_eq!(error.panic_message(), Some("broken backoff"));
    assert!(!lp.is_running());
    assert!(lp.failed());
    assert_eq!(
        rec.events(),
        [
            "0 body 0 current_loop=0",
            "0 after current_loop=0 cancelled=false failed=true"
        ]
    );
}
