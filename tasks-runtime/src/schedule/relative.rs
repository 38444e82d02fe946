//! Relative intervals: every `seconds + 60·minutes + 3600·hours`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tasks_syntax::IntervalError;
use tokio::time::{Instant, MissedTickBehavior};

use super::kind::Kind;
use super::scheduled::ScheduledAt;
use super::wall::WallOptions;
use super::zone::Zone;
use crate::error::ConfigError;

/// A validated relative interval, kept as given (so that `seconds()`,
/// `minutes()` and `hours()` read back what was set).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Every {
    pub(crate) seconds: f64,
    pub(crate) minutes: f64,
    pub(crate) hours: f64,
}

impl Every {
    /// A relative interval whose total is in range (see
    /// [`tasks_syntax::interval_total`]).
    pub(crate) fn new(seconds: f64, minutes: f64, hours: f64) -> Result<Self, ConfigError> {
        tasks_syntax::interval_total(seconds, minutes, hours).map_err(|error| match error {
            IntervalError::NonFinite { unit, value } => {
                ConfigError::NonFiniteInterval { unit, value }
            }
            IntervalError::Negative { total } => ConfigError::NegativeInterval { total },
            IntervalError::TooLong { total } => ConfigError::IntervalTooLong { total },
            IntervalError::Overflow { unit, value } => {
                ConfigError::IntervalOverflow { unit, value }
            }
        })?;
        Ok(Self {
            seconds,
            minutes,
            hours,
        })
    }

    /// The period. Computed, not stored: it keeps every loop's state a
    /// little smaller, for a few floating-point operations per iteration.
    /// Validated intervals always convert.
    #[inline]
    pub(crate) fn period(&self) -> Duration {
        Duration::try_from_secs_f64(self.seconds + self.minutes * 60.0 + self.hours * 3600.0)
            .unwrap_or(Duration::MAX)
    }
}

/// On the monotonic clock, anchored to the run's first iteration.
impl Kind for Every {
    fn monotonic_period(&self) -> Option<Duration> {
        Some(self.period())
    }

    fn next_wall_instant(
        &self,
        _now: DateTime<Utc>,
        _after: Option<DateTime<Utc>>,
        _options: &WallOptions,
    ) -> Option<DateTime<Utc>> {
        None
    }

    fn display_zone(&self) -> Zone {
        Zone::UTC
    }

    fn describe(&self) -> String {
        format!("every {} s", self.period().as_secs_f64())
    }
}

/// The iteration to run instead of `next`, which a relative interval of
/// `period` scheduled and the run reached late, at `now` (after a body or
/// its retries ran past it), under `missed` (tokio's own
/// [`MissedTickBehavior`]). `now` is read only for the policies that need
/// it: `Burst` needs no clock.
///
/// - `Burst`: `next` itself, however late: the missed iterations run back
///   to back until the loop is on schedule again (discord.py).
/// - `Delay`: now; the iterations after it are a period apart from it.
/// - `Skip`: the latest instant of the original grid (`next + k × period`)
///   at or before now, due at once; the one after it is the grid's next
///   instant after now.
///
/// A zero period is always `Burst`: there is no grid to skip along.
pub(crate) fn reached_late(
    next: ScheduledAt,
    period: Duration,
    missed: MissedTickBehavior,
    now: impl FnOnce() -> Instant,
) -> ScheduledAt {
    if period.is_zero() || matches!(missed, MissedTickBehavior::Burst) {
        return next;
    }
    let now = now();
    if next.mono >= now {
        return next;
    }
    let behind = now.saturating_duration_since(next.mono);
    match missed {
        MissedTickBehavior::Skip => {
            let periods = behind.as_nanos() / period.as_nanos();
            let periods = u32::try_from(periods).unwrap_or(u32::MAX);
            next.plus(period.saturating_mul(periods))
        }
        _ => next.plus(behind),
    }
}
