//! Cron loops end to end: built from a string or a parsed `Cron`, read back,
//! switched to and from with `change_interval`, and run on tokio's paused
//! clock with a `VirtualClock` as their wall clock through spring forward
//! and fall back in several zones, through month ends with `L`, across
//! clock steps and suspends, and to the end of an expression that never
//! matches.

mod common;
use common::utc;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tasks_runtime::testing::VirtualClock;
use tasks_runtime::{
    AmbiguousTime, ConfigError, Cron, Interval, Loop, LoopBuilder, NoNextIteration, RunOutcome,
    TimeOfDay, Zone,
};

async fn sleep_secs(secs: u64) {
    tokio::time::sleep(Duration::from_secs(secs)).await;
}

/// A started loop whose body records the wall-clock instants it began at.
struct Recorded {
    clock: Arc<VirtualClock>,
    runs: Arc<Mutex<Vec<DateTime<Utc>>>>,
    the_loop: Loop<()>,
}

impl Recorded {
    fn new(start: &str, configure: impl FnOnce(LoopBuilder<()>) -> LoopBuilder<()>) -> Self {
        let clock = VirtualClock::starting_at(utc(start));
        let runs: Arc<Mutex<Vec<_>>> = Arc::default();
        let cell: Arc<OnceLock<Loop<()>>> = Arc::default();
        let body = {
            let (clock, runs, cell) = (Arc::clone(&clock), Arc::clone(&runs), Arc::clone(&cell));
            move |()| {
                let now = clock.now();
                runs.lock().unwrap().push(now);
                // The next iteration is always after the one running.
                let next = cell.get().and_then(Loop::next_iteration);
                assert!(next.is_none_or(|next| next > now), "{next:?} at {now}");
                async {}
            }
        };
        let the_loop = configure(Loop::builder(body).clock(clock.clone()))
            .build()
            .unwrap();
        let _ = cell.set(the_loop.clone());
        the_loop.start(()).unwrap();
        Self {
            clock,
            runs,
            the_loop,
        }
    }

    /// The instants the body began at, in UTC, to the second.
    fn runs(&self) -> Vec<String> {
        self.runs
            .lock()
            .unwrap()
            .iter()
            .map(|at| at.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .collect()
    }

    fn next(&self) -> Option<String> {
        self.the_loop
            .next_iteration()
            .map(|at| at.format("%Y-%m-%dT%H:%M:%SZ").to_string())
    }
}

impl Drop for Recorded {
    fn drop(&mut self) {
        self.the_loop.cancel();
    }
}

fn cron(expression: &str, zone: &str) -> Cron {
    Cron::parse_in(expression, zone).unwrap()
}

#[test]
fn the_builder_takes_a_string_or_a_parsed_cron() {
    let from_str = Loop::builder(|()| async {})
        .cron("0 30 9 * * MON-FRI")
        .build()
        .unwrap();
    assert_eq!(
        from_str.cron().unwrap().to_string(),
        "0 30 9 * * MON-FRI (UTC)"
    );
    let parsed = cron("0 30 9 * * MON-FRI", "Asia/Seoul");
    let built = Loop::builder(|()| async {})
        .cron(parsed.clone())
        .build()
        .unwrap();
    assert_eq!(built.cron(), Some(parsed.clone()));
    assert_eq!(built.interval(), Interval::Cron(parsed.clone()));
    assert_eq!(
        (built.time(), built.seconds(), built.hours()),
        (None, None, None)
    );
    let via_interval = Loop::builder(|()| async {})
        .interval(Interval::Cron(parsed.clone()))
        .build()
        .unwrap();
    assert_eq!(via_interval.cron(), Some(parsed));
    // The last schedule given wins, as with the other kinds.
    let replaced = Loop::builder(|()| async {})
        .interval(Interval::Cron(Cron::parse("@daily").unwrap()))
        .interval(Interval::seconds(5.0))
        .build()
        .unwrap();
    assert_eq!((replaced.cron(), replaced.seconds()), (None, Some(5.0)));
}

#[test]
fn build_reports_a_bad_expression_and_a_mix_of_schedules() {
    let bad = Loop::builder(|()| async {}).cron("0 9 * * FRY").build();
    let Err(error @ ConfigError::InvalidCron { .. }) = bad else {
        panic!("{bad:?}");
    };
    assert_eq!(
        error.to_string(),
        "`0 9 * * FRY` is not a valid cron expression: illegal character 'F' in the \
         day-of-week field `FRY`: days of the week go from 0 to 7 (0 and 7 are Sunday), or SUN \
         to SAT, with `5L` for the last Friday of the month and `1#2` for its second Monday"
    );
    for mixed in [
        Loop::builder(|()| async {}).seconds(5.0).cron("@daily"),
        Loop::builder(|()| async {}).cron("@daily").hours(1.0),
        Loop::builder(|()| async {})
            .time(TimeOfDay::parse("08:00").unwrap())
            .cron("@daily"),
    ] {
        assert!(matches!(mixed.build(), Err(ConfigError::MixedIntervals)));
    }
    // The mix is reported before the expression.
    let both = Loop::builder(|()| async {})
        .seconds(5.0)
        .cron("nonsense")
        .build();
    assert!(matches!(both, Err(ConfigError::MixedIntervals)));
}

#[test]
fn a_cron_reads_back_as_given() {
    let parsed: Cron = "*/15 9-17 * * mon-fri".parse().unwrap();
    assert_eq!(parsed.expression(), "*/15 9-17 * * mon-fri");
    assert_eq!(parsed.zone(), Zone::UTC);
    assert!(parsed.follows_real_time());
    let moved = parsed.clone().in_zone(chrono_tz::Europe::Paris);
    assert_eq!(moved.to_string(), "*/15 9-17 * * mon-fri (Europe/Paris)");
    assert_ne!(moved, parsed);
    assert_eq!(
        format!("{moved:?}"),
        "Cron { expression: \"*/15 9-17 * * mon-fri\", zone: Iana(Europe/Paris) }"
    );
    assert_eq!(
        Cron::parse_in("@daily", "-05:30").unwrap().to_string(),
        "@daily (-05:30)"
    );
    assert!(matches!(
        Cron::parse_in("@daily", "Mars/Olympus"),
        Err(ConfigError::UnknownTimeZone { .. })
    ));
    assert!(Cron::try_from("0 0 * * *".to_owned()).is_ok());
    for bad in [
        "",
        "* * * *",
        "* * * * * * *",
        "60 * * * *",
        "0 0 0 * *",
        "*/0 * * * *",
    ] {
        assert!(
            matches!(Cron::parse(bad), Err(ConfigError::InvalidCron { .. })),
            "{bad:?}"
        );
    }
}

#[test]
fn a_day_of_the_month_and_of_the_week_match_either_unless_joined_by_a_plus() {
    let runs = |expression: &str| {
        let cron = Cron::parse(expression).unwrap();
        let mut now = utc("2024-07-01T00:00:00Z");
        let mut runs = Vec::new();
        for _ in 0..4 {
            let at = cron
                .next_run(now, runs.last().copied(), AmbiguousTime::Later)
                .unwrap();
            runs.push(at);
            now = at;
        }
        runs.iter()
            .map(|at| at.format("%m-%d").to_string())
            .collect::<Vec<_>>()
    };
    // 2024-07-01 is a Monday.
    assert_eq!(runs("0 9 1 * MON"), ["07-01", "07-08", "07-15", "07-22"]);
    assert_eq!(runs("0 9 1-7 * +MON"), ["07-01", "08-05", "09-02", "10-07"]);
}

#[tokio::test(start_paused = true)]
async fn weekdays_in_seoul_skip_the_weekend() {
    // 2026-03-06 is a Friday; 09:00 in Seoul.
    let rec = Recorded::new("2026-03-06T00:00:00Z", |b| {
        b.cron(cron("0 30 9 * * MON-FRI", "Asia/Seoul"))
    });
    sleep_secs(5 * 86_400).await;
    assert_eq!(
        rec.runs(),
        [
            "2026-03-06T00:30:00Z",
            "2026-03-09T00:30:00Z",
            "2026-03-10T00:30:00Z"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn spring_forward_shifts_a_fixed_time_and_steps_skip_the_gap() {
    // New York, 2022-03-13: 02:00 EST becomes 03:00 EDT.
    let fixed = Recorded::new("2022-03-12T12:00:00Z", |b| {
        b.cron(cron("30 2 * * *", "America/New_York"))
    });
    let steps = Recorded::new("2022-03-13T05:00:00Z", |b| {
        b.cron(cron("*/30 1-3 * * *", "America/New_York"))
    });
    sleep_secs(3 * 86_400).await;
    assert_eq!(
        fixed.runs(),
        [
            // 02:30 does not exist: 03:30 EDT.
            "2022-03-13T07:30:00Z",
            "2022-03-14T06:30:00Z",
            "2022-03-15T06:30:00Z"
        ]
    );
    assert_eq!(
        &steps.runs()[..6],
        [
            "2022-03-13T06:00:00Z", // 01:00 EST
            "2022-03-13T06:30:00Z", // 01:30 EST
            "2022-03-13T07:00:00Z", // 03:00 EDT: nothing at 02:xx
            "2022-03-13T07:30:00Z", // 03:30 EDT
            "2022-03-14T05:00:00Z", // 01:00 EDT the next night
            "2022-03-14T05:30:00Z",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn fall_back_runs_a_fixed_time_once_and_steps_on_both_passes() {
    // New York, 2022-11-06: 02:00 EDT becomes 01:00 EST.
    let start = "2022-11-06T03:00:00Z";
    let later = Recorded::new(start, |b| b.cron(cron("30 1 * * *", "America/New_York")));
    let earlier = Recorded::new(start, |b| {
        b.cron(cron("30 1 * * *", "America/New_York"))
            .ambiguous_time(AmbiguousTime::Earlier)
    });
    let steps = Recorded::new(start, |b| b.cron(cron("*/20 1 * * *", "America/New_York")));
    sleep_secs(86_400).await;
    assert_eq!(later.runs(), ["2022-11-06T06:30:00Z"]);
    assert_eq!(earlier.runs(), ["2022-11-06T05:30:00Z"]);
    assert_eq!(
        steps.runs(),
        [
            "2022-11-06T05:00:00Z", // 01:00 EDT
            "2022-11-06T05:20:00Z",
            "2022-11-06T05:40:00Z",
            "2022-11-06T06:00:00Z", // 01:00 EST
            "2022-11-06T06:20:00Z",
            "2022-11-06T06:40:00Z",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn lord_howe_moves_by_half_an_hour() {
    // 2023-04-02: 02:00 (+11:00) becomes 01:30 (+10:30); 01:30-02:00 twice.
    let steps = Recorded::new("2023-04-01T14:00:00Z", |b| {
        b.cron(cron("*/15 1 * * *", "Australia/Lord_Howe"))
    });
    let fixed = Recorded::new("2023-04-01T14:00:00Z", |b| {
        b.cron(cron("45 1 * * *", "Australia/Lord_Howe"))
    });
    sleep_secs(6 * 3600).await;
    assert_eq!(
        steps.runs(),
        [
            "2023-04-01T14:00:00Z", // 01:00 +11:00
            "2023-04-01T14:15:00Z",
            "2023-04-01T14:30:00Z",
            "2023-04-01T14:45:00Z", // 01:45 +11:00
            "2023-04-01T15:00:00Z", // 01:30 +10:30
            "2023-04-01T15:15:00Z", // 01:45 +10:30
        ]
    );
    assert_eq!(fixed.runs(), ["2023-04-01T15:15:00Z"]);
}

#[tokio::test(start_paused = true)]
async fn the_last_day_of_the_month_through_february_and_a_dst_change() {
    // Paris, 2024: a leap year, and clocks go forward on Sunday 31 March.
    // (A wall clock read every 6 hours: months of virtual time go faster.)
    let every_6_hours = Duration::from_secs(6 * 3600);
    let last_day = Recorded::new("2024-01-30T00:00:00Z", |b| {
        b.cron(cron("0 18 L * *", "Europe/Paris"))
            .count(4)
            .wall_clock_check(every_6_hours)
    });
    // The last weekday of the month: 2024-03-29 is a Friday, and so is
    // 2024-05-31.
    let last_weekday = Recorded::new("2024-01-30T00:00:00Z", |b| {
        b.cron(cron("0 9 LW * *", "Europe/Paris"))
            .count(5)
            .wall_clock_check(every_6_hours)
    });
    sleep_secs(150 * 86_400).await;
    assert_eq!(
        last_day.runs(),
        [
            "2024-01-31T17:00:00Z",
            "2024-02-29T17:00:00Z",
            "2024-03-31T16:00:00Z", // 18:00 CEST
            "2024-04-30T16:00:00Z",
        ]
    );
    assert_eq!(
        last_day.the_loop.task().unwrap().await,
        RunOutcome::Completed
    );
    assert_eq!(
        last_weekday.runs(),
        [
            "2024-01-31T08:00:00Z",
            "2024-02-29T08:00:00Z",
            "2024-03-29T08:00:00Z",
            "2024-04-30T07:00:00Z",
            "2024-05-31T07:00:00Z",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn change_interval_switches_to_cron_and_back() {
    let rec = Recorded::new("2024-05-06T08:00:00Z", |b| b.seconds(600.0));
    sleep_secs(1000).await;
    assert_eq!(rec.runs(), ["2024-05-06T08:00:00Z", "2024-05-06T08:10:00Z"]);
    let standup = cron("0 30 9 * * MON-FRI", "Asia/Seoul");
    rec.the_loop
        .change_interval(Interval::Cron(standup.clone()))
        .unwrap();
    assert_eq!(rec.the_loop.cron(), Some(standup));
    assert_eq!(rec.next().as_deref(), Some("2024-05-07T00:30:00Z"));
    sleep_secs(60_000).await; // past Tuesday's 09:30 in Seoul
    assert_eq!(rec.runs().len(), 3);
    assert_eq!(rec.runs()[2], "2024-05-07T00:30:00Z");
    rec.the_loop
        .change_interval(Interval::minutes(30.0))
        .unwrap();
    assert_eq!(rec.the_loop.cron(), None);
    assert_eq!(rec.next().as_deref(), Some("2024-05-07T01:00:00Z"));
    // And to times of day from cron, through cron again.
    rec.the_loop
        .change_interval(Interval::Cron(cron("0 0 12 * * *", "UTC")))
        .unwrap();
    assert_eq!(rec.next().as_deref(), Some("2024-05-07T12:00:00Z"));
    rec.the_loop
        .change_interval(Interval::times([TimeOfDay::parse("06:00").unwrap()]))
        .unwrap();
    assert_eq!(rec.next().as_deref(), Some("2024-05-07T06:00:00Z"));
}

#[tokio::test(start_paused = true)]
async fn an_expression_that_never_matches_ends_the_run_without_spinning() {
    let clock = VirtualClock::starting_at(utc("2024-01-01T00:00:00Z"));
    let never = Loop::builder(|()| async {})
        .cron("0 0 30 2 *") // February 30th
        .clock(clock)
        .build()
        .unwrap();
    let run = never.start(()).unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(1), run)
        .await
        .expect("the run ends at once");
    let RunOutcome::Failed(error) = outcome else {
        panic!("{outcome:?}");
    };
    assert!(error.is::<NoNextIteration>(), "{error}");
    assert_eq!(never.current_loop(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_forward_step_skips_a_cron_instant_unless_within_the_grace_period() {
    let skipped = Recorded::new("2024-01-01T07:00:00Z", |b| b.cron("0 8 * * *"));
    let graced = Recorded::new("2024-01-01T07:00:00Z", |b| {
        b.cron("0 8 * * *")
            .grace_period(Duration::from_secs(2 * 3600))
    });
    sleep_secs(1830).await; // 07:30:30
    skipped.clock.jump(TimeDelta::hours(1)); // 08:30:30: 08:00 was jumped over
    graced.clock.suspend(Duration::from_secs(3600));
    sleep_secs(600).await;
    assert!(skipped.runs().is_empty());
    assert_eq!(skipped.next().as_deref(), Some("2024-01-02T08:00:00Z"));
    // Noticed at the end of the 60 s chunk under way: 08:31.
    assert_eq!(graced.runs(), ["2024-01-01T08:31:00Z"]);
    assert_eq!(graced.next().as_deref(), Some("2024-01-02T08:00:00Z"));
}

#[tokio::test(start_paused = true)]
async fn a_backward_step_never_runs_an_instant_twice() {
    let rec = Recorded::new("2024-01-01T07:59:00Z", |b| b.cron("0 8,9 * * *"));
    sleep_secs(120).await; // 08:01, after the 08:00 run
    assert_eq!(rec.runs(), ["2024-01-01T08:00:00Z"]);
    rec.clock.jump(TimeDelta::minutes(-30)); // 07:31
    sleep_secs(3 * 3600).await;
    assert_eq!(rec.runs(), ["2024-01-01T08:00:00Z", "2024-01-01T09:00:00Z"]);
}

#[tokio::test(start_paused = true)]
async fn seconds_and_count() {
    let rec = Recorded::new("2024-01-01T00:00:00Z", |b| {
        b.cron("*/20 * * * * *").count(4)
    });
    sleep_secs(600).await;
    assert_eq!(
        rec.runs(),
        [
            "2024-01-01T00:00:00Z",
            "2024-01-01T00:00:20Z",
            "2024-01-01T00:00:40Z",
            "2024-01-01T00:01:00Z"
        ]
    );
    assert_eq!(rec.the_loop.task().unwrap().await, RunOutcome::Completed);
    assert_eq!(rec.next(), None);
}

/// The runs of `expression` in `zone` from `from` to `until`, as local
/// times with their abbreviation.
fn night(
    expression: &str,
    zone: chrono_tz::Tz,
    from: &str,
    until: &str,
    policy: AmbiguousTime,
) -> Vec<String> {
    let cron = Cron::parse(expression).unwrap().in_zone(zone);
    let (mut now, until) = (utc(from), utc(until));
    let mut runs: Vec<DateTime<Utc>> = Vec::new();
    while let Some(at) = cron.next_run(now, runs.last().copied(), policy) {
        if at > until {
            break;
        }
        runs.push(at);
        now = at;
    }
    runs.iter()
        .map(|at| at.with_timezone(&zone).format("%H:%M %Z").to_string())
        .collect()
}

/// The tables of `docs/time-zones.md`, row by row.
#[test]
fn the_worked_examples_of_the_time_zones_page() {
    use chrono_tz::America::New_York;
    let later = AmbiguousTime::Later;
    let spring = |e| {
        night(
            e,
            New_York,
            "2022-03-13T05:00:00Z",
            "2022-03-13T08:00:00Z",
            later,
        )
    };
    assert_eq!(spring("30 2 * * *"), ["03:30 EDT"]);
    assert_eq!(spring("0,30 2 * * *"), ["03:00 EDT", "03:30 EDT"]);
    assert_eq!(spring("15,45 2,3 * * *"), ["03:15 EDT", "03:45 EDT"]);
    assert_eq!(
        spring("*/30 * * * *"),
        [
            "00:00 EST",
            "00:30 EST",
            "01:00 EST",
            "01:30 EST",
            "03:00 EDT",
            "03:30 EDT",
            "04:00 EDT"
        ]
    );
    assert_eq!(
        spring("0 * * * *"),
        ["00:00 EST", "01:00 EST", "03:00 EDT", "04:00 EDT"]
    );
    let fall = |e, policy| {
        night(
            e,
            New_York,
            "2022-11-06T04:00:00Z",
            "2022-11-06T07:00:00Z",
            policy,
        )
    };
    assert_eq!(fall("30 1 * * *", later), ["01:30 EST"]);
    assert_eq!(fall("30 1 * * *", AmbiguousTime::Earlier), ["01:30 EDT"]);
    assert_eq!(fall("0,30 1 * * *", later), ["01:00 EST", "01:30 EST"]);
    assert_eq!(fall("0 0-59/30 1 * * *", later), ["01:00 EST", "01:30 EST"]);
    for policy in [later, AmbiguousTime::Earlier] {
        assert_eq!(
            fall("*/30 1 * * *", policy),
            ["01:00 EDT", "01:30 EDT", "01:00 EST", "01:30 EST"]
        );
    }
    assert_eq!(
        fall("0 * * * *", later),
        ["00:00 EDT", "01:00 EDT", "01:00 EST", "02:00 EST"]
    );
    // Seconds play no part: six fixed times, each shifted by the gap.
    assert_eq!(
        night(
            "*/10 30 2 * * *",
            New_York,
            "2022-03-13T05:00:00Z",
            "2022-03-13T08:00:00Z",
            later
        )
        .len(),
        6
    );
    assert!(!Cron::parse("*/10 30 2 * * *").unwrap().follows_real_time());
    // Apia skipped 2011-12-30: every 30 minutes of real time across it.
    let apia = night(
        "*/30 * * * *",
        chrono_tz::Pacific::Apia,
        "2011-12-30T09:00:00Z",
        "2011-12-30T11:00:00Z",
        later,
    );
    assert_eq!(apia.len(), 5, "{apia:?}");
    let ten = night(
        "0 10 * * *",
        chrono_tz::Pacific::Apia,
        "2011-12-29T00:00:00Z",
        "2012-01-01T00:00:00Z",
        later,
    );
    assert_eq!(ten.len(), 3, "{ten:?}");
}
