//! `shared_state`: a cog whose loop and command share a counter behind an
//! async mutex; each instance has its own loop.
//!
//! ```text
//! cargo run --example shared_state
//! ```

use std::sync::Arc;
use std::time::Duration;

use tasks::{BoxError, LoopSlot};
use tokio::sync::Mutex;

/// A cog: a counter, the loop that counts and the command that resets it.
pub struct CounterCog {
    guild: &'static str,
    count: Mutex<u32>,
    /// Where this instance keeps its `counter_loop`.
    counter_loop: LoopSlot,
}

impl CounterCog {
    pub fn new(guild: &'static str) -> Arc<Self> {
        Arc::new(Self {
            guild,
            count: Mutex::new(0),
            counter_loop: LoopSlot::new(),
        })
    }

    /// Counts, every 200 ms: `self.counter_loop()` is this instance's loop.
    #[tasks::r#loop(seconds = 0.2)]
    async fn counter_loop(self: Arc<Self>) {
        let mut count = self.count.lock().await;
        *count += 1;
        println!("  [{}] count = {count}", self.guild);
    }

    /// The command: reads and resets the counter the loop is updating.
    pub async fn reset(&self) -> u32 {
        let mut count = self.count.lock().await;
        println!("  [{}] reset command: the count was {count}", self.guild);
        std::mem::take(&mut *count)
    }
}

/// Runs a cog's loop, resets it midway, and stops it.
pub async fn run() -> Result<(), BoxError> {
    let cog = CounterCog::new("guild A");
    let other = CounterCog::new("guild B");
    let run = cog.counter_loop().start(())?;
    tokio::time::sleep(Duration::from_millis(700)).await;
    cog.reset().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!(
        "  [{}] has its own loop: running = {}",
        other.guild,
        other.counter_loop().is_running()
    );
    // During a sleep, `stop` lets the iteration already scheduled run, as
    // in discord.py; `cancel` would end the run at once.
    println!("  [{}] stop: the scheduled iteration still runs", cog.guild);
    cog.counter_loop().stop();
    println!("  the run ended: {:?}", run.await);
    println!("  [{}] final count = {}", cog.guild, cog.count.lock().await);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    run().await
}
