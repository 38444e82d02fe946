//! [`State`]: the mutable state of a loop, its accessors, and the
//! transitions of its runs: begin and end, the stop, cancel, shutdown and
//! restart requests, the interruptions a waiting task sees, and the
//! changes of its settings. The iterations' own transitions are in
//! `iterations.rs`, a cluster's in `membership.rs`; every one is made
//! under the loop's lock.

use std::num::NonZeroU64;
use std::sync::Arc;
use std::task::Waker;
use std::time::Duration;
use tokio::time::Instant;

use super::cluster::{claimable, Membership, Participation};
use super::extras::{Extras, Hooks};
use super::settings::{check_count, BackoffFactory, Settings};
use crate::backoff::Backoff;
use crate::clock::Clock;
use crate::cluster::{Cluster, Fence, Mode};
use crate::error::{ConfigError, StartError};
use crate::handle::OutcomeCell;
use crate::hooks::{ErrorHook, PlainHook};
use crate::retry::RetryFilter;
use crate::schedule::{Schedule, ScheduledAt, WallOptions};

/// The mutable state of a loop. Its fields are the `state` module's own:
/// the rest of the crate reads them through accessors and changes them
/// through the transitions.
pub(crate) struct State<A> {
    pub(super) schedule: Schedule,
    pub(super) count: Option<NonZeroU64>,
    pub(super) current_loop: u64,
    /// The iteration that ran last, as scheduled.
    pub(super) last: Option<ScheduledAt>,
    /// The iteration to run next.
    pub(super) next: Option<ScheduledAt>,
    /// The settings changed from their defaults, hooks, the current run's
    /// backoff, the record, the cluster: `None` until one is needed.
    pub(super) extras: Option<Box<Extras>>,
    /// The outcome of the newest run, finished or not (`get_task()`).
    latest: Option<Arc<OutcomeCell>>,
    /// The running task's waker, for `cancel`, `restart` and
    /// `change_interval` to wake it.
    waker: Option<Waker>,
    /// The arguments of a pending `restart`.
    restart_with: Option<A>,
    reconnect: bool,
    /// From `start` until the run's `after_loop` has returned.
    pub(super) running: bool,
    stop_requested: bool,
    cancel_requested: bool,
    /// The next iteration moved since the task last read it.
    pub(super) rescheduled: bool,
    being_cancelled: bool,
    failed: bool,
}

/// What an iteration needs to know of the loop's settings, read in the
/// lock that schedules it.
#[derive(Clone, Copy, Default)]
pub(crate) struct IterationSettings {
    pub(crate) timeout: Option<Duration>,
    /// Whether the iteration's start and end are timed (for `status` and
    /// the metrics).
    pub(crate) timed: bool,
}

/// Why a wait of the run's task ended early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Interrupt {
    /// `cancel` or `restart`.
    Cancelled,
    /// `change_interval` moved the next iteration.
    Rescheduled,
    /// `shutdown`: the wait between iterations ends the run.
    ShutDown,
}

/// What `shutdown` finds; see [`State::request_shutdown`].
pub(crate) struct ShutdownRequested<A> {
    pub(crate) waker: Option<Waker>,
    pub(crate) outcome: Option<Arc<OutcomeCell>>,
    pub(crate) _restart_with: Option<A>,
}

impl<A> Default for ShutdownRequested<A> {
    fn default() -> Self {
        Self {
            waker: None,
            outcome: None,
            _restart_with: None,
        }
    }
}

/// What a run leaves behind in the state when it ends, for the caller to
/// hand on or drop. The backoff is user code: it is dropped once the lock
/// is released.
pub(crate) struct Leftovers<A> {
    /// The arguments of a pending `restart`.
    pub(crate) restart_with: Option<A>,
    /// Where the run's outcome goes.
    pub(crate) outcome: Option<Arc<OutcomeCell>>,
    /// The run's backoff, if it made one.
    pub(crate) _backoff: Option<Box<dyn Backoff>>,
}

/// What a new run replaces, for the caller to drop once the lock is
/// released: the earlier run's outcome (which may hold the last reference
/// to a user's error) and the arguments of a `restart` it left.
pub(crate) struct Replaced<A> {
    _outcome: Option<Arc<OutcomeCell>>,
    _restart_with: Option<A>,
}

impl<A> State<A> {
    /// The state of a loop built with every setting at its default.
    pub(crate) fn new(schedule: Schedule, count: Option<NonZeroU64>, reconnect: bool) -> Self {
        Self {
            schedule,
            count,
            current_loop: 0,
            last: None,
            next: None,
            extras: None,
            latest: None,
            waker: None,
            restart_with: None,
            reconnect,
            running: false,
            stop_requested: false,
            cancel_requested: false,
            rescheduled: false,
            being_cancelled: false,
            failed: false,
        }
    }

    /// The state with the settings and hooks it was built with (at their
    /// defaults, they cost nothing).
    pub(crate) fn with(mut self, settings: Settings, hooks: Hooks) -> Self {
        self.extras = Extras::built(settings, hooks);
        self
    }

    pub(crate) fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    pub(crate) fn count(&self) -> Option<NonZeroU64> {
        self.count
    }

    /// The successful iterations of the current run.
    pub(crate) fn current_loop(&self) -> u64 {
        self.current_loop
    }

    /// The iteration that ran last (or runs now), as scheduled.
    pub(crate) fn last(&self) -> Option<ScheduledAt> {
        self.last
    }

    /// The outcome of the newest run, finished or not.
    pub(crate) fn latest(&self) -> Option<&Arc<OutcomeCell>> {
        self.latest.as_ref()
    }

    /// The outcome of the run in progress, if one is.
    pub(crate) fn running_outcome(&self) -> Option<Arc<OutcomeCell>> {
        self.latest.clone().filter(|_| self.running)
    }

    pub(crate) fn reconnect(&self) -> bool {
        self.reconnect
    }

    /// From `start` until the run's `after_loop` has returned.
    pub(crate) fn running(&self) -> bool {
        self.running
    }

    /// Whether the run is ending because of `cancel` or `restart`.
    pub(crate) fn being_cancelled(&self) -> bool {
        self.being_cancelled
    }

    /// Whether the last run ended with an unhandled error.
    pub(crate) fn failed(&self) -> bool {
        self.failed
    }

    /// Marks a new run as started, its outcome going to `outcome`; refused
    /// while a run is in progress.
    pub(crate) fn begin_run(
        &mut self,
        outcome: Arc<OutcomeCell>,
    ) -> Result<Replaced<A>, StartError> {
        if self.running {
            return Err(StartError::AlreadyRunning);
        }
        self.running = true;
        self.failed = false;
        self.reset_run();
        Ok(Replaced {
            _outcome: self.latest.replace(outcome),
            _restart_with: self.restart_with.take(),
        })
    }

    /// An unhandled error ends the run: `failed()` becomes true. Returns the
    /// `error` hook.
    pub(crate) fn mark_failed(&mut self) -> Option<ErrorHook> {
        self.failed = true;
        self.error_hook()
    }

    /// The iterations are over: no next one, whatever `change_interval`
    /// does from `after_loop`. Returns the `after_loop` hook.
    pub(crate) fn begin_end(&mut self, cancelled: bool) -> Option<PlainHook> {
        self.being_cancelled = cancelled;
        self.next = None;
        self.last = None;
        self.hooks().and_then(Hooks::after_loop).cloned()
    }

    /// Marks the run as ended and clears what belonged to it.
    pub(crate) fn end_run(&mut self) -> Leftovers<A> {
        self.running = false;
        self.reset_run();
        // The waker holds the task's allocation: let it go with the task.
        self.waker = None;
        Leftovers {
            restart_with: self.restart_with.take(),
            outcome: self.latest.clone(),
            _backoff: self
                .extras
                .as_mut()
                .and_then(|extras| extras.run.backoff.take()),
        }
    }

    /// The per-run fields, as a run begins and after it ends.
    fn reset_run(&mut self) {
        self.next = None;
        self.last = None;
        self.current_loop = 0;
        self.stop_requested = false;
        self.cancel_requested = false;
        self.rescheduled = false;
        self.being_cancelled = false;
        if let Some(extras) = self.extras.as_mut() {
            extras.run.shutdown_requested = false;
        }
    }

    /// `stop`: the run ends after the current iteration.
    pub(crate) fn request_stop(&mut self) {
        if self.running {
            self.stop_requested = true;
        }
    }

    /// `cancel`: the waiting task is to be woken.
    pub(crate) fn request_cancel(&mut self) -> Option<Waker> {
        if !self.running {
            return None;
        }
        self.cancel_requested = true;
        self.waker.take()
    }

    /// `shutdown`: no new iteration starts, and a wait between iterations
    /// ends at once. Returns the task to wake, the run's outcome to wait for
    /// (`None` when the loop is not running), and a pending restart's
    /// arguments, which the shutdown drops (outside the lock).
    pub(crate) fn request_shutdown(&mut self) -> ShutdownRequested<A> {
        if !self.running {
            return ShutdownRequested::default();
        }
        self.extras_mut().run.shutdown_requested = true;
        ShutdownRequested {
            waker: self.waker.take(),
            outcome: self.latest.clone(),
            _restart_with: self.restart_with.take(),
        }
    }

    /// `restart`: a cancel that starts the loop again with `args` once the
    /// run has ended (refused during a shutdown). Returns the task to wake,
    /// and the arguments that are not kept (these, or an earlier
    /// restart's) for the caller to drop outside the lock.
    pub(crate) fn request_restart(&mut self, args: A) -> (Option<Waker>, Option<A>) {
        if self.being_cancelled || !self.running || self.shutdown_requested() {
            return (None, Some(args));
        }
        let replaced = self.restart_with.replace(args);
        (self.request_cancel(), replaced)
    }

    /// Whether a wait of the run's task is interrupted: by a cancel, or
    /// (when it watches for it) by the next iteration moving. If not, the
    /// task's `waker` is kept so that either request wakes it.
    pub(crate) fn poll_interrupt(
        &mut self,
        waker: &Waker,
        watch_reschedule: bool,
        watch_shutdown: bool,
    ) -> Option<Interrupt> {
        if self.cancel_requested {
            return Some(Interrupt::Cancelled);
        }
        if watch_shutdown && self.shutdown_requested() {
            return Some(Interrupt::ShutDown);
        }
        if watch_reschedule && self.rescheduled {
            self.rescheduled = false;
            return Some(Interrupt::Rescheduled);
        }
        match &self.waker {
            Some(kept) if kept.will_wake(waker) => {}
            _ => self.waker = Some(waker.clone()),
        }
        None
    }

    /// No cancel is pending and the run's task's waker is kept, so a wait
    /// begun right after this lock (with no await between) need not check
    /// before its first poll. The kept waker is this run's: only the run's
    /// task keeps one, on a poll, and a new run starts without one.
    pub(crate) fn watched_by_task(&self) -> bool {
        !self.cancel_requested && self.waker.is_some()
    }

    /// The wake-up of the run's task, taken: the next iteration moved.
    pub(super) fn take_waker(&mut self) -> Option<Waker> {
        self.waker.take()
    }

    /// Whether `shutdown` was called during this run. Kept in the extras:
    /// a flag more in every loop's state would cost each loop 16 bytes.
    pub(crate) fn shutdown_requested(&self) -> bool {
        self.extras
            .as_ref()
            .is_some_and(|extras| extras.run.shutdown_requested)
    }

    /// Whether the run is to end after the current iteration: `stop` or
    /// `shutdown`.
    pub(crate) fn ending(&self) -> bool {
        self.stop_requested || self.shutdown_requested()
    }

    /// Changes the count, read after each iteration.
    ///
    /// # Errors
    ///
    /// A zero count; a count in a cluster's claim mode. The count is left
    /// as it was.
    pub(crate) fn set_count(&mut self, count: Option<u64>) -> Result<(), ConfigError> {
        let count = check_count(count)?;
        if count.is_some() && self.claims_slots() {
            return Err(ConfigError::CountInClaimMode);
        }
        self.count = count;
        Ok(())
    }

    /// Turns retrying on or off, read at each error.
    pub(crate) fn set_reconnect(&mut self, reconnect: bool) {
        self.reconnect = reconnect;
    }

    /// Gives the loop another wall clock, refused while it runs (a run
    /// reads it across its waits). Returns the clock replaced, for the
    /// caller to drop outside the lock.
    pub(crate) fn set_clock(
        &mut self,
        clock: Arc<dyn Clock>,
    ) -> Result<Option<Arc<dyn Clock>>, StartError> {
        if self.running {
            return Err(StartError::AlreadyRunning);
        }
        Ok(self.extras_mut().settings.set_clock(Some(clock)))
    }

    /// The extras, made on first use.
    pub(super) fn extras_mut(&mut self) -> &mut Extras {
        self.extras.get_or_insert_with(Box::default)
    }

    /// The settings, to change: see `Core::change_settings`.
    pub(super) fn settings_mut(&mut self) -> &mut Settings {
        &mut self.extras_mut().settings
    }

    /// The hooks, to change: see `Core::change_hooks`.
    pub(super) fn hooks_mut(&mut self) -> &mut Hooks {
        &mut self.extras_mut().hooks
    }

    /// The settings; `None` when every one is at its default.
    pub(crate) fn settings(&self) -> Option<&Settings> {
        self.extras.as_ref().map(|extras| &extras.settings)
    }

    fn hooks(&self) -> Option<&Hooks> {
        self.extras.as_ref().map(|extras| &extras.hooks)
    }

    pub(crate) fn before_loop_hook(&self) -> Option<PlainHook> {
        self.hooks().and_then(Hooks::before_loop).cloned()
    }

    pub(crate) fn error_hook(&self) -> Option<ErrorHook> {
        self.hooks().and_then(Hooks::error).cloned()
    }

    /// The retried error types.
    pub(crate) fn retry(&self) -> &RetryFilter {
        match self.settings() {
            Some(settings) => settings.retry(),
            None => RetryFilter::default_ref(),
        }
    }

    /// The wall clock, when not the system's.
    pub(crate) fn clock(&self) -> Option<Arc<dyn Clock>> {
        self.settings()?.clock().cloned()
    }

    /// How a wall-clock schedule watches the wall clock.
    pub(crate) fn wall_options(&self) -> WallOptions {
        self.settings().map_or(WallOptions::DEFAULT, Settings::wall)
    }

    /// The current run's backoff, taken out so that it is called without the
    /// lock held (give it back with [`put_backoff`](Self::put_backoff)), or
    /// if the run has none yet, what makes it.
    pub(crate) fn take_backoff(&mut self) -> Result<Box<dyn Backoff>, Option<BackoffFactory>> {
        match self.extras.as_mut() {
            Some(extras) => match extras.run.backoff.take() {
                Some(backoff) => Ok(backoff),
                None => Err(extras.settings.make_backoff().cloned()),
            },
            None => Err(None),
        }
    }

    pub(crate) fn put_backoff(&mut self, backoff: Box<dyn Backoff>) {
        self.extras_mut().run.backoff = Some(backoff);
    }

    /// A success: the retries start over, and so does the run's backoff,
    /// taken out to be reset without the lock held (give it back with
    /// [`put_backoff`](Self::put_backoff)).
    pub(crate) fn take_backoff_to_reset(&mut self) -> Option<Box<dyn Backoff>> {
        let extras = self.extras.as_mut()?;
        extras.record.reset_retries();
        extras.run.backoff.take()
    }

    /// The settings the next call of the body runs with.
    pub(crate) fn iteration_settings(&self) -> IterationSettings {
        match &self.extras {
            None => IterationSettings::default(),
            Some(extras) => IterationSettings {
                timeout: extras.settings.timeout(),
                timed: extras.record.timed(),
            },
        }
    }
}

/// A loop's part in a cluster.
impl<A> State<A> {
    fn cluster(&self) -> Option<&Membership> {
        self.extras.as_ref()?.cluster.as_ref()
    }

    fn cluster_mut(&mut self) -> Option<&mut Membership> {
        self.extras.as_mut()?.cluster.as_mut()
    }

    /// The cluster the loop joined, if any.
    pub(crate) fn cluster_config(&self) -> Option<&Cluster> {
        self.cluster().map(|cluster| &cluster.config)
    }

    /// Whether each slot is claimed before it runs.
    pub(crate) fn claims_slots(&self) -> bool {
        self.cluster_config()
            .is_some_and(|config| config.mode == Mode::Claim)
    }

    /// Whether a run starts as the replica's part in a leader-mode loop.
    pub(crate) fn leads(&self) -> bool {
        self.cluster_config()
            .is_some_and(|config| config.mode == Mode::Leader)
    }

    /// Whether a run begins by catching up on a slot every replica missed.
    pub(crate) fn catches_up(&self) -> bool {
        self.cluster_config().is_some_and(|config| config.catch_up)
    }

    /// Joins a cluster: in claim mode, relative intervals are laid on the
    /// cluster's grid, and a count is refused (each replica would count its
    /// own share). Refused while the loop runs. Returns the cluster it was
    /// in, for the caller to drop outside the lock (its store is user code).
    pub(crate) fn join_cluster(&mut self, config: Cluster) -> Result<Option<Cluster>, ConfigError> {
        if self.running || self.participation().is_some() {
            return Err(StartError::AlreadyRunning.into());
        }
        config.check()?;
        if config.mode == Mode::Claim {
            if self.count.is_some() {
                return Err(ConfigError::CountInClaimMode);
            }
            self.schedule = claimable(self.schedule.clone(), &config)?;
        }
        let joined = Membership::new(config);
        Ok(self
            .extras_mut()
            .cluster
            .replace(joined)
            .map(|left| left.config))
    }

    /// A schedule as this loop runs it: laid on the cluster's grid in claim
    /// mode.
    pub(crate) fn in_cluster(&self, schedule: Schedule) -> Result<Schedule, ConfigError> {
        match self.cluster_config() {
            Some(config) if config.mode == Mode::Claim => claimable(schedule, config),
            _ => Ok(schedule),
        }
    }

    /// Leader mode: the replica's participation, while it takes part.
    pub(crate) fn participation(&self) -> Option<&Arc<Participation>> {
        self.cluster()?.participation.as_ref()
    }

    /// Leader mode: the replica begins to take part, if the loop is in a
    /// leader-mode cluster (`None` for any other loop); refused while a run
    /// is in progress or it takes part already. One lock: the mode read is
    /// the mode entered. Returns the cluster's configuration and the
    /// participation.
    pub(crate) fn enter_leader_mode(
        &mut self,
    ) -> Result<Option<(Cluster, Arc<Participation>)>, StartError> {
        if !self.leads() {
            return Ok(None);
        }
        if self.running || self.participation().is_some() {
            return Err(StartError::AlreadyRunning);
        }
        let Some(cluster) = self.cluster_mut() else {
            return Ok(None);
        };
        let participation = Arc::new(Participation::default());
        cluster.participation = Some(Arc::clone(&participation));
        Ok(Some((cluster.config.clone(), participation)))
    }

    /// Leader mode: the replica no longer takes part, and holds no term.
    pub(crate) fn end_participation(&mut self) {
        if let Some(cluster) = self.cluster_mut() {
            cluster.participation = None;
            cluster.fence = None;
        }
    }

    /// The token of the current iteration (claim mode) or term (leader
    /// mode).
    pub(crate) fn fence(&self) -> Option<Fence> {
        self.cluster()?.fence
    }

    /// The iteration or term now running holds `fence` (`None`: none, or
    /// an iteration run during a store outage).
    pub(crate) fn set_fence(&mut self, fence: Option<Fence>) {
        if let Some(cluster) = self.cluster_mut() {
            cluster.fence = fence;
        }
    }

    /// Leader mode: a term begins with `fence`, and may act until `until`
    /// (see [`Cluster::may_act_for`]).
    pub(crate) fn begin_term(&mut self, fence: Fence, until: Instant) {
        if let Some(cluster) = self.cluster_mut() {
            cluster.fence = Some(fence);
            cluster.may_act_until = Some(until);
        }
    }

    /// Leader mode: a renewal succeeded; the term may act until `until`.
    pub(crate) fn extend_term(&mut self, until: Instant) {
        if let Some(cluster) = self.cluster_mut() {
            cluster.may_act_until = Some(until);
        }
    }

    /// Leader mode: the term is over (lost, or ended).
    pub(crate) fn end_term(&mut self) {
        if let Some(cluster) = self.cluster_mut() {
            cluster.fence = None;
            cluster.may_act_until = None;
        }
    }

    /// Leader mode: whether the term's lease is past the instant it may act
    /// until, so that no body or `before_loop` may be called. Reads the
    /// monotonic clock only in a term.
    pub(crate) fn lease_lapsed(&self) -> bool {
        self.cluster()
            .and_then(|cluster| cluster.may_act_until)
            .is_some_and(|until| Instant::now() >= until)
    }

    /// Whether a replica with another time-zone database is to be reported:
    /// once per loop, so this is true the first time only.
    pub(crate) fn report_tzdb_mismatch(&mut self) -> bool {
        self.cluster_mut()
            .is_some_and(|c| !std::mem::replace(&mut c.tzdb_mismatch_reported, true))
    }
}
