//! The control block a loop shares between its handles and its running
//! task: one allocation, holding the state behind a mutex and the body
//! inline. It is kept small on purpose (an idle loop is this block, its
//! task and its run's [`RunSlot`]): options left at their defaults cost a
//! null pointer, and the rarely used ones live in boxes made on first use.

use std::future::Future;
use std::num::NonZeroU64;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Waker};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use tokio::time::Instant;

use crate::backoff::{Backoff, ExponentialBackoff};
use crate::builder::DEFAULT_WALL_CHECK;
use crate::clock::{Clock, SystemClock};
use crate::error::BoxError;
use crate::handle::RunSlot;
use crate::hooks::{BodyOutput, Hooks};
use crate::retry::ErrorFilter;
use crate::schedule::time_of_day::next_instant;
use crate::schedule::{AmbiguousTime, Schedule};

/// Makes the backoff of a run.
pub(crate) type BackoffFactory = Arc<dyn Fn() -> Box<dyn Backoff> + Send + Sync>;

/// How a times-of-day loop watches the wall clock.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct WallOptions {
    /// The longest single sleep before the wall clock is read again.
    pub(crate) check_every: Duration,
    /// How late a time of day that a clock jump or a suspend passed over
    /// may still run; `None` skips it.
    pub(crate) grace: Option<Duration>,
    pub(crate) ambiguous: AmbiguousTime,
}

impl Default for WallOptions {
    fn default() -> Self {
        Self {
            check_every: DEFAULT_WALL_CHECK,
            grace: None,
            ambiguous: AmbiguousTime::Later,
        }
    }
}

/// What a loop was built with and never changes, when it is not the
/// default.
pub(crate) struct Settings {
    pub(crate) name: Option<Box<str>>,
    pub(crate) clock: Option<Arc<dyn Clock>>,
    pub(crate) wall: WallOptions,
}

/// The part of a loop that does not depend on its body's type.
pub(crate) struct Core<A> {
    state: Mutex<State<A>>,
    /// `None` when every setting is the default.
    settings: Option<Box<Settings>>,
}

/// A loop: its [`Core`] and its body, in one allocation.
pub(crate) struct Shared<A, F> {
    pub(crate) core: Core<A>,
    pub(crate) body: F,
}

/// What a [`Loop`](crate::Loop) needs of its [`Shared`], whatever the
/// body's type.
pub(crate) trait Runner<A>: Send + Sync {
    fn core(&self) -> &Core<A>;

    /// The name given at build time, or the body's type name.
    fn name(&self) -> &str;

    /// Spawns the task of one run on `runtime`; the run is already marked
    /// as started in the state.
    fn spawn_run(self: Arc<Self>, args: A, runtime: &tokio::runtime::Handle);

    /// Calls the body once, outside the loop.
    fn call(&self, args: A) -> BoxFuture<'static, Result<(), BoxError>>;
}

impl<A, F, Fut> Runner<A> for Shared<A, F>
where
    A: Clone + Send + 'static,
    F: Fn(A) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: BodyOutput,
{
    fn core(&self) -> &Core<A> {
        &self.core
    }

    fn name(&self) -> &str {
        self.name()
    }

    fn spawn_run(self: Arc<Self>, args: A, runtime: &tokio::runtime::Handle) {
        // No span around the task: every event the run logs names its loop,
        // and a span would grow every idle loop's task.
        runtime.spawn(crate::run::run_task(self, args));
    }

    fn call(&self, args: A) -> BoxFuture<'static, Result<(), BoxError>> {
        let run = (self.body)(args);
        Box::pin(async move { run.await.into_result() })
    }
}

impl<A, F> Shared<A, F> {
    pub(crate) fn name(&self) -> &str {
        match self.core.settings.as_ref().and_then(|s| s.name.as_deref()) {
            Some(name) => name,
            None => std::any::type_name::<F>(),
        }
    }
}

/// A scheduled iteration, on both clocks: relative intervals sleep on the
/// monotonic one, times of day on the wall clock. The wall-clock part is
/// kept in nanoseconds since the Unix epoch (years 1678 to 2261), which
/// keeps a slot at 24 bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Slot {
    wall_nanos: i64,
    pub(crate) mono: Instant,
}

impl Slot {
    pub(crate) fn new(wall: DateTime<Utc>, mono: Instant) -> Self {
        let wall_nanos = wall
            .timestamp_nanos_opt()
            .unwrap_or(if wall.timestamp() < 0 {
                i64::MIN
            } else {
                i64::MAX
            });
        Self { wall_nanos, mono }
    }

    pub(crate) fn wall(self) -> DateTime<Utc> {
        DateTime::from_timestamp_nanos(self.wall_nanos)
    }

    pub(crate) fn now(clock: &dyn Clock) -> Self {
        Self::new(clock.now(), Instant::now())
    }

    /// The slot at a wall-clock instant, with its monotonic counterpart.
    pub(crate) fn at_wall(clock: &dyn Clock, wall: DateTime<Utc>) -> Self {
        let now = clock.now();
        let mono_now = Instant::now();
        let ahead = wall - now;
        let mono = match ahead.to_std() {
            Ok(ahead) => mono_now + ahead,
            Err(_) => {
                let behind = (-ahead).to_std().unwrap_or_default();
                mono_now.checked_sub(behind).unwrap_or(mono_now)
            }
        };
        Self::new(wall, mono)
    }

    pub(crate) fn plus(self, period: Duration) -> Self {
        let nanos = i64::try_from(period.as_nanos()).unwrap_or(i64::MAX);
        Self {
            wall_nanos: self.wall_nanos.saturating_add(nanos),
            mono: self.mono + period,
        }
    }
}

/// The mutable state of a loop.
pub(crate) struct State<A> {
    pub(crate) schedule: Schedule,
    pub(crate) count: Option<NonZeroU64>,
    pub(crate) current_loop: u64,
    pub(crate) last: Option<Slot>,
    pub(crate) next: Option<Slot>,
    /// Hooks, a changed error filter or backoff, the current run's backoff:
    /// `None` until one is set.
    pub(crate) extras: Option<Box<Extras>>,
    /// The newest run, finished or not (`get_task()`).
    pub(crate) latest: Option<Arc<RunSlot>>,
    /// The running task's waker, for `cancel`, `restart` and
    /// `change_interval` to wake it.
    pub(crate) waker: Option<Waker>,
    /// The arguments of a pending `restart`.
    pub(crate) restart_with: Option<A>,
    pub(crate) reconnect: bool,
    /// From `start` until the run's `after_loop` has returned.
    pub(crate) running: bool,
    pub(crate) stop_requested: bool,
    pub(crate) cancel_requested: bool,
    /// The next slot moved since the task last read it.
    pub(crate) rescheduled: bool,
    pub(crate) being_cancelled: bool,
    pub(crate) failed: bool,
}

/// The state that most loops never need.
#[derive(Default)]
pub(crate) struct Extras {
    pub(crate) hooks: Hooks,
    pub(crate) filter: ErrorFilter,
    /// `None`: discord.py's exponential backoff.
    pub(crate) make_backoff: Option<BackoffFactory>,
    /// The current run's backoff, made at its first retried error.
    pub(crate) backoff: Option<Box<dyn Backoff>>,
}

static DEFAULT_FILTER: LazyLock<ErrorFilter> = LazyLock::new(ErrorFilter::default);
static SYSTEM_CLOCK: SystemClock = SystemClock;

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

    /// Marks the run as ended and clears what belonged to it; returns the
    /// arguments of a pending `restart` and the run's outcome slot.
    pub(crate) fn end_run(&mut self) -> (Option<A>, Option<Arc<RunSlot>>) {
        self.running = false;
        self.next = None;
        self.current_loop = 0;
        self.stop_requested = false;
        self.cancel_requested = false;
        self.rescheduled = false;
        self.being_cancelled = false;
        // The waker holds the task's allocation: let it go with the task.
        self.waker = None;
        if let Some(extras) = &mut self.extras {
            extras.backoff = None;
        }
        (self.restart_with.take(), self.latest.clone())
    }

    pub(crate) fn extras_mut(&mut self) -> &mut Extras {
        self.extras.get_or_insert_with(Box::default)
    }

    pub(crate) fn hooks(&self) -> Option<&Hooks> {
        self.extras.as_ref().map(|extras| &extras.hooks)
    }

    pub(crate) fn filter(&self) -> &ErrorFilter {
        match &self.extras {
            Some(extras) => &extras.filter,
            None => &DEFAULT_FILTER,
        }
    }

    /// The current run's backoff, taken out so that it is called without the
    /// lock held; give it back with [`put_backoff`](Self::put_backoff).
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

    /// The iteration after `last` under the current schedule: `last +
    /// interval`, or the first listed time at or after now and after `last`.
    /// The wall clock and its options are only read for times of day.
    pub(crate) fn following(&self, last: Option<Slot>, core: &Core<A>) -> Option<Slot> {
        match &self.schedule {
            Schedule::Relative { .. } => last.map(|slot| slot.plus(self.schedule.period())),
            Schedule::Times(times) => {
                let clock = core.clock();
                let ambiguous = core.wall().ambiguous;
                next_instant(times, clock.now(), last.map(Slot::wall), ambiguous)
                    .map(|wall| Slot::at_wall(clock, wall))
            }
        }
    }
}

/// Wakes the run's task, if it waits, once the lock is released (so that it
/// does not wake only to wait for the lock).
pub(crate) fn wake_task<A>(mut state: MutexGuard<'_, State<A>>) {
    let waker = state.waker.take();
    drop(state);
    if let Some(waker) = waker {
        waker.wake();
    }
}

/// The default backoff, discord.py's.
pub(crate) fn default_backoff() -> Box<dyn Backoff> {
    Box::new(ExponentialBackoff::default())
}

impl<A> Core<A> {
    pub(crate) fn new(state: State<A>, settings: Option<Box<Settings>>) -> Self {
        Self {
            state: Mutex::new(state),
            settings,
        }
    }

    /// Locks the state. A panic never happens while it is held, but if one
    /// did, the state is still consistent field by field: carry on.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State<A>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn clock(&self) -> &dyn Clock {
        match self.settings.as_ref().and_then(|s| s.clock.as_deref()) {
            Some(clock) => clock,
            None => &SYSTEM_CLOCK,
        }
    }

    pub(crate) fn wall(&self) -> WallOptions {
        self.settings
            .as_ref()
            .map_or_else(WallOptions::default, |s| s.wall)
    }

    /// Whether the run was cancelled; if not, the task's waker is kept so
    /// that a cancel (or, with `rescheduled`, a moved slot) wakes it.
    /// Returns the interruption, if any.
    pub(crate) fn poll_interrupt(
        &self,
        cx: &mut Context<'_>,
        watch_reschedule: bool,
    ) -> Option<Interrupt> {
        let mut state = self.lock();
        if state.cancel_requested {
            return Some(Interrupt::Cancelled);
        }
        if watch_reschedule && state.rescheduled {
            state.rescheduled = false;
            return Some(Interrupt::Rescheduled);
        }
        match &state.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => state.waker = Some(cx.waker().clone()),
        }
        None
    }
}

/// Why a wait of the run's task ended early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Interrupt {
    /// `cancel` or `restart`.
    Cancelled,
    /// `change_interval` moved the next slot.
    Rescheduled,
}
