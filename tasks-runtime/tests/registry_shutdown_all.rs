//! The registry of loops, and a shutdown of all of them. A test binary of
//! its own: `shutdown_all` reaches every loop of the process.

mod common;

use std::time::Duration;

use common::{log_after_loop, logging_loop, sleep_ms, Recorder};
use tasks_runtime::{registry, Loop, RunOutcome};
use tokio::time::Instant;

fn registered(name: &str) -> bool {
    registry::loops().iter().any(|l| l.name() == name)
}

#[tokio::test(start_paused = true)]
async fn shutdown_all_reports_the_graceful_and_the_cancelled() {
    let rec = Recorder::new();
    // Sleeping between iterations: ends at once.
    let idle = logging_loop(&rec, &[], |b| b.name("idle").seconds(10.0));
    // In an iteration that ends within the grace period.
    let quick = logging_loop(&rec, &[0, 800], |b| b.name("quick").seconds(1.0));
    // In an iteration far longer than the grace period, and slow to clean
    // up once cancelled: its after_loop takes two seconds.
    let stuck = logging_loop(&rec, &[0, 60_000], |b| b.name("stuck").seconds(1.0));
    stuck.after_loop(|| async { sleep_ms(2000).await });
    // Not running: left out of the report.
    let never = Loop::builder(|()| async {}).name("never").build().unwrap();
    for lp in [&idle, &quick] {
        log_after_loop(lp, &rec);
    }
    let runs: Vec<_> = [&idle, &quick, &stuck]
        .map(|lp| lp.start(()).unwrap())
        .into();
    sleep_ms(1500).await;

    let started = Instant::now();
    let report = registry::shutdown_all(Duration::from_secs(1)).await;
    // The grace period, then the stuck loop's after_loop.
    assert_eq!(started.elapsed(), Duration::from_secs(3));
    // Other tests of this binary run meanwhile: their loops may be there.
    let mut graceful: Vec<&String> = report
        .graceful
        .iter()
        .filter(|name| ["idle", "quick", "stuck"].contains(&name.as_str()))
        .collect();
    graceful.sort();
    assert_eq!(graceful, ["idle", "quick"]);
    assert_eq!(report.cancelled, ["stuck"]);
    assert!(!report.all_graceful());
    let outcomes: Vec<RunOutcome> = futures_join(runs).await;
    assert_eq!(
        outcomes,
        [
            RunOutcome::Stopped,
            RunOutcome::Stopped,
            RunOutcome::Cancelled
        ]
    );
    assert!(!never.is_running() && registered("never"));
    for status in registry::statuses()
        .iter()
        .filter(|s| ["idle", "quick", "stuck"].contains(&s.name.as_str()))
    {
        assert!(!status.running, "{status:?}");
    }
}

async fn futures_join(runs: Vec<tasks_runtime::RunHandle>) -> Vec<RunOutcome> {
    let mut outcomes = Vec::new();
    for run in runs {
        outcomes.push(run.await);
    }
    outcomes
}

#[tokio::test(start_paused = true)]
async fn a_loop_ended_by_its_runtime_is_not_running_for_the_registry() {
    let lp = Loop::builder(|()| async {})
        .name("finished")
        .count(1)
        .build()
        .unwrap();
    lp.start(()).unwrap().await;
    let any = registry::loops()
        .into_iter()
        .find(|l| l.name() == "finished")
        .unwrap();
    assert!(!any.is_running());
    assert!(any.shutdown(Duration::from_secs(1)).await);
    assert_eq!(format!("{any:?}"), "AnyLoop(\"finished\")");
}
