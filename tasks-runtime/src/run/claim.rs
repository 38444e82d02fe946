//! Claim mode: before a slot runs, the replica claims it in the store; the
//! slot runs here only if the claim is won, with its fencing token.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use tokio::time::Instant;

use super::call::{timed_out, traced_call};
use super::watched::UntilCancelled;
use crate::cluster::{
    Claimed, Cluster, Fence, SlotClaim, SlotFinish, SlotOutcome, SlotTooLate, StoreError,
};
use crate::error::{LoopError, Shown};
use crate::hooks::BodyOutput;
use crate::observe;
use crate::schedule::Now;
use crate::state::{IterationSettings, Shared};

/// What became of a slot in claim mode.
pub(super) enum SlotTurn {
    /// This replica ran it; how the body ended.
    Ran(Option<LoopError>),
    /// Another replica has it, or the store could not be reached.
    Skipped,
    /// The run was cancelled meanwhile.
    Cancelled,
}

/// How many times a claim the store finds early is made again before the
/// slot is given up.
const EARLY_ATTEMPTS: usize = 4;

/// Before looking again at a slot another replica holds, the wait is its
/// lease, plus the lease divided by this (5 %), plus [`TAKEOVER_SLACK`]: the
/// store sees the lease run out by its own clock, which may run a little
/// slower than this replica's, and the claim takes a round trip to reach
/// it.
const TAKEOVER_LEASE_DIVISOR: u32 = 20;

/// The fixed part of the wait before a takeover: a round trip to a local
/// store, so that a short lease is not looked at again a hair too early.
const TAKEOVER_SLACK: Duration = Duration::from_millis(10);

/// A claim the store finds early is made again once the store's clock has
/// reached the slot, plus this much: enough for the store's clock to be
/// past it, not so much that the slot runs noticeably late.
const EARLY_SLACK: Duration = Duration::from_millis(5);

/// The longest wait for a store's clock that is behind: a store further
/// behind is waited for in steps, [`EARLY_ATTEMPTS`] at most, so that a
/// store with a wrong clock costs the slot, not the loop.
const EARLY_WAIT_MAX: Duration = Duration::from_secs(1);

/// Without a grace period, a slot may still run this many leases after
/// its time: long enough for a holder's lease to run out and be seen.
const LATE_WINDOW_LEASES: u32 = 2;

/// Claims the slot at `slot` and, if this replica wins it, runs the body
/// with the claim's token and records how it ended.
pub(super) async fn claimed_iteration<A, F, Fut>(
    shared: &Shared<A, F>,
    args: A,
    slot: DateTime<Utc>,
    settings: IterationSettings,
) -> SlotTurn
where
    A: Clone + Send,
    F: Fn(A) -> Fut + Send + Sync,
    Fut: Future + Send,
    Fut::Output: BodyOutput,
{
    let Some(cluster) = shared.core.lock().cluster_config().cloned() else {
        return SlotTurn::Skipped;
    };
    let fence = match claim(shared, &cluster, slot).await {
        Decision::Run(fence) => fence,
        Decision::Skip => return SlotTurn::Skipped,
        Decision::Cancelled => return SlotTurn::Cancelled,
    };
    shared.core.lock().set_fence(fence);
    if settings.timed {
        observe::iteration_began(&shared.core);
    }
    let call = traced_call(shared, &args);
    let called = match settings.timeout {
        None => UntilCancelled::new(&shared.core, call.map(Ok)).await,
        Some(after) => UntilCancelled::new(&shared.core, tokio::time::timeout(after, call)).await,
    };
    let failure = match called {
        // Not recorded as finished: with takeover on, another replica may
        // run the slot once the claim's lease runs out.
        Err(_) => {
            observe::iteration_cancelled(&shared.core);
            return SlotTurn::Cancelled;
        }
        Ok(Ok(failure)) => failure,
        Ok(Err(_elapsed)) => Some(timed_out(shared)),
    };
    if let Some(fence) = fence {
        let outcome = match failure {
            None => SlotOutcome::Completed,
            Some(_) => SlotOutcome::Failed,
        };
        let finish = SlotFinish {
            loop_name: shared.name(),
            slot,
            fence,
            outcome,
        };
        if let Err(error) = cluster.store.finish(finish).await {
            report_store_error(shared, error).await;
        }
    }
    SlotTurn::Ran(failure)
}

/// Whether the slot runs here.
enum Decision {
    /// Yes, with this token (`None`: the store is down and the loop runs
    /// anyway).
    Run(Option<Fence>),
    Skip,
    Cancelled,
}

async fn claim<A, F>(shared: &Shared<A, F>, cluster: &Cluster, slot: DateTime<Utc>) -> Decision
where
    A: Send,
    F: Send + Sync,
{
    let window = late_window(shared.core.lock().wall_options().grace, cluster);
    let takeover = cluster.takeover.then_some(window);
    let mut waited_for_takeover = false;
    for _ in 0..EARLY_ATTEMPTS {
        let request = SlotClaim {
            loop_name: shared.name(),
            slot,
            replica: &cluster.replica,
            lease: cluster.lease,
            early_tolerance: cluster.early_tolerance,
            late_tolerance: window,
            takeover,
            tzdb: chrono_tz::IANA_TZDB_VERSION,
        };
        // A claim may run the body only until its send time plus the
        // claim's lease, minus the margin.
        let may_act_until = Instant::now() + cluster.may_act_for();
        let answer = match UntilCancelled::new(&shared.core, cluster.store.claim(request)).await {
            Err(_) => return Decision::Cancelled,
            Ok(answer) => answer,
        };
        match answer {
            Ok(Claimed::Won { fence }) if Instant::now() >= may_act_until => {
                tracing::warn!(loop_name = %shared.name(), %slot, %fence, "the claim was won too late to act on: skipping the slot");
                return Decision::Skip;
            }
            Ok(Claimed::Won { fence }) => return Decision::Run(Some(fence)),
            Ok(Claimed::Taken { holder, tzdb }) => {
                if let Some(theirs) = tzdb.filter(|v| v != chrono_tz::IANA_TZDB_VERSION) {
                    report_tzdb_mismatch(shared, &holder, &theirs);
                }
                if takeover.is_none() || waited_for_takeover {
                    return Decision::Skip;
                }
                // At least once: if the holder dies, its claim runs out
                // unfinished; look again then, and take the slot over.
                waited_for_takeover = true;
                let wait = cluster.lease + cluster.lease / TAKEOVER_LEASE_DIVISOR + TAKEOVER_SLACK;
                if UntilCancelled::new(&shared.core, tokio::time::sleep(wait))
                    .await
                    .is_err()
                {
                    return Decision::Cancelled;
                }
            }
            Ok(Claimed::TooLate { .. }) if waited_for_takeover => {
                // Another replica held it, and the window to take it over
                // has passed meanwhile.
                return Decision::Skip;
            }
            Ok(Claimed::TooLate { store_now }) => {
                let late = SlotTooLate {
                    loop_name: shared.name().to_owned(),
                    slot,
                    store_now,
                    replica_now: shared.core.clock().now(),
                    late_tolerance: window,
                };
                tracing::warn!(loop_name = %shared.name(), %slot, %store_now, "the store refused the slot as too late: skipping it");
                shared
                    .core
                    .report(shared.name(), LoopError::from_error(late))
                    .await;
                return Decision::Skip;
            }
            Ok(Claimed::TooEarly { store_now }) => {
                // The store's clock is behind this replica's: wait for it.
                let behind = (slot - store_now).to_std().unwrap_or_default();
                let wait = (behind + EARLY_SLACK).min(EARLY_WAIT_MAX);
                if UntilCancelled::new(&shared.core, tokio::time::sleep(wait))
                    .await
                    .is_err()
                {
                    return Decision::Cancelled;
                }
            }
            Err(error) => {
                report_store_error(shared, error).await;
                return if cluster.run_during_outage {
                    Decision::Run(None)
                } else {
                    Decision::Skip
                };
            }
        }
    }
    tracing::warn!(loop_name = %shared.name(), %slot, "the store's clock stays behind this replica's: skipping the slot");
    Decision::Skip
}

/// How long after its slot a slot may still run, by the store's clock:
/// claimed late (the store refuses it after that), taken over from a
/// holder whose lease ran out, or caught up on at start. The loop's grace
/// period; without one (`grace`), [`LATE_WINDOW_LEASES`] leases.
fn late_window(grace: Option<Duration>, cluster: &Cluster) -> Duration {
    grace.unwrap_or(cluster.lease.saturating_mul(LATE_WINDOW_LEASES))
}

/// Claim mode with catch-up, at the start of a run: the latest slot that
/// every replica missed (later than the last slot the store saw finish,
/// within the grace period) becomes the run's first one, and runs at once
/// if this replica claims it.
pub(super) async fn catch_up<A, F>(shared: &Shared<A, F>)
where
    A: Send,
    F: Send + Sync,
{
    let (store, window) = {
        let state = shared.core.lock();
        let Some(cluster) = state.cluster_config().filter(|c| c.catch_up) else {
            return;
        };
        let window = late_window(state.wall_options().grace, cluster);
        (cluster.store.clone(), window)
    };
    let last_finished = match store.last_finished(shared.name()).await {
        Ok(last) => last.map(|finished| finished.slot),
        Err(error) => return report_store_error(shared, error).await,
    };
    let now = Now::read(&*shared.core.clock());
    shared.core.lock().catch_up(now, window, last_finished);
}

/// A store error: logged, and given to the `error` hook without failing the
/// loop; the slot is skipped (or run without a token) and the loop goes on.
async fn report_store_error<A, F>(shared: &Shared<A, F>, error: StoreError)
where
    A: Send,
    F: Send + Sync,
{
    tracing::warn!(loop_name = %shared.name(), error = %Shown(&error), "the store could not be reached for a slot");
    shared
        .core
        .report(shared.name(), LoopError::from_error(error))
        .await;
}

/// Another replica computed its slots with another time-zone database:
/// times of day around a rule change may differ between them. Reported
/// once per loop.
fn report_tzdb_mismatch<A, F>(shared: &Shared<A, F>, holder: &str, theirs: &str) {
    let first = shared.core.lock().report_tzdb_mismatch();
    if first {
        tracing::warn!(
            loop_name = %shared.name(),
            replica = %holder,
            theirs,
            ours = chrono_tz::IANA_TZDB_VERSION,
            "replicas run with different time-zone databases; times of day near a rule change may not agree"
        );
    }
}
