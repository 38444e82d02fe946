//! Loop methods (`self: Arc<Self>`): one loop per instance, kept in the
//! instance's `LoopSlot`, run on tokio's paused clock.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tasks::{LoopSlot, RunOutcome};
use tokio::sync::Mutex;

#[derive(Default)]
struct CounterCog {
    count: Mutex<u32>,
    counter_loop: LoopSlot,
    add_loop: LoopSlot<(u32, u32), Result<(), std::io::Error>>,
}

impl CounterCog {
    #[tasks::r#loop(seconds = 1)]
    async fn counter_loop(self: Arc<Self>) {
        *self.count.lock().await += 1;
    }

    #[tasks::r#loop(seconds = 1, count = 1)]
    async fn add_loop(self: Arc<Self>, a: u32, b: u32) -> Result<(), std::io::Error> {
        if a == 0 {
            return Err(std::io::Error::other("nothing to add"));
        }
        *self.count.lock().await += a + b;
        Ok(())
    }

    /// A command sharing the counter with the loop.
    async fn reset(&self) -> u32 {
        std::mem::take(&mut *self.count.lock().await)
    }
}

#[tokio::test(start_paused = true)]
async fn each_instance_has_its_own_loop() {
    let first = Arc::new(CounterCog::default());
    let second = Arc::new(CounterCog::default());
    first.counter_loop().start(()).unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(first.counter_loop().is_running());
    assert!(!second.counter_loop().is_running());
    assert_eq!(*first.count.lock().await, 3);
    assert_eq!(*second.count.lock().await, 0);

    second.counter_loop().start(()).unwrap();
    assert_eq!(first.reset().await, 3);
    // first runs at 3 s, second at 2.5 s (its start); now 3.3 s.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(*first.count.lock().await, 1);
    assert_eq!(*second.count.lock().await, 1);
    first.counter_loop().cancel();
    second.counter_loop().cancel();
}

#[tokio::test(start_paused = true)]
async fn the_accessor_returns_the_same_loop_every_time() {
    let cog = Arc::new(CounterCog::default());
    assert!(cog.counter_loop.get().is_none());
    cog.counter_loop().set_count(Some(7)).unwrap();
    assert_eq!(cog.counter_loop().count(), Some(7));
    assert!(cog.counter_loop.get().is_some());
    assert_eq!(
        cog.counter_loop().name(),
        "macro_methods::CounterCog::counter_loop"
    );
}

#[tokio::test(start_paused = true)]
async fn arguments_after_self_are_given_at_start_and_call() {
    let cog = Arc::new(CounterCog::default());
    assert_eq!(
        cog.add_loop().start((2, 3)).unwrap().await,
        RunOutcome::Completed
    );
    let direct: Result<(), std::io::Error> = cog.add_loop().call((0, 1)).await;
    assert!(direct.is_err());
    assert!(cog.add_loop().call((10, 20)).await.is_ok());
    assert_eq!(*cog.count.lock().await, 35);
}

#[tokio::test(start_paused = true)]
async fn the_loop_does_not_keep_its_instance_alive() {
    let cog = Arc::new(CounterCog::default());
    cog.counter_loop().start(()).unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(Arc::strong_count(&cog), 1, "between iterations");
    cog.counter_loop().cancel();
}

#[tokio::test(start_paused = true)]
async fn dropping_the_instance_cancels_its_loop() {
    let cog = Arc::new(CounterCog::default());
    let cleaned_up = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cleaned_up);
    let handle = cog.counter_loop().as_loop().clone();
    handle.after_loop(move || {
        let flag = Arc::clone(&flag);
        async move { flag.store(true, Ordering::SeqCst) }
    });
    let run = cog.counter_loop().start(()).unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    drop(cog);
    assert_eq!(run.await, RunOutcome::Cancelled);
    assert!(cleaned_up.load(Ordering::SeqCst));
    assert!(!handle.is_running());
}

#[tokio::test(start_paused = true)]
async fn a_kept_handle_outliving_its_instance_runs_nothing() {
    let cog = Arc::new(CounterCog::default());
    let handle = cog.add_loop().clone();
    drop(cog);
    assert!(handle.call((1, 2)).await.is_ok());
    assert_eq!(handle.start((1, 2)).unwrap().await, RunOutcome::Completed);
}
