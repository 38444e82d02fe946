//! Faults and extreme values: every panic of a run reaches the `error`
//! hook, every run ends exactly once, nothing spins and nothing panics in
//! the caller. On tokio's paused clock, with a virtual wall clock.

mod common;
use common::utc;

use std::error::Error as StdError;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use common::{log_after_loop, sleep_ms, Recorder};
use tasks_runtime::testing::VirtualClock;
use tasks_runtime::{
    Backoff, Clock, FixedBackoff, Interval, Loop, LoopBuilder, LoopError, RunOutcome, TimeOfDay,
    Zone,
};

/// Logs `error <message>` from the `error` hook.
fn log_errors(lp: &Loop<impl Send + 'static>, rec: &Recorder) {
    let rec = rec.clone();
    lp.error(move |error: LoopError| {
        let rec = rec.clone();
        async move { rec.log(format!("error {error}")) }
    });
}

fn count(rec: &Recorder, prefix: &str) -> usize {
    rec.events()
        .iter()
        .filter(|e| {
            e.split_once(' ')
                .is_some_and(|(_, what)| what.starts_with(prefix))
        })
        .count()
}

fn expect_failed(outcome: RunOutcome) -> LoopError {
    match outcome {
        RunOutcome::Failed(error) => error,
        other => panic!("expected a failure, got {other:?}"),
    }
}

// 1. Every panic of a run reaches the `error` hook.

#[tokio::test(start_paused = true)]
async fn a_panic_in_the_body_closure_before_its_future_reaches_the_error_hook() {
    let rec = Recorder::new();
    let lp = Loop::builder(|()| -> std::future::Ready<()> { panic!("no future for you") })
        .seconds(1.0)
        .build()
        .unwrap();
    log_errors(&lp, &rec);
    log_after_loop(&lp, &rec);
    let error = expect_failed(lp.start(()).unwrap().await);
    assert_eq!(error.panic_message(), Some("no future for you"));
    assert_eq!(count(&rec, "error"), 1, "{:?}", rec.events());
    assert_eq!(count(&rec, "after"), 1, "{:?}", rec.events());
}

/// A backoff that panics where it is told to.
struct Broken {
    in_delay: bool,
    in_reset: bool,
}

impl Backoff for Broken {
    fn delay(&mut self) -> Duration {
        assert!(!self.in_delay, "broken delay");
        Duration::from_millis(10)
    }
    fn reset(&mut self) {
        assert!(!self.in_reset, "broken reset");
    }
}

/// A loop that fails with an `io::Error` (retried) on its first call and
/// succeeds after.
fn fails_once(configure: impl FnOnce(LoopBuilder<()>) -> LoopBuilder<()>) -> Loop<()> {
    let calls = Arc::new(AtomicUsize::new(0));
    configure(Loop::builder(move |()| {
        let first = calls.fetch_add(1, Ordering::SeqCst) == 0;
        async move {
            if first {
                Err(std::io::Error::other("transient"))
            } else {
                Ok(())
            }
        }
    }))
    .seconds(1.0)
    .build()
    .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_panic_in_a_backoff_reaches_the_error_hook() {
    type Make = fn() -> Broken;
    let cases: [(&str, Make); 3] = [
        ("broken delay", || Broken {
            in_delay: true,
            in_reset: false,
        }),
        ("broken reset", || Broken {
            in_delay: false,
            in_reset: true,
        }),
        ("broken factory", || panic!("broken factory")),
    ];
    for (message, make) in cases {
        let rec = Recorder::new();
        let lp = fails_once(|b| b.backoff(make));
        log_errors(&lp, &rec);
        log_after_loop(&lp, &rec);
        let error = expect_failed(lp.start(()).unwrap().await);
        assert_eq!(error.panic_message(), Some(message));
        assert_eq!(count(&rec, "error"), 1, "{message}: {:?}", rec.events());
        assert_eq!(count(&rec, "after"), 1, "{message}: {:?}", rec.events());
    }
}

/// An argument whose clone panics from the given clone on.
struct Fragile {
    clones: Arc<AtomicUsize>,
    panic_from: usize,
}

impl Clone for Fragile {
    fn clone(&self) -> Self {
        let n = self.clones.fetch_add(1, Ordering::SeqCst);
        assert!(n < self.panic_from, "clone number {n}");
        Self {
            clones: Arc::clone(&self.clones),
            panic_from: self.panic_from,
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_panic_in_the_arguments_clone_reaches_the_error_hook() {
    let rec = Recorder::new();
    let lp = Loop::builder(|_: Fragile| async {})
        .seconds(1.0)
        .build()
        .unwrap();
    log_errors(&lp, &rec);
    log_after_loop(&lp, &rec);
    let args = Fragile {
        clones: Arc::default(),
        panic_from: 2,
    };
    let error = expect_failed(lp.start(args).unwrap().await);
    assert_eq!(error.panic_message(), Some("clone number 2"));
    assert_eq!(count(&rec, "error"), 1, "{:?}", rec.events());
    assert_eq!(count(&rec, "after"), 1, "{:?}", rec.events());
}

/// A wall clock that panics from its n-th reading on.
struct Faulty {
    inner: Arc<VirtualClock>,
    reads: AtomicUsize,
    panic_from: usize,
}

impl Clock for Faulty {
    fn now(&self) -> DateTime<Utc> {
        let n = self.reads.fetch_add(1, Ordering::SeqCst);
        assert!(n < self.panic_from, "clock read {n}");
        self.inner.now()
    }
}

#[tokio::test(start_paused = true)]
async fn a_panic_in_the_clock_reaches_the_error_hook() {
    for panic_from in 0..6 {
        let rec = Recorder::new();
        let clock = Arc::new(Faulty {
            inner: VirtualClock::starting_at(utc("2024-01-01T07:00:00Z")),
            reads: AtomicUsize::new(0),
            panic_from,
        });
        let lp = Loop::builder(|()| async {})
            .times(["08:00", "09:00"].map(|t| TimeOfDay::parse(t).unwrap()))
            .clock(clock)
            .build()
            .unwrap();
        log_errors(&lp, &rec);
        log_after_loop(&lp, &rec);
        let run = lp.start(()).unwrap();
        let outcome = tokio::time::timeout(Duration::from_secs(86_400), run.wait()).await;
        let error = expect_failed(outcome.expect("the run ends"));
        assert!(error.panic_message().unwrap().starts_with("clock read"));
        assert_eq!(
            count(&rec, "error"),
            1,
            "from {panic_from}: {:?}",
            rec.events()
        );
        assert_eq!(
            count(&rec, "after"),
            1,
            "from {panic_from}: {:?}",
            rec.events()
        );
    }
}

// 2. A run whose runtime shuts down ends, whatever path it was on.

#[test]
fn a_panic_outside_the_body_just_before_shutdown_still_ends_the_run() {
    let lp = Loop::builder(|()| -> std::future::Ready<()> { panic!("outside the future") })
        .seconds(1.0)
        .build()
        .unwrap();
    // The first run's `after_loop` waits for ever: the runtime shuts down
    // in it.
    let first = Arc::new(AtomicUsize::new(0));
    lp.after_loop(move || {
        let first_time = first.fetch_add(1, Ordering::SeqCst) == 0;
        async move {
            if first_time {
                std::future::pending::<()>().await;
            }
        }
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let run = runtime.block_on(async {
        let run = lp.start(()).unwrap();
        // The run's task panics, then waits in `after_loop`.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        run
    });
    drop(runtime);
    assert!(!lp.is_running());
    assert!(run.is_finished());
    let again = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    again.block_on(async {
        let run = lp.start(()).expect("the loop starts again");
        assert!(matches!(run.await, RunOutcome::Failed(_)));
    });
}

// 3. Intervals over 100 years are refused; below that, a long one waits.

#[tokio::test(start_paused = true)]
async fn intervals_over_a_hundred_years_are_refused_and_shorter_ones_wait() {
    assert!(Loop::builder(|()| async {}).seconds(1e19).build().is_err());
    assert!(Loop::builder(|()| async {})
        .hours(876_601.0)
        .build()
        .is_err());
    let calls = Arc::new(AtomicUsize::new(0));
    let lp = Loop::builder({
        let calls = calls.clone();
        move |()| {
            calls.fetch_add(1, Ordering::SeqCst);
            async {}
        }
    })
    .hours(876_000.0)
    .build()
    .unwrap();
    let run = lp.start(()).unwrap();
    sleep_ms(10).await;
    assert!(lp.change_interval(Interval::seconds(1e19)).is_err());
    assert_eq!(lp.hours(), Some(876_000.0));
    let next = lp.next_iteration().expect("a long interval waits");
    assert!(next - Utc::now() > TimeDelta::days(365 * 99));
    sleep_ms(86_400_000).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    lp.cancel();
    assert_eq!(run.await, RunOutcome::Cancelled);
}

// 4. A cyclic `source()` chain neither spins nor blocks the loop.

#[derive(Debug)]
struct Cyclic;

impl fmt::Display for Cyclic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("its own cause")
    }
}

impl StdError for Cyclic {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(self)
    }
}

#[test]
fn an_error_whose_sources_form_a_cycle_is_not_retried_and_does_not_hang() {
    let lp = Loop::builder(|()| async { Err::<(), _>(Cyclic) })
        .seconds(1.0)
        .build()
        .unwrap();
    let (done, finished) = std::sync::mpsc::channel();
    let handle = lp.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let outcome = runtime.block_on(async { handle.start(()).unwrap().await });
        let _ = done.send(outcome);
    });
    // A bound on real time, reached only if the loop hangs.
    let outcome = finished
        .recv_timeout(Duration::from_secs(10))
        .expect("the run ends instead of spinning");
    assert_eq!(expect_failed(outcome).to_string(), "its own cause");
    assert!(!lp.is_running());
}

// 5. Wall clocks outside 1678..2262 run on schedule or end clearly.

async fn first_runs_at(start: &str) -> (Vec<String>, Option<DateTime<Utc>>) {
    let clock = VirtualClock::starting_at(utc(start));
    let ran = Arc::new(Mutex::new(Vec::new()));
    let lp = Loop::builder({
        let (clock, ran) = (clock.clone(), ran.clone());
        move |()| {
            ran.lock().unwrap().push(clock.now().to_rfc3339());
            async {}
        }
    })
    .time(TimeOfDay::parse("08:00").unwrap())
    .clock(clock)
    .build()
    .unwrap();
    lp.start(()).unwrap();
    sleep_ms(1000).await;
    let next = lp.next_iteration();
    sleep_ms(2 * 86_400_000).await;
    lp.cancel();
    let ran = ran.lock().unwrap().clone();
    (ran, next)
}

#[tokio::test(start_paused = true)]
async fn times_of_day_run_on_schedule_after_2262() {
    let (ran, next) = first_runs_at("2263-01-01T00:00:00Z").await;
    assert_eq!(next, Some(utc("2263-01-01T08:00:00Z")));
    assert_eq!(
        ran,
        ["2263-01-01T08:00:00+00:00", "2263-01-02T08:00:00+00:00"]
    );
}

#[tokio::test(start_paused = true)]
async fn times_of_day_run_on_schedule_before_1678() {
    let (ran, next) = first_runs_at("1600-01-01T00:00:00Z").await;
    assert_eq!(next, Some(utc("1600-01-01T08:00:00Z")));
    assert_eq!(
        ran,
        ["1600-01-01T08:00:00+00:00", "1600-01-02T08:00:00+00:00"]
    );
}

#[tokio::test(start_paused = true)]
async fn at_the_last_representable_date_the_loop_ends_with_a_clear_error() {
    let clock = VirtualClock::starting_at(DateTime::<Utc>::MAX_UTC - TimeDelta::hours(1));
    let calls = Arc::new(AtomicUsize::new(0));
    let lp = Loop::builder({
        let calls = calls.clone();
        move |()| {
            calls.fetch_add(1, Ordering::SeqCst);
            async {}
        }
    })
    .time(TimeOfDay::parse("08:00").unwrap())
    .clock(clock)
    .build()
    .unwrap();
    let run = lp.start(()).unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(86_400), run.wait())
        .await
        .expect("the run ends");
    let error = expect_failed(outcome);
    assert!(error.to_string().contains("no next"), "{error}");
    assert!(calls.load(Ordering::SeqCst) <= 1);
}

// 6. A huge grace period saturates.

#[tokio::test(start_paused = true)]
async fn a_huge_grace_period_runs_a_jumped_over_time_late() {
    let clock = VirtualClock::starting_at(utc("2024-01-01T07:00:00Z"));
    let rec = Recorder::new();
    let lp = Loop::builder({
        let rec = rec.clone();
        move |()| {
            rec.log("body");
            async {}
        }
    })
    .time(TimeOfDay::parse("08:00").unwrap())
    .clock(clock.clone())
    .grace_period(Duration::from_secs(10_000_000_000_000))
    .build()
    .unwrap();
    log_errors(&lp, &rec);
    lp.start(()).unwrap();
    sleep_ms(1_800_000).await;
    clock.jump(TimeDelta::hours(2));
    sleep_ms(120_000).await;
    assert_eq!(count(&rec, "body"), 1, "{:?}", rec.events());
    assert_eq!(count(&rec, "error"), 0, "{:?}", rec.events());
    lp.cancel();
}

// 7. A run ends exactly once.

/// An argument whose original panics when dropped.
struct DropBomb {
    armed: bool,
}

impl Clone for DropBomb {
    fn clone(&self) -> Self {
        Self { armed: false }
    }
}

impl Drop for DropBomb {
    fn drop(&mut self) {
        if self.armed && !std::thread::panicking() {
            panic!("dropping the argument");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_run_ends_once_even_when_dropping_its_argument_panics() {
    let rec = Recorder::new();
    let lp = Loop::builder(|_: DropBomb| async {})
        .seconds(1.0)
        .count(2)
        .build()
        .unwrap();
    log_errors(&lp, &rec);
    log_after_loop(&lp, &rec);
    let run = lp.start(DropBomb { armed: true }).unwrap();
    let first = run.wait().await;
    sleep_ms(5000).await;
    assert_eq!(count(&rec, "after"), 1, "{:?}", rec.events());
    assert_eq!(count(&rec, "error"), 1, "{:?}", rec.events());
    let error = expect_failed(first);
    assert_eq!(error.panic_message(), Some("dropping the argument"));
    assert_eq!(run.outcome(), Some(RunOutcome::Failed(error)));
    assert!(!lp.is_running());
    // A later run is not disturbed by the end of this one.
    let second = lp.start(DropBomb { armed: false }).unwrap();
    assert_eq!(second.await, RunOutcome::Completed);
    assert_eq!(count(&rec, "after"), 2, "{:?}", rec.events());
}

// 8. Lowering the count below what is done ends the run at the next check.

#[tokio::test(start_paused = true)]
async fn lowering_the_count_below_the_iterations_done_ends_the_run() {
    let lp = Loop::builder(|()| async {}).seconds(1.0).build().unwrap();
    let run = lp.start(()).unwrap();
    sleep_ms(5500).await;
    // Six bodies ran; the sixth is counted when its sleep ends.
    assert_eq!(lp.current_loop(), 5);
    lp.set_count(Some(3)).unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(10), run.wait()).await;
    assert_eq!(outcome, Ok(RunOutcome::Completed));
}

// 9. Logging a user's value never changes what the loop does.

#[derive(Debug)]
struct Unprintable;

impl fmt::Display for Unprintable {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("Display of an unprintable error")
    }
}

impl StdError for Unprintable {}

#[test]
fn an_error_whose_display_panics_is_logged_without_changing_the_outcome() {
    let _subscriber = tracing::subscriber::set_default(common::FormattingSubscriber);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async {
        // Unhandled: the run fails with the error, not with a panic.
        let lp = Loop::builder(|()| async { Err::<(), _>(Unprintable) })
            .seconds(1.0)
            .build()
            .unwrap();
        let error = expect_failed(lp.start(()).unwrap().await);
        assert!(error.is::<Unprintable>());
        // Retried: the run goes on.
        let calls = Arc::new(AtomicUsize::new(0));
        let lp = Loop::builder({
            let calls = calls.clone();
            move |()| {
                let first = calls.fetch_add(1, Ordering::SeqCst) == 0;
                async move {
                    if first {
                        Err(Unprintable)
                    } else {
                        Ok(())
                    }
                }
            }
        })
        .seconds(1.0)
        .count(2)
        .backoff(|| FixedBackoff::new(Duration::from_millis(10)))
        .build()
        .unwrap();
        lp.add_exception_type::<Unprintable>();
        assert_eq!(lp.start(()).unwrap().await, RunOutcome::Completed);
    });
}

// 10. `change_interval` inside `after_loop` schedules nothing.

#[tokio::test(start_paused = true)]
async fn change_interval_in_after_loop_leaves_no_next_iteration() {
    let lp = Loop::builder(|()| async {})
        .seconds(1.0)
        .count(2)
        .build()
        .unwrap();
    let seen = Arc::new(Mutex::new(None));
    let (me, seen_in_hook) = (lp.clone(), seen.clone());
    lp.after_loop(move || {
        let (me, seen) = (me.clone(), seen_in_hook.clone());
        async move {
            me.change_interval(Interval::seconds(5.0)).unwrap();
            *seen.lock().unwrap() = Some(me.next_iteration());
        }
    });
    assert_eq!(lp.start(()).unwrap().await, RunOutcome::Completed);
    assert_eq!(*seen.lock().unwrap(), Some(None));
    assert_eq!(lp.next_iteration(), None);
}

// 11. Offsets: only ±HH:MM, ±HHMM and ±HH.

#[test]
fn offsets_are_read_only_in_their_three_forms() {
    for bad in [
        "+0:100",
        "+010:0",
        "+0100:",
        "+:0100",
        "-1:200",
        "+9",
        "+09:00:00",
    ] {
        assert!(bad.parse::<Zone>().is_err(), "{bad}");
    }
    for (good, shown) in [("+01:00", "+01:00"), ("-0530", "-05:30"), ("+09", "+09:00")] {
        assert_eq!(good.parse::<Zone>().unwrap().to_string(), shown);
    }
}

// 12. A virtual clock saturates in the direction of its jump.

#[tokio::test(start_paused = true)]
async fn a_virtual_clock_saturates_in_the_direction_of_its_jump() {
    let clock = VirtualClock::starting_at(utc("2024-01-01T00:00:00Z"));
    clock.jump(TimeDelta::MIN);
    assert_eq!(clock.now(), DateTime::<Utc>::MIN_UTC);
    clock.set(utc("2024-01-01T00:00:00Z"));
    clock.jump(TimeDelta::MAX);
    assert_eq!(clock.now(), DateTime::<Utc>::MAX_UTC);
    clock.set(utc("2024-01-01T00:00:00Z"));
    assert_eq!(clock.now(), utc("2024-01-01T00:00:00Z"));
}
