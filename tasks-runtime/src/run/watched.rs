//! Waits of the run's task that a cancel (and, for some, a reschedule)
//! ends early.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project::pin_project;

use crate::state::{Core, Interrupt};

/// A wait that only a cancel (or restart) ends early.
pub(super) type UntilCancelled<'a, A, Fut> = Watched<'a, A, Fut, false>;

/// A wait that a cancel, or the next iteration moving, ends early.
pub(super) type UntilRescheduled<'a, A, Fut> = Watched<'a, A, Fut, true>;

/// A wait of the run's task, interrupted as the state says: checked (under
/// the lock that also keeps the task's waker) before each poll of the wait
/// itself, so that the first touch of a wake-up is the loop's state, not
/// another allocation. `RESCHEDULE`: whether the next iteration moving
/// interrupts it too.
#[pin_project]
pub(super) struct Watched<'a, A, Fut, const RESCHEDULE: bool> {
    core: &'a Core<A>,
    #[pin]
    wait: Fut,
}

impl<'a, A, Fut, const RESCHEDULE: bool> Watched<'a, A, Fut, RESCHEDULE> {
    pub(super) fn new(core: &'a Core<A>, wait: Fut) -> Self {
        Self { core, wait }
    }
}

impl<A, Fut: Future, const RESCHEDULE: bool> Future for Watched<'_, A, Fut, RESCHEDULE> {
    type Output = Result<Fut::Output, Interrupt>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(interrupt) = this.core.poll_interrupt(cx.waker(), RESCHEDULE) {
            return Poll::Ready(Err(interrupt));
        }
        this.wait.poll(cx).map(Ok)
    }
}
