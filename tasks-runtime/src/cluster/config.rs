//! [`Cluster`]: how a loop runs across replicas, and the two modes.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::store::{ReplicaId, Store};
use crate::error::ConfigError;

/// The safety margin is the lease divided by this (a third).
const SAFETY_MARGIN_DIVISOR: u32 = 3;

/// The store deadline unless told otherwise (and unless the lease is so
/// short that less is left to act on an answer): half the margin of the
/// default leader lease, see [`Cluster::store_deadline`].
const DEFAULT_STORE_DEADLINE: Duration = Duration::from_millis(2500);

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
    /// holds it, and during its term runs the loop as a single process
    /// would (`change_interval`, hooks; each term is a run of its own, whose
    /// `count` starts over); another takes over once the lease runs out.
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
/// | [`store_deadline`](Cluster::store_deadline) | 2.5 s, at most the lease minus the margin |
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
/// until `T + lease − margin` (with [`takeover`](Cluster::takeover), each
/// renewal of it sent at `R` that succeeds moves this to
/// `R + lease − margin`); a leader may act until the last good
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
    /// `None`: the default, which follows the lease.
    store_deadline: Option<Duration>,
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
            .field("store_deadline", &self.store_deadline_duration())
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
            store_deadline: None,
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
    /// one): at least once instead of at most once. The body must then be
    /// idempotent; the fencing token tells the runs apart.
    ///
    /// While the body of a slot runs, its holder renews the claim every
    /// third of the lease ([`Store::renew_claim`]), so that a body longer
    /// than the lease is not started again elsewhere while its holder
    /// lives. When the store answers that the claim is lost, or no renewal
    /// succeeded for the lease minus the
    /// [safety margin](Cluster#the-safety-margin), the body is cancelled
    /// and [`ClaimLost`](super::ClaimLost) goes to the `error` hook; the
    /// loop goes on with its next slot. A replica that finds a slot taken
    /// looks at it again once the lease has had time to run out, then
    /// every lease while the slot may still be taken over and its own next
    /// slot is not due.
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

    /// How long the replica waits for the store's answer to one call (a
    /// claim, the record of how a slot ended, an acquisition, a renewal or
    /// a release of the lease, the catch-up's read): a call still
    /// unanswered then fails as
    /// [`Unavailable`](crate::cluster::StoreErrorKind::Unavailable), reported
    /// as any store error is (to the `error` hook and the log), and the
    /// replica goes on as it does when the store is down: it skips the slot
    /// (unless [`run_during_outage`](Cluster::run_during_outage)), or tries
    /// the lease again. Whether the body runs is still decided by the
    /// [safety margin](Cluster#the-safety-margin), from when the call was
    /// sent. A call never waits longer, whatever the store does, so that
    /// [`Loop::shutdown`](crate::Loop::shutdown) returns within its grace
    /// period plus one store deadline.
    ///
    /// # The deadline and the lease
    ///
    /// A replica may act on a claim or a lease for the lease minus the
    /// margin after it sent the call that got it; an answer that comes
    /// later is of no use. The deadline spends that time, never the margin:
    /// a deadline longer than the lease minus the margin is refused
    /// ([`ConfigError::StoreDeadlineTooLong`], when the loop is built or
    /// joins the cluster).
    ///
    /// A leader renews a third of the lease after its last good renewal and
    /// stops acting two thirds after it: a third of the lease is left for
    /// renewals. A deadline of at most half of that (a sixth of the lease)
    /// lets a renewal that hangs to its deadline be followed by another
    /// that can still succeed, on a new connection. The default is 2.5 s,
    /// half the margin of the default leader lease of 15 s (whose leader
    /// renews at 5 s and stops at 10 s), as Kubernetes' client-go gives each
    /// call of its leader election half of its renewDeadline (5 s of 10 s,
    /// on a 15 s lease) so that one hung call does not cost the
    /// leadership; for a lease shorter than 3.75 s it is the lease minus
    /// the margin. The stores' own deadlines (5 s by default) bound the
    /// calls made outside a loop.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use tasks_runtime::cluster::{Cluster, MemoryStore};
    /// use tasks_runtime::{ConfigError, Loop};
    ///
    /// let store = Arc::new(MemoryStore::new());
    /// let leader = Cluster::leader(store.clone());
    /// assert_eq!(leader.store_deadline_duration(), Duration::from_millis(2500));
    /// // A 1 s lease may be acted on for the lease minus its margin: that is
    /// // the deadline.
    /// let short = Cluster::leader(store.clone()).lease(Duration::from_secs(1));
    /// let margin = short.safety_margin();
    /// assert_eq!(short.store_deadline_duration(), Duration::from_secs(1) - margin);
    ///
    /// // The default lease of 15 s may be acted on for 10 s.
    /// let patient = Cluster::leader(store.clone()).store_deadline(Duration::from_secs(12));
    /// let built = Loop::builder(|()| async {}).seconds(1.0).cluster(patient).build();
    /// assert!(matches!(built, Err(ConfigError::StoreDeadlineTooLong { .. })));
    /// ```
    #[must_use]
    pub fn store_deadline(mut self, deadline: Duration) -> Self {
        self.store_deadline = Some(deadline);
        self
    }

    /// The store deadline: the one given to
    /// [`store_deadline`](Cluster::store_deadline), or the default, 2.5 s
    /// or the lease minus the margin if that is shorter.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use tasks_runtime::cluster::{Cluster, MemoryStore};
    ///
    /// let nightly = Cluster::claim(Arc::new(MemoryStore::new())).store_deadline(Duration::from_secs(4));
    /// assert_eq!(nightly.store_deadline_duration(), Duration::from_secs(4));
    /// ```
    pub fn store_deadline_duration(&self) -> Duration {
        self.store_deadline
            .unwrap_or_else(|| DEFAULT_STORE_DEADLINE.min(self.may_act_for()))
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

    /// Checks the settings that must agree with each other: a store
    /// deadline given is longer than zero, and leaves the margin intact.
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        let Some(deadline) = self.store_deadline else {
            return Ok(());
        };
        ConfigError::check_duration("store_deadline", deadline, true)?;
        let limit = self.may_act_for();
        if deadline > limit {
            return Err(ConfigError::StoreDeadlineTooLong {
                deadline,
                lease: self.lease,
                limit,
            });
        }
        Ok(())
    }
}
