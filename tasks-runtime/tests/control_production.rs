//! Missed iterations, timeouts, jitter, shutdown, status and the clock of
//! an existing loop, on the paused clock.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{log_after_loop, logging_loop, sleep_ms, times, Recorder};
use tasks_runtime::testing::VirtualClock;
use tasks_runtime::{
    AmbiguousTime, ConfigError, FixedBackoff, IterationOutcome, IterationTimeout, Loop, LoopError,
    MissedTickBehavior, RunOutcome, StartError, TimeOfDay,
};
use tokio::time::Instant;

fn fixed_backoff(ms: u64) -> impl Fn() -> FixedBackoff + Send + Sync + 'static {
    move || FixedBackoff::new(Duration::from_millis(ms))
}

// --- missed iterations ---

#[tokio::test(start_paused = true)]
async fn burst_runs_the_missed_iterations_back_to_back() {
    let rec = Recorder::new();
    let lp = logging_loop(&rec, &[3500], |b| {
        b.seconds(1.0).count(8).missed(MissedTickBehavior::Burst)
    });
    lp.start(()).unwrap().await;
    assert_eq!(times(&rec), [0, 3500, 3500, 3500, 4000, 5000, 6000, 7000]);
}

#[tokio::test(start_paused = true)]
async fn delay_runs_one_late_iteration_then_an_interval_after_it() {
    let rec = Recorder::new();
    let lp = logging_loop(&rec, &[3500], |b| {
        b.seconds(1.0).count(5).missed(MissedTickBehavior::Delay)
    });
    lp.start(()).unwrap().await;
    assert_eq!(times(&rec), [0, 3500, 4500, 5500, 6500]);
}

#[tokio::test(start_paused = true)]
async fn skip_runs_one_late_iteration_then_keeps_the_original_schedule() {
    let rec = Recorder::new();
    let lp = logging_loop(&rec, &[3500], |b| {
        b.seconds(1.0).count(5).missed(MissedTickBehavior::Skip)
    });
    lp.start(()).unwrap().await;
    assert_eq!(times(&rec), [0, 3500, 4000, 5000, 6000]);
}

#[tokio::test(start_paused = true)]
async fn a_policy_set_on_the_loop_applies_from_the_next_iteration() {
    let rec = Recorder::new();
    let lp = logging_loop(&rec, &[0, 2500], |b| b.seconds(1.0).count(4));
    lp.set_missed(MissedTickBehavior::Skip);
    lp.start(()).unwrap().await;
    assert_eq!(times(&rec), [0, 1000, 3500, 4000]);
}

#[tokio::test(start_paused = true)]
async fn missed_retries_follow_the_policy_too() {
    let rec = Recorder::new();
    let calls = Arc::new(AtomicU32::new(0));
    let lp = {
        let (rec, calls) = (rec.clone(), Arc::clone(&calls));
        Loop::builder(move |()| {
            let (rec, calls) = (rec.clone(), Arc::clone(&calls));
            async move {
                rec.log("body");
                if calls.fetch_add(1, Ordering::SeqCst) == 1 {
                    return Err(std::io::Error::other("flaky"));
                }
                Ok(())
            }
        })
        .seconds(1.0)
        .count(4)
        .backoff(fixed_backoff(2200))
        .missed(MissedTickBehavior::Delay)
        .build()
        .unwrap()
    };
    lp.start(()).unwrap().await;
    // The retry succeeds at 3.2 s, past the iterations of 2 s and 3 s.
    assert_eq!(times(&rec), [0, 1000, 3200, 3200, 4200]);
}

// --- timeouts ---

#[tokio::test(start_paused = true)]
async fn a_call_past_its_timeout_is_dropped_and_retried() {
    let rec = Recorder::new();
    let lp = logging_loop(&rec, &[0, 5000], |b| {
        b.seconds(1.0)
            .count(3)
            .timeout(Duration::from_millis(500))
            .backoff(fixed_backoff(200))
    });
    lp.start(()).unwrap().await;
    // Call 1 times out at 1.5 s, its retry runs at 1.7 s.
    assert_eq!(times(&rec), [0, 1000, 1700, 2000]);
    let status = lp.status();
    assert_eq!(status.retries_since_success, 0);
    let error = status.last_iteration.unwrap().error.unwrap();
    assert!(
        error.ends_with("iteration 1 ran longer than its 0.5 s timeout"),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_timeout_without_reconnect_is_unhandled_and_says_which_loop_iteration_and_how_long() {
    let errors: Arc<std::sync::Mutex<Vec<LoopError>>> = Arc::default();
    let lp = Loop::builder(|()| async { sleep_ms(60_000).await })
        .name("sync")
        .seconds(1.0)
        .timeout(Duration::from_secs(30))
        .reconnect(false)
        .build()
        .unwrap();
    let seen = Arc::clone(&errors);
    lp.error(move |error| {
        seen.lock().unwrap().push(error);
        async {}
    });
    let started = Instant::now();
    assert!(matches!(lp.start(()).unwrap().await, RunOutcome::Failed(_)));
    assert_eq!(started.elapsed(), Duration::from_secs(30));
    let error = errors.lock().unwrap()[0].clone();
    let timeout = error.downcast_ref::<IterationTimeout>().unwrap();
    assert_eq!(
        (timeout.loop_name.as_str(), timeout.iteration, timeout.after),
        ("sync", 0, Duration::from_secs(30))
    );
    assert_eq!(
        error.to_string(),
        "loop `sync` iteration 0 ran longer than its 30 s timeout"
    );
    assert_eq!(
        lp.status().last_iteration.unwrap().outcome,
        IterationOutcome::TimedOut
    );
}

#[tokio::test(start_paused = true)]
async fn a_retry_that_times_out_is_retried_again() {
    let rec = Recorder::new();
    // Calls 1 and 2 (its retry) both hang; call 3 succeeds.
    let lp = logging_loop(&rec, &[0, 10_000, 10_000], |b| {
        b.seconds(1.0)
            .count(3)
            .timeout(Duration::from_millis(300))
            .backoff(fixed_backoff(100))
    });
    let status_before = lp.status();
    assert_eq!(status_before.retries_since_success, 0);
    lp.start(()).unwrap().await;
    assert_eq!(times(&rec), [0, 1000, 1400, 1800, 2000]);
}

#[tokio::test(start_paused = true)]
async fn timeouts_are_retried_wherever_tokio_timeouts_are() {
    let rec = Recorder::new();
    let lp = logging_loop(&rec, &[0, 10_000], |b| {
        b.seconds(1.0)
            .count(2)
            .timeout(Duration::from_millis(300))
            .backoff(fixed_backoff(100))
    });
    // Without io::Error, timeouts are still retried through Elapsed.
    assert!(lp.remove_exception_type::<std::io::Error>());
    assert!(matches!(lp.start(()).unwrap().await, RunOutcome::Completed));
    assert_eq!(times(&rec), [0, 1000, 1400]);
    // Without either, a timeout ends the run.
    let rec = Recorder::new();
    let lp = logging_loop(&rec, &[0, 10_000], |b| {
        b.seconds(1.0).count(2).timeout(Duration::from_millis(300))
    });
    lp.remove_exception_type::<std::io::Error>();
    lp.remove_exception_type::<tokio::time::error::Elapsed>();
    assert!(matches!(lp.start(()).unwrap().await, RunOutcome::Failed(_)));
}

#[tokio::test(start_paused = true)]
async fn timeouts_and_jitter_are_checked() {
    let build = |timeout| Loop::builder(|()| async {}).timeout(timeout).build();
    assert!(matches!(
        build(Duration::ZERO),
        Err(ConfigError::ZeroDuration { option: "timeout" })
    ));
    assert!(matches!(
        build(Duration::from_secs(4_000_000_000)),
        Err(ConfigError::DurationTooLong { option: "timeout" })
    ));
    let lp = Loop::builder(|()| async {}).build().unwrap();
    assert!(lp
        .set_jitter(Some(Duration::from_secs(4_000_000_000)))
        .is_err());
    assert_eq!(lp.jitter(), None);
    lp.set_timeout(Some(Duration::from_secs(1))).unwrap();
    lp.set_timeout(None).unwrap();
    assert_eq!(lp.timeout(), None);
}

// --- jitter ---

#[tokio::test(start_paused = true)]
async fn jitter_delays_each_wait_within_its_bounds_without_drift() {
    let starts: Arc<std::sync::Mutex<Vec<Instant>>> = Arc::default();
    let seen = Arc::clone(&starts);
    let lp = Loop::builder(move |()| {
        seen.lock().unwrap().push(Instant::now());
        async {}
    })
    .seconds(10.0)
    .count(500)
    .jitter(Duration::from_secs(3))
    .jitter_seed(11)
    .build()
    .unwrap();
    let origin = Instant::now();
    lp.start(()).unwrap().await;
    let starts = starts.lock().unwrap();
    assert_eq!(starts.len(), 500);
    let delays: Vec<Duration> = starts
        .iter()
        .enumerate()
        .map(|(k, at)| *at - (origin + Duration::from_secs(10 * k as u64)))
        .collect();
    assert_eq!(
        delays[0],
        Duration::ZERO,
        "the first iteration runs at once"
    );
    assert!(
        delays.iter().all(|d| *d <= Duration::from_secs(3)),
        "{delays:?}"
    );
    // Spread over the whole range, never adding up.
    assert!(delays.iter().any(|d| *d < Duration::from_millis(300)));
    assert!(delays.iter().any(|d| *d > Duration::from_millis(2700)));
    let mean = delays.iter().sum::<Duration>() / delays.len() as u32;
    assert!(mean > Duration::from_millis(1200) && mean < Duration::from_millis(1800));
}

#[tokio::test(start_paused = true)]
async fn a_seed_repeats_the_delays_and_next_iteration_reports_them() {
    async fn delays(seed: u64) -> (Vec<u64>, Vec<i64>) {
        let rec = Recorder::new();
        let reported: Arc<std::sync::Mutex<Vec<i64>>> = Arc::default();
        let seen = Arc::clone(&reported);
        let clock = VirtualClock::starting_at(wall_clock());
        let lp = logging_loop(&rec, &[], |b| {
            b.seconds(1.0)
                .count(20)
                .jitter(Duration::from_millis(400))
                .jitter_seed(seed)
                .clock(clock)
        });
        let watcher = {
            let wall = wall_clock();
            let lp = lp.clone();
            tokio::spawn(async move {
                for _ in 0..40 {
                    sleep_ms(500).await;
                    if let Some(next) = lp.next_iteration() {
                        seen.lock().unwrap().push((next - wall).num_milliseconds());
                    }
                }
            })
        };
        lp.start(()).unwrap().await;
        watcher.abort();
        let reported = reported.lock().unwrap().clone();
        (times(&rec), reported)
    }
    fn wall_clock() -> chrono::DateTime<chrono::Utc> {
        "2024-01-01T00:00:00Z".parse().unwrap()
    }
    let (first, reported) = delays(3).await;
    let (again, _) = delays(3).await;
    let (other, _) = delays(4).await;
    assert_eq!(first, again);
    assert_ne!(first, other);
    // Every start reported beforehand by next_iteration is where it ran.
    assert!(!reported.is_empty());
    // The last one is the trailing sleep after the count is reached.
    for at in reported.into_iter().filter(|at| *at < 20_000) {
        let ran = first.iter().any(|t| t.abs_diff(at as u64) <= 1);
        assert!(ran, "{at} not in {first:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn jitter_delays_times_of_day_too() {
    let clock = VirtualClock::starting_at("2024-01-01T07:59:00Z".parse().unwrap());
    let rec = Recorder::new();
    let lp = logging_loop(&rec, &[], |b| {
        b.time(TimeOfDay::parse("08:00").unwrap())
            .count(3)
            .clock(clock.clone())
            .jitter(Duration::from_secs(30))
            .jitter_seed(5)
    });
    lp.start(()).unwrap().await;
    let day = 86_400_000;
    for (k, at) in times(&rec).into_iter().enumerate() {
        let slot = 60_000 + k as u64 * day;
        assert!(at >= slot && at <= slot + 30_000, "{k}: {at}");
    }
}

// --- shutdown ---

#[tokio::test(start_paused = true)]
async fn shutdown_during_a_sleep_ends_the_run_at_once() {
    let rec = Recorder::new();
    let lp = logging_loop(&rec, &[], |b| b.seconds(1.0));
    log_after_loop(&lp, &rec);
    let run = lp.start(()).unwrap();
    sleep_ms(1500).await;
    assert!(lp.shutdown(Duration::from_secs(1)).await);
    assert_eq!(run.await, RunOutcome::Stopped);
    assert_eq!(
        rec.events(),
        [
            "0 body 0",
            "1000 body 1",
            "1500 after current_loop=1 cancelled=false failed=false"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_lets_the_iteration_finish_within_the_grace_period() {
    let rec = Recorder::new();
    let lp = logging_loop(&rec, &[0, 700], |b| b.seconds(1.0));
    log_after_loop(&lp, &rec);
    lp.start(()).unwrap();
    sleep_ms(1200).await;
    assert!(lp.shutdown(Duration::from_secs(1)).await);
    assert_eq!(
        rec.events().last().unwrap(),
        "1700 after current_loop=1 cancelled=false failed=false"
    );
    assert!(!lp.is_running());
}

#[tokio::test(start_paused = true)]
async fn shutdown_cancels_when_the_grace_period_runs_out() {
    let rec = Recorder::new();
    let lp = logging_loop(&rec, &[0, 5000], |b| b.seconds(1.0));
    log_after_loop(&lp, &rec);
    let run = lp.start(()).unwrap();
    sleep_ms(1200).await;
    assert!(!lp.shutdown(Duration::from_millis(300)).await);
    assert_eq!(run.await, RunOutcome::Cancelled);
    assert_eq!(
        rec.events().last().unwrap(),
        "1500 after current_loop=1 cancelled=true failed=false"
    );
    assert_eq!(
        lp.status().last_iteration.unwrap().outcome,
        IterationOutcome::Cancelled
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_of_an_idle_loop_is_graceful_at_once() {
    let lp = Loop::builder(|()| async {}).build().unwrap();
    let started = Instant::now();
    assert!(lp.shutdown(Duration::from_secs(10)).await);
    assert_eq!(started.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn shutdown_during_a_retry_backoff_ends_without_another_call() {
    let calls = Arc::new(AtomicU32::new(0));
    let seen = Arc::clone(&calls);
    let lp = Loop::builder(move |()| {
        seen.fetch_add(1, Ordering::SeqCst);
        async { Err::<(), _>(std::io::Error::other("down")) }
    })
    .backoff(fixed_backoff(10_000))
    .build()
    .unwrap();
    let run = lp.start(()).unwrap();
    sleep_ms(100).await;
    assert!(lp.shutdown(Duration::from_secs(1)).await);
    assert_eq!(run.await, RunOutcome::Stopped);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(lp.status().retries_since_success, 1);
}

#[tokio::test(start_paused = true)]
async fn shutdown_from_before_loop_runs_no_iteration_and_drops_a_pending_restart() {
    let rec = Recorder::new();
    let lp = logging_loop(&rec, &[], |b| b.seconds(1.0));
    lp.before_loop(|| async { sleep_ms(500).await });
    let run = lp.start(()).unwrap();
    sleep_ms(100).await;
    let shutdown = tokio::spawn(lp.shutdown(Duration::from_secs(5)));
    tokio::task::yield_now().await;
    // A restart during a shutdown is refused: it would cancel the run.
    lp.restart(());
    assert!(shutdown.await.unwrap());
    assert_eq!(run.await, RunOutcome::Stopped);
    assert!(rec.events().is_empty());
    sleep_ms(2000).await;
    assert!(!lp.is_running(), "the restart was dropped");
}

// --- status, clock and readers ---

#[tokio::test(start_paused = true)]
async fn status_tells_the_last_iteration_its_timings_and_the_retries() {
    let calls = Arc::new(AtomicU32::new(0));
    let seen = Arc::clone(&calls);
    let clock = VirtualClock::starting_at("2024-01-01T00:00:00Z".parse().unwrap());
    let lp = Loop::builder(move |()| {
        let k = seen.fetch_add(1, Ordering::SeqCst);
        async move {
            sleep_ms(200).await;
            if k == 2 || k == 3 {
                return Err(std::io::Error::other(format!("flaky {k}")));
            }
            Ok(())
        }
    })
    .name("status-test")
    .seconds(1.0)
    .clock(clock)
    .backoff(fixed_backoff(100))
    .build()
    .unwrap();
    assert!(lp.status().last_iteration.is_none());
    lp.start(()).unwrap();
    sleep_ms(2250).await;
    // Call 2 (at 2 s) failed at 2.2 s; its retry waits.
    let status = lp.status();
    assert_eq!(status.retries_since_success, 1);
    let last = status.last_iteration.clone().unwrap();
    assert_eq!(last.outcome, IterationOutcome::Retried);
    assert_eq!(last.error.as_deref(), Some("flaky 2"));
    assert_eq!(last.duration, Some(Duration::from_millis(200)));
    assert_eq!(last.lateness, Some(Duration::ZERO));
    assert_eq!(
        last.started.unwrap().to_rfc3339(),
        "2024-01-01T00:00:02+00:00"
    );
    sleep_ms(650).await;
    // Call 3 (the retry, at 2.3 s) failed too; call 4 (2.6 s) succeeded.
    let status = lp.status();
    let last = status.last_iteration.unwrap();
    assert_eq!(last.outcome, IterationOutcome::Succeeded);
    assert_eq!(status.retries_since_success, 0);
    assert_eq!(last.lateness, Some(Duration::from_millis(600)));
    assert_eq!(
        last.error.as_deref(),
        Some("flaky 3"),
        "the last error is kept"
    );
    assert_eq!(
        status.next_iteration.unwrap().to_rfc3339(),
        "2024-01-01T00:00:03+00:00"
    );
    assert_eq!(
        status.next_iteration_local,
        status.next_iteration.map(|n| n.fixed_offset())
    );
    lp.cancel();
}

#[tokio::test(start_paused = true)]
async fn a_clock_is_given_to_an_existing_loop_only_between_runs() {
    let lp = Loop::builder(|()| async {})
        .time(TimeOfDay::parse_in("09:00", "Asia/Seoul").unwrap())
        .build()
        .unwrap();
    let clock = VirtualClock::starting_at("2024-06-01T00:00:00Z".parse().unwrap());
    lp.set_clock(clock.clone()).unwrap();
    lp.start(()).unwrap();
    tokio::task::yield_now().await;
    assert_eq!(
        lp.next_iteration().unwrap().to_rfc3339(),
        "2024-06-02T00:00:00+00:00"
    );
    assert_eq!(
        lp.next_iteration_local().unwrap().to_rfc3339(),
        "2024-06-02T09:00:00+09:00"
    );
    assert_eq!(lp.set_clock(clock), Err(StartError::AlreadyRunning));
    lp.cancel();
}

#[test]
fn the_builders_settings_read_back() {
    let lp = Loop::builder(|()| async {})
        .ambiguous_time(AmbiguousTime::Earlier)
        .grace_period(Duration::from_secs(90))
        .wall_clock_check(Duration::from_secs(5))
        .missed(MissedTickBehavior::Delay)
        .build()
        .unwrap();
    assert_eq!(lp.ambiguous_time(), AmbiguousTime::Earlier);
    assert_eq!(lp.grace_period(), Some(Duration::from_secs(90)));
    assert_eq!(lp.wall_clock_check(), Duration::from_secs(5));
    assert_eq!(lp.missed(), MissedTickBehavior::Delay);
}
