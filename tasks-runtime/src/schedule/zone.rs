//! Time zones: IANA zones and fixed offsets, and which instant a local
//! time that happens twice resolves to.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use crate::error::ConfigError;

/// The time zone of a [`TimeOfDay`](crate::TimeOfDay): an IANA zone (daylight saving
/// included) or a fixed offset from UTC.
///
/// ```
/// use tasks_runtime::Zone;
///
/// assert_eq!("Asia/Seoul".parse::<Zone>().unwrap(), Zone::Iana(chrono_tz::Asia::Seoul));
/// assert_eq!("+09:00".parse::<Zone>().unwrap().to_string(), "+09:00");
/// assert!("Mars/Olympus".parse::<Zone>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Zone {
    /// A zone of the IANA database, such as `Europe/Paris`.
    Iana(Tz),
    /// A fixed offset from UTC, never shifted by daylight saving.
    Fixed(FixedOffset),
}

impl Zone {
    /// UTC, the zone of times of day given without one.
    pub const UTC: Zone = Zone::Iana(Tz::UTC);

    /// A fixed offset of `seconds_east` seconds from UTC (negative: west).
    ///
    /// # Errors
    ///
    /// [`ConfigError::UnknownTimeZone`] when the offset is a day or more.
    ///
    /// ```
    /// use tasks_runtime::Zone;
    ///
    /// assert_eq!(Zone::fixed(9 * 3600).unwrap().to_string(), "+09:00");
    /// assert!(Zone::fixed(24 * 3600).is_err());
    /// ```
    pub fn fixed(seconds_east: i32) -> Result<Zone, ConfigError> {
        FixedOffset::east_opt(seconds_east)
            .map(Zone::Fixed)
            .ok_or_else(|| ConfigError::UnknownTimeZone {
                input: format!("{seconds_east} seconds east of UTC"),
            })
    }

    /// The offset from UTC in force at `instant`.
    pub fn offset_at(&self, instant: DateTime<Utc>) -> FixedOffset {
        match self {
            Zone::Iana(tz) => tz.offset_from_utc_datetime(&instant.naive_utc()).fix(),
            Zone::Fixed(offset) => *offset,
        }
    }

    /// The wall-clock date and time in this zone at `instant`.
    ///
    /// ```
    /// use tasks_runtime::Zone;
    ///
    /// let new_york = Zone::Iana(chrono_tz::America::New_York);
    /// let noon_utc = "2024-07-01T12:00:00Z".parse().unwrap();
    /// assert_eq!(new_york.local(noon_utc).to_string(), "2024-07-01 08:00:00");
    /// ```
    pub fn local(&self, instant: DateTime<Utc>) -> NaiveDateTime {
        let utc = instant.naive_utc();
        utc.checked_add_offset(self.offset_at(instant))
            .unwrap_or(utc)
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Zone::Iana(tz) => f.write_str(tz.name()),
            Zone::Fixed(offset) => fmt::Display::fmt(offset, f),
        }
    }
}

impl FromStr for Zone {
    type Err = ConfigError;

    /// Reads an IANA name (`"America/New_York"`, `"UTC"`) or a fixed offset
    /// written `±HH:MM`, `±HHMM` or `±HH` (`"+09:00"`, `"-0530"`, `"+01"`),
    /// or `"Z"` for UTC. Nothing else is an offset: `"+9"`, `"+0:900"` and
    /// `"+09:00:00"` are errors.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unknown = || ConfigError::UnknownTimeZone {
            input: s.to_owned(),
        };
        if s.starts_with(['+', '-']) || s == "Z" || s == "z" {
            let seconds = tasks_syntax::utc_offset(s).ok_or_else(unknown)?;
            return Zone::fixed(seconds).map_err(|_| unknown());
        }
        s.parse::<Tz>().map(Zone::Iana).map_err(|_| unknown())
    }
}

/// What to do with a time of day that happens twice on a day the clocks go
/// back (01:30 in New York on the first Sunday of November).
///
/// The loop runs once either way: the date has been run once the chosen
/// instant has passed, so the other occurrence never runs as well.
///
/// | New York, 2022-11-06, `01:30` | runs at | UTC |
/// | --- | --- | --- |
/// | [`Later`](AmbiguousTime::Later) (default, as discord.py) | 01:30 EST (-05:00), the second pass | 06:30 |
/// | [`Earlier`](AmbiguousTime::Earlier) | 01:30 EDT (-04:00), the first pass | 05:30 |
///
/// ```
/// use tasks_runtime::{AmbiguousTime, Loop, TimeOfDay};
///
/// let half_past_one = TimeOfDay::parse_in("01:30", "America/New_York").unwrap();
/// let date = chrono::NaiveDate::from_ymd_opt(2022, 11, 6).unwrap();
/// let later = half_past_one.on(date, AmbiguousTime::Later);
/// let earlier = half_past_one.on(date, AmbiguousTime::Earlier);
/// assert_eq!(later.to_rfc3339(), "2022-11-06T06:30:00+00:00");
/// assert_eq!(earlier.to_rfc3339(), "2022-11-06T05:30:00+00:00");
///
/// let nightly = Loop::builder(|()| async {})
///     .time(half_past_one)
///     .ambiguous_time(AmbiguousTime::Earlier)
///     .build()
///     .unwrap();
/// # drop(nightly);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum AmbiguousTime {
    /// The second occurrence, in the standard time that follows (discord.py's
    /// choice, and the default).
    #[default]
    Later,
    /// The first occurrence, still in daylight-saving time.
    Earlier,
}

impl From<Tz> for Zone {
    fn from(tz: Tz) -> Self {
        Zone::Iana(tz)
    }
}

impl From<FixedOffset> for Zone {
    fn from(offset: FixedOffset) -> Self {
        Zone::Fixed(offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_parse() {
        assert_eq!("-05:30".parse::<Zone>().unwrap().to_string(), "-05:30");
        assert_eq!("+0900".parse::<Zone>().unwrap().to_string(), "+09:00");
        assert!("+25:00".parse::<Zone>().is_err());
        assert!("+09:00:00".parse::<Zone>().is_err());
        assert!("Nowhere".parse::<Zone>().is_err());
    }
}
