//! The [`Loop`] handle, the public face of a loop: its documentation, and
//! one delegation per method to the state (`state/`) or the run (`run/`).

use std::any::TypeId;
use std::error::Error as StdError;
use std::future::Future;
use std::sync::Arc;

use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use tokio::time::MissedTickBehavior;

use crate::clock::{Clock, SystemClock};
use crate::cluster::{Cluster, Fence};
use crate::error::{BoxError, ConfigError, LoopError, StartError};
use crate::handle::RunHandle;
use crate::hooks::{error_hook, plain_hook, BodyOutput};
use crate::observe::status_of;
use crate::retry::RetriedType;
use crate::run::{self, Runner};
use crate::schedule::{AmbiguousTime, Cron, Every, Interval, TimeOfDay};
use crate::state::{BackoffFactory, Core};
use crate::status::LoopStatus;

/// A background task loop: the port of discord.py's `tasks.Loop`.
///
/// A `Loop<A>` runs an async body on a schedule (a relative interval, or
/// times of day in any time zone), with hooks around it and a retry policy
/// for errors. `A` is the body's argument, given at [`start`](Loop::start)
/// and cloned for every call (use a tuple for several, `()` for none).
///
/// The loop is a cheap handle (`Clone`, `Send`, `Sync`): clones control the
/// same loop, from any task, including the body itself.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::sync::Arc;
/// use tasks_runtime::{Loop, RunOutcome};
///
/// let sent = Arc::new(AtomicU32::new(0));
/// let announce = Loop::builder(|sent: Arc<AtomicU32>| async move {
///     sent.fetch_add(1, Ordering::SeqCst);
///     Ok::<(), std::io::Error>(())
/// })
/// .hours(1.0)
/// .count(2)
/// .build()
/// .unwrap();
///
/// announce.after_loop(|| async { println!("done") });
/// let run = announce.start(Arc::clone(&sent)).unwrap();
/// assert_eq!(run.await, RunOutcome::Completed);
/// assert_eq!(sent.load(Ordering::SeqCst), 2);
/// # }
/// ```
///
/// # Where it differs from discord.py
///
/// It keeps discord.py's behaviour (relative intervals anchored to the
/// schedule with catch-up after an overrun, one more iteration after a
/// `stop` during a sleep, a trailing sleep after the last counted
/// iteration, `current_loop` reset only after `after_loop`) and fixes its
/// quirks, each listed with its reason in the repository's
/// `docs/differences-from-discord-py.md`.
pub struct Loop<A = ()> {
    inner: Arc<dyn Runner<A>>,
}

impl<A> Clone for Loop<A> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<A> std::fmt::Debug for Loop<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.core().lock();
        f.debug_struct("Loop")
            .field("name", &self.inner.name())
            .field("schedule", state.schedule())
            .field("count", &state.count())
            .field("running", &state.running())
            .field("current_loop", &state.current_loop())
            .finish_non_exhaustive()
    }
}

impl<A: Clone + Send + 'static> Loop<A> {
    /// Starts the loop in the background on the current tokio runtime, with
    /// `args` for every call of the body.
    ///
    /// `failed()` is reset.
    ///
    /// The run lives in a task of that runtime. If the runtime shuts down
    /// first, the run ends there, as
    /// [`RunOutcome::Cancelled`](crate::RunOutcome::Cancelled) but without
    /// `after_loop` (no runtime is left to run it) or a pending `restart`,
    /// and the loop can be started again on another runtime: a loop in a
    /// `static` can be used by one `#[tokio::test]` after another.
    ///
    /// # Errors
    ///
    /// [`StartError::AlreadyRunning`] while the loop runs (including while its
    /// `after_loop` hook runs, as in discord.py), and
    /// [`StartError::NoRuntime`] outside a tokio runtime.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use tasks_runtime::{Loop, StartError};
    ///
    /// let ticker = Loop::builder(|()| async {}).seconds(1.0).build().unwrap();
    /// let run = ticker.start(()).unwrap();
    /// assert!(ticker.is_running());
    /// assert_eq!(ticker.start(()).unwrap_err(), StartError::AlreadyRunning);
    /// ticker.cancel();
    /// run.await;
    /// assert!(!ticker.is_running());
    /// # }
    /// ```
    pub fn start(&self, args: A) -> Result<RunHandle, StartError> {
        run::start(Arc::clone(&self.inner), args)
    }

    /// Cancels the loop, then starts it again with `args` once the old run
    /// (its `after_loop` included) has finished. Does nothing when the loop
    /// is not running, or while a cancellation is already being handled.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use tasks_runtime::Loop;
    ///
    /// let greet = Loop::builder(|who: &'static str| async move { println!("hello {who}") })
    ///     .seconds(1.0)
    ///     .build()
    ///     .unwrap();
    /// greet.restart("nobody");
    /// assert!(!greet.is_running(), "restart does not start an idle loop");
    /// greet.start("world").unwrap();
    /// greet.restart("again");
    /// tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    /// assert!(greet.is_running());
    /// greet.cancel();
    /// # }
    /// ```
    pub fn restart(&self, args: A) {
        self.core().restart(args);
    }

    /// Calls the body once, outside the schedule: no hooks, no retries, no
    /// change to the loop's state (discord.py's `Loop.__call__`).
    ///
    /// # Errors
    ///
    /// What the body returns, boxed.
    ///
    /// # Panics
    ///
    /// If the body panics: it runs outside the loop, in the caller's task.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use tasks_runtime::Loop;
    ///
    /// let double = Loop::builder(|n: u32| async move {
    ///     if n > 10 { Err("too big") } else { Ok(()) }
    /// })
    /// .build()
    /// .unwrap();
    /// assert!(double.call(3).await.is_ok());
    /// assert!(double.call(30).await.is_err());
    /// assert!(!double.is_running());
    /// # }
    /// ```
    pub fn call(&self, args: A) -> impl Future<Output = Result<(), BoxError>> + Send + 'static {
        self.inner.call(args)
    }
}

impl<A> Loop<A> {
    /// The loop around a runner, made by the builder.
    pub(crate) fn from_runner(inner: Arc<dyn Runner<A>>) -> Self {
        Self { inner }
    }

    fn core(&self) -> &Core<A> {
        self.inner.core()
    }

    /// Asks the loop to end after the current iteration. Before the first
    /// iteration (in `before_loop`) no iteration runs; during a sleep, one
    /// more iteration runs at its time, as in discord.py. A body that keeps
    /// failing with a retried error never reaches the check: use
    /// [`cancel`](Loop::cancel). Does nothing when the loop is not running.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use tasks_runtime::{Loop, RunOutcome};
    ///
    /// let ticker = Loop::builder(|()| async {}).seconds(1.0).build().unwrap();
    /// let run = ticker.start(()).unwrap();
    /// ticker.stop();
    /// assert_eq!(ticker.next_iteration(), None);
    /// assert_eq!(run.await, RunOutcome::Stopped);
    /// # }
    /// ```
    pub fn stop(&self) {
        if self.is_running() {
            tracing::info!(loop_name = %self.name(), "stop requested");
        }
        self.core().stop();
    }

    /// Cancels the loop now: the body or sleep in progress is dropped, then
    /// `after_loop` runs with [`is_being_cancelled`](Loop::is_being_cancelled)
    /// true. Does nothing when the loop is not running.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use tasks_runtime::{Loop, RunOutcome};
    ///
    /// let ticker = Loop::builder(|()| async {}).seconds(1.0).build().unwrap();
    /// let run = ticker.start(()).unwrap();
    /// ticker.cancel();
    /// assert_eq!(run.await, RunOutcome::Cancelled);
    /// # }
    /// ```
    pub fn cancel(&self) {
        if self.is_running() {
            tracing::info!(loop_name = %self.name(), "cancel requested");
        }
        self.core().cancel();
    }

    /// Shuts the loop down gracefully: no new iteration starts, an
    /// iteration in progress may finish within `grace`, then the run is
    /// cancelled. `after_loop` runs either way
    /// ([`is_being_cancelled`](Loop::is_being_cancelled) is true in it only
    /// when the grace period ran out). The future ends with the run, its
    /// `after_loop` included, and tells whether the run ended gracefully:
    /// `true` at once for a loop that is not running.
    ///
    /// Unlike [`stop`](Loop::stop), a wait between iterations (a sleep, a
    /// retry's backoff, `before_loop`'s end) ends the run at once: no
    /// further iteration runs. A pending `restart` is dropped.
    ///
    /// The grace period bounds the iteration, not `after_loop`, which is
    /// never interrupted: bound the whole future with
    /// [`tokio::time::timeout`] where a hook could hang (a process exiting on
    /// Ctrl-C, say).
    ///
    /// In a cluster's leader mode the replica also leaves: a run it leads
    /// ends as above, the lease is given back, and the future ends once the
    /// replica no longer takes part.
    ///
    /// # Cancel safety
    ///
    /// The shutdown is requested when the future is first polled. Dropped
    /// after that, before it completes, the request stands (the run ends
    /// after its current iteration), but the run is not cancelled when the
    /// grace period would have run out.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use tasks_runtime::{Loop, RunOutcome};
    ///
    /// let sync = Loop::builder(|()| async { tokio::time::sleep(Duration::from_secs(2)).await })
    ///     .seconds(10.0)
    ///     .build()
    ///     .unwrap();
    /// let run = sync.start(()).unwrap();
    /// tokio::time::sleep(Duration::from_secs(1)).await;
    /// // The iteration in progress needs one more second: it gets it.
    /// assert!(sync.shutdown(Duration::from_secs(5)).await);
    /// assert_eq!(run.await, RunOutcome::Stopped);
    /// # }
    /// ```
    pub fn shutdown(&self, grace: Duration) -> impl Future<Output = bool> + Send + 'static
    where
        A: 'static,
    {
        run::shutdown(Arc::clone(&self.inner), grace)
    }

    /// A snapshot of the loop: its name, whether it runs or failed, its
    /// schedule, `current_loop`, the next iteration (in UTC and in the
    /// schedule's zone), the last call of the body (how it ended, its
    /// error, when it started, how late and for how long) and the retries
    /// since the last success.
    ///
    /// The first call turns on the timing of iterations (two reads of the
    /// monotonic clock per iteration, which a loop nobody watches does not
    /// pay): the timings of `last_iteration` are there from the next
    /// iteration on. With the `metrics` feature they always are.
    ///
    /// ```
    /// use tasks_runtime::Loop;
    ///
    /// let idle = Loop::builder(|()| async {}).name("idle").minutes(1.0).build().unwrap();
    /// let status = idle.status();
    /// assert_eq!((status.name.as_str(), status.running), ("idle", false));
    /// assert_eq!(status.schedule, "every 60 s");
    /// assert!(status.last_iteration.is_none());
    /// ```
    pub fn status(&self) -> LoopStatus {
        status_of(self.core(), self.name())
    }

    /// Gives the loop another wall clock (times of day are read from it):
    /// for an attribute loop, which has no builder, a
    /// [`VirtualClock`](crate::testing::VirtualClock) in a test.
    ///
    /// # Errors
    ///
    /// [`StartError::AlreadyRunning`] while the loop runs; the clock is
    /// left as it was.
    ///
    /// ```
    /// use tasks_runtime::testing::VirtualClock;
    /// use tasks_runtime::{Clock, Loop};
    ///
    /// let daily = Loop::builder(|()| async {}).build().unwrap();
    /// let clock = VirtualClock::starting_at("2024-03-30T12:00:00Z".parse().unwrap());
    /// daily.set_clock(clock.clone()).unwrap();
    /// assert_eq!(daily.clock().now().date_naive(), clock.now().date_naive());
    /// ```
    pub fn set_clock(&self, clock: Arc<dyn Clock>) -> Result<(), StartError> {
        let replaced = self.core().lock().set_clock(clock)?;
        drop(replaced);
        Ok(())
    }

    /// The wall clock times of day are read from.
    ///
    /// ```
    /// use tasks_runtime::{Clock, Loop};
    /// let ticker = Loop::builder(|()| async {}).build().unwrap();
    /// assert!((ticker.clock().now() - chrono::Utc::now()).num_seconds().abs() < 5);
    /// ```
    pub fn clock(&self) -> Arc<dyn Clock> {
        match self.core().clock().0 {
            Some(clock) => clock,
            None => Arc::new(SystemClock),
        }
    }

    /// Which instant a time of day that happens twice runs at (the
    /// builder's [`ambiguous_time`](crate::LoopBuilder::ambiguous_time)).
    ///
    /// ```
    /// use tasks_runtime::{AmbiguousTime, Loop};
    /// let ticker = Loop::builder(|()| async {}).build().unwrap();
    /// assert_eq!(ticker.ambiguous_time(), AmbiguousTime::Later);
    /// ```
    pub fn ambiguous_time(&self) -> AmbiguousTime {
        self.core().lock().wall_options().ambiguous
    }

    /// Changes which instant a time of day that happens twice runs at,
    /// from the next instant the loop works out on.
    ///
    /// ```
    /// use tasks_runtime::{AmbiguousTime, Loop};
    /// let ticker = Loop::builder(|()| async {}).build().unwrap();
    /// ticker.set_ambiguous_time(AmbiguousTime::Earlier);
    /// assert_eq!(ticker.ambiguous_time(), AmbiguousTime::Earlier);
    /// ```
    pub fn set_ambiguous_time(&self, choice: AmbiguousTime) {
        self.core()
            .change_settings(|settings| settings.set_ambiguous_time(choice));
    }

    /// How late a time of day that a clock jump passed over may still run
    /// (the builder's [`grace_period`](crate::LoopBuilder::grace_period));
    /// `None`: skipped.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tasks_runtime::Loop;
    /// let ticker = Loop::builder(|()| async {}).grace_period(Duration::from_secs(60)).build().unwrap();
    /// assert_eq!(ticker.grace_period(), Some(Duration::from_secs(60)));
    /// ```
    pub fn grace_period(&self) -> Option<Duration> {
        self.core().lock().wall_options().grace
    }

    /// Changes how late a time of day that a clock jump passed over may
    /// still run (`None`: skipped), read when the loop notices a jump.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tasks_runtime::Loop;
    /// let ticker = Loop::builder(|()| async {}).build().unwrap();
    /// ticker.set_grace_period(Some(Duration::from_secs(600)));
    /// assert_eq!(ticker.grace_period(), Some(Duration::from_secs(600)));
    /// ```
    pub fn set_grace_period(&self, grace: Option<Duration>) {
        self.core()
            .change_settings(|settings| settings.set_grace_period(grace));
    }

    /// The longest a times-of-day loop sleeps before reading the wall clock
    /// again (the builder's
    /// [`wall_clock_check`](crate::LoopBuilder::wall_clock_check)).
    ///
    /// ```
    /// use tasks_runtime::{Loop, DEFAULT_WALL_CHECK};
    /// let ticker = Loop::builder(|()| async {}).build().unwrap();
    /// assert_eq!(ticker.wall_clock_check(), DEFAULT_WALL_CHECK);
    /// ```
    pub fn wall_clock_check(&self) -> Duration {
        self.core().lock().wall_options().check_every
    }

    /// Changes the longest sleep before the wall clock is read again, from
    /// the next such sleep on.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroDuration`] for zero; left as it was.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tasks_runtime::Loop;
    /// let ticker = Loop::builder(|()| async {}).build().unwrap();
    /// ticker.set_wall_clock_check(Duration::from_secs(5)).unwrap();
    /// assert!(ticker.set_wall_clock_check(Duration::ZERO).is_err());
    /// assert_eq!(ticker.wall_clock_check(), Duration::from_secs(5));
    /// ```
    pub fn set_wall_clock_check(&self, every: Duration) -> Result<(), ConfigError> {
        self.core()
            .change_settings(|settings| settings.set_wall_clock_check(every))
    }

    /// What a relative interval does about missed iterations; see
    /// [`LoopBuilder::missed`](crate::LoopBuilder::missed).
    ///
    /// ```
    /// use tasks_runtime::{Loop, MissedTickBehavior};
    /// let ticker = Loop::builder(|()| async {}).build().unwrap();
    /// assert_eq!(ticker.missed(), MissedTickBehavior::Burst);
    /// ```
    pub fn missed(&self) -> MissedTickBehavior {
        self.core().lock().missed()
    }

    /// Changes the missed-iteration policy, read after each iteration.
    ///
    /// ```
    /// use tasks_runtime::{Loop, MissedTickBehavior};
    /// let ticker = Loop::builder(|()| async {}).build().unwrap();
    /// ticker.set_missed(MissedTickBehavior::Delay);
    /// assert_eq!(ticker.missed(), MissedTickBehavior::Delay);
    /// ```
    pub fn set_missed(&self, missed: MissedTickBehavior) {
        self.core()
            .change_settings(|settings| settings.set_missed(missed));
    }

    /// How long a call of the body may run; `None`: as long as it takes.
    ///
    /// ```
    /// use tasks_runtime::Loop;
    /// assert_eq!(Loop::builder(|()| async {}).build().unwrap().timeout(), None);
    /// ```
    pub fn timeout(&self) -> Option<Duration> {
        self.core().lock().iteration_settings().timeout
    }

    /// Changes the timeout, read as each call of the body begins; see
    /// [`LoopBuilder::timeout`](crate::LoopBuilder::timeout).
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroDuration`] for zero, [`ConfigError::DurationTooLong`]
    /// beyond 100 years; the timeout is left as it was.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tasks_runtime::Loop;
    /// let fetch = Loop::builder(|()| async {}).build().unwrap();
    /// fetch.set_timeout(Some(Duration::from_secs(10))).unwrap();
    /// assert!(fetch.set_timeout(Some(Duration::ZERO)).is_err());
    /// assert_eq!(fetch.timeout(), Some(Duration::from_secs(10)));
    /// ```
    pub fn set_timeout(&self, timeout: Option<Duration>) -> Result<(), ConfigError> {
        self.core()
            .change_settings(|settings| settings.set_timeout(timeout))
    }

    /// The longest extra delay of each wait; `None` without jitter.
    ///
    /// ```
    /// use tasks_runtime::Loop;
    /// assert_eq!(Loop::builder(|()| async {}).build().unwrap().jitter(), None);
    /// ```
    pub fn jitter(&self) -> Option<Duration> {
        self.core().lock().jitter()
    }

    /// Changes the jitter, from the next wait on; `None` removes it. See
    /// [`LoopBuilder::jitter`](crate::LoopBuilder::jitter).
    ///
    /// # Errors
    ///
    /// [`ConfigError::DurationTooLong`] beyond 100 years; the jitter is
    /// left as it was.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tasks_runtime::Loop;
    /// let ticker = Loop::builder(|()| async {}).build().unwrap();
    /// ticker.set_jitter(Some(Duration::from_secs(3))).unwrap();
    /// assert_eq!(ticker.jitter(), Some(Duration::from_secs(3)));
    /// ```
    pub fn set_jitter(&self, jitter: Option<Duration>) -> Result<(), ConfigError> {
        self.core()
            .change_settings(|settings| settings.set_jitter(jitter))
    }

    /// Seeds the jitter's random source, so that its delays repeat in a
    /// test (the builder's [`jitter_seed`](crate::LoopBuilder::jitter_seed)).
    /// A loop without jitter keeps the seed for the jitter set next.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tasks_runtime::Loop;
    ///
    /// let ticker = Loop::builder(|()| async {}).build().unwrap();
    /// ticker.set_jitter_seed(7);
    /// assert_eq!(ticker.jitter(), None, "a seed alone is no jitter");
    /// ticker.set_jitter(Some(Duration::from_secs(3))).unwrap();
    /// assert_eq!(ticker.jitter(), Some(Duration::from_secs(3)));
    /// ```
    pub fn set_jitter_seed(&self, seed: u64) {
        self.core()
            .change_settings(|settings| settings.set_jitter_seed(seed));
    }

    /// Replaces the retry delay policy; `make` is called once per run, at
    /// its first retried error, so the change applies to every run that has
    /// not retried yet.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tasks_runtime::{FixedBackoff, Loop};
    ///
    /// let poll = Loop::builder(|()| async {}).build().unwrap();
    /// poll.set_backoff(|| FixedBackoff::new(Duration::from_millis(200)));
    /// ```
    pub fn set_backoff<B, M>(&self, make: M)
    where
        B: crate::backoff::Backoff,
        M: Fn() -> B + Send + Sync + 'static,
    {
        let make: BackoffFactory = Arc::new(move || Box::new(make()));
        self.core()
            .change_settings(|settings| settings.set_backoff(Some(make)));
    }

    /// Changes the schedule. While running, the next iteration moves at
    /// once: for a relative interval to the last scheduled iteration plus
    /// the new interval (as in discord.py), for times of day or a cron
    /// expression to their first instant from now. Called from the body, it decides the sleep
    /// that follows.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] for an invalid interval (negative, not finite, longer
    /// than 100 years, an empty list of times); the loop is left as it was.
    ///
    /// ```
    /// use tasks_runtime::{ConfigError, Interval, Loop};
    ///
    /// let monitor = Loop::builder(|()| async {}).seconds(10.0).build().unwrap();
    /// monitor.change_interval(Interval::seconds(2.0)).unwrap();
    /// assert_eq!(monitor.seconds(), Some(2.0));
    /// assert!(matches!(
    ///     monitor.change_interval(Interval::seconds(f64::NAN)),
    ///     Err(ConfigError::NonFiniteInterval { .. })
    /// ));
    /// assert_eq!(monitor.seconds(), Some(2.0));
    /// ```
    pub fn change_interval(&self, interval: Interval) -> Result<(), ConfigError> {
        self.core().reschedule(interval.validate()?)
    }

    /// Registers the hook awaited before the first iteration of each run.
    /// Calling [`stop`](Loop::stop) in it means no iteration runs. If it
    /// fails, the run fails (the `error` hook, then `after_loop`).
    ///
    /// ```
    /// use tasks_runtime::Loop;
    ///
    /// let ticker = Loop::builder(|()| async {}).build().unwrap();
    /// ticker
    ///     .before_loop(|| async { println!("waiting until ready") })
    ///     .after_loop(|| async { println!("cleaning up") });
    /// ```
    pub fn before_loop<F, Fut>(&self, hook: F) -> &Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: BodyOutput,
    {
        let hook = plain_hook(hook);
        self.core()
            .change_hooks(|hooks| hooks.set_before_loop(hook));
        self
    }

    /// Registers the hook awaited when a run ends, whatever ended it: count,
    /// stop, cancel or failure. Inside it,
    /// [`is_being_cancelled`](Loop::is_being_cancelled) tells a cancel,
    /// [`failed`](Loop::failed) a failure, and
    /// [`current_loop`](Loop::current_loop) the iterations done. If it fails
    /// or panics, that is logged and the loop stays restartable.
    ///
    /// ```
    /// use tasks_runtime::Loop;
    ///
    /// let ticker = Loop::builder(|()| async {}).count(1).build().unwrap();
    /// let handle = ticker.clone();
    /// ticker.after_loop(move || {
    ///     let handle = handle.clone();
    ///     async move { println!("ran {} times", handle.current_loop()) }
    /// });
    /// ```
    pub fn after_loop<F, Fut>(&self, hook: F) -> &Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: BodyOutput,
    {
        let hook = plain_hook(hook);
        self.core().change_hooks(|hooks| hooks.set_after_loop(hook));
        self
    }

    /// Registers the hook that receives an unhandled error (or a panic)
    /// before the run ends; `failed()` is already true inside it. Without
    /// it, the error is logged with `tracing::error!`.
    ///
    /// ```
    /// use tasks_runtime::{Loop, LoopError};
    ///
    /// let ticker = Loop::builder(|()| async {}).build().unwrap();
    /// ticker.error(|err: LoopError| async move { eprintln!("the loop failed: {err}") });
    /// ```
    pub fn error<F, Fut>(&self, hook: F) -> &Self
    where
        F: Fn(LoopError) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: BodyOutput,
    {
        let hook = error_hook(hook);
        self.core().change_hooks(|hooks| hooks.set_error(hook));
        self
    }

    /// Retries errors of type `T` too: an `Err` whose error, or any error in
    /// its `source()` chain, is a `T` waits for the backoff delay and runs
    /// again, without counting as an iteration.
    ///
    /// The types retried by default are `std::io::Error` and
    /// `tokio::time::error::Elapsed`. Retrying `std::io::Error` also retries
    /// timeouts (tokio turns `Elapsed` into `io::ErrorKind::TimedOut`), as
    /// Python's `TimeoutError` is an `OSError`: removing only `Elapsed`
    /// still retries timeouts, exactly as in discord.py.
    ///
    /// ```
    /// use tasks_runtime::Loop;
    ///
    /// #[derive(Debug, thiserror::Error)]
    /// #[error("rate limited")]
    /// struct RateLimited;
    ///
    /// let poll = Loop::builder(|()| async { Err::<(), _>(RateLimited) }).build().unwrap();
    /// poll.add_exception_type::<RateLimited>();
    /// assert!(poll.exception_types().iter().any(|t| t.ends_with("RateLimited")));
    /// ```
    pub fn add_exception_type<T: StdError + 'static>(&self) -> &Self {
        self.core()
            .change_settings(|settings| settings.retry_mut().add(RetriedType::of::<T>()));
        self
    }

    /// Stops retrying errors of type `T`; whether it was retried before.
    ///
    /// ```
    /// use tasks_runtime::Loop;
    ///
    /// let poll = Loop::builder(|()| async {}).build().unwrap();
    /// assert!(poll.remove_exception_type::<std::io::Error>());
    /// assert!(!poll.remove_exception_type::<std::io::Error>());
    /// ```
    pub fn remove_exception_type<T: StdError + 'static>(&self) -> bool {
        self.core()
            .change_settings(|settings| settings.retry_mut().remove(TypeId::of::<T>()))
    }

    /// Retries no error at all.
    ///
    /// ```
    /// use tasks_runtime::Loop;
    ///
    /// let strict = Loop::builder(|()| async {}).build().unwrap();
    /// strict.clear_exception_types();
    /// assert!(strict.exception_types().is_empty());
    /// ```
    pub fn clear_exception_types(&self) -> &Self {
        self.core()
            .change_settings(|settings| settings.retry_mut().clear());
        self
    }

    /// The names of the retried error types, in the order they were added.
    ///
    /// ```
    /// use tasks_runtime::Loop;
    ///
    /// let poll = Loop::builder(|()| async {}).build().unwrap();
    /// assert_eq!(poll.exception_types(), ["std::io::error::Error", "tokio::time::error::Elapsed"]);
    /// ```
    pub fn exception_types(&self) -> Vec<&'static str> {
        self.core().lock().retry().names()
    }

    /// The loop's name.
    ///
    /// ```
    /// use tasks_runtime::Loop;
    /// let named = Loop::builder(|()| async {}).name("heartbeat").build().unwrap();
    /// assert_eq!(named.name(), "heartbeat");
    /// ```
    pub fn name(&self) -> &str {
        self.inner.name()
    }

    /// The number of successful iterations of the current run. Inside the
    /// k-th body it is k − 1; inside `after_loop` it is the number done; it
    /// is 0 between runs.
    ///
    /// ```
    /// use tasks_runtime::Loop;
    /// let idle = Loop::builder(|()| async {}).build().unwrap();
    /// assert_eq!(idle.current_loop(), 0);
    /// ```
    pub fn current_loop(&self) -> u64 {
        self.core().lock().current_loop()
    }

    /// When the next iteration is scheduled; `None` when the loop is not
    /// running, has been asked to stop or to shut down, has not scheduled
    /// its first iteration yet (in `before_loop`) or has done its last one.
    /// With [`jitter`](crate::LoopBuilder::jitter), the instant includes
    /// the extra delay once it is chosen (as the wait for it begins).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use tasks_runtime::Loop;
    ///
    /// let ticker = Loop::builder(|()| async {}).seconds(60.0).build().unwrap();
    /// assert_eq!(ticker.next_iteration(), None);
    /// ticker.start(()).unwrap();
    /// tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    /// let next = ticker.next_iteration().unwrap();
    /// assert!((next - chrono::Utc::now()).num_seconds() <= 60);
    /// ticker.cancel();
    /// # }
    /// ```
    pub fn next_iteration(&self) -> Option<DateTime<Utc>> {
        self.core().next_iteration()
    }

    /// The instant the iteration in progress was scheduled for (inside the
    /// body), or the last one's; `None` before the first iteration of a run
    /// and between runs. In a cluster's claim mode, this is the slot the
    /// replica claimed.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use tasks_runtime::Loop;
    ///
    /// let ticker = Loop::builder(|()| async {}).seconds(60.0).build().unwrap();
    /// assert_eq!(ticker.current_slot(), None);
    /// ticker.start(()).unwrap();
    /// tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    /// assert!(ticker.current_slot().is_some());
    /// ticker.cancel();
    /// # }
    /// ```
    pub fn current_slot(&self) -> Option<DateTime<Utc>> {
        self.core().lock().last().map(|at| at.wall())
    }

    /// [`next_iteration`](Loop::next_iteration) in the schedule's zone: the
    /// zone of its times of day (the first time's, when they mix zones),
    /// UTC for a relative interval.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use tasks_runtime::{Loop, TimeOfDay};
    ///
    /// let daily = Loop::builder(|()| async {})
    ///     .time(TimeOfDay::parse_in("09:00", "Asia/Seoul").unwrap())
    ///     .build()
    ///     .unwrap();
    /// daily.start(()).unwrap();
    /// tokio::task::yield_now().await;
    /// let local = daily.next_iteration_local().unwrap();
    /// assert_eq!(local.offset().local_minus_utc(), 9 * 3600);
    /// assert_eq!(local.format("%H:%M").to_string(), "09:00");
    /// daily.cancel();
    /// # }
    /// ```
    pub fn next_iteration_local(&self) -> Option<DateTime<FixedOffset>> {
        let next = self.next_iteration()?;
        Some(self.core().lock().schedule().local(next))
    }

    /// Whether a run is in progress, from `start` until its `after_loop` has
    /// returned.
    ///
    /// ```
    /// use tasks_runtime::Loop;
    /// assert!(!Loop::builder(|()| async {}).build().unwrap().is_running());
    /// ```
    pub fn is_running(&self) -> bool {
        self.core().is_running()
    }

    /// Whether the run is ending because of `cancel` or `restart`: true
    /// inside `after_loop` after a cancel.
    ///
    /// ```
    /// use tasks_runtime::Loop;
    /// assert!(!Loop::builder(|()| async {}).build().unwrap().is_being_cancelled());
    /// ```
    pub fn is_being_cancelled(&self) -> bool {
        self.core().lock().being_cancelled()
    }

    /// Whether the last run ended with an unhandled error; reset by `start`.
    ///
    /// ```
    /// use tasks_runtime::Loop;
    /// assert!(!Loop::builder(|()| async {}).build().unwrap().failed());
    /// ```
    pub fn failed(&self) -> bool {
        self.core().lock().failed()
    }

    /// The handle of the newest run, finished or not; `None` before the
    /// first start (discord.py's `get_task()`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use tasks_runtime::{Loop, RunOutcome};
    ///
    /// let once = Loop::builder(|()| async {}).count(1).build().unwrap();
    /// assert!(once.task().is_none());
    /// once.start(()).unwrap();
    /// assert_eq!(once.task().unwrap().await, RunOutcome::Completed);
    /// assert!(once.task().unwrap().is_finished());
    /// # }
    /// ```
    pub fn task(&self) -> Option<RunHandle> {
        self.core().lock().latest().cloned().map(RunHandle::new)
    }

    /// The current schedule.
    ///
    /// ```
    /// use tasks_runtime::{Interval, Loop};
    /// let ticker = Loop::builder(|()| async {}).minutes(5.0).build().unwrap();
    /// assert_eq!(ticker.interval(), Interval::relative(0.0, 5.0, 0.0));
    /// ```
    pub fn interval(&self) -> Interval {
        self.core().lock().schedule().interval()
    }

    /// The seconds component of a relative interval; `None` with times of
    /// day.
    ///
    /// ```
    /// use tasks_runtime::Loop;
    /// let ticker = Loop::builder(|()| async {}).seconds(5.0).build().unwrap();
    /// assert_eq!((ticker.seconds(), ticker.minutes(), ticker.hours()), (Some(5.0), Some(0.0), Some(0.0)));
    /// ```
    pub fn seconds(&self) -> Option<f64> {
        self.relative().map(|every| every.seconds)
    }

    /// The minutes component of a relative interval; `None` with times of
    /// day.
    ///
    /// ```
    /// use tasks_runtime::Loop;
    /// assert_eq!(Loop::builder(|()| async {}).minutes(2.0).build().unwrap().minutes(), Some(2.0));
    /// ```
    pub fn minutes(&self) -> Option<f64> {
        self.relative().map(|every| every.minutes)
    }

    /// The hours component of a relative interval; `None` with times of day.
    ///
    /// ```
    /// use tasks_runtime::Loop;
    /// assert_eq!(Loop::builder(|()| async {}).hours(1.5).build().unwrap().hours(), Some(1.5));
    /// ```
    pub fn hours(&self) -> Option<f64> {
        self.relative().map(|every| every.hours)
    }

    /// The times of day, sorted, without duplicates; `None` with a relative
    /// interval. The list is a copy.
    ///
    /// ```
    /// use tasks_runtime::{Loop, TimeOfDay};
    ///
    /// let t = |s| TimeOfDay::parse(s).unwrap();
    /// let daily = Loop::builder(|()| async {}).times([t("03:00"), t("01:00"), t("03:00")]).build().unwrap();
    /// assert_eq!(daily.time().unwrap(), [t("01:00"), t("03:00")]);
    /// ```
    pub fn time(&self) -> Option<Vec<TimeOfDay>> {
        match self.interval() {
            Interval::Times(times) => Some(times),
            _ => None,
        }
    }

    /// The cron schedule; `None` with a relative interval or times of day.
    /// The schedule is a copy.
    ///
    /// ```
    /// use tasks_runtime::{Cron, Interval, Loop};
    ///
    /// let report = Loop::builder(|()| async {}).hours(1.0).build().unwrap();
    /// assert_eq!(report.cron(), None);
    /// let month_end = Cron::parse_in("0 18 L * *", "Europe/Paris").unwrap();
    /// report.change_interval(Interval::Cron(month_end.clone())).unwrap();
    /// assert_eq!(report.cron(), Some(month_end));
    /// assert_eq!(report.hours(), None);
    /// ```
    pub fn cron(&self) -> Option<Cron> {
        match self.interval() {
            Interval::Cron(cron) => Some(cron),
            _ => None,
        }
    }

    /// The number of iterations a run does; `None` when endless.
    ///
    /// ```
    /// use tasks_runtime::Loop;
    /// assert_eq!(Loop::builder(|()| async {}).count(3).build().unwrap().count(), Some(3));
    /// ```
    pub fn count(&self) -> Option<u64> {
        self.core().lock().count().map(u64::from)
    }

    /// Changes the count, read after each iteration.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroCount`] for `Some(0)`; the count is left as it was.
    ///
    /// ```
    /// use tasks_runtime::Loop;
    /// let ticker = Loop::builder(|()| async {}).build().unwrap();
    /// ticker.set_count(Some(5)).unwrap();
    /// assert!(ticker.set_count(Some(0)).is_err());
    /// assert_eq!(ticker.count(), Some(5));
    /// ```
    pub fn set_count(&self, count: Option<u64>) -> Result<(), ConfigError> {
        self.core().lock().set_count(count)
    }

    /// Joins a cluster of replicas before the loop starts: in claim mode
    /// each scheduled slot then runs on the one replica that claims it, in
    /// leader mode the replica holding the lease runs the loop. This is how
    /// a loop made by the attribute joins one at start-up. See
    /// [`cluster`](crate::cluster).
    ///
    /// # Errors
    ///
    /// [`ConfigError::Refused`] with [`StartError::AlreadyRunning`] while
    /// the loop runs (the cluster is left as it was);
    /// [`ConfigError::StoreDeadlineTooLong`] or
    /// [`ConfigError::ZeroDuration`] for a store deadline the lease does not
    /// allow; in claim mode,
    /// [`ConfigError::CountInClaimMode`] for a loop with a count and
    /// [`ConfigError::ZeroIntervalInClaimMode`] for a zero interval.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tasks_runtime::cluster::{Cluster, MemoryStore};
    /// use tasks_runtime::Loop;
    ///
    /// let cleanup = Loop::builder(|()| async {}).hours(24.0).build().unwrap();
    /// cleanup.join_cluster(Cluster::claim(Arc::new(MemoryStore::new()))).unwrap();
    /// assert!(cleanup.cluster().is_some());
    /// ```
    pub fn join_cluster(&self, cluster: Cluster) -> Result<(), ConfigError> {
        self.core().join_cluster(cluster)
    }

    /// The cluster the loop joined, if any.
    ///
    /// ```
    /// use tasks_runtime::Loop;
    /// assert!(Loop::builder(|()| async {}).build().unwrap().cluster().is_none());
    /// ```
    pub fn cluster(&self) -> Option<Cluster> {
        self.core().lock().cluster_config().cloned()
    }

    /// The fencing token of the current iteration (claim mode) or of the
    /// current term of leadership (leader mode): a number that grows with
    /// every claim and every term, for the body to pass to what it writes,
    /// so that a replica that lost its slot or lease cannot overwrite the
    /// work of the one that took over. `None` outside a cluster, and for an
    /// iteration that runs during a store outage
    /// ([`run_during_outage`](crate::cluster::Cluster::run_during_outage)).
    ///
    /// ```
    /// use tasks_runtime::Loop;
    /// assert_eq!(Loop::builder(|()| async {}).build().unwrap().fence(), None);
    /// ```
    pub fn fence(&self) -> Option<Fence> {
        self.core().lock().fence()
    }

    /// Whether errors of the retried error types are retried.
    ///
    /// ```
    /// use tasks_runtime::Loop;
    /// let ticker = Loop::builder(|()| async {}).reconnect(false).build().unwrap();
    /// assert!(!ticker.reconnect());
    /// ticker.set_reconnect(true);
    /// assert!(ticker.reconnect());
    /// ```
    pub fn reconnect(&self) -> bool {
        self.core().lock().reconnect()
    }

    /// Turns retrying on or off, read at each error.
    ///
    /// ```
    /// use tasks_runtime::Loop;
    /// let ticker = Loop::builder(|()| async {}).build().unwrap();
    /// ticker.set_reconnect(false);
    /// assert!(!ticker.reconnect());
    /// ```
    pub fn set_reconnect(&self, reconnect: bool) {
        self.core().lock().set_reconnect(reconnect);
    }

    fn relative(&self) -> Option<Every> {
        self.core().lock().schedule().every()
    }
}
