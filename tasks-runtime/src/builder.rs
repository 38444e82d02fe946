//! Building a [`Loop`]: its schedule, count, retry policy and clocks.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::MissedTickBehavior;

use crate::backoff::Backoff;
use crate::body::{Body, Iteration, WithIteration};
use crate::clock::Clock;
use crate::cluster::Cluster;
use crate::error::{ConfigError, LoopError};
use crate::hooks::{error_hook, plain_hook, BodyOutput};
use crate::registry;
use crate::retry::{RetriedType, RetryFilter};
use crate::run::Runner;
use crate::schedule::{AmbiguousTime, Cron, Interval, TimeOfDay, WallOptions};
use crate::state::{check_count, BackoffFactory, Core, Hooks, Settings, State};
use crate::task_loop::Loop;

/// Makes the loop's shared block around the body, once its core is known.
type MakeShared<A> = Box<dyn FnOnce(Core<A>) -> Arc<dyn Runner<A>> + Send + Sync>;

impl<A: Clone + Send + 'static> Loop<A> {
    /// Starts building a loop around `body`, an async function of the
    /// loop's argument that returns `()` or `Result<(), E>`.
    ///
    /// ```
    /// use tasks_runtime::Loop;
    ///
    /// let ping = Loop::builder(|host: String| async move {
    ///     let _ = host;
    ///     Ok::<(), std::io::Error>(())
    /// })
    /// .seconds(30.0)
    /// .build()
    /// .unwrap();
    /// assert_eq!(ping.seconds(), Some(30.0));
    /// ```
    pub fn builder<F, Fut>(body: F) -> LoopBuilder<A>
    where
        F: Fn(A) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: BodyOutput,
    {
        LoopBuilder::new(body)
    }

    /// Starts building a loop around `body`, an async function of the
    /// loop's argument and of the [`Iteration`] it runs in: its number, its
    /// scheduled instant, and in a cluster its fencing token, as values
    /// that do not change while the body runs (where
    /// [`Loop::fence`] reads the loop's current token, which the next claim
    /// or term replaces). Otherwise as [`Loop::builder`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::sync::Arc;
    /// use tasks_runtime::cluster::{Cluster, MemoryStore};
    /// use tasks_runtime::{Iteration, Loop};
    ///
    /// let report = Loop::builder_with_iteration(|table: &'static str, iteration: Iteration| async move {
    ///     // Every write carries this iteration's token, even one made by a
    ///     // task spawned here that outlives the iteration.
    ///     let fence = iteration.fence().expect("a claimed slot has a token");
    ///     println!("UPDATE {table} SET ..., fence = {fence} WHERE fence < {fence}");
    /// })
    /// .seconds(10.0)
    /// .cluster(Cluster::claim(Arc::new(MemoryStore::new())))
    /// .build()
    /// .unwrap();
    /// report.start("reports").unwrap();
    /// tokio::time::sleep(std::time::Duration::from_secs(30)).await;
    /// report.cancel();
    /// # }
    /// ```
    pub fn builder_with_iteration<F, Fut>(body: F) -> LoopBuilder<A>
    where
        F: Fn(A, Iteration) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: BodyOutput,
    {
        LoopBuilder::new(WithIteration(body))
    }
}

/// Builds a [`Loop`]; made by [`Loop::builder`].
///
/// Every setter takes plain values; [`build`](LoopBuilder::build) checks
/// them all and returns the first problem as a [`ConfigError`], in
/// discord.py's order (count, then interval).
///
/// # Which setting is set where
///
/// Every setting is set here, and all but three can be changed on the
/// [`Loop`] at any time too, as discord.py lets a loop's hooks, retried
/// error types, interval and count change: a loop made by the attribute
/// has no builder, and a service adjusts a running loop without a restart.
/// A change takes effect where the setting is next read (the "read"
/// column). The clock and the cluster change only while the loop is not
/// running (a run reads them across its waits); the name never changes
/// (the loop's logs, metrics and registry entry carry it for its whole
/// life).
///
/// | builder | on the [`Loop`] | read | default | discord.py |
/// | --- | --- | --- | --- | --- |
/// | [`seconds`](Self::seconds), [`minutes`](Self::minutes), [`hours`](Self::hours) | [`change_interval`](Loop::change_interval) | at once: the next iteration moves | 0 (summed) | same |
/// | [`time`](Self::time) / [`times`](Self::times) | [`change_interval`](Loop::change_interval) | at once | none: relative mode | `time=` |
/// | [`cron`](Self::cron) | [`change_interval`](Loop::change_interval) | at once | none: relative mode | none |
/// | [`count`](Self::count) | [`set_count`](Loop::set_count) | after each iteration | endless | same |
/// | [`reconnect`](Self::reconnect) | [`set_reconnect`](Loop::set_reconnect) | at each error | `true` | same |
/// | [`add_exception_type`](Self::add_exception_type), [`remove_exception_type`](Self::remove_exception_type), [`clear_exception_types`](Self::clear_exception_types) | the same names | at each error | `std::io::Error`, `Elapsed` | same |
/// | [`before_loop`](Self::before_loop), [`after_loop`](Self::after_loop), [`error`](Self::error) | the same names | as each hook is due | none | same |
/// | [`backoff`](Self::backoff) | [`set_backoff`](Loop::set_backoff) | at a run's first retried error | [`ExponentialBackoff`](crate::ExponentialBackoff) with a 1 s base | fixed |
/// | [`missed`](Self::missed) | [`set_missed`](Loop::set_missed) | after each iteration | [`MissedTickBehavior::Burst`] | burst, fixed |
/// | [`timeout`](Self::timeout) | [`set_timeout`](Loop::set_timeout) | as each call of the body begins | none | none |
/// | [`jitter`](Self::jitter), [`jitter_seed`](Self::jitter_seed) | [`set_jitter`](Loop::set_jitter), [`set_jitter_seed`](Loop::set_jitter_seed) | as each wait begins | none | none |
/// | [`wall_clock_check`](Self::wall_clock_check) | [`set_wall_clock_check`](Loop::set_wall_clock_check) | as each wall-clock sleep begins | 60 s | none |
/// | [`grace_period`](Self::grace_period) | [`set_grace_period`](Loop::set_grace_period) | when a clock jump passes over an instant | none: skip | none |
/// | [`ambiguous_time`](Self::ambiguous_time) | [`set_ambiguous_time`](Loop::set_ambiguous_time) | as the next instant is worked out | [`AmbiguousTime::Later`] | same |
/// | [`clock`](Self::clock) | [`set_clock`](Loop::set_clock), not while running | as a run begins | [`SystemClock`](crate::SystemClock) | fixed |
/// | [`cluster`](Self::cluster) | [`join_cluster`](Loop::join_cluster), not while running | as a run begins | none | none |
/// | [`name`](Self::name) | none | always | the body's type name | `name=` |
///
/// ```
/// use tasks_runtime::{Loop, TimeOfDay};
///
/// let reminders = Loop::builder(|()| async {})
///     .times(["08:00", "20:00"].map(|t| TimeOfDay::parse_in(t, "Asia/Seoul").unwrap()))
///     .count(14)
///     .name("reminders")
///     .build()
///     .unwrap();
/// assert_eq!(reminders.time().unwrap().len(), 2);
/// assert_eq!(reminders.count(), Some(14));
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct LoopBuilder<A> {
    name: Option<String>,
    make_shared: MakeShared<A>,
    seconds: f64,
    minutes: f64,
    hours: f64,
    times: Option<Vec<TimeOfDay>>,
    cron: Option<Result<Cron, ConfigError>>,
    count: Option<u64>,
    reconnect: bool,
    retry: RetryFilter,
    hooks: Hooks,
    backoff: Option<BackoffFactory>,
    clock: Option<Arc<dyn Clock>>,
    wall: WallOptions,
    cluster: Option<Cluster>,
    missed: MissedTickBehavior,
    timeout: Option<Duration>,
    jitter: Option<Duration>,
    jitter_seed: Option<u64>,
}

impl<A: Clone + Send + 'static> LoopBuilder<A> {
    pub(crate) fn new<F: Body<A>>(body: F) -> Self {
        Self {
            name: None,
            make_shared: Box::new(move |core| registry::shared(core, body)),
            seconds: 0.0,
            minutes: 0.0,
            hours: 0.0,
            times: None,
            cron: None,
            count: None,
            reconnect: true,
            retry: RetryFilter::default(),
            hooks: Hooks::default(),
            backoff: None,
            clock: None,
            wall: WallOptions::default(),
            cluster: None,
            missed: MissedTickBehavior::Burst,
            timeout: None,
            jitter: None,
            jitter_seed: None,
        }
    }

    /// Seconds between iterations (added to minutes and hours).
    pub fn seconds(mut self, seconds: f64) -> Self {
        self.seconds = seconds;
        self
    }

    /// Minutes between iterations (added to seconds and hours).
    pub fn minutes(mut self, minutes: f64) -> Self {
        self.minutes = minutes;
        self
    }

    /// Hours between iterations (added to seconds and minutes).
    pub fn hours(mut self, hours: f64) -> Self {
        self.hours = hours;
        self
    }

    /// The whole schedule at once.
    pub fn interval(mut self, interval: Interval) -> Self {
        match interval {
            Interval::Relative {
                seconds,
                minutes,
                hours,
            } => {
                (self.seconds, self.minutes, self.hours) = (seconds, minutes, hours);
                self.times = None;
                self.cron = None;
            }
            Interval::Times(times) => {
                (self.seconds, self.minutes, self.hours) = (0.0, 0.0, 0.0);
                self.times = Some(times);
                self.cron = None;
            }
            Interval::Cron(cron) => {
                (self.seconds, self.minutes, self.hours) = (0.0, 0.0, 0.0);
                self.times = None;
                self.cron = Some(Ok(cron));
            }
        }
        self
    }

    /// Adds a time of day to run at (UTC unless it carries a zone).
    pub fn time(mut self, time: impl Into<TimeOfDay>) -> Self {
        self.times.get_or_insert_with(Vec::new).push(time.into());
        self
    }

    /// Adds several times of day; an empty list is an error at `build`.
    pub fn times<T: Into<TimeOfDay>>(mut self, times: impl IntoIterator<Item = T>) -> Self {
        self.times
            .get_or_insert_with(Vec::new)
            .extend(times.into_iter().map(Into::into));
        self
    }

    /// Runs at each instant a cron expression matches: a [`Cron`] (in its
    /// zone), or the expression as a string (in UTC), read at `build`.
    ///
    /// ```
    /// use tasks_runtime::{Cron, Loop};
    ///
    /// let standup = Loop::builder(|()| async {})
    ///     .cron(Cron::parse_in("0 30 9 * * MON-FRI", "Asia/Seoul").unwrap())
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(standup.cron().unwrap().expression(), "0 30 9 * * MON-FRI");
    ///
    /// let month_end = Loop::builder(|()| async {}).cron("0 18 L * *").build().unwrap();
    /// assert_eq!(month_end.cron().unwrap().to_string(), "0 18 L * * (UTC)");
    /// assert!(Loop::builder(|()| async {}).cron("0 18 32 * *").build().is_err());
    /// ```
    pub fn cron<C>(mut self, cron: C) -> Self
    where
        C: TryInto<Cron>,
        C::Error: Into<ConfigError>,
    {
        self.cron = Some(cron.try_into().map_err(Into::into));
        self
    }

    /// Ends the loop after this many successful iterations (at least 1).
    pub fn count(mut self, count: u64) -> Self {
        self.count = Some(count);
        self
    }

    /// Whether errors of the retried error types are retried with a backoff
    /// (default `true`); off, every error ends the run.
    pub fn reconnect(mut self, reconnect: bool) -> Self {
        self.reconnect = reconnect;
        self
    }

    /// The loop's name, used in logs.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The retry delay policy: `make` is called once per run, at the run's
    /// first retried error.
    pub fn backoff<B, M>(mut self, make: M) -> Self
    where
        B: Backoff,
        M: Fn() -> B + Send + Sync + 'static,
    {
        self.backoff = Some(Arc::new(move || Box::new(make())));
        self
    }

    /// The wall clock that times of day are read from.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The longest a times-of-day loop sleeps before reading the wall clock
    /// again (default 60 s), so that a clock step or a resume is noticed.
    pub fn wall_clock_check(mut self, every: Duration) -> Self {
        self.wall.check_every = every;
        self
    }

    /// Lets a time of day that a clock jump or a suspend passed over still
    /// run, once, on wake-up, if it is no older than `grace`. Without it such
    /// a time is skipped, as in discord.py.
    pub fn grace_period(mut self, grace: Duration) -> Self {
        self.wall.grace = Some(grace);
        self
    }

    /// Which instant a time of day that happens twice runs at.
    pub fn ambiguous_time(mut self, choice: AmbiguousTime) -> Self {
        self.wall.ambiguous = choice;
        self
    }

    /// Runs the loop across replicas, in claim or leader mode (see
    /// [`cluster`](crate::cluster)).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tasks_runtime::cluster::{Cluster, MemoryStore};
    /// use tasks_runtime::Loop;
    ///
    /// let store = Arc::new(MemoryStore::new());
    /// let report = Loop::builder(|()| async {})
    ///     .hours(1.0)
    ///     .name("hourly-report")
    ///     .cluster(Cluster::claim(store))
    ///     .build()
    ///     .unwrap();
    /// assert!(report.cluster().is_some());
    /// ```
    pub fn cluster(mut self, cluster: Cluster) -> Self {
        self.cluster = Some(cluster);
        self
    }

    /// What a relative interval does about iterations it missed because an
    /// iteration (or its retries) ran past the next one's time, with
    /// tokio's own policies: [`Burst`](MissedTickBehavior::Burst) (the
    /// default, as discord.py) runs them back to back;
    /// [`Delay`](MissedTickBehavior::Delay) runs one late iteration at
    /// once and the next ones an interval apart from it;
    /// [`Skip`](MissedTickBehavior::Skip) runs one late iteration at once
    /// and keeps the original schedule after it. With times of day every
    /// policy runs one late iteration, as discord.py does.
    ///
    /// ```
    /// use tasks_runtime::{Loop, MissedTickBehavior};
    ///
    /// let poll = Loop::builder(|()| async {})
    ///     .seconds(10.0)
    ///     .missed(MissedTickBehavior::Skip)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(poll.missed(), MissedTickBehavior::Skip);
    /// ```
    pub fn missed(mut self, missed: MissedTickBehavior) -> Self {
        self.missed = missed;
        self
    }

    /// How long a call of the body may run: one still running then is
    /// dropped, and fails with an [`IterationTimeout`](crate::IterationTimeout),
    /// retried where timeouts are (the default). More than zero, at most
    /// 100 years (checked by `build`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tasks_runtime::Loop;
    ///
    /// let fetch = Loop::builder(|()| async {}).timeout(Duration::from_secs(30)).build().unwrap();
    /// assert_eq!(fetch.timeout(), Some(Duration::from_secs(30)));
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// A random extra delay, up to `jitter`, added to each wait for an
    /// iteration (the first iteration of a relative interval still runs at
    /// once): the schedule does not move, so the delays never add up. At
    /// most 100 years (checked by `build`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tasks_runtime::Loop;
    ///
    /// let report = Loop::builder(|()| async {})
    ///     .minutes(1.0)
    ///     .jitter(Duration::from_secs(5))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(report.jitter(), Some(Duration::from_secs(5)));
    /// ```
    pub fn jitter(mut self, jitter: Duration) -> Self {
        self.jitter = Some(jitter);
        self
    }

    /// Seeds the jitter's random source, so that its delays repeat from one
    /// run of a test to the next. Without a [`jitter`](Self::jitter), the
    /// seed is kept for the jitter set later with
    /// [`Loop::set_jitter`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use tasks_runtime::Loop;
    ///
    /// let report = Loop::builder(|()| async {})
    ///     .jitter(Duration::from_secs(5))
    ///     .jitter_seed(42)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(report.jitter(), Some(Duration::from_secs(5)));
    ///
    /// let later = Loop::builder(|()| async {}).jitter_seed(42).build().unwrap();
    /// assert_eq!(later.jitter(), None, "a seed alone is no jitter");
    /// later.set_jitter(Some(Duration::from_secs(5))).unwrap(); // seeded with 42
    /// ```
    pub fn jitter_seed(mut self, seed: u64) -> Self {
        self.jitter_seed = Some(seed);
        self
    }

    /// Retries errors of type `T` too, as
    /// [`Loop::add_exception_type`] does.
    ///
    /// ```
    /// use tasks_runtime::Loop;
    ///
    /// #[derive(Debug, thiserror::Error)]
    /// #[error("rate limited")]
    /// struct RateLimited;
    ///
    /// let poll = Loop::builder(|()| async {})
    ///     .add_exception_type::<RateLimited>()
    ///     .build()
    ///     .unwrap();
    /// assert!(poll.exception_types().iter().any(|t| t.ends_with("RateLimited")));
    /// ```
    pub fn add_exception_type<T: std::error::Error + 'static>(mut self) -> Self {
        self.retry.add(RetriedType::of::<T>());
        self
    }

    /// Stops retrying errors of type `T`, as
    /// [`Loop::remove_exception_type`] does.
    ///
    /// ```
    /// use tasks_runtime::Loop;
    ///
    /// let poll = Loop::builder(|()| async {})
    ///     .remove_exception_type::<std::io::Error>()
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(poll.exception_types(), ["tokio::time::error::Elapsed"]);
    /// ```
    pub fn remove_exception_type<T: std::error::Error + 'static>(mut self) -> Self {
        self.retry.remove(std::any::TypeId::of::<T>());
        self
    }

    /// Retries no error at all, as [`Loop::clear_exception_types`] does.
    ///
    /// ```
    /// use tasks_runtime::Loop;
    ///
    /// let strict = Loop::builder(|()| async {}).clear_exception_types().build().unwrap();
    /// assert!(strict.exception_types().is_empty());
    /// ```
    pub fn clear_exception_types(mut self) -> Self {
        self.retry.clear();
        self
    }

    /// The hook awaited before the first iteration of each run, as
    /// [`Loop::before_loop`] registers it.
    ///
    /// ```
    /// use tasks_runtime::Loop;
    ///
    /// let ticker = Loop::builder(|()| async {})
    ///     .before_loop(|| async { println!("waiting until ready") })
    ///     .build()
    ///     .unwrap();
    /// # let _ = ticker;
    /// ```
    pub fn before_loop<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: BodyOutput,
    {
        self.hooks.set_before_loop(plain_hook(hook));
        self
    }

    /// The hook awaited when a run ends, whatever ended it, as
    /// [`Loop::after_loop`] registers it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// use tasks_runtime::Loop;
    ///
    /// let cleaned = Arc::new(AtomicBool::new(false));
    /// let seen = Arc::clone(&cleaned);
    /// let once = Loop::builder(|()| async {})
    ///     .count(1)
    ///     .after_loop(move || {
    ///         let seen = Arc::clone(&seen);
    ///         async move { seen.store(true, Ordering::SeqCst) }
    ///     })
    ///     .build()
    ///     .unwrap();
    /// once.start(()).unwrap().await;
    /// assert!(cleaned.load(Ordering::SeqCst));
    /// # }
    /// ```
    pub fn after_loop<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: BodyOutput,
    {
        self.hooks.set_after_loop(plain_hook(hook));
        self
    }

    /// The hook that receives an unhandled error (or a panic) before the
    /// run ends, as [`Loop::error`] registers it.
    ///
    /// ```
    /// use tasks_runtime::{Loop, LoopError};
    ///
    /// let ticker = Loop::builder(|()| async {})
    ///     .error(|err: LoopError| async move { eprintln!("the loop failed: {err}") })
    ///     .build()
    ///     .unwrap();
    /// # let _ = ticker;
    /// ```
    pub fn error<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(LoopError) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: BodyOutput,
    {
        self.hooks.set_error(error_hook(hook));
        self
    }

    /// Checks every value and makes the loop.
    ///
    /// # Errors
    ///
    /// The first value that cannot be used, as a [`ConfigError`], in
    /// discord.py's order: a zero count, then the interval (times of day or
    /// a cron expression mixed with seconds, minutes or hours or with each
    /// other; a negative, non-finite or longer-than-100-years interval; an
    /// empty list of times; a cron expression croner cannot read), then a
    /// zero `wall_clock_check`, a zero `timeout`, a `timeout` or `jitter`
    /// longer than 100 years, then a cluster's store deadline that its
    /// lease does not allow, then what a cluster's claim mode refuses (a
    /// count, a zero interval).
    ///
    /// ```
    /// use tasks_runtime::{ConfigError, Loop};
    ///
    /// let zero = Loop::builder(|()| async {}).count(0).build();
    /// assert!(matches!(zero, Err(ConfigError::ZeroCount)));
    /// ```
    pub fn build(self) -> Result<Loop<A>, ConfigError> {
        let count = check_count(self.count)?;
        let relative = Interval::relative(self.seconds, self.minutes, self.hours);
        // The kinds of schedule given, the one list the "one kind at once"
        // rule reads (the attribute keeps the same list). A zero relative
        // part is no kind given, as in discord.py.
        let given = [
            (self.seconds != 0.0 || self.minutes != 0.0 || self.hours != 0.0)
                .then(|| Ok(relative.clone())),
            self.times.map(|times| Ok(Interval::Times(times))),
            self.cron.map(|cron| cron.map(Interval::Cron)),
        ];
        let mut given = given.into_iter().flatten();
        let interval = match (given.next(), given.next()) {
            (Some(_), Some(_)) => return Err(ConfigError::MixedIntervals),
            (Some(interval), None) => interval?,
            (None, _) => relative,
        };
        let schedule = interval.validate()?;
        // The loop's own setters, in the order of the errors above.
        let mut settings = Settings::default();
        settings.set_wall_clock_check(self.wall.check_every)?;
        settings.set_grace_period(self.wall.grace);
        settings.set_ambiguous_time(self.wall.ambiguous);
        settings.set_timeout(self.timeout)?;
        if let Some(seed) = self.jitter_seed {
            settings.set_jitter_seed(seed);
        }
        settings.set_jitter(self.jitter)?;
        settings.set_missed(self.missed);
        settings.set_backoff(self.backoff);
        settings.set_clock(self.clock);
        *settings.retry_mut() = self.retry;
        // Defaults cost nothing per loop: no extras box.
        let mut state = State::new(schedule, count, self.reconnect).with(settings, self.hooks);
        if let Some(cluster) = self.cluster {
            state.join_cluster(cluster)?;
        }
        let core = Core::new(state, self.name);
        Ok(Loop::from_runner((self.make_shared)(core)))
    }
}
