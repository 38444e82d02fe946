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

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use futures_util::future::{join_all, BoxFuture};
use futures_util::FutureExt;

use crate::hooks::BodyOutput;
use crate::observe::status_of;
use crate::run::{self, Runner};
use crate::state::Shared;
use crate::status::LoopStatus;

/// What the registry needs of a loop, whatever its argument and body.
pub(crate) trait Registered: Send + Sync {
    fn name(&self) -> &str;
    fn is_running(&self) -> bool;
    fn status(&self) -> LoopStatus;
    fn stop(&self);
    fn cancel(&self);
    fn shutdown(self: Arc<Self>, grace: Duration) -> BoxFuture<'static, bool>;
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
        self.core.lock().running
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
}

/// The loops of the process, held weakly, by the address of their shared
/// block: a loop's entry is removed when the block is dropped (see the
/// `Drop` below), so that the `Weak` does not keep its allocation.
static LOOPS: Mutex<Loops> = Mutex::new(Loops {
    built: 0,
    entries: BTreeMap::new(),
});

struct Loops {
    /// How many loops were registered: the next one's place in the order
    /// of building.
    built: u64,
    entries: BTreeMap<usize, Entry>,
}

struct Entry {
    built: u64,
    registered: Weak<dyn Registered>,
}

fn loops_lock() -> std::sync::MutexGuard<'static, Loops> {
    LOOPS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The key of a loop's entry: the address of its shared block.
fn key<T: ?Sized>(block: *const T) -> usize {
    block.cast::<()>().addr()
}

/// Adds a loop as it is built.
pub(crate) fn register(registered: Weak<dyn Registered>) {
    let mut loops = loops_lock();
    let built = loops.built;
    loops.built += 1;
    let entry = Entry { built, registered };
    loops.entries.insert(key(entry.registered.as_ptr()), entry);
}

/// A loop's entry leaves the registry as its shared block is dropped (its
/// body and hooks are dropped after, outside the registry's lock). An
/// address is freed only after this, so no other loop holds it yet.
impl<A, F> Drop for Shared<A, F> {
    fn drop(&mut self) {
        let removed = loops_lock().entries.remove(&key(std::ptr::from_ref(self)));
        // The `Weak` is dropped outside the lock (it only counts down:
        // the block is still alive).
        drop(removed);
    }
}

/// The loops alive now, in the order they were built. Upgraded under the
/// registry's lock, dropped outside it: the last reference to a loop drops
/// its body and hooks, which are user code. A loop being dropped cannot be
/// upgraded, and its `Drop` removes its entry.
fn alive() -> Vec<AnyLoop> {
    let mut alive: Vec<(u64, AnyLoop)> = loops_lock()
        .entries
        .values()
        .filter_map(|entry| Some((entry.built, AnyLoop(entry.registered.upgrade()?))))
        .collect();
    alive.sort_unstable_by_key(|(built, _)| *built);
    alive.into_iter().map(|(_, any)| any).collect()
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
