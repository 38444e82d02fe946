//! The task of one run, and what ends the run when that task cannot.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use futures_util::future::{BoxFuture, CatchUnwind};
use futures_util::FutureExt;
use pin_project::{pin_project, pinned_drop};

use super::drive::{drive, fail, finish, Finished};
use crate::body::{Body, Iteration};
use crate::error::{panic_message, BoxError, LoopError, Shown, StartError};
use crate::handle::{OutcomeCell, RunHandle, RunOutcome};
use crate::hooks::BodyOutput;
use crate::observe;
use crate::state::{Core, Shared};

/// What a [`Loop`](crate::Loop) needs of its [`Shared`] block, whatever
/// the body's type.
pub(crate) trait Runner<A>: Send + Sync {
    fn core(&self) -> &Core<A>;

    /// The name given at build time, or the body's type name.
    fn name(&self) -> &str;

    /// Spawns the task of one run on `runtime`; the run is already marked
    /// as started in the state.
    fn spawn_run(self: Arc<Self>, args: A, runtime: &tokio::runtime::Handle);

    /// Calls the body once, outside the loop.
    fn call(&self, args: A) -> BoxFuture<'static, Result<(), BoxError>>;
}

impl<A, F> Runner<A> for Shared<A, F>
where
    A: Clone + Send + 'static,
    F: Body<A>,
{
    fn core(&self) -> &Core<A> {
        &self.core
    }

    fn name(&self) -> &str {
        Shared::name(self)
    }

    fn spawn_run(self: Arc<Self>, args: A, runtime: &tokio::runtime::Handle) {
        // No span around the task: every event the run logs names its loop,
        // and a span would grow every idle loop's task.
        runtime.spawn(run_task(self, args));
    }

    fn call(&self, args: A) -> BoxFuture<'static, Result<(), BoxError>> {
        let run = self.body.call(args, || {
            Iteration::of_direct_call(self.core.lock().current_loop())
        });
        Box::pin(async move { run.await.into_result() })
    }
}

/// Starts one run of `runner` with `args` on the current runtime.
pub(super) fn start_run<A>(runner: Arc<dyn Runner<A>>, args: A) -> Result<RunHandle, StartError> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| StartError::NoRuntime)?;
    let outcome = Arc::new(OutcomeCell::default());
    let leftover = runner.core().lock().begin_run(Arc::clone(&outcome))?;
    drop(leftover);
    observe::run_started(runner.core(), runner.name());
    runner.spawn_run(args, &runtime);
    Ok(RunHandle::new(outcome))
}

/// The task of one run: [`drive`], then the end of the run ([`end`]), in
/// one task.
///
/// A panic anywhere in the run outside the body's future (the body's
/// closure, an argument's `Clone` or `Drop`, a `Clock`, a `Backoff`) is
/// caught here and ends the run like a panic in the body: the `error` hook,
/// then `after_loop`, in this same task.
///
/// Dropped before the run ended (its runtime shut down), it ends the run
/// as cancelled, so that the loop can be started again elsewhere.
#[pin_project(PinnedDrop)]
pub(super) struct RunTask<A, F, D> {
    /// `None` once the run has ended.
    shared: Option<Arc<Shared<A, F>>>,
    #[pin]
    stage: Stage<A, D>,
}

/// Where a run's task is.
#[pin_project(project = StageNow)]
enum Stage<A, D> {
    /// The iterations.
    Driving(#[pin] CatchUnwind<AssertUnwindSafe<D>>),
    /// The end of the run (boxed: every run takes it once); its output is
    /// the arguments of a pending `restart`.
    Ending(BoxFuture<'static, Finished<A>>),
}

#[pinned_drop]
impl<A, F, D> PinnedDrop for RunTask<A, F, D> {
    fn drop(self: Pin<&mut Self>) {
        if let Some(shared) = self.project().shared.take() {
            abandon(&shared.core);
        }
    }
}

/// The task of a run that `start` has just marked as started.
pub(super) fn run_task<A, F>(
    shared: Arc<Shared<A, F>>,
    args: A,
) -> impl Future<Output = ()> + Send + 'static
where
    A: Clone + Send + 'static,
    F: Body<A>,
{
    RunTask {
        shared: Some(Arc::clone(&shared)),
        stage: Stage::Driving(AssertUnwindSafe(drive(shared, args)).catch_unwind()),
    }
}

impl<A, F, D> Future for RunTask<A, F, D>
where
    A: Clone + Send + 'static,
    F: Body<A>,
    D: Future<Output = RunOutcome>,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        let Some(shared) = this.shared.as_ref() else {
            return Poll::Ready(());
        };
        loop {
            match this.stage.as_mut().project() {
                StageNow::Driving(drive) => {
                    let ending = match ready!(drive.poll(cx)) {
                        Ok(outcome) => Ending::Outcome(outcome),
                        Err(payload) => {
                            Ending::Panicked(LoopError::from_panic(panic_message(&*payload)))
                        }
                    };
                    let ending = end(Arc::clone(shared), ending);
                    this.stage.set(Stage::Ending(Box::pin(ending)));
                }
                StageNow::Ending(ending) => {
                    let polled =
                        std::panic::catch_unwind(AssertUnwindSafe(|| ending.as_mut().poll(cx)));
                    let finished = match polled {
                        Ok(Poll::Pending) => return Poll::Pending,
                        Ok(Poll::Ready(finished)) => Some(finished),
                        // Only this crate's own code runs unguarded there:
                        // end the run all the same.
                        Err(payload) => {
                            let error = LoopError::from_panic(panic_message(&*payload));
                            tracing::error!(loop_name = %shared.name(), error = %Shown(&error), "the end of the run panicked");
                            abandon(&shared.core);
                            None
                        }
                    };
                    let shared = this.shared.take();
                    if let (Some(shared), Some(finished)) = (shared, finished) {
                        restart(shared, finished.restart_with);
                        if let Some(cell) = finished.cell {
                            cell.finish(finished.outcome);
                        }
                    }
                    return Poll::Ready(());
                }
            }
        }
    }
}

/// How the iterations of a run ended.
enum Ending {
    /// As the run decided.
    Outcome(RunOutcome),
    /// A panic outside the body's future.
    Panicked(LoopError),
}

/// The end of a run: a panic goes to the `error` hook first, as an
/// unhandled error; then `after_loop` and the outcome.
async fn end<A, F>(shared: Arc<Shared<A, F>>, ending: Ending) -> Finished<A>
where
    A: Send,
    F: Send + Sync,
{
    let outcome = match ending {
        Ending::Outcome(outcome) => outcome,
        Ending::Panicked(error) => fail(&shared, error).await,
    };
    finish(&shared, outcome).await
}

/// Starts the loop again after a run that `restart` ended.
fn restart<A, F>(shared: Arc<Shared<A, F>>, restart_with: Option<A>)
where
    A: Clone + Send + 'static,
    F: Body<A>,
{
    if let Some(args) = restart_with {
        if let Err(error) = start_run(shared, args) {
            tracing::error!(%error, "the loop could not restart");
        }
    }
}

/// The end of a run whose task was dropped before it ended, which happens
/// when its runtime shuts down: no runtime is left to run `after_loop` or
/// a pending `restart`, so the run just ends, cancelled.
fn abandon<A>(core: &Core<A>) {
    let leftovers = core.lock().end_run();
    observe::run_ended(core);
    if let Some(outcome) = leftovers.outcome {
        outcome.finish(RunOutcome::Cancelled);
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

    /// The loop's shared block is in every loop, running or not: see
    /// BENCHMARKS.md (memory per idle loop).
    #[test]
    fn the_core_of_a_loop_stays_small() {
        let size = std::mem::size_of::<Core<()>>();
        assert!(size <= 152, "the core is {size} bytes");
    }
}
