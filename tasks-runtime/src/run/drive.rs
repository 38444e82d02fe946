//! The iterations of one run, its retries, and the paths that end it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::coop;
use tokio::time::error::Elapsed;
use tokio::time::Instant;

use super::call::{timed_out, traced_call};
use super::claim::{self, SlotTurn};
use super::wait::{self, WallWait};
use super::watched::{BodyCall, UntilCancelled, UntilRescheduled, UntilRetry};
use crate::backoff::{default_backoff, Backoff};
use crate::body::Body;
use crate::error::{LoopError, Shown};
use crate::handle::RunOutcome;
use crate::hooks::call_guarded;
use crate::observe;
use crate::schedule::Now;
use crate::state::{
    AfterSuccess, Core, Interrupt, IterationSettings, NextIteration, Previous, Shared,
};
use crate::status::IterationOutcome;

/// Runs the iterations of a started loop (cancellable), and returns how
/// the run ends; its end ([`finish`]) follows in the run's task.
///
/// An `async move` block, not an `async fn`: the parameters of an `async
/// fn` are stored twice in its future. Its steps decide in the loop's
/// state (under the lock, returning small answers) or in boxed futures for
/// the rare paths; the waits that every idle loop makes (the sleep, the
/// call of the body) stay in this block, built in their `await`
/// expressions, so that the task keeps no second copy of them
/// (rust-lang/rust#62958) nor a nested future's own copy of the
/// references.
#[allow(clippy::manual_async_fn)]
pub(super) fn drive<A, F>(
    shared: Arc<Shared<A, F>>,
    mut args: A,
) -> impl Future<Output = RunOutcome> + Send
where
    A: Clone + Send + 'static,
    F: Body<A>,
{
    async move {
        if let Some(outcome) = begin(&shared).await {
            return outcome;
        }
        // What the previous iteration left to do, read at the top of the
        // next one: no local of an iteration (its error, say) is kept in
        // the task across the sleep.
        let (mut previous, mut retried, mut moved) = (Previous::NotRun, false, false);
        loop {
            // discord.py's order: the stop check, the sleep until the next
            // relative iteration, then the count. A unit of the coop budget
            // is taken first while the task has one (so that taking it does
            // not yield): an iteration already due then begins in the same
            // lock as the stop check.
            let budget_taken = previous == Previous::Succeeded && coop::has_budget_remaining();
            if budget_taken {
                coop::consume_budget().await;
            }
            let woke = match wait_after(&shared.core, previous, moved, budget_taken) {
                Wake::Stop => return RunOutcome::Stopped,
                Wake::Now => Ok(None),
                Wake::Began(next, watched) => Ok(Some((next, watched))),
                // The budget is used up: the task yields to the runtime, so
                // a tight loop never starves it. A cancel is seen before
                // the body.
                Wake::Yield => {
                    coop::consume_budget().await;
                    Ok(None)
                }
                Wake::WallClock => match boxed(wall_clock_wait(&shared)).await {
                    Ok(()) => Ok(None),
                    Err(outcome) => return outcome,
                },
                Wake::Sleep(deadline) => {
                    let sleep = tokio::time::sleep_until(deadline);
                    UntilRescheduled::new(&shared.core, sleep)
                        .await
                        .map(|()| None)
                }
            };
            let began = match woke {
                Ok(began) => {
                    moved = false;
                    began
                }
                // `change_interval` moved the iteration: sleep again.
                Err(Interrupt::Rescheduled) => {
                    moved = true;
                    continue;
                }
                Err(interrupt) => return interrupted(interrupt),
            };
            let (next, watched) =
                began.unwrap_or_else(|| (begin_iteration(&shared.core, previous), false));
            let settings = match next {
                NextIteration::Run(settings) => settings,
                NextIteration::Completed => return RunOutcome::Completed,
                NextIteration::LeaseLapsed => return lease_lapsed_cancel(&shared.core),
                NextIteration::WaitForWallClock => {
                    match boxed(wall_clock_iteration(&shared, &mut args, retried)).await {
                        Ok(settings) => settings,
                        Err(Done::Ended(outcome)) => return outcome,
                        Err(Done::Next(next)) => {
                            previous = next;
                            retried |= next == Previous::Retried;
                            continue;
                        }
                    }
                }
            };
            let IterationSettings { timeout, timed } = settings;
            if timed {
                observe::iteration_began(&shared.core);
            }
            // Each call built in its `await` expression, and matched in
            // the same statement, so that the task keeps neither a second
            // copy of it nor its output across the next await.
            let failure = match timeout {
                None => match call(&shared, &args, watched).await {
                    Err(_) => return cancelled(&shared.core),
                    Ok(failure) => failure,
                },
                Some(after) => match call_with_timeout(&shared, &args, after).await {
                    Err(_) => return cancelled(&shared.core),
                    Ok(Ok(failure)) => failure,
                    Ok(Err(_elapsed)) => Some(timed_out(&shared)),
                },
            };
            // A success settles without an await: no future of `settle`
            // is made and dropped on every iteration.
            previous = match failure {
                None => succeeded(&shared.core, timed, retried),
                Some(error) => match boxed(on_error(&shared, error)).await {
                    Some(outcome) => return outcome,
                    None => Previous::Retried,
                },
            };
            retried |= previous == Previous::Retried;
        }
    }
}

/// The start of a run: `before_loop` if there is one, the first
/// iteration scheduled, a cluster's catch-up, and for a relative interval
/// a yield (so that a cancel or stop issued from `before_loop` lands
/// before the first body, as discord.py's `sleep(0)` does). `Some`
/// outcome if the run ends there.
async fn begin<A, F>(shared: &Shared<A, F>) -> Option<RunOutcome>
where
    A: Send,
    F: Send + Sync,
{
    if shared.core.lock().before_loop_hook().is_some() {
        if lease_lapsed(&shared.core) {
            return Some(RunOutcome::Cancelled);
        }
        if let Some(outcome) = boxed(before_loop(shared)).await {
            return Some(outcome);
        }
    }
    let now = Now::read(&*shared.core.clock());
    let wall_clock = shared.core.lock().schedule_first(now);
    if shared.core.lock().catches_up() {
        boxed(claim::catch_up(shared)).await;
    }
    if !wall_clock {
        let yielded = tokio::task::yield_now();
        if UntilCancelled::new(&shared.core, yielded).await.is_err() {
            return Some(RunOutcome::Cancelled);
        }
    }
    ending(&shared.core).then_some(RunOutcome::Stopped)
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
    let hook = shared.core.lock().before_loop_hook()?;
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
        (state.reconnect(), state.retry().clone())
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
    let hook = shared.core.lock().mark_failed();
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

/// The wait before an iteration.
enum Wake {
    /// `stop` or `shutdown` was called: the run ends.
    Stop,
    /// None here: the iteration's own wait, if any, comes before its body.
    Now,
    /// The next iteration is already due (a zero interval).
    Yield,
    /// The next iteration is already due and a unit of the coop budget was
    /// taken without yielding: it began in the same lock as the stop check,
    /// which also found whether the call of the body is watched already
    /// (see [`State::watched_by_task`](crate::state::State::watched_by_task)).
    Began(NextIteration, bool),
    /// Sleep until then, on the monotonic clock.
    Sleep(Instant),
    /// Wait for the wall-clock schedule that `change_interval` switched to
    /// during the sleep: its first instant ends it.
    WallClock,
}

/// Decides the wait before the next iteration: after a success, see
/// [`State::after_success`](crate::state::State::after_success); a
/// wall-clock schedule waits before the body (in [`prepare`]), not here,
/// unless the schedule was `moved` to one during this wait.
fn wait_after<A>(core: &Core<A>, previous: Previous, moved: bool, budget_taken: bool) -> Wake {
    if previous != Previous::Succeeded {
        return Wake::Now;
    }
    let mut state = core.lock();
    match state.after_success() {
        AfterSuccess::Due if budget_taken => {
            let next = state.begin_iteration(Previous::Succeeded);
            Wake::Began(next, state.watched_by_task())
        }
        AfterSuccess::Stop => Wake::Stop,
        AfterSuccess::Unscheduled => Wake::Now,
        AfterSuccess::WallClock if moved => Wake::WallClock,
        AfterSuccess::WallClock => Wake::Now,
        AfterSuccess::Due => Wake::Yield,
        AfterSuccess::SleepUntil(deadline) => Wake::Sleep(deadline),
    }
}

/// Why an iteration does not call the body here.
enum Done {
    /// The run ends: the count is reached, the wall-clock wait ended it,
    /// or a claimed iteration ended it.
    Ended(RunOutcome),
    /// Claim mode: the iteration is over (this replica ran it, or another
    /// replica has the slot); the next one follows.
    Next(Previous),
}

/// An iteration of a wall-clock schedule (boxed by the caller: most loops
/// are relative): it waits for its instant, and in a cluster's claim mode
/// claims the slot and runs the body there. `Ok` with the settings of the
/// call of the body to make in the run.
///
/// `args` is borrowed mutably (and never changed): a shared borrow kept
/// across an `await` would need `A: Sync`.
async fn wall_clock_iteration<A, F>(
    shared: &Shared<A, F>,
    args: &mut A,
    retried: bool,
) -> Result<IterationSettings, Done>
where
    A: Clone + Send,
    F: Body<A>,
{
    if let Err(outcome) = wall_clock_wait(shared).await {
        return Err(Done::Ended(outcome));
    }
    let (settings, slot) = reach_wall_clock_slot(&shared.core);
    let Some(slot) = slot else {
        if lease_lapsed(&shared.core) {
            return Err(Done::Ended(RunOutcome::Cancelled));
        }
        return Ok(settings);
    };
    let claimed = claimed_iteration(shared, args.clone(), slot, settings, retried);
    match boxed(claimed).await {
        Ok(next) => Err(Done::Next(next)),
        Err(outcome) => Err(Done::Ended(outcome)),
    }
}

/// Claim mode: the slot at `slot` is claimed, run here if this replica
/// wins it, and settled. `Ok` with how the next iteration begins.
async fn claimed_iteration<A, F>(
    shared: &Shared<A, F>,
    args: A,
    slot: DateTime<Utc>,
    settings: IterationSettings,
    retried: bool,
) -> Result<Previous, RunOutcome>
where
    A: Clone + Send,
    F: Body<A>,
{
    match claim::claimed_iteration(shared, args, slot, settings).await {
        SlotTurn::Ran(failure) => settle(shared, failure, settings.timed, retried).await,
        SlotTurn::Cancelled => Err(RunOutcome::Cancelled),
        SlotTurn::Skipped if ending(&shared.core) => Err(RunOutcome::Stopped),
        // Not an iteration of this replica: on to the next slot.
        SlotTurn::Skipped => Ok(Previous::NotRun),
    }
}

/// How a call of the body that ran ended: a success is recorded (when
/// `timed`) and starts the backoff over (there is one only if the run has
/// `retried`); a failure is retried after its backoff or ends the run (one
/// boxed await for the whole error path: a local kept across two awaits
/// would be stored in the task beside every other one). `Ok` with how the
/// next iteration begins.
async fn settle<A, F>(
    shared: &Shared<A, F>,
    failure: Option<LoopError>,
    timed: bool,
    retried: bool,
) -> Result<Previous, RunOutcome>
where
    A: Send,
    F: Send + Sync,
{
    let Some(error) = failure else {
        return Ok(succeeded(&shared.core, timed, retried));
    };
    match boxed(on_error(shared, error)).await {
        Some(outcome) => Err(outcome),
        None => Ok(Previous::Retried),
    }
}

/// A call of the body succeeded: recorded when `timed`, and the backoff
/// starts over (there is one only if the run has `retried`).
fn succeeded<A>(core: &Core<A>, timed: bool, retried: bool) -> Previous {
    if timed {
        observe::iteration_ended(core, IterationOutcome::Succeeded);
    }
    if retried {
        core.reset_backoff();
    }
    Previous::Succeeded
}

/// A call of the body that only a cancel interrupts. Built in the
/// `await` expression, so that the task keeps no second copy of it
/// (rust-lang/rust#62958).
fn call<'a, A, F>(
    shared: &'a Shared<A, F>,
    args: &'a A,
    watched: bool,
) -> BodyCall<'a, A, impl Future<Output = Option<LoopError>> + Send + 'a>
where
    A: Clone,
    F: Body<A>,
{
    BodyCall::new(&shared.core, traced_call(shared, args), watched)
}

/// A call of the body under its timeout. Boxed: the timer would grow
/// every loop's task.
fn call_with_timeout<'a, A, F>(
    shared: &'a Shared<A, F>,
    args: &'a A,
    after: Duration,
) -> UntilCancelled<'a, A, BoxedWait<'a, Result<Option<LoopError>, Elapsed>>>
where
    A: Clone,
    F: Body<A>,
{
    let call = tokio::time::timeout(after, traced_call(shared, args));
    UntilCancelled::new(&shared.core, boxed(call))
}

/// The next iteration begins (see
/// [`State::begin_iteration`](crate::state::State::begin_iteration)).
fn begin_iteration<A>(core: &Core<A>, previous: Previous) -> NextIteration {
    core.lock().begin_iteration(previous)
}

/// The wall-clock wait reached its iteration: the settings the body runs
/// with and, in claim mode, the slot to claim.
fn reach_wall_clock_slot<A>(core: &Core<A>) -> (IterationSettings, Option<DateTime<Utc>>) {
    let now = Now::read(&*core.clock());
    core.lock().reach_wall_clock_slot(now)
}

/// Leader mode: the term's lease lapsed before an iteration; the run ends,
/// cancelled, as the supervisor would end it.
fn lease_lapsed_cancel<A>(core: &Core<A>) -> RunOutcome {
    core.cancel_run();
    RunOutcome::Cancelled
}

/// Leader mode: whether the term's lease lapsed by this replica's clock
/// (with the cluster's safety margin). Checked immediately before each call
/// of the body and `before_loop`: the run then ends, cancelled, as the
/// supervisor would end it, without calling them with the term's fence.
fn lease_lapsed<A>(core: &Core<A>) -> bool {
    let lapsed = core.lock().lease_lapsed();
    if lapsed {
        core.cancel_run();
    }
    lapsed
}

/// Whether the run is to end rather than go on: `stop` or `shutdown`.
fn ending<A>(core: &Core<A>) -> bool {
    core.lock().ending()
}

/// A call of the body dropped by a cancel.
fn cancelled<A>(core: &Core<A>) -> RunOutcome {
    observe::iteration_cancelled(core);
    RunOutcome::Cancelled
}

/// How a wait between iterations that was interrupted ends the run.
fn interrupted(interrupt: Interrupt) -> RunOutcome {
    match interrupt {
        Interrupt::ShutDown => RunOutcome::Stopped,
        Interrupt::Cancelled | Interrupt::Rescheduled => RunOutcome::Cancelled,
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
