//! One run of a loop, from `before_loop` to `after_loop`: the port of
//! discord.py's `Loop._loop`.
//!
//! An idle loop is mostly its task, so the task is kept small: the run is
//! one `async` block ([`drive`]) whose only state across a sleep is the loop's
//! `Arc`, the arguments and the `Sleep` itself; everything else is in the
//! loop's state, and the rarely taken paths (hooks, failures, times of
//! day) are boxed.

use std::future::Future;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use futures_util::future::CatchUnwind;
use futures_util::FutureExt;
use pin_project_lite::pin_project;
use tokio::time::Instant;

use crate::backoff::Backoff;
use crate::error::{panic_message, LoopError};
use crate::handle::RunOutcome;
use crate::hooks::{call_guarded, BodyOutput};
use crate::schedule::time_of_day::next_instant;
use crate::schedule::wall_sleep::{sleep_until_slot, Woke};
use crate::schedule::Schedule;
use crate::state::{default_backoff, Core, Interrupt, Shared, Slot};
use crate::Loop;

type BoxedWait<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pin_project! {
    /// The task of one run: [`drive`], with a panic in user code outside
    /// the body (a `Clock`, a `Backoff`, an argument's `Clone`) caught, so
    /// that the run still ends cleanly: failed, with `after_loop` run.
    ///
    /// Dropped before the run ended (its runtime shut down), it ends the
    /// run as cancelled, so that the loop can be started again elsewhere.
    pub(crate) struct RunTask<A, F, D> {
        // `None` once the run has ended.
        shared: Option<Arc<Shared<A, F>>>,
        #[pin]
        drive: CatchUnwind<AssertUnwindSafe<D>>,
    }

    impl<A, F, D> PinnedDrop for RunTask<A, F, D> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(shared) = this.project().shared.take() {
                abandon(&shared.core);
            }
        }
    }
}

/// The task of a run that `start` has just marked as started.
pub(crate) fn run_task<A, F, Fut>(
    shared: Arc<Shared<A, F>>,
    args: A,
) -> impl Future<Output = ()> + Send + 'static
where
    A: Clone + Send + 'static,
    F: Fn(A) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: BodyOutput,
{
    RunTask {
        shared: Some(Arc::clone(&shared)),
        drive: AssertUnwindSafe(drive(shared, args)).catch_unwind(),
    }
}

impl<A, F, Fut, D> Future for RunTask<A, F, D>
where
    A: Clone + Send + 'static,
    F: Fn(A) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: BodyOutput,
    D: Future<Output = ()>,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let ended = ready!(this.drive.poll(cx));
        let Some(shared) = this.shared.take() else {
            return Poll::Ready(());
        };
        if let Err(payload) = ended {
            let error = LoopError::from_panic(panic_message(&*payload));
            tracing::error!(loop_name = %shared.name(), %error, "the loop panicked outside its body");
            shared.core.lock().failed = true;
            // The run's own future is gone; its end (after_loop, the
            // outcome, a pending restart) runs in a task of its own.
            tokio::spawn(finish(shared, RunOutcome::Failed(error)));
        }
        Poll::Ready(())
    }
}

/// Runs a started loop to its end: the iterations (cancellable), then
/// [`finish`].
///
/// An `async move` block, not an `async fn`: the parameters of an `async
/// fn` are stored twice in its future.
#[allow(clippy::manual_async_fn)]
fn drive<A, F, Fut>(shared: Arc<Shared<A, F>>, args: A) -> impl Future<Output = ()> + Send
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
            // The rarely taken paths are boxed: their state is not part of
            // every idle loop's task.
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
            let times_of_day = {
                let mut state = shared.core.lock();
                state.last = None;
                state.next = match &state.schedule {
                    Schedule::Relative { .. } => Some(Slot::now(shared.core.clock())),
                    Schedule::Times(_) => state.following(None, &shared.core),
                };
                state.schedule.is_times_of_day()
            };
            if !times_of_day {
                // Lets a cancel or stop issued from `before_loop` land before
                // the first body, as discord.py's `sleep(0)` does.
                let yielded = tokio::task::yield_now();
                if Watched::<_, _, Cancel>::new(&shared.core, yielded)
                    .await
                    .is_err()
                {
                    break 'run RunOutcome::Cancelled;
                }
            }
            if shared.core.lock().stop_requested {
                break 'run RunOutcome::Stopped;
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
                    // next relative slot, then the count.
                    let mut moved = false;
                    loop {
                        let woke = match next_wait(&shared.core) {
                            NextWait::Stop => break 'run RunOutcome::Stopped,
                            NextWait::None => break,
                            // Times of day wait before the body, not here...
                            NextWait::TimeOfDay if !moved => break,
                            // ...unless `change_interval` switched to them
                            // during this sleep: the first of them ends it.
                            NextWait::TimeOfDay => {
                                let sleep = sleep_until_time_of_day(&shared.core, shared.name());
                                boxed(sleep).await
                            }
                            NextWait::Due => {
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
                            NextWait::Until(deadline) => {
                                Watched::<_, _, Reschedule>::new(
                                    &shared.core,
                                    tokio::time::sleep_until(deadline),
                                )
                                .await
                            }
                        };
                        match woke {
                            Ok(()) => break,
                            // `change_interval` moved the slot: sleep again.
                            Err(Interrupt::Rescheduled) => moved = true,
                            Err(Interrupt::Cancelled) => break 'run RunOutcome::Cancelled,
                        }
                    }
                }
                // One lock for the count and, for a relative interval, the next
                // slot. A retry runs after its backoff, not at the next time of
                // day.
                let wait_for_time_of_day = {
                    let mut state = shared.core.lock();
                    if succeeded {
                        state.current_loop += 1;
                        if state.count.map(u64::from) == Some(state.current_loop) {
                            break 'run RunOutcome::Completed;
                        }
                    }
                    let times_of_day = state.schedule.is_times_of_day();
                    if !last_failed && !times_of_day {
                        state.last = state.next;
                        state.next = state.following(state.last, &shared.core);
                    }
                    !last_failed && times_of_day
                };
                if wait_for_time_of_day {
                    let sleep = sleep_until_time_of_day(&shared.core, shared.name());
                    if boxed(sleep).await.is_err() {
                        break 'run RunOutcome::Cancelled;
                    }
                    let mut state = shared.core.lock();
                    // A time of day is reached on the wall clock: its monotonic
                    // instant is now, whatever the wall clock did during the
                    // sleep.
                    state.last = match state.next {
                        Some(slot) if state.schedule.is_times_of_day() => {
                            Some(Slot::at_wall(shared.core.clock(), slot.wall()))
                        }
                        other => other,
                    };
                    state.next = state.following(state.last, &shared.core);
                }
                let iteration = AssertUnwindSafe((shared.body)(args.clone())).catch_unwind();
                let failure = match Watched::<_, _, Cancel>::new(&shared.core, iteration).await {
                    Err(_) => break 'run RunOutcome::Cancelled,
                    Ok(Ok(output)) => output.into_result().err().map(LoopError::from_error),
                    Ok(Err(payload)) => Some(LoopError::from_panic(panic_message(&*payload))),
                };
                let Some(error) = failure else {
                    // The backoff starts over after each success; it only
                    // exists once the run has retried.
                    if retried {
                        reset_backoff(&shared.core);
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
        boxed(finish(shared, outcome)).await;
    }
}

/// Boxes a future of a rarely taken path. A function rather than
/// `Box::pin` in [`drive`]: there, the unboxed future would be a temporary
/// of the task itself, which then stores it.
fn boxed<'a, T>(wait: impl Future<Output = T> + Send + 'a) -> BoxedWait<'a, T> {
    Box::pin(wait)
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
    match Watched::<_, _, Cancel>::new(&shared.core, call_guarded(|| hook())).await {
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
    let handled = {
        let state = shared.core.lock();
        state.reconnect && error.error().is_some_and(|e| state.filter().handles(e))
    };
    if !handled {
        return Some(fail(shared, error).await);
    }
    let delay = retry_delay(shared, error);
    let retry = Watched::<_, _, Cancel>::new(&shared.core, tokio::time::sleep(delay)).await;
    retry.err().map(|_| RunOutcome::Cancelled)
}

/// The end of a run, whatever ended it: `after_loop` (not cancellable),
/// then the bookkeeping, the outcome, and a pending `restart`.
async fn finish<A, F, Fut>(shared: Arc<Shared<A, F>>, outcome: RunOutcome)
where
    A: Clone + Send + 'static,
    F: Fn(A) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: BodyOutput,
{
    let after_loop = {
        let mut state = shared.core.lock();
        state.being_cancelled = outcome == RunOutcome::Cancelled;
        state.next = None;
        state.hooks().and_then(|h| h.after_loop.clone())
    };
    if let Some(hook) = after_loop {
        if let Err(error) = call_guarded(|| hook()).await {
            tracing::error!(loop_name = %shared.name(), %error, "the after_loop hook failed");
        }
    }
    let (restart_with, slot) = shared.core.lock().end_run();
    if let Some(slot) = slot {
        slot.finish(outcome);
    }
    if let Some(args) = restart_with {
        if let Err(error) = (Loop { inner: shared }).start(args) {
            tracing::error!(%error, "the loop could not restart");
        }
    }
}

/// The end of a run whose task was dropped before it ended, which happens
/// when its runtime shuts down: no runtime is left to run `after_loop` or
/// a pending `restart`, so the run just ends, cancelled.
fn abandon<A>(core: &Core<A>) {
    let (_restart_with, slot) = core.lock().end_run();
    if let Some(slot) = slot {
        slot.finish(RunOutcome::Cancelled);
    }
}

/// An unhandled error: `failed()` becomes true, then the `error` hook runs
/// (boxed: few runs fail, every idle loop would carry its state). A cancel
/// during the hook ends the run as cancelled.
async fn fail<A, F>(shared: &Shared<A, F>, error: LoopError) -> RunOutcome
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
        tracing::error!(loop_name = %shared.name(), %error, "unhandled error in background loop");
        return RunOutcome::Failed(error);
    };
    let call = call_guarded(|| hook(error.clone()));
    match Watched::<_, _, Cancel>::new(&shared.core, call).await {
        Err(_) => RunOutcome::Cancelled,
        Ok(result) => {
            if let Err(hook_error) = result {
                tracing::error!(
                    loop_name = %shared.name(),
                    %error,
                    %hook_error,
                    "the error hook failed"
                );
            }
            RunOutcome::Failed(error)
        }
    }
}

/// What a relative loop does after a successful iteration.
enum NextWait {
    /// `stop` was called.
    Stop,
    /// The next slot is already due (a zero interval).
    Due,
    /// Sleep until then.
    Until(Instant),
    /// The schedule is times of day.
    TimeOfDay,
    /// No next slot.
    None,
}

/// One lock for the stop check, the schedule kind and whether the next slot
/// is already due; clears `rescheduled`, as the slot is read now.
fn next_wait<A>(core: &Core<A>) -> NextWait {
    let mut state = core.lock();
    state.rescheduled = false;
    if state.stop_requested {
        return NextWait::Stop;
    }
    if state.schedule.is_times_of_day() {
        return NextWait::TimeOfDay;
    }
    // A zero interval is due at once, without reading the clock. A slot
    // that a long body made due is left to the sleep, which returns at
    // once: reading the clock here would cost every iteration of every
    // loop a system clock read for the sake of a rare case.
    match (state.last, state.next) {
        (_, None) => NextWait::None,
        (Some(last), Some(next)) if next.mono <= last.mono => NextWait::Due,
        (_, Some(next)) => NextWait::Until(next.mono),
    }
}

/// Starts the run's backoff over. Called without the lock held: it is user
/// code.
fn reset_backoff<A>(core: &Core<A>) {
    let taken = {
        let mut state = core.lock();
        state
            .extras
            .as_mut()
            .and_then(|extras| extras.backoff.take())
    };
    if let Some(mut backoff) = taken {
        backoff.reset();
        core.lock().put_backoff(backoff);
    }
}

/// The delay before a retry, from the run's backoff, made on its first
/// retried error so that a run that never fails never pays for it; logs
/// the error with it.
fn retry_delay<A, F>(shared: &Shared<A, F>, error: LoopError) -> std::time::Duration {
    let core = &shared.core;
    let taken = core.lock().take_backoff();
    let mut backoff: Box<dyn Backoff> = match taken {
        Ok(backoff) => backoff,
        Err(Some(make)) => make(),
        Err(None) => default_backoff(),
    };
    let delay = backoff.delay();
    core.lock().put_backoff(backoff);
    tracing::error!(
        loop_name = %shared.name(),
        %error,
        "handling an error in the loop; retrying in {:.2}s",
        delay.as_secs_f64()
    );
    delay
}

/// Sleeps until the next time of day (or, once `change_interval` switched
/// to a relative interval, its next slot), re-arming whenever `change_interval`
/// moves it. Times of day that a clock jump or a suspend carried the wall
/// clock past are skipped, unless within the grace period.
async fn sleep_until_time_of_day<A: Send>(core: &Core<A>, name: &str) -> Result<(), Interrupt> {
    let wall = core.wall();
    loop {
        let (next, times_of_day) = {
            let mut state = core.lock();
            state.rescheduled = false;
            (state.next, state.schedule.is_times_of_day())
        };
        let Some(next) = next else { return Ok(()) };
        if !times_of_day {
            // `change_interval` switched to a relative interval during
            // this sleep: wait for its slot on the monotonic clock.
            if next.mono <= Instant::now() {
                return Ok(());
            }
            let sleep = tokio::time::sleep_until(next.mono);
            match Watched::<_, _, Reschedule>::new(core, sleep).await {
                Err(Interrupt::Rescheduled) => continue,
                other => return other,
            }
        }
        let sleep = sleep_until_slot(core.clock(), next.wall(), Some(next.mono), wall.check_every);
        let woke = match Watched::<_, _, Reschedule>::new(core, sleep).await {
            Ok(woke) => woke,
            Err(Interrupt::Rescheduled) => continue,
            Err(Interrupt::Cancelled) => return Err(Interrupt::Cancelled),
        };
        let Woke::JumpedOver { now } = woke else {
            return Ok(());
        };
        let mut state = core.lock();
        // Only move the slot if nothing else moved it meanwhile.
        if state.next.map(Slot::wall) != Some(next.wall()) {
            continue;
        }
        let Schedule::Times(times) = &state.schedule else {
            continue;
        };
        let after = state.last.map(Slot::wall);
        if let Some(grace) = wall.grace.and_then(|g| chrono::TimeDelta::from_std(g).ok()) {
            // The earliest passed time no older than the grace period runs,
            // once.
            if let Some(at) =
                next_instant(times, now - grace, after, wall.ambiguous).filter(|at| *at <= now)
            {
                state.next = Some(Slot::at_wall(core.clock(), at));
                return Ok(());
            }
        }
        let skipped = next.wall();
        state.next = next_instant(times, now, Some(skipped), wall.ambiguous)
            .map(|at| Slot::at_wall(core.clock(), at));
        tracing::warn!(
            loop_name = %name,
            %skipped,
            "the wall clock jumped past a time of day; skipping it"
        );
    }
}

/// What ends a [`Watched`] wait early.
trait WatchFor {
    const RESCHEDULE: bool;
}

/// A cancel (or restart) ends the wait.
struct Cancel;

impl WatchFor for Cancel {
    const RESCHEDULE: bool = false;
}

/// A cancel, or the next slot moving, ends the wait.
struct Reschedule;

impl WatchFor for Reschedule {
    const RESCHEDULE: bool = true;
}

pin_project! {
    /// A wait of the run's task that a cancel ends early, checked (under
    /// the lock that also keeps the task's waker) before each poll of the
    /// wait itself: the first touch of a wake-up is the loop's state, not
    /// another allocation.
    struct Watched<'a, A, Fut, W> {
        core: &'a Core<A>,
        #[pin]
        wait: Fut,
        watch: PhantomData<fn() -> W>,
    }
}

impl<'a, A, Fut, W> Watched<'a, A, Fut, W> {
    fn new(core: &'a Core<A>, wait: Fut) -> Self {
        Self {
            core,
            wait,
            watch: PhantomData,
        }
    }
}

impl<A, Fut: Future, W: WatchFor> Future for Watched<'_, A, Fut, W> {
    type Output = Result<Fut::Output, Interrupt>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(interrupt) = this.core.poll_interrupt(cx, W::RESCHEDULE) {
            return Poll::Ready(Err(interrupt));
        }
        this.wait.poll(cx).map(Ok)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::schedule::Interval;
    use crate::state::{Core, Shared, State};

    /// tokio stores a task in a cell aligned to 128 bytes, with about 100
    /// bytes of its own: a future of up to 152 bytes fits in 256, like the
    /// hand-written loop of the benchmarks. A layout change in `drive` that
    /// breaks this costs every idle loop 128 bytes: see BENCHMARKS.md.
    #[test]
    fn the_task_of_an_idle_relative_loop_fits_a_256_byte_cell() {
        let schedule = Interval::seconds(1.0).validate().unwrap();
        let core = Core::new(State::<()>::new(schedule, None, true), None);
        let shared = Arc::new(Shared {
            core,
            body: |()| async {},
        });
        let task = super::run_task(shared, ());
        let size = std::mem::size_of_val(&task);
        assert!(size <= 152, "the task's future is {size} bytes");
    }
}
