//! [`LoopSlot`]: where an instance keeps the loop of a loop method.

use std::fmt;
use std::sync::OnceLock;

use crate::loop_fn::LoopFn;

/// The field that holds one instance's loop for a
/// [`#[tasks::r#loop]`](attr.loop.html) method: the counterpart of
/// discord.py's `Loop.__get__`, which gives every instance of a cog its own
/// copy of the loop.
///
/// A struct with a loop method `fn counter_loop(self: Arc<Self>)` declares a
/// field of the same name, `counter_loop: LoopSlot<A, R>`, where `A` is the
/// method's arguments after `self` (`()` for none, the type for one, a tuple
/// for several) and `R` its return type (`()` by default). The generated
/// accessor `counter_loop(self: &Arc<Self>)` builds the loop on first use
/// and keeps it here.
///
/// The loop holds only a weak reference to its instance, so it never keeps
/// the instance alive; dropping the slot (with its instance) cancels a run
/// in progress, which then runs its `after_loop` hook as after any cancel.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::sync::Arc;
/// use tasks::{LoopSlot, RunOutcome};
///
/// #[derive(Default)]
/// struct Heartbeat {
///     beat: LoopSlot,
/// }
///
/// impl Heartbeat {
///     #[tasks::r#loop(seconds = 30)]
///     async fn beat(self: Arc<Self>) {
///         println!("still here");
///     }
/// }
///
/// let heart = Arc::new(Heartbeat::default());
/// let run = heart.beat().start(()).unwrap();
/// drop(heart);
/// assert_eq!(run.await, RunOutcome::Cancelled);
/// # }
/// ```
pub struct LoopSlot<A = (), R = ()> {
    cell: OnceLock<LoopFn<A, R>>,
}

impl<A, R> LoopSlot<A, R> {
    /// An empty slot; usable in a `const` or `static`.
    ///
    /// ```
    /// use tasks::LoopSlot;
    ///
    /// let slot: LoopSlot<u32> = LoopSlot::new();
    /// assert!(slot.get().is_none());
    /// ```
    pub const fn new() -> Self {
        Self {
            cell: OnceLock::new(),
        }
    }

    /// The loop, if it has been made.
    ///
    /// ```
    /// use tasks::{LoopFn, LoopSlot};
    ///
    /// let slot = LoopSlot::new();
    /// slot.get_or_init(|| LoopFn::new(|()| async {}, |b| b.build()).unwrap());
    /// assert!(slot.get().is_some());
    /// ```
    pub fn get(&self) -> Option<&LoopFn<A, R>> {
        self.cell.get()
    }

    /// The loop, made with `init` if this is the first use. Concurrent
    /// first uses make it once.
    ///
    /// ```
    /// use tasks::{LoopFn, LoopSlot};
    ///
    /// let slot = LoopSlot::new();
    /// let made = slot.get_or_init(|| LoopFn::new(|()| async {}, |b| b.seconds(5.0).build()).unwrap());
    /// assert_eq!(made.seconds(), Some(5.0));
    /// let again = slot.get_or_init(|| unreachable!("made once"));
    /// assert_eq!(again.seconds(), Some(5.0));
    /// ```
    pub fn get_or_init(&self, init: impl FnOnce() -> LoopFn<A, R>) -> &LoopFn<A, R> {
        self.cell.get_or_init(init)
    }
}

impl<A, R> Default for LoopSlot<A, R> {
    fn default() -> Self {
        Self::new()
    }
}

impl<A, R> Drop for LoopSlot<A, R> {
    /// Cancels a run in progress: the loop's instance is going away.
    fn drop(&mut self) {
        if let Some(made) = self.cell.get() {
            made.cancel();
        }
    }
}

impl<A, R> fmt::Debug for LoopSlot<A, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.cell.get() {
            Some(made) => f.debug_tuple("LoopSlot").field(made).finish(),
            None => f.write_str("LoopSlot(<not made yet>)"),
        }
    }
}
