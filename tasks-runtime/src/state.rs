//! The state a loop shares between its handle(s) and its running task.

use std::borrow::Cow;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::time::Instant;

use crate::backoff::Backoff;
use crate::body::Body;
use crate::clock::Clock;
use crate::handle::{RunHandle, RunSlot};
use crate::hooks::Hooks;
use crate::retry::ErrorFilter;
use crate::schedule::time_of_day::next_instant;
use crate::schedule::{AmbiguousTime, Schedule};
use crate::signal::Signal;

/// Makes the backoff of a run.
pub(crate) type BackoffFactory = Arc<dyn Fn() -> Box<dyn Backoff> + Send + Sync>;

/// How a times-of-day loop watches the wall clock.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WallOptions {
    /// The longest single sleep before the wall clock is read again.
    pub(crate) check_every: Duration,
    /// How late a time of day that a clock jump or a suspend passed over
    /// may still run; `None` skips it.
    pub(crate) grace: Option<Duration>,
    pub(crate) ambiguous: AmbiguousTime,
}

/// Everything a loop is, behind one `Arc`.
pub(crate) struct Shared<A> {
    /// Borrowed when it is the body's type name: no allocation per loop.
    pub(crate) name: Cow<'static, str>,
    pub(crate) body: Arc<dyn Body<A>>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) wall: WallOptions,
    pub(crate) state: Mutex<State<A>>,
    /// Woken when the next iteration moves, so a pending sleep re-arms.
    pub(crate) rescheduled: Signal,
}

/// A scheduled iteration, on both clocks: relative intervals sleep on the
/// monotonic one, times of day on the wall clock.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Slot {
    pub(crate) wall: DateTime<Utc>,
    pub(crate) mono: Instant,
}

impl Slot {
    pub(crate) fn now(clock: &dyn Clock) -> Self {
        Self {
            wall: clock.now(),
            mono: Instant::now(),
        }
    }

    /// The slot at a wall-clock instant, with its monotonic counterpart.
    pub(crate) fn at_wall(clock: &dyn Clock, wall: DateTime<Utc>) -> Self {
        let now = Self::now(clock);
        let ahead = wall - now.wall;
        let mono = match ahead.to_std() {
            Ok(ahead) => now.mono + ahead,
            Err(_) => {
                let behind = (-ahead).to_std().unwrap_or_default();
                now.mono.checked_sub(behind).unwrap_or(now.mono)
            }
        };
        Self { wall, mono }
    }

    pub(crate) fn plus(self, period: Duration) -> Self {
        Self {
            wall: self.wall + TimeDelta::from_std(period).unwrap_or(TimeDelta::MAX),
            mono: self.mono + period,
        }
    }
}

/// The mutable state of a loop.
pub(crate) struct State<A> {
    pub(crate) schedule: Schedule,
    pub(crate) count: Option<u64>,
    pub(crate) reconnect: bool,
    pub(crate) backoff: BackoffFactory,
    pub(crate) filter: ErrorFilter,
    pub(crate) hooks: Hooks,
    /// `Some` from `start` until the run's `after_loop` has returned.
    pub(crate) run: Option<Run<A>>,
    /// The newest run, finished or not (`get_task()`).
    pub(crate) latest: Option<RunHandle>,
    pub(crate) current_loop: u64,
    pub(crate) last: Option<Slot>,
    pub(crate) next: Option<Slot>,
    pub(crate) stop_requested: bool,
    pub(crate) being_cancelled: bool,
    pub(crate) failed: bool,
}

/// One run in progress.
pub(crate) struct Run<A> {
    pub(crate) slot: Arc<RunSlot>,
    pub(crate) restart_with: Option<A>,
}

impl<A> State<A> {
    pub(crate) fn new(
        schedule: Schedule,
        count: Option<u64>,
        reconnect: bool,
        backoff: BackoffFactory,
    ) -> Self {
        Self {
            schedule,
            count,
            reconnect,
            backoff,
            filter: ErrorFilter::default(),
            hooks: Hooks::default(),
            run: None,
            latest: None,
            current_loop: 0,
            last: None,
            next: None,
            stop_requested: false,
            being_cancelled: false,
            failed: false,
        }
    }

    /// The iteration after `last` under the current schedule: `last +
    /// interval`, or the first listed time at or after now and after `last`.
    pub(crate) fn following(
        &self,
        last: Option<Slot>,
        clock: &dyn Clock,
        ambiguous: AmbiguousTime,
    ) -> Option<Slot> {
        match &self.schedule {
            Schedule::Relative { period, .. } => last.map(|slot| slot.plus(*period)),
            Schedule::Times(times) => {
                next_instant(times, clock.now(), last.map(|slot| slot.wall), ambiguous)
                    .map(|wall| Slot::at_wall(clock, wall))
            }
        }
    }
}

impl<A> Shared<A> {
    /// Locks the state. A panic never happens while it is held, but if one
    /// did, the state is still consistent field by field: carry on.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State<A>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
