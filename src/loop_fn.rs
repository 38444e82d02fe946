//! [`LoopFn`]: a loop together with the typed function it runs.

use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;

use tasks_runtime::{BodyOutput, ConfigError, Iteration, Loop, LoopBuilder};

/// The boxed future of one call of a [`LoopFn`]'s body.
type BodyFuture<R> = Pin<Box<dyn Future<Output = R> + Send + 'static>>;
/// A [`LoopFn`]'s body, as direct calls see it: with the loop, for a body
/// that takes its [`Iteration`].
type Body<A, R> = dyn Fn(A, &Loop<A>) -> BodyFuture<R> + Send + Sync;

/// A [`Loop`] together with the function it runs: what a
/// [`#[tasks::r#loop]`](attr.loop.html) function becomes.
///
/// It dereferences to the [`Loop`], so every method of the loop is there
/// (`start`, `stop`, `before_loop`, `change_interval`, …), and it adds a
/// typed [`call`](LoopFn::call): one direct call of the body that returns
/// exactly what the function returns (discord.py's `Loop.__call__`), where
/// [`Loop::call`] boxes the error.
///
/// The attribute makes one for you; [`LoopFn::new`] is the hand-written
/// form, and [`LoopFn::with_iteration`] that of a function with an
/// `#[iteration]` argument.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use tasks::{LoopFn, RunOutcome};
///
/// async fn ping(host: &'static str) -> Result<(), std::io::Error> {
///     println!("ping {host}");
///     Ok(())
/// }
///
/// let pinger = LoopFn::new(ping, |builder| builder.seconds(30.0).count(2).build())
///     .expect("a valid interval");
/// let once: Result<(), std::io::Error> = pinger.call("example.com").await;
/// assert!(once.is_ok());
/// let run = pinger.start("example.com").expect("not running yet");
/// assert_eq!(run.await, RunOutcome::Completed);
/// # }
/// ```
pub struct LoopFn<A = (), R = ()> {
    handle: Loop<A>,
    body: Arc<Body<A, R>>,
}

impl<A, R> LoopFn<A, R>
where
    A: Clone + Send + 'static,
    R: BodyOutput + 'static,
{
    /// Builds the loop that runs `body`: `build` gets a [`LoopBuilder`]
    /// around the body, sets the schedule and options, and builds it.
    ///
    /// # Errors
    ///
    /// The [`ConfigError`] that `build` returns.
    ///
    /// ```
    /// use tasks::LoopFn;
    ///
    /// let tick = LoopFn::new(|()| async {}, |builder| builder.minutes(5.0).build()).unwrap();
    /// assert_eq!(tick.minutes(), Some(5.0));
    /// assert!(LoopFn::new(|()| async {}, |builder| builder.count(0).build()).is_err());
    /// ```
    pub fn new<F, Fut, B>(body: F, build: B) -> Result<Self, ConfigError>
    where
        F: Fn(A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
        B: FnOnce(LoopBuilder<A>) -> Result<Loop<A>, ConfigError>,
    {
        // The loop calls the function itself, so that an iteration's future
        // is stored in the run's task without an allocation; only a direct
        // `call`, whose future must have a nameable type, is boxed.
        let function = Arc::new(body);
        let for_loop = Arc::clone(&function);
        let handle = build(Loop::builder(move |args| for_loop(args)))?;
        let body: Arc<Body<A, R>> =
            Arc::new(move |args, _: &Loop<A>| Box::pin(function(args)) as BodyFuture<R>);
        Ok(Self { handle, body })
    }

    /// Builds the loop that runs `body`, a function of the loop's argument
    /// and of the [`Iteration`] it runs in (see
    /// [`Loop::builder_with_iteration`]); otherwise as [`new`](Self::new).
    /// A direct [`call`](Self::call) gives it the loop's `current_loop`, no
    /// slot and no fencing token.
    ///
    /// # Errors
    ///
    /// The [`ConfigError`] that `build` returns.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use tasks::{Iteration, LoopFn};
    ///
    /// async fn report((): (), iteration: Iteration) {
    ///     println!("report {} (fence {:?})", iteration.number(), iteration.fence());
    /// }
    ///
    /// let reports = LoopFn::with_iteration(report, |builder| builder.hours(1.0).build()).unwrap();
    /// reports.call(()).await;
    /// # }
    /// ```
    pub fn with_iteration<F, Fut, B>(body: F, build: B) -> Result<Self, ConfigError>
    where
        F: Fn(A, Iteration) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
        B: FnOnce(LoopBuilder<A>) -> Result<Loop<A>, ConfigError>,
    {
        let function = Arc::new(body);
        let for_loop = Arc::clone(&function);
        let handle = build(Loop::builder_with_iteration(move |args, iteration| {
            for_loop(args, iteration)
        }))?;
        let body: Arc<Body<A, R>> = Arc::new(move |args, handle: &Loop<A>| {
            let iteration = Iteration::of_direct_call(handle.current_loop());
            Box::pin(function(args, iteration)) as BodyFuture<R>
        });
        Ok(Self { handle, body })
    }

    /// Calls the body once with `args`, outside the schedule: no hooks, no
    /// retries, no change to the loop's state. The future returns what the
    /// body returns.
    ///
    /// # Panics
    ///
    /// If the body panics: the call runs in the caller's task, outside the
    /// loop that would catch it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use tasks::LoopFn;
    ///
    /// let check = LoopFn::new(
    ///     |n: u32| async move { if n > 10 { Err(format!("{n} is too big")) } else { Ok(()) } },
    ///     |builder| builder.seconds(1.0).build(),
    /// )
    /// .unwrap();
    /// assert_eq!(check.call(30).await, Err("30 is too big".to_owned()));
    /// assert!(!check.is_running());
    /// # }
    /// ```
    pub fn call(&self, args: A) -> impl Future<Output = R> + Send + 'static {
        (self.body)(args, &self.handle)
    }
}

impl<A, R> LoopFn<A, R> {
    /// The loop itself (also reached through `Deref`).
    ///
    /// ```
    /// use tasks::{Loop, LoopFn};
    ///
    /// let tick = LoopFn::new(|()| async {}, |builder| builder.build()).unwrap();
    /// let handle: Loop = tick.as_loop().clone();
    /// assert_eq!(handle.name(), tick.name());
    /// ```
    pub fn as_loop(&self) -> &Loop<A> {
        &self.handle
    }
}

impl<A, R> Deref for LoopFn<A, R> {
    type Target = Loop<A>;

    fn deref(&self) -> &Loop<A> {
        &self.handle
    }
}

impl<A, R> Clone for LoopFn<A, R> {
    /// Another handle on the same loop and body.
    fn clone(&self) -> Self {
        Self {
            handle: self.handle.clone(),
            body: Arc::clone(&self.body),
        }
    }
}

impl<A, R> fmt::Debug for LoopFn<A, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LoopFn").field(&self.handle).finish()
    }
}
