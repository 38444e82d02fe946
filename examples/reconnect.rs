//! `reconnect`: a body that fails with a connection error and is retried,
//! a custom error type made retryable with `add_exception_type`, and an
//! `error` hook for the error that is not.
//!
//! ```text
//! cargo run --example reconnect
//! ```
//!
//! With the attribute this loop is `#[tasks::r#loop(seconds = 0.3)]`, which
//! retries with discord.py's exponential backoff (a random delay of up to
//! 2 s, then 4 s, ...). To keep the demo short, it is built with the
//! runtime API and a fixed 200 ms backoff.

use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tasks::{BoxError, FixedBackoff, Loop, LoopError};

/// The server asked us to slow down: worth a retry, but not an `io::Error`.
#[derive(Debug, thiserror::Error)]
#[error("rate limited by the server")]
pub struct RateLimited;

/// The credentials were revoked: retrying will not help.
#[derive(Debug, thiserror::Error)]
#[error("the access token was revoked")]
pub struct Revoked;

/// One sync with a flaky server: the attempts fail, fail, succeed twice,
/// then fail for good.
async fn sync(attempts: Arc<AtomicU32>) -> Result<(), BoxError> {
    let attempt = attempts.fetch_add(1, Ordering::SeqCst) + 1;
    let result: Result<(), BoxError> = match attempt {
        1 => Err(io::Error::new(io::ErrorKind::ConnectionRefused, "connection refused").into()),
        2 => Err(RateLimited.into()),
        3 | 4 => Ok(()),
        _ => Err(Revoked.into()),
    };
    match &result {
        Ok(()) => println!("  attempt {attempt}: synced"),
        Err(error) => println!("  attempt {attempt}: {error}"),
    }
    result
}

/// Builds the loop, makes `RateLimited` retryable, and runs it until the
/// unretryable error ends it.
pub async fn run() -> Result<(), BoxError> {
    let syncer = Loop::builder(sync)
        .seconds(0.3)
        .backoff(|| FixedBackoff::new(Duration::from_millis(200)))
        .name("sync")
        .build()?;
    // `io::Error` (a refused connection) is retried by default, as
    // discord.py retries `OSError`; `RateLimited` is added here.
    syncer
        .add_exception_type::<RateLimited>()
        .error(|error: LoopError| async move {
            println!("  error hook: giving up, {error}");
        });
    let handle = syncer.clone();
    syncer.after_loop(move || {
        let handle = handle.clone();
        async move {
            println!(
                "  after_loop: failed = {}, {} successful syncs",
                handle.failed(),
                handle.current_loop()
            )
        }
    });
    println!("  retried error types: {:?}", syncer.exception_types());
    let outcome = syncer.start(Arc::new(AtomicU32::new(0)))?.await;
    println!("  the run ended: {outcome:?}");
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    run().await
}
