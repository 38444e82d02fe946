//! Background task loops for tokio: fixed intervals, times of day in any
//! time zone, hooks, retries. A port of discord.py's `discord.ext.tasks`.
//!
//! Declare a loop with the attribute, then control it by name:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! #[derive(Clone)]
//! struct Channel(&'static str);
//!
//! #[derive(Debug, thiserror::Error)]
//! #[error("the channel is gone")]
//! struct SendError;
//!
//! #[tasks::r#loop(seconds = 5, count = 2)]
//! async fn announce(channel: Channel) -> Result<(), SendError> {
//!     println!("#{}: the event starts soon", channel.0);
//!     Ok(())
//! }
//!
//! announce
//!     .before_loop(|| async { println!("before the first announcement") })
//!     .after_loop(|| async { println!("announcements done") })
//!     .error(|err| async move { eprintln!("announce failed: {err}") });
//! announce.start(Channel("general"))?.await;
//! # Ok(())
//! # }
//! ```
//!
//! - [`r#loop`](attr.loop.html) (also exported as
//!   [`task_loop`](attr.task_loop.html)) turns an `async fn` into a loop: a
//!   `static` for a free function, a loop per instance for a method taking
//!   `self: Arc<Self>`. Its arguments are checked at compile time.
//! - [`Loop`] is the loop itself, also made by hand with [`Loop::builder`]:
//!   `start`, `stop`, `cancel`, `restart`, `change_interval`, the
//!   `before_loop` / `after_loop` / `error` hooks, the retried error types.
//! - [`LoopFn`] is what the attribute makes: the loop and its typed body;
//!   [`LoopSlot`] is the field in which an instance keeps its loop.
//! - [`Iteration`] is the iteration a body runs in, as a value (its number,
//!   its slot, in a cluster its fencing token): an argument marked
//!   `#[iteration]` takes it, or [`Loop::builder_with_iteration`].
//! - [`TimeOfDay`] and [`Zone`] describe times of day in IANA zones or
//!   fixed offsets; [`testing::VirtualClock`] drives them in tests.
//!
//! - For a service: `missed`, `timeout` and `jitter` (attribute arguments
//!   and setters), [`Loop::shutdown`] and [`registry::shutdown_all`] for a
//!   clean stop, [`Loop::status`] and [`registry::statuses`], and a tracing
//!   span per iteration.
//!
//! Features, all off by default: `serde` (`Serialize` for [`LoopStatus`]
//! and what it holds) and `metrics` (every loop's iterations, errors,
//! durations, lateness and running state through the `metrics` facade).
//!
//! In the repository, `docs/guide.md` (in Korean, `docs/ko/guide.md`)
//! teaches the crate chapter by chapter, from discord.py's techniques, and
//! `docs/from-discord-py.md` gives the `tasks` name of everything in
//! discord.py's `tasks.Loop`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod loop_fn;
mod slot;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use loop_fn::LoopFn;
pub use slot::LoopSlot;
#[doc(inline)]
pub use tasks_macros::r#loop;
/// The keyword-free name of [`r#loop`](attr.loop.html), for `use tasks::task_loop;` and
/// `#[task_loop(seconds = 5)]`.
///
/// ```
/// use tasks::task_loop;
///
/// #[task_loop(minutes = 10)]
/// async fn heartbeat() {}
///
/// assert_eq!(heartbeat.minutes(), Some(10.0));
/// ```
#[doc(inline)]
pub use tasks_macros::r#loop as task_loop;
pub use tasks_runtime::*;
#[cfg(feature = "stores")]
#[cfg_attr(docsrs, doc(cfg(feature = "stores")))]
#[doc(inline)]
pub use tasks_stores as stores;

/// The README's code blocks, run by `cargo test` as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The guide's code blocks, run by `cargo test` as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/guide.md")]
pub struct GuideDoctests;

/// The Korean guide's code blocks, run by `cargo test` as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/ko/guide.md")]
pub struct GuideKoDoctests;
