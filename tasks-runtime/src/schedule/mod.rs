//! What a loop runs on: a relative interval or times of day, validated.

pub(crate) mod time_of_day;
pub(crate) mod wall_sleep;

use std::time::Duration;

use tasks_syntax::IntervalError;

use crate::error::ConfigError;
pub use time_of_day::{AmbiguousTime, TimeOfDay, Zone};

/// The schedule of a loop, as given to [`LoopBuilder::interval`] or
/// [`Loop::change_interval`]: a relative interval (seconds, minutes and
/// hours, summed) or a list of times of day.
///
/// It is checked when used: a negative, NaN or infinite total, an empty list
/// of times, or times mixed with a relative part are each a
/// [`ConfigError`].
///
/// [`LoopBuilder::interval`]: crate::LoopBuilder::interval
/// [`Loop::change_interval`]: crate::Loop::change_interval
///
/// ```
/// use tasks_runtime::{Interval, TimeOfDay};
///
/// let every_90_minutes = Interval::relative(0.0, 30.0, 1.0);
/// let twice_a_day = Interval::times(["08:00", "20:00"].map(|t| TimeOfDay::parse(t).unwrap()));
/// # let _ = (every_90_minutes, twice_a_day);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Interval {
    /// `seconds + 60·minutes + 3600·hours`; components may be negative or
    /// fractional as long as the total is zero or more.
    Relative {
        /// Seconds.
        seconds: f64,
        /// Minutes.
        minutes: f64,
        /// Hours.
        hours: f64,
    },
    /// One run at each listed time of day (sorted, duplicates dropped).
    Times(Vec<TimeOfDay>),
}

impl Interval {
    /// Every `seconds` seconds.
    pub fn seconds(seconds: f64) -> Self {
        Self::relative(seconds, 0.0, 0.0)
    }

    /// Every `minutes` minutes.
    pub fn minutes(minutes: f64) -> Self {
        Self::relative(0.0, minutes, 0.0)
    }

    /// Every `hours` hours.
    pub fn hours(hours: f64) -> Self {
        Self::relative(0.0, 0.0, hours)
    }

    /// Every `seconds + 60·minutes + 3600·hours` seconds.
    pub fn relative(seconds: f64, minutes: f64, hours: f64) -> Self {
        Self::Relative {
            seconds,
            minutes,
            hours,
        }
    }

    /// At each of these times of day.
    pub fn times(times: impl IntoIterator<Item = TimeOfDay>) -> Self {
        Self::Times(times.into_iter().collect())
    }

    /// Every `period` (a `Duration` cannot be negative, so this never fails).
    pub fn every(period: Duration) -> Self {
        Self::seconds(period.as_secs_f64())
    }

    pub(crate) fn validate(self) -> Result<Schedule, ConfigError> {
        match self {
            Interval::Relative {
                seconds,
                minutes,
                hours,
            } => {
                tasks_syntax::interval_total(seconds, minutes, hours).map_err(
                    |error| match error {
                        IntervalError::NonFinite { unit, value } => {
                            ConfigError::NonFiniteInterval { unit, value }
                        }
                        IntervalError::Negative { total } => {
                            ConfigError::NegativeInterval { total }
                        }
                        IntervalError::TooLong { total } => ConfigError::IntervalTooLong { total },
                    },
                )?;
                Ok(Schedule::Relative {
                    seconds,
                    minutes,
                    hours,
                })
            }
            Interval::Times(mut times) => {
                if times.is_empty() {
                    return Err(ConfigError::EmptyTimes);
                }
                time_of_day::sort_and_dedup(&mut times);
                Ok(Schedule::Times(times))
            }
        }
    }
}

impl Default for Interval {
    /// An interval of zero: the loop runs again at once, yielding to the
    /// runtime regularly (whenever its task's cooperative budget is spent,
    /// as any tokio task that is always ready does), so it never starves
    /// other tasks.
    fn default() -> Self {
        Self::seconds(0.0)
    }
}

/// A validated [`Interval`].
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Schedule {
    Relative {
        seconds: f64,
        minutes: f64,
        hours: f64,
    },
    Times(Vec<TimeOfDay>),
}

impl Schedule {
    /// The period of a relative interval (validated, so it converts), or
    /// zero for times of day. Computed, not stored: it keeps every loop's
    /// state a little smaller, for a few floating-point operations per
    /// iteration.
    pub(crate) fn period(&self) -> Duration {
        match self {
            Schedule::Relative {
                seconds,
                minutes,
                hours,
            } => Duration::try_from_secs_f64(seconds + minutes * 60.0 + hours * 3600.0)
                .unwrap_or(Duration::MAX),
            Schedule::Times(_) => Duration::ZERO,
        }
    }

    pub(crate) fn is_times_of_day(&self) -> bool {
        matches!(self, Schedule::Times(_))
    }
}
