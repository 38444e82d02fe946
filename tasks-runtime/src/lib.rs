//! The runtime of [`tasks`](https://docs.rs/tasks): background task loops
//! for tokio, a port of discord.py's `discord.ext.tasks.Loop`.
//!
//! A [`Loop`] runs an async body on a schedule — a relative interval
//! (`seconds`, `minutes`, `hours`), times of day or a cron expression in any
//! time zone — with
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
//! Features, both off by default: `serde` (`Serialize` for [`LoopStatus`]
//! and what it holds) and `metrics` (every loop's iterations, errors,
//! durations, lateness and running state through the `metrics` facade).
//!
//! How the crate is laid out, and how a run flows from `start` to
//! `after_loop`, is in the repository's `ARCHITECTURE.md`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod backoff;
mod body;
mod builder;
mod clock;
pub mod cluster;
mod error;
mod handle;
mod hooks;
#[cfg(feature = "metrics")]
mod metrics;
mod observe;
pub mod registry;
mod retry;
mod run;
mod schedule;
mod state;
mod status;
mod task_loop;
pub mod testing;

pub use backoff::{Backoff, ExponentialBackoff, FixedBackoff};
pub use body::Iteration;
pub use builder::LoopBuilder;
pub use clock::{Clock, SystemClock};
pub use error::{BoxError, ConfigError, IterationTimeout, LoopError, NoNextIteration, StartError};
pub use handle::{RunHandle, RunOutcome};
pub use hooks::BodyOutput;
pub use schedule::{AmbiguousTime, Cron, Interval, TimeOfDay, Zone, DEFAULT_WALL_CHECK};
pub use status::{IterationOutcome, LastIteration, LoopStatus};
pub use task_loop::Loop;
/// tokio's policies for missed iterations, which
/// [`LoopBuilder::missed`] and [`Loop::set_missed`] take.
pub use tokio::time::MissedTickBehavior;

/// The time-zone database, re-exported so that users name zones without a
/// dependency of their own: `tasks_runtime::tz::Asia::Seoul`.
pub use chrono_tz as tz;
