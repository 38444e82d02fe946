//! The errors of the runtime: bad configuration, refused starts, and the
//! failures a loop hands to its `error` hook.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

/// A boxed error: what a loop body's `Err` is turned into.
///
/// Any `E: std::error::Error + Send + Sync + 'static` converts into it with
/// `?` or `.into()`, and so do `String`, `&str` and `anyhow::Error`.
///
/// ```
/// let err: tasks_runtime::BoxError = std::io::Error::other("gone").into();
/// assert_eq!(err.to_string(), "gone");
/// ```
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// A value given to the loop that cannot be used: an interval, a time of day,
/// a cron expression, a count or a time zone.
///
/// Every constructor and setter that takes user input returns this instead
/// of panicking; a failed `change_interval` leaves the loop as it was.
///
/// ```
/// use tasks_runtime::{ConfigError, Interval, Loop};
///
/// let result = Loop::builder(|()| async {}).seconds(-1.0).build();
/// assert!(matches!(result, Err(ConfigError::NegativeInterval { .. })));
/// # let _ = Interval::seconds(1.0);
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The relative interval adds up to less than zero seconds.
    #[error("the interval adds up to {total} seconds: it must be zero or more")]
    NegativeInterval {
        /// The total, in seconds.
        total: f64,
    },
    /// An interval component is NaN or infinite.
    #[error("the interval's {unit} is {value}: it must be a finite number")]
    NonFiniteInterval {
        /// `seconds`, `minutes` or `hours`.
        unit: &'static str,
        /// The value given.
        value: f64,
    },
    /// The interval is longer than 100 years.
    #[error("the interval adds up to {total} seconds, more than 100 years: give a shorter one")]
    IntervalTooLong {
        /// The total, in seconds.
        total: f64,
    },
    /// Two interval components are each too large to count in seconds,
    /// one positive and one negative, so that the total is not a number.
    #[error(
        "the interval's {unit} is {value}, too large to count in seconds: give an interval of \
         at most 100 years"
    )]
    IntervalOverflow {
        /// The first of the two: `minutes` or `hours`.
        unit: &'static str,
        /// The value given.
        value: f64,
    },
    /// `count` was zero.
    #[error("count must be at least 1 (or absent for an endless loop)")]
    ZeroCount,
    /// An empty list of times of day.
    #[error("the list of times of day is empty: give at least one time")]
    EmptyTimes,
    /// Two kinds of schedule were given together: a relative interval,
    /// times of day, a cron expression.
    #[error(
        "a loop runs on one kind of schedule: give seconds, minutes and hours, or times of \
         day, or a cron expression, not two of them"
    )]
    MixedIntervals,
    /// A string that is not a time of day.
    #[error(
        "`{input}` is not a time of day: write it as \"HH:MM\" or \"HH:MM:SS\" (24-hour clock)"
    )]
    InvalidTimeOfDay {
        /// The text given.
        input: String,
    },
    /// A string that croner cannot read as a cron expression.
    #[error("`{input}` is not a valid cron expression: {reason}")]
    InvalidCron {
        /// The text given.
        input: String,
        /// croner's message, the field at fault and what it takes, or how
        /// many fields to write.
        reason: String,
    },
    /// A name that is neither an IANA time zone nor a fixed offset.
    #[error("`{input}` is not a time zone: give an IANA name such as \"Europe/Paris\" or an offset such as \"+09:00\"")]
    UnknownTimeZone {
        /// The text given.
        input: String,
    },
    /// A count was given to a loop in a cluster's claim mode, where each
    /// replica runs its own share of the slots.
    #[error("a loop in claim mode cannot have a count: each replica runs only the slots it claims; use leader mode, or stop the loop from its body")]
    CountInClaimMode,
    /// A zero interval in a cluster's claim mode, which needs slots to
    /// claim.
    #[error("a loop in claim mode needs an interval longer than zero: its slots are whole multiples of it")]
    ZeroIntervalInClaimMode,
    /// A change refused while the loop runs (`join_cluster`): always
    /// [`StartError::AlreadyRunning`], the one answer of every method that
    /// a running loop refuses.
    #[error(transparent)]
    Refused(#[from] StartError),
    /// A duration option that must be positive was zero.
    #[error("`{option}` must be longer than zero")]
    ZeroDuration {
        /// The option's name.
        option: &'static str,
    },
    /// A duration option was longer than 100 years.
    #[error("`{option}` is longer than 100 years: give a shorter one")]
    DurationTooLong {
        /// The option's name.
        option: &'static str,
    },
    /// A cluster's [store deadline](crate::cluster::Cluster::store_deadline)
    /// longer than the time a replica may act on a claim or lease (the lease
    /// minus its safety margin): it would wait for answers that cannot be
    /// acted on, into the margin.
    #[error(
        "the store deadline of {deadline:?} is longer than the {limit:?} a replica may act on \
         a lease of {lease:?} (the lease minus its safety margin): give a shorter deadline or \
         a longer lease"
    )]
    StoreDeadlineTooLong {
        /// The deadline given.
        deadline: std::time::Duration,
        /// The cluster's lease.
        lease: std::time::Duration,
        /// The longest deadline it allows: the lease minus the margin.
        limit: std::time::Duration,
    },
}

impl ConfigError {
    /// Checks a duration option: at most 100 years, and more than zero
    /// where `positive`.
    pub(crate) fn check_duration(
        option: &'static str,
        duration: std::time::Duration,
        positive: bool,
    ) -> Result<std::time::Duration, ConfigError> {
        if positive && duration.is_zero() {
            return Err(ConfigError::ZeroDuration { option });
        }
        if !tasks_syntax::duration_in_range(duration.as_secs_f64()) {
            return Err(ConfigError::DurationTooLong { option });
        }
        Ok(duration)
    }
}

/// A conversion that cannot fail fails with no `ConfigError`: so that a
/// setter taking `impl TryInto<T>` also takes a `T`, such as
/// [`LoopBuilder::cron`](crate::LoopBuilder::cron) a [`Cron`](crate::Cron)
/// as well as a string.
///
/// ```
/// use tasks_runtime::{ConfigError, Cron};
///
/// let parsed = Cron::parse("@daily").unwrap();
/// let same: Result<Cron, ConfigError> = parsed.clone().try_into().map_err(ConfigError::from);
/// assert_eq!(same, Ok(parsed));
/// ```
impl From<std::convert::Infallible> for ConfigError {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

/// Why [`Loop::start`](crate::Loop::start) refused to start the loop.
///
/// [`AlreadyRunning`](StartError::AlreadyRunning) is also what every other
/// method refused while the loop runs answers:
/// [`Loop::set_clock`](crate::Loop::set_clock), and
/// [`Loop::join_cluster`](crate::Loop::join_cluster) as
/// [`ConfigError::Refused`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use tasks_runtime::{Loop, StartError};
///
/// let ticker = Loop::builder(|()| async {}).seconds(1.0).build().unwrap();
/// ticker.start(()).unwrap();
/// assert_eq!(ticker.start(()).unwrap_err(), StartError::AlreadyRunning);
/// ticker.cancel();
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The loop is running (or still finishing its `after_loop`): stop or
    /// cancel it and wait for it, or use `restart`.
    #[error("the loop is already running: wait for it to finish, or call restart")]
    AlreadyRunning,
    /// `start` was called outside a tokio runtime.
    #[error("no tokio runtime is running: call start from inside a tokio runtime")]
    NoRuntime,
}

/// An unhandled failure of a loop: what the `error` hook receives, and what
/// [`RunOutcome::Failed`](crate::RunOutcome::Failed) carries.
///
/// It is either the error a body returned (or its `before_loop` hook
/// returned), or a panic caught in the body. It is cheap to clone.
///
/// ```
/// use tasks_runtime::LoopError;
///
/// let err = LoopError::from_error(std::io::Error::other("disk full"));
/// assert!(err.is::<std::io::Error>());
/// assert_eq!(err.to_string(), "disk full");
/// assert!(err.panic_message().is_none());
/// ```
#[derive(Clone)]
pub struct LoopError {
    kind: LoopErrorKind,
}

#[derive(Clone)]
enum LoopErrorKind {
    Error(Arc<dyn StdError + Send + Sync + 'static>),
    Panic(Arc<str>),
}

impl LoopError {
    /// Wraps an error.
    pub fn from_error(error: impl Into<BoxError>) -> Self {
        Self {
            kind: LoopErrorKind::Error(Arc::from(error.into())),
        }
    }

    /// Wraps the message of a panic.
    pub fn from_panic(message: impl Into<Arc<str>>) -> Self {
        Self {
            kind: LoopErrorKind::Panic(message.into()),
        }
    }

    /// The error, unless this is a panic.
    pub fn error(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        match &self.kind {
            LoopErrorKind::Error(e) => Some(&**e),
            LoopErrorKind::Panic(_) => None,
        }
    }

    /// The panic message, when the body panicked.
    pub fn panic_message(&self) -> Option<&str> {
        match &self.kind {
            LoopErrorKind::Panic(m) => Some(m),
            LoopErrorKind::Error(_) => None,
        }
    }

    /// Whether the error is of type `T` (the error itself, not its sources).
    pub fn is<T: StdError + 'static>(&self) -> bool {
        self.downcast_ref::<T>().is_some()
    }

    /// The error as a `T`, if it is one.
    pub fn downcast_ref<T: StdError + 'static>(&self) -> Option<&T> {
        self.error().and_then(|e| e.downcast_ref::<T>())
    }
}

impl fmt::Debug for LoopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            LoopErrorKind::Error(e) => fmt::Debug::fmt(e, f),
            LoopErrorKind::Panic(m) => f.debug_tuple("Panic").field(m).finish(),
        }
    }
}

impl fmt::Display for LoopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            LoopErrorKind::Error(e) => fmt::Display::fmt(e, f),
            LoopErrorKind::Panic(m) => write!(f, "the loop body panicked: {m}"),
        }
    }
}

impl StdError for LoopError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match &self.kind {
            LoopErrorKind::Error(e) => e.source(),
            LoopErrorKind::Panic(_) => None,
        }
    }
}

/// The error a run ends with when its schedule has no next iteration: a
/// cron expression that matches no later date (`0 0 30 2 *`, February
/// 30th), or none before croner's search limit (the year 5000), or a wall
/// clock that reads so close to the last date chrono can represent that no
/// time of day comes after it.
///
/// ```
/// use tasks_runtime::NoNextIteration;
///
/// let error = NoNextIteration { after: chrono::DateTime::<chrono::Utc>::MAX_UTC };
/// assert!(error.to_string().starts_with("the schedule has no next iteration after"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the schedule has no next iteration after {after}: its cron expression matches no later \
     date, or the wall clock reads past the last date that can be scheduled"
)]
pub struct NoNextIteration {
    /// The wall-clock time when it was looked for.
    pub after: chrono::DateTime<chrono::Utc>,
}

/// A call of the body ran longer than the loop's
/// [`timeout`](crate::LoopBuilder::timeout): it was dropped then, and the
/// run handles this error like any other. It counts as a timeout for the
/// retried error types: wherever `tokio::time::error::Elapsed` (or
/// `std::io::Error`, which holds timeouts) is retried, so is this.
///
/// ```
/// use std::time::Duration;
/// use tasks_runtime::IterationTimeout;
///
/// let timeout = IterationTimeout {
///     loop_name: "sync".into(),
///     iteration: 3,
///     after: Duration::from_secs(30),
/// };
/// assert_eq!(timeout.to_string(), "loop `sync` iteration 3 ran longer than its 30 s timeout");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("loop `{loop_name}` iteration {iteration} ran longer than its {} s timeout", after.as_secs_f64())]
pub struct IterationTimeout {
    /// The loop's name.
    pub loop_name: String,
    /// Which iteration: [`current_loop`](crate::Loop::current_loop) during
    /// the call (0 for the first).
    pub iteration: u64,
    /// The timeout.
    pub after: std::time::Duration,
}

/// A user's value shown in a log line: its `Display`, or a note that it
/// panicked. Logging a value never changes what the loop does.
pub(crate) struct Shown<'a>(pub(crate) &'a dyn fmt::Display);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = self.0;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| value.to_string())) {
            Ok(text) => f.write_str(&text),
            Err(_) => f.write_str("<its Display implementation panicked>"),
        }
    }
}

/// Turns the payload of a caught panic into its message.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a payload that is not a string".to_owned()
    }
}
