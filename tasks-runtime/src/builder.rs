//! Building a [`Loop`]: its schedule, count, retry policy and clocks.

use std::future::Future;
use std::num::NonZeroU64;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::MissedTickBehavior;

use crate::backoff::Backoff;
use crate::clock::Clock;
use crate::cluster::Cluster;
use crate::error::ConfigError;
use crate::hooks::BodyOutput;
use crate::registry;
use crate::run::Runner;
use crate::schedule::{AmbiguousTime, Cron, Interval, Jitter, TimeOfDay, WallOptions};
use crate::state::{BackoffFactory, Core, Extras, Settings, State};
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
}

/// Builds a [`Loop`]; made by [`Loop::builder`].
///
/// Every setter takes plain values; [`build`](LoopBuilder::build) checks
/// them all and returns the first problem as a [`ConfigError`], in
/// discord.py's order (count, then interval).
///
/// | setter | default | discord.py |
/// | --- | --- | --- |
/// | [`seconds`](Self::seconds), [`minutes`](Self::minutes), [`hours`](Self::hours) | 0 (summed) | same |
/// | [`time`](Self::time) / [`times`](Self::times) | none: relative mode | `time=` |
/// | [`cron`](Self::cron) | none: relative mode | none |
/// | [`count`](Self::count) | endless | same |
/// | [`reconnect`](Self::reconnect) | `true` | same |
/// | [`name`](Self::name) | the body's type name | `name=` |
/// | [`backoff`](Self::backoff) | [`ExponentialBackoff`](crate::ExponentialBackoff) with a 1 s base | fixed |
/// | [`clock`](Self::clock) | [`SystemClock`](crate::SystemClock) | fixed |
/// | [`wall_clock_check`](Self::wall_clock_check) | 60 s | none |
/// | [`grace_period`](Self::grace_period) | none: skip | none |
/// | [`ambiguous_time`](Self::ambiguous_time) | [`AmbiguousTime::Later`] | same |
/// | [`missed`](Self::missed) | [`MissedTickBehavior::Burst`] | burst, fixed |
/// | [`timeout`](Self::timeout) | none | none |
/// | [`jitter`](Self::jitter) (and [`jitter_seed`](Self::jitter_seed)) | none | none |
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
    pub(crate) fn new<F, Fut>(body: F) -> Self
    where
        F: Fn(A) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: BodyOutput,
    {
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
    /// run of a test to the next.
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
    /// # let _ = report;
    /// ```
    pub fn jitter_seed(mut self, seed: u64) -> Self {
        self.jitter_seed = Some(seed);
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
    /// longer than 100 years, then what a cluster's claim mode refuses (a
    /// count, a zero interval).
    ///
    /// ```
    /// use tasks_runtime::{ConfigError, Loop};
    ///
    /// let zero = Loop::builder(|()| async {}).count(0).build();
    /// assert!(matches!(zero, Err(ConfigError::ZeroCount)));
    /// ```
    pub fn build(self) -> Result<Loop<A>, ConfigError> {
        let count = match self.count {
            Some(count) => Some(NonZeroU64::new(count).ok_or(ConfigError::ZeroCount)?),
            None => None,
        };
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
        if self.wall.check_every.is_zero() {
            return Err(ConfigError::ZeroDuration {
                option: "wall_clock_check",
            });
        }
        let timeout = self
            .timeout
            .map(|timeout| ConfigError::check_duration("timeout", timeout, true))
            .transpose()?;
        let jitter = self
            .jitter
            .map(|jitter| ConfigError::check_duration("jitter", jitter, false))
            .transpose()?;
        // Defaults cost nothing per loop: no settings box, no extras box.
        let settings = (self.name.is_some() || self.wall != WallOptions::default()).then(|| {
            Box::new(Settings {
                name: self.name.map(String::into_boxed_str),
                wall: self.wall,
            })
        });
        let mut state = State::new(schedule, count, self.reconnect);
        let missed = (self.missed != MissedTickBehavior::Burst).then_some(self.missed);
        if self.backoff.is_some()
            || self.clock.is_some()
            || missed.is_some()
            || timeout.is_some()
            || jitter.is_some()
        {
            state.extras = Some(Box::new(Extras {
                make_backoff: self.backoff,
                clock: self.clock,
                missed,
                timeout,
                jitter: jitter.map(|max| Jitter::new(max, self.jitter_seed)),
                ..Extras::default()
            }));
        }
        if let Some(cluster) = self.cluster {
            state.join_cluster(cluster)?;
        }
        Ok(Loop::from_runner((self.make_shared)(Core::new(
            state, settings,
        ))))
    }
}
