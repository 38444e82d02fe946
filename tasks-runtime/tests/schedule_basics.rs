//! Relative intervals, times of day, count and change_interval, on the
//! paused clock.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use common::{log_after_loop, logging_loop, self_aware, sleep_ms, times, Recorder};
use tasks_runtime::testing::VirtualClock;
use tasks_runtime::{Interval, Loop, RunOutcome, TimeOfDay};

#[tokio::test(start_paused = true)]
async fn count_runs_that_many_then_sleeps_once_more_before_after_loop() {
    let rec = Recorder::new();
    let lp = logging_loop(&rec, &[], |b| b.seconds(0.3).count(3));
    log_after_loop(&lp, &rec);
    assert_eq!(lp.start(()).unwrap().await, RunOutcome::Completed);
    assert_eq!(
        rec.events(),
        [
            "0 body 0",
            "300 body 1",
            "600 body 2",
            "900 after current_loop=3 cancelled=false failed=false"
        ]
    );
    assert_eq!(lp.current_loop(), 0);
    assert!(!lp.is_running());
    assert_eq!(lp.next_iteration(), None);
    assert!(!lp.failed());
}

#[tokio::test(start_paused = true)]
async fn iterations_are_anchored_to_the_schedule_not_to_the_body() {
    let rec = Recorder::new();
    let lp = logging_loop(&rec, &[100, 100, 100], |b| b.seconds(0.3).count(3));
    lp.start(()).unwrap().await;
    assert_eq!(times(&rec), [0, 300, 600]);
}

#[tokio::test(start_paused = true)]
async fn an_overrun_catches_up_back_to_back_like_discord_py() {
    let rec = Recorder::new();
    let lp = logging_loop(&rec, &[1000], |b| b.seconds(0.2).count(8));
    lp.start(()).unwrap().await;
    assert_eq!(times(&rec), [0, 1000, 1000, 1000, 1000, 1000, 1200, 1400]);
}

#[tokio::test(start_paused = true)]
async fn hours_run_without_drift() {
    let rec = Recorder::new();
    let lp = logging_loop(&rec, &[250], |b| b.hours(1.0).minutes(0.5).count(3));
    lp.start(()).unwrap().await;
    assert_eq!(times(&rec), [0, 3_630_000, 7_260_000]);
}

#[tokio::test(start_paused = true)]
async fn next_iteration_is_none_in_before_loop_and_one_interval_ahead_in_the_body() {
    let clock = VirtualClock::starting_at("2024-01-01T00:00:00Z".parse().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (seen_body, clock_body) = (seen.clone(), clock.clone());
    let lp = self_aware(
        |b| b.seconds(1.0).count(1).clock(clock.clone()),
        move |me| {
            let ahead = me
                .next_iteration()
                .map(|n| (n - clock_body.now()).num_milliseconds());
            seen_body
                .lock()
                .unwrap()
                .push(("body", me.is_running(), ahead));
            async {}
        },
    );
    let (seen_before, me) = (seen.clone(), lp.clone());
    lp.before_loop(move || {
        seen_before.lock().unwrap().push((
            "before",
            me.is_running(),
            me.next_iteration().map(|_| 0),
        ));
        async {}
    });
    lp.start(()).unwrap().await;
    assert_eq!(
        *seen.lock().unwrap(),
        [("before", true, None), ("body", true, Some(1000))]
    );
}

#[tokio::test(start_paused = true)]
async fn change_interval_from_outside_anchors_to_the_last_slot() {
    let rec = Recorder::new();
    let lp = logging_loop(&rec, &[], |b| b.seconds(2.0));
    lp.start(()).unwrap();
    sleep_ms(500).await;
    lp.change_interval(Interval::seconds(1.0)).unwrap();
    sleep_ms(1200).await; // 1.7 s: the body ran at 1.0, not at 1.5
    lp.change_interval(Interval::seconds(0.2)).unwrap();
    sleep_ms(550).await; // 2.25 s
    lp.cancel();
    assert_eq!(times(&rec), [0, 1000, 1700, 1700, 1700, 1800, 2000, 2200]);
}

#[tokio::test(start_paused = true)]
async fn change_interval_inside_the_body_decides_the_next_sleep() {
    let rec = Recorder::new();
    let rec_body = rec.clone();
    let lp = self_aware(
        |b| b.seconds(0.1).count(4),
        move |me| {
            rec_body.log("body");
            if me.current_loop() == 1 {
                me.change_interval(Interval::seconds(0.25)).unwrap();
            }
            async {}
        },
    );
    lp.start(()).unwrap().await;
    assert_eq!(times(&rec), [0, 100, 350, 600]);
}

#[tokio::test(start_paused = true)]
async fn change_interval_in_before_loop_is_used_after_the_immediate_first_body() {
    let rec = Recorder::new();
    let lp = logging_loop(&rec, &[], |b| b.seconds(10.0).count(2));
    let me = lp.clone();
    lp.before_loop(move || {
        let result = me.change_interval(Interval::seconds(5.0));
        async move { result }
    });
    lp.start(()).unwrap().await;
    assert_eq!(times(&rec), [0, 5000]);
}

#[tokio::test(start_paused = true)]
async fn change_interval_before_start_is_used_by_the_first_run() {
    let rec = Recorder::new();
    let lp = logging_loop(&rec, &[], |b| b.seconds(5.0).count(2));
    lp.change_interval(Interval::seconds(0.5)).unwrap();
    lp.start(()).unwrap().await;
    assert_eq!(times(&rec), [0, 500]);
}

#[tokio::test(start_paused = true)]
async fn times_of_day_run_at_each_listed_time_without_a_trailing_sleep() {
    let clock = VirtualClock::starting_at("2024-01-01T11:59:59.500Z".parse().unwrap());
    let rec = Recorder::new();
    let t = |s: &str| TimeOfDay::parse(s).unwrap();
    let lp = logging_loop(&rec, &[], |b| {
        b.times([t("12:00:01"), t("12:00:00"), t("12:00:02")])
            .count(3)
            .clock(clock.clone())
    });
    log_after_loop(&lp, &rec);
    lp.start(()).unwrap().await;
    assert_eq!(
        rec.events(),
        [
            "500 body 0",
            "1500 body 1",
            "2500 body 2",
            "2500 after current_loop=3 cancelled=false failed=false"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_times_of_day_loop_whose_times_passed_today_waits_for_tomorrow() {
    let clock = VirtualClock::starting_at("2024-01-01T12:00:00Z".parse().unwrap());
    let rec = Recorder::new();
    let lp = logging_loop(&rec, &[], |b| {
        b.time(TimeOfDay::parse("11:00").unwrap())
            .clock(clock.clone())
    });
    lp.start(()).unwrap();
    sleep_ms(1000).await;
    assert!(rec.events().is_empty());
    assert_eq!(
        lp.next_iteration().unwrap().to_rfc3339(),
        "2024-01-02T11:00:00+00:00"
    );
    sleep_ms(23 * 3_600_000).await;
    lp.cancel();
    assert_eq!(times(&rec), [23 * 3_600_000]);
}

#[tokio::test(start_paused = true)]
async fn change_interval_moves_the_first_wait_of_a_times_of_day_loop() {
    let clock = VirtualClock::starting_at("2024-01-01T12:00:00Z".parse().unwrap());
    let rec = Recorder::new();
    let lp = logging_loop(&rec, &[], |b| {
        b.time(TimeOfDay::parse("13:00").unwrap())
            .clock(clock.clone())
    });
    lp.start(()).unwrap();
    sleep_ms(100).await;
    lp.change_interval(Interval::times([TimeOfDay::parse("12:00:01").unwrap()]))
        .unwrap();
    assert_eq!(
        lp.next_iteration().unwrap().to_rfc3339(),
        "2024-01-01T12:00:01+00:00"
    );
    sleep_ms(1000).await;
    lp.cancel();
    assert_eq!(rec.events(), ["1000 body 0"]);
}

#[tokio::test(start_paused = true)]
async fn switching_from_relative_to_times_of_day_while_sleeping_takes_effect_at_once() {
    let clock = VirtualClock::starting_at("2024-01-01T12:00:00Z".parse().unwrap());
    let rec = Recorder::new();
    let lp = logging_loop(&rec, &[], |b| b.seconds(10.0).clock(clock.clone()));
    lp.start(()).unwrap();
    sleep_ms(200).await;
    let t = |s, ms| TimeOfDay::utc(chrono::NaiveTime::from_hms_milli_opt(12, 0, s, ms).unwrap());
    lp.change_interval(Interval::times([t(0, 700), t(1, 200)]))
        .unwrap();
    assert_eq!(lp.seconds(), None);
    sleep_ms(1300).await;
    lp.cancel();
    assert_eq!(rec.events(), ["0 body 0", "700 body 1", "1200 body 2"]);
}

#[tokio::test(start_paused = true)]
async fn switching_from_times_of_day_to_relative_anchors_to_the_last_time_run() {
    let clock = VirtualClock::starting_at("2024-01-01T12:00:00Z".parse().unwrap());
    let rec = Recorder::new();
    let lp = logging_loop(&rec, &[], |b| {
        b.time(TimeOfDay::parse("12:00:01").unwrap())
            .clock(clock.clone())
    });
    lp.start(()).unwrap();
    sleep_ms(1500).await;
    lp.change_interval(Interval::seconds(2.0)).unwrap();
    let ahead = (lp.next_iteration().unwrap() - clock.now()).num_milliseconds();
    assert_eq!(ahead, 1500, "last time run (1.0 s) + 2 s, read at 1.5 s");
    sleep_ms(4000).await;
    lp.cancel();
    assert_eq!(times(&rec), [1000, 3000, 5000]);
}

#[tokio::test(start_paused = true)]
async fn a_zero_interval_loop_never_starves_other_tasks() {
    let counter = Arc::new(AtomicU64::new(0));
    let seen = counter.clone();
    let lp = Loop::builder(move |()| {
        counter.fetch_add(1, Ordering::SeqCst);
        async {}
    })
    .count(10_000)
    .build()
    .unwrap();
    let run = lp.start(()).unwrap();
    // This test's task shares the single thread with the loop: it still
    // gets to run while the loop is busy (tokio's cooperative budget makes
    // an always-ready task yield every 128 units of work).
    for _ in 0..3 {
        tokio::task::yield_now().await;
    }
    let mid = seen.load(Ordering::SeqCst);
    assert!(mid > 0, "the loop has started");
    assert!(mid < 1000, "the loop ran {mid} iterations without yielding");
    run.await;
    assert_eq!(seen.load(Ordering::SeqCst), 10_000);
}
