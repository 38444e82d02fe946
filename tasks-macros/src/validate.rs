//! What the arguments mean, checked at compile time with the rules of the
//! runtime's builder: intervals, count, times of day and time zones.
//!
//! Every check that the builder would make at run time is made here, so
//! that the generated `build` cannot fail (the unit tests below hold the
//! two sets of rules together).

use std::time::Duration;

use syn::{LitBool, LitStr, Path};

use crate::args::{Args, Given, Number, NumberLit};

/// The checked arguments: what the generated code sets on the builder.
pub(crate) struct Config {
    pub(crate) seconds: Option<f64>,
    pub(crate) minutes: Option<f64>,
    pub(crate) hours: Option<f64>,
    /// The times of day as written, and their zone.
    pub(crate) times: Option<Vec<LitStr>>,
    pub(crate) tz: Option<LitStr>,
    pub(crate) count: Option<u64>,
    pub(crate) reconnect: Option<LitBool>,
    pub(crate) name: Option<LitStr>,
    /// `crate = "..."`, if given.
    pub(crate) krate: Option<Path>,
}

/// Checks the arguments; each problem is pushed onto `errors`, on the token
/// to fix.
pub(crate) fn config(args: Args, errors: &mut Vec<syn::Error>) -> Config {
    let seconds = interval(args.seconds.as_ref(), "seconds", errors);
    let minutes = interval(args.minutes.as_ref(), "minutes", errors);
    let hours = interval(args.hours.as_ref(), "hours", errors);
    let total =
        seconds.unwrap_or(0.0) + minutes.unwrap_or(0.0) * 60.0 + hours.unwrap_or(0.0) * 3600.0;
    if Duration::try_from_secs_f64(total).is_err() {
        let last = [&args.hours, &args.minutes, &args.seconds]
            .into_iter()
            .flatten()
            .next();
        if let Some(given) = last {
            errors.push(syn::Error::new_spanned(
                &given.value,
                "the interval is too long for the loop to wait: give a shorter one",
            ));
        }
    }

    if let Some(time) = &args.time {
        for (given, key) in [
            (&args.seconds, "seconds"),
            (&args.minutes, "minutes"),
            (&args.hours, "hours"),
        ] {
            if let Some(given) = given {
                errors.push(syn::Error::new(
                    given.key,
                    format!(
                        "`{key}` cannot be combined with `time`: a loop runs either every \
                         interval or at times of day, so remove `{key}` or `time`"
                    ),
                ));
            }
        }
        if time.value.times.is_empty() {
            errors.push(syn::Error::new(
                time.value.list.unwrap_or(time.key),
                "the list of times is empty: give at least one, such as `time = [\"08:00\"]`",
            ));
        }
        for lit in &time.value.times {
            if time_of_day(&lit.value()).is_none() {
                errors.push(syn::Error::new(
                    lit.span(),
                    format!(
                        "`{}` is not a time of day: write \"HH:MM\" or \"HH:MM:SS\" \
                         on a 24-hour clock, such as \"08:00\" or \"20:30:00\"",
                        lit.value()
                    ),
                ));
            }
        }
    }

    if let Some(tz) = &args.tz {
        if args.time.is_none() {
            errors.push(syn::Error::new(
                tz.key,
                "`tz` is the time zone of `time`: add `time = \"HH:MM\"`, or remove `tz`",
            ));
        }
        if let Err(message) = zone(&tz.value.value()) {
            errors.push(syn::Error::new(tz.value.span(), message));
        }
    }

    Config {
        seconds,
        minutes,
        hours,
        times: args.time.map(|t| t.value.times),
        tz: args.tz.map(|t| t.value),
        count: count(args.count.as_ref(), errors),
        reconnect: args.reconnect.map(|r| r.value),
        name: args.name.map(|n| n.value),
        krate: args.krate.map(|k| k.value),
    }
}

/// A number of seconds, minutes or hours: finite, not negative.
fn interval(given: Option<&Given<Number>>, key: &str, errors: &mut Vec<syn::Error>) -> Option<f64> {
    let number = &given?.value;
    let parsed = match &number.lit {
        NumberLit::Int(lit) => lit.base10_parse::<f64>(),
        NumberLit::Float(lit) => lit.base10_parse::<f64>(),
    };
    let error = |message: String| syn::Error::new_spanned(number, message);
    match parsed {
        Ok(_) if number.minus.is_some() => {
            errors.push(error(format!(
                "`{key}` cannot be negative: give zero or more"
            )));
            None
        }
        Ok(value) if value.is_finite() => Some(value),
        _ => {
            errors.push(error(format!(
                "`{key}` is too large: give a shorter interval"
            )));
            None
        }
    }
}

/// The count: a whole number, at least 1.
fn count(given: Option<&Given<Number>>, errors: &mut Vec<syn::Error>) -> Option<u64> {
    let number = &given?.value;
    let NumberLit::Int(lit) = &number.lit else {
        return None; // Reported while parsing.
    };
    let message = if number.minus.is_some() {
        "`count` cannot be negative: give 1 or more, or remove `count` for an endless loop"
            .to_owned()
    } else {
        match lit.base10_parse::<u64>() {
            Ok(0) => "`count` must be at least 1: remove `count` for an endless loop".to_owned(),
            Ok(count) => return Some(count),
            Err(_) => format!("`count` is too large: the most is {}", u64::MAX),
        }
    };
    errors.push(syn::Error::new_spanned(number, message));
    None
}

/// `"HH:MM"` or `"HH:MM:SS"`, two digits each, on a 24-hour clock: the
/// rules of `TimeOfDay::parse`.
pub(crate) fn time_of_day(text: &str) -> Option<(u32, u32, u32)> {
    tasks_syntax::time_of_day(text)
}

/// An IANA name or a fixed offset: the rules of `Zone::from_str`. The
/// error is the message for the user.
pub(crate) fn zone(text: &str) -> Result<(), String> {
    if text == "Z" || text == "z" {
        return Ok(());
    }
    if text.starts_with('+') || text.starts_with('-') {
        return fixed_offset(text).ok_or_else(|| {
            format!(
                "`{text}` is not a fixed offset: write it as \"+HH:MM\" or \"-HH:MM\", \
                 such as \"+09:00\""
            )
        });
    }
    if text.parse::<chrono_tz::Tz>().is_ok() {
        return Ok(());
    }
    let spelled = chrono_tz::TZ_VARIANTS
        .iter()
        .find(|tz| tz.name().eq_ignore_ascii_case(text));
    Err(match spelled {
        Some(tz) => format!("unknown time zone `{text}`: write \"{}\"", tz.name()),
        None => format!(
            "unknown time zone `{text}`: give an IANA name such as \"Asia/Seoul\" \
             or a fixed offset such as \"+09:00\""
        ),
    })
}

/// `±HH:MM`, `±HHMM` or `±HH`, as the runtime reads them.
fn fixed_offset(text: &str) -> Option<()> {
    tasks_syntax::utc_offset(text).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tasks::{TimeOfDay, Zone};

    #[test]
    fn times_follow_the_runtime() {
        let samples = [
            "08:00",
            "23:59",
            "23:59:59",
            "00:00:00",
            "24:00",
            "25:00",
            "12:60",
            "12:00:60",
            "8am",
            "8:00",
            "08:0",
            "08:00:0",
            "08-00",
            "08:00:00:00",
            "",
            ":",
            "０８:００",
            "+8:00",
            "08:00 ",
            " 08:00",
            "99:99",
        ];
        for text in samples {
            assert_eq!(
                time_of_day(text).is_some(),
                TimeOfDay::parse(text).is_ok(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn zones_follow_the_runtime() {
        let samples = [
            "Asia/Seoul",
            "UTC",
            "Europe/Paris",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+9",
            "asia/seoul",
            "Mars/Olympus",
            "",
            "Z",
            "z",
            "+09:00",
            "-05:30",
            "+0900",
            "+09",
            "+9",
            "+24:00",
            "+09:60",
            "+09:00:00",
            "+0:900",
            "+",
            "-",
            "+ab:cd",
            "GMT",
        ];
        for text in samples {
            assert_eq!(zone(text).is_ok(), text.parse::<Zone>().is_ok(), "{text:?}");
        }
    }

    #[test]
    fn a_miscased_zone_gets_its_spelling() {
        assert_eq!(
            zone("asia/seoul").unwrap_err(),
            "unknown time zone `asia/seoul`: write \"Asia/Seoul\""
        );
    }
}
