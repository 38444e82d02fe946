//! [`ScheduledAt`]: the instant of one iteration, on both clocks.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::time::Instant;

use crate::clock::Clock;

/// When an iteration is scheduled, on both clocks: relative intervals sleep
/// on the monotonic one, wall-clock schedules (times of day) on the wall
/// clock. The wall-clock part is kept in nanoseconds since the Unix epoch
/// (years 1678 to 2261), which keeps it at 24 bytes: two of them sit in
/// every loop's state.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ScheduledAt {
    wall_nanos: i64,
    pub(crate) mono: Instant,
}

impl ScheduledAt {
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

    /// Now, on both clocks.
    pub(crate) fn now(clock: &dyn Clock) -> Self {
        Self::new(clock.now(), Instant::now())
    }

    /// A wall-clock instant, with the monotonic instant it falls on if the
    /// wall clock keeps pace with the monotonic one from now.
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

    /// A wall-clock instant that has just been reached: its monotonic
    /// instant is now, whatever the wall clock did on the way.
    pub(crate) fn reached(self, clock: &dyn Clock) -> Self {
        Self::at_wall(clock, self.wall())
    }

    /// Where the wall clock will be at this instant of the monotonic clock,
    /// judging by both clocks now: for a relative interval, which runs on
    /// the monotonic clock, the stored wall-clock part goes stale after a
    /// step of the wall clock, its distance from now does not.
    pub(crate) fn expected_wall(self, clock: &dyn Clock) -> Option<DateTime<Utc>> {
        let now = Self::now(clock);
        let ahead = self.mono.saturating_duration_since(now.mono);
        let behind = now.mono.saturating_duration_since(self.mono);
        let delta = |d: Duration| TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX);
        now.wall()
            .checked_add_signed(delta(ahead))?
            .checked_sub_signed(delta(behind))
    }

    /// `period` later on both clocks.
    pub(crate) fn plus(self, period: Duration) -> Self {
        let nanos = i64::try_from(period.as_nanos()).unwrap_or(i64::MAX);
        Self {
            wall_nanos: self.wall_nanos.saturating_add(nanos),
            mono: self.mono + period,
        }
    }
}
