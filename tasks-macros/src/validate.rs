//! What the arguments mean: intervals, count, times of day, cron expressions
//! and time zones, checked at compile time and turned into typed values.
//!
//! The rules are `tasks_syntax`'s, the ones the runtime's builder applies
//! (time zones are read in `zone.rs`), and cron expressions are read by
//! croner with the runtime's settings, so the generated `build` cannot
//! fail; the unit tests compare the two on samples.

use croner::parser::{CronParser, Seconds, Year};
use syn::{LitStr, Path};
use tasks_syntax::IntervalError;

use crate::args::{Args, Given, Key, Number, NumberLit, Times};
use crate::ctxt::Ctxt;
use crate::zone::{self, Zone};

/// The checked arguments: what the generated code sets on the builder.
///
/// A value that failed its check is left out (its error is in the
/// [`Ctxt`]), so that the loop is still generated.
pub(crate) struct Config {
    pub(crate) interval: Interval,
    pub(crate) times: Vec<Time>,
    /// The cron expression, when given and valid.
    pub(crate) cron: Option<LitStr>,
    /// The zone of `times` or `cron`, when given.
    pub(crate) zone: Option<Zone>,
    pub(crate) count: Option<u64>,
    pub(crate) reconnect: Option<bool>,
    pub(crate) missed: Option<Missed>,
    /// In nanoseconds, more than zero.
    pub(crate) timeout: Option<u64>,
    /// In nanoseconds.
    pub(crate) jitter: Option<u64>,
    /// In nanoseconds.
    pub(crate) grace_period: Option<u64>,
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

/// What a relative interval does about missed iterations: the variants of
/// tokio's `MissedTickBehavior`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Missed {
    Burst,
    Delay,
    Skip,
}

impl Missed {
    /// The variant's name in `MissedTickBehavior`.
    pub(crate) fn variant(self) -> &'static str {
        match self {
            Missed::Burst => "Burst",
            Missed::Delay => "Delay",
            Missed::Skip => "Skip",
        }
    }
}

/// A time of day, on a 24-hour clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Time {
    pub(crate) hour: u32,
    pub(crate) minute: u32,
    pub(crate) second: u32,
}

/// A kind of schedule: the arguments that give it, and how a loop on it
/// runs, for the messages.
struct Kind {
    /// Its arguments given, in the order of [`Args`].
    given: fn(&Args) -> Vec<Key>,
    runs: &'static str,
    /// Said when it is given with a later kind: how that kind does the
    /// same.
    hint: &'static str,
}

/// The kinds of schedule, the one list the "not two kinds at once" rule
/// reads (the runtime's builder keeps the same list). An argument of a
/// kind given with a later kind is an error on its name, against the first
/// later kind given, so that each argument is reported once.
const KINDS: [Kind; 3] = [
    Kind {
        given: |args| {
            [key(&args.seconds), key(&args.minutes), key(&args.hours)]
                .into_iter()
                .flatten()
                .collect()
        },
        runs: "every interval",
        hint: "",
    },
    Kind {
        given: |args| key(&args.time).into_iter().collect(),
        runs: "at times of day",
        hint: " (a cron expression can give several times: `cron = \"0 0 8,20 * * *\"`)",
    },
    Kind {
        given: |args| key(&args.cron).into_iter().collect(),
        runs: "on a cron schedule",
        hint: "",
    },
];

fn key<T>(given: &Option<Given<T>>) -> Option<Key> {
    given.as_ref().map(|given| given.key)
}

/// Reports each argument of a kind of schedule given with a later kind.
fn one_kind(args: &Args, ctxt: &Ctxt) {
    let given: Vec<(&Kind, Vec<Key>)> = KINDS
        .iter()
        .map(|kind| (kind, (kind.given)(args)))
        .collect();
    for (at, (kind, keys)) in given.iter().enumerate() {
        let later = given[at + 1..]
            .iter()
            .find_map(|(later, keys)| Some((later, keys.first()?.name)));
        let Some((later, other)) = later else {
            continue;
        };
        for key in keys {
            let name = key.name;
            ctxt.error_at(
                key.span,
                format!(
                    "`{name}` cannot be combined with `{other}`: a loop runs either {} or {}, \
                     so remove `{name}` or `{other}`{}",
                    kind.runs, later.runs, kind.hint
                ),
            );
        }
    }
}

/// Checks the arguments; each problem is recorded in `ctxt`, on the token
/// to fix.
pub(crate) fn config(args: Args, ctxt: &Ctxt) -> Config {
    one_kind(&args, ctxt);
    if let Some(time) = &args.time {
        if time.value.times.is_empty() {
            ctxt.error_at(
                time.value.brackets.unwrap_or(time.key.span),
                "the list of times is empty: give at least one, such as `time = [\"08:00\"]`",
            );
        }
    }
    if let Some(tz) = &args.tz {
        if args.time.is_none() && args.cron.is_none() {
            ctxt.error_at(
                tz.key.span,
                "`tz` is the time zone of `time` or `cron`: add `time = \"HH:MM\"` or \
                 `cron = \"...\"`, or remove `tz`",
            );
        }
    }
    Config {
        interval: interval(&args, ctxt),
        times: args
            .time
            .map(|time| times(time.value, ctxt))
            .unwrap_or_default(),
        cron: args.cron.and_then(|cron| self::cron(cron.value, ctxt)),
        zone: args.tz.and_then(|tz| zone(&tz.value, ctxt)),
        count: args.count.and_then(|count| self::count(&count, ctxt)),
        reconnect: args.reconnect.map(|reconnect| reconnect.value.value),
        missed: args
            .missed
            .and_then(|missed| self::missed(&missed.value, ctxt)),
        timeout: args
            .timeout
            .and_then(|timeout| duration(&timeout, true, ctxt)),
        jitter: args
            .jitter
            .and_then(|jitter| duration(&jitter, false, ctxt)),
        grace_period: args
            .grace_period
            .and_then(|grace| duration(&grace, false, ctxt)),
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
            Err(IntervalError::NonFinite { value, .. } | IntervalError::Overflow { value, .. }) => {
                value
            }
        }
    }
}

/// Reports an interval out of range on the part to fix: the one that is
/// not a number, or the one that adds the most in the direction the total
/// is out of range.
fn blame(parts: &[Part], error: IntervalError, ctxt: &Ctxt) {
    let by_seconds = |a: &&Part, b: &&Part| a.seconds().total_cmp(&b.seconds());
    let blamed = match error {
        IntervalError::NonFinite { unit, .. } | IntervalError::Overflow { unit, .. } => {
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
        IntervalError::Overflow { .. } => format!(
            "{part} is out of range, too large to count in seconds: an interval is at most \
             100 years"
        ),
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

/// `missed`: one of tokio's three policies, by its name in lower case.
fn missed(lit: &LitStr, ctxt: &Ctxt) -> Option<Missed> {
    match lit.value().as_str() {
        "burst" => Some(Missed::Burst),
        "delay" => Some(Missed::Delay),
        "skip" => Some(Missed::Skip),
        other => {
            ctxt.error_at(
                lit.span(),
                format!(
                    "`{other}` is not a policy for missed iterations: write \"burst\" (run \
                     them back to back, the default), \"delay\" (one late iteration, the next \
                     ones an interval after it) or \"skip\" (one late iteration, then the \
                     original schedule)"
                ),
            );
            None
        }
    }
}

/// `timeout` (`positive`), `jitter` or `grace_period`: seconds, within
/// 100 years, in nanoseconds.
fn duration(given: &Given<Number>, positive: bool, ctxt: &Ctxt) -> Option<u64> {
    let name = given.key.name;
    let seconds = signed_value(&given.value);
    let message = if !seconds.is_finite() {
        format!("`{name}` is too large: give at most 100 years, in seconds")
    } else if seconds < 0.0 {
        format!("`{name}` cannot be negative: give a number of seconds, such as `{name} = 5`")
    } else if positive && seconds == 0.0 {
        format!("`{name}` must be more than zero: give a number of seconds, or remove `{name}`")
    } else if !tasks_syntax::duration_in_range(seconds) {
        format!("`{name}` is {seconds} seconds, more than 100 years: give a shorter one")
    } else {
        let nanos = (seconds * 1e9).round() as u64;
        if positive && nanos == 0 {
            format!("`{name}` is shorter than a nanosecond: give a longer one, or remove `{name}`")
        } else {
            return Some(nanos);
        }
    };
    ctxt.error_spanned_by(&given.value, message);
    None
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

/// croner as the runtime's `Cron::parse` configures it: 5 fields, or 6
/// with seconds first.
fn cron_parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
}

/// The cron expression, if croner reads it; an error on it if not.
fn cron(lit: LitStr, ctxt: &Ctxt) -> Option<LitStr> {
    let expression = lit.value();
    let parser = cron_parser();
    if parser.parse(&expression).is_ok() {
        return Some(lit);
    }
    let parse = |text: &str| parser.parse(text).map(drop).map_err(|e| e.to_string());
    let reason = tasks_syntax::cron_error(&expression, parse)
        .unwrap_or_else(|| "croner cannot read it".to_owned());
    ctxt.error_at(
        lit.span(),
        format!("`{expression}` is not a valid cron expression: {reason}"),
    );
    None
}

/// The zone named by `lit`, or an error on it.
fn zone(lit: &LitStr, ctxt: &Ctxt) -> Option<Zone> {
    match zone::parse(&lit.value()) {
        Ok(zone) => Some(zone),
        Err(message) => {
            ctxt.error_at(lit.span(), message);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args;
    use quote::quote;
    use tasks::{ConfigError, Cron, TimeOfDay};

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
    fn cron_expressions_follow_the_runtime() {
        let samples = [
            "0 30 9 * * MON-FRI",
            "*/15 9-17 * * mon-fri",
            "0 0 L * *",
            "0 0 LW * ?",
            "0 0 * * 5L",
            "0 0 * * 1#2",
            "0 0 15W * *",
            "@daily",
            "@dayly",
            "0 0 30 2 *",
            "",
            "* * * *",
            "* * * * * * *",
            "60 * * * *",
            "0 24 * * *",
            "0 0 32 * *",
            "0 0 * 13 *",
            "0 0 * * 8",
            "0 0 * * MOX",
            "*/0 * * * *",
            "0/10 * * * *",
            "5-2 * * * *",
            "0 0 * * 1#6",
            "  0  9 * * *  ",
        ];
        for text in samples {
            let ctxt = Ctxt::new();
            let lit = LitStr::new(text, proc_macro2::Span::call_site());
            let checked = cron(lit, &ctxt).map(|lit| lit.value());
            let errors = ctxt.finish();
            match Cron::parse(text) {
                Ok(runtime) => {
                    assert_eq!(checked.as_deref(), Some(text), "{text:?}");
                    assert!(errors.is_empty(), "{text:?}: {errors:?}");
                    assert_eq!(runtime.expression(), text.trim());
                }
                Err(error @ ConfigError::InvalidCron { .. }) => {
                    assert_eq!(checked, None, "{text:?}");
                    assert_eq!(errors, [error.to_string()], "{text:?}");
                }
                Err(other) => panic!("{text:?}: {other}"),
            }
        }
    }

    #[test]
    fn cron_takes_tz_and_nothing_else_of_the_schedule() {
        let (config, errors) = check(quote!(cron = "0 30 9 * * MON-FRI", tz = "Asia/Seoul"));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            config.cron.map(|c| c.value()).as_deref(),
            Some("0 30 9 * * MON-FRI")
        );
        assert!(config.zone.is_some());
        let (_, errors) = check(quote!(
            cron = "@daily",
            seconds = 5,
            hours = 1,
            time = "08:00"
        ));
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].starts_with("`seconds` cannot be combined with `time`"));
        assert!(errors[1].starts_with("`hours` cannot be combined with `time`"));
        assert!(errors[2].starts_with("`time` cannot be combined with `cron`"));
        let (_, errors) = check(quote!(minutes = 5, cron = "@daily"));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].starts_with("`minutes` cannot be combined with `cron`"));
        let (config, errors) = check(quote!(cron = "0 0 32 * *", tz = "UTC"));
        assert_eq!(
            errors,
            [
                "`0 0 32 * *` is not a valid cron expression: number out of bounds in the \
              day-of-month field `32`: days of the month go from 1 to 31, with `L` for the \
              last day and `W` for the nearest weekday (`15W`, `LW`)"
            ]
        );
        assert!(config.cron.is_none());
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
                quote!(minutes = 1e307, hours = -1e307),
                "`minutes = 1e307` is out of range, too large to count in seconds",
            ),
            (
                quote!(hours = 1e307, seconds = 1, minutes = -1e307),
                "`minutes = -1e307` is out of range, too large to count in seconds",
            ),
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

    #[test]
    fn missed_timeout_jitter_and_grace_period_become_values() {
        let (config, errors) = check(quote!(
            missed = "delay",
            timeout = 1.5,
            jitter = 0,
            grace_period = 60
        ));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(config.missed, Some(Missed::Delay));
        assert_eq!(config.timeout, Some(1_500_000_000));
        assert_eq!(config.jitter, Some(0));
        assert_eq!(config.grace_period, Some(60_000_000_000));
    }

    #[test]
    fn missed_timeout_and_jitter_are_checked() {
        for (tokens, message) in [
            (
                quote!(missed = "late"),
                "`late` is not a policy for missed iterations",
            ),
            (quote!(timeout = 0), "`timeout` must be more than zero"),
            (quote!(timeout = -1), "`timeout` cannot be negative"),
            (quote!(jitter = -0.5), "`jitter` cannot be negative"),
            (
                quote!(jitter = 1e10),
                "`jitter` is 10000000000 seconds, more than 100 years",
            ),
            (
                quote!(timeout = 1e-12),
                "`timeout` is shorter than a nanosecond",
            ),
            (
                quote!(grace_period = -60),
                "`grace_period` cannot be negative",
            ),
            (
                quote!(grace_period = 1e10),
                "`grace_period` is 10000000000 seconds, more than 100 years",
            ),
        ] {
            let (config, errors) = check(tokens);
            assert_eq!(errors.len(), 1, "{message}: {errors:?}");
            assert!(errors[0].starts_with(message), "{errors:?}");
            assert!(config.missed.is_none() && config.timeout.is_none() && config.jitter.is_none());
            assert!(config.grace_period.is_none());
        }
    }
}
