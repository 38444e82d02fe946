//! The iterations of one run, its retries, and the paths that end it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::time::Instant;

use super::call::{timed_out, traced_call};
use super::claim::{self, SlotTurn};
use super::wait::{self, WallWait};
use super::watched::{UntilCancelled, UntilRescheduled, UntilRetry};
use crate::backoff::{default_backoff, Backoff};
use crate::error::{LoopError, Shown};
use crate::handle::RunOutcome;
use crate::hooks::{call_guarded, BodyOutput};
use crate::observe;
use crate::schedule::{Now, ScheduledAt};
use crate::state::{Core, Interrupt, IterationSettings, Shared};
use crate::status::IterationOutcome;

/// Runs the iterations of a started loop (cancellable), and returns how
/// the run ends; its end ([`finish`]) follows in the run's task.
///
/// An `async move` block, not an `async fn`: the parameters of an `async
/// fn` are stored twice in its future.
#[allow(clippy::manual_async_fn)]
pub(super) fn drive<A, F, Fut>(
    shared: Arc<Shared<A, F>>,
    args: A,
) -> impl Future<Output = RunOutcome> + Send
where
    A: Clone + Send + 'static,
    F: Fn(A) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: BodyOutput,
{
    async move {
        // One labelled block rather than a nested `async fn`: a nested future
        // would store its own copy of the references, in every idle loop.
        let outcome = 'run: {
            if shared
                .core
                .lock()
                .hooks()
                .is_some_and(|h| h.before_loop.is_some())
            {
                if let Some(outcome) = boxed(before_loop(&shared)).await {
                    break 'run outcome;
                }
            }
            let wall_clock = {
                let wall = shared.core.wall();
                let now = Now::read(&*wall.clock);
                let mut state = shared.core.lock();
                state.last = None;
                state.next = state.schedule.first(now, wall.options);
                state.schedule.is_wall_clock()
            };
            if shared
                .core
                .lock()
                .cluster()
                .is_some_and(|c| c.config.catch_up)
            {
                boxed(claim::catch_up(&shared)).await;
            }
            if !wall_clock {
                // Lets a cancel or stop issued from `before_loop` land before
                // the first body, as discord.py's `sleep(0)` does.
                let yielded = tokio::task::yield_now();
                if UntilCancelled::new(&shared.core, yielded).await.is_err() {
                    break 'run RunOutcome::Cancelled;
                }
            }
            {
                let state = shared.core.lock();
                if state.ending() {
                    break 'run RunOutcome::Stopped;
                }
            }
            // What the previous iteration left to do, at the top of the next
            // one: so that no local of the iteration (its error, say) is kept
            // in the task across the sleep.
            let mut last_failed = false;
            let mut succeeded = false;
            let mut retried = false;
            loop {
                if succeeded {
                    // discord.py's order: the stop check, the sleep until the
                    // next relative iteration, then the count.
                    let mut moved = false;
                    loop {
                        let woke = match after_iteration(&shared.core) {
                            AfterIteration::Stop => break 'run RunOutcome::Stopped,
                            AfterIteration::Unscheduled => break,
                            // Wall-clock schedules wait before the body, not
                            // here...
                            AfterIteration::WallClock if !moved => break,
                            // ...unless `change_interval` switched to one
                            // during this sleep: its first instant ends it.
                            AfterIteration::WallClock => {
                                match boxed(wall_clock_wait(&shared)).await {
                                    Ok(()) => Ok(()),
                                    Err(outcome) => break 'run outcome,
                                }
                            }
                            AfterIteration::Due => {
                                // A zero interval: spend a unit of the task's
                                // coop budget, which yields to the runtime once
                                // it is used up, so a tight loop never starves
                                // it. A cancel is seen before the next body.
                                tokio::task::coop::consume_budget().await;
                                break;
                            }
                            // Built in the `await` expression, so that the task
                            // does not keep a second copy of the sleep
                            // (rust-lang/rust#62958).
                            AfterIteration::SleepUntil(deadline) => {
                                UntilRescheduled::new(
                                    &shared.core,
                                    tokio::time::sleep_until(deadline),
                                )
                                .await
                            }
                        };
                        match woke {
                            Ok(()) => break,
                            // `change_interval` moved the iteration: sleep again.
                            Err(Interrupt::Rescheduled) => moved = true,
                            Err(Interrupt::Cancelled) => break 'run RunOutcome::Cancelled,
                            Err(Interrupt::ShutDown) => break 'run RunOutcome::Stopped,
                        }
                    }
                }
                // One lock for the count and, for a relative interval, the next
                // iteration. A retry runs after its backoff, not at the next
                // wall-clock instant.
                let (wait_for_wall_clock, mut settings) = {
                    let mut state = shared.core.lock();
                    if succeeded && state.count_iteration() {
                        break 'run RunOutcome::Completed;
                    }
                    let wall_clock = state.schedule.is_wall_clock();
                    if !last_failed && !wall_clock {
                        state.last = state.next;
                        state.next = state
                            .next
                            .and_then(|last| state.schedule.following_relative(last));
                    }
                    (!last_failed && wall_clock, state.iteration_settings())
                };
                // In a cluster's claim mode, the slot just reached, to claim.
                let to_claim = if wait_for_wall_clock {
                    if let Err(outcome) = boxed(wall_clock_wait(&shared)).await {
                        break 'run outcome;
                    }
                    let wall = shared.core.wall();
                    let now = Now::read(&*wall.clock);
                    let mut state = shared.core.lock();
                    state.last = match state.next {
                        Some(at) if state.schedule.is_wall_clock() => Some(at.reached(now)),
                        other => other,
                    };
                    state.next = state.schedule.following(state.last, now, wall.options);
                    // Read again after the wait, so that the task does not
                    // keep them across it.
                    settings = state.iteration_settings();
                    state
                        .last
                        .filter(|_| state.claims_slots())
                        .map(ScheduledAt::wall)
                } else {
                    None
                };
                let IterationSettings { timeout, timed } = settings;
                let failure = if let Some(slot) = to_claim {
                    let turn = claim::claimed_iteration(&shared, args.clone(), slot, settings);
                    match boxed(turn).await {
                        SlotTurn::Ran(failure) => failure,
                        SlotTurn::Cancelled => break 'run RunOutcome::Cancelled,
                        SlotTurn::Skipped => {
                            // Not an iteration of this replica: on to the
                            // next slot, unless the loop was asked to stop.
                            let state = shared.core.lock();
                            if state.stop_requested || state.shutdown_requested() {
                                break 'run RunOutcome::Stopped;
                            }
                            drop(state);
                            (succeeded, last_failed) = (false, false);
                            continue;
                        }
                    }
                } else {
                    if timed {
                        observe::iteration_began(&shared.core);
                    }
                    // Each call built in its `await` expression, so that the
                    // task keeps no second copy of it (rust-lang/rust#62958).
                    match match timeout {
                        None => {
                            UntilCancelled::new(&shared.core, traced_call(&shared, &args).map(Ok))
                                .await
                        }
                        // Boxed: the timer would grow every loop's task.
                        Some(after) => {
                            UntilCancelled::new(
                                &shared.core,
                                boxed(tokio::time::timeout(after, traced_call(&shared, &args))),
                            )
                            .await
                        }
                    } {
                        Err(_) => {
                            observe::iteration_cancelled(&shared.core);
                            break 'run RunOutcome::Cancelled;
                        }
                        Ok(Ok(failure)) => failure,
                        Ok(Err(_elapsed)) => Some(timed_out(&shared)),
                    }
                };
                let Some(error) = failure else {
                    if timed {
                        observe::iteration_ended(&shared.core, IterationOutcome::Succeeded);
                    }
                    // The backoff starts over after each success; it only
                    // exists once the run has retried.
                    if retried {
                        shared.core.reset_backoff();
                    }
                    last_failed = false;
                    succeeded = true;
                    continue;
                };
                // One await for the whole error path: a local kept across two
                // awaits would be stored in the task beside every other one.
                match boxed(on_error(&shared, error)).await {
                    Some(outcome) => break 'run outcome,
                    None => (succeeded, last_failed, retried) = (false, true, true),
                }
            }
        };
        outcome
    }
}

/// Waits for the next iteration of a wall-clock schedule; `Err` with the
/// run's outcome when the run ends instead.
async fn wall_clock_wait<A, F>(shared: &Shared<A, F>) -> Result<(), RunOutcome>
where
    A: Send,
    F: Send + Sync,
{
    match wait::until_wall_clock_slot(&shared.core, shared.name()).await {
        Ok(()) => Ok(()),
        Err(WallWait::Cancelled) => Err(RunOutcome::Cancelled),
        Err(WallWait::ShutDown) => Err(RunOutcome::Stopped),
        Err(WallWait::NothingScheduled(error)) => Err(fail(shared, error).await),
    }
}

/// The `before_loop` hook: `Some` outcome if the run ends there.
async fn before_loop<A, F>(shared: &Shared<A, F>) -> Option<RunOutcome>
where
    A: Send,
    F: Send + Sync,
{
    let hook = shared
        .core
        .lock()
        .hooks()
        .and_then(|h| h.before_loop.clone())?;
    match UntilCancelled::new(&shared.core, call_guarded(|| hook())).await {
        Err(_) => Some(RunOutcome::Cancelled),
        Ok(Err(error)) => Some(fail(shared, error).await),
        Ok(Ok(())) => None,
    }
}

/// A failed iteration: a retry after the backoff (`None`), or the end of
/// the run.
async fn on_error<A, F>(shared: &Shared<A, F>, error: LoopError) -> Option<RunOutcome>
where
    A: Send,
    F: Send + Sync,
{
    let (reconnect, retry) = {
        let state = shared.core.lock();
        (state.reconnect, state.retry().clone())
    };
    // Walked without the lock: `source()` is user code.
    let retried = reconnect && error.error().is_some_and(|e| retry.retries(e));
    observe::iteration_failed(&shared.core, &error, retried);
    if !retried {
        return Some(fail(shared, error).await);
    }
    if shared.core.lock().shutdown_requested() {
        return Some(RunOutcome::Stopped);
    }
    let delay = retry_delay(shared, error);
    match UntilRetry::new(&shared.core, tokio::time::sleep(delay)).await {
        Ok(()) => None,
        Err(Interrupt::ShutDown) => Some(RunOutcome::Stopped),
        Err(_) => Some(RunOutcome::Cancelled),
    }
}

/// The end of a run, whatever ended it: `after_loop` (not cancellable),
/// then the bookkeeping; the outcome is for the caller to publish.
pub(super) async fn finish<A, F>(shared: &Shared<A, F>, outcome: RunOutcome) -> Finished<A>
where
    A: Send,
    F: Send + Sync,
{
    let after_loop = shared
        .core
        .lock()
        .begin_end(outcome == RunOutcome::Cancelled);
    if let Some(hook) = after_loop {
        if let Err(error) = call_guarded(|| hook()).await {
            report_after_loop_failure(shared, error).await;
        }
    }
    let leftovers = shared.core.lock().end_run();
    observe::run_ended(&shared.core);
    tracing::info!(loop_name = %shared.name(), outcome = outcome_word(&outcome), "the loop ended");
    Finished {
        outcome,
        cell: leftovers.outcome,
        restart_with: leftovers.restart_with,
    }
}

/// A run that has finished, its outcome not yet published: a pending
/// `restart` begins first, so that whoever the outcome wakes finds the
/// next run already started.
pub(super) struct Finished<A> {
    pub(super) outcome: RunOutcome,
    pub(super) cell: Option<std::sync::Arc<crate::handle::OutcomeCell>>,
    pub(super) restart_with: Option<A>,
}

/// A failing (or panicking) `after_loop` goes to the `error` hook, so that
/// no failure of a run is silent; the run's outcome stays what it was. Not
/// cancellable, like `after_loop` itself.
async fn report_after_loop_failure<A, F>(shared: &Shared<A, F>, error: LoopError)
where
    A: Send,
    F: Send + Sync,
{
    tracing::error!(loop_name = %shared.name(), error = %Shown(&error), "the after_loop hook failed");
    shared.core.report(shared.name(), error).await;
}

/// An unhandled error: `failed()` becomes true, then the `error` hook runs
/// (boxed: few runs fail, every idle loop would carry its state). A cancel
/// during the hook ends the run as cancelled.
pub(super) async fn fail<A, F>(shared: &Shared<A, F>, error: LoopError) -> RunOutcome
where
    A: Send,
    F: Send + Sync,
{
    let hook = {
        let mut state = shared.core.lock();
        state.failed = true;
        state.hooks().and_then(|h| h.error.clone())
    };
    let Some(hook) = hook else {
        tracing::error!(loop_name = %shared.name(), error = %Shown(&error), "unhandled error in background loop");
        return RunOutcome::Failed(error);
    };
    let call = call_guarded(|| hook(error.clone()));
    match UntilCancelled::new(&shared.core, call).await {
        Err(_) => RunOutcome::Cancelled,
        Ok(result) => {
            if let Err(hook_error) = result {
                tracing::error!(
                    loop_name = %shared.name(),
                    error = %Shown(&error),
                    hook_error = %Shown(&hook_error),
                    "the error hook failed"
                );
            }
            RunOutcome::Failed(error)
        }
    }
}

/// How a run ended, in a word, for the logs: the error itself was logged
/// (or given to the `error` hook) already.
fn outcome_word(outcome: &RunOutcome) -> &'static str {
    match outcome {
        RunOutcome::Completed => "completed",
        RunOutcome::Stopped => "stopped",
        RunOutcome::Cancelled => "cancelled",
        _ => "failed",
    }
}

/// What a run does after a successful iteration.
enum AfterIteration {
    /// `stop` was called.
    Stop,
    /// The next iteration is already due (a zero interval).
    Due,
    /// Sleep until then.
    SleepUntil(Instant),
    /// The schedule is on the wall clock: its wait comes before the body.
    WallClock,
    /// No next iteration is scheduled.
    Unscheduled,
}

/// One lock for the stop check, the schedule kind and whether the next
/// iteration is already due; the next iteration is read now, so an earlier
/// move of it needs no more attention.
fn after_iteration<A>(core: &Core<A>) -> AfterIteration {
    let mut state = core.lock();
    state.take_rescheduled();
    if let Some(extras) = state.extras.as_mut() {
        extras.record.outcome = Some(IterationOutcome::Succeeded);
    }
    if state.ending() {
        return AfterIteration::Stop;
    }
    if state.schedule.is_wall_clock() {
        return AfterIteration::WallClock;
    }
    // A zero interval is due at once, without reading the clock. An
    // iteration that a long body made due is left to the sleep, which
    // returns at once: reading the clock here would cost every iteration of
    // every loop a system clock read for the sake of a rare case.
    let (last, next) = match (state.last, state.next) {
        (_, None) => return AfterIteration::Unscheduled,
        (last, Some(next)) => (last, next),
    };
    // A policy other than burst moves an iteration that is already late;
    // only such a policy reads the clock.
    let missed = state.missed();
    let next = state.schedule.reached_late(next, missed, Instant::now);
    state.next = Some(next);
    let jitter = state.jitter_for(next);
    match last {
        Some(last) if next.mono <= last.mono && jitter.is_zero() => AfterIteration::Due,
        _ => AfterIteration::SleepUntil(next.mono + jitter),
    }
}

/// The delay before a retry, from the run's backoff, made on its first
/// retried error so that a run that never fails never pays for it; logs
/// the error with it.
fn retry_delay<A, F>(shared: &Shared<A, F>, error: LoopError) -> Duration {
    let core = &shared.core;
    let taken = core.lock().take_backoff();
    let mut backoff: Box<dyn Backoff> = match taken {
        Ok(backoff) => backoff,
        Err(Some(make)) => make(),
        Err(None) => default_backoff(),
    };
    let delay = backoff.delay();
    core.lock().put_backoff(backoff);
    tracing::warn!(
        loop_name = %shared.name(),
        error = %Shown(&error),
        backoff_seconds = delay.as_secs_f64(),
        "handling an error in the loop; retrying in {:.2}s",
        delay.as_secs_f64()
    );
    delay
}

type BoxedWait<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Boxes the future of a rarely taken path. A function rather than
/// `Box::pin` at the call site: there, the unboxed future would be a
/// temporary of the task itself, which then stores it.
fn boxed<'a, T>(wait: impl Future<Output = T> + Send + 'a) -> BoxedWait<'a, T> {
    Box::pin(wait)
}
