//! Stopping the loops before the client.

use std::time::Duration;

use tasks::Loop;
use tokio::time::Instant;
use tracing::{info, warn};

/// Stops `loops` and waits, for at most `grace` in all, until each run has
/// ended (its `after_loop` hook included).
///
/// Each loop is cancelled (the body or sleep in progress is dropped), then
/// its run is awaited through the handle that `task()` returns. A loop
/// still running when `grace` is over is left behind, logged.
pub async fn shutdown_loops<A>(loops: &[&Loop<A>], grace: Duration) {
    let deadline = Instant::now() + grace;
    for each in loops {
        each.cancel();
    }
    for each in loops {
        let Some(run) = each.task() else { continue };
        match tokio::time::timeout_at(deadline, run.wait()).await {
            Ok(outcome) => info!(loop_name = each.name(), ?outcome, "stopped"),
            Err(_) => warn!(
                loop_name = each.name(),
                ?grace,
                "still running: left behind"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use tasks::RunOutcome;

    use super::*;

    #[tokio::test]
    async fn every_loop_ends_with_its_after_loop() {
        let cleaned = Arc::new(AtomicBool::new(false));
        let ticker = Loop::builder(|()| async {}).seconds(1.0).build().unwrap();
        let never_started = Loop::builder(|()| async {}).build().unwrap();
        let flag = Arc::clone(&cleaned);
        ticker.after_loop(move || {
            let flag = Arc::clone(&flag);
            async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                flag.store(true, Ordering::SeqCst);
            }
        });
        let run = ticker.start(()).unwrap();

        shutdown_loops(&[&ticker, &never_started], Duration::from_secs(5)).await;
        assert!(cleaned.load(Ordering::SeqCst));
        assert_eq!(run.outcome(), Some(RunOutcome::Cancelled));
    }

    #[tokio::test]
    async fn a_slow_after_loop_is_left_behind_after_the_grace() {
        let stuck = Loop::builder(|()| async {}).seconds(1.0).build().unwrap();
        stuck.after_loop(std::future::pending::<()>);
        stuck.start(()).unwrap();

        let started = Instant::now();
        shutdown_loops(&[&stuck], Duration::from_millis(50)).await;
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert!(stuck.is_running());
    }
}
