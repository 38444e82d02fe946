//! Stopping the loops before the client.

use std::time::Duration;

use tasks::registry::{self, ShutdownReport};
use tracing::{info, warn};

/// Shuts every loop of the process down (the cog's, and any other) with
/// one grace period for all, and logs which ended gracefully.
///
/// No loop starts a new iteration; an iteration in progress may finish
/// within `grace`, and is cancelled then. Each `after_loop` hook runs
/// either way, before this returns, while the client can still send.
pub async fn shutdown_loops(grace: Duration) -> ShutdownReport {
    let report = registry::shutdown_all(grace).await;
    for name in &report.graceful {
        info!(loop_name = %name, "ended gracefully");
    }
    for name in &report.cancelled {
        warn!(loop_name = %name, ?grace, "cancelled: still busy when the grace period ran out");
    }
    report
}

/// For the tests: [`shutdown_loops`] ends every loop of the test binary,
/// so the tests that start loops take turns.
#[cfg(test)]
pub static LOOPS_IN_TESTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use tasks::{Loop, RunOutcome};

    use super::*;

    #[tokio::test]
    async fn every_running_loop_ends_gracefully_with_its_after_loop() {
        let _turn = LOOPS_IN_TESTS.lock().await;
        let cleaned = Arc::new(AtomicBool::new(false));
        let ticker = Loop::builder(|()| async {})
            .seconds(1.0)
            .name("test-ticker")
            .build()
            .unwrap();
        let _never_started = Loop::builder(|()| async {})
            .name("test-never-started")
            .build()
            .unwrap();
        let flag = Arc::clone(&cleaned);
        ticker.after_loop(move || {
            let flag = Arc::clone(&flag);
            async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                flag.store(true, Ordering::SeqCst);
            }
        });
        let run = ticker.start(()).unwrap();

        let report = shutdown_loops(Duration::from_secs(5)).await;
        assert_eq!(report.graceful, ["test-ticker"]);
        assert!(report.all_graceful());
        assert!(
            cleaned.load(Ordering::SeqCst),
            "after_loop ran before the return"
        );
        assert_eq!(run.outcome(), Some(RunOutcome::Stopped));
    }

    #[tokio::test]
    async fn an_iteration_still_busy_after_the_grace_is_cancelled() {
        let _turn = LOOPS_IN_TESTS.lock().await;
        let busy = Loop::builder(|()| tokio::time::sleep(Duration::from_secs(60)))
            .seconds(1.0)
            .name("test-busy")
            .build()
            .unwrap();
        let run = busy.start(()).unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;

        let report = shutdown_loops(Duration::from_millis(50)).await;
        assert_eq!(report.cancelled, ["test-busy"]);
        assert!(!busy.is_running());
        assert_eq!(run.outcome(), Some(RunOutcome::Cancelled));
    }
}
