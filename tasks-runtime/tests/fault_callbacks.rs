//! Faults injected at every kind of user callback: each one reaches the
//! `error` hook once, and every run ends (with `after_loop` once), so no
//! failure is silent. On tokio's paused clock.

mod common;

use std::error::Error as StdError;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tasks_runtime::testing::VirtualClock;
use tasks_runtime::{Backoff, Clock, Loop, LoopError, RunOutcome, TimeOfDay};

/// Where a fault is injected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Site {
    BodyError,
    BodyPanic,
    BodyClosurePanic,
    BeforeLoopError,
    BeforeLoopPanic,
    AfterLoopError,
    AfterLoopPanic,
    ErrorHookPanic,
    BackoffDelayPanic,
    BackoffFactoryPanic,
    ClockPanic,
    ClonePanic,
    DropPanic,
    DisplayPanic,
}

const SITES: [Site; 14] = [
    Site::BodyError,
    Site::BodyPanic,
    Site::BodyClosurePanic,
    Site::BeforeLoopError,
    Site::BeforeLoopPanic,
    Site::AfterLoopError,
    Site::AfterLoopPanic,
    Site::ErrorHookPanic,
    Site::BackoffDelayPanic,
    Site::BackoffFactoryPanic,
    Site::ClockPanic,
    Site::ClonePanic,
    Site::DropPanic,
    Site::DisplayPanic,
];

/// An error whose `Display` panics.
#[derive(Debug)]
struct Unprintable;

impl fmt::Display for Unprintable {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("Display panicked")
    }
}

impl StdError for Unprintable {}

/// The loop's argument: its clone or its drop panics where asked.
struct Arg {
    site: Site,
    original: bool,
}

impl Clone for Arg {
    fn clone(&self) -> Self {
        assert!(self.site != Site::ClonePanic, "clone panicked");
        Arg {
            site: self.site,
            original: false,
        }
    }
}

impl Drop for Arg {
    fn drop(&mut self) {
        if self.original && self.site == Site::DropPanic && !std::thread::panicking() {
            panic!("drop panicked");
        }
    }
}

struct PanickingBackoff;

impl Backoff for PanickingBackoff {
    fn delay(&mut self) -> Duration {
        panic!("backoff panicked")
    }
}

struct PanickingClock(Arc<VirtualClock>, AtomicUsize);

impl Clock for PanickingClock {
    fn now(&self) -> DateTime<Utc> {
        // The first reading schedules the first time of day; the next one
        // panics.
        assert!(self.1.fetch_add(1, Ordering::SeqCst) < 1, "clock panicked");
        self.0.now()
    }
}

/// Runs a loop with a fault at `site` `runs` times; returns how many times
/// the `error` hook and `after_loop` ran, and the outcomes.
async fn inject(site: Site, runs: usize) -> (usize, usize, Vec<RunOutcome>) {
    let mut builder = Loop::builder(move |arg: Arg| {
        if arg.site == Site::BodyClosurePanic {
            panic!("body closure panicked");
        }
        async move {
            match arg.site {
                Site::BodyError | Site::BackoffDelayPanic | Site::BackoffFactoryPanic => {
                    Err(std::io::Error::other("body failed").into())
                }
                Site::BodyPanic => panic!("body panicked"),
                Site::DisplayPanic => {
                    Err::<(), Box<dyn StdError + Send + Sync>>(Box::new(Unprintable))
                }
                _ => Ok(()),
            }
        }
    })
    .seconds(1.0)
    .count(2);
    match site {
        Site::BodyError => builder = builder.reconnect(false),
        Site::BackoffDelayPanic => builder = builder.backoff(|| PanickingBackoff),
        Site::BackoffFactoryPanic => {
            builder = builder.backoff(|| -> PanickingBackoff { panic!("factory panicked") })
        }
        _ => {}
    }
    let lp = builder.build().unwrap();
    let errors = Arc::new(AtomicUsize::new(0));
    let afters = Arc::new(AtomicUsize::new(0));
    let counted = errors.clone();
    lp.error(move |_: LoopError| {
        counted.fetch_add(1, Ordering::SeqCst);
        async move {
            assert!(site != Site::ErrorHookPanic, "error hook panicked");
        }
    });
    let counted = afters.clone();
    lp.after_loop(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        async move {
            match site {
                Site::AfterLoopError => Err("after_loop failed"),
                Site::AfterLoopPanic => panic!("after_loop panicked") as Result<(), &str>,
                _ => Ok(()),
            }
        }
    });
    match site {
        Site::BeforeLoopError => drop(lp.before_loop(|| async { Err("before_loop failed") })),
        Site::BeforeLoopPanic => drop(lp.before_loop(|| async {
            panic!("before_loop panicked");
            #[allow(unreachable_code)]
            ()
        })),
        Site::ErrorHookPanic => drop(lp.before_loop(|| async { Err("before_loop failed") })),
        _ => {}
    }
    let mut outcomes = Vec::new();
    for _ in 0..runs {
        let run = if site == Site::ClockPanic {
            // A times-of-day loop whose clock panics at its second reading.
            let clock = VirtualClock::starting_at("2024-01-01T07:00:00Z".parse().unwrap());
            let timed = Loop::builder(|_: Arg| async {})
                .time(TimeOfDay::parse("08:00").unwrap())
                .clock(Arc::new(PanickingClock(clock, AtomicUsize::new(0))))
                .build()
                .unwrap();
            let counted = errors.clone();
            timed.error(move |_| {
                counted.fetch_add(1, Ordering::SeqCst);
                async {}
            });
            let counted = afters.clone();
            timed.after_loop(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                async {}
            });
            timed
                .start(Arg {
                    site,
                    original: true,
                })
                .unwrap()
        } else {
            lp.start(Arg {
                site,
                original: true,
            })
            .unwrap()
        };
        let outcome = tokio::time::timeout(Duration::from_secs(86_400), run.wait())
            .await
            .unwrap_or_else(|_| panic!("{site:?}: the run never ended"));
        outcomes.push(outcome);
    }
    (
        errors.load(Ordering::SeqCst),
        afters.load(Ordering::SeqCst),
        outcomes,
    )
}

#[test]
fn every_injected_fault_reaches_the_error_hook_once_and_every_run_ends() {
    let _subscriber = tracing::subscriber::set_default(common::FormattingSubscriber);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    const RUNS: usize = 3;
    for site in SITES {
        let (errors, afters, outcomes) = runtime.block_on(inject(site, RUNS));
        assert_eq!(
            errors, RUNS,
            "{site:?}: error hook calls, outcomes {outcomes:?}"
        );
        assert_eq!(afters, RUNS, "{site:?}: after_loop calls");
        assert_eq!(outcomes.len(), RUNS);
        for outcome in outcomes {
            let expected_failure = !matches!(site, Site::AfterLoopError | Site::AfterLoopPanic);
            assert_eq!(
                matches!(outcome, RunOutcome::Failed(_)),
                expected_failure,
                "{site:?}: {outcome:?}"
            );
        }
    }
}
