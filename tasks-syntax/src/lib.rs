//! The textual forms that the `#[tasks::r#loop]` attribute checks at compile
//! time and the `tasks` runtime reads at run time: times of day, fixed UTC
//! offsets, the totals and limits of intervals and other durations, and
//! what to say about a cron expression that does not parse.
//!
//! Both crates call these functions, so a string the attribute accepts is
//! exactly a string the runtime accepts. The crate has no dependencies, so
//! that the proc-macro crate stays light; the runtime wraps each result in
//! its own types (`TimeOfDay`, `Zone`, `ConfigError`).
//!
//! ```
//! assert_eq!(tasks_syntax::time_of_day("08:30"), Some((8, 30, 0)));
//! assert_eq!(tasks_syntax::utc_offset("+09:00"), Some(9 * 3600));
//! assert_eq!(tasks_syntax::interval_total(30.0, 1.0, 0.0), Ok(90.0));
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::fmt;

mod cron;

pub use cron::cron_error;

/// The longest interval, timeout, jitter or grace period a loop accepts:
/// 100 years (of 365.25 days), in seconds.
///
/// A longer wait is almost certainly a mistake (a unit mixed up), and
/// instants that far ahead no longer fit the monotonic clock on every
/// platform; below it, a long wait simply waits.
///
/// ```
/// assert_eq!(tasks_syntax::LONGEST_WAIT_SECS, 3_155_760_000);
/// ```
pub const LONGEST_WAIT_SECS: u64 = 36_525 * 86_400;

/// Reads a time of day written `HH:MM` or `HH:MM:SS` on a 24-hour clock,
/// with exactly two ASCII digits in each part: `(hour, minute, second)`.
///
/// ```
/// use tasks_syntax::time_of_day;
///
/// assert_eq!(time_of_day("23:59:59"), Some((23, 59, 59)));
/// assert_eq!(time_of_day("08:00"), Some((8, 0, 0)));
/// for bad in ["24:00", "8:00", "08:60", "08:00:00:00", "8am", " 08:00", ""] {
///     assert_eq!(time_of_day(bad), None, "{bad}");
/// }
/// ```
pub fn time_of_day(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.split(':');
    let hour = two_digits(parts.next()?)?;
    let minute = two_digits(parts.next()?)?;
    let second = match parts.next() {
        Some(part) => two_digits(part)?,
        None => 0,
    };
    if parts.next().is_some() {
        return None;
    }
    (hour < 24 && minute < 60 && second < 60).then_some((hour, minute, second))
}

/// Reads a fixed offset from UTC: `±HH:MM`, `±HHMM` or `±HH` (hours up to
/// 23, minutes up to 59), or `Z` for UTC itself. Returns the offset in
/// seconds east of UTC.
///
/// Nothing else is accepted: not a colon in another place (`+0:100`), not
/// seconds (`+09:00:00`), not a single hour digit (`+9`).
///
/// ```
/// use tasks_syntax::utc_offset;
///
/// assert_eq!(utc_offset("+09:00"), Some(32_400));
/// assert_eq!(utc_offset("-0530"), Some(-19_800));
/// assert_eq!(utc_offset("+01"), Some(3_600));
/// assert_eq!(utc_offset("Z"), Some(0));
/// for bad in ["+0:100", "+010:0", "+0100:", "+:0100", "-1:200", "+9", "+24:00", "09:00"] {
///     assert_eq!(utc_offset(bad), None, "{bad}");
/// }
/// ```
pub fn utc_offset(text: &str) -> Option<i32> {
    if text == "Z" || text == "z" {
        return Some(0);
    }
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let (hours, minutes) = match rest.len() {
        2 => (two_digits(rest)?, 0),
        4 => (two_digits(rest.get(..2)?)?, two_digits(rest.get(2..)?)?),
        5 if rest.as_bytes()[2] == b':' => {
            (two_digits(rest.get(..2)?)?, two_digits(rest.get(3..)?)?)
        }
        _ => return None,
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    let seconds = i32::try_from(hours * 3600 + minutes * 60).ok()?;
    Some(sign * seconds)
}

/// Exactly two ASCII digits.
fn two_digits(part: &str) -> Option<u32> {
    match part.as_bytes() {
        [tens @ b'0'..=b'9', ones @ b'0'..=b'9'] => {
            Some(u32::from(tens - b'0') * 10 + u32::from(ones - b'0'))
        }
        _ => None,
    }
}

/// Why a relative interval cannot be used.
///
/// ```
/// use tasks_syntax::{interval_total, IntervalError};
///
/// assert_eq!(interval_total(-5.0, 0.0, 0.0), Err(IntervalError::Negative { total: -5.0 }));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum IntervalError {
    /// A component is NaN or infinite.
    NonFinite {
        /// `"seconds"`, `"minutes"` or `"hours"`.
        unit: &'static str,
        /// The value given.
        value: f64,
    },
    /// The total is below zero.
    Negative {
        /// The total, in seconds.
        total: f64,
    },
    /// The total is longer than [`LONGEST_WAIT_SECS`].
    TooLong {
        /// The total, in seconds.
        total: f64,
    },
    /// The total is not a number: two components are each too large to
    /// count in seconds, one positive and one negative.
    ///
    /// ```
    /// use tasks_syntax::{interval_total, IntervalError};
    ///
    /// assert_eq!(
    ///     interval_total(0.0, f64::MAX, -f64::MAX),
    ///     Err(IntervalError::Overflow { unit: "minutes", value: f64::MAX })
    /// );
    /// ```
    Overflow {
        /// The first of the two: `"minutes"` or `"hours"`.
        unit: &'static str,
        /// The value given.
        value: f64,
    },
}

impl fmt::Display for IntervalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntervalError::NonFinite { unit, value } => {
                write!(
                    f,
                    "the interval's {unit} is {value}: it must be a finite number"
                )
            }
            IntervalError::Negative { total } => {
                write!(
                    f,
                    "the interval adds up to {total} seconds: it must be zero or more"
                )
            }
            IntervalError::TooLong { total } => write!(
                f,
                "the interval adds up to {total} seconds, more than 100 years: give a shorter one"
            ),
            IntervalError::Overflow { unit, value } => write!(
                f,
                "the interval's {unit} is {value}, too large to count in seconds: give an \
                 interval of at most 100 years"
            ),
        }
    }
}

impl std::error::Error for IntervalError {}

/// The total of a relative interval, `seconds + 60·minutes + 3600·hours`,
/// checked: every component finite, the total a number, zero or more and
/// at most [`LONGEST_WAIT_SECS`]. Components may be negative or fractional
/// as long as the total is in range (as in discord.py).
///
/// ```
/// use tasks_syntax::{interval_total, IntervalError};
///
/// assert_eq!(interval_total(30.0, -0.25, 0.0), Ok(15.0));
/// assert!(matches!(interval_total(f64::NAN, 0.0, 0.0), Err(IntervalError::NonFinite { unit: "seconds", .. })));
/// assert!(matches!(interval_total(1e19, 0.0, 0.0), Err(IntervalError::TooLong { .. })));
/// assert!(matches!(interval_total(0.0, 1e307, -1e307), Err(IntervalError::Overflow { .. })));
/// ```
pub fn interval_total(seconds: f64, minutes: f64, hours: f64) -> Result<f64, IntervalError> {
    let parts = [
        ("seconds", seconds, 1.0),
        ("minutes", minutes, 60.0),
        ("hours", hours, 3600.0),
    ];
    for (unit, value, _) in parts {
        if !value.is_finite() {
            return Err(IntervalError::NonFinite { unit, value });
        }
    }
    let total = seconds + minutes * 60.0 + hours * 3600.0;
    if total.is_nan() {
        // Finite parts sum to NaN only when one overflows to +inf and
        // another to -inf: the first of them is named.
        let (unit, value, _) = parts
            .into_iter()
            .find(|(_, value, size)| (value * size).is_infinite())
            .unwrap_or(parts[0]);
        return Err(IntervalError::Overflow { unit, value });
    }
    if total < 0.0 {
        return Err(IntervalError::Negative { total });
    }
    if total > LONGEST_WAIT_SECS as f64 {
        return Err(IntervalError::TooLong { total });
    }
    Ok(total)
}

/// Whether a number of seconds is a duration a loop accepts for a timeout,
/// a jitter or a grace period: finite, zero or more, at most
/// [`LONGEST_WAIT_SECS`].
///
/// ```
/// assert!(tasks_syntax::duration_in_range(30.0));
/// assert!(!tasks_syntax::duration_in_range(-1.0));
/// assert!(!tasks_syntax::duration_in_range(1e12));
/// ```
pub fn duration_in_range(seconds: f64) -> bool {
    (0.0..=LONGEST_WAIT_SECS as f64).contains(&seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_accept_only_the_three_forms() {
        assert_eq!(utc_offset("-12:00"), Some(-43_200));
        assert_eq!(utc_offset("+23:59"), Some(86_340));
        for bad in [
            "",
            "+",
            "-",
            "+0",
            "+123",
            "+12345",
            "+12:3",
            "+1:23",
            "+12::00",
            "+12:00:00",
            "+ab:cd",
            "+09:60",
            "+0960",
            "++0900",
            "+09 00",
            "z0",
            "+０９",
        ] {
            assert_eq!(utc_offset(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn times_need_two_digits_per_part() {
        assert_eq!(time_of_day("00:00:00"), Some((0, 0, 0)));
        for bad in [
            "08:0",
            "08:00:0",
            "080:00",
            "08:00:",
            ":08:00",
            "０８:００",
            "+8:00",
        ] {
            assert_eq!(time_of_day(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_longest_interval_is_a_hundred_years() {
        let longest = LONGEST_WAIT_SECS as f64;
        assert_eq!(interval_total(longest, 0.0, 0.0), Ok(longest));
        assert!(interval_total(longest + 1.0, 0.0, 0.0).is_err());
        assert!(interval_total(0.0, 0.0, 876_600.0).is_ok());
        assert!(interval_total(0.0, 0.0, 876_601.0).is_err());
    }

    #[test]
    fn parts_that_overflow_in_opposite_directions_are_refused() {
        // Each part is finite, but in seconds one is +inf and the other
        // -inf: their sum is NaN, which no range check catches.
        for (seconds, minutes, hours) in [
            (0.0, f64::MAX, -f64::MAX),
            (0.0, -f64::MAX, f64::MAX),
            (f64::MAX, f64::MAX, -f64::MAX),
            (-1.0, f64::MAX / 30.0, -f64::MAX / 1000.0),
        ] {
            let total = interval_total(seconds, minutes, hours);
            assert!(
                matches!(total, Err(IntervalError::Overflow { .. })),
                "{seconds} s, {minutes} min, {hours} h: {total:?}"
            );
        }
        assert_eq!(
            interval_total(0.0, f64::MAX, -f64::MAX),
            Err(IntervalError::Overflow {
                unit: "minutes",
                value: f64::MAX
            })
        );
        // One part alone out of range is a total out of range.
        assert!(matches!(
            interval_total(0.0, f64::MAX, 0.0),
            Err(IntervalError::TooLong { .. })
        ));
        assert!(matches!(
            interval_total(0.0, 0.0, -f64::MAX),
            Err(IntervalError::Negative { .. })
        ));
    }
}
