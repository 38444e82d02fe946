//! A graceful shutdown of one run: no new iteration, a grace period for
//! the one in progress, then a cancel.

use std::sync::Arc;
use std::time::Duration;

use super::task::Runner;
use crate::handle::{RunHandle, RunOutcome};

/// `Loop::shutdown`: requests the shutdown when first polled, waits up to
/// `grace` for the run to end, cancels it then, and waits for its end
/// (`after_loop` included). `true` when the run ended without the cancel,
/// or was not running.
///
/// In a cluster's leader mode the replica also leaves: its run (if it leads)
/// ends as above, then the lease is given back, and the future ends when
/// the replica no longer takes part.
pub(crate) async fn shutdown<A: 'static>(runner: Arc<dyn Runner<A>>, grace: Duration) -> bool {
    let participation = runner.core().leave_cluster_loop();
    let graceful = shutdown_run(&runner, grace).await;
    if let Some(participation) = participation {
        RunHandle::new(participation).wait().await;
    }
    graceful
}

/// The run's part of [`shutdown`].
async fn shutdown_run<A: 'static>(runner: &Arc<dyn Runner<A>>, grace: Duration) -> bool {
    let Some(outcome) = runner.core().request_shutdown() else {
        return true;
    };
    tracing::info!(
        loop_name = %runner.name(),
        grace_seconds = grace.as_secs_f64(),
        "shutting the loop down"
    );
    let run = RunHandle::new(outcome);
    let ended = match tokio::time::timeout(grace, run.wait()).await {
        Ok(ended) => ended,
        Err(_) => {
            tracing::info!(
                loop_name = %runner.name(),
                "the loop did not end within its grace period; cancelling it"
            );
            runner.core().cancel();
            run.wait().await
        }
    };
    ended != RunOutcome::Cancelled
}
