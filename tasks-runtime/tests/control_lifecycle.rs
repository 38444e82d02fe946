//! start, stop, cancel and restart, on the paused clock.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use common::{log_after_loop, logging_loop, self_aware, sleep_ms, times, Recorder};
use tasks_runtime::testing::VirtualClock;
use tasks_runtime::{Loop, RunOutcome, StartError, TimeOfDay};

#[tokio::test(start_paused = true)]
async fn a_loop_that_never_started_is_idle_and_ignores_control() {
    let rec = Recorder::new();
    let lp = logging_loop(&rec, &[], |b| b.seconds(1.0));
    lp.stop();
    lp.cancel();
    lp.restart(());
    sleep_ms(100).await;
    assert!(!lp.is_running());
    assert!(lp.task().is_none());
    assert_eq!(lp.next_iteration(), None);
    assert_eq!(lp.current_loop(), 0);
    assert!(!lp.failed());
    assert!(!lp.is_being_cancelled());
    assert!(rec.events().is_empty());
}

#[tokio::test(start_paused = true)]
async fn stop_inside_the_body_ends_right_after_it() {
    let rec = Recorder::new();
    let rec_body = rec.clone();
    let lp = self_aware(
        |b| b.seconds(0.3),
        move |me| {
            rec_body.log(format!("body {}", me.current_loop()));
            if me.current_loop() == 1 {
                me.stop();
                assert_eq!(me.next_iteration(), None);
            }
            async {}
        },
    );
    log_after_loop(&lp, &rec);
    assert_eq!(lp.start(()).unwrap().await, RunOutcome::Stopped);
    assert_eq!(
        rec.events(),
        [
            "0 body 0",
            "300 body 1",
            "300 after current_loop=1 cancelled=false failed=false"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn stop_in_before_loop_means_no_iteration() {
    let rec = Recorder::new();
    let lp = logging_loop(&rec, &[], |b| b.seconds(0.1));
    let me = lp.clone();
    lp.before_loop(move || {
        let me = me.clone();
        async move {
            sleep_ms(100).await;
            me.stop();
        }
    });
    log_after_loop(&lp, &rec);
    assert_eq!(lp.start(()).unwrap().await, RunOutcome::Stopped);
    assert_eq!(
        rec.events(),
        ["100 after current_loop=0 cancelled=false failed=false"]
    );
}

#[tokio::test(start_paused = true)]
async fn stop_during_a_sleep_lets_one_more_iteration_run() {
    let rec = Recorder::new();
    let lp = logging_loop(&rec, &[], |b| b.seconds(0.5));
    log_after_loop(&lp, &rec);
    let run = lp.start(()).unwrap();
    sleep_ms(100).await;
    lp.stop();
    assert_eq!(lp.next_iteration(), None);
    assert!(lp.is_running());
    assert_eq!(run.await, RunOutcome::Stopped);
    assert_eq!(
        rec.events(),
        [
            "0 body 0",
            "500 body 1",
            "500 after current_loop=1 cancelled=false failed=false"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn stop_during_a_times_of_day_wait_runs_that_time_then_ends() {
    let clock = VirtualClock::starting_at("2024-01-01T12:00:00Z".parse().unwrap());
    let rec = Recorder::new();
    let t = |s: &str| TimeOfDay::parse(s).unwrap();
    let lp = logging_loop(&rec, &[], |b| {
        b.times([t("12:00:01"), t("12:00:02")]).clock(clock.clone())
    });
    let run = lp.start(()).unwrap();
    sleep_ms(200).await;
    lp.stop();
    assert_eq!(run.await, RunOutcome::Stopped);
    assert_eq!(rec.events(), ["1000 body 0"]);
}

#[tokio::test(start_paused = true)]
async fn cancel_during_a_sleep_runs_after_loop_as_cancelled() {
    let rec = Recorder::new();
    let lp = logging_loop(&rec, &[], |b| b.seconds(0.5));
    log_after_loop(&lp, &rec);
    let run = lp.start(()).unwrap();
    sleep_ms(700).await;
    lp.cancel();
    assert_eq!(run.await, RunOutcome::Cancelled);
    assert_eq!(
        rec.events(),
        [
            "0 body 0",
            "500 body 1",
            "700 after current_loop=1 cancelled=true failed=false"
        ]
    );
    assert!(!lp.is_being_cancelled());
    assert_eq!(lp.current_loop(), 0);
}

/// Records whether the body future was dropped before it finished.
struct DropGuard(Arc<AtomicBool>, bool);
impl Drop for DropGuard {
    fn drop(&mut self) {
        if !self.1 {
            self.0.store(true, Ordering::SeqCst);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn cancel_during_the_body_drops_it_at_its_await() {
    let rec = Recorder::new();
    let dropped = Arc::new(AtomicBool::new(false));
    let (rec_body, dropped_body) = (rec.clone(), dropped.clone());
    let lp = Loop::builder(move |()| {
        let (rec, dropped) = (rec_body.clone(), dropped_body.clone());
        async move {
            let mut guard = DropGuard(dropped, false);
            rec.log("body starts");
            sleep_ms(1000).await;
            rec.log("body ends");
            guard.1 = true;
        }
    })
    .seconds(5.0)
    .build()
    .unwrap();
    log_after_loop(&lp, &rec);
    let run = lp.start(()).unwrap();
    sleep_ms(300).await;
    lp.cancel();
    assert_eq!(run.await, RunOutcome::Cancelled);
    assert!(dropped.load(Ordering::SeqCst));
    assert_eq!(
        rec.events(),
        [
            "0 body starts",
            "300 after current_loop=0 cancelled=true failed=false"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn cancel_during_before_loop_still_runs_after_loop() {
    let rec = Recorder::new();
    let lp = logging_loop(&rec, &[], |b| b.seconds(0.1));
    lp.before_loop(|| sleep_ms(1000));
    log_after_loop(&lp, &rec);
    let run = lp.start(()).unwrap();
    sleep_ms(200).await;
    lp.cancel();
    assert_eq!(run.await, RunOutcome::Cancelled);
    assert_eq!(
        rec.events(),
        ["200 after current_loop=0 cancelled=true failed=false"]
    );
}

#[tokio::test(start_paused = true)]
async fn cancel_called_inside_before_loop_runs_no_body_but_after_loop() {
    let rec = Recorder::new();
    let lp = logging_loop(&rec, &[], |b| b.seconds(0.1));
    let me = lp.clone();
    lp.before_loop(move || {
        me.cancel();
        async {}
    });
    log_after_loop(&lp, &rec);
    assert_eq!(lp.start(()).unwrap().await, RunOutcome::Cancelled);
    assert_eq!(
        rec.events(),
        ["0 after current_loop=0 cancelled=true failed=false"]
    );
}

#[tokio::test(start_paused = true)]
async fn start_while_running_is_refused_even_during_after_loop() {
    let lp = Loop::builder(|()| async {})
        .seconds(0.1)
        .count(1)
        .build()
        .unwrap();
    let refused = Arc::new(Mutex::new(None));
    let (me, refused_in_hook) = (lp.clone(), refused.clone());
    lp.after_loop(move || {
        *refused_in_hook.lock().unwrap() = me.start(()).err();
        async {}
    });
    let run = lp.start(()).unwrap();
    assert_eq!(lp.start(()).unwrap_err(), StartError::AlreadyRunning);
    run.await;
    assert_eq!(*refused.lock().unwrap(), Some(StartError::AlreadyRunning));
    // Once finished, it starts again.
    assert_eq!(lp.start(()).unwrap().await, RunOutcome::Completed);
}

#[test]
fn start_outside_a_runtime_is_an_error_not_a_panic() {
    let lp = Loop::builder(|()| async {}).build().unwrap();
    assert_eq!(lp.start(()).unwrap_err(), StartError::NoRuntime);
    assert!(!lp.is_running());
}

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
}

#[test]
fn a_run_whose_runtime_shuts_down_ends_cancelled_and_the_loop_starts_again_elsewhere() {
    let rec = Recorder::new();
    let lp = logging_loop(&rec, &[], |b| b.seconds(1.0));
    log_after_loop(&lp, &rec);
    let first = paused_runtime();
    let run = first.block_on(async {
        let run = lp.start(()).unwrap();
        sleep_ms(2_500).await;
        run
    });
    assert!(
        lp.is_running(),
        "a runtime that is not driven keeps its tasks"
    );
    drop(first);
    assert!(!lp.is_running());
    assert_eq!(lp.current_loop(), 0);
    assert_eq!(lp.next_iteration(), None);
    assert_eq!(run.outcome(), Some(RunOutcome::Cancelled));
    // No runtime was left to run the after_loop hook.
    assert!(!rec.events().iter().any(|e| e.contains("after")));
    let second = paused_runtime();
    let outcome = second.block_on(async {
        let run = lp.start(()).unwrap();
        sleep_ms(1_500).await;
        assert_eq!(lp.current_loop(), 1);
        lp.cancel();
        run.await
    });
    assert_eq!(outcome, RunOutcome::Cancelled);
    assert!(rec.events().iter().any(|e| e.contains("after")));
}

#[tokio::test(start_paused = true)]
async fn restart_cancels_then_starts_with_the_new_arguments_after_after_loop() {
    let rec = Recorder::new();
    let rec_body = rec.clone();
    let lp = Loop::builder(move |who: &'static str| {
        let rec = rec_body.clone();
        async move { rec.log(format!("body {who}")) }
    })
    .seconds(0.3)
    .build()
    .unwrap();
    let (rec_after, me) = (rec.clone(), lp.clone());
    lp.after_loop(move || {
        let (rec, me) = (rec_after.clone(), me.clone());
        async move {
            rec.log(format!("after cancelled={}", me.is_being_cancelled()));
            sleep_ms(200).await;
        }
    });
    lp.start("first").unwrap();
    sleep_ms(400).await;
    lp.restart("second");
    sleep_ms(10).await;
    lp.restart("ignored while the cancel is handled");
    sleep_ms(300).await;
    lp.cancel();
    sleep_ms(300).await;
    assert_eq!(
        rec.events(),
        [
            "0 body first",
            "300 body first",
            "400 after cancelled=true",
            "600 body second",
            "710 after cancelled=true"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn restart_from_after_loop_runs_the_loop_again() {
    let rec = Recorder::new();
    let lp = logging_loop(&rec, &[], |b| b.seconds(0.1).count(1));
    let (me, again) = (lp.clone(), Arc::new(AtomicBool::new(true)));
    lp.after_loop(move || {
        if again.swap(false, Ordering::SeqCst) {
            me.restart(());
        }
        async {}
    });
    lp.start(()).unwrap();
    sleep_ms(1000).await;
    assert_eq!(times(&rec), [0, 100]);
    assert!(!lp.is_running());
}

#[tokio::test(start_paused = true)]
async fn the_task_handle_outlives_the_run() {
    let lp = Loop::builder(|()| async {}).count(1).build().unwrap();
    assert!(lp.task().is_none());
    let run = lp.start(()).unwrap();
    assert!(!lp.task().unwrap().is_finished());
    run.await;
    let task = lp.task().unwrap();
    assert!(task.is_finished());
    assert_eq!(task.outcome(), Some(RunOutcome::Completed));
}

#[tokio::test(start_paused = true)]
async fn call_runs_the_body_once_without_touching_the_loop() {
    let rec = Recorder::new();
    let lp = logging_loop(&rec, &[], |b| b.seconds(1.0));
    lp.call(()).await.unwrap();
    assert_eq!(rec.events(), ["0 body 0"]);
    assert!(!lp.is_running());
    assert!(lp.task().is_none());
}

#[test]
fn a_loop_is_send_sync_and_cheap_to_clone() {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<Loop<()>>();
    assert_send_sync::<Loop<(String, Arc<Mutex<u32>>)>>();
    assert_send_sync::<tasks_runtime::RunHandle>();
}
