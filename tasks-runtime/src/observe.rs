//! What a loop records of its iterations, for [`Loop::status`], tracing
//! and the metrics: the outcome of the last call of the body, the retries
//! since the last success, the last error as text, and, once timed, when
//! the last iteration started, how late and for how long. This file reads
//! the clocks and turns errors into text outside the loop's lock, has the
//! state record them (`state/record.rs`), and feeds the metrics.
//!
//! Timing an iteration costs two reads of the monotonic clock, which a
//! loop nobody watches does not pay: a loop is timed from its first
//! `status()` on (and always with the `metrics` feature). The outcome and
//! the retries cost no clock read and are always kept.
//!
//! [`Loop::status`]: crate::Loop::status

use tokio::time::Instant;

use crate::error::{IterationTimeout, LoopError, Shown};
use crate::state::Core;
use crate::status::{IterationOutcome, LastIteration, LoopStatus};

/// A timed call of the body begins.
pub(crate) fn iteration_began<A>(core: &Core<A>) {
    let now = Instant::now();
    core.lock().record_began(now);
}

/// A call of the body ended with `outcome`; timed, or the outcome alone.
pub(crate) fn iteration_ended<A>(core: &Core<A>, outcome: IterationOutcome) {
    let now = Instant::now();
    let mut state = core.lock();
    let timing = state.record_ended(outcome, now);
    #[cfg(feature = "metrics")]
    let metrics = state.metrics();
    drop(state);
    #[cfg(feature = "metrics")]
    if let (Some(metrics), Some(timing)) = (metrics, timing) {
        metrics.iteration(timing.duration, timing.lateness);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = timing;
}

/// A call of the body failed with `error`, `retried` or not.
pub(crate) fn iteration_failed<A>(core: &Core<A>, error: &LoopError, retried: bool) {
    let outcome = if error.panic_message().is_some() {
        IterationOutcome::Panicked
    } else if error.is::<IterationTimeout>() {
        IterationOutcome::TimedOut
    } else if retried {
        IterationOutcome::Retried
    } else {
        IterationOutcome::Failed
    };
    // `Display` is user code: made into text before the lock is taken.
    let text = Shown(error).to_string().into_boxed_str();
    let replaced = core.lock().record_failed(text, retried);
    drop(replaced);
    iteration_ended(core, outcome);
    #[cfg(feature = "metrics")]
    {
        let metrics = core.lock().metrics();
        if let Some(metrics) = metrics {
            metrics.error(outcome, retried);
        }
    }
}

/// A call of the body was dropped by a cancel.
pub(crate) fn iteration_cancelled<A>(core: &Core<A>) {
    core.lock().record_cancelled();
}

/// A call of the body was dropped because this replica may no longer act
/// on its slot (its claim was lost while it ran): recorded as cancelled,
/// with the reason as the last error, and not as a failure of the run.
pub(crate) fn iteration_abandoned<A>(core: &Core<A>, reason: &LoopError) {
    // `Display` is user code: made into text before the lock is taken.
    let text = Shown(reason).to_string().into_boxed_str();
    let mut state = core.lock();
    let replaced = state.record_failed(text, false);
    state.record_cancelled();
    drop(state);
    drop(replaced);
}

/// The span of one call of the body: `loop`, `iteration` (the
/// `current_loop` of the call) and `slot` (the instant it was scheduled
/// for). Without a subscriber that wants it, `Span::none()`, and the loop's
/// state is not even read.
pub(crate) fn iteration_span<A>(core: &Core<A>, name: &str) -> tracing::Span {
    let span = tracing::info_span!(
        "iteration",
        "loop" = %name,
        iteration = tracing::field::Empty,
        slot = tracing::field::Empty,
    );
    if !span.is_disabled() {
        let (iteration, slot) = {
            let state = core.lock();
            (state.current_loop(), state.last().map(|slot| slot.wall()))
        };
        span.record("iteration", iteration);
        if let Some(slot) = slot {
            span.record("slot", tracing::field::display(slot));
        }
    }
    span
}

/// A run starts: the loop's metric handles are registered (the recorder
/// may have been installed since the loop was built), and it counts as
/// running.
pub(crate) fn run_started<A>(core: &Core<A>, name: &str) {
    tracing::info!(loop_name = %name, "the loop started");
    #[cfg(feature = "metrics")]
    {
        let metrics = std::sync::Arc::new(crate::metrics::LoopMetrics::register(name));
        metrics.running(true);
        let replaced = core.lock().set_metrics(metrics);
        drop(replaced);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = core;
}

/// A run ended.
pub(crate) fn run_ended<A>(core: &Core<A>) {
    #[cfg(feature = "metrics")]
    {
        let metrics = core.lock().metrics();
        if let Some(metrics) = metrics {
            metrics.running(false);
        }
    }
    #[cfg(not(feature = "metrics"))]
    let _ = core;
}

/// The snapshot of the loop `name`. Its first call turns the timing of
/// iterations on.
pub(crate) fn status_of<A>(core: &Core<A>, name: &str) -> LoopStatus {
    let (running, failed, schedule, current_loop, recorded) = {
        let mut state = core.lock();
        let recorded = state.read_record();
        (
            state.running(),
            state.failed(),
            state.schedule().clone(),
            state.current_loop(),
            recorded,
        )
    };
    let next_iteration = core.next_iteration();
    LoopStatus {
        name: name.to_owned(),
        running,
        failed,
        next_iteration_local: next_iteration.map(|at| schedule.local(at)),
        next_iteration,
        schedule: schedule.describe(),
        interval: schedule.interval(),
        current_loop,
        last_iteration: recorded.outcome.map(|outcome| LastIteration {
            outcome,
            error: recorded.error,
            started: recorded.timing.map(|t| t.started),
            lateness: recorded.timing.map(|t| t.lateness),
            duration: recorded.timing.map(|t| t.duration),
        }),
        retries_since_success: recorded.retries,
    }
}
