//! Properties of times-of-day scheduling over every UTC-offset change from
//! 1970 to 2037 in zones with different rules.
//!
//! The transitions are found by scanning each zone's UTC offset (chrono-tz
//! has no public transition list), and an independent oracle resolves each
//! (date, listed time) from them: a time in a gap is shifted forward by the
//! gap, a time that happens twice resolves to the instant the policy picks.
//! A schedule iterated with `TimeOfDay::next_run`, as a loop does, must then
//! fire at exactly the oracle's instants in order: strictly increasing,
//! never twice for the same scheduled time, never skipping one (so never a
//! day). A few end-to-end runs drive a real `Loop` through transitions on
//! the paused clock with a `VirtualClock`.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;
use tasks_runtime::testing::VirtualClock;
use tasks_runtime::{AmbiguousTime, Loop, TimeOfDay};

mod common;
#[path = "support/transitions.rs"]
mod transitions;

use common::utc;
use transitions::{offset, transitions, Transition, ZONES};

/// The oracle: the instant (date, time) in `tz` must run at, from the
/// scanned transitions and UTC offsets alone.
fn resolve(tz: Tz, local: NaiveDateTime, policy: AmbiguousTime) -> DateTime<Utc> {
    let guess = local.and_utc();
    let all = transitions(tz);
    let from = all.partition_point(|t| t.at < guess - TimeDelta::days(2));
    let near: Vec<&Transition> = all[from..]
        .iter()
        .take_while(|t| t.at <= guess + TimeDelta::days(2))
        .collect();
    let mut offsets = vec![offset(tz, guess)];
    offsets.extend(near.iter().flat_map(|t| [t.before, t.after]));
    let valid: BTreeSet<DateTime<Utc>> = offsets
        .into_iter()
        .filter_map(|o| {
            let at = (local - TimeDelta::seconds(o.into())).and_utc();
            (offset(tz, at) == o).then_some(at)
        })
        .collect();
    match (valid.first(), valid.last(), valid.len()) {
        (Some(&only), _, 1) => only,
        (Some(&earlier), Some(&later), 2) => match policy {
            AmbiguousTime::Earlier => earlier,
            AmbiguousTime::Later => later,
        },
        (_, _, 0) => {
            // In a gap: read with the offset before it, which lands
            // `after - before` later on the new clock.
            let gap = near
                .iter()
                .find(|t| {
                    let from = t.at.naive_utc() + TimeDelta::seconds(t.before.into());
                    let to = t.at.naive_utc() + TimeDelta::seconds(t.after.into());
                    from <= local && local < to
                })
                .unwrap_or_else(|| panic!("{local} in {tz} is in no gap"));
            let at = (local - TimeDelta::seconds(gap.before.into())).and_utc();
            assert!(at >= gap.at);
            at
        }
        _ => panic!("{local} in {tz} happens {} times", valid.len()),
    }
}

/// The local date in `tz` at `at`.
fn local_date(tz: Tz, at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&tz).date_naive()
}

/// Every instant the oracle schedules for `times` on the local dates
/// around `from..=to`.
fn scheduled(
    tz: Tz,
    times: &[NaiveTime],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    policy: AmbiguousTime,
) -> BTreeSet<DateTime<Utc>> {
    let first = local_date(tz, from) - TimeDelta::days(2);
    let last = local_date(tz, to) + TimeDelta::days(2);
    first
        .iter_days()
        .take_while(|d| *d <= last)
        .flat_map(|d| {
            times
                .iter()
                .map(move |t| resolve(tz, d.and_time(*t), policy))
        })
        .collect()
}

/// What a loop on `times` runs, from `start` until `until`: each next
/// instant is computed `late` after the previous run began, as a loop does
/// right after it wakes.
fn fire(
    tz: Tz,
    times: &[NaiveTime],
    start: DateTime<Utc>,
    until: DateTime<Utc>,
    policy: AmbiguousTime,
    late: impl Fn(usize) -> TimeDelta,
) -> Vec<DateTime<Utc>> {
    let listed: Vec<TimeOfDay> = times
        .iter()
        .map(|t| TimeOfDay::utc(*t).in_zone(tz))
        .collect();
    let mut runs: Vec<DateTime<Utc>> = Vec::new();
    let mut now = start;
    while let Some(next) = TimeOfDay::next_run(&listed, now, runs.last().copied(), policy) {
        if next > until {
            break;
        }
        runs.push(next);
        now = next + late(runs.len());
        assert!(runs.len() < 1000, "runaway schedule in {tz}");
    }
    runs
}

/// Checks the properties of one schedule through one window.
fn check(
    tz: Tz,
    times: &[NaiveTime],
    start: DateTime<Utc>,
    until: DateTime<Utc>,
    policy: AmbiguousTime,
    late: impl Fn(usize) -> TimeDelta,
) -> Result<usize, String> {
    let runs = fire(tz, times, start, until, policy, late);
    let context = || format!("{tz} {times:?} {policy:?} from {start} to {until}");
    // Strictly increasing: never twice for the same instant, always after
    // the previous run.
    if let Some(w) = runs.windows(2).find(|w| w[1] <= w[0]) {
        return Err(format!("{}: {} then {}", context(), w[0], w[1]));
    }
    // Exactly the scheduled instants: none invented (so the other pass of
    // a repeated hour never runs), none skipped (so never a day).
    let expected: Vec<DateTime<Utc>> = scheduled(tz, times, start, until, policy)
        .into_iter()
        .filter(|at| *at >= start && *at <= until)
        .collect();
    if runs != expected {
        let missing: Vec<_> = expected.iter().filter(|a| !runs.contains(a)).collect();
        let extra: Vec<_> = runs.iter().filter(|a| !expected.contains(a)).collect();
        return Err(format!(
            "{}: missing {missing:?}, extra {extra:?}",
            context()
        ));
    }
    // Every local date of the window has its run(s).
    let dates: BTreeSet<NaiveDate> = runs.iter().map(|r| local_date(tz, *r)).collect();
    let (first, last) = (local_date(tz, start), local_date(tz, until));
    for day in first
        .succ_opt()
        .unwrap()
        .iter_days()
        .take_while(|d| *d < last)
    {
        let exists = resolve(tz, day.and_hms_opt(12, 0, 0).unwrap(), policy);
        if local_date(tz, exists) == day && !dates.contains(&day) && !times.is_empty() {
            // A date can lack a run only if each of its times was moved to
            // another date by a gap.
            let moved = times
                .iter()
                .all(|t| local_date(tz, resolve(tz, day.and_time(*t), policy)) != day);
            if !moved {
                return Err(format!("{}: no run on {day}", context()));
            }
        }
    }
    Ok(runs.len())
}

/// The wall-clock times of day on each side of a transition, and the ones
/// inside its gap or repeated hour.
fn interesting_times(t: &Transition) -> Vec<NaiveTime> {
    let from = (t.at.naive_utc() + TimeDelta::seconds(t.before.into())).time();
    let to = (t.at.naive_utc() + TimeDelta::seconds(t.after.into())).time();
    let width = TimeDelta::seconds((t.after - t.before).abs().into());
    let middle = from.overflowing_add_signed(width / 2).0;
    let before = from.overflowing_add_signed(TimeDelta::minutes(-1)).0;
    let mut times = vec![before, from, middle, to, NaiveTime::MIN];
    times.sort();
    times.dedup();
    times
}

#[test]
fn the_scan_finds_the_known_transitions() {
    let count = |tz| transitions(tz).len();
    assert_eq!(count(chrono_tz::Asia::Kolkata), 0);
    // New York: twice a year but in 1974-1975 (and 1974 started in January).
    assert!(count(chrono_tz::America::New_York) >= 130);
    let apia = transitions(chrono_tz::Pacific::Apia);
    let skip = apia
        .iter()
        .find(|t| t.after - t.before == 24 * 3600)
        .expect("the skipped day");
    assert_eq!(skip.at, utc("2011-12-30T10:00:00Z"));
    let lord_howe = transitions(chrono_tz::Australia::Lord_Howe);
    assert!(lord_howe
        .iter()
        .filter(|t| t.at.year() >= 1986)
        .all(|t| (t.after - t.before).abs() == 1800));
    let moscow = transitions(chrono_tz::Europe::Moscow);
    assert!(moscow
        .iter()
        .any(|t| t.at == utc("2014-10-25T22:00:00Z") && t.before == 4 * 3600));
    for &tz in ZONES {
        for t in transitions(tz) {
            assert_ne!(t.before, t.after);
        }
    }
}

/// Every transition of every zone, with the times of day on each side of it
/// and inside it, under both policies.
#[test]
fn every_transition_from_1970_to_2037_runs_each_scheduled_time_once_in_order() {
    let mut transitions_checked = 0;
    let mut runs_checked = 0;
    let mut per_zone = Vec::new();
    for &tz in ZONES {
        let all = transitions(tz);
        for t in all {
            let times = interesting_times(t);
            let start = t.at - TimeDelta::hours(36);
            let until = t.at + TimeDelta::hours(60);
            let policies: &[AmbiguousTime] = if t.after < t.before {
                &[AmbiguousTime::Later, AmbiguousTime::Earlier]
            } else {
                &[AmbiguousTime::Later]
            };
            for &policy in policies {
                runs_checked += check(tz, &times, start, until, policy, |_| TimeDelta::zero())
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            transitions_checked += 1;
        }
        per_zone.push(format!("{tz}: {}", all.len()));
    }
    eprintln!(
        "{transitions_checked} transitions, {runs_checked} runs checked; {}",
        per_zone.join(", ")
    );
    assert!(transitions_checked > 1500);
}

/// A year of a plain schedule in every zone: one run per listed time per
/// date, 1970 to 2037 sampled.
#[test]
fn a_daily_time_runs_every_day_of_a_year_across_its_transitions() {
    for &tz in ZONES {
        for year in [1971, 1988, 2011, 2014, 2022, 2037] {
            let start = utc(&format!("{year}-01-01T00:00:00Z"));
            let until = start + TimeDelta::days(365);
            let times = [NaiveTime::from_hms_opt(2, 30, 0).unwrap()];
            check(tz, &times, start, until, AmbiguousTime::Later, |_| {
                TimeDelta::seconds(5)
            })
            .unwrap_or_else(|e| panic!("{e}"));
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

/// A listed time: one of the interesting ones of the transition, nudged by
/// a few minutes, or any minute of the day.
fn listed_time(t: Transition) -> impl Strategy<Value = NaiveTime> {
    let near = interesting_times(&t);
    prop_oneof![
        (prop::sample::select(near), -90i64..=90)
            .prop_map(|(base, nudge)| { base.overflowing_add_signed(TimeDelta::minutes(nudge)).0 }),
        (0u32..24 * 60).prop_map(|m| NaiveTime::from_hms_opt(m / 60, m % 60, 0).unwrap()),
    ]
}

fn policy() -> impl Strategy<Value = AmbiguousTime> {
    prop_oneof![Just(AmbiguousTime::Later), Just(AmbiguousTime::Earlier)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    /// Random listed times around a random transition, a random start and
    /// bodies that take up to 30 s.
    #[test]
    fn a_schedule_through_a_transition_never_fires_twice_or_skips(
        (tz, t, times) in any_transition().prop_flat_map(|(tz, t)| {
            (Just(tz), Just(t), prop::collection::vec(listed_time(t), 1..=4))
        }),
        policy in policy(),
        start_before in 0i64..3 * 86_400,
        late in prop::collection::vec(0i64..=30, 32),
    ) {
        let start = t.at - TimeDelta::seconds(start_before);
        let until = t.at + TimeDelta::days(3);
        let result = check(tz, &times, start, until, policy, |k| {
            TimeDelta::seconds(late[k % late.len()])
        });
        prop_assert!(result.is_ok(), "{}", result.unwrap_err());
    }

    /// After the wall clock is set back by up to three days right after a
    /// run, the next run is the one that would have come anyway: the same
    /// scheduled time never runs twice.
    #[test]
    fn a_backward_step_after_a_run_never_repeats_it(
        (tz, t, times) in any_transition().prop_flat_map(|(tz, t)| {
            (Just(tz), Just(t), prop::collection::vec(listed_time(t), 1..=3))
        }),
        policy in policy(),
        start_before in 0i64..86_400,
        back in 1i64..3 * 86_400,
    ) {
        let listed: Vec<TimeOfDay> = times.iter().map(|x| TimeOfDay::utc(*x).in_zone(tz)).collect();
        let start = t.at - TimeDelta::seconds(start_before);
        let ran = TimeOfDay::next_run(&listed, start, None, policy).unwrap();
        let anyway = TimeOfDay::next_run(&listed, ran, Some(ran), policy).unwrap();
        let stepped = TimeOfDay::next_run(&listed, ran - TimeDelta::seconds(back), Some(ran), policy);
        prop_assert_eq!(stepped, Some(anyway));
        prop_assert!(anyway > ran);
    }
}

/// Runs a real loop on the paused clock from `start` for `days`, and
/// returns the wall-clock instants its body ran at, checking on the way
/// that `next_iteration` is always after the run in progress.
async fn run_loop(
    times: Vec<TimeOfDay>,
    start: DateTime<Utc>,
    days: u64,
    policy: AmbiguousTime,
    check_every: Duration,
) -> Vec<DateTime<Utc>> {
    let clock = VirtualClock::starting_at(start);
    let runs: Arc<Mutex<Vec<DateTime<Utc>>>> = Arc::default();
    let cell: Arc<OnceLock<Loop<()>>> = Arc::default();
    let body = {
        let (clock, runs, cell) = (Arc::clone(&clock), Arc::clone(&runs), Arc::clone(&cell));
        move |()| {
            let now = clock.now();
            let next = cell.get().and_then(Loop::next_iteration);
            runs.lock().unwrap().push(now);
            async move {
                let next = next.expect("a next iteration while running");
                assert!(next > now, "next {next} not after the run at {now}");
            }
        }
    };
    let lp = Loop::builder(body)
        .times(times)
        .clock(clock.clone())
        .ambiguous_time(policy)
        .wall_clock_check(check_every)
        .build()
        .unwrap();
    let _ = cell.set(lp.clone());
    let run = lp.start(()).unwrap();
    tokio::time::sleep(Duration::from_secs(days * 86_400)).await;
    lp.cancel();
    run.await;
    let runs = runs.lock().unwrap().clone();
    runs
}

/// A real loop through transitions of several zones runs exactly the
/// oracle's instants, on time.
#[tokio::test(start_paused = true)]
async fn a_real_loop_runs_the_scheduled_instants_through_transitions() {
    let picks: &[(Tz, &str)] = &[
        (chrono_tz::America::New_York, "2022-03-13"),
        (chrono_tz::America::New_York, "2022-11-06"),
        (chrono_tz::Australia::Lord_Howe, "2022-10-02"),
        (chrono_tz::Australia::Lord_Howe, "2023-04-02"),
        (chrono_tz::America::Santiago, "2022-09-11"),
        (chrono_tz::Pacific::Apia, "2011-12-30"),
        (chrono_tz::Europe::Moscow, "2014-10-26"),
        (chrono_tz::America::Nuuk, "2024-03-30"),
        (chrono_tz::Africa::Casablanca, "2023-03-19"),
    ];
    let mut total = 0;
    for &(tz, day) in picks {
        let t = *transitions(tz)
            .iter()
            .find(|t| {
                let d = t.at.with_timezone(&tz).date_naive();
                (d - day.parse::<NaiveDate>().unwrap()).num_days().abs() <= 1
            })
            .unwrap_or_else(|| panic!("no transition near {day} in {tz}"));
        let times = interesting_times(&t);
        let listed: Vec<TimeOfDay> = times
            .iter()
            .map(|x| TimeOfDay::utc(*x).in_zone(tz))
            .collect();
        for policy in [AmbiguousTime::Later, AmbiguousTime::Earlier] {
            let start = t.at - TimeDelta::hours(30);
            let ran = run_loop(listed.clone(), start, 3, policy, Duration::from_secs(3600)).await;
            let expected: Vec<DateTime<Utc>> =
                scheduled(tz, &times, start, start + TimeDelta::days(3), policy)
                    .into_iter()
                    .filter(|at| *at >= start && *at <= start + TimeDelta::days(3))
                    .collect();
            assert_eq!(ran, expected, "{tz} around {day}, {policy:?}");
            total += ran.len();
        }
    }
    assert!(total > 100);
}

/// The same with the default 60 s wall-clock check, over a week in New York
/// and Lord Howe, where the documented examples live.
#[tokio::test(start_paused = true)]
async fn a_week_of_daily_runs_with_the_default_check() {
    let cases = [
        (
            "America/New_York",
            "02:30",
            "2022-03-10T00:00:00Z",
            &[
                "2022-03-10T07:30:00Z",
                "2022-03-11T07:30:00Z",
                "2022-03-12T07:30:00Z",
                // 02:30 does not exist on the 13th: 03:30 EDT.
                "2022-03-13T07:30:00Z",
                "2022-03-14T06:30:00Z",
                "2022-03-15T06:30:00Z",
                "2022-03-16T06:30:00Z",
            ][..],
        ),
        (
            "Australia/Lord_Howe",
            "02:15",
            "2022-09-29T00:00:00Z",
            &[
                "2022-09-29T15:45:00Z",
                "2022-09-30T15:45:00Z",
                // 02:15 does not exist on 2022-10-02: 02:45 (+11:00).
                "2022-10-01T15:45:00Z",
                "2022-10-02T15:15:00Z",
                "2022-10-03T15:15:00Z",
                "2022-10-04T15:15:00Z",
                "2022-10-05T15:15:00Z",
            ][..],
        ),
    ];
    for (zone, time, start, expected) in cases {
        let ran = run_loop(
            vec![TimeOfDay::parse_in(time, zone).unwrap()],
            utc(start),
            7,
            AmbiguousTime::Later,
            tasks_runtime::DEFAULT_WALL_CHECK,
        )
        .await;
        let expected: Vec<DateTime<Utc>> = expected.iter().map(|s| utc(s)).collect();
        assert_eq!(ran, expected, "{zone} {time}");
    }
}
