//! A loop's part in a cluster: its configuration, the fencing token of the
//! current iteration or term, and in leader mode the replica's
//! participation.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

use super::State;
use crate::cluster::{Cluster, Fence, Mode};
use crate::error::ConfigError;
use crate::handle::OutcomeCell;
use crate::schedule::Schedule;

/// What a loop in a cluster keeps, in its [`Extras`](super::Extras).
pub(crate) struct ClusterState {
    pub(crate) config: Cluster,
    /// The token of the current iteration (claim mode) or term (leader
    /// mode).
    pub(crate) fence: Option<Fence>,
    /// Leader mode: this replica takes part, from `start` until it leaves.
    pub(crate) participation: Option<Arc<Participation>>,
    /// Whether a replica with another time-zone database was reported.
    pub(crate) tzdb_mismatch_reported: bool,
}

/// A replica's part in a leader-mode loop, between `start` and the moment
/// it leaves (a stop, a cancel, a shutdown, or the run ending by itself).
#[derive(Default)]
pub(crate) struct Participation {
    leaving: AtomicBool,
    changed: Notify,
    /// How the participation ended, for `start`'s handle and `shutdown`.
    pub(crate) outcome: Arc<OutcomeCell>,
}

impl Participation {
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

impl<A> State<A> {
    pub(crate) fn cluster(&self) -> Option<&ClusterState> {
        self.extras.as_ref()?.cluster.as_ref()
    }

    pub(crate) fn cluster_mut(&mut self) -> Option<&mut ClusterState> {
        self.extras.as_mut()?.cluster.as_mut()
    }

    /// Whether each slot is claimed before it runs.
    pub(crate) fn claims_slots(&self) -> bool {
        self.cluster().is_some_and(|c| c.config.mode == Mode::Claim)
    }

    /// Joins a cluster: in claim mode, relative intervals are laid on the
    /// cluster's grid, and a count is refused (each replica would count its
    /// own share). Refused while the loop runs. Returns the cluster it was
    /// in, for the caller to drop outside the lock (its store is user code).
    pub(crate) fn join_cluster(
        &mut self,
        config: Cluster,
    ) -> Result<Option<ClusterState>, ConfigError> {
        if self.running || self.participation().is_some() {
            return Err(ConfigError::JoinWhileRunning);
        }
        if config.mode == Mode::Claim {
            if self.count.is_some() {
                return Err(ConfigError::CountInClaimMode);
            }
            self.schedule = claimable(self.schedule.clone(), &config)?;
        }
        Ok(self.extras_mut().cluster.replace(ClusterState {
            config,
            fence: None,
            participation: None,
            tzdb_mismatch_reported: false,
        }))
    }

    /// A schedule as this loop runs it: laid on the cluster's grid in claim
    /// mode.
    pub(crate) fn in_cluster(&self, schedule: Schedule) -> Result<Schedule, ConfigError> {
        match self.cluster() {
            Some(cluster) if cluster.config.mode == Mode::Claim => {
                claimable(schedule, &cluster.config)
            }
            _ => Ok(schedule),
        }
    }

    /// Leader mode: the replica's participation, while it takes part.
    pub(crate) fn participation(&self) -> Option<&Arc<Participation>> {
        self.cluster()?.participation.as_ref()
    }
}

/// A schedule that claim mode can key its slots on: a relative interval on
/// the grid (a zero interval has none).
fn claimable(schedule: Schedule, config: &Cluster) -> Result<Schedule, ConfigError> {
    if schedule
        .every()
        .is_some_and(|every| every.period().is_zero())
    {
        return Err(ConfigError::ZeroIntervalInClaimMode);
    }
    Ok(schedule.aligned_to(config.anchor))
}
