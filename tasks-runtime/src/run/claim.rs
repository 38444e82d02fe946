//! Claim mode: before a slot runs, the replica claims it in the store; the
//! slot runs here only if the claim is won, with its fencing token. With
//! takeover, the claim is renewed while the body runs (`heartbeat.rs`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::call::{timed_out, traced_call};
use super::heartbeat::{self, Heartbeat, HeldSlot};
use super::store_call::store_call;
use super::watched::UntilCancelled;
use crate::body::Body;
use crate::cluster::rules;
use crate::cluster::{
    ClaimLost, Claimed, Cluster, LossCause, SlotClaim, SlotFinish, SlotOutcome, SlotTooLate,
    StoreError,
};
use crate::error::{LoopError, Shown};
use crate::observe;
use crate::schedule::Now;
use crate::state::{IterationSettings, Shared};

/// What became of a slot in claim mode.
pub(super) enum SlotTurn {
    /// This replica ran it; how the body ended.
    Ran(Option<LoopError>),
    /// Another replica has it, the store could not be reached, or the
    /// claim was lost while the body ran.
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
pub(super) async fn claimed_iteration<A, F>(
    shared: &Shared<A, F>,
    args: A,
    slot: DateTime<Utc>,
    settings: IterationSettings,
) -> SlotTurn
where
    A: Clone + Send,
    F: Body<A>,
{
    let Some(cluster) = shared.core.lock().cluster_config().cloned() else {
        return SlotTurn::Skipped;
    };
    let won = match claim(shared, &cluster, slot).await {
        Decision::Run(won) => won,
        Decision::Skip => return SlotTurn::Skipped,
        Decision::Cancelled => return SlotTurn::Cancelled,
    };
    let fence = won.map(|won| won.fence);
    shared.core.lock().set_fence(fence);
    // With takeover, a live holder keeps its claim: another replica takes
    // the slot over only once the renewals stopped.
    let mut heartbeat = won
        .filter(|_| cluster.takeover)
        .map(|won| Heartbeat::start(shared.name(), &cluster, won));
    if settings.timed {
        observe::iteration_began(&shared.core);
    }
    let call = traced_call(shared, &args);
    let call = async {
        match settings.timeout {
            None => Ok(call.await),
            Some(after) => tokio::time::timeout(after, call).await,
        }
    };
    let called = heartbeat::while_held(heartbeat.as_mut(), call);
    let failure = match UntilCancelled::new(&shared.core, called).await {
        // Not recorded as finished: with takeover on, another replica may
        // run the slot once the claim's lease runs out.
        Err(_) => {
            observe::iteration_cancelled(&shared.core);
            return SlotTurn::Cancelled;
        }
        Ok(Err(cause)) => {
            if let (Some(won), Some(heartbeat)) = (won, heartbeat) {
                claim_lost(shared, &cluster, won, cause, heartbeat).await;
            }
            return SlotTurn::Skipped;
        }
        Ok(Ok(Ok(failure))) => failure,
        Ok(Ok(Err(_elapsed))) => Some(timed_out(shared)),
    };
    if let Some(error) = heartbeat.and_then(Heartbeat::stop) {
        report_store_error(shared, &cluster, error).await;
    }
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
        let recorded = store_call(
            &cluster,
            "recording how a slot ended",
            cluster.store.finish(finish),
        );
        // A cancel (a shutdown's grace period over) does not wait for the
        // store: the slot stays unfinished there, as if this replica died.
        match UntilCancelled::new(&shared.core, recorded).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => report_store_error(shared, &cluster, error).await,
            Err(_) => {
                tracing::warn!(loop_name = %shared.name(), %slot, "the run was cancelled before the store recorded how the slot ended");
                observe::iteration_cancelled(&shared.core);
                return SlotTurn::Cancelled;
            }
        }
    }
    SlotTurn::Ran(failure)
}

/// Whether the slot runs here.
enum Decision {
    /// Yes, with the claim won (`None`: the store is down and the loop runs
    /// anyway).
    Run(Option<HeldSlot>),
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
    let (mut early, mut looked_again) = (0, false);
    while early < EARLY_ATTEMPTS {
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
        // claim's lease, minus the margin (and, with takeover, its
        // renewals' send times plus the same).
        let sent = Instant::now();
        let may_act_until = sent + cluster.may_act_for();
        let claimed = store_call(cluster, "claiming a slot", cluster.store.claim(request));
        let answer = match UntilCancelled::new(&shared.core, claimed).await {
            Err(_) => return Decision::Cancelled,
            Ok(answer) => answer,
        };
        match answer {
            Ok(Claimed::Won { fence }) if Instant::now() >= may_act_until => {
                tracing::warn!(loop_name = %shared.name(), %slot, %fence, "the claim was won too late to act on: skipping the slot");
                return Decision::Skip;
            }
            Ok(Claimed::Won { fence }) => {
                return Decision::Run(Some(HeldSlot { slot, fence, sent }))
            }
            Ok(Claimed::Taken { holder, tzdb }) => {
                if let Some(theirs) = tzdb.filter(|v| v != chrono_tz::IANA_TZDB_VERSION) {
                    report_tzdb_mismatch(shared, &holder, &theirs);
                }
                let Some(window) = takeover else {
                    return Decision::Skip;
                };
                // At least once: if the holder dies, its renewals stop and
                // its claim runs out unfinished; look again then, and take
                // the slot over. A live holder renews its claim: look again
                // every lease while the slot may still be taken over.
                let wait = cluster.lease + cluster.lease / TAKEOVER_LEASE_DIVISOR + TAKEOVER_SLACK;
                if looked_again && !worth_another_look(shared, slot, window, wait) {
                    return Decision::Skip;
                }
                looked_again = true;
                if UntilCancelled::new(&shared.core, tokio::time::sleep(wait))
                    .await
                    .is_err()
                {
                    return Decision::Cancelled;
                }
            }
            Ok(Claimed::TooLate { .. }) if looked_again => {
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
                report_bounded(shared, cluster, LoopError::from_error(late)).await;
                return Decision::Skip;
            }
            Ok(Claimed::TooEarly { store_now }) => {
                // The store's clock is behind this replica's: wait for it.
                early += 1;
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
                report_store_error(shared, cluster, error).await;
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

/// Whether a slot held by a live holder is worth another look after
/// `wait`: the loop is not stopping, and the look lands within the slot's
/// takeover `window` and before the loop's next slot (which this replica
/// may claim instead).
fn worth_another_look<A, F>(
    shared: &Shared<A, F>,
    slot: DateTime<Utc>,
    window: Duration,
    wait: Duration,
) -> bool {
    let look = rules::later(shared.core.clock().now(), wait);
    let Some((next, ..)) = shared.core.lock().upcoming() else {
        return false;
    };
    look <= rules::later(slot, window) && look < next.wall()
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
    let (cluster, window) = {
        let state = shared.core.lock();
        let Some(cluster) = state.cluster_config().filter(|c| c.catch_up) else {
            return;
        };
        let window = late_window(state.wall_options().grace, cluster);
        (cluster.clone(), window)
    };
    let read = store_call(
        &cluster,
        "reading the last finished slot",
        cluster.store.last_finished(shared.name()),
    );
    let last_finished = match UntilCancelled::new(&shared.core, read).await {
        // The run ends: its next wait sees the cancel.
        Err(_) => return,
        Ok(Ok(last)) => last.map(|finished| finished.slot),
        Ok(Err(error)) => return report_store_error(shared, &cluster, error).await,
    };
    let now = Now::read(&*shared.core.clock());
    shared.core.lock().catch_up(now, window, last_finished);
}

/// A store error (a call past the store deadline among them): logged, and
/// given to the `error` hook without failing the loop; the slot is skipped
/// (or run without a token) and the loop goes on. A cancel ends the hook's
/// call, as it ends the body's.
async fn report_store_error<A, F>(shared: &Shared<A, F>, cluster: &Cluster, error: StoreError)
where
    A: Send,
    F: Send + Sync,
{
    tracing::warn!(loop_name = %shared.name(), error = %Shown(&error), "the store could not be reached for a slot");
    report_bounded(shared, cluster, LoopError::from_error(error)).await;
}

/// Gives `error` to the `error` hook, waiting for it no longer than the
/// claim's lease (nor past a cancel): a hook that hangs (an alert to a
/// service cut off too) delays this replica's next slot by a lease at
/// most. No claim is held while it runs.
async fn report_bounded<A, F>(shared: &Shared<A, F>, cluster: &Cluster, error: LoopError)
where
    A: Send,
    F: Send + Sync,
{
    let report = tokio::time::timeout(cluster.lease, shared.core.report(shared.name(), error));
    if let Ok(Err(_elapsed)) = UntilCancelled::new(&shared.core, report).await {
        tracing::warn!(loop_name = %shared.name(), "the error hook did not return within the claim's lease: abandoned");
    }
}

/// The claim of a running slot was lost and its body cancelled: the
/// iteration is recorded as cancelled with the reason, logged, and given to
/// the `error` hook (after the renewals' first store error, if one made
/// the claim lapse), without failing the loop; the slot is not recorded as
/// finished, so that the replica that took it over, or will, runs it.
async fn claim_lost<A, F>(
    shared: &Shared<A, F>,
    cluster: &Cluster,
    won: HeldSlot,
    cause: LossCause,
    heartbeat: Heartbeat,
) where
    A: Send,
    F: Send + Sync,
{
    let HeldSlot { slot, fence, .. } = won;
    let lost = LoopError::from_error(ClaimLost {
        loop_name: shared.name().to_owned(),
        slot,
        fence,
        cause,
    });
    tracing::warn!(loop_name = %shared.name(), %slot, %fence, error = %Shown(&lost), "the claim of the running slot was lost: its body was cancelled");
    observe::iteration_abandoned(&shared.core, &lost);
    if let Some(error) = heartbeat.stop() {
        report_store_error(shared, cluster, error).await;
    }
    report_bounded(shared, cluster, lost).await;
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
