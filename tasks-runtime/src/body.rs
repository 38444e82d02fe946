//! The loop body behind one type-erased `Arc`: it starts runs (spawning a
//! task whose future holds the body's own future inline, so an iteration
//! allocates nothing) and calls the body once.

use std::future::Future;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use crate::error::BoxError;
use crate::handle::RunSlot;
use crate::hooks::Outcome;
use crate::state::Shared;

/// What a `Loop<A>` needs of its body, whatever its type.
pub(crate) trait Body<A>: Send + Sync + 'static {
    /// Spawns one run on `runtime`.
    fn spawn_run(
        self: Arc<Self>,
        shared: Arc<Shared<A>>,
        args: A,
        slot: Arc<RunSlot>,
        runtime: &tokio::runtime::Handle,
    );

    /// Calls the body once, outside the loop.
    fn call(&self, args: A) -> BoxFuture<'static, Result<(), BoxError>>;
}

/// A body given as a closure or a function.
pub(crate) struct FnBody<F>(pub(crate) F);

impl<A, F, Fut> Body<A> for FnBody<F>
where
    A: Clone + Send + 'static,
    F: Fn(A) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: Outcome,
{
    fn spawn_run(
        self: Arc<Self>,
        shared: Arc<Shared<A>>,
        args: A,
        slot: Arc<RunSlot>,
        runtime: &tokio::runtime::Handle,
    ) {
        // No span around the task: every event the run logs names its loop,
        // and a span would grow every idle loop's task.
        runtime.spawn(crate::run::drive(shared, self, args, slot));
    }

    fn call(&self, args: A) -> BoxFuture<'static, Result<(), BoxError>> {
        (self.0)(args).map(Outcome::into_result).boxed()
    }
}
