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

use std::future::Future;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use futures_util::future::{join_all, BoxFuture};
use futures_util::FutureExt;
use hashbrown::HashTable;

use crate::body::Body;
use crate::observe::status_of;
use crate::run::{self, Runner};
use crate::state::{Core, Shared};
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

impl<A, F> Registered for Shared<A, F>
where
    A: Clone + Send + 'static,
    F: Body<A>,
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
}

/// The loops of the process, held weakly, found by the address of their
/// shared block: the block's `Drop` (below) takes its loop out, so that the
/// `Weak` does not keep the block's allocation. A table of the `Weak`s
/// alone (the address is read from each) costs a loop about what a list of
/// them does.
static LOOPS: Mutex<HashTable<Weak<dyn Registered>>> = Mutex::new(HashTable::new());

fn loops_lock() -> std::sync::MutexGuard<'static, HashTable<Weak<dyn Registered>>> {
    LOOPS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The address of a loop's shared block.
fn address(block: *const impl ?Sized) -> usize {
    block.cast::<()>().addr()
}

/// The hash of an address in the table.
fn hash(address: usize) -> u64 {
    let mut hasher = DefaultHasher::new();
    address.hash(&mut hasher);
    hasher.finish()
}

fn hash_of(registered: &Weak<dyn Registered>) -> u64 {
    hash(address(registered.as_ptr()))
}

/// Makes a loop's shared block around `core` and `body`, registered.
pub(crate) fn shared<A, F>(core: Core<A>, body: F) -> Arc<Shared<A, F>>
where
    A: Clone + Send + 'static,
    F: Body<A>,
{
    let shared = Arc::new(Shared { core, body });
    let registered: Weak<dyn Registered> = Arc::downgrade(&shared) as _;
    loops_lock().insert_unique(hash_of(&registered), registered, hash_of);
    shared
}

/// A loop leaves the registry as its shared block is dropped (its body and
/// hooks are dropped after, outside the registry's lock). An address is
/// freed only after this, so no other loop has it yet.
impl<A, F> Drop for Shared<A, F> {
    fn drop(&mut self) {
        let block = address(std::ptr::from_ref(self));
        let removed = {
            let mut loops = loops_lock();
            let removed = loops
                .find_entry(hash(block), |registered| {
                    address(registered.as_ptr()) == block
                })
                .ok()
                .map(|entry| entry.remove().0);
            // The table gives its memory back as the loops leave.
            let len = loops.len();
            if len <= loops.capacity() / 4 {
                loops.shrink_to(len * 2, hash_of);
            }
            removed
        };
        // The `Weak` is dropped outside the lock (it only counts down: the
        // block is still alive).
        drop(removed);
    }
}

/// The loops alive now, sorted by name. Upgraded under the registry's
/// lock, dropped outside it: the last reference to a loop drops its body
/// and hooks, which are user code. A loop being dropped cannot be
/// upgraded; its `Drop` takes it out.
fn alive() -> Vec<AnyLoop> {
    let mut alive: Vec<AnyLoop> = loops_lock()
        .iter()
        .filter_map(|registered| Some(AnyLoop(registered.upgrade()?)))
        .collect();
    alive.sort_by(|a, b| a.name().cmp(b.name()));
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

/// Every loop alive in the process, running or not, sorted by name.
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

/// The status of every loop alive in the process, sorted by name; see
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
