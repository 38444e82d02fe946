//! A loop method: one loop per instance, kept in a `LoopSlot` field of the
//! same name.

use std::sync::Arc;

use tasks::{LoopFn, LoopSlot, RunOutcome};
use tokio::sync::Mutex;

#[derive(Default)]
struct CounterCog {
    count: Mutex<u32>,
    counter_loop: LoopSlot,
    add_loop: LoopSlot<(u32, u32), Result<(), std::io::Error>>,
    r#type: LoopSlot,
}

impl CounterCog {
    /// Counts.
    #[tasks::r#loop(seconds = 1, count = 3)]
    async fn counter_loop(self: Arc<Self>) {
        *self.count.lock().await += 1;
    }

    #[tasks::r#loop(seconds = 1, count = 1)]
    pub async fn add_loop(self: std::sync::Arc<Self>, a: u32, b: u32) -> Result<(), std::io::Error> {
        *self.count.lock().await += a + b;
        Ok(())
    }

    /// A raw identifier names the method and its field alike.
    #[tasks::r#loop(seconds = 1)]
    async fn r#type(self: Arc<Self>) {}
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let cog = Arc::new(CounterCog::default());
        let other = Arc::new(CounterCog::default());
        let _: &LoopFn = cog.counter_loop();
        assert_eq!(cog.counter_loop().start(()).expect("idle").await, RunOutcome::Completed);
        assert!(cog.add_loop().call((10, 20)).await.is_ok());
        assert_eq!(*cog.count.lock().await, 33);
        assert!(!other.counter_loop().is_running());
        assert!(cog.r#type().name().ends_with("CounterCog::type"));
        assert_eq!(*other.count.lock().await, 0);
    });
}
