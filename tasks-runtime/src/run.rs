//! One run of a loop, from `before_loop` to `after_loop`: the port of
//! discord.py's `Loop._loop`.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;

use crate::backoff::Backoff;
use crate::body::FnBody;
use crate::error::{panic_message, LoopError};
use crate::handle::{RunOutcome, RunSlot};
use crate::hooks::{call_guarded, Outcome};
use crate::schedule::time_of_day::next_instant;
use crate::schedule::wall_sleep::{sleep_until_slot, Woke};
use crate::schedule::Schedule;
use crate::state::{Shared, Slot};
use crate::Loop;

/// Runs a started loop to its end: the iterations (cancellable), then
/// `after_loop`, then the bookkeeping, then a pending `restart`.
pub(crate) async fn drive<A, F, Fut>(
    shared: Arc<Shared<A>>,
    body: Arc<FnBody<F>>,
    args: A,
    slot: Arc<RunSlot>,
) where
    A: Clone + Send + 'static,
    F: Fn(A) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: Outcome,
{
    // Bodies and hooks are guarded one by one; this guard is for whatever
    // else a user supplies (a `Clock`, a `Backoff`), so that a panic there
    // still ends the run cleanly instead of leaving it "running" forever.
    // The iterations are made inside `select!` so that the task stores
    // their future once (a future moved into a local is stored twice).
    let outcome = tokio::select! {
        biased;
        () = slot.cancelled() => RunOutcome::Cancelled,
        outcome = AssertUnwindSafe(iterate(&shared, &body.0, args)).catch_unwind() => outcome.unwrap_or_else(|payload| {
            let error = LoopError::from_panic(panic_message(&*payload));
            tracing::error!(loop_name = %shared.name, %error, "the loop panicked outside its body");
            shared.lock().failed = true;
            RunOutcome::Failed(error)
        }),
    };
    let after_loop = {
        let mut state = shared.lock();
        state.being_cancelled = outcome == RunOutcome::Cancelled;
        state.next = None;
        state.hooks.after_loop.clone()
    };
    if let Some(hook) = after_loop {
        if let Err(error) = call_guarded(hook()).await {
            tracing::error!(loop_name = %shared.name, %error, "the after_loop hook failed");
        }
    }
    let restart_with = {
        let mut state = shared.lock();
        state.being_cancelled = false;
        state.current_loop = 0;
        state.stop_requested = false;
        state.run.take().and_then(|run| run.restart_with)
    };
    slot.finish(outcome);
    if let Some(args) = restart_with {
        if let Err(error) = (Loop { shared }).start(args) {
            tracing::error!(%error, "the loop could not restart");
        }
    }
}

/// The iterations of one run: `before_loop`, then the body on schedule
/// until `count`, `stop` or an unhandled error.
async fn iterate<A, F, Fut>(shared: &Shared<A>, body: &F, args: A) -> RunOutcome
where
    A: Clone + Send + 'static,
    F: Fn(A) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: Outcome,
{
    // The backoff is made on the run's first retried error: a run that
    // never fails never pays for it.
    let mut backoff: Option<Box<dyn Backoff>> = None;
    let before_loop = shared.lock().hooks.before_loop.clone();
    if let Some(hook) = before_loop {
        if let Err(error) = call_guarded(hook()).await {
            return Box::pin(fail(shared, error)).await;
        }
    }
    let times_of_day = {
        let mut state = shared.lock();
        state.last = None;
        state.next = match &state.schedule {
            Schedule::Relative { .. } => Some(Slot::now(&*shared.clock)),
            Schedule::Times(_) => state.following(None, &*shared.clock, shared.wall.ambiguous),
        };
        state.schedule.is_times_of_day()
    };
    if !times_of_day {
        // Lets a cancel or stop issued from `before_loop` land before the
        // first body, as discord.py's `sleep(0)` does.
        tokio::task::yield_now().await;
    }
    if shared.lock().stop_requested {
        return RunOutcome::Stopped;
    }
    let mut last_failed = false;
    loop {
        // A retry runs after its backoff, not at the next time of day. A
        // relative slot is taken under the lock that reads the schedule.
        let wait_for_time_of_day = {
            let mut state = shared.lock();
            let times_of_day = state.schedule.is_times_of_day();
            if !last_failed && !times_of_day {
                state.last = state.next;
                state.next = state.following(state.last, &*shared.clock, shared.wall.ambiguous);
            }
            !last_failed && times_of_day
        };
        if wait_for_time_of_day {
            sleep_until_next(shared).await;
            let mut state = shared.lock();
            // A time of day is reached on the wall clock: its monotonic
            // instant is now, whatever the wall clock did during the sleep.
            state.last = match state.next {
                Some(slot) if state.schedule.is_times_of_day() => {
                    Some(Slot::at_wall(&*shared.clock, slot.wall))
                }
                other => other,
            };
            state.next = state.following(state.last, &*shared.clock, shared.wall.ambiguous);
        }
        let error = match AssertUnwindSafe(body(args.clone())).catch_unwind().await {
            Ok(output) => output.into_result().err().map(LoopError::from_error),
            Err(payload) => Some(LoopError::from_panic(panic_message(&*payload))),
        };
        let Some(error) = error else {
            last_failed = false;
            if let Some(backoff) = &mut backoff {
                backoff.reset();
            }
            // One lock for the stop check, the schedule kind and whether
            // the next slot is already due.
            let (stop, relative, due) = {
                let state = shared.lock();
                let relative = !state.schedule.is_times_of_day();
                let due = relative
                    && state
                        .next
                        .is_some_and(|next| next.mono <= tokio::time::Instant::now());
                (state.stop_requested, relative, due)
            };
            if stop {
                return RunOutcome::Stopped;
            }
            if due {
                // Already due (a catch-up or a zero interval): spend a unit
                // of the task's coop budget, which yields to the runtime
                // once it is used up, so a tight loop never starves it.
                tokio::task::coop::consume_budget().await;
            } else if relative {
                sleep_until_next(shared).await;
            }
            let mut state = shared.lock();
            state.current_loop += 1;
            if Some(state.current_loop) == state.count {
                return RunOutcome::Completed;
            }
            continue;
        };
        let handled = {
            let state = shared.lock();
            state.reconnect && error.error().is_some_and(|e| state.filter.handles(e))
        };
        if !handled {
            return Box::pin(fail(shared, error)).await;
        }
        last_failed = true;
        let backoff = match &mut backoff {
            Some(backoff) => backoff,
            None => {
                let make = Arc::clone(&shared.lock().backoff);
                backoff.insert(make())
            }
        };
        let delay = backoff.delay();
        tracing::error!(
            loop_name = %shared.name,
            %error,
            "handling an error in the loop; retrying in {:.2}s",
            delay.as_secs_f64()
        );
        tokio::time::sleep(delay).await;
    }
}

/// An unhandled error: `failed()` becomes true, then the `error` hook runs.
async fn fail<A>(shared: &Shared<A>, error: LoopError) -> RunOutcome {
    let hook = {
        let mut state = shared.lock();
        state.failed = true;
        state.hooks.error.clone()
    };
    match hook {
        Some(hook) => {
            if let Err(hook_error) = call_guarded(hook(error.clone())).await {
                tracing::error!(
                    loop_name = %shared.name,
                    %error,
                    %hook_error,
                    "the error hook failed"
                );
            }
        }
        None => tracing::error!(
            loop_name = %shared.name,
            %error,
            "unhandled error in background loop"
        ),
    }
    RunOutcome::Failed(error)
}

/// Sleeps until the next iteration's slot, re-arming whenever
/// `change_interval` moves it. Times of day that a clock jump or a suspend
/// carried the wall clock past are skipped, unless within the grace period.
async fn sleep_until_next<A>(shared: &Shared<A>) {
    loop {
        // Read the count before the slot: a change made after this read is
        // seen by `rescheduled`, one made before is in the slot read.
        let rescheduled = shared.rescheduled.after(shared.rescheduled.count());
        let (next, times_of_day) = {
            let state = shared.lock();
            (state.next, state.schedule.is_times_of_day())
        };
        let Some(next) = next else { return };
        if !times_of_day {
            if next.mono <= tokio::time::Instant::now() {
                // Already due (moved by `change_interval`): as above.
                tokio::task::coop::consume_budget().await;
                return;
            }
            tokio::select! {
                () = tokio::time::sleep_until(next.mono) => return,
                () = rescheduled => continue,
            }
        }
        // Boxed, so that loops on a relative interval do not carry the
        // wall-clock sleep's state in their task (one allocation per wait).
        let woke = tokio::select! {
            woke = Box::pin(sleep_until_slot(
                &*shared.clock,
                next.wall,
                Some(next.mono),
                shared.wall.check_every,
            )) => woke,
            () = rescheduled => continue,
        };
        let Woke::JumpedOver { now } = woke else {
            return;
        };
        let mut state = shared.lock();
        // Only move the slot if nothing else moved it meanwhile.
        if state.next.map(|s| s.wall) != Some(next.wall) {
            continue;
        }
        let Schedule::Times(times) = &state.schedule else {
            continue;
        };
        let ambiguous = shared.wall.ambiguous;
        let after = state.last.map(|s| s.wall);
        if let Some(grace) = shared
            .wall
            .grace
            .and_then(|g| chrono::TimeDelta::from_std(g).ok())
        {
            // The earliest passed time no older than the grace period runs,
            // once.
            if let Some(at) =
                next_instant(times, now - grace, after, ambiguous).filter(|at| *at <= now)
            {
                state.next = Some(Slot::at_wall(&*shared.clock, at));
                return;
            }
        }
        let skipped = next.wall;
        state.next = next_instant(times, now, Some(skipped), ambiguous)
            .map(|at| Slot::at_wall(&*shared.clock, at));
        tracing::warn!(
            loop_name = %shared.name,
            %skipped,
            "the wall clock jumped past a time of day; skipping it"
        );
    }
}
