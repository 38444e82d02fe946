//! A handle on one run of a loop, to await its end.

use std::future::{Future, IntoFuture};

use futures_util::future::BoxFuture;
use tokio::sync::watch;

use crate::error::LoopError;

/// How a run of a loop ended.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use tasks_runtime::{Loop, RunOutcome};
///
/// let twice = Loop::builder(|()| async {}).seconds(1.0).count(2).build().unwrap();
/// let run = twice.start(()).unwrap();
/// assert_eq!(run.await, RunOutcome::Completed);
/// # }
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum RunOutcome {
    /// `count` successful iterations ran.
    Completed,
    /// `stop` ended the run.
    Stopped,
    /// `cancel` (or `restart`) ended the run.
    Cancelled,
    /// An unhandled error or a panic ended the run; the `error` hook had it.
    Failed(LoopError),
}

impl PartialEq for RunOutcome {
    /// Failures compare equal to each other whatever their error.
    fn eq(&self, other: &Self) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

/// A handle on one run of a loop (the counterpart of discord.py's
/// `get_task()`): await it, or call [`wait`](RunHandle::wait), to get the
/// run's [`RunOutcome`] once its `after_loop` hook has returned.
///
/// Dropping the handle does not stop the run. Awaiting is cancel safe: a
/// dropped wait loses nothing, and the handle can be awaited again.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use tasks_runtime::{Loop, RunOutcome};
///
/// let ticker = Loop::builder(|()| async {}).seconds(1.0).build().unwrap();
/// let run = ticker.start(()).unwrap();
/// assert!(!run.is_finished());
/// ticker.cancel();
/// assert_eq!(run.wait().await, RunOutcome::Cancelled);
/// assert!(run.is_finished());
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct RunHandle {
    outcome: watch::Receiver<Option<RunOutcome>>,
}

impl RunHandle {
    pub(crate) fn new(outcome: watch::Receiver<Option<RunOutcome>>) -> Self {
        Self { outcome }
    }

    /// Whether the run has ended (its `after_loop` hook returned).
    pub fn is_finished(&self) -> bool {
        self.outcome.borrow().is_some()
    }

    /// The outcome, if the run has ended.
    pub fn outcome(&self) -> Option<RunOutcome> {
        self.outcome.borrow().clone()
    }

    /// Waits for the run to end.
    pub fn wait(&self) -> impl Future<Output = RunOutcome> + Send + 'static {
        let mut outcome = self.outcome.clone();
        async move {
            let published = match outcome.wait_for(Option::is_some).await {
                Ok(done) => done.clone(),
                Err(_) => None,
            };
            // The sender is only dropped after publishing an outcome.
            published
                .or_else(|| outcome.borrow().clone())
                .unwrap_or(RunOutcome::Cancelled)
        }
    }
}

impl IntoFuture for RunHandle {
    type Output = RunOutcome;
    type IntoFuture = BoxFuture<'static, RunOutcome>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.wait())
    }
}
