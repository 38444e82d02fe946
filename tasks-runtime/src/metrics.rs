//! The loop's metrics, through the `metrics` facade (the `metrics`
//! feature): handles registered once per run, with the loop's name as the
//! `loop` label, so that recording an iteration allocates nothing.
//!
//! | metric | kind | labels |
//! | --- | --- | --- |
//! | `tasks_iterations_total` | counter: calls of the body | `loop` |
//! | `tasks_errors_total` | counter | `loop`, `kind`: `retried`, `unhandled`, `panic`, `timeout` |
//! | `tasks_iteration_duration_seconds` | histogram | `loop` |
//! | `tasks_lateness_seconds` | histogram: start minus scheduled instant (jitter included) | `loop` |
//! | `tasks_running` | gauge: 1 while a run is in progress | `loop` |

use std::time::Duration;

use metrics::{counter, gauge, histogram, Counter, Gauge, Histogram};

use crate::status::IterationOutcome;

/// The handles of one loop's metrics.
pub(crate) struct LoopMetrics {
    iterations: Counter,
    retried: Counter,
    unhandled: Counter,
    panic: Counter,
    timeout: Counter,
    duration: Histogram,
    lateness: Histogram,
    running: Gauge,
}

impl LoopMetrics {
    /// Registers the handles with the installed recorder (or none).
    pub(crate) fn register(name: &str) -> Self {
        let label = name.to_owned();
        let errors = |kind: &'static str| counter!("tasks_errors_total", "loop" => label.clone(), "kind" => kind);
        Self {
            iterations: counter!("tasks_iterations_total", "loop" => label.clone()),
            retried: errors("retried"),
            unhandled: errors("unhandled"),
            panic: errors("panic"),
            timeout: errors("timeout"),
            duration: histogram!("tasks_iteration_duration_seconds", "loop" => label.clone()),
            lateness: histogram!("tasks_lateness_seconds", "loop" => label.clone()),
            running: gauge!("tasks_running", "loop" => label),
        }
    }

    /// A call of the body ended, after `duration`, started `lateness`
    /// after its scheduled instant.
    pub(crate) fn iteration(&self, duration: Duration, lateness: Duration) {
        self.iterations.increment(1);
        self.duration.record(duration.as_secs_f64());
        self.lateness.record(lateness.as_secs_f64());
    }

    /// A call of the body failed: a panic and a timeout count as such,
    /// whether retried or not; other errors as retried or unhandled.
    pub(crate) fn error(&self, outcome: IterationOutcome, retried: bool) {
        let counter = match outcome {
            IterationOutcome::Panicked => &self.panic,
            IterationOutcome::TimedOut => &self.timeout,
            _ if retried => &self.retried,
            _ => &self.unhandled,
        };
        counter.increment(1);
    }

    pub(crate) fn running(&self, running: bool) {
        self.running.set(if running { 1.0 } else { 0.0 });
    }
}
