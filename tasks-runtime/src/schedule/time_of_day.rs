//! Times of day: a clock time in a [`Zone`], and the instant each one falls
//! on for a given date, daylight-saving changes included.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, LocalResult, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc};

use super::kind::Kind;
use super::wall::WallOptions;
use super::zone::{AmbiguousTime, Zone};
use crate::error::ConfigError;

/// A time of day in a time zone, one entry of a times-of-day schedule.
///
/// Without a zone a time of day means UTC. In an IANA zone it follows the
/// zone's rules as they are on each date, recomputed for every iteration
/// (never a frozen offset):
///
/// - a time the clocks skip (spring forward) runs once, shifted forward by
///   the gap: 02:30 in New York on 2022-03-13 runs at 03:30 EDT, and 02:15
///   at Lord Howe Island (a 30-minute shift) on 2022-10-02 at 02:45;
/// - a time that happens twice (fall back) runs once, at the instant
///   [`AmbiguousTime`] picks (by default the later one, as in discord.py);
/// - on a date a zone skipped altogether (Pacific/Apia, 2011-12-30) the time
///   is shifted by the whole day and merges with the next date's run.
///
/// A fixed offset (`"+09:00"`) never shifts.
///
/// ```
/// use tasks_runtime::TimeOfDay;
///
/// let morning = TimeOfDay::parse("08:00").unwrap().in_zone(chrono_tz::Asia::Seoul);
/// assert_eq!(morning.to_string(), "08:00:00 Asia/Seoul");
/// assert!(TimeOfDay::parse("25:00").is_err());
/// assert_eq!(TimeOfDay::parse_in("08:00", "+09:00").unwrap().to_string(), "08:00:00 +09:00");
///
/// // Spring forward in New York: 02:30 does not exist on 2022-03-13.
/// let t = TimeOfDay::parse_in("02:30", "America/New_York").unwrap();
/// let date = chrono::NaiveDate::from_ymd_opt(2022, 3, 13).unwrap();
/// let at = t.on(date, Default::default());
/// assert_eq!(at.to_rfc3339(), "2022-03-13T07:30:00+00:00"); // 03:30 EDT
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimeOfDay {
    time: NaiveTime,
    zone: Zone,
}

impl TimeOfDay {
    /// A time of day in UTC.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidTimeOfDay`] when a part is out of range (hour
    /// 24 or more, minute or second 60 or more).
    ///
    /// ```
    /// use tasks_runtime::TimeOfDay;
    ///
    /// assert_eq!(TimeOfDay::new(8, 30, 0).unwrap().to_string(), "08:30:00 UTC");
    /// assert!(TimeOfDay::new(24, 0, 0).is_err());
    /// ```
    pub fn new(hour: u32, minute: u32, second: u32) -> Result<Self, ConfigError> {
        NaiveTime::from_hms_opt(hour, minute, second)
            .map(Self::utc)
            .ok_or_else(|| ConfigError::InvalidTimeOfDay {
                input: format!("{hour:02}:{minute:02}:{second:02}"),
            })
    }

    /// A chrono time of day, in UTC.
    pub fn utc(time: NaiveTime) -> Self {
        Self {
            time,
            zone: Zone::UTC,
        }
    }

    /// Reads `"HH:MM"` or `"HH:MM:SS"` (24-hour clock, two digits each), in
    /// UTC.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidTimeOfDay`] for anything else.
    ///
    /// ```
    /// use tasks_runtime::TimeOfDay;
    ///
    /// assert_eq!(TimeOfDay::parse("20:30").unwrap().to_string(), "20:30:00 UTC");
    /// assert!(TimeOfDay::parse("8:30").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let (h, m, s) =
            tasks_syntax::time_of_day(text).ok_or_else(|| ConfigError::InvalidTimeOfDay {
                input: text.to_owned(),
            })?;
        Self::new(h, m, s).map_err(|_| ConfigError::InvalidTimeOfDay {
            input: text.to_owned(),
        })
    }

    /// Reads a time of day and a zone name (IANA or fixed offset).
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidTimeOfDay`] or [`ConfigError::UnknownTimeZone`].
    ///
    /// ```
    /// use tasks_runtime::TimeOfDay;
    ///
    /// assert!(TimeOfDay::parse_in("08:00", "Asia/Seoul").is_ok());
    /// assert!(TimeOfDay::parse_in("08:00", "Asia/Atlantis").is_err());
    /// ```
    pub fn parse_in(text: &str, zone: &str) -> Result<Self, ConfigError> {
        Ok(Self::parse(text)?.in_zone(zone.parse::<Zone>()?))
    }

    /// The same clock time in another zone.
    pub fn in_zone(self, zone: impl Into<Zone>) -> Self {
        Self {
            zone: zone.into(),
            ..self
        }
    }

    /// The clock time.
    pub fn time(&self) -> NaiveTime {
        self.time
    }

    /// The zone.
    pub fn zone(&self) -> Zone {
        self.zone
    }

    /// The instant this time of day falls on at `date` (a date in its zone).
    ///
    /// A time the clocks skip is shifted forward by the gap (it reads the
    /// clock time with the offset in force before the gap, as discord.py
    /// does); a time that happens twice resolves as `ambiguous` says.
    ///
    /// ```
    /// use chrono::NaiveDate;
    /// use tasks_runtime::{AmbiguousTime, TimeOfDay};
    ///
    /// // Lord Howe Island moves its clocks by 30 minutes, 02:00 -> 02:30.
    /// let t = TimeOfDay::parse_in("02:15", "Australia/Lord_Howe").unwrap();
    /// let date = NaiveDate::from_ymd_opt(2022, 10, 2).unwrap();
    /// // 02:15 does not exist that night: it runs at 02:45 (+11:00).
    /// assert_eq!(t.on(date, AmbiguousTime::Later).to_rfc3339(), "2022-10-01T15:45:00+00:00");
    /// ```
    pub fn on(&self, date: NaiveDate, ambiguous: AmbiguousTime) -> DateTime<Utc> {
        self.try_on(date, ambiguous).unwrap_or(if date.year() < 0 {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
    }

    /// [`on`](Self::on), `None` at the ends of the representable dates.
    fn try_on(&self, date: NaiveDate, ambiguous: AmbiguousTime) -> Option<DateTime<Utc>> {
        let local = date.and_time(self.time);
        let tz = match self.zone {
            Zone::Fixed(offset) => return Some(local.checked_sub_offset(offset)?.and_utc()),
            Zone::Iana(tz) => tz,
        };
        match tz.from_local_datetime(&local) {
            LocalResult::Single(at) => Some(at.with_timezone(&Utc)),
            LocalResult::Ambiguous(first, second) => {
                let (first, second) = (first.with_timezone(&Utc), second.with_timezone(&Utc));
                Some(match ambiguous {
                    AmbiguousTime::Earlier => first.min(second),
                    AmbiguousTime::Later => first.max(second),
                })
            }
            // In a gap: the clocks went from `T + before` straight to
            // `T + after` at the instant T. Read the clock time with the
            // offset in force before the gap: that lands `after - before`
            // later on the new clock. Since `local < T + after` and no zone
            // is more than 14 hours ahead of UTC, T is later than `local`
            // read as UTC minus 14 hours: the offset there is `before`.
            LocalResult::None => {
                let probe = local.checked_sub_signed(TimeDelta::hours(14))?.and_utc();
                let before = self.zone.offset_at(probe);
                Some(local.checked_sub_offset(before)?.and_utc())
            }
        }
    }

    /// The instant a loop on `times` runs next: the earliest instant of any
    /// listed time, over all their zones, that is at or after `now` and
    /// strictly after `last_run` (the instant of the previous run, if any).
    ///
    /// This is what a running loop computes for each iteration, from the
    /// wall clock, with the zone rules in force on each date; it is offered
    /// so that a schedule can be shown or checked without running a loop.
    /// `None` when `times` is empty.
    ///
    /// Because of `last_run`, the same scheduled time never runs twice: not
    /// after a fall-back hour, and not after the wall clock was set back.
    ///
    /// ```
    /// use tasks_runtime::{AmbiguousTime, TimeOfDay};
    ///
    /// let t = [TimeOfDay::parse_in("01:30", "America/New_York").unwrap()];
    /// let utc = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    /// let earlier = AmbiguousTime::Earlier;
    /// // The first 01:30 (EDT) of 2022-11-06...
    /// let first = TimeOfDay::next_run(&t, utc("2022-11-06T04:00:00Z"), None, earlier).unwrap();
    /// assert_eq!(first, utc("2022-11-06T05:30:00Z"));
    /// // ...and once it has run, the next is the next day's, not the second 01:30.
    /// let next = TimeOfDay::next_run(&t, first, Some(first), earlier).unwrap();
    /// assert_eq!(next, utc("2022-11-07T06:30:00Z"));
    /// ```
    pub fn next_run(
        times: &[TimeOfDay],
        now: DateTime<Utc>,
        last_run: Option<DateTime<Utc>>,
        ambiguous: AmbiguousTime,
    ) -> Option<DateTime<Utc>> {
        next_instant(times, now, last_run, ambiguous)
    }
}

impl From<NaiveTime> for TimeOfDay {
    fn from(time: NaiveTime) -> Self {
        Self::utc(time)
    }
}

impl FromStr for TimeOfDay {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// As its text: `"08:00:00 Asia/Seoul"`.
#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
impl serde::Serialize for TimeOfDay {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.time.format("%H:%M:%S%.f"), self.zone)
    }
}

/// A checked list of times of day: not empty, sorted by clock time then
/// zone name, without duplicates.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Times(Vec<TimeOfDay>);

impl Times {
    /// The list, sorted and without duplicates.
    pub(crate) fn new(mut times: Vec<TimeOfDay>) -> Result<Self, ConfigError> {
        if times.is_empty() {
            return Err(ConfigError::EmptyTimes);
        }
        times.sort_by_cached_key(|t| (t.time, t.zone.to_string()));
        times.dedup();
        Ok(Self(times))
    }

    /// The times, in their order.
    pub(crate) fn as_slice(&self) -> &[TimeOfDay] {
        &self.0
    }
}

/// On the wall clock: each time of day, in its zone.
impl Kind for Times {
    fn monotonic_period(&self) -> Option<std::time::Duration> {
        None
    }

    fn next_wall_instant(
        &self,
        now: DateTime<Utc>,
        after: Option<DateTime<Utc>>,
        options: &WallOptions,
    ) -> Option<DateTime<Utc>> {
        next_instant(&self.0, now, after, options.ambiguous)
    }

    /// The zone of the first time (all share one, as a rule).
    fn display_zone(&self) -> Zone {
        self.0.first().map_or(Zone::UTC, |t| t.zone)
    }

    fn describe(&self) -> String {
        let times: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        format!("at {}", times.join(", "))
    }
}

/// The earliest instant of any listed time that is at or after `now` and
/// strictly after `after` (the last instant run), over every zone.
pub(crate) fn next_instant(
    times: &[TimeOfDay],
    now: DateTime<Utc>,
    after: Option<DateTime<Utc>>,
    ambiguous: AmbiguousTime,
) -> Option<DateTime<Utc>> {
    let due = |at: &DateTime<Utc>| *at >= now && after.is_none_or(|last| *at > last);
    // Dates are counted from the later of `now` and `after`: after the wall
    // clock was set back, the last run can be days ahead of `now`.
    let base = after.map_or(now, |last| last.max(now));
    times
        .iter()
        .filter_map(|time| {
            let today = time.zone.local(base).date();
            // The instants of one time of day never decrease from a date to
            // the next, so the first one due is the earliest. Yesterday and
            // the day after tomorrow cover gaps that move a time across
            // midnight and zones that skipped a whole date.
            (-1..=2)
                .filter_map(|days| today.checked_add_signed(TimeDelta::days(days)))
                .filter_map(|date| time.try_on(date, ambiguous))
                .find(due)
        })
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::America::New_York;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn next(times: &[TimeOfDay], now: &str) -> DateTime<Utc> {
        next_instant(times, utc(now), None, AmbiguousTime::Later).unwrap()
    }

    #[test]
    fn inclusive_at_the_exact_instant() {
        let noon = [TimeOfDay::parse("12:00").unwrap()];
        assert_eq!(
            next(&noon, "2024-01-01T10:00:00Z"),
            utc("2024-01-01T12:00:00Z")
        );
        assert_eq!(
            next(&noon, "2024-01-01T12:00:00Z"),
            utc("2024-01-01T12:00:00Z")
        );
        assert_eq!(
            next(&noon, "2024-01-01T12:00:00.000001Z"),
            utc("2024-01-02T12:00:00Z")
        );
    }

    #[test]
    fn wraps_midnight_and_year() {
        let times: Vec<_> = ["00:00", "03:00", "18:00"]
            .iter()
            .map(|t| TimeOfDay::parse(t).unwrap())
            .collect();
        assert_eq!(
            next(&times, "2024-01-01T04:00:00Z"),
            utc("2024-01-01T18:00:00Z")
        );
        assert_eq!(
            next(&times, "2024-01-01T19:00:00Z"),
            utc("2024-01-02T00:00:00Z")
        );
        assert_eq!(
            next(&times[..1], "2024-12-31T23:00:00Z"),
            utc("2025-01-01T00:00:00Z")
        );
    }

    #[test]
    fn japan_every_three_hours() {
        let times: Vec<_> = (0..8)
            .map(|h| {
                TimeOfDay::new(h * 3, 0, 0)
                    .unwrap()
                    .in_zone(chrono_tz::Asia::Tokyo)
            })
            .collect();
        assert_eq!(
            next(&times, "2024-01-01T14:59:00Z"),
            utc("2024-01-01T15:00:00Z")
        );
        assert_eq!(
            next(&times, "2024-01-01T15:01:00Z"),
            utc("2024-01-01T18:00:00Z")
        );
    }

    #[test]
    fn new_york_follows_daylight_saving() {
        let eight = [TimeOfDay::parse("08:00").unwrap().in_zone(New_York)];
        assert_eq!(
            next(&eight, "2024-01-10T00:00:00Z"),
            utc("2024-01-10T13:00:00Z")
        );
        assert_eq!(
            next(&eight, "2024-07-10T00:00:00Z"),
            utc("2024-07-10T12:00:00Z")
        );
    }

    #[test]
    fn a_skipped_time_is_shifted_by_the_gap() {
        let t = [TimeOfDay::parse("02:30").unwrap().in_zone(New_York)];
        assert_eq!(
            next(&t, "2022-03-13T05:00:00Z"),
            utc("2022-03-13T07:30:00Z")
        );
    }

    #[test]
    fn a_repeated_time_runs_once_at_the_chosen_instant() {
        let t = [TimeOfDay::parse("01:30").unwrap().in_zone(New_York)];
        assert_eq!(
            next(&t, "2022-11-06T04:00:00Z"),
            utc("2022-11-06T06:30:00Z")
        );
        // Between the two occurrences, the later one is still ahead.
        assert_eq!(
            next(&t, "2022-11-06T05:45:00Z"),
            utc("2022-11-06T06:30:00Z")
        );
        let earlier = next_instant(
            &t,
            utc("2022-11-06T04:00:00Z"),
            None,
            AmbiguousTime::Earlier,
        )
        .unwrap();
        assert_eq!(earlier, utc("2022-11-06T05:30:00Z"));
        // Once run, the same date is never run again.
        let again = next_instant(
            &t,
            utc("2022-11-06T05:30:00Z"),
            Some(earlier),
            AmbiguousTime::Earlier,
        )
        .unwrap();
        assert_eq!(again, utc("2022-11-07T06:30:00Z"));
    }

    #[test]
    fn fixed_offsets_never_shift() {
        let t = [TimeOfDay::parse_in("02:30", "+09:00").unwrap()];
        assert_eq!(
            next(&t, "2022-03-13T00:00:00Z"),
            utc("2022-03-13T17:30:00Z")
        );
    }

    #[test]
    fn mixed_zones_pick_the_earliest_instant() {
        let t = [
            TimeOfDay::parse("23:00").unwrap(),
            TimeOfDay::parse_in("10:00", "+09:00").unwrap(),
        ];
        assert_eq!(
            next(&t, "2024-01-01T22:00:00Z"),
            utc("2024-01-01T23:00:00Z")
        );
    }

    #[test]
    fn parse_rejects_what_is_not_a_time() {
        for bad in ["25:00", "8am", "12", "12:60", "1:00", "12:00:00:00", ""] {
            assert!(TimeOfDay::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            TimeOfDay::parse("23:59:59").unwrap().time().to_string(),
            "23:59:59"
        );
    }

    #[test]
    fn a_backward_clock_step_never_reruns_and_still_finds_the_next_time() {
        // The last run was at 08:00 on 2024-01-04, then the clock was set
        // back three days: nothing runs again before 2024-01-05 08:00.
        let t = [TimeOfDay::parse("08:00").unwrap()];
        let last = utc("2024-01-04T08:00:00Z");
        let next = next_instant(
            &t,
            utc("2024-01-01T09:00:00Z"),
            Some(last),
            AmbiguousTime::Later,
        );
        assert_eq!(next, Some(utc("2024-01-05T08:00:00Z")));
    }

    #[test]
    fn a_skipped_date_merges_with_the_next_one() {
        // Samoa skipped 2011-12-30 (from -10:00 to +14:00).
        let t = [TimeOfDay::parse_in("10:00", "Pacific/Apia").unwrap()];
        let date = |d| NaiveDate::from_ymd_opt(2011, 12, d).unwrap();
        assert_eq!(
            t[0].on(date(29), AmbiguousTime::Later),
            utc("2011-12-29T20:00:00Z")
        );
        assert_eq!(
            t[0].on(date(30), AmbiguousTime::Later),
            utc("2011-12-30T20:00:00Z")
        );
        assert_eq!(
            t[0].on(date(31), AmbiguousTime::Later),
            utc("2011-12-30T20:00:00Z")
        );
        let mut at = utc("2011-12-29T00:00:00Z");
        let mut last = None;
        let mut runs = Vec::new();
        for _ in 0..3 {
            let next = next_instant(&t, at, last, AmbiguousTime::Later).unwrap();
            runs.push(next.to_rfc3339());
            (at, last) = (next, Some(next));
        }
        assert_eq!(
            runs,
            [
                "2011-12-29T20:00:00+00:00",
                "2011-12-30T20:00:00+00:00",
                "2011-12-31T20:00:00+00:00"
            ]
        );
    }

    #[test]
    fn a_gap_can_move_a_time_past_midnight() {
        // Nuuk springs forward from 23:00 (-02:00) to 00:00 (-01:00) on
        // 2024-03-30: 23:30 that evening runs at 00:30 the next day.
        let t = [TimeOfDay::parse_in("23:30", "America/Nuuk").unwrap()];
        assert_eq!(
            next(&t, "2024-03-30T12:00:00Z"),
            utc("2024-03-31T01:30:00Z")
        );
        // Still due after midnight, since the date it belongs to is the 30th.
        assert_eq!(
            next(&t, "2024-03-31T01:10:00Z"),
            utc("2024-03-31T01:30:00Z")
        );
        let after = next_instant(
            &t,
            utc("2024-03-31T01:30:00Z"),
            Some(utc("2024-03-31T01:30:00Z")),
            AmbiguousTime::Later,
        );
        assert_eq!(after, Some(utc("2024-04-01T00:30:00Z")));
    }

    #[test]
    fn ambiguous_instants_are_ordered_whatever_the_zone() {
        // Moscow went back from +04:00 to +03:00 for good on 2014-10-26.
        let t = TimeOfDay::parse_in("01:30", "Europe/Moscow").unwrap();
        let date = NaiveDate::from_ymd_opt(2014, 10, 26).unwrap();
        assert_eq!(
            t.on(date, AmbiguousTime::Earlier),
            utc("2014-10-25T21:30:00Z")
        );
        assert_eq!(
            t.on(date, AmbiguousTime::Later),
            utc("2014-10-25T22:30:00Z")
        );
    }

    #[test]
    fn extreme_instants_do_not_panic() {
        let t = [TimeOfDay::parse_in("12:00", "-05:00").unwrap()];
        assert_eq!(
            next_instant(&t, DateTime::<Utc>::MAX_UTC, None, AmbiguousTime::Later),
            None
        );
        assert!(next_instant(&t, DateTime::<Utc>::MIN_UTC, None, AmbiguousTime::Later).is_some());
        let ny = [TimeOfDay::parse_in("12:00", "America/New_York").unwrap()];
        assert_eq!(
            next_instant(&ny, DateTime::<Utc>::MAX_UTC, None, AmbiguousTime::Later),
            None
        );
        assert_eq!(
            next_instant(&[], Utc::now(), None, AmbiguousTime::Later),
            None
        );
    }
}
