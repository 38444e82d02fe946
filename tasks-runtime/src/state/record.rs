//! What a loop keeps of its iterations, for `status`, tracing and the
//! metrics (updated by `observe.rs`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use crate::status::IterationOutcome;

/// The part of the record that lives in the loop's extras.
///
/// The outcome is kept here too: a loop without extras has never failed,
/// so its last call, if any, succeeded (see `status_of`).
#[derive(Default)]
pub(crate) struct IterationRecord {
    /// How the last call of the body ended, across runs.
    pub(crate) outcome: Option<IterationOutcome>,
    /// Whether iterations are timed: set by the first `status()`.
    timed: bool,
    pub(crate) retries: u32,
    /// The last error of a call of the body, as text.
    pub(crate) error: Option<Box<str>>,
    /// When the call of the body in progress began.
    pub(crate) began: Option<Instant>,
    pub(crate) timing: Option<Timing>,
}

/// When the last timed iteration started, how late, and for how long.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timing {
    pub(crate) started: DateTime<Utc>,
    pub(crate) lateness: Duration,
    pub(crate) duration: Duration,
}

impl IterationRecord {
    pub(crate) fn timed(&self) -> bool {
        self.timed || cfg!(feature = "metrics")
    }

    pub(crate) fn time_iterations(&mut self) {
        self.timed = true;
    }
}
