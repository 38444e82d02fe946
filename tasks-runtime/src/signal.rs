//! A one-waiter wake-up: the run's task waits on it (for a cancel, or for a
//! moved schedule) and any handle raises it. Unlike `tokio::sync::Notify`,
//! the waiting side stores nothing but a reference, which keeps the task of
//! every idle loop small.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;

/// A counter of raises and the waker of the one task waiting for the next.
#[derive(Default)]
pub(crate) struct Signal {
    raised: AtomicU64,
    waiter: AtomicWaker,
}

impl Signal {
    /// Counts a raise and wakes the waiter, if any.
    pub(crate) fn raise(&self) {
        self.raised.fetch_add(1, Ordering::SeqCst);
        self.waiter.wake();
    }

    /// How many raises so far: pass it to [`after`](Self::after).
    pub(crate) fn count(&self) -> u64 {
        self.raised.load(Ordering::SeqCst)
    }

    /// Resolves once the signal is raised after `seen` (a [`count`]).
    ///
    /// [`count`]: Self::count
    pub(crate) fn after(&self, seen: u64) -> Raised<'_> {
        Raised { signal: self, seen }
    }
}

/// The future of [`Signal::after`]. Cancel safe.
pub(crate) struct Raised<'a> {
    signal: &'a Signal,
    seen: u64,
}

impl Future for Raised<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // Register first, then check: a raise between the two still wakes.
        self.signal.waiter.register(cx.waker());
        if self.signal.count() != self.seen {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}
