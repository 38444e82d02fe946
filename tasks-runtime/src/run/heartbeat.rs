//! Claim mode with takeover: while the body of a claimed slot runs, its
//! holder renews the claim (a heartbeat), so that another replica takes the
//! slot over only once the holder stopped renewing, as db-scheduler's
//! dead-execution detection does.
//!
//! The renewals run in a task of their own, off the body's path: the body
//! is neither slowed nor polled by them. The run waits on the body and on
//! what the renewals tell, and cancels the body when the claim is lost:
//! at once when the store answers [`Renewal::Lost`], or when no renewal
//! succeeded within the lease minus the safety margin by this replica's
//! monotonic clock, judged from when the last good one (or the claim) was
//! sent, as a leader does with its lease.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::store_call::store_call;
use crate::cluster::{ClaimRenewal, Cluster, Fence, LossCause, Renewal, StoreError};
use crate::error::Shown;

/// The holder renews its claim this many times per lease, as a leader
/// renews its lease: two renewals in a row may fail before it must stop.
const RENEWALS_PER_LEASE: u32 = 3;

/// A renewal the store did not answer is tried again after the lease
/// divided by this (a tenth), as a leader's is.
const RENEWAL_RETRY_DIVISOR: u32 = 10;

/// The shortest wait before a renewal is tried again: a store that is down
/// is not hammered.
const MIN_RENEWAL_RETRY: Duration = Duration::from_millis(10);

/// Until when the body may run, as the renewals tell.
#[derive(Clone, Copy, Debug)]
enum Validity {
    /// Until then, by this replica's monotonic clock, unless a renewal
    /// succeeds first.
    Until(Instant),
    /// The store answered that the claim is no longer this replica's.
    Lost,
}

/// The renewals of one claim while its body runs. Dropping it stops them.
pub(super) struct Heartbeat {
    validity: watch::Receiver<Validity>,
    /// The first error a renewal met, for the run to report once the body
    /// is over (a renewal that fails is tried again; its `error` hook call
    /// must not wait on the renewals, nor they on it).
    failure: Arc<Mutex<Option<StoreError>>>,
    task: AbortHandle,
}

/// The claim a heartbeat keeps: the slot, and the token it was won with.
#[derive(Clone, Copy, Debug)]
pub(super) struct HeldSlot {
    pub(super) slot: DateTime<Utc>,
    pub(super) fence: Fence,
    /// When the claim was sent: its lease started no earlier on the
    /// store's clock.
    pub(super) sent: Instant,
}

impl Heartbeat {
    /// Starts renewing `held`, a claim of `loop_name` in `cluster`, every
    /// third of its lease from when it was sent.
    pub(super) fn start(loop_name: &str, cluster: &Cluster, held: HeldSlot) -> Self {
        let until = held.sent + cluster.may_act_for();
        let (sender, validity) = watch::channel(Validity::Until(until));
        let failure = Arc::new(Mutex::new(None));
        let renewals = Renewals {
            cluster: cluster.clone(),
            loop_name: loop_name.into(),
            held,
            validity: sender,
            failure: Arc::clone(&failure),
        };
        let task = tokio::spawn(renewals.run()).abort_handle();
        Self {
            validity,
            failure,
            task,
        }
    }

    /// Stops the renewals; the first error they met, if any, to report.
    pub(super) fn stop(self) -> Option<StoreError> {
        self.task.abort();
        let taken = self
            .failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        taken
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Runs `body` while the claim `heartbeat` renews is held (without one,
/// simply runs it): its output, or why the claim was lost, the body then
/// dropped. Checked before the body is polled, so that a replica that was
/// paused past its claim does not poll the body again.
pub(super) async fn while_held<T>(
    heartbeat: Option<&mut Heartbeat>,
    body: impl Future<Output = T>,
) -> Result<T, LossCause> {
    let Some(heartbeat) = heartbeat else {
        return Ok(body.await);
    };
    let mut body = std::pin::pin!(body);
    let validity = &mut heartbeat.validity;
    let mut renewing = true;
    loop {
        let until = match *validity.borrow_and_update() {
            Validity::Until(until) => until,
            Validity::Lost => return Err(LossCause::Taken),
        };
        if Instant::now() >= until {
            return Err(LossCause::Lapsed);
        }
        tokio::select! {
            biased;
            changed = validity.changed(), if renewing => {
                // The renewals ended without a word (they cannot, but for a
                // panic): the claim lapses when its last renewal does.
                renewing = changed.is_ok();
            }
            () = tokio::time::sleep_until(until) => return Err(LossCause::Lapsed),
            output = body.as_mut() => return Ok(output),
        }
    }
}

/// The task that renews one claim.
struct Renewals {
    cluster: Cluster,
    loop_name: Box<str>,
    held: HeldSlot,
    validity: watch::Sender<Validity>,
    failure: Arc<Mutex<Option<StoreError>>>,
}

impl Renewals {
    /// Renews the claim every third of its lease from the last renewal
    /// sent that succeeded, and a failed one again every tenth, until the
    /// store answers that the claim is lost or the run stops listening.
    async fn run(self) {
        let Renewals {
            cluster,
            loop_name,
            held,
            validity,
            failure,
        } = self;
        let period = cluster.lease / RENEWALS_PER_LEASE;
        let retry = (cluster.lease / RENEWAL_RETRY_DIVISOR).max(MIN_RENEWAL_RETRY);
        let mut next = held.sent + period;
        let mut failing = false;
        loop {
            tokio::select! {
                () = validity.closed() => return,
                () = tokio::time::sleep_until(next) => {}
            }
            let sent = Instant::now();
            let renewal = ClaimRenewal {
                loop_name: &loop_name,
                slot: held.slot,
                replica: &cluster.replica,
                fence: held.fence,
                lease: cluster.lease,
            };
            let answer = tokio::select! {
                () = validity.closed() => return,
                answer = store_call(&cluster, "renewing a claim", cluster.store.renew_claim(renewal)) => answer,
            };
            match answer {
                Ok(Renewal::Extended) => {
                    if std::mem::take(&mut failing) {
                        tracing::info!(loop_name = %loop_name, slot = %held.slot, fence = %held.fence, "the claim is renewed again");
                    }
                    next = sent + period;
                    let until = sent + cluster.may_act_for();
                    if validity.send(Validity::Until(until)).is_err() {
                        return;
                    }
                }
                Ok(Renewal::Lost) => {
                    tracing::warn!(loop_name = %loop_name, slot = %held.slot, fence = %held.fence, "the store says the claim is no longer this replica's: cancelling the slot's body");
                    let _ = validity.send(Validity::Lost);
                    return;
                }
                Err(error) => {
                    if !std::mem::replace(&mut failing, true) {
                        tracing::warn!(loop_name = %loop_name, slot = %held.slot, fence = %held.fence, error = %Shown(&error), "the claim could not be renewed; trying again");
                    }
                    failure
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .get_or_insert(error);
                    next = Instant::now() + retry;
                }
            }
        }
    }
}
