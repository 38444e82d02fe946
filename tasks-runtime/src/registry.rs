//! Every loop of the process, for a shutdown of all of them at once and a
//! status page: loops register themselves as they are built (an attribute
//! loop when first used), held weakly, and a loop leaves the registry as it
//! is dropped, its memory freed then.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::time::Duration;
//! use tasks_runtime::{registry, Loop};
//!
//! let poll = Loop::builder(|()| async {}).name("registry-doc-poll").seconds(5.0).build().unwrap();
//! poll.start(()).unwrap();
//! assert!(registry::statuses().iter().any(|s| s.name == "registry-doc-poll" && s.running));
//!
//! let report = registry::shutdown_all(Duration::from_secs(10)).await;
//! assert!(report.graceful.iter().any(|name| name == "registry-doc-poll"));
//! assert!(!poll.is_running());
//! # }
//! ```

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use futures_util::future::{join_all, BoxFuture};
use futures_util::FutureExt;

use crate::hooks::BodyOutput;
use crate::observe::status_of;
use crate::run::{self, Runner};
use crate::state::{Core, Listed, Shared};
use crate::status::LoopStatus;

/// What the registry needs of a loop, whatever its argument and body.
pub(crate) trait Registered: Send + Sync {
    fn name(&self) -> &str;
    fn is_running(&self) -> bool;
    fn status(&self) -> LoopStatus;
    fn stop(&self);
    fn cancel(&self);
    fn shutdown(self: Arc<Self>, grace: Duration) -> BoxFuture<'static, bool>;
    /// Its rank in the order of building.
    fn built(&self) -> u64;
}

impl<A, F, Fut> Registered for Shared<A, F>
where
    A: Clone + Send + 'static,
    F: Fn(A) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: BodyOutput,
{
    fn name(&self) -> &str {
        Shared::name(self)
    }

    fn is_running(&self) -> bool {
        self.core.lock().running()
    }

    fn status(&self) -> LoopStatus {
        status_of(&self.core, Shared::name(self))
    }

    fn stop(&self) {
        self.core.stop();
    }

    fn cancel(&self) {
        self.core.cancel();
    }

    fn shutdown(self: Arc<Self>, grace: Duration) -> BoxFuture<'static, bool> {
        let runner: Arc<dyn Runner<A>> = self;
        run::shutdown(runner, grace).boxed()
    }

    fn built(&self) -> u64 {
        self.listed.built
    }
}

/// The loops of the process, held weakly, each at the slot its shared
/// block holds: the block's `Drop` (below) empties its slot, so that the
/// `Weak` does not keep the block's allocation.
static LOOPS: Mutex<Loops> = Mutex::new(Loops {
    slots: Vec::new(),
    free: BTreeSet::new(),
    built: 0,
});

struct Loops {
    /// Each slot's loop; `None` for a free slot. Never ends with a free
    /// slot, so that it shrinks as the loops at its end leave.
    slots: Vec<Option<Weak<dyn Registered>>>,
    /// The free slots before the last taken one, the lowest taken first,
    /// so that the taken slots stay at the start.
    free: BTreeSet<usize>,
    /// How many loops were registered: the next one's rank in the order
    /// of building.
    built: u64,
}

impl Loops {
    fn insert(&mut self, registered: Weak<dyn Registered>) -> Listed {
        let built = self.built;
        self.built += 1;
        let slot = match self.free.pop_first() {
            Some(slot) => {
                self.slots[slot] = Some(registered);
                slot
            }
            None => {
                self.slots.push(Some(registered));
                self.slots.len() - 1
            }
        };
        Listed { slot, built }
    }

    /// Empties the slot of the block at `block`, if it holds it (a block
    /// made without [`shared`] holds none), and gives back the memory of
    /// the free slots at the end.
    fn remove(&mut self, slot: usize, block: *const ()) -> Option<Weak<dyn Registered>> {
        let entry = self.slots.get_mut(slot)?;
        if !entry
            .as_ref()
            .is_some_and(|registered| std::ptr::addr_eq(registered.as_ptr(), block))
        {
            return None;
        }
        let removed = entry.take();
        if slot + 1 < self.slots.len() {
            self.free.insert(slot);
            return removed;
        }
        // The last slot: it goes, and so do the free slots before it.
        while self.slots.last().is_some_and(Option::is_none) {
            self.slots.pop();
        }
        drop(self.free.split_off(&self.slots.len()));
        if self.slots.len() <= self.slots.capacity() / 4 {
            self.slots.shrink_to(self.slots.len() * 2);
        }
        removed
    }
}

fn loops_lock() -> std::sync::MutexGuard<'static, Loops> {
    LOOPS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Makes a loop's shared block around `core` and `body`, registered.
pub(crate) fn shared<A, F, Fut>(core: Core<A>, body: F) -> Arc<Shared<A, F>>
where
    A: Clone + Send + 'static,
    F: Fn(A) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: BodyOutput,
{
    Arc::new_cyclic(|block: &Weak<Shared<A, F>>| {
        let registered: Weak<dyn Registered> = block.clone();
        Shared {
            core,
            body,
            listed: loops_lock().insert(registered),
        }
    })
}

/// A loop leaves the registry as its shared block is dropped (its body and
/// hooks are dropped after, outside the registry's lock).
impl<A, F> Drop for Shared<A, F> {
    fn drop(&mut self) {
        let block = std::ptr::from_ref(self).cast::<()>();
        let removed = loops_lock().remove(self.listed.slot, block);
        // The `Weak` is dropped outside the lock (it only counts down: the
        // block is still alive).
        drop(removed);
    }
}

/// The loops alive now, in the order they were built. Upgraded under the
/// registry's lock, dropped outside it: the last reference to a loop drops
/// its body and hooks, which are user code. A loop being dropped cannot be
/// upgraded; its `Drop` empties its slot.
fn alive() -> Vec<AnyLoop> {
    let mut alive: Vec<AnyLoop> = loops_lock()
        .slots
        .iter()
        .flatten()
        .filter_map(|registered| Some(AnyLoop(registered.upgrade()?)))
        .collect();
    alive.sort_unstable_by_key(|any| any.0.built());
    alive
}

/// A loop of the registry, whatever its argument type: what can be done
/// to any loop without its arguments.
#[derive(Clone)]
pub struct AnyLoop(Arc<dyn Registered>);

impl std::fmt::Debug for AnyLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("AnyLoop").field(&self.0.name()).finish()
    }
}

impl AnyLoop {
    /// The loop's name.
    pub fn name(&self) -> &str {
        self.0.name()
    }

    /// Whether a run is in progress.
    pub fn is_running(&self) -> bool {
        self.0.is_running()
    }

    /// The loop's status; see [`Loop::status`](crate::Loop::status).
    pub fn status(&self) -> LoopStatus {
        self.0.status()
    }

    /// [`Loop::stop`](crate::Loop::stop).
    pub fn stop(&self) {
        self.0.stop();
    }

    /// [`Loop::cancel`](crate::Loop::cancel).
    pub fn cancel(&self) {
        self.0.cancel();
    }

    /// [`Loop::shutdown`](crate::Loop::shutdown), with the same cancel
    /// safety.
    pub fn shutdown(&self, grace: Duration) -> impl Future<Output = bool> + Send + 'static {
        Arc::clone(&self.0).shutdown(grace)
    }
}

/// Every loop alive in the process, running or not, in the order they
/// were built.
///
/// ```
/// use tasks_runtime::{registry, Loop};
///
/// let idle = Loop::builder(|()| async {}).name("registry-doc-idle").build().unwrap();
/// assert!(registry::loops().iter().any(|l| l.name() == "registry-doc-idle" && !l.is_running()));
/// drop(idle);
/// assert!(!registry::loops().iter().any(|l| l.name() == "registry-doc-idle"));
/// ```
pub fn loops() -> Vec<AnyLoop> {
    alive()
}

/// The status of every loop alive in the process; see
/// [`Loop::status`](crate::Loop::status).
///
/// ```
/// use tasks_runtime::{registry, Loop};
///
/// let _sync = Loop::builder(|()| async {}).name("registry-doc-sync").build().unwrap();
/// let statuses = registry::statuses();
/// assert!(statuses.iter().any(|s| s.name == "registry-doc-sync"));
/// ```
pub fn statuses() -> Vec<LoopStatus> {
    alive().iter().map(AnyLoop::status).collect()
}

/// What [`shutdown_all`] did: the names of the loops that were running,
/// those that ended within the grace period and those that had to be
/// cancelled.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Loops whose run ended within the grace period.
    pub graceful: Vec<String>,
    /// Loops cancelled when the grace period ran out (their `after_loop`
    /// has run).
    pub cancelled: Vec<String>,
}

impl ShutdownReport {
    /// Whether every loop ended within the grace period.
    ///
    /// ```
    /// assert!(tasks_runtime::registry::ShutdownReport::default().all_graceful());
    /// ```
    pub fn all_graceful(&self) -> bool {
        self.cancelled.is_empty()
    }
}

/// Shuts every running loop of the process down at once, with one grace
/// period for all ([`Loop::shutdown`](crate::Loop::shutdown) each), and
/// reports which ended gracefully and which were cancelled. Loops that are
/// not running are left alone.
///
/// # Cancel safety
///
/// As [`Loop::shutdown`](crate::Loop::shutdown): dropped early, the loops
/// still end after their current iteration, but none is cancelled.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::time::Duration;
/// use tasks_runtime::{registry, Loop};
///
/// let slow = Loop::builder(|()| async { tokio::time::sleep(Duration::from_secs(60)).await })
///     .name("registry-doc-slow")
///     .build()
///     .unwrap();
/// slow.start(()).unwrap();
/// tokio::time::sleep(Duration::from_millis(1)).await;
/// let report = registry::shutdown_all(Duration::from_secs(5)).await;
/// assert!(report.cancelled.iter().any(|name| name == "registry-doc-slow"));
/// # }
/// ```
pub async fn shutdown_all(grace: Duration) -> ShutdownReport {
    let running: Vec<AnyLoop> = alive().into_iter().filter(AnyLoop::is_running).collect();
    tracing::info!(
        loops = running.len(),
        grace_seconds = grace.as_secs_f64(),
        "shutting every loop down"
    );
    let ended = join_all(running.iter().map(|any| any.shutdown(grace))).await;
    let mut report = ShutdownReport::default();
    for (any, graceful) in running.iter().zip(ended) {
        let names = if graceful {
            &mut report.graceful
        } else {
            &mut report.cancelled
        };
        names.push(any.name().to_owned());
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::Interval;
    use crate::state::State;

    /// A loop's block, outside the registry.
    fn block() -> Arc<dyn Registered> {
        let schedule = Interval::seconds(1.0).validate().unwrap();
        Arc::new(Shared {
            core: Core::new(State::<()>::new(schedule, None, true), None),
            body: |()| async {},
            listed: Listed::NOT,
        })
    }

    fn address(block: &Arc<dyn Registered>) -> *const () {
        Arc::as_ptr(block).cast()
    }

    #[test]
    fn slots_are_reused_lowest_first_and_free_ones_at_the_end_go() {
        let mut loops = Loops {
            slots: Vec::new(),
            free: BTreeSet::new(),
            built: 0,
        };
        let [a, b, c, d] = [block(), block(), block(), block()];
        let listed: Vec<(usize, u64)> = [&a, &b, &c]
            .map(|block| loops.insert(Arc::downgrade(block)))
            .map(|listed| (listed.slot, listed.built))
            .into();
        assert_eq!(listed, [(0, 0), (1, 1), (2, 2)]);
        assert!(loops.remove(1, address(&b)).is_some());
        assert_eq!(loops.free, BTreeSet::from([1]));
        let d_listed = loops.insert(Arc::downgrade(&d));
        assert_eq!((d_listed.slot, d_listed.built), (1, 3));
        // A slot holds one block: another's address empties nothing.
        assert!(loops.remove(1, address(&c)).is_none());
        assert!(loops.remove(7, address(&c)).is_none());
        assert!(loops.remove(2, address(&c)).is_some());
        assert!(loops.remove(0, address(&a)).is_some());
        assert_eq!((loops.slots.len(), loops.free.len()), (2, 1));
        assert!(loops.remove(1, address(&d)).is_some());
        assert!(loops.slots.is_empty() && loops.free.is_empty());
        assert_eq!(loops.slots.capacity(), 0, "the memory is given back");
    }
}
