//! The loop's metrics, read from a recording recorder (metrics-util's
//! `DebuggingRecorder`), not from logs.
#![cfg(feature = "metrics")]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use metrics::{SharedString, Unit};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use metrics_util::CompositeKey;
use tasks_runtime::{FixedBackoff, Loop};

/// What the recorder holds: one snapshot (taking one drains it).
type Recorded = Vec<(CompositeKey, Option<Unit>, Option<SharedString>, DebugValue)>;

/// Runs `test` on a current-thread runtime on the paused clock, with the
/// recorder installed for this thread only.
fn recorded(test: impl std::future::Future<Output = ()>) -> Recorded {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || runtime.block_on(test));
    snapshotter.snapshot().into_vec()
}

/// The value of `name` with these labels.
fn value<'a>(
    recorded: &'a Recorded,
    name: &str,
    labels: &[(&str, &str)],
) -> Option<&'a DebugValue> {
    recorded
        .iter()
        .find(|(key, _, _, _)| {
            let key = key.key();
            key.name() == name
                && labels
                    .iter()
                    .all(|(k, v)| key.labels().any(|l| l.key() == *k && l.value() == *v))
        })
        .map(|(_, _, _, value)| value)
}

#[test]
fn iterations_durations_lateness_and_running() {
    let recorded = recorded(async {
        let lp = Loop::builder(|()| async { tokio::time::sleep(Duration::from_millis(250)).await })
            .name("metered")
            .seconds(1.0)
            .count(3)
            .build()
            .unwrap();
        lp.start(()).unwrap().await;
    });
    let metered = [("loop", "metered")];
    assert_eq!(
        value(&recorded, "tasks_iterations_total", &metered),
        Some(&DebugValue::Counter(3))
    );
    let Some(DebugValue::Histogram(durations)) =
        value(&recorded, "tasks_iteration_duration_seconds", &metered)
    else {
        panic!("no durations");
    };
    assert_eq!(durations.len(), 3);
    assert!(
        durations.iter().all(|d| d.into_inner() == 0.25),
        "{durations:?}"
    );
    let Some(DebugValue::Histogram(lateness)) =
        value(&recorded, "tasks_lateness_seconds", &metered)
    else {
        panic!("no lateness");
    };
    assert!(
        lateness.iter().all(|l| l.into_inner() == 0.0),
        "{lateness:?}"
    );
    assert!(matches!(
        value(&recorded, "tasks_running", &metered),
        Some(DebugValue::Gauge(g)) if g.into_inner() == 0.0
    ));
}

#[test]
fn errors_are_counted_by_kind() {
    let recorded = recorded(async {
        let calls = Arc::new(AtomicU64::new(0));
        let lp = Loop::builder(move |()| {
            let k = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                match k {
                    0 => Err(std::io::Error::other("flaky").into()),
                    1 => {
                        tokio::time::sleep(Duration::from_secs(10)).await;
                        Ok(())
                    }
                    2 => panic!("boom"),
                    _ => Err::<(), tasks_runtime::BoxError>("broken".into()),
                }
            }
        })
        .name("failing")
        .timeout(Duration::from_secs(1))
        .backoff(|| FixedBackoff::new(Duration::from_millis(100)))
        .build()
        .unwrap();
        lp.start(()).unwrap().await;
        // A second run: an error that is not retried.
        lp.start(()).unwrap().await;
    });
    let count = |kind| match value(
        &recorded,
        "tasks_errors_total",
        &[("loop", "failing"), ("kind", kind)],
    ) {
        Some(DebugValue::Counter(n)) => *n,
        other => panic!("{kind}: {other:?}"),
    };
    assert_eq!(
        [
            count("retried"),
            count("timeout"),
            count("panic"),
            count("unhandled")
        ],
        [1, 1, 1, 1]
    );
}
