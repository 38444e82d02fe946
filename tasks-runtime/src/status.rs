//! [`LoopStatus`]: a snapshot of what a loop is doing, for a dashboard, a
//! health check or a log line; `Serialize` with the `serde` feature.

use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};

use crate::schedule::Interval;

/// One snapshot of a loop, from [`Loop::status`](crate::Loop::status) or,
/// for every loop of the process, [`registry::statuses`](crate::registry::statuses).
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::time::Duration;
/// use tasks_runtime::{IterationOutcome, Loop};
///
/// let poll = Loop::builder(|()| async {}).name("poll").seconds(10.0).build().unwrap();
/// poll.start(()).unwrap();
/// assert!(poll.status().last_iteration.is_none());
/// tokio::time::sleep(Duration::from_secs(1)).await;
/// let status = poll.status();
/// assert_eq!(status.name, "poll");
/// assert!(status.running);
/// assert_eq!(status.schedule, "every 10 s");
/// // discord.py's order: counted after the sleep that follows it.
/// assert_eq!(status.current_loop, 0);
/// let last = status.last_iteration.unwrap();
/// assert_eq!(last.outcome, IterationOutcome::Succeeded);
/// assert_eq!(last.lateness, Some(Duration::ZERO));
/// poll.cancel();
/// # }
/// ```
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct LoopStatus {
    /// The loop's name.
    pub name: String,
    /// Whether a run is in progress ([`Loop::is_running`](crate::Loop::is_running)).
    pub running: bool,
    /// Whether the last run ended with an unhandled error.
    pub failed: bool,
    /// The schedule in words: `every 30 s`, `at 08:00:00 Asia/Seoul, 20:00:00 Asia/Seoul`.
    pub schedule: String,
    /// The schedule as a value.
    pub interval: Interval,
    /// The successful iterations of the current run.
    pub current_loop: u64,
    /// When the next iteration runs (its jitter included once chosen).
    pub next_iteration: Option<DateTime<Utc>>,
    /// The same instant in the schedule's zone (UTC for a relative
    /// interval; the first time's zone when times of day mix zones).
    pub next_iteration_local: Option<DateTime<FixedOffset>>,
    /// The last call of the body, in this run or an earlier one.
    pub last_iteration: Option<LastIteration>,
    /// Errors retried since the last successful iteration.
    pub retries_since_success: u32,
}

/// The last call of a loop's body.
///
/// A loop records its iterations from its first
/// [`status`](crate::Loop::status) on (always with the `metrics` feature):
/// the timings cost two clock reads per iteration, which a loop nobody
/// watches does not pay. Errors are always recorded; before the first
/// `status`, the outcome of a successful call is known only once the run
/// has counted it, and the timings are `None`.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct LastIteration {
    /// How it ended.
    pub outcome: IterationOutcome,
    /// The last error of a call of the body, as text (kept after later
    /// successes; `outcome` says whether the last call failed).
    pub error: Option<String>,
    /// When it started.
    pub started: Option<DateTime<Utc>>,
    /// How long after its scheduled instant (its jitter included) it
    /// started.
    #[cfg_attr(feature = "serde", serde(serialize_with = "seconds"))]
    pub lateness: Option<Duration>,
    /// How long the call took.
    #[cfg_attr(feature = "serde", serde(serialize_with = "seconds"))]
    pub duration: Option<Duration>,
}

/// How a call of the body ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum IterationOutcome {
    /// It returned `()` or `Ok(())`.
    Succeeded,
    /// It failed with an error of a retried type: it runs again after the
    /// backoff.
    Retried,
    /// It failed with an error that ended the run.
    Failed,
    /// It panicked, which ends the run.
    Panicked,
    /// It ran past its timeout: retried where timeouts are, as the
    /// retries tell.
    TimedOut,
    /// A cancel dropped it.
    Cancelled,
}

#[cfg(feature = "serde")]
fn seconds<S: serde::Serializer>(
    value: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(duration) => serializer.serialize_some(&duration.as_secs_f64()),
        None => serializer.serialize_none(),
    }
}
