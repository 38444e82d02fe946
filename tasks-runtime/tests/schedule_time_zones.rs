//! Times of day in time zones, end to end: real loops on tokio's paused
//! clock with a `VirtualClock`, through the worked examples of
//! `docs/time-zones.md`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tasks_runtime::testing::VirtualClock;
use tasks_runtime::{AmbiguousTime, Loop, LoopBuilder, TimeOfDay};

/// The example test of `docs/time-zones.md`, verbatim.
#[tokio::test(start_paused = true)]
async fn nightly_report_runs_once_across_the_fall_back_night() {
    // Two days before New York falls back (2022-11-06, 02:00 EDT -> 01:00 EST).
    let clock = VirtualClock::starting_at("2022-11-04T12:00:00Z".parse().unwrap());
    let runs = Arc::new(Mutex::new(Vec::new()));
    let report = Loop::builder({
        let (clock, runs) = (clock.clone(), runs.clone());
        move |()| {
            runs.lock().unwrap().push(clock.now().to_rfc3339());
            async {}
        }
    })
    .time(TimeOfDay::parse_in("01:30", "America/New_York").unwrap())
    .clock(clock.clone())
    .build()
    .unwrap();
    report.start(()).unwrap();

    // Four days pass in a few milliseconds of real time.
    tokio::time::sleep(Duration::from_secs(4 * 86_400)).await;
    report.cancel();

    assert_eq!(
        *runs.lock().unwrap(),
        [
            "2022-11-05T05:30:00+00:00", // 01:30 EDT
            "2022-11-06T06:30:00+00:00", // the second 01:30 of the night (EST), once
            "2022-11-07T06:30:00+00:00", // 01:30 EST
            "2022-11-08T06:30:00+00:00",
        ]
    );
}

/// Runs a loop from `start` for `hours` and returns the UTC instants its
/// body ran at (RFC 3339), checking that `next_iteration` is always after
/// the run in progress.
async fn runs(
    start: &str,
    hours: u64,
    configure: impl FnOnce(LoopBuilder<()>) -> LoopBuilder<()>,
) -> Vec<String> {
    let clock = VirtualClock::starting_at(start.parse().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let the_loop: Arc<Mutex<Option<Loop<()>>>> = Arc::default();
    let body = {
        let (clock, seen, the_loop) = (clock.clone(), seen.clone(), the_loop.clone());
        move |()| {
            let now = clock.now();
            let next = the_loop
                .lock()
                .unwrap()
                .as_ref()
                .and_then(Loop::next_iteration);
            assert!(next.is_some_and(|next| next > now), "{next:?} after {now}");
            seen.lock().unwrap().push(now.to_rfc3339());
            async {}
        }
    };
    let lp = configure(Loop::builder(body).clock(clock.clone()))
        .build()
        .unwrap();
    *the_loop.lock().unwrap() = Some(lp.clone());
    lp.start(()).unwrap();
    tokio::time::sleep(Duration::from_secs(hours * 3600)).await;
    lp.cancel();
    let seen = seen.lock().unwrap().clone();
    seen
}

fn at(zone: &str, times: &[&str]) -> Vec<TimeOfDay> {
    times
        .iter()
        .map(|t| TimeOfDay::parse_in(t, zone).unwrap())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn the_offset_is_recomputed_for_each_iteration() {
    // 08:00 in New York is 13:00 UTC in winter and 12:00 UTC from the
    // spring-forward day on.
    let ran = runs("2022-03-11T00:00:00Z", 4 * 24, |b| {
        b.times(at("America/New_York", &["08:00"]))
    })
    .await;
    assert_eq!(
        ran,
        [
            "2022-03-11T13:00:00+00:00",
            "2022-03-12T13:00:00+00:00",
            "2022-03-13T12:00:00+00:00",
            "2022-03-14T12:00:00+00:00",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn spring_forward_shifts_a_missing_time_by_the_gap_and_runs_it_once() {
    let ran = runs("2022-03-12T12:00:00Z", 48, |b| {
        b.times(at("America/New_York", &["02:30", "03:30"]))
    })
    .await;
    assert_eq!(
        ran,
        [
            // 02:30 does not exist on 2022-03-13: shifted to 03:30 EDT, the
            // same instant as 03:30, so one run.
            "2022-03-13T07:30:00+00:00",
            "2022-03-14T06:30:00+00:00", // 02:30 EDT
            "2022-03-14T07:30:00+00:00", // 03:30 EDT
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn fall_back_with_the_earlier_option_runs_the_first_pass_once() {
    let ran = runs("2022-11-05T12:00:00Z", 48, |b| {
        b.times(at("America/New_York", &["01:30"]))
            .ambiguous_time(AmbiguousTime::Earlier)
    })
    .await;
    assert_eq!(
        ran,
        [
            "2022-11-06T05:30:00+00:00", // 01:30 EDT, and not again at 01:30 EST
            "2022-11-07T06:30:00+00:00",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_loop_started_between_the_two_passes_still_runs_that_night() {
    // 01:45 EDT, between the two 01:30s: the later one is still ahead
    // (discord.py would wait for the next day).
    let later = runs("2022-11-06T05:45:00Z", 24, |b| {
        b.times(at("America/New_York", &["01:30"]))
    })
    .await;
    assert_eq!(later, ["2022-11-06T06:30:00+00:00"]);
    // With Earlier, that night's 01:30 has passed.
    let earlier = runs("2022-11-06T05:45:00Z", 26, |b| {
        b.times(at("America/New_York", &["01:30"]))
            .ambiguous_time(AmbiguousTime::Earlier)
    })
    .await;
    assert_eq!(earlier, ["2022-11-07T06:30:00+00:00"]);
}

#[tokio::test(start_paused = true)]
async fn lord_howe_shifts_by_thirty_minutes() {
    // Spring forward 2022-10-02 at 02:00 (+10:30) to 02:30 (+11:00).
    let spring = runs("2022-09-30T12:00:00Z", 72, |b| {
        b.times(at("Australia/Lord_Howe", &["02:15"]))
    })
    .await;
    assert_eq!(
        spring,
        [
            "2022-09-30T15:45:00+00:00", // 02:15 +10:30 on 2022-10-01
            "2022-10-01T15:45:00+00:00", // 02:15 is missing: 02:45 +11:00
            "2022-10-02T15:15:00+00:00", // 02:15 +11:00
        ]
    );
    // Fall back 2023-04-02 at 02:00 (+11:00) to 01:30 (+10:30): 01:45
    // happens twice.
    for (choice, expected) in [
        (AmbiguousTime::Later, "2023-04-01T15:15:00+00:00"),
        (AmbiguousTime::Earlier, "2023-04-01T14:45:00+00:00"),
    ] {
        let ran = runs("2023-04-01T12:00:00Z", 24, |b| {
            b.times(at("Australia/Lord_Howe", &["01:45"]))
                .ambiguous_time(choice)
        })
        .await;
        assert_eq!(ran, [expected], "{choice:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_date_the_zone_skipped_runs_once_with_the_next() {
    // Samoa went from -10:00 to +14:00 at the end of 2011-12-29: there was
    // no 2011-12-30.
    let ran = runs("2011-12-29T12:00:00Z", 72, |b| {
        b.times(at("Pacific/Apia", &["10:00"]))
    })
    .await;
    assert_eq!(
        ran,
        [
            "2011-12-29T20:00:00+00:00", // 2011-12-29 10:00 -10:00
            "2011-12-30T20:00:00+00:00", // 2011-12-31 10:00 +14:00
            "2011-12-31T20:00:00+00:00", // 2012-01-01 10:00 +14:00
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn fixed_offsets_never_shift() {
    let ran = runs("2022-03-12T00:00:00Z", 48, |b| {
        b.times(at("-05:00", &["02:30"]))
    })
    .await;
    assert_eq!(
        ran,
        ["2022-03-12T07:30:00+00:00", "2022-03-13T07:30:00+00:00"]
    );
}

#[tokio::test(start_paused = true)]
async fn times_in_several_zones_run_in_the_order_of_their_instants() {
    let mut times = at("UTC", &["23:00"]);
    times.extend(at("Asia/Tokyo", &["10:00"])); // 01:00 UTC
    let ran = runs("2024-01-01T22:00:00Z", 24, |b| b.times(times)).await;
    assert_eq!(
        ran,
        ["2024-01-01T23:00:00+00:00", "2024-01-02T01:00:00+00:00"]
    );
}

#[test]
fn the_next_run_of_a_schedule_can_be_computed_without_a_loop() {
    let times = at("America/New_York", &["02:30"]);
    let now = "2022-03-12T12:00:00Z".parse().unwrap();
    let next = TimeOfDay::next_run(&times, now, None, AmbiguousTime::Later).unwrap();
    assert_eq!(next.to_rfc3339(), "2022-03-13T07:30:00+00:00");
    let after = TimeOfDay::next_run(&times, next, Some(next), AmbiguousTime::Later).unwrap();
    assert_eq!(after.to_rfc3339(), "2022-03-14T06:30:00+00:00");
}

/// Where tasks deliberately differs from discord.py: the next run is the
/// earliest scheduled instant, not the first listed clock time that is
/// later than the clock reads now.
#[tokio::test(start_paused = true)]
async fn a_shifted_time_never_hides_another_listed_time() {
    // 02:30 is shifted to 03:30 EDT on 2022-03-13; 03:15 comes first and
    // still runs (discord.py runs 03:30 and skips 03:15 that day).
    let ran = runs("2022-03-12T12:00:00Z", 24, |b| {
        b.times(at("America/New_York", &["02:30", "03:15"]))
    })
    .await;
    assert_eq!(
        ran,
        ["2022-03-13T07:15:00+00:00", "2022-03-13T07:30:00+00:00"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_loop_started_before_a_shifted_time_still_runs_it() {
    // Started at 03:10 EDT on 2022-03-13: that day's 02:30 runs at 03:30
    // EDT, still ahead (discord.py waits for the next day).
    let ran = runs("2022-03-13T07:10:00Z", 24, |b| {
        b.times(at("America/New_York", &["02:30"]))
    })
    .await;
    assert_eq!(
        ran,
        ["2022-03-13T07:30:00+00:00", "2022-03-14T06:30:00+00:00"]
    );
}
