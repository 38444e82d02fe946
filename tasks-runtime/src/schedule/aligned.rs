//! Aligned intervals: a relative interval laid on a fixed grid of the wall
//! clock (whole multiples of the interval since an anchor, the Unix epoch
//! by default), so that replicas started at different moments compute the
//! same instants. What a relative interval becomes in a cluster's claim
//! mode.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::kind::Kind;
use super::relative::Every;
use super::wall::WallOptions;
use super::zone::Zone;

/// A relative interval on the grid `anchor + k·period`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Aligned {
    pub(crate) every: Every,
    pub(crate) anchor: DateTime<Utc>,
}

impl Aligned {
    /// The earliest grid instant at or after `now` and strictly after
    /// `after`; `None` past chrono's last date, or for a zero period (which
    /// has no grid: refused before it gets here).
    pub(crate) fn next_instant(
        &self,
        now: DateTime<Utc>,
        after: Option<DateTime<Utc>>,
    ) -> Option<DateTime<Utc>> {
        let period = i128::try_from(self.every.period().as_nanos()).ok()?;
        if period == 0 {
            return None;
        }
        let since = |at: DateTime<Utc>| nanos(at - self.anchor);
        // The first grid index at or after `now`...
        let mut index =
            since(now).div_euclid(period) + i128::from(since(now).rem_euclid(period) != 0);
        // ...and strictly after `after`.
        if let Some(after) = after {
            index = index.max(since(after).div_euclid(period) + 1);
        }
        let offset = index.checked_mul(period)?;
        let seconds = i64::try_from(offset.div_euclid(1_000_000_000)).ok()?;
        let subsec = u32::try_from(offset.rem_euclid(1_000_000_000)).ok()?;
        let delta = TimeDelta::new(seconds, subsec)?;
        self.anchor.checked_add_signed(delta)
    }
}

/// On the wall clock: the grid's instants.
impl Kind for Aligned {
    fn monotonic_period(&self) -> Option<Duration> {
        None
    }

    fn next_wall_instant(
        &self,
        now: DateTime<Utc>,
        after: Option<DateTime<Utc>>,
        _options: &WallOptions,
    ) -> Option<DateTime<Utc>> {
        self.next_instant(now, after)
    }

    fn display_zone(&self) -> Zone {
        Zone::UTC
    }

    fn describe(&self) -> String {
        format!(
            "every {} s, on the grid since {}",
            self.every.period().as_secs_f64(),
            self.anchor
        )
    }
}

/// A span in nanoseconds, wide enough for any two of chrono's dates.
fn nanos(span: TimeDelta) -> i128 {
    i128::from(span.num_seconds()) * 1_000_000_000 + i128::from(span.subsec_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aligned(seconds: f64) -> Aligned {
        Aligned {
            every: Every {
                seconds,
                minutes: 0.0,
                hours: 0.0,
            },
            anchor: DateTime::UNIX_EPOCH,
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn instants_are_whole_multiples_of_the_period_since_the_anchor() {
        let every_200ms = aligned(0.2);
        let next = every_200ms.next_instant(utc("2026-12-02T09:00:00.150Z"), None);
        assert_eq!(next, Some(utc("2026-12-02T09:00:00.200Z")));
        let on_the_grid = every_200ms.next_instant(utc("2026-12-02T09:00:00.400Z"), None);
        assert_eq!(on_the_grid, Some(utc("2026-12-02T09:00:00.400Z")));
        let after_it = every_200ms.next_instant(
            utc("2026-12-02T09:00:00.400Z"),
            Some(utc("2026-12-02T09:00:00.400Z")),
        );
        assert_eq!(after_it, Some(utc("2026-12-02T09:00:00.600Z")));
    }

    #[test]
    fn an_anchor_shifts_the_grid_and_times_before_it_work_too() {
        let hourly_at_half_past = Aligned {
            anchor: utc("2026-01-01T00:30:00Z"),
            ..aligned(3600.0)
        };
        assert_eq!(
            hourly_at_half_past.next_instant(utc("2025-06-01T10:45:00Z"), None),
            Some(utc("2025-06-01T11:30:00Z"))
        );
    }

    #[test]
    fn the_ends_of_the_calendar_give_none_not_a_panic() {
        let daily = aligned(86_400.0);
        assert_eq!(daily.next_instant(DateTime::<Utc>::MAX_UTC, None), None);
        assert!(daily.next_instant(DateTime::<Utc>::MIN_UTC, None).is_some());
        assert_eq!(
            aligned(0.0).next_instant(utc("2026-01-01T00:00:00Z"), None),
            None
        );
    }
}
