//! Waits of the run's task that a cancel (and, for some, a reschedule or
//! a shutdown) ends early.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project::pin_project;

use crate::state::{Core, Interrupt};

/// A wait that only a cancel (or restart) ends early: a call of the body
/// or of a hook, which a shutdown lets finish.
pub(super) type UntilCancelled<'a, A, Fut> = Watched<'a, A, Fut, false, false>;

/// A wait for the next iteration, which a cancel, a shutdown or the next
/// iteration moving ends early.
pub(super) type UntilRescheduled<'a, A, Fut> = Watched<'a, A, Fut, true, true>;

/// A retry's backoff, which a cancel or a shutdown ends early.
pub(super) type UntilRetry<'a, A, Fut> = Watched<'a, A, Fut, false, true>;

/// A wait of the run's task, interrupted as the state says: checked (under
/// the lock that also keeps the task's waker) before each poll of the wait
/// itself, so that the first touch of a wake-up is the loop's state, not
/// another allocation. `RESCHEDULE`, `SHUTDOWN`: whether the next
/// iteration moving, or a shutdown, interrupts it too.
#[pin_project]
pub(super) struct Watched<'a, A, Fut, const RESCHEDULE: bool, const SHUTDOWN: bool> {
    core: &'a Core<A>,
    #[pin]
    wait: Fut,
}

impl<'a, A, Fut, const RESCHEDULE: bool, const SHUTDOWN: bool>
    Watched<'a, A, Fut, RESCHEDULE, SHUTDOWN>
{
    pub(super) fn new(core: &'a Core<A>, wait: Fut) -> Self {
        Self { core, wait }
    }
}

impl<A, Fut: Future, const RESCHEDULE: bool, const SHUTDOWN: bool> Future
    for Watched<'_, A, Fut, RESCHEDULE, SHUTDOWN>
{
    type Output = Result<Fut::Output, Interrupt>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(interrupt) = this.core.poll_interrupt(cx.waker(), RESCHEDULE, SHUTDOWN) {
            return Poll::Ready(Err(interrupt));
        }
        this.wait.poll(cx).map(Ok)
    }
}

/// The call of the body in a run's iteration: a wait that only a cancel
/// ends early, like [`UntilCancelled`], whose first poll may skip the check
/// when the lock taken just before it made the call (with no await between)
/// found no cancel pending and the run's task's waker kept (see
/// [`State::watched_by_task`]). A cancel requested in between is a race the
/// call could equally have lost: it wakes the task, and the next poll sees
/// it. A type of its own: the flag would grow every other wait, the sleep
/// of every idle loop among them.
///
/// [`State::watched_by_task`]: crate::state::State::watched_by_task
#[pin_project]
pub(super) struct BodyCall<'a, A, Fut> {
    core: &'a Core<A>,
    checked: bool,
    #[pin]
    call: Fut,
}

impl<'a, A, Fut> BodyCall<'a, A, Fut> {
    /// The call, `checked` or not by the lock taken before it.
    pub(super) fn new(core: &'a Core<A>, call: Fut, checked: bool) -> Self {
        Self {
            core,
            checked,
            call,
        }
    }
}

impl<A, Fut: Future> Future for BodyCall<'_, A, Fut> {
    type Output = Result<Fut::Output, Interrupt>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if !std::mem::take(this.checked) {
            if let Some(interrupt) = this.core.poll_interrupt(cx.waker(), false, false) {
                return Poll::Ready(Err(interrupt));
            }
        }
        this.call.poll(cx).map(Ok)
    }
}
