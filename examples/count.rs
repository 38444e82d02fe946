//! `count`: an announcement sent twice, then an `after_loop` message.
//!
//! ```text
//! cargo run --example count
//! ```

use tasks::BoxError;

/// A chat channel (a stand-in for a real client).
#[derive(Clone, Debug)]
pub struct Channel {
    name: &'static str,
}

/// Sending to a channel failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot send to #{0}")]
pub struct SendError(&'static str);

impl Channel {
    async fn send(&self, message: &str) -> Result<(), SendError> {
        println!("  #{} <- {message}", self.name);
        Ok(())
    }
}

/// Twice, half a second apart: the loop ends by itself after `count`
/// iterations.
#[tasks::r#loop(seconds = 0.5, count = 2)]
async fn announce(channel: Channel) -> Result<(), SendError> {
    // The loop is a static: the body can read its own state by name.
    let n = announce.current_loop() + 1;
    channel
        .send(&format!("the tournament starts soon ({n}/2)"))
        .await
}

/// Registers the hooks, starts the loop and waits for it to finish.
pub async fn run() -> Result<(), BoxError> {
    announce
        .before_loop(|| async { println!("  before_loop: connected, ready to announce") })
        .after_loop(|| async {
            println!(
                "  after_loop: {} announcements sent, closing the announcement thread",
                announce.current_loop()
            )
        });
    let outcome = announce.start(Channel { name: "general" })?.await;
    println!("  the run ended: {outcome:?}");
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    run().await
}
