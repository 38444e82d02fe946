//! A loop's body as the run calls it ([`Body`]): a function of the loop's
//! argument, or of the argument and the [`Iteration`] it runs in.
//!
//! A body that does not take the iteration is called as it is, and its
//! iteration is never worked out: only a body made with
//! [`Loop::builder_with_iteration`](crate::Loop::builder_with_iteration)
//! (or an attribute loop with an `#[iteration]` argument) pays for it, one
//! lock of the loop's state per call.

use std::future::Future;

use chrono::{DateTime, Utc};

use crate::cluster::Fence;
use crate::hooks::BodyOutput;

/// One iteration of a loop, as it began: its number, its scheduled
/// instant, and in a cluster the fencing token of its claim or term.
///
/// A value, not a view: it does not change while the body runs, and a task
/// the body spawns that reads it later still gets this iteration's token.
/// [`Loop::fence`](crate::Loop::fence) reads the loop's current token
/// instead, which a later claim or term replaces: a write fenced with it
/// could pass a database's check with a token that was never this
/// iteration's.
///
/// A body takes it from
/// [`Loop::builder_with_iteration`](crate::Loop::builder_with_iteration),
/// or, with the `tasks` attribute, from an argument marked `#[iteration]`.
/// A retried iteration keeps its number, slot and token.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::sync::{Arc, Mutex};
/// use tasks_runtime::{Iteration, Loop, RunOutcome};
///
/// let seen: Arc<Mutex<Vec<Iteration>>> = Arc::default();
/// let log = Arc::clone(&seen);
/// let tick = Loop::builder_with_iteration(move |(), iteration: Iteration| {
///     log.lock().unwrap().push(iteration);
///     async {}
/// })
/// .seconds(1.0)
/// .count(2)
/// .build()
/// .unwrap();
/// assert_eq!(tick.start(()).unwrap().await, RunOutcome::Completed);
/// let seen = seen.lock().unwrap();
/// assert_eq!(seen.iter().map(|i| i.number()).collect::<Vec<_>>(), [0, 1]);
/// let (first, second) = (seen[0].scheduled().unwrap(), seen[1].scheduled().unwrap());
/// assert_eq!((second - first).num_seconds(), 1);
/// assert!(seen.iter().all(|i| i.fence().is_none()), "outside a cluster");
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Iteration {
    number: u64,
    scheduled: Option<DateTime<Utc>>,
    fence: Option<Fence>,
}

impl Iteration {
    /// The iteration numbered `number`, scheduled at `scheduled`, holding
    /// `fence`.
    pub(crate) fn new(number: u64, scheduled: Option<DateTime<Utc>>, fence: Option<Fence>) -> Self {
        Self {
            number,
            scheduled,
            fence,
        }
    }

    /// The iteration a direct call of the body gets
    /// ([`Loop::call`](crate::Loop::call), and `LoopFn::call` in the
    /// `tasks` facade, which makes it through this): the loop's
    /// `current_loop`, no slot and no token, since no claim or term covers
    /// a call outside the loop.
    ///
    /// ```
    /// let direct = tasks_runtime::Iteration::of_direct_call(3);
    /// assert_eq!((direct.number(), direct.fence()), (3, None));
    /// ```
    #[doc(hidden)]
    pub fn of_direct_call(number: u64) -> Self {
        Self::new(number, None, None)
    }

    /// The loop's [`current_loop`](crate::Loop::current_loop) as the
    /// iteration began: the successful iterations of the run before it, so
    /// 0 for the first.
    ///
    /// ```
    /// assert_eq!(tasks_runtime::Iteration::of_direct_call(0).number(), 0);
    /// ```
    pub fn number(self) -> u64 {
        self.number
    }

    /// When the iteration was scheduled, on the wall clock, as
    /// [`Loop::current_slot`](crate::Loop::current_slot) reads it as the
    /// iteration begins: the time of day or cron instant it runs for (an
    /// instant run late, within a grace period, keeps its own); in a
    /// cluster's claim mode the slot it claimed; for a relative interval,
    /// the run's first iteration's wall-clock time plus whole intervals
    /// (timed on the monotonic clock, so a step of the wall clock does not
    /// move it). `None` for a direct call.
    ///
    /// ```
    /// assert_eq!(tasks_runtime::Iteration::of_direct_call(0).scheduled(), None);
    /// ```
    pub fn scheduled(self) -> Option<DateTime<Utc>> {
        self.scheduled
    }

    /// The fencing token of this iteration's claim (claim mode) or of the
    /// term of leadership it runs in (leader mode), for the body to pass
    /// to what it writes. `None` outside a cluster, for an iteration run
    /// during a store outage
    /// ([`run_during_outage`](crate::cluster::Cluster::run_during_outage)),
    /// and for a direct call.
    ///
    /// ```
    /// assert_eq!(tasks_runtime::Iteration::of_direct_call(0).fence(), None);
    /// ```
    pub fn fence(self) -> Option<Fence> {
        self.fence
    }
}

/// A loop's body, as the run calls it. `iteration` works the
/// [`Iteration`] out; only a body that takes it calls it.
pub(crate) trait Body<A>: Send + Sync + 'static {
    /// What the body returns.
    type Output: BodyOutput;
    /// One call of the body.
    type Future: Future<Output = Self::Output> + Send + 'static;

    fn call(&self, args: A, iteration: impl FnOnce() -> Iteration) -> Self::Future;
}

/// A body of the loop's argument alone: called as it is.
impl<A, F, Fut> Body<A> for F
where
    F: Fn(A) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: BodyOutput,
{
    type Output = Fut::Output;
    type Future = Fut;

    fn call(&self, args: A, _iteration: impl FnOnce() -> Iteration) -> Fut {
        self(args)
    }
}

/// A body that takes its [`Iteration`] after the loop's argument.
pub(crate) struct WithIteration<F>(pub(crate) F);

impl<A, F, Fut> Body<A> for WithIteration<F>
where
    F: Fn(A, Iteration) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: BodyOutput,
{
    type Output = Fut::Output;
    type Future = Fut;

    fn call(&self, args: A, iteration: impl FnOnce() -> Iteration) -> Fut {
        (self.0)(args, iteration())
    }
}

/// The name of a body's type, for a loop built without a name: the
/// function's own, without [`WithIteration`] around it.
pub(crate) fn type_name<F>() -> &'static str {
    let name = std::any::type_name::<F>();
    let wrapped = std::any::type_name::<WithIteration<()>>();
    wrapped
        .strip_suffix("()>")
        .and_then(|prefix| name.strip_prefix(prefix))
        .and_then(|inner| inner.strip_suffix('>'))
        .unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrapped_body_is_named_after_its_function() {
        fn body((): (), _: Iteration) -> std::future::Ready<()> {
            std::future::ready(())
        }
        let wrapped = WithIteration(body);
        fn name_of<F>(_: &F) -> &'static str {
            type_name::<F>()
        }
        assert_eq!(name_of(&wrapped), name_of(&body));
        assert!(name_of(&body).ends_with("body"), "{}", name_of(&body));
    }
}
