//! Relative intervals: every `seconds + 60·minutes + 3600·hours`.

use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};

use super::ScheduledAt;

/// A validated relative interval, kept as given (so that `seconds()`,
/// `minutes()` and `hours()` read back what was set).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Every {
    pub(crate) seconds: f64,
    pub(crate) minutes: f64,
    pub(crate) hours: f64,
}

impl Every {
    /// The period. Computed, not stored: it keeps every loop's state a
    /// little smaller, for a few floating-point operations per iteration.
    /// Validated intervals always convert.
    pub(crate) fn period(&self) -> Duration {
        Duration::try_from_secs_f64(self.seconds + self.minutes * 60.0 + self.hours * 3600.0)
            .unwrap_or(Duration::MAX)
    }
}

/// The iteration after `last`, which was due at `last` on the monotonic
/// clock, under `missed` (tokio's own [`MissedTickBehavior`]). `now` is
/// read only for the policies that need it: `Burst` needs no clock.
///
/// - `Burst`: `last + period`, even if that is long past: missed iterations
///   run back to back until the loop is on schedule again (discord.py).
/// - `Delay`: if `last + period` has passed, now; the iterations after it
///   are a period apart from that late one.
/// - `Skip`: if `last + period` has passed, the latest instant of the
///   original grid (`last + k × period`) at or before now, which is due at
///   once; the one after it is the grid's next instant after now.
///
/// A zero period is always `Burst`: there is no grid to skip along.
pub(crate) fn following(
    last: ScheduledAt,
    period: Duration,
    missed: MissedTickBehavior,
    now: impl FnOnce() -> Instant,
) -> ScheduledAt {
    let next = last.plus(period);
    if period.is_zero() || matches!(missed, MissedTickBehavior::Burst) {
        return next;
    }
    let now = now();
    if next.mono >= now {
        return next;
    }
    let behind = now.saturating_duration_since(last.mono);
    match missed {
        MissedTickBehavior::Skip => {
            let periods = behind.as_nanos() / period.as_nanos();
            let periods = u32::try_from(periods).unwrap_or(u32::MAX);
            last.plus(period.saturating_mul(periods))
        }
        _ => last.plus(behind),
    }
}
