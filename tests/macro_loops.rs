//! Loops declared with `#[tasks::r#loop]` on free functions, run on tokio's
//! paused clock.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{Timelike, Utc};
use tasks::{Interval, LoopError, RunOutcome};
use tokio::time::Instant;

#[derive(Clone, Debug)]
struct Channel {
    name: &'static str,
    sent: Arc<Mutex<Vec<(&'static str, Duration)>>>,
    start: Instant,
}

impl Channel {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            sent: Arc::default(),
            start: Instant::now(),
        }
    }

    fn sent(&self) -> Vec<(&'static str, Duration)> {
        self.sent.lock().unwrap().clone()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the channel is gone")]
struct SendError;

#[tasks::r#loop(seconds = 5, count = 2)]
async fn announce(channel: Channel) -> Result<(), SendError> {
    let at = channel.start.elapsed();
    channel.sent.lock().unwrap().push((channel.name, at));
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn count_runs_the_body_that_many_times_at_the_interval() {
    let channel = Channel::new("general");
    let done = Arc::new(AtomicU32::new(0));
    let seen = Arc::clone(&done);
    announce.after_loop(move || {
        let seen = Arc::clone(&seen);
        async move { seen.store(announce.current_loop() as u32, Ordering::SeqCst) }
    });
    let run = announce.start(channel.clone()).unwrap();
    assert_eq!(run.await, RunOutcome::Completed);
    assert_eq!(
        channel.sent(),
        [
            ("general", Duration::ZERO),
            ("general", Duration::from_secs(5))
        ]
    );
    assert_eq!(done.load(Ordering::SeqCst), 2);
    assert_eq!(announce.count(), Some(2));
    assert_eq!(announce.seconds(), Some(5.0));
}

#[tasks::r#loop(minutes = 1, count = 1)]
async fn add(total: Arc<AtomicU32>, a: u32, b: u32) {
    total.fetch_add(a + b, Ordering::SeqCst);
}

#[tokio::test(start_paused = true)]
async fn several_arguments_are_given_as_a_tuple() {
    let total = Arc::new(AtomicU32::new(0));
    add.start((Arc::clone(&total), 2, 3)).unwrap().await;
    add.call((Arc::clone(&total), 10, 20)).await;
    assert_eq!(total.load(Ordering::SeqCst), 35);
}

#[tasks::r#loop(seconds = 1)]
async fn direct(n: u32) -> Result<(), SendError> {
    if n > 10 {
        Err(SendError)
    } else {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn call_runs_the_body_once_and_returns_its_own_result() {
    let result: Result<(), SendError> = direct.call(30).await;
    assert!(matches!(result, Err(SendError)));
    assert!(direct.call(3).await.is_ok());
    assert!(!direct.is_running());
    assert_eq!(direct.current_loop(), 0);
}

#[tasks::r#loop(seconds = 1)]
async fn failing() -> Result<(), SendError> {
    Err(SendError)
}

#[tokio::test(start_paused = true)]
async fn an_unhandled_error_goes_to_the_error_hook() {
    let seen = Arc::new(Mutex::new(None));
    let hook = Arc::clone(&seen);
    failing.error(move |error: LoopError| {
        let hook = Arc::clone(&hook);
        async move { *hook.lock().unwrap() = Some(error.is::<SendError>()) }
    });
    let outcome = failing.start(()).unwrap().await;
    assert!(matches!(outcome, RunOutcome::Failed(_)));
    assert_eq!(*seen.lock().unwrap(), Some(true));
    assert!(failing.failed());
}

#[tasks::r#loop(seconds = 1, reconnect = false)]
async fn no_reconnect(tries: Arc<AtomicU32>) -> std::io::Result<()> {
    tries.fetch_add(1, Ordering::SeqCst);
    Err(std::io::Error::other("connection reset"))
}

#[tasks::r#loop(seconds = 1, count = 1)]
async fn with_reconnect(tries: Arc<AtomicU32>) -> std::io::Result<()> {
    if tries.fetch_add(1, Ordering::SeqCst) < 2 {
        return Err(std::io::Error::other("connection reset"));
    }
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn reconnect_decides_whether_io_errors_are_retried() {
    assert!(!no_reconnect.reconnect());
    let tries = Arc::new(AtomicU32::new(0));
    let outcome = no_reconnect.start(Arc::clone(&tries)).unwrap().await;
    assert!(matches!(outcome, RunOutcome::Failed(_)));
    assert_eq!(tries.load(Ordering::SeqCst), 1);

    assert!(with_reconnect.reconnect());
    let tries = Arc::new(AtomicU32::new(0));
    let outcome = with_reconnect.start(Arc::clone(&tries)).unwrap().await;
    assert_eq!(outcome, RunOutcome::Completed);
    assert_eq!(tries.load(Ordering::SeqCst), 3);
}

#[tasks::r#loop(seconds = 1)]
async fn self_driving(log: Arc<Mutex<Vec<Duration>>>, start: Instant) {
    log.lock().unwrap().push(start.elapsed());
    match self_driving.current_loop() {
        0 => self_driving
            .change_interval(Interval::seconds(3.0))
            .unwrap(),
        1 => self_driving.stop(),
        _ => unreachable!("stopped after the second iteration"),
    }
}

#[tokio::test(start_paused = true)]
async fn the_body_controls_its_own_loop_by_name() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let run = self_driving
        .start((Arc::clone(&log), Instant::now()))
        .unwrap();
    assert_eq!(run.await, RunOutcome::Stopped);
    assert_eq!(
        *log.lock().unwrap(),
        [Duration::ZERO, Duration::from_secs(3)]
    );
}

#[tasks::r#loop(seconds = 1)]
async fn default_name() {}

#[tasks::r#loop(seconds = 1, name = "heartbeat")]
async fn given_name() {}

#[test]
fn the_name_is_the_path_of_the_function_unless_given() {
    assert_eq!(default_name.name(), "macro_loops::default_name");
    assert_eq!(given_name.name(), "heartbeat");
}

#[tasks::r#loop(time = ["08:00", "20:00"], tz = "Asia/Seoul")]
async fn greet() {}

#[tasks::r#loop(time = "12:30:15", tz = "-05:30")]
async fn fixed_offset() {}

#[tokio::test(start_paused = true)]
async fn times_of_day_run_in_their_zone() {
    let times = greet.time().unwrap();
    assert_eq!(times.len(), 2);
    assert_eq!(times[0].to_string(), "08:00:00 Asia/Seoul");
    assert_eq!(
        fixed_offset.time().unwrap()[0].to_string(),
        "12:30:15 -05:30"
    );

    greet.start(()).unwrap();
    tokio::time::sleep(Duration::from_millis(1)).await;
    let next = greet.next_iteration().unwrap();
    greet.cancel();
    let local = next.with_timezone(&chrono_tz::Asia::Seoul);
    assert!([8, 20].contains(&local.hour()), "{local}");
    assert_eq!((local.minute(), local.second()), (0, 0));
    let now = Utc::now();
    assert!(next > now && next - now <= chrono::TimeDelta::hours(12));
}

#[tasks::r#loop(seconds = 1)]
async fn restartable(log: Arc<Mutex<Vec<&'static str>>>, tag: &'static str) {
    log.lock().unwrap().push(tag);
}

#[tokio::test(start_paused = true)]
async fn restart_runs_again_with_new_arguments() {
    let log = Arc::new(Mutex::new(Vec::new()));
    restartable.start((Arc::clone(&log), "first")).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    restartable.restart((Arc::clone(&log), "second"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    restartable.cancel();
    assert_eq!(*log.lock().unwrap(), ["first", "second"]);
}

#[tasks::r#loop(seconds = 1)]
async fn across_runtimes() {}

/// A loop in a `static` outlives the runtime that ran it (each
/// `#[tokio::test]` has its own): when that runtime shuts down, the run
/// ends and the next runtime can start the loop again.
#[test]
fn a_static_loop_starts_again_on_a_new_runtime() {
    for _ in 0..2 {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async {
            across_runtimes
                .start(())
                .expect("not running on this runtime yet");
            tokio::time::sleep(Duration::from_millis(1_500)).await;
            assert_eq!(across_runtimes.current_loop(), 1);
        });
        drop(runtime);
        assert!(!across_runtimes.is_running());
    }
}
