//! [`ScheduledAt`]: the instant of one iteration, on both clocks; [`Now`]:
//! both clocks read at once.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::time::Instant;

use crate::clock::Clock;

/// Both clocks, read at one moment. Read before the loop's lock is taken:
/// a [`Clock`] is user code.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Now {
    pub(crate) wall: DateTime<Utc>,
    pub(crate) mono: Instant,
}

impl Now {
    pub(crate) fn read(clock: &dyn Clock) -> Self {
        Self {
            wall: clock.now(),
            mono: Instant::now(),
        }
    }

    /// Both clocks, with the wall clock already read as `wall`.
    pub(crate) fn with_wall(wall: DateTime<Utc>) -> Self {
        Self {
            wall,
            mono: Instant::now(),
        }
    }
}

/// When an iteration is scheduled, on both clocks: relative intervals sleep
/// on the monotonic one, wall-clock schedules (times of day) on the wall
/// clock.
///
/// The wall-clock part is kept in whole microseconds since the Unix epoch,
/// rounded up: 8 bytes that cover every date chrono can represent (two of
/// these sit in every loop's state). Rounding up keeps an instant with
/// sub-microsecond digits from running twice: once run, the stored instant
/// is at or after the real one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ScheduledAt {
    wall_micros: i64,
    pub(crate) mono: Instant,
}

impl ScheduledAt {
    pub(crate) fn new(wall: DateTime<Utc>, mono: Instant) -> Self {
        let below_micro = wall.timestamp_subsec_nanos() % 1000 != 0;
        let wall_micros = wall
            .timestamp_micros()
            .saturating_add(i64::from(below_micro));
        Self { wall_micros, mono }
    }

    pub(crate) fn wall(self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.wall_micros).unwrap_or(if self.wall_micros < 0 {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
    }

    /// Now, on both clocks.
    pub(crate) fn now(now: Now) -> Self {
        Self::new(now.wall, now.mono)
    }

    /// A wall-clock instant, with the monotonic instant it falls on if the
    /// wall clock keeps pace with the monotonic one from `now`.
    pub(crate) fn at_wall(now: Now, wall: DateTime<Utc>) -> Self {
        let ahead = wall - now.wall;
        let mono = match ahead.to_std() {
            Ok(ahead) => now.mono.checked_add(ahead),
            Err(_) => {
                let behind = (-ahead).to_std().unwrap_or_default();
                now.mono.checked_sub(behind)
            }
        };
        Self::new(wall, mono.unwrap_or(now.mono))
    }

    /// A wall-clock instant that has just been reached: its monotonic
    /// instant is now, whatever the wall clock did on the way.
    pub(crate) fn reached(self, now: Now) -> Self {
        Self::at_wall(now, self.wall())
    }

    /// Where the wall clock will be at this instant of the monotonic clock,
    /// judging by both clocks `now`: for a relative interval, which runs on
    /// the monotonic clock, the stored wall-clock part goes stale after a
    /// step of the wall clock, its distance from now does not.
    pub(crate) fn expected_wall(self, now: Now) -> Option<DateTime<Utc>> {
        let ahead = self.mono.saturating_duration_since(now.mono);
        let behind = now.mono.saturating_duration_since(self.mono);
        let delta = |d: Duration| TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX);
        now.wall
            .checked_add_signed(delta(ahead))?
            .checked_sub_signed(delta(behind))
    }

    /// `period` later on both clocks (at most 100 years: validated).
    #[inline]
    pub(crate) fn plus(self, period: Duration) -> Self {
        let micros = i64::try_from(period.as_micros()).unwrap_or(i64::MAX);
        Self {
            wall_micros: self.wall_micros.saturating_add(micros),
            mono: self.mono.checked_add(period).unwrap_or(self.mono),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_representable_date_round_trips() {
        let mono = Instant::now();
        for wall in [
            DateTime::<Utc>::MIN_UTC,
            "1600-01-01T08:00:00Z".parse().unwrap(),
            "2263-01-01T08:00:00.000001Z".parse().unwrap(),
            DateTime::from_timestamp_micros(DateTime::<Utc>::MAX_UTC.timestamp_micros()).unwrap(),
        ] {
            assert_eq!(ScheduledAt::new(wall, mono).wall(), wall);
        }
    }

    #[test]
    fn sub_microsecond_instants_round_up() {
        let wall: DateTime<Utc> = "2024-01-01T08:00:00.0000005Z".parse().unwrap();
        let stored = ScheduledAt::new(wall, Instant::now()).wall();
        assert_eq!(stored.to_rfc3339(), "2024-01-01T08:00:00.000001+00:00");
        assert_eq!(
            ScheduledAt::new(DateTime::<Utc>::MAX_UTC, Instant::now()).wall(),
            DateTime::<Utc>::MAX_UTC
        );
    }
}
