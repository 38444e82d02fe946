//! A handle on one run of a loop, to await its end.

use std::future::{Future, IntoFuture};
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::future::BoxFuture;
use tokio::sync::Notify;

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
    /// `cancel` (or `restart`) ended the run, or its runtime shut down.
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

/// The outcome of one run, in one small allocation shared by the loop and
/// the run's handles (a cancel goes through the loop's state instead).
#[derive(Default)]
pub(crate) struct OutcomeCell {
    outcome: Mutex<Option<RunOutcome>>,
    finished: Notify,
}

impl OutcomeCell {
    /// Publishes the outcome and wakes every waiter.
    pub(crate) fn finish(&self, outcome: RunOutcome) {
        *self.outcome.lock().unwrap_or_else(PoisonError::into_inner) = Some(outcome);
        self.finished.notify_waiters();
    }

    fn outcome(&self) -> Option<RunOutcome> {
        self.outcome
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// A handle on one run of a loop (the counterpart of discord.py's
/// `get_task()`): await it, or call [`wait`](RunHandle::wait), to get the
/// run's [`RunOutcome`] once its `after_loop` hook has returned.
///
/// Dropping the handle does not stop the run.
///
/// # Cancel safety
///
/// Awaiting is cancel safe: a dropped wait loses nothing, and the handle can
/// be awaited again.
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
#[derive(Clone)]
pub struct RunHandle {
    slot: Arc<OutcomeCell>,
}

impl std::fmt::Debug for RunHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunHandle")
            .field("outcome", &self.outcome())
            .finish()
    }
}

impl RunHandle {
    pub(crate) fn new(slot: Arc<OutcomeCell>) -> Self {
        Self { slot }
    }

    /// Whether the run has ended (its `after_loop` hook returned).
    pub fn is_finished(&self) -> bool {
        self.slot.outcome().is_some()
    }

    /// The outcome, if the run has ended.
    pub fn outcome(&self) -> Option<RunOutcome> {
        self.slot.outcome()
    }

    /// Waits for the run to end.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the wait loses nothing, and the handle can be
    /// waited on again.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use tasks_runtime::{Loop, RunOutcome};
    ///
    /// let ticker = Loop::builder(|()| async {}).seconds(1.0).count(3).build().unwrap();
    /// let run = ticker.start(()).unwrap();
    /// let early = tokio::time::timeout(Duration::from_millis(1500), run.wait()).await;
    /// assert!(early.is_err(), "two more iterations to go");
    /// assert_eq!(run.wait().await, RunOutcome::Completed);
    /// # }
    /// ```
    pub fn wait(&self) -> impl Future<Output = RunOutcome> + Send + 'static {
        let slot = Arc::clone(&self.slot);
        async move {
            loop {
                let finished = slot.finished.notified();
                tokio::pin!(finished);
                finished.as_mut().enable();
                if let Some(outcome) = slot.outcome() {
                    return outcome;
                }
                finished.await;
            }
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
