//! Arbitrary values thrown at the builder, `change_interval`, `set_count`,
//! the grace period and the clocks, extremes included: no panic escapes to
//! the caller, no run spins, and every run ends exactly once, with
//! `after_loop` exactly once. Each case runs on tokio's paused clock, in a
//! thread of its own with a deadline in real time that only a spinning
//! run reaches.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use proptest::prelude::*;
use tasks_runtime::testing::VirtualClock;
use tasks_runtime::{Interval, Loop, TimeOfDay};

#[derive(Clone, Debug)]
enum Op {
    ChangeSeconds(f64),
    ChangeTimes(u32, u32),
    SetCount(Option<u64>),
    Jump(i64),
    Stop,
    Cancel,
    Restart,
    Read,
}

#[derive(Clone, Debug)]
struct Case {
    seconds: f64,
    time: Option<(u32, u32)>,
    count: Option<u64>,
    grace: Option<Duration>,
    wall_check: Duration,
    start: DateTime<Utc>,
    ops: Vec<(u64, Op)>,
}

/// Intervals, valid or not. None below a millisecond: on the paused
/// clock, a loop that is always due keeps time from advancing (it yields,
/// but the runtime is never idle), so the case's own sleeps would never
/// end. Zero intervals are tested on their own, in `schedule_basics.rs`.
fn extreme_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => 0.001..5.0f64,
        1 => Just(-1.0),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(1e19),
        1 => Just(3.0e9),
        1 => any::<f64>().prop_filter("a due-at-once interval", |s| !(0.0..0.001).contains(s)),
    ]
}

fn extreme_duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        3 => (0u64..100_000).prop_map(Duration::from_millis),
        1 => Just(Duration::ZERO),
        1 => Just(Duration::MAX),
        1 => Just(Duration::from_secs(10_000_000_000_000)),
    ]
}

fn extreme_instant() -> impl Strategy<Value = DateTime<Utc>> {
    let min = DateTime::<Utc>::MIN_UTC.timestamp();
    let max = DateTime::<Utc>::MAX_UTC.timestamp();
    prop_oneof![
        3 => (0i64..4_000_000_000).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap()),
        1 => (min..=max).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap()),
        1 => Just(DateTime::<Utc>::MIN_UTC),
        1 => Just(DateTime::<Utc>::MAX_UTC - TimeDelta::hours(1)),
        1 => Just("2262-04-11T23:00:00Z".parse().unwrap()),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        extreme_f64().prop_map(Op::ChangeSeconds),
        (0u32..25, 0u32..61).prop_map(|(h, m)| Op::ChangeTimes(h, m)),
        prop_oneof![Just(None), (0u64..4).prop_map(Some), Just(Some(u64::MAX))]
            .prop_map(Op::SetCount),
        prop_oneof![(-100_000i64..100_000), Just(i64::MIN), Just(i64::MAX),].prop_map(Op::Jump),
        Just(Op::Stop),
        Just(Op::Cancel),
        Just(Op::Restart),
        Just(Op::Read),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        extreme_f64(),
        proptest::option::of((0u32..25, 0u32..61)),
        prop_oneof![Just(None), (0u64..4).prop_map(Some)],
        proptest::option::of(extreme_duration()),
        extreme_duration(),
        extreme_instant(),
        proptest::collection::vec((0u64..200_000, op()), 0..8),
    )
        .prop_map(
            |(seconds, time, count, grace, wall_check, start, ops)| Case {
                seconds,
                time,
                count,
                grace,
                wall_check,
                start,
                ops,
            },
        )
}

/// Runs one case; `Err` says what went wrong.
fn run(case: Case) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let clock = VirtualClock::starting_at(case.start);
        let mut builder = Loop::builder(|()| async {}).clock(clock.clone());
        builder = match case.time {
            Some((h, m)) => match TimeOfDay::new(h, m, 0) {
                Ok(time) => builder.time(time),
                Err(_) => builder.seconds(case.seconds),
            },
            None => builder.seconds(case.seconds),
        };
        if let Some(count) = case.count {
            builder = builder.count(count);
        }
        if let Some(grace) = case.grace {
            builder = builder.grace_period(grace);
        }
        builder = builder.wall_clock_check(case.wall_check);
        let built = catch_unwind(AssertUnwindSafe(|| builder.build()))
            .map_err(|_| "build panicked".to_owned())?;
        let Ok(lp) = built else { return Ok(()) };
        let (begun, ended) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let counter = begun.clone();
        lp.before_loop(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async {}
        });
        let counter = ended.clone();
        lp.after_loop(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async {}
        });
        lp.start(()).map_err(|e| e.to_string())?;
        for (delay_ms, op) in case.ops {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            let applied = catch_unwind(AssertUnwindSafe(|| match op {
                Op::ChangeSeconds(s) => drop(lp.change_interval(Interval::seconds(s))),
                Op::ChangeTimes(h, m) => {
                    if let Ok(time) = TimeOfDay::new(h, m, 0) {
                        drop(lp.change_interval(Interval::times([time])));
                    }
                }
                Op::SetCount(count) => drop(lp.set_count(count)),
                Op::Jump(seconds) => {
                    clock.jump(TimeDelta::try_seconds(seconds).unwrap_or(if seconds < 0 {
                        TimeDelta::MIN
                    } else {
                        TimeDelta::MAX
                    }))
                }
                Op::Stop => lp.stop(),
                Op::Cancel => lp.cancel(),
                Op::Restart => lp.restart(()),
                Op::Read => {
                    let _ = (
                        lp.next_iteration(),
                        lp.current_loop(),
                        lp.interval(),
                        lp.failed(),
                    );
                    let _ = format!("{lp:?}");
                }
            }));
            applied.map_err(|_| format!("{op:?} panicked in the caller"))?;
        }
        // Let a pending restart begin, then end whatever runs.
        tokio::time::sleep(Duration::from_millis(10)).await;
        lp.cancel();
        for _ in 0..3 {
            if let Some(task) = lp.task() {
                let ended_in_time =
                    tokio::time::timeout(Duration::from_secs(86_400), task.wait()).await;
                ended_in_time.map_err(|_| "a run never ended".to_owned())?;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            lp.cancel();
        }
        if lp.is_running() {
            return Err("still running after cancel".into());
        }
        let (begun, ended) = (begun.load(Ordering::SeqCst), ended.load(Ordering::SeqCst));
        if begun != ended {
            return Err(format!("{begun} runs began, after_loop ran {ended} times"));
        }
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn no_panic_escapes_no_run_spins_and_every_run_ends_once(case in case()) {
        let (done, result) = std::sync::mpsc::channel();
        let shown = format!("{case:?}");
        std::thread::spawn(move || {
            let _ = done.send(run(case));
        });
        // Real time, reached only by a case that spins.
        match result.recv_timeout(Duration::from_secs(20)) {
            Ok(outcome) => prop_assert_eq!(outcome, Ok(()), "{}", shown),
            Err(_) => prop_assert!(false, "the case spun or hung: {}", shown),
        }
    }
}
