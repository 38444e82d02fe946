//! Bad values are typed errors, never panics; a refused change keeps the
//! loop as it was.

use tasks_runtime::{ConfigError, Interval, Loop, TimeOfDay};

fn builder() -> tasks_runtime::LoopBuilder<()> {
    Loop::builder(|()| async {})
}

#[test]
fn defaults_match_discord_py() {
    let lp = builder().build().unwrap();
    assert_eq!(lp.seconds(), Some(0.0));
    assert_eq!(lp.minutes(), Some(0.0));
    assert_eq!(lp.hours(), Some(0.0));
    assert_eq!(lp.time(), None);
    assert_eq!(lp.count(), None);
    assert!(lp.reconnect());
    assert!(!lp.is_running());
}

#[test]
fn only_the_total_must_be_non_negative() {
    let lp = builder().seconds(-1.0).minutes(1.0).build().unwrap();
    assert_eq!(lp.seconds(), Some(-1.0));
    assert!(matches!(
        builder().seconds(-1.0).build(),
        Err(ConfigError::NegativeInterval { total }) if total == -1.0
    ));
}

#[test]
fn nan_and_infinite_intervals_are_refused() {
    for (value, unit) in [(f64::NAN, "seconds"), (f64::INFINITY, "seconds")] {
        assert!(matches!(
            builder().seconds(value).build(),
            Err(ConfigError::NonFiniteInterval { unit: u, .. }) if u == unit
        ));
    }
    assert!(matches!(
        builder().hours(f64::NEG_INFINITY).build(),
        Err(ConfigError::NonFiniteInterval { unit: "hours", .. })
    ));
    assert!(matches!(
        builder().hours(1e300).build(),
        Err(ConfigError::IntervalTooLong { .. })
    ));
}

#[test]
fn count_zero_is_refused_and_reported_before_the_interval() {
    assert_eq!(
        builder().count(0).build().unwrap_err(),
        ConfigError::ZeroCount
    );
    assert_eq!(
        builder().count(0).seconds(-1.0).build().unwrap_err(),
        ConfigError::ZeroCount
    );
    assert_eq!(builder().count(1).build().unwrap().count(), Some(1));
}

#[test]
fn times_cannot_be_empty_or_mixed_with_a_relative_interval() {
    let none: [TimeOfDay; 0] = [];
    assert_eq!(
        builder().times(none).build().unwrap_err(),
        ConfigError::EmptyTimes
    );
    let noon = TimeOfDay::parse("12:00").unwrap();
    assert_eq!(
        builder().seconds(1.0).time(noon).build().unwrap_err(),
        ConfigError::MixedIntervals
    );
    // A zero relative part is no mix, as in discord.py.
    assert!(builder().seconds(0.0).time(noon).build().is_ok());
}

#[test]
fn times_are_sorted_and_deduplicated_per_zone() {
    let t = |s: &str| TimeOfDay::parse(s).unwrap();
    let seoul = |s: &str| t(s).in_zone(chrono_tz::Asia::Seoul);
    let lp = builder()
        .times([t("03:00"), t("01:00"), t("03:00"), seoul("01:00")])
        .build()
        .unwrap();
    // Sorted by clock time, then zone name.
    assert_eq!(lp.time().unwrap(), [seoul("01:00"), t("01:00"), t("03:00")]);
    // The list handed out is a copy.
    let mut copy = lp.time().unwrap();
    copy.clear();
    assert_eq!(lp.time().unwrap().len(), 3);
}

#[test]
fn a_refused_change_interval_keeps_the_previous_schedule() {
    let lp = builder().seconds(3.0).build().unwrap();
    assert!(lp.change_interval(Interval::seconds(-5.0)).is_err());
    assert!(lp.change_interval(Interval::Times(vec![])).is_err());
    assert!(lp.change_interval(Interval::minutes(f64::NAN)).is_err());
    assert_eq!(lp.interval(), Interval::seconds(3.0));
}

#[test]
fn change_interval_switches_modes_both_ways() {
    let lp = builder().seconds(3.0).build().unwrap();
    let noon = TimeOfDay::parse("12:00").unwrap();
    lp.change_interval(Interval::times([noon])).unwrap();
    assert_eq!((lp.seconds(), lp.minutes(), lp.hours()), (None, None, None));
    assert_eq!(lp.time().unwrap(), [noon]);
    lp.change_interval(Interval::minutes(2.0)).unwrap();
    assert_eq!(lp.seconds(), Some(0.0));
    assert_eq!(lp.minutes(), Some(2.0));
    assert_eq!(lp.time(), None);
    lp.change_interval(Interval::default()).unwrap();
    assert_eq!(lp.interval(), Interval::seconds(0.0));
}

#[test]
fn fractional_components_are_summed() {
    let lp = builder().hours(1.5).minutes(0.5).build().unwrap();
    assert_eq!(lp.hours(), Some(1.5));
    assert_eq!(lp.minutes(), Some(0.5));
    assert_eq!(
        lp.interval(),
        Interval::relative(0.0, 0.5, 1.5),
        "components are kept as given"
    );
}

#[test]
fn zones_and_times_of_day_reject_bad_text() {
    assert!(matches!(
        TimeOfDay::parse_in("08:00", "Mars/Olympus"),
        Err(ConfigError::UnknownTimeZone { .. })
    ));
    assert!(matches!(
        TimeOfDay::parse("8am"),
        Err(ConfigError::InvalidTimeOfDay { .. })
    ));
    assert!(TimeOfDay::new(24, 0, 0).is_err());
}

#[test]
fn error_messages_say_the_fix() {
    let message = builder().count(0).build().unwrap_err().to_string();
    assert_eq!(
        message,
        "count must be at least 1 (or absent for an endless loop)"
    );
    let message = TimeOfDay::parse("25:00").unwrap_err().to_string();
    assert!(message.contains("HH:MM"), "{message}");
}

#[test]
fn a_zero_wall_clock_check_is_refused() {
    assert_eq!(
        builder()
            .wall_clock_check(std::time::Duration::ZERO)
            .build()
            .unwrap_err(),
        ConfigError::ZeroDuration {
            option: "wall_clock_check"
        }
    );
}

#[test]
fn parts_that_overflow_in_opposite_directions_are_refused() {
    // Each part is finite, but in seconds one overflows to +inf and the
    // other to -inf: their sum is NaN.
    let overflow = |unit| ConfigError::IntervalOverflow {
        unit,
        value: f64::MAX,
    };
    let lp = builder().seconds(1.0).build().unwrap();
    assert_eq!(
        builder()
            .minutes(f64::MAX)
            .hours(-f64::MAX)
            .build()
            .unwrap_err(),
        overflow("minutes")
    );
    assert_eq!(
        builder()
            .interval(Interval::relative(0.0, -f64::MAX, f64::MAX))
            .build()
            .unwrap_err(),
        ConfigError::IntervalOverflow {
            unit: "minutes",
            value: -f64::MAX
        }
    );
    assert_eq!(
        lp.change_interval(Interval::relative(1.0, f64::MAX / 10.0, -f64::MAX))
            .unwrap_err(),
        ConfigError::IntervalOverflow {
            unit: "minutes",
            value: f64::MAX / 10.0
        }
    );
    assert_eq!(lp.seconds(), Some(1.0), "a refused change keeps the loop");
    assert!(overflow("hours")
        .to_string()
        .contains("too large to count in seconds"));
}
