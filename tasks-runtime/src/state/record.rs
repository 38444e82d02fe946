//! What a loop keeps of its iterations, for `status`, tracing and the
//! metrics, and how each call of the body changes it (`observe.rs` reads
//! the clocks and reports; the changes are made here, under the lock).

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::time::Instant;

use crate::schedule::ScheduledAt;
use crate::status::IterationOutcome;

/// The part of the record that lives in the loop's extras.
///
/// The outcome is kept here too: a loop without extras has never failed,
/// so its last call, if any, succeeded (see `State::last_outcome`).
#[derive(Default)]
pub(crate) struct IterationRecord {
    /// How the last call of the body ended, across runs.
    outcome: Option<IterationOutcome>,
    /// Whether iterations are timed: set by the first `status()`.
    timed: bool,
    retries: u32,
    /// The last error of a call of the body, as text.
    error: Option<Box<str>>,
    /// When the call of the body in progress began.
    began: Option<Instant>,
    timing: Option<Timing>,
    /// The loop's metric handles, registered as its run starts.
    #[cfg(feature = "metrics")]
    metrics: Option<std::sync::Arc<crate::metrics::LoopMetrics>>,
}

/// When the last timed iteration started, how late, and for how long.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timing {
    pub(crate) started: DateTime<Utc>,
    pub(crate) lateness: Duration,
    pub(crate) duration: Duration,
}

/// What `status` shows of the record.
pub(crate) struct Recorded {
    pub(crate) outcome: Option<IterationOutcome>,
    pub(crate) error: Option<String>,
    pub(crate) timing: Option<Timing>,
    pub(crate) retries: u32,
}

impl IterationRecord {
    pub(super) fn timed(&self) -> bool {
        self.timed || cfg!(feature = "metrics")
    }

    /// What `status` shows; from now on, iterations are timed.
    pub(super) fn read_for_status(&mut self) -> Recorded {
        self.timed = true;
        Recorded {
            outcome: self.outcome,
            error: self.error.as_deref().map(str::to_owned),
            timing: self.timing,
            retries: self.retries,
        }
    }

    pub(super) fn began(&mut self, now: Instant) {
        self.began = Some(now);
    }

    /// A call ended at `now` with `outcome`; a success starts the retries
    /// over. A timed call gets its timing, measured from `slot`, the
    /// instant it ran for, and `jitter`, the delay its wait added (the
    /// lateness is from the instant the wait aimed at, which is
    /// deliberate).
    pub(super) fn ended(
        &mut self,
        outcome: IterationOutcome,
        now: Instant,
        slot: Option<(ScheduledAt, Duration)>,
    ) -> Option<Timing> {
        self.outcome = Some(outcome);
        if outcome == IterationOutcome::Succeeded {
            self.retries = 0;
        }
        let began = self.began.take()?;
        let timing = slot.map(|(slot, jitter)| {
            let aimed = slot.mono + jitter;
            let after_slot = began.saturating_duration_since(slot.mono);
            Timing {
                started: slot.wall() + TimeDelta::from_std(after_slot).unwrap_or(TimeDelta::MAX),
                lateness: began.saturating_duration_since(aimed),
                duration: now.saturating_duration_since(began),
            }
        });
        self.timing = timing;
        timing
    }

    /// A call failed with `error` (as text); a retry counts. Returns the
    /// error it replaces, for the caller to drop outside the lock.
    pub(super) fn failed(&mut self, error: Box<str>, retried: bool) -> Option<Box<str>> {
        if retried {
            self.retries = self.retries.saturating_add(1);
        }
        self.error.replace(error)
    }

    /// A call was dropped by a cancel.
    pub(super) fn cancelled(&mut self) {
        self.outcome = Some(IterationOutcome::Cancelled);
        self.began = None;
    }

    /// An untimed call succeeded (a timed one goes through `ended`).
    pub(super) fn succeeded(&mut self) {
        self.outcome = Some(IterationOutcome::Succeeded);
    }

    /// The retries start over, after a success.
    pub(super) fn reset_retries(&mut self) {
        self.retries = 0;
    }

    #[cfg(feature = "metrics")]
    pub(super) fn metrics(&self) -> Option<std::sync::Arc<crate::metrics::LoopMetrics>> {
        self.metrics.clone()
    }

    /// Returns the handles replaced, for the caller to drop outside the
    /// lock.
    #[cfg(feature = "metrics")]
    pub(super) fn set_metrics(
        &mut self,
        metrics: std::sync::Arc<crate::metrics::LoopMetrics>,
    ) -> Option<std::sync::Arc<crate::metrics::LoopMetrics>> {
        self.metrics.replace(metrics)
    }
}
