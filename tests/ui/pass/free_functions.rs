//! The forms of a free loop function: no argument, one, several; `()` or
//! `Result<(), E>` for any error type; every argument of the attribute.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use tasks::{LoopFn, RunOutcome};

#[derive(Debug, thiserror::Error)]
#[error("the channel is gone")]
pub struct SendError;

/// A doc comment goes on the loop.
#[tasks::r#loop(seconds = 1)]
async fn no_argument() {}

#[tasks::r#loop(seconds = 0.5, minutes = 1, hours = 0)]
pub async fn one_argument(sent: Arc<AtomicU32>) -> Result<(), SendError> {
    sent.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

#[tasks::r#loop(time = ["08:00", "20:00:30"], tz = "Asia/Seoul", count = 2, reconnect = false, name = "greeter")]
pub(crate) async fn several_arguments(channel: &str, times: u8, _unused: (u8, u8)) -> std::io::Result<()> {
    let _ = (channel, times);
    Ok(())
}

#[tasks::r#loop(time = "23:59:59", tz = "+09:30")]
async fn boxed_errors(mut tries: u32) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    tries += 1;
    Err(format!("failed after {tries}").into())
}

#[tasks::r#loop(minutes = 1, crate = "::tasks")]
async fn explicit_crate() {}

/// A part may be negative when the total is not, as in discord.py.
#[tasks::r#loop(minutes = 1, seconds = -15)]
async fn mixed_signs() {}

fn main() {
    let _: &LoopFn = &no_argument;
    let _: &LoopFn<Arc<AtomicU32>, Result<(), SendError>> = &one_argument;
    let _: &LoopFn<(&'static str, u8, (u8, u8)), std::io::Result<()>> = &several_arguments;
    assert_eq!(several_arguments.name(), "greeter");
    assert_eq!(several_arguments.time().map(|t| t.len()), Some(2));
    assert_eq!(boxed_errors.time().map(|t| t.len()), Some(1));
    assert_eq!(one_argument.seconds(), Some(0.5));
    assert!(explicit_crate.name().ends_with("explicit_crate"));
    assert_eq!((mixed_signs.minutes(), mixed_signs.seconds()), (Some(1.0), Some(-15.0)));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let sent = Arc::new(AtomicU32::new(0));
        assert!(one_argument.call(Arc::clone(&sent)).await.is_ok());
        one_argument.set_count(Some(2)).expect("a valid count");
        let run = one_argument.start(Arc::clone(&sent)).expect("not running");
        assert_eq!(run.await, RunOutcome::Completed);
        assert_eq!(sent.load(Ordering::SeqCst), 3);
        assert!(boxed_errors.call(1).await.is_err());
    });
}
