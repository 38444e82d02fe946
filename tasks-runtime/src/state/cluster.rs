//! A loop's part in a cluster: its configuration, the fencing token of the
//! current iteration or term, and in leader mode the replica's
//! participation.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::cluster::{Cluster, Fence};
use crate::error::ConfigError;
use crate::handle::OutcomeCell;
use crate::schedule::Schedule;

/// A loop's membership in a cluster, in its extras.
pub(super) struct Membership {
    pub(super) config: Cluster,
    /// The token of the current iteration (claim mode) or term (leader
    /// mode).
    pub(super) fence: Option<Fence>,
    /// Leader mode: until when the term may call the body or `before_loop`,
    /// by this replica's monotonic clock (the last good renewal's send
    /// time, plus the lease, minus the margin); set by the supervisor, read
    /// by the run before each call.
    pub(super) may_act_until: Option<Instant>,
    /// Leader mode: this replica takes part, from `start` until it leaves.
    pub(super) participation: Option<Arc<Participation>>,
    /// Whether a replica with another time-zone database was reported.
    pub(super) tzdb_mismatch_reported: bool,
}

impl Membership {
    pub(super) fn new(config: Cluster) -> Self {
        Self {
            config,
            fence: None,
            may_act_until: None,
            participation: None,
            tzdb_mismatch_reported: false,
        }
    }
}

/// A replica's part in a leader-mode loop, between `start` and the moment
/// it leaves (a stop, a cancel, a shutdown, or the run ending by itself).
#[derive(Default)]
pub(crate) struct Participation {
    leaving: AtomicBool,
    changed: Notify,
    /// How the participation ended, for `start`'s handle and `shutdown`.
    outcome: Arc<OutcomeCell>,
}

impl Participation {
    /// Where the participation's outcome goes.
    pub(crate) fn outcome(&self) -> &Arc<OutcomeCell> {
        &self.outcome
    }

    /// Asks the replica's supervisor to leave: end the run it leads, if
    /// any, and give the lease back.
    pub(crate) fn leave(&self) {
        self.leaving.store(true, Ordering::SeqCst);
        self.changed.notify_one();
    }

    pub(crate) fn is_leaving(&self) -> bool {
        self.leaving.load(Ordering::SeqCst)
    }

    /// Waits for [`leave`](Self::leave).
    pub(crate) async fn left(&self) {
        while !self.is_leaving() {
            self.changed.notified().await;
        }
    }
}

/// A schedule that claim mode can key its slots on: a relative interval on
/// the grid (a zero interval has none).
pub(super) fn claimable(schedule: Schedule, config: &Cluster) -> Result<Schedule, ConfigError> {
    if schedule
        .every()
        .is_some_and(|every| every.period().is_zero())
    {
        return Err(ConfigError::ZeroIntervalInClaimMode);
    }
    Ok(schedule.aligned_to(config.anchor))
}
