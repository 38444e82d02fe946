//! What the arguments mean: intervals, count, times of day and time zones,
//! checked at compile time and turned into typed values.
//!
//! The rules are `tasks_syntax`'s, the ones the runtime's builder applies,
//! so the generated `build` cannot fail; the unit tests below compare the
//! two on samples.

use proc_macro2::Span;
use syn::{Ident, LitStr, Path};
use tasks_syntax::IntervalError;

use crate::args::{Args, Given, Number, NumberLit, Times};
use crate::ctxt::Ctxt;

/// The checked arguments: what the generated code sets on the builder.
///
/// A value that failed its check is left out (its error is in the
/// [`Ctxt`]), so that the loop is still generated.
pub(crate) struct Config {
    pub(crate) interval: Interval,
    pub(crate) times: Vec<Time>,
    /// The zone of `times`, when given.
    pub(crate) zone: Option<Zone>,
    pub(crate) count: Option<u64>,
    pub(crate) reconnect: Option<bool>,
    pub(crate) name: Option<LitStr>,
    /// `crate = "..."`, if given.
    pub(crate) krate: Option<Path>,
}

/// The parts of a relative interval, as given; each finite, their total
/// within the runtime's limits.
#[derive(Default)]
pub(crate) struct Interval {
    pub(crate) seconds: Option<f64>,
    pub(crate) minutes: Option<f64>,
    pub(crate) hours: Option<f64>,
}

/// A time of day, on a 24-hour clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Time {
    pub(crate) hour: u32,
    pub(crate) minute: u32,
    pub(crate) second: u32,
}

/// The time zone of the times of day.
#[derive(Debug, PartialEq)]
pub(crate) enum Zone {
    /// An IANA zone: the path of its constant in chrono-tz, below the
    /// crate (`Asia::Seoul`).
    Iana(Vec<Ident>),
    /// A fixed offset, in seconds east of UTC.
    Fixed(i32),
}

/// Checks the arguments; each problem is recorded in `ctxt`, on the token
/// to fix.
pub(crate) fn config(args: Args, ctxt: &Ctxt) -> Config {
    if let Some(time) = &args.time {
        for given in [&args.seconds, &args.minutes, &args.hours]
            .into_iter()
            .flatten()
        {
            let key = given.key.name;
            ctxt.error_at(
                given.key.span,
                format!(
                    "`{key}` cannot be combined with `time`: a loop runs either every \
                     interval or at times of day, so remove `{key}` or `time`"
                ),
            );
        }
        if time.value.times.is_empty() {
            ctxt.error_at(
                time.value.brackets.unwrap_or(time.key.span),
                "the list of times is empty: give at least one, such as `time = [\"08:00\"]`",
            );
        }
    }
    if let Some(tz) = &args.tz {
        if args.time.is_none() {
            ctxt.error_at(
                tz.key.span,
                "`tz` is the time zone of `time`: add `time = \"HH:MM\"`, or remove `tz`",
            );
        }
    }
    Config {
        interval: interval(&args, ctxt),
        times: args
            .time
            .map(|time| times(time.value, ctxt))
            .unwrap_or_default(),
        zone: args.tz.and_then(|tz| zone(&tz.value, ctxt)),
        count: args.count.and_then(|count| self::count(&count, ctxt)),
        reconnect: args.reconnect.map(|reconnect| reconnect.value.value),
        name: args.name.map(|name| name.value),
        krate: args.krate.map(|krate| krate.value),
    }
}

/// The interval's parts, if their total is one the runtime accepts; if
/// not, an error on the part that takes it out of range.
fn interval(args: &Args, ctxt: &Ctxt) -> Interval {
    let [seconds, minutes, hours] = [&args.seconds, &args.minutes, &args.hours].map(|given| {
        given.as_ref().map(|given| Part {
            given,
            value: signed_value(&given.value),
        })
    });
    let value = |part: &Option<Part>| part.as_ref().map_or(0.0, |part| part.value);
    match tasks_syntax::interval_total(value(&seconds), value(&minutes), value(&hours)) {
        Ok(_) => Interval {
            seconds: seconds.map(|part| part.value),
            minutes: minutes.map(|part| part.value),
            hours: hours.map(|part| part.value),
        },
        Err(error) => {
            let parts: Vec<Part> = [seconds, minutes, hours].into_iter().flatten().collect();
            blame(&parts, error, ctxt);
            Interval::default()
        }
    }
}

/// One part of an interval: `seconds`, `minutes` or `hours`.
struct Part<'a> {
    given: &'a Given<Number>,
    value: f64,
}

impl Part<'_> {
    /// What the part adds to the total, in seconds, in range or not
    /// (`tasks_syntax` holds the units' sizes).
    fn seconds(&self) -> f64 {
        let total = match self.given.key.name {
            "minutes" => tasks_syntax::interval_total(0.0, self.value, 0.0),
            "hours" => tasks_syntax::interval_total(0.0, 0.0, self.value),
            _ => tasks_syntax::interval_total(self.value, 0.0, 0.0),
        };
        match total {
            Ok(total)
            | Err(IntervalError::Negative { total })
            | Err(IntervalError::TooLong { total }) => total,
            Err(IntervalError::NonFinite { value, .. }) => value,
        }
    }
}

/// Reports an interval out of range on the part to fix: the one that is
/// not a number, or the one that adds the most in the direction the total
/// is out of range.
fn blame(parts: &[Part], error: IntervalError, ctxt: &Ctxt) {
    let by_seconds = |a: &&Part, b: &&Part| a.seconds().total_cmp(&b.seconds());
    let blamed = match error {
        IntervalError::NonFinite { unit, .. } => {
            parts.iter().find(|part| part.given.key.name == unit)
        }
        IntervalError::Negative { .. } => parts.iter().min_by(by_seconds),
        IntervalError::TooLong { .. } => parts.iter().max_by(by_seconds),
    };
    let Some(Part { given, .. }) = blamed else {
        return;
    };
    let part = format!("`{} = {}`", given.key.name, given.value);
    let message = match error {
        IntervalError::NonFinite { .. } => {
            format!("{part} is out of range: an interval is at most 100 years")
        }
        IntervalError::Negative { .. } if parts.len() == 1 => {
            format!("{part} makes the interval negative: give zero or more")
        }
        IntervalError::Negative { total } => format!(
            "{part} makes the interval negative, {total} seconds in all: make the total \
             zero or more"
        ),
        IntervalError::TooLong { .. } => format!(
            "{part} makes the interval longer than 100 years, the longest a loop waits: \
             give a shorter one"
        ),
    };
    ctxt.error_spanned_by(&given.value, message);
}

/// A number as written, sign included; integers too large for an `f64`
/// are infinite.
fn signed_value(number: &Number) -> f64 {
    let value = match &number.lit {
        NumberLit::Int(lit) => lit.base10_parse::<f64>(),
        NumberLit::Float(lit) => lit.base10_parse::<f64>(),
    }
    .unwrap_or(f64::INFINITY);
    if number.minus.is_some() {
        -value
    } else {
        value
    }
}

/// The count: a whole number, at least 1.
fn count(given: &Given<Number>, ctxt: &Ctxt) -> Option<u64> {
    let number = &given.value;
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
    ctxt.error_spanned_by(number, message);
    None
}

/// The times of day that are valid; an error on each that is not.
fn times(times: Times, ctxt: &Ctxt) -> Vec<Time> {
    times
        .times
        .iter()
        .filter_map(|lit| {
            let time = time_of_day(&lit.value());
            if time.is_none() {
                ctxt.error_at(
                    lit.span(),
                    format!(
                        "`{}` is not a time of day: write \"HH:MM\" or \"HH:MM:SS\" \
                         on a 24-hour clock, such as \"08:00\" or \"20:30:00\"",
                        lit.value()
                    ),
                );
            }
            time
        })
        .collect()
}

fn time_of_day(text: &str) -> Option<Time> {
    let (hour, minute, second) = tasks_syntax::time_of_day(text)?;
    Some(Time {
        hour,
        minute,
        second,
    })
}

/// The zone named by `lit`, or an error on it.
fn zone(lit: &LitStr, ctxt: &Ctxt) -> Option<Zone> {
    match parse_zone(&lit.value()) {
        Ok(zone) => Some(zone),
        Err(message) => {
            ctxt.error_at(lit.span(), message);
            None
        }
    }
}

/// An IANA name or a UTC offset, as the runtime's `Zone::from_str` reads
/// it; the error is the message for the user.
fn parse_zone(text: &str) -> Result<Zone, String> {
    if let Some(seconds) = tasks_syntax::utc_offset(text) {
        return Ok(Zone::Fixed(seconds));
    }
    if text.starts_with(['+', '-']) {
        return Err(format!(
            "`{text}` is not a UTC offset: write `±HH:MM`, `±HHMM` or `±HH`, \
             such as \"+09:00\", \"-0530\" or \"+01\""
        ));
    }
    if let Ok(tz) = text.parse::<chrono_tz::Tz>() {
        return constant_path(tz.name()).map(Zone::Iana).ok_or_else(|| {
            format!(
                "the time zone `{text}` has no constant in chrono-tz that `tasks` can name: \
                 this is a bug in `tasks`, please report it; meanwhile, give its offset, \
                 such as \"+09:00\""
            )
        });
    }
    let spelled = chrono_tz::TZ_VARIANTS
        .iter()
        .find(|tz| tz.name().eq_ignore_ascii_case(text));
    Err(match spelled {
        Some(tz) => format!("unknown time zone `{text}`: write \"{}\"", tz.name()),
        None => format!(
            "unknown time zone `{text}`: give an IANA name such as \"Asia/Seoul\" \
             or a UTC offset such as \"+09:00\""
        ),
    })
}

/// The path, below the crate, of chrono-tz's constant for the zone
/// `name`, or `None` if a segment is not an identifier.
///
/// chrono-tz's build names them from the zone's name: a module per `/`,
/// `+` spelled `Plus`, `-` spelled `Minus` before a digit and dropped
/// elsewhere (`Etc/GMT+9` is `Etc::GMTPlus9`, `America/Port-au-Prince` is
/// `America::PortauPrince`).
fn constant_path(name: &str) -> Option<Vec<Ident>> {
    name.split('/')
        .map(|segment| {
            let mut ident = String::with_capacity(segment.len());
            let mut chars = segment.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '+' => ident.push_str("Plus"),
                    '-' if chars.peek().is_some_and(char::is_ascii_digit) => {
                        ident.push_str("Minus");
                    }
                    '-' => {}
                    c => ident.push(c),
                }
            }
            let mut ident = syn::parse_str::<Ident>(&ident).ok()?;
            ident.set_span(Span::call_site());
            Some(ident)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args;
    use quote::quote;
    use tasks::{TimeOfDay, Zone as RuntimeZone};

    fn check(tokens: proc_macro2::TokenStream) -> (Config, Vec<String>) {
        let ctxt = Ctxt::new();
        let config = config(args::parse(tokens, &ctxt), &ctxt);
        (config, ctxt.finish())
    }

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
            let runtime = TimeOfDay::parse(text).ok();
            let made = time_of_day(text).map(|t| TimeOfDay::new(t.hour, t.minute, t.second));
            assert_eq!(made.map(Result::ok), runtime.map(Some), "{text:?}");
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
            let runtime = text.parse::<RuntimeZone>().ok();
            let made = parse_zone(text).ok().map(|zone| match zone {
                Zone::Fixed(seconds) => RuntimeZone::fixed(seconds).ok(),
                Zone::Iana(_) => text.parse::<chrono_tz::Tz>().ok().map(RuntimeZone::from),
            });
            assert_eq!(made, runtime.map(Some), "{text:?}");
        }
    }

    #[test]
    fn a_miscased_zone_gets_its_spelling() {
        assert_eq!(
            parse_zone("asia/seoul").unwrap_err(),
            "unknown time zone `asia/seoul`: write \"Asia/Seoul\""
        );
    }

    #[test]
    fn a_bad_offset_lists_the_forms() {
        let message = parse_zone("+0:900").unwrap_err();
        assert!(message.contains("`±HH:MM`, `±HHMM` or `±HH`"), "{message}");
    }

    fn path(name: &str) -> String {
        let segments: Vec<String> = constant_path(name)
            .expect("a path")
            .iter()
            .map(ToString::to_string)
            .collect();
        segments.join("::")
    }

    #[test]
    fn zone_names_become_chrono_tz_paths() {
        for (name, expected) in [
            ("Asia/Seoul", "Asia::Seoul"),
            ("UTC", "UTC"),
            (
                "America/Argentina/Buenos_Aires",
                "America::Argentina::Buenos_Aires",
            ),
            ("America/Port-au-Prince", "America::PortauPrince"),
            ("Etc/GMT+9", "Etc::GMTPlus9"),
            ("Etc/GMT-14", "Etc::GMTMinus14"),
            ("GMT-0", "GMTMinus0"),
            ("GB-Eire", "GBEire"),
            ("NZ-CHAT", "NZCHAT"),
            ("US/East-Indiana", "US::EastIndiana"),
        ] {
            assert_eq!(path(name), expected);
        }
    }

    #[test]
    fn every_zone_has_a_distinct_path() {
        let mut paths: Vec<String> = chrono_tz::TZ_VARIANTS
            .iter()
            .map(|tz| path(tz.name()))
            .collect();
        let count = paths.len();
        paths.sort();
        paths.dedup();
        assert_eq!(paths.len(), count);
    }

    /// `tests/zone_paths.rs` as it should be: every zone the attribute
    /// accepts, with the path it emits.
    fn zone_paths_file() -> String {
        let mut file = String::from(
            "//! Every IANA zone, with the chrono-tz constant that `#[tasks::r#loop]` emits\n\
             //! for it (`tz = \"Etc/GMT+9\"` becomes `tz::Etc::GMTPlus9`): this file\n\
             //! compiles only if every path exists, and its test checks that each names\n\
             //! its zone. Written by the unit test `the_list_of_zone_paths_is_current`\n\
             //! in `src/validate.rs`: `TASKS_BLESS=1 cargo test -p tasks-macros --lib`.\n\
             \n\
             use tasks::tz::{self, Tz};\n\
             \n\
             #[rustfmt::skip]\n\
             const ZONES: &[(&str, Tz)] = &[\n",
        );
        for tz in chrono_tz::TZ_VARIANTS {
            file.push_str(&format!(
                "    ({:?}, tz::{}),\n",
                tz.name(),
                path(tz.name())
            ));
        }
        file.push_str(
            "];\n\
             \n\
             #[test]\n\
             fn every_path_names_its_zone() {\n\
             \x20   for (name, zone) in ZONES {\n\
             \x20       assert_eq!(zone.name(), *name);\n\
             \x20   }\n\
             \x20   assert_eq!(ZONES.len(), tz::TZ_VARIANTS.len());\n\
             }\n",
        );
        file
    }

    #[test]
    fn the_list_of_zone_paths_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/zone_paths.rs");
        let expected = zone_paths_file();
        if std::fs::read_to_string(path).ok().as_deref() == Some(expected.as_str()) {
            return;
        }
        if std::env::var_os("TASKS_BLESS").is_some() {
            std::fs::write(path, expected).expect("tests/zone_paths.rs written");
        } else {
            panic!(
                "tests/zone_paths.rs is out of date (chrono-tz changed?): rewrite it with \
                 `TASKS_BLESS=1 cargo test -p tasks-macros --lib`, then run its test"
            );
        }
    }

    #[test]
    fn intervals_add_up_in_range() {
        let (config, errors) = check(quote!(seconds = 30, minutes = -0.25));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(config.interval.seconds, Some(30.0));
        assert_eq!(config.interval.minutes, Some(-0.25));
    }

    #[test]
    fn an_interval_out_of_range_blames_the_part_that_takes_it_there() {
        for (tokens, blamed) in [
            (
                quote!(seconds = 10000000000000000000),
                "`seconds = 10000000000000000000` makes the interval longer",
            ),
            (
                quote!(seconds = 5, hours = 1e9),
                "`hours = 1e9` makes the interval longer",
            ),
            (quote!(minutes = 1e999), "`minutes = 1e999` is out of range"),
            (
                quote!(seconds = 30, minutes = -1),
                "`minutes = -1` makes the interval negative, -30 seconds in all",
            ),
            (
                quote!(hours = 876601, seconds = -1),
                "`hours = 876601` makes the interval longer",
            ),
            (
                quote!(seconds = -5),
                "`seconds = -5` makes the interval negative: give zero or more",
            ),
        ] {
            let (config, errors) = check(tokens);
            assert_eq!(errors.len(), 1, "{blamed}: {errors:?}");
            assert!(errors[0].starts_with(blamed), "{errors:?}");
            assert!(config.interval.seconds.is_none() && config.interval.hours.is_none());
        }
    }

    #[test]
    fn times_and_zones_become_values() {
        let (config, errors) = check(quote!(time = ["08:00", "20:30:15"], tz = "-0530"));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            config.times,
            [
                Time {
                    hour: 8,
                    minute: 0,
                    second: 0
                },
                Time {
                    hour: 20,
                    minute: 30,
                    second: 15
                }
            ]
        );
        assert_eq!(config.zone, Some(Zone::Fixed(-19_800)));
    }

    #[test]
    fn every_problem_is_reported_and_the_rest_kept() {
        let (config, errors) = check(quote!(
            seconds = -1,
            count = 0,
            time = ["25:00", "08:00"],
            tz = "Nowhere",
            reconnect = true
        ));
        assert_eq!(errors.len(), 5, "{errors:?}");
        assert_eq!(config.times.len(), 1);
        assert_eq!(config.reconnect, Some(true));
        assert!(config.count.is_none() && config.zone.is_none());
    }
}
