//! Cron expressions: a [`Cron`] schedule, read by croner, evaluated on the
//! local calendar of its zone, and the instant each local match falls on,
//! daylight-saving changes included.
//!
//! croner finds the local date-times that match (it is asked about naive
//! local times, which have no gaps and no repeats); this file turns them
//! into instants. The zone's time line is cut into spans of constant UTC
//! offset, walked from `now`: in a span of offset `o`, the local time `l`
//! is the instant `l - o`. At the edges of a span the rules of times of
//! day apply to an expression of fixed times (a local time in a gap is
//! shifted by the gap, a repeated one runs once, at the chosen pass), and
//! real time to an expression whose minute or hour field is a wildcard
//! (both passes run, a gap has nothing).
//!
//! chrono-tz does not publish its transitions, so they are found by
//! reading the offset every [`PROBE`] and bisecting to the second where it
//! changes; only the changes near `now` and near the first match can move
//! the answer, so the walk reads the offset there and jumps over the rest.
//! croner bounds the search (nothing past the year 5000): an expression
//! that never matches ends it with `None`.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};

use super::kind::Kind;
use super::wall::WallOptions;
use super::zone::{AmbiguousTime, Zone};
use crate::error::ConfigError;

/// A cron schedule: an expression of 5 fields (minute, hour, day of month,
/// month, day of week), or 6 with seconds first, in a [`Zone`].
///
/// The syntax is [croner]'s: lists (`1,15`), ranges (`MON-FRI`), steps
/// (`*/15`, `9-17/2`), names of days and months, `?`, `L` (the last day of
/// the month; `5L`, its last Friday), `W` (`15W`, the weekday nearest the
/// 15th), `#` (`1#2`, its second Monday) and the nicknames `@yearly`,
/// `@monthly`, `@weekly`, `@daily`, `@hourly`. As in Vixie cron, a day of
/// the month and a day of the week both given match either (`0 0 1 * MON`
/// is the 1st and every Monday); a `+` before the day of the week makes it
/// both (`0 0 1-7 * +MON`, the first Monday).
///
/// The expression is evaluated on the local calendar of its zone (UTC
/// unless [`in_zone`](Cron::in_zone) says otherwise), with the zone's rules
/// as they are on each date:
///
/// - an expression of fixed times follows the rules of
///   [`TimeOfDay`](crate::TimeOfDay): a local time the clocks skip runs
///   once, shifted forward by the gap, and one that happens twice runs
///   once, at the pass [`AmbiguousTime`] picks (by default the later);
/// - an expression whose minute or hour field starts with `*` (`*`,
///   `*/15`) follows real time, as in Vixie cron: in a repeated hour it
///   runs on both passes, and a gap has nothing for it to run.
///
/// `docs/time-zones.md` in the repository works through examples, and
/// says where this differs from Vixie cron and from croner's own
/// evaluation.
///
/// ```
/// use tasks_runtime::Cron;
///
/// let standup = Cron::parse("0 30 9 * * MON-FRI").unwrap().in_zone(chrono_tz::Asia::Seoul);
/// assert_eq!(standup.to_string(), "0 30 9 * * MON-FRI (Asia/Seoul)");
/// assert!(Cron::parse("0 30 25 * * *").is_err());
///
/// // 2026-03-06 is a Friday: the next run after 09:30 is Monday's.
/// let utc = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
/// let friday = standup.next_run(utc("2026-03-06T00:00:00Z"), None, Default::default());
/// assert_eq!(friday, Some(utc("2026-03-06T00:30:00Z")));
/// let monday = standup.next_run(utc("2026-03-06T00:30:00Z"), friday, Default::default());
/// assert_eq!(monday, Some(utc("2026-03-09T00:30:00Z")));
/// ```
///
/// [croner]: https://docs.rs/croner/4
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Cron {
    /// Shared by the copies (`Loop::cron`, `Loop::interval`): 16 bytes
    /// with the zone, so that a loop's schedule stays as small as a
    /// relative interval.
    parsed: Arc<Parsed>,
    zone: Zone,
}

/// What croner read.
#[derive(PartialEq, Eq, Hash)]
struct Parsed {
    /// The expression as given, trimmed.
    expression: Box<str>,
    pattern: croner::Cron,
    /// Whether the minute or the hour field starts with `*`.
    real_time: bool,
}

/// croner as `tasks` reads cron expressions, in the runtime and in the
/// attribute alike: 5 fields or 6 with seconds first, no year field.
fn parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
}

impl Cron {
    /// Reads a cron expression, in UTC.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidCron`] when croner cannot read it, with
    /// croner's message, the field at fault and what it takes.
    ///
    /// ```
    /// use tasks_runtime::{ConfigError, Cron};
    ///
    /// assert_eq!(Cron::parse("*/15 9-17 * * MON-FRI").unwrap().to_string(), "*/15 9-17 * * MON-FRI (UTC)");
    /// let Err(ConfigError::InvalidCron { reason, .. }) = Cron::parse("0 24 * * *") else { panic!() };
    /// assert_eq!(reason, "number out of bounds in the hour field `24`: hours go from 0 to 23");
    /// ```
    pub fn parse(expression: &str) -> Result<Cron, ConfigError> {
        let parser = parser();
        let pattern = parser.parse(expression).map_err(|_| {
            let parse = |text: &str| parser.parse(text).map(drop).map_err(|e| e.to_string());
            ConfigError::InvalidCron {
                input: expression.to_owned(),
                reason: tasks_syntax::cron_error(expression, parse)
                    .unwrap_or_else(|| "croner cannot read it".to_owned()),
            }
        })?;
        let real_time = follows_real_time(pattern.as_str());
        Ok(Cron {
            parsed: Arc::new(Parsed {
                expression: expression.trim().into(),
                pattern,
                real_time,
            }),
            zone: Zone::UTC,
        })
    }

    /// Reads a cron expression and a zone name (IANA or fixed offset).
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidCron`] or [`ConfigError::UnknownTimeZone`].
    ///
    /// ```
    /// use tasks_runtime::Cron;
    ///
    /// assert!(Cron::parse_in("0 9 * * *", "Europe/Paris").is_ok());
    /// assert!(Cron::parse_in("0 9 * * *", "Europe/Atlantis").is_err());
    /// ```
    pub fn parse_in(expression: &str, zone: &str) -> Result<Cron, ConfigError> {
        Ok(Self::parse(expression)?.in_zone(zone.parse::<Zone>()?))
    }

    /// The same expression, evaluated in another zone.
    ///
    /// ```
    /// use tasks_runtime::Cron;
    ///
    /// let nightly = Cron::parse("0 3 * * *").unwrap().in_zone(chrono_tz::Europe::Paris);
    /// assert_eq!(nightly.zone().to_string(), "Europe/Paris");
    /// ```
    pub fn in_zone(self, zone: impl Into<Zone>) -> Self {
        Self {
            zone: zone.into(),
            ..self
        }
    }

    /// The expression, as given.
    ///
    /// ```
    /// assert_eq!(tasks_runtime::Cron::parse("@daily").unwrap().expression(), "@daily");
    /// ```
    pub fn expression(&self) -> &str {
        &self.parsed.expression
    }

    /// The zone the expression is evaluated in.
    ///
    /// ```
    /// assert_eq!(tasks_runtime::Cron::parse("@daily").unwrap().zone(), tasks_runtime::Zone::UTC);
    /// ```
    pub fn zone(&self) -> Zone {
        self.zone
    }

    /// Whether the expression follows real time across daylight-saving
    /// changes (its minute or hour field starts with `*`: both passes of a
    /// repeated hour run, a gap has nothing), rather than the rules of
    /// times of day (a time in a gap is shifted by it, a repeated time runs
    /// once).
    ///
    /// ```
    /// use tasks_runtime::Cron;
    ///
    /// assert!(Cron::parse("*/15 * * * *").unwrap().follows_real_time());
    /// assert!(Cron::parse("@hourly").unwrap().follows_real_time());
    /// assert!(!Cron::parse("0 30 2 * * *").unwrap().follows_real_time());
    /// assert!(!Cron::parse("0,30 9-17 * * MON-FRI").unwrap().follows_real_time());
    /// ```
    pub fn follows_real_time(&self) -> bool {
        self.parsed.real_time
    }

    /// The instant a loop on this schedule runs next: the earliest instant
    /// of the schedule that is at or after `now` and strictly after
    /// `last_run` (the instant of the previous run, if any); `None` when
    /// the expression matches no later date (`0 0 30 2 *`), or none before
    /// the year 5000, croner's search limit.
    ///
    /// This is what a running loop computes for each iteration, from the
    /// wall clock; it is offered so that a schedule can be shown or checked
    /// without running a loop. Because of `last_run`, the same instant
    /// never runs twice, not even after the wall clock was set back.
    ///
    /// ```
    /// use tasks_runtime::{AmbiguousTime, Cron};
    ///
    /// let utc = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    /// // Every 30 minutes in New York, through the night the clocks go back.
    /// let cron = Cron::parse_in("*/30 1 * * *", "America/New_York").unwrap();
    /// let mut runs = Vec::new();
    /// let (mut now, mut last) = (utc("2022-11-06T04:00:00Z"), None);
    /// while let Some(next) = cron.next_run(now, last, AmbiguousTime::Later) {
    ///     if next > utc("2022-11-06T12:00:00Z") { break; }
    ///     runs.push(next.format("%H:%M").to_string());
    ///     (now, last) = (next, Some(next));
    /// }
    /// // 01:00 and 01:30 EDT, then 01:00 and 01:30 EST.
    /// assert_eq!(runs, ["05:00", "05:30", "06:00", "06:30"]);
    /// ```
    pub fn next_run(
        &self,
        now: DateTime<Utc>,
        last_run: Option<DateTime<Utc>>,
        ambiguous: AmbiguousTime,
    ) -> Option<DateTime<Utc>> {
        next_instant(self, now, last_run, ambiguous)
    }
}

/// Whether the minute or hour field of croner's normalized pattern starts
/// with `*`, as Vixie cron's `MIN_STAR` and `HR_STAR` do.
fn follows_real_time(normalized: &str) -> bool {
    let fields: Vec<&str> = normalized.split_whitespace().collect();
    let minute_and_hour = match fields.as_slice() {
        [_, minute, hour, _, _, _] | [minute, hour, _, _, _] => [*minute, *hour],
        // croner accepts nothing else with its year field disallowed.
        _ => return false,
    };
    minute_and_hour.iter().any(|field| field.starts_with('*'))
}

impl FromStr for Cron {
    type Err = ConfigError;

    /// [`Cron::parse`]: in UTC.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for Cron {
    type Error = ConfigError;

    /// [`Cron::parse`]: in UTC.
    fn try_from(expression: &str) -> Result<Self, Self::Error> {
        Self::parse(expression)
    }
}

impl TryFrom<String> for Cron {
    type Error = ConfigError;

    /// [`Cron::parse`]: in UTC.
    fn try_from(expression: String) -> Result<Self, Self::Error> {
        Self::parse(&expression)
    }
}

/// The expression as given, then the zone in parentheses:
/// `0 30 9 * * MON-FRI (Asia/Seoul)`.
impl fmt::Display for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.parsed.expression, self.zone)
    }
}

/// As its text: `"0 30 9 * * MON-FRI (Asia/Seoul)"`.
#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
impl serde::Serialize for Cron {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl fmt::Debug for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cron")
            .field("expression", &self.parsed.expression)
            .field("zone", &self.zone)
            .finish()
    }
}

/// On the wall clock: the instants the expression matches in its zone.
impl Kind for Cron {
    fn monotonic_period(&self) -> Option<std::time::Duration> {
        None
    }

    fn next_wall_instant(
        &self,
        now: DateTime<Utc>,
        after: Option<DateTime<Utc>>,
        options: &WallOptions,
    ) -> Option<DateTime<Utc>> {
        next_instant(self, now, after, options.ambiguous)
    }

    fn display_zone(&self) -> Zone {
        self.zone
    }

    fn describe(&self) -> String {
        format!("cron {self}")
    }
}

/// How often the offset is read when looking for a change of it. Two
/// changes closer than this that return to the same offset would go
/// unseen; no zone has them.
const PROBE: TimeDelta = TimeDelta::hours(1);

/// More than any change of UTC offset (offsets go from -12:00 to +14:00):
/// the widest gap or repeated stretch of local time.
const WIDEST_CHANGE: TimeDelta = TimeDelta::hours(26);

/// The earliest instant of `cron` that is at or after `now` and strictly
/// after `after`.
pub(crate) fn next_instant(
    cron: &Cron,
    now: DateTime<Utc>,
    after: Option<DateTime<Utc>>,
    ambiguous: AmbiguousTime,
) -> Option<DateTime<Utc>> {
    // Every instant of a cron schedule is a whole second: the first one
    // that is due.
    let mut from = ceil_to_second(now)?;
    if let Some(after) = after {
        let next_second = floor_to_second(after).checked_add_signed(TimeDelta::seconds(1))?;
        from = from.max(next_second);
    }
    let mut matches = Matches {
        pattern: &cron.parsed.pattern,
        known: None,
    };
    match cron.zone {
        Zone::Fixed(offset) => {
            let offset = offset.local_minus_utc();
            instant(matches.first_from(local(from, offset)?)?, offset)
        }
        Zone::Iana(Tz::UTC) => instant(matches.first_from(local(from, 0)?)?, 0),
        Zone::Iana(tz) => Walk {
            tz,
            fixed_times: !cron.parsed.real_time,
            ambiguous,
        }
        .first_from(from, &mut matches),
    }
}

/// croner's matches: the first local date-time at or after a given one,
/// remembering the last answer (the walk often asks again from a point
/// before it).
struct Matches<'a> {
    pattern: &'a croner::Cron,
    /// `(asked, answer)`: every local time from `asked` to `answer` has
    /// `answer` as its first match.
    known: Option<(NaiveDateTime, NaiveDateTime)>,
}

impl Matches<'_> {
    /// The first local date-time at or after `local` that matches; `None`
    /// when there is none before croner's search limit.
    fn first_from(&mut self, local: NaiveDateTime) -> Option<NaiveDateTime> {
        if let Some((asked, answer)) = self.known {
            if asked <= local && local <= answer {
                return Some(answer);
            }
        }
        let answer = self.pattern.find_next_occurrence(&local, true).ok()?;
        self.known = Some((local, answer));
        Some(answer)
    }
}

/// The walk along the spans of constant offset of an IANA zone.
struct Walk {
    tz: Tz,
    /// The rules of times of day at the edges of a span, rather than real
    /// time.
    fixed_times: bool,
    ambiguous: AmbiguousTime,
}

impl Walk {
    /// The earliest instant of the schedule at or after `start`.
    ///
    /// Changes of offset only matter within [`WIDEST_CHANGE`] of `start`
    /// and of the first match found: no instant between them comes from a
    /// local time before that match. So the walk reads the offset near
    /// both, and jumps over whatever lies between (months of a rare
    /// schedule, or centuries before the first date of the zone's rules).
    fn first_from(&self, start: DateTime<Utc>, matches: &mut Matches) -> Option<DateTime<Utc>> {
        let later_pass = self.fixed_times && self.ambiguous == AmbiguousTime::Later;
        let mut at = start;
        let mut offset = self.offset(at);
        // The change of offset that began this span, if recent enough to
        // matter: `(when, the offset before it)`.
        let mut began = self.last_change(at, offset);
        // No local time before this one can give the answer (set by a
        // jump).
        let mut floor: Option<NaiveDateTime> = None;
        // A local time of the gap before this span, shifted past it: it may
        // lie after the span's first match.
        let mut shifted: Option<DateTime<Utc>> = None;
        loop {
            let raise = |local: NaiveDateTime| floor.map_or(local, |f| f.max(local));
            let mut local_from = raise(local(at, offset)?);
            if let (true, Some((change, before))) = (self.fixed_times, began) {
                if before < offset {
                    // A gap: the local times from `change + before` to
                    // `change + offset` never happen, and run `offset -
                    // before` later, read with the offset before it.
                    let gap_from = raise(local(change, before)?.max(local(at, before)?));
                    let gap_to = local(change, offset)?;
                    if gap_from < gap_to {
                        if let Some(skipped) = matches.first_from(gap_from) {
                            if skipped < gap_to {
                                let at = instant(skipped, before)?;
                                shifted = Some(shifted.map_or(at, |s| s.min(at)));
                            }
                        }
                    }
                } else if self.ambiguous == AmbiguousTime::Earlier {
                    // A repeat: its local times ran on the first pass, in
                    // the span before.
                    local_from = local_from.max(local(change, before)?);
                }
            }
            let Some(found) = matches.first_from(local_from) else {
                return shifted;
            };
            let candidate = instant(found, offset)?;
            let earliest = |c: DateTime<Utc>| Some(shifted.map_or(c, |s| s.min(c)));
            // A change of offset before the candidate ends the span first;
            // with the later pass chosen, so may one just after it that
            // repeats the candidate's local time.
            let horizon = if later_pass {
                candidate
                    .checked_add_signed(WIDEST_CHANGE)
                    .unwrap_or(DateTime::<Utc>::MAX_UTC)
            } else {
                candidate
            };
            let near = at
                .checked_add_signed(WIDEST_CHANGE)
                .unwrap_or(DateTime::<Utc>::MAX_UTC);
            let far = near
                .checked_add_signed(WIDEST_CHANGE)
                .unwrap_or(DateTime::<Utc>::MAX_UTC);
            let change = match self.next_change(at, offset, horizon.min(near)) {
                None if horizon > far => {
                    // Nothing changes near here and the match is far: the
                    // answer comes from a local time at or after it, near
                    // it. Go there.
                    if shifted.is_some() {
                        return shifted;
                    }
                    at = candidate.checked_sub_signed(WIDEST_CHANGE)?;
                    offset = self.offset(at);
                    began = self.last_change(at, offset);
                    floor = Some(found);
                    continue;
                }
                None => self.next_change(near, offset, horizon),
                some => some,
            };
            let Some((change, next)) = change else {
                return earliest(candidate);
            };
            if candidate < change {
                let repeated_later = later_pass && next < offset && found >= local(change, next)?;
                if !repeated_later {
                    return earliest(candidate);
                }
            }
            if let Some(s) = shifted.filter(|s| *s < change) {
                return Some(s);
            }
            began = Some((change, offset));
            offset = next;
            at = change;
        }
    }

    /// The UTC offset at `at`, in seconds east.
    fn offset(&self, at: DateTime<Utc>) -> i32 {
        self.tz
            .offset_from_utc_datetime(&at.naive_utc())
            .fix()
            .local_minus_utc()
    }

    /// The first instant after `from`, up to `until`, at which the offset
    /// is no longer `offset`, with the new offset.
    fn next_change(
        &self,
        from: DateTime<Utc>,
        offset: i32,
        until: DateTime<Utc>,
    ) -> Option<(DateTime<Utc>, i32)> {
        let mut low = from;
        while low < until {
            let high = low.checked_add_signed(PROBE).unwrap_or(until).min(until);
            if self.offset(high) != offset {
                let change = self.bisect(low, high, |o| o != offset);
                return Some((change, self.offset(change)));
            }
            low = high;
        }
        None
    }

    /// The change of offset at or before `at`, no more than
    /// [`WIDEST_CHANGE`] before it, that made the offset `offset`: when,
    /// and the offset before it.
    fn last_change(&self, at: DateTime<Utc>, offset: i32) -> Option<(DateTime<Utc>, i32)> {
        let stop = at.checked_sub_signed(WIDEST_CHANGE)?;
        let mut high = at;
        while high > stop {
            let low = high.checked_sub_signed(PROBE).unwrap_or(stop).max(stop);
            let before = self.offset(low);
            if before != offset {
                let change = self.bisect(low, high, |o| o == offset);
                let before = self.offset(change.checked_sub_signed(TimeDelta::seconds(1))?);
                return Some((change, before));
            }
            high = low;
        }
        None
    }

    /// The first second in `(low, high]` whose offset is `wanted`, given
    /// that `high`'s is and `low`'s is not.
    fn bisect(
        &self,
        low: DateTime<Utc>,
        high: DateTime<Utc>,
        wanted: impl Fn(i32) -> bool,
    ) -> DateTime<Utc> {
        let (mut low, mut high) = (low.timestamp(), high.timestamp());
        let at =
            |seconds: i64| DateTime::from_timestamp(seconds, 0).unwrap_or(DateTime::<Utc>::MAX_UTC);
        while high - low > 1 {
            let middle = low + (high - low) / 2;
            if wanted(self.offset(at(middle))) {
                high = middle;
            } else {
                low = middle;
            }
        }
        at(high)
    }
}

/// The local date-time at `at` with `offset` seconds east.
fn local(at: DateTime<Utc>, offset: i32) -> Option<NaiveDateTime> {
    at.naive_utc()
        .checked_add_signed(TimeDelta::seconds(offset.into()))
}

/// The instant the local date-time `local` is with `offset` seconds east.
fn instant(local: NaiveDateTime, offset: i32) -> Option<DateTime<Utc>> {
    Some(
        local
            .checked_sub_signed(TimeDelta::seconds(offset.into()))?
            .and_utc(),
    )
}

fn floor_to_second(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(at.timestamp(), 0).unwrap_or(at)
}

fn ceil_to_second(at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let floor = floor_to_second(at);
    if floor == at {
        Some(at)
    } else {
        floor.checked_add_signed(TimeDelta::seconds(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn runs(cron: &Cron, from: &str, n: usize, ambiguous: AmbiguousTime) -> Vec<String> {
        let mut now = utc(from);
        let mut last = None;
        let mut out = Vec::new();
        for _ in 0..n {
            let Some(next) = next_instant(cron, now, last, ambiguous) else {
                break;
            };
            out.push(next.format("%Y-%m-%dT%H:%M:%SZ").to_string());
            (now, last) = (next, Some(next));
        }
        out
    }

    #[test]
    fn five_and_six_fields() {
        let five = Cron::parse("30 9 * * *").unwrap();
        let six = Cron::parse("15 30 9 * * *").unwrap();
        assert_eq!(
            runs(&five, "2024-01-01T00:00:00Z", 2, AmbiguousTime::Later),
            ["2024-01-01T09:30:00Z", "2024-01-02T09:30:00Z"]
        );
        assert_eq!(
            runs(&six, "2024-01-01T09:30:15Z", 1, AmbiguousTime::Later),
            ["2024-01-01T09:30:15Z"]
        );
    }

    #[test]
    fn inclusive_of_now_exclusive_of_the_last_run() {
        let every_minute = Cron::parse("* * * * *").unwrap();
        let at = utc("2024-01-01T10:00:00Z");
        assert_eq!(
            next_instant(&every_minute, at, None, AmbiguousTime::Later),
            Some(at)
        );
        assert_eq!(
            next_instant(&every_minute, at, Some(at), AmbiguousTime::Later),
            Some(utc("2024-01-01T10:01:00Z"))
        );
        assert_eq!(
            next_instant(
                &every_minute,
                utc("2024-01-01T10:00:00.000001Z"),
                None,
                AmbiguousTime::Later
            ),
            Some(utc("2024-01-01T10:01:00Z"))
        );
        // After the clock was set back, the last run still counts.
        assert_eq!(
            next_instant(
                &every_minute,
                utc("2024-01-01T09:00:00Z"),
                Some(at),
                AmbiguousTime::Later
            ),
            Some(utc("2024-01-01T10:01:00Z"))
        );
    }

    #[test]
    fn the_minute_and_hour_fields_decide_real_time() {
        for (expression, real) in [
            ("* * * * *", true),
            ("*/15 * * * *", true),
            ("0 * * * *", true),
            ("0 */2 * * *", true),
            ("* 30 2 * * *", false),
            ("0 30 2 * * *", false),
            ("0-59/15 1 * * *", false),
            ("0,30 9-17 * * *", false),
            ("@hourly", true),
            ("@daily", false),
            ("0 0 * * *", false),
        ] {
            assert_eq!(
                Cron::parse(expression).unwrap().follows_real_time(),
                real,
                "{expression}"
            );
        }
    }

    #[test]
    fn spring_forward_shifts_fixed_times_and_skips_real_time() {
        let ny = chrono_tz::America::New_York;
        let fixed = Cron::parse("30 2 * * *").unwrap().in_zone(ny);
        assert_eq!(
            runs(&fixed, "2022-03-12T12:00:00Z", 3, AmbiguousTime::Later),
            // 02:30 EST, 03:30 EDT (02:30 is in the gap), 02:30 EDT.
            [
                "2022-03-13T07:30:00Z",
                "2022-03-14T06:30:00Z",
                "2022-03-15T06:30:00Z"
            ]
        );
        let every_half_hour = Cron::parse("*/30 1-3 * * *").unwrap().in_zone(ny);
        assert_eq!(
            runs(
                &every_half_hour,
                "2022-03-13T05:00:00Z",
                5,
                AmbiguousTime::Later
            ),
            // 01:00, 01:30 EST, then 03:00, 03:30 EDT: nothing in the gap.
            [
                "2022-03-13T06:00:00Z",
                "2022-03-13T06:30:00Z",
                "2022-03-13T07:00:00Z",
                "2022-03-13T07:30:00Z",
                "2022-03-14T05:00:00Z"
            ]
        );
    }

    #[test]
    fn fall_back_runs_fixed_times_once_and_real_time_twice() {
        let ny = chrono_tz::America::New_York;
        let fixed = Cron::parse("0,30 1 * * *").unwrap().in_zone(ny);
        let from = "2022-11-06T04:00:00Z";
        assert_eq!(
            runs(&fixed, from, 2, AmbiguousTime::Later),
            ["2022-11-06T06:00:00Z", "2022-11-06T06:30:00Z"]
        );
        assert_eq!(
            runs(&fixed, from, 3, AmbiguousTime::Earlier),
            [
                "2022-11-06T05:00:00Z",
                "2022-11-06T05:30:00Z",
                "2022-11-07T06:00:00Z"
            ]
        );
        let real = Cron::parse("*/30 1 * * *").unwrap().in_zone(ny);
        for policy in [AmbiguousTime::Later, AmbiguousTime::Earlier] {
            assert_eq!(
                runs(&real, from, 5, policy),
                [
                    "2022-11-06T05:00:00Z",
                    "2022-11-06T05:30:00Z",
                    "2022-11-06T06:00:00Z",
                    "2022-11-06T06:30:00Z",
                    "2022-11-07T06:00:00Z"
                ]
            );
        }
    }

    #[test]
    fn fixed_offsets_and_utc() {
        let cron = Cron::parse_in("0 9 * * *", "+09:00").unwrap();
        assert_eq!(
            runs(&cron, "2024-01-01T00:00:01Z", 1, AmbiguousTime::Later),
            ["2024-01-02T00:00:00Z"]
        );
    }

    #[test]
    fn no_next_instant_ends_the_search() {
        let never = Cron::parse("0 0 30 2 *").unwrap();
        assert_eq!(
            next_instant(
                &never,
                utc("2024-01-01T00:00:00Z"),
                None,
                AmbiguousTime::Later
            ),
            None
        );
        let daily = Cron::parse_in("0 9 * * *", "Europe/Paris").unwrap();
        for at in [DateTime::<Utc>::MAX_UTC, utc("5001-01-01T00:00:00Z")] {
            assert_eq!(next_instant(&daily, at, None, AmbiguousTime::Later), None);
        }
        assert!(
            next_instant(&daily, DateTime::<Utc>::MIN_UTC, None, AmbiguousTime::Later).is_some()
        );
    }
}
