//! [`State`]: the mutable state of a loop, and every change to it, made
//! under the loop's lock.

use std::num::NonZeroU64;
use std::sync::Arc;
use std::task::Waker;
use std::time::Duration;

use tokio::time::MissedTickBehavior;

use super::cluster::{claimable, ClusterState, Participation};
use super::record::IterationRecord;
use crate::backoff::Backoff;
use crate::clock::Clock;
use crate::cluster::{Cluster, Mode};
use crate::error::{ConfigError, StartError};
use crate::handle::OutcomeCell;
use crate::hooks::{Hooks, PlainHook};
use crate::retry::RetryFilter;
use crate::schedule::{Jitter, Now, Schedule, ScheduledAt, WallOptions};

/// Makes the backoff of a run.
pub(crate) type BackoffFactory = Arc<dyn Fn() -> Box<dyn Backoff> + Send + Sync>;

/// The mutable state of a loop.
pub(crate) struct State<A> {
    pub(crate) schedule: Schedule,
    pub(crate) count: Option<NonZeroU64>,
    pub(crate) current_loop: u64,
    /// The iteration that ran last, as scheduled.
    pub(crate) last: Option<ScheduledAt>,
    /// The iteration to run next.
    pub(crate) next: Option<ScheduledAt>,
    /// Hooks, a changed retry filter or backoff, the current run's backoff:
    /// `None` until one is set.
    pub(crate) extras: Option<Box<Extras>>,
    /// The outcome of the newest run, finished or not (`get_task()`).
    pub(crate) latest: Option<Arc<OutcomeCell>>,
    /// The running task's waker, for `cancel`, `restart` and
    /// `change_interval` to wake it.
    waker: Option<Waker>,
    /// The arguments of a pending `restart`.
    restart_with: Option<A>,
    pub(crate) reconnect: bool,
    /// From `start` until the run's `after_loop` has returned.
    pub(crate) running: bool,
    pub(crate) stop_requested: bool,
    cancel_requested: bool,
    /// The next iteration moved since the task last read it.
    rescheduled: bool,
    pub(crate) being_cancelled: bool,
    pub(crate) failed: bool,
}

/// The state that most loops never need.
#[derive(Default)]
pub(crate) struct Extras {
    pub(crate) hooks: Hooks,
    pub(crate) retry: RetryFilter,
    /// `None`: discord.py's exponential backoff.
    pub(crate) make_backoff: Option<BackoffFactory>,
    /// The current run's backoff, made at its first retried error.
    pub(crate) backoff: Option<Box<dyn Backoff>>,
    /// The loop's part in a cluster, if it joined one.
    pub(crate) cluster: Option<ClusterState>,
    /// The wall clock, when not the system's.
    pub(crate) clock: Option<Arc<dyn Clock>>,
    /// What a relative interval does about missed iterations; `None`: burst.
    pub(crate) missed: Option<MissedTickBehavior>,
    /// How long a call of the body may run.
    pub(crate) timeout: Option<Duration>,
    pub(crate) jitter: Option<Jitter>,
    /// The outcome, retries, last error and timings, for `status`.
    pub(crate) record: IterationRecord,
    /// `shutdown`: no new iteration starts, the waits between them end.
    pub(crate) shutdown_requested: bool,
    /// The loop's metric handles, registered as its run starts.
    #[cfg(feature = "metrics")]
    pub(crate) metrics: Option<Arc<crate::metrics::LoopMetrics>>,
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

/// What a run leaves behind when it ends. The backoff is user code: it is
/// dropped once the lock is released.
pub(crate) struct Ended<A> {
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

    /// The iterations are over: no next one, whatever `change_interval`
    /// does from `after_loop`. Returns the `after_loop` hook.
    pub(crate) fn begin_end(&mut self, cancelled: bool) -> Option<PlainHook> {
        self.being_cancelled = cancelled;
        self.next = None;
        self.last = None;
        self.hooks().and_then(|hooks| hooks.after_loop.clone())
    }

    /// Marks the run as ended and clears what belonged to it.
    pub(crate) fn end_run(&mut self) -> Ended<A> {
        self.running = false;
        self.reset_run();
        // The waker holds the task's allocation: let it go with the task.
        self.waker = None;
        Ended {
            restart_with: self.restart_with.take(),
            outcome: self.latest.clone(),
            _backoff: self
                .extras
                .as_mut()
                .and_then(|extras| extras.backoff.take()),
        }
    }

    /// Counts a successful iteration; whether that reaches the count. A
    /// count lowered below the iterations already done is reached too.
    pub(crate) fn count_iteration(&mut self) -> bool {
        self.current_loop += 1;
        self.count
            .is_some_and(|count| self.current_loop >= count.get())
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
            extras.shutdown_requested = false;
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
        self.extras_mut().shutdown_requested = true;
        ShutdownRequested {
            waker: self.waker.take(),
            outcome: self.latest.clone(),
            _restart_with: self.restart_with.take(),
        }
    }

    /// `restart`: a cancel that starts the loop again with `args` once the
    /// run has ended (refused during a shutdown). Returns the task to wake, and the arguments that are
    /// not kept (these, or an earlier restart's) for the caller to drop
    /// outside the lock.
    pub(crate) fn request_restart(&mut self, args: A) -> (Option<Waker>, Option<A>) {
        if self.being_cancelled || !self.running || self.shutdown_requested() {
            return (None, Some(args));
        }
        let replaced = self.restart_with.replace(args);
        (self.request_cancel(), replaced)
    }

    /// `change_interval`: the new schedule, and for a running loop the next
    /// iteration under it (for a relative interval, anchored to the last
    /// iteration, as in discord.py; before the first iteration of a run,
    /// the first one stays at once). `now` is `None` when the clock could
    /// not be read: the task then finds no next iteration and works it out
    /// itself. Returns the task to wake.
    pub(crate) fn reschedule(
        &mut self,
        schedule: Schedule,
        now: Option<Now>,
        options: &WallOptions,
    ) -> Option<Waker> {
        let relative_first_wait = !schedule.is_wall_clock() && self.last.is_none();
        self.schedule = schedule;
        let pending = self.next.is_some() || self.last.is_some();
        if !self.running || !pending || relative_first_wait {
            return None;
        }
        self.next = match (self.last, now) {
            (Some(last), _) if !self.schedule.is_wall_clock() => {
                self.schedule.following_relative(last)
            }
            (last, Some(now)) => self.schedule.following(last, now, options),
            (_, None) => None,
        };
        self.rescheduled = true;
        self.waker.take()
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

    /// The next iteration is being read now: an earlier move of it needs
    /// no more attention.
    pub(crate) fn take_rescheduled(&mut self) -> bool {
        std::mem::take(&mut self.rescheduled)
    }

    pub(crate) fn extras_mut(&mut self) -> &mut Extras {
        self.extras.get_or_insert_with(Box::default)
    }

    pub(crate) fn hooks(&self) -> Option<&Hooks> {
        self.extras.as_ref().map(|extras| &extras.hooks)
    }

    /// The retried error types.
    pub(crate) fn retry(&self) -> &RetryFilter {
        match &self.extras {
            Some(extras) => &extras.retry,
            None => RetryFilter::default_ref(),
        }
    }

    /// The current run's backoff, taken out so that it is called without the
    /// lock held (give it back with [`put_backoff`](Self::put_backoff)), or
    /// if the run has none yet, what makes it.
    pub(crate) fn take_backoff(&mut self) -> Result<Box<dyn Backoff>, Option<BackoffFactory>> {
        match self.extras.as_mut() {
            Some(extras) => match extras.backoff.take() {
                Some(backoff) => Ok(backoff),
                None => Err(extras.make_backoff.clone()),
            },
            None => Err(None),
        }
    }

    pub(crate) fn put_backoff(&mut self, backoff: Box<dyn Backoff>) {
        self.extras_mut().backoff = Some(backoff);
    }

    /// Whether `shutdown` was called during this run. Kept in the extras:
    /// a flag more in every loop's state would cost each loop 16 bytes.
    pub(crate) fn shutdown_requested(&self) -> bool {
        self.extras
            .as_ref()
            .is_some_and(|extras| extras.shutdown_requested)
    }

    /// Whether the run is to end after the current iteration: `stop` or
    /// `shutdown`.
    pub(crate) fn ending(&self) -> bool {
        self.stop_requested || self.shutdown_requested()
    }

    /// The missed-iteration policy of a relative interval.
    pub(crate) fn missed(&self) -> MissedTickBehavior {
        self.extras
            .as_ref()
            .and_then(|extras| extras.missed)
            .unwrap_or(MissedTickBehavior::Burst)
    }

    /// The settings the next call of the body runs with.
    pub(crate) fn iteration_settings(&self) -> IterationSettings {
        match &self.extras {
            None => IterationSettings::default(),
            Some(extras) => IterationSettings {
                timeout: extras.timeout,
                timed: extras.record.timed(),
            },
        }
    }

    /// The extra delay of the wait for `slot`: zero without jitter.
    pub(crate) fn jitter_for(&mut self, slot: ScheduledAt) -> Duration {
        match self
            .extras
            .as_mut()
            .and_then(|extras| extras.jitter.as_mut())
        {
            Some(jitter) => jitter.delay_for(slot),
            None => Duration::ZERO,
        }
    }

    /// The extra delay already chosen for the wait for `slot`, if any.
    pub(crate) fn jitter_chosen_for(&self, slot: ScheduledAt) -> Duration {
        self.extras
            .as_ref()
            .and_then(|extras| extras.jitter.as_ref())
            .and_then(|jitter| jitter.chosen_for(slot))
            .unwrap_or_default()
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
            return Err(StartError::AlreadyRunning.into());
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
