//! Properties of cron schedules over the UTC-offset changes of the zones of
//! the DST suite (`dst_properties.rs`), 1970 to 2037.
//!
//! The oracle is independent of `tasks`' walk along a zone's offsets: croner
//! lists the local date-times an expression matches (it defines what an
//! expression means on a calendar), and each is resolved from the zone's
//! offsets alone, scanned as in the DST suite. An expression of fixed times
//! resolves as a time of day does (a time in a gap is shifted forward by the
//! gap, a repeated time runs at the pass the policy picks); one whose minute
//! or hour field starts with `*` follows real time (every instant whose
//! local time matches: both passes of a repeated hour, nothing in a gap).
//! A schedule iterated with `Cron::next_run`, as a loop does, must run
//! exactly the oracle's instants, in strictly increasing order. Where a zone
//! has no transition, the runs are also held against croner's own
//! iteration over zoned date-times.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDateTime, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use proptest::prelude::*;
use tasks_runtime::{AmbiguousTime, Cron};

mod common;
#[path = "support/transitions.rs"]
mod transitions;

use common::utc;
use transitions::{offset, transitions, Transition, ZONES};

/// The transitions within two days of `local` read as UTC.
fn near(tz: Tz, local: NaiveDateTime) -> Vec<Transition> {
    let guess = local.and_utc();
    let all = transitions(tz);
    let from = all.partition_point(|t| t.at < guess - TimeDelta::days(2));
    all[from..]
        .iter()
        .take_while(|t| t.at <= guess + TimeDelta::days(2))
        .copied()
        .collect()
}

/// Every instant whose local time in `tz` is `local`: none in a gap, two
/// in a repeated stretch, from the scanned offsets alone.
fn instants_of(tz: Tz, local: NaiveDateTime) -> Vec<DateTime<Utc>> {
    let mut offsets = vec![offset(tz, local.and_utc())];
    offsets.extend(near(tz, local).iter().flat_map(|t| [t.before, t.after]));
    let mut valid: Vec<DateTime<Utc>> = offsets
        .into_iter()
        .filter_map(|o| {
            let at = (local - TimeDelta::seconds(o.into())).and_utc();
            (offset(tz, at) == o).then_some(at)
        })
        .collect();
    valid.sort();
    valid.dedup();
    valid
}

/// The instant a fixed local time runs at: shifted forward by the gap it
/// is in, or the pass the policy picks.
fn resolve(tz: Tz, local: NaiveDateTime, policy: AmbiguousTime) -> DateTime<Utc> {
    match instants_of(tz, local).as_slice() {
        [only] => *only,
        [earlier, later] => match policy {
            AmbiguousTime::Earlier => *earlier,
            AmbiguousTime::Later => *later,
        },
        [] => {
            let gap = near(tz, local)
                .into_iter()
                .find(|t| {
                    let from = t.at.naive_utc() + TimeDelta::seconds(t.before.into());
                    let to = t.at.naive_utc() + TimeDelta::seconds(t.after.into());
                    from <= local && local < to
                })
                .unwrap_or_else(|| panic!("{local} in {tz} is in no gap"));
            (local - TimeDelta::seconds(gap.before.into())).and_utc()
        }
        more => panic!("{local} in {tz} happens {} times", more.len()),
    }
}

/// croner as `tasks` configures it.
fn parse(expression: &str) -> croner::Cron {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
        .parse(expression)
        .unwrap_or_else(|e| panic!("{expression}: {e}"))
}

/// Whether the minute or the hour field starts with `*`, read from the
/// text as written (the oracle's own reading of the rule).
fn real_time(expression: &str) -> bool {
    if expression.trim().eq_ignore_ascii_case("@hourly") {
        return true;
    }
    let fields: Vec<&str> = expression.split_whitespace().collect();
    let (minute, hour) = match fields.len() {
        6 => (fields[1], fields[2]),
        5 => (fields[0], fields[1]),
        _ => return false,
    };
    minute.starts_with('*') || hour.starts_with('*')
}

/// The oracle: every instant from `start` to `until` that the expression
/// schedules in `tz`, with the local time each comes from.
fn scheduled(
    tz: Tz,
    expression: &str,
    start: DateTime<Utc>,
    until: DateTime<Utc>,
    policy: AmbiguousTime,
) -> BTreeMap<DateTime<Utc>, NaiveDateTime> {
    let pattern = parse(expression);
    let real = real_time(expression);
    let first = start.naive_utc() - TimeDelta::days(2);
    let last = until.naive_utc() + TimeDelta::days(2);
    let mut instants = BTreeMap::new();
    for local in pattern
        .iter_from(first, croner::Direction::Forward)
        .take_while(|l| *l <= last)
    {
        let at = if real {
            instants_of(tz, local)
        } else {
            vec![resolve(tz, local, policy)]
        };
        for at in at.into_iter().filter(|at| (start..=until).contains(at)) {
            // Two local times can shift onto one instant: it runs once.
            instants.entry(at).or_insert(local);
        }
    }
    instants
}

/// What a loop on the expression runs from `start` until `until`: each
/// next instant is computed `late` after the previous run began.
fn fire(
    cron: &Cron,
    start: DateTime<Utc>,
    until: DateTime<Utc>,
    policy: AmbiguousTime,
    late: impl Fn(usize) -> TimeDelta,
) -> Vec<DateTime<Utc>> {
    let mut runs: Vec<DateTime<Utc>> = Vec::new();
    let mut now = start;
    while let Some(next) = cron.next_run(now, runs.last().copied(), policy) {
        if next > until {
            break;
        }
        runs.push(next);
        now = next + late(runs.len());
        assert!(runs.len() < 5000, "runaway schedule: {cron}");
    }
    runs
}

/// Checks one schedule through one window; the number of runs.
fn check(
    tz: Tz,
    expression: &str,
    start: DateTime<Utc>,
    until: DateTime<Utc>,
    policy: AmbiguousTime,
    late: impl Fn(usize) -> TimeDelta,
) -> Result<usize, String> {
    let cron = Cron::parse(expression)
        .map_err(|e| e.to_string())?
        .in_zone(tz);
    let context = || format!("`{expression}` in {tz}, {policy:?}, from {start} to {until}");
    if cron.follows_real_time() != real_time(expression) {
        return Err(format!("{}: real time read differently", context()));
    }
    let runs = fire(&cron, start, until, policy, late);
    if let Some(w) = runs.windows(2).find(|w| w[1] <= w[0]) {
        return Err(format!("{}: {} then {}", context(), w[0], w[1]));
    }
    let expected = scheduled(tz, expression, start, until, policy);
    let pattern = parse(expression);
    for run in &runs {
        // Each run is a local time of the expression, or the gap shift of
        // one (the oracle's, from the scanned offsets).
        let local = run.with_timezone(&tz).naive_local();
        let matches = pattern.is_time_matching(&local).unwrap_or(false);
        let shifted = expected
            .get(run)
            .is_some_and(|from| !cron.follows_real_time() && instants_of(tz, *from).is_empty());
        if !matches && !shifted {
            return Err(format!(
                "{}: {run} ({local} local) matches no local time",
                context()
            ));
        }
    }
    let expected: Vec<DateTime<Utc>> = expected.into_keys().collect();
    if runs != expected {
        let missing: Vec<_> = expected.iter().filter(|a| !runs.contains(a)).collect();
        let extra: Vec<_> = runs.iter().filter(|a| !expected.contains(a)).collect();
        return Err(format!(
            "{}: missing {missing:?}, extra {extra:?}",
            context()
        ));
    }
    Ok(runs.len())
}

/// The local hours and minutes on each side of a transition and inside
/// its gap or repeated stretch.
fn interesting(t: &Transition) -> Vec<(u32, u32)> {
    let from = t.at.naive_utc() + TimeDelta::seconds(t.before.into());
    let to = t.at.naive_utc() + TimeDelta::seconds(t.after.into());
    let middle = from.min(to) + (to - from).abs() / 2;
    let before = from - TimeDelta::minutes(1);
    let mut times: Vec<(u32, u32)> = [before, from, middle, to]
        .iter()
        .map(|l| (l.hour(), l.minute()))
        .collect();
    times.sort();
    times.dedup();
    times
}

/// A comma list of numbers, sorted, without repeats.
fn list(values: impl IntoIterator<Item = u32>) -> String {
    let mut values: Vec<u32> = values.into_iter().collect();
    values.sort();
    values.dedup();
    values
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn the_scan_finds_the_transitions_of_the_dst_suite() {
    let total: usize = ZONES.iter().map(|&tz| transitions(tz).len()).sum();
    assert!(total > 1500, "{total}");
    assert!(transitions(chrono_tz::Asia::Kolkata).is_empty());
}

/// Every transition of every zone, with an expression of the fixed times
/// around and inside it (under both policies) and one that follows real
/// time through the same hours.
#[test]
fn every_transition_from_1970_to_2037_runs_each_scheduled_instant_once_in_order() {
    let (mut checked, mut runs) = (0, 0);
    for &tz in ZONES {
        for t in transitions(tz) {
            let times = interesting(t);
            let hours = list(times.iter().map(|(h, _)| *h));
            let minutes = list(times.iter().map(|(_, m)| *m));
            let fixed = format!("{minutes} {hours} * * *");
            let real = format!("0 */20 {hours} * * *");
            let start = t.at - TimeDelta::hours(30);
            let until = t.at + TimeDelta::hours(30);
            let policies: &[AmbiguousTime] = if t.after < t.before {
                &[AmbiguousTime::Later, AmbiguousTime::Earlier]
            } else {
                &[AmbiguousTime::Later]
            };
            for &policy in policies {
                for expression in [&fixed, &real] {
                    runs += check(tz, expression, start, until, policy, |_| TimeDelta::zero())
                        .unwrap_or_else(|e| panic!("{e}"));
                }
            }
            checked += 1;
        }
    }
    eprintln!("{checked} transitions, {runs} runs checked");
    assert!(checked > 1500);
}

/// The last day of the month, through a year of each zone.
#[test]
fn the_last_day_of_the_month_runs_once_a_month_through_the_year() {
    for &tz in ZONES {
        for year in [1988, 2011, 2024] {
            let start = utc(&format!("{year}-01-01T00:00:00Z"));
            let until = start + TimeDelta::days(366);
            let runs = check(
                tz,
                "0 30 2 L * *",
                start,
                until,
                AmbiguousTime::Later,
                |_| TimeDelta::seconds(5),
            )
            .unwrap_or_else(|e| panic!("{e}"));
            assert!((11..=13).contains(&runs), "{tz} {year}: {runs}");
        }
    }
}

fn any_transition() -> impl Strategy<Value = (Tz, Transition)> {
    let with_changes: Vec<Tz> = ZONES
        .iter()
        .copied()
        .filter(|tz| !transitions(*tz).is_empty())
        .collect();
    (0..with_changes.len(), any::<prop::sample::Index>()).prop_map(move |(z, i)| {
        let tz = with_changes[z];
        let all = transitions(tz);
        (tz, all[i.index(all.len())])
    })
}

/// A second field, or none (five fields).
fn second_field() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        3 => Just(None),
        1 => (0u32..60).prop_map(|s| Some(s.to_string())),
        1 => (0u32..60, 0u32..60).prop_map(|(a, b)| Some(list([a, b]))),
    ]
}

/// A minute field: fixed values, ranges, or a wildcard step (real time).
fn minute_field(near: Vec<u32>) -> impl Strategy<Value = String> {
    prop_oneof![
        2 => prop::sample::select(near.clone()).prop_map(|m| m.to_string()),
        1 => prop::collection::vec(0u32..60, 1..=3).prop_map(list),
        1 => (0u32..50, 1u32..=5, 2u32..=15)
            .prop_map(|(a, n, k)| format!("{a}-{}/{k}", (a + n * k).min(59))),
        1 => (prop::sample::select(near), 1u32..=20)
            .prop_map(|(a, n)| format!("{a}-{}", (a + n).min(59))),
        2 => (5u32..=30).prop_map(|k| format!("*/{k}")),
    ]
}

/// An hour field: hours near the transition, ranges, a wildcard or a step.
fn hour_field(near: Vec<u32>) -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::collection::vec(prop::sample::select(near.clone()), 1..=2).prop_map(list),
        1 => (prop::sample::select(near), 1u32..=3)
            .prop_map(|(h, n)| format!("{}-{}", h.saturating_sub(1), (h + n).min(23))),
        1 => Just("*".to_owned()),
        1 => (2u32..=6).prop_map(|k| format!("*/{k}")),
    ]
}

/// The day fields: mostly every day, or days that include the transition's.
fn day_fields(t: Transition, tz: Tz) -> impl Strategy<Value = String> {
    let local = t.at.with_timezone(&tz).naive_local();
    let (day, month) = (local.day(), local.month());
    let weekday = local.weekday().num_days_from_sunday();
    prop_oneof![
        4 => Just("* * *".to_owned()),
        1 => Just(format!("{},L * *", day)),
        1 => Just(format!("{}-{} {} ?", day.saturating_sub(1).max(1), (day + 1).min(28).max(day), month)),
        1 => Just(format!("? * {weekday},{}", (weekday + 1) % 7)),
        1 => Just("* * MON-FRI".to_owned()),
        1 => Just("LW * *".to_owned()),
    ]
}

/// A random expression around a transition.
fn expression(tz: Tz, t: Transition) -> impl Strategy<Value = String> {
    let times = interesting(&t);
    let hours: Vec<u32> = times.iter().map(|(h, _)| *h).collect();
    let minutes: Vec<u32> = times.iter().map(|(_, m)| *m).collect();
    (
        second_field(),
        minute_field(minutes),
        hour_field(hours),
        day_fields(t, tz),
    )
        .prop_map(|(second, minute, hour, days)| match second {
            Some(second) => format!("{second} {minute} {hour} {days}"),
            None => format!("{minute} {hour} {days}"),
        })
}

fn policy() -> impl Strategy<Value = AmbiguousTime> {
    prop_oneof![Just(AmbiguousTime::Later), Just(AmbiguousTime::Earlier)]
}

/// Twenty runs of `cron` from `start`, each croner's next occurrence in
/// `zone` (which has no transition there).
fn same_as_croner<Z: TimeZone>(
    cron: &Cron,
    start: DateTime<Utc>,
    zone: Z,
) -> Result<(), TestCaseError>
where
    DateTime<Z>: croner::CronDateTime,
{
    let pattern = parse(cron.expression());
    let mut croner_at = start.with_timezone(&zone);
    let mut ours = start;
    let mut last = None;
    for _ in 0..20 {
        let theirs = pattern
            .find_next_occurrence(&croner_at, last.is_none())
            .unwrap();
        let next = cron.next_run(ours, last, AmbiguousTime::Later).unwrap();
        prop_assert_eq!(next, theirs.with_timezone(&Utc), "{}", cron);
        (croner_at, ours, last) = (theirs, next, Some(next));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// Random expressions around a random transition, a random start, and
    /// each next instant computed up to a second after the run began (a
    /// second field can put two instants a second apart).
    #[test]
    fn a_cron_schedule_through_a_transition_never_fires_twice_or_skips(
        (tz, t, expression) in any_transition().prop_flat_map(|(tz, t)| {
            (Just(tz), Just(t), expression(tz, t))
        }),
        policy in policy(),
        start_from in -30i64 * 3600..3 * 3600,
        until_after in 3600i64..30 * 3600,
        late in prop::collection::vec(0i64..1000, 16),
    ) {
        // From up to 30 h before the transition to 3 h after it (inside
        // the instants that a gap shifts), until up to 30 h later.
        let start = t.at + TimeDelta::seconds(start_from);
        let until = start.max(t.at) + TimeDelta::seconds(until_after);
        let result = check(tz, &expression, start, until, policy, |k| {
            TimeDelta::milliseconds(late[k % late.len()])
        });
        prop_assert!(result.is_ok(), "{}", result.unwrap_err());
    }

    /// After the wall clock is set back by up to three days right after a
    /// run, the next run is the one that would have come anyway.
    #[test]
    fn a_backward_step_after_a_run_never_repeats_it(
        (tz, t, expression) in any_transition().prop_flat_map(|(tz, t)| {
            (Just(tz), Just(t), expression(tz, t))
        }),
        policy in policy(),
        start_before in 0i64..86_400,
        back in 1i64..3 * 86_400,
    ) {
        let cron = Cron::parse(&expression).unwrap().in_zone(tz);
        let start = t.at - TimeDelta::seconds(start_before);
        if let Some(ran) = cron.next_run(start, None, policy) {
            let anyway = cron.next_run(ran, Some(ran), policy);
            let stepped = cron.next_run(ran - TimeDelta::seconds(back), Some(ran), policy);
            prop_assert_eq!(stepped, anyway);
            prop_assert!(anyway.is_none_or(|at| at > ran));
        }
    }

    /// In zones without transitions (after 1970) and at fixed offsets,
    /// every run is croner's own next occurrence, for dense expressions too
    /// (seconds included).
    #[test]
    fn without_transitions_the_runs_are_croner_s(
        zone in 0usize..8,
        expression in prop_oneof![
            Just("* * * * * *".to_owned()),
            Just("*/7 * * * *".to_owned()),
            Just("0 30 9 * * MON-FRI".to_owned()),
            Just("0 0 L * *".to_owned()),
            Just("0 12 LW * *".to_owned()),
            Just("0 9 * * 1#2".to_owned()),
            Just("0 9 * * 5L".to_owned()),
            Just("0 9 15W * ?".to_owned()),
            Just("@weekly".to_owned()),
            (second_field(), minute_field(vec![0, 15, 59]), hour_field(vec![0, 9, 23]))
                .prop_map(|(s, m, h)| match s {
                    Some(s) => format!("{s} {m} {h} * * *"),
                    None => format!("{m} {h} * * *"),
                }),
        ],
        start in 0i64..2_000_000_000,
    ) {
        let cron = Cron::parse(&expression).unwrap();
        let start = DateTime::from_timestamp(start, 0).unwrap();
        let zones = [
            chrono_tz::Asia::Kolkata,
            chrono_tz::UTC,
            chrono_tz::Etc::GMTMinus14,
            chrono_tz::Etc::GMTPlus12,
            chrono_tz::Asia::Tokyo,
        ];
        let offsets = [5 * 3600 + 45 * 60, -(9 * 3600 + 30 * 60), 14 * 3600];
        match (zones.get(zone), offsets.get(zone.saturating_sub(zones.len()))) {
            (Some(&tz), _) => same_as_croner(&cron.in_zone(tz), start, tz)?,
            (None, Some(&east)) => {
                let fixed = chrono::FixedOffset::east_opt(east).unwrap();
                same_as_croner(&cron.in_zone(fixed), start, fixed)?;
            }
            (None, None) => unreachable!("{zone}"),
        }
    }
}
