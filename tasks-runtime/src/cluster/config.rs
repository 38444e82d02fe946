//! [`Cluster`]: how a loop runs across replicas, and the two modes.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::store::{ReplicaId, Store};

/// The safety margin is the lease divided by this (a third).
const SAFETY_MARGIN_DIVISOR: u32 = 3;

/// How the replicas of a loop share its work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mode {
    /// Every replica keeps the schedule; each scheduled slot runs on
    /// exactly one of them, the one that claims it in the store. Relative
    /// intervals are laid on a fixed grid (whole multiples of the interval
    /// since the anchor), so that replicas started at different moments
    /// agree on the slots.
    Claim,
    /// One replica at a time holds the loop's lease, renews it while it
    /// holds it, and runs the loop as a single process would (count,
    /// `change_interval`, hooks); another takes over once the lease runs
    /// out.
    Leader,
}

/// How a loop runs across replicas: the store they coordinate through, the
/// mode, and its options. Give it to
/// [`LoopBuilder::cluster`](crate::LoopBuilder::cluster) or, before the
/// loop starts, to [`Loop::join_cluster`](crate::Loop::join_cluster).
///
/// | option | default |
/// | --- | --- |
/// | [`replica`](Cluster::replica) | [`ReplicaId::generate`]: the host name and a random id |
/// | [`lease`](Cluster::lease) | 30 s for a claim, 15 s for leadership |
/// | [`takeover`](Cluster::takeover) | off: a claimed slot runs at most once |
/// | [`catch_up`](Cluster::catch_up) | off |
/// | [`run_during_outage`](Cluster::run_during_outage) | off: fail closed |
/// | [`anchor`](Cluster::anchor) | the Unix epoch |
/// | [`early_tolerance`](Cluster::early_tolerance) | 50 ms |
///
/// # Slots claimed late
///
/// In claim mode the store refuses a claim of a slot that nobody claimed
/// once its clock is past the slot by more than the loop's grace period
/// ([`LoopBuilder::grace_period`](crate::LoopBuilder::grace_period); twice
/// the lease without one), the window [`takeover`](Cluster::takeover) and
/// [`catch_up`](Cluster::catch_up) use too. A replica whose clock is days
/// behind the store's then runs none of the old slots it computes: each is
/// skipped and reported to the `error` hook as a
/// [`SlotTooLate`](super::SlotTooLate).
///
/// # The safety margin
///
/// A replica calls the body, or `before_loop`, only while its claim or
/// lease is valid by its own monotonic clock with a margin, checked
/// immediately before every call: a claim sent at `T` may run the body
/// until `T + lease − margin`; a leader may act until the last good
/// renewal's (or the acquisition's) send time `+ lease − margin`, and a
/// term starts only if that instant is still ahead. The margin is a third
/// of the lease ([`safety_margin`](Cluster::safety_margin)): a leader
/// renews every third of its lease, tries a failed renewal again every
/// tenth, and stops acting two thirds of a lease after the last renewal
/// it sent that succeeded; 5 s of margin on the default 15 s lease, as
/// Kubernetes' client-go leader election (leaseDuration 15 s,
/// renewDeadline 10 s, retryPeriod 2 s) leaves seconds, not
/// milliseconds, for a paused process, a slow store and clocks that run
/// at slightly different rates. `after_loop` and the `error` hook are
/// cleanup and reporting: they run after the lease is gone (a term ended
/// by a lapsed lease ends as cancelled, its `after_loop` sees
/// `is_being_cancelled()`), and they must not act on the fence.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use tasks_runtime::cluster::{Cluster, MemoryStore, Mode};
///
/// let store = Arc::new(MemoryStore::new());
/// let nightly = Cluster::claim(store.clone()).takeover(true);
/// let leader = Cluster::leader(store).lease(Duration::from_secs(5));
/// assert_eq!(nightly.mode(), Mode::Claim);
/// assert_eq!(leader.lease_duration(), Duration::from_secs(5));
/// ```
#[derive(Clone)]
pub struct Cluster {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) mode: Mode,
    pub(crate) replica: ReplicaId,
    pub(crate) lease: Duration,
    pub(crate) early_tolerance: Duration,
    pub(crate) takeover: bool,
    pub(crate) catch_up: bool,
    pub(crate) run_during_outage: bool,
    pub(crate) anchor: DateTime<Utc>,
}

impl fmt::Debug for Cluster {
    /// Never the store's address: it may carry a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("mode", &self.mode)
            .field("replica", &self.replica)
            .field("lease", &self.lease)
            .field("takeover", &self.takeover)
            .field("catch_up", &self.catch_up)
            .field("run_during_outage", &self.run_during_outage)
            .field("anchor", &self.anchor)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    fn new(store: Arc<dyn Store>, mode: Mode, lease: Duration) -> Self {
        Self {
            store,
            mode,
            replica: ReplicaId::generate(),
            lease,
            early_tolerance: Duration::from_millis(50),
            takeover: false,
            catch_up: false,
            run_during_outage: false,
            anchor: DateTime::UNIX_EPOCH,
        }
    }

    /// Claim mode on `store`: each slot runs on the one replica that
    /// claims it.
    pub fn claim(store: Arc<dyn Store>) -> Self {
        Self::new(store, Mode::Claim, Duration::from_secs(30))
    }

    /// Leader mode on `store`: the replica holding the lease runs the
    /// loop.
    pub fn leader(store: Arc<dyn Store>) -> Self {
        Self::new(store, Mode::Leader, Duration::from_secs(15))
    }

    /// This replica's identity (by default a random one per process).
    #[must_use]
    pub fn replica(mut self, replica: ReplicaId) -> Self {
        self.replica = replica;
        self
    }

    /// How long a claim holds its slot, or a lease its leadership, on the
    /// store's clock. A leader renews its lease every third of it, and stops
    /// running the loop when no renewal sent within the lease minus the
    /// [safety margin](Cluster#the-safety-margin) succeeded, by its own
    /// monotonic clock; a claim runs its body only within that long after
    /// it was sent.
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Claim mode: a slot whose holder's lease ran out before it finished
    /// (the replica died) may be claimed again by another replica, within
    /// the loop's grace period after the slot (twice the lease, without
    /// one): at least once instead of at most once. A replica that finds a
    /// slot taken looks at it again once the lease has had time to run out.
    /// The body must then be idempotent; the fencing token tells the runs
    /// apart.
    #[must_use]
    pub fn takeover(mut self, takeover: bool) -> Self {
        self.takeover = takeover;
        self
    }

    /// Claim mode: when the loop starts, the latest slot that every replica
    /// missed (they were all down) runs once, on the replica that claims it,
    /// if it is later than the last slot the store saw finish and within
    /// the loop's grace period
    /// ([`LoopBuilder::grace_period`](crate::LoopBuilder::grace_period);
    /// twice the lease, without one). The slots before it are not run.
    #[must_use]
    pub fn catch_up(mut self, catch_up: bool) -> Self {
        self.catch_up = catch_up;
        self
    }

    /// Claim mode: runs a slot even when the store cannot be reached to
    /// claim it, for loops whose body is idempotent (without a fencing
    /// token). By default such a slot is skipped: a double run is worse
    /// than a missed one. (In leader mode a replica that cannot reach the
    /// store never leads.)
    #[must_use]
    pub fn run_during_outage(mut self, run: bool) -> Self {
        self.run_during_outage = run;
        self
    }

    /// Claim mode: the instant relative intervals are counted from
    /// (slots are `anchor + k · interval`); the Unix epoch by default.
    #[must_use]
    pub fn anchor(mut self, anchor: DateTime<Utc>) -> Self {
        self.anchor = anchor;
        self
    }

    /// Claim mode: how early, on the store's clock, a claim is accepted.
    #[must_use]
    pub fn early_tolerance(mut self, tolerance: Duration) -> Self {
        self.early_tolerance = tolerance;
        self
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// This replica's identity.
    pub fn replica_id(&self) -> &ReplicaId {
        &self.replica
    }

    /// The lease.
    pub fn lease_duration(&self) -> Duration {
        self.lease
    }

    /// The safety margin: a third of the lease. A replica stops acting
    /// this long before its claim or lease runs out by its own clock
    /// (see [the safety margin](Cluster#the-safety-margin)).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use tasks_runtime::cluster::{Cluster, MemoryStore};
    ///
    /// let leader = Cluster::leader(Arc::new(MemoryStore::new()));
    /// assert_eq!(leader.safety_margin(), Duration::from_secs(5));
    /// ```
    pub fn safety_margin(&self) -> Duration {
        self.lease / SAFETY_MARGIN_DIVISOR
    }

    /// How long after sending a claim or a lease request that the store
    /// granted a replica may act on it: the lease minus the margin.
    pub(crate) fn may_act_for(&self) -> Duration {
        self.lease.saturating_sub(self.safety_margin())
    }
}
