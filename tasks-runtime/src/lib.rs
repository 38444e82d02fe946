//! The runtime of [`tasks`](https://docs.rs/tasks): background task loops
//! for tokio, a port of discord.py's `discord.ext.tasks.Loop`.
//!
//! A [`Loop`] runs an async body on a schedule — a relative interval
//! (`seconds`, `minutes`, `hours`) or times of day in any time zone — with
//! `before_loop`, `after_loop` and `error` hooks, `start` / `stop` /
//! `cancel` / `restart` / `change_interval` control, and retries with
//! exponential backoff for the error types it holds.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use tasks_runtime::{Loop, RunOutcome};
//!
//! let announce = Loop::builder(|channel: &'static str| async move {
//!     println!("#{channel}: the event starts soon");
//!     Ok::<(), std::io::Error>(())
//! })
//! .hours(1.0)
//! .count(2)
//! .build()
//! .expect("a valid interval");
//!
//! announce.after_loop(|| async { println!("announcements done") });
//! let run = announce.start("general").expect("not running yet");
//! assert_eq!(run.await, RunOutcome::Completed);
//! # }
//! ```
//!
//! Where the code lives: scheduling in `schedule/` (intervals, times of
//! day, wall-clock sleeps) and `run.rs` (one run: the iterations, then
//! `after_loop`), control in `task_loop.rs`, the state a loop shares with
//! its task (and the type-erased body) in `state.rs`, a run's outcome and
//! handle in `handle.rs`, hooks in `hooks.rs`, the retry filter in `retry.rs`, backoff
//! policies in `backoff.rs`, errors in `error.rs`, clocks in `clock.rs` and
//! `testing.rs`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod backoff;
mod builder;
mod clock;
mod error;
mod handle;
mod hooks;
mod retry;
mod run;
mod schedule;
mod state;
mod task_loop;
pub mod testing;

pub use backoff::{Backoff, ExponentialBackoff, FixedBackoff};
pub use builder::{LoopBuilder, DEFAULT_WALL_CHECK};
pub use clock::{Clock, SystemClock};
pub use error::{BoxError, ConfigError, LoopError, StartError};
pub use handle::{RunHandle, RunOutcome};
pub use hooks::BodyOutput;
pub use schedule::{AmbiguousTime, Interval, TimeOfDay, Zone};
pub use task_loop::Loop;

/// The time-zone database, re-exported so that users name zones without a
/// dependency of their own: `tasks_runtime::tz::Asia::Seoul`.
pub use chrono_tz as tz;
