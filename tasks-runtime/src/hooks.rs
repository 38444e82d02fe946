//! The hooks a loop runs around its iterations: their types, how one is
//! made and how it is called (a loop's own hooks are in its state, see
//! `state/extras.rs`); and what bodies and hooks may return.

use std::future::Future;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use crate::error::{BoxError, LoopError};

/// What a loop body or hook may return: `()` (it cannot fail) or
/// `Result<(), E>` for any error that converts into a [`BoxError`].
///
/// ```
/// use tasks_runtime::{BoxError, BodyOutput};
///
/// assert!(().into_result().is_ok());
/// let failed: Result<(), std::io::Error> = Err(std::io::Error::other("gone"));
/// assert_eq!(failed.into_result().unwrap_err().to_string(), "gone");
/// # let _: Option<BoxError> = None;
/// ```
#[diagnostic::on_unimplemented(
    message = "a loop body or hook must return `()` or `Result<(), E>`, not `{Self}`",
    label = "this returns `{Self}`",
    note = "return `()`, or `Result<(), E>` with an error type that converts into `BoxError` (any `std::error::Error + Send + Sync + 'static`)"
)]
pub trait BodyOutput {
    /// `Ok(())` or the error, boxed.
    fn into_result(self) -> Result<(), BoxError>;
}

impl BodyOutput for () {
    fn into_result(self) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<E: Into<BoxError>> BodyOutput for Result<(), E> {
    fn into_result(self) -> Result<(), BoxError> {
        self.map_err(Into::into)
    }
}

pub(crate) type HookFuture = BoxFuture<'static, Result<(), BoxError>>;
pub(crate) type PlainHook = Arc<dyn Fn() -> HookFuture + Send + Sync>;
pub(crate) type ErrorHook = Arc<dyn Fn(LoopError) -> HookFuture + Send + Sync>;

pub(crate) fn plain_hook<F, Fut>(hook: F) -> PlainHook
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: BodyOutput,
{
    Arc::new(move || hook().map(BodyOutput::into_result).boxed())
}

pub(crate) fn error_hook<F, Fut>(hook: F) -> ErrorHook
where
    F: Fn(LoopError) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: BodyOutput,
{
    Arc::new(move |error| hook(error).map(BodyOutput::into_result).boxed())
}

/// Calls a hook and awaits it, turning a panic (in the call or in the
/// future) into an error, so that a hook can never take the loop down with
/// it.
pub(crate) async fn call_guarded(
    call: impl FnOnce() -> HookFuture + Send,
) -> Result<(), LoopError> {
    let panicked = |payload: Box<dyn std::any::Any + Send>| {
        LoopError::from_panic(crate::error::panic_message(&*payload))
    };
    let hook = std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)).map_err(panicked)?;
    match std::panic::AssertUnwindSafe(hook).catch_unwind().await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(LoopError::from_error(error)),
        Err(payload) => Err(panicked(payload)),
    }
}
