//! [`Core`]: a loop's state behind its lock, with its name; [`Shared`]:
//! the core and the body, in one allocation.
//!
//! The block is kept small on purpose (an idle loop is this block, its
//! task and its run's outcome cell): options left at their defaults cost a
//! null pointer, and the rarely used ones live in boxes made on first use.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;

use chrono::{DateTime, TimeDelta, Utc};

use super::extras::Hooks;
use super::settings::Settings;
use super::transitions::{Interrupt, State};
use crate::clock::ClockRef;
use crate::cluster::Cluster;
use crate::error::{ConfigError, LoopError, Shown};
use crate::handle::OutcomeCell;
use crate::hooks::call_guarded;
use crate::schedule::{Now, Schedule};

/// The part of a loop that does not depend on its body's type.
pub(crate) struct Core<A> {
    state: Mutex<State<A>>,
    /// The name given at build time, which the loop's logs, metrics and
    /// registry entry carry for its whole life: read without the lock.
    /// Boxed, so that an unnamed loop pays a null pointer.
    name: Option<Box<Name>>,
}

/// A loop's name, behind a thin pointer.
struct Name(Box<str>);

/// A loop: its [`Core`] and its body, in one allocation. Dropping it takes
/// the loop out of the registry (the `Drop` is in `registry.rs`, with the
/// rest of registration).
pub(crate) struct Shared<A, F> {
    pub(crate) core: Core<A>,
    pub(crate) body: F,
}

impl<A, F> Shared<A, F> {
    /// The name given at build time, or the body's type name.
    pub(crate) fn name(&self) -> &str {
        match &self.core.name {
            Some(name) => &name.0,
            None => crate::body::type_name::<F>(),
        }
    }
}

impl<A> Core<A> {
    pub(crate) fn new(state: State<A>, name: Option<String>) -> Self {
        Self {
            state: Mutex::new(state),
            name: name.map(|name| Box::new(Name(name.into_boxed_str()))),
        }
    }

    /// Locks the state. No user code runs while it is held, so a panic
    /// under it would be a bug of this crate; the state is still consistent
    /// field by field then: carry on.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State<A>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The wall clock. Takes the lock: never call it with the lock held.
    pub(crate) fn clock(&self) -> ClockRef {
        ClockRef(self.lock().clock())
    }

    /// Leader mode: the replica leaves the cluster's loop. Returns the
    /// outcome of its participation, to wait for.
    pub(crate) fn leave_cluster_loop(&self) -> Option<Arc<OutcomeCell>> {
        let state = self.lock();
        let participation = state.participation()?;
        participation.leave();
        Some(Arc::clone(participation.outcome()))
    }

    /// `shutdown`'s request: see [`State::request_shutdown`]. Returns the
    /// outcome of the run to wait for, `None` when the loop is not running.
    pub(crate) fn request_shutdown(&self) -> Option<Arc<OutcomeCell>> {
        let requested = self.lock().request_shutdown();
        wake(requested.waker);
        requested.outcome
    }

    /// Changes the settings. What `change` returns (a backoff factory it
    /// replaced, say) is dropped once the lock is released: it may be user
    /// code.
    pub(crate) fn change_settings<T>(&self, change: impl FnOnce(&mut Settings) -> T) -> T {
        change(self.lock().settings_mut())
    }

    /// Changes the hooks. What `change` returns (a hook it replaced) is
    /// dropped once the lock is released: it is user code.
    pub(crate) fn change_hooks<T>(&self, change: impl FnOnce(&mut Hooks) -> T) -> T {
        change(self.lock().hooks_mut())
    }

    /// When the next iteration is scheduled, on the wall clock; `None` when
    /// the loop is not running or is stopping. The clock is read after the
    /// lock is released.
    pub(crate) fn next_iteration(&self) -> Option<DateTime<Utc>> {
        let (next, wall_clock, jitter) = self.lock().upcoming()?;
        let at = if wall_clock {
            Some(next.wall())
        } else {
            next.expected_wall(self.now_in_caller()?)
        };
        at?.checked_add_signed(TimeDelta::from_std(jitter).ok()?)
    }

    /// Both clocks, read in a caller's task: a panic of the loop's clock
    /// (user code) is the run's to report, not the caller's, so it reads
    /// as `None` here.
    fn now_in_caller(&self) -> Option<Now> {
        let clock = self.clock();
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Now::read(&*clock))).ok()
    }

    /// `stop`; in leader mode the replica also leaves the cluster's loop.
    pub(crate) fn stop(&self) {
        let mut state = self.lock();
        state.request_stop();
        if let Some(participation) = state.participation() {
            participation.leave();
        }
    }

    /// `cancel`; in leader mode the replica also leaves the cluster's loop.
    pub(crate) fn cancel(&self) {
        let mut state = self.lock();
        if let Some(participation) = state.participation() {
            participation.leave();
        }
        let waker = state.request_cancel();
        drop(state);
        wake(waker);
    }

    /// Starts the backoff of the run over, after a success. Called without
    /// the lock held: the backoff is user code.
    pub(crate) fn reset_backoff(&self) {
        let taken = self.lock().take_backoff_to_reset();
        if let Some(mut backoff) = taken {
            backoff.reset();
            self.lock().put_backoff(backoff);
        }
    }

    /// Cancels the run without leaving a leader-mode loop: the lease was
    /// lost.
    pub(crate) fn cancel_run(&self) {
        let waker = self.lock().request_cancel();
        wake(waker);
    }

    /// Gives `error` to the `error` hook without failing the run (a store
    /// outage, a failing `after_loop`); a failure of the hook itself is
    /// logged. The hook is called without the lock held.
    pub(crate) async fn report(&self, name: &str, error: LoopError) {
        let hook = self.lock().error_hook();
        let Some(hook) = hook else { return };
        if let Err(hook_error) = call_guarded(|| hook(error.clone())).await {
            tracing::error!(
                loop_name = %name,
                error = %Shown(&error),
                hook_error = %Shown(&hook_error),
                "the error hook failed"
            );
        }
    }

    /// `restart`.
    pub(crate) fn restart(&self, args: A) {
        let (waker, unused) = self.lock().request_restart(args);
        drop(unused);
        wake(waker);
    }

    /// `change_interval`, with a schedule already validated; in a cluster's
    /// claim mode it is laid on the cluster's grid.
    pub(crate) fn reschedule(&self, schedule: Schedule) -> Result<(), ConfigError> {
        let schedule = self.lock().in_cluster(schedule)?;
        let now = if schedule.is_wall_clock() {
            self.now_in_caller()
        } else {
            None
        };
        let waker = self.lock().reschedule(schedule, now);
        wake(waker);
        Ok(())
    }

    /// `join_cluster`.
    pub(crate) fn join_cluster(&self, cluster: Cluster) -> Result<(), ConfigError> {
        let left = self.lock().join_cluster(cluster)?;
        drop(left);
        Ok(())
    }

    /// Whether a run is in progress, or (leader mode) the replica takes
    /// part in the cluster's loop.
    pub(crate) fn is_running(&self) -> bool {
        let state = self.lock();
        state.running() || state.participation().is_some()
    }

    /// Whether the run's task, waiting, is interrupted (see
    /// [`State::poll_interrupt`]).
    pub(crate) fn poll_interrupt(
        &self,
        waker: &Waker,
        watch_reschedule: bool,
        watch_shutdown: bool,
    ) -> Option<Interrupt> {
        self.lock()
            .poll_interrupt(waker, watch_reschedule, watch_shutdown)
    }
}

/// Wakes the run's task, once the lock is released (so that it does not
/// wake only to wait for the lock).
fn wake(waker: Option<Waker>) {
    if let Some(waker) = waker {
        waker.wake();
    }
}
