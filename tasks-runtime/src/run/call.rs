//! One call of the body: in the iteration's span, with a panic caught,
//! given its [`Iteration`] if it takes one, and the error of a call that
//! ran past its timeout. Used by the run
//! (`drive.rs`) and by claim mode (`claim.rs`).

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use tracing::Instrument;

use crate::body::{Body, Iteration};
use crate::error::{panic_message, IterationTimeout, LoopError};
use crate::hooks::BodyOutput;
use crate::observe;
use crate::schedule::ScheduledAt;
use crate::state::{Core, Shared};

/// The error of a call of the body that ran past its timeout.
pub(super) fn timed_out<A, F>(shared: &Shared<A, F>) -> LoopError {
    let (iteration, after) = {
        let state = shared.core.lock();
        (state.current_loop(), state.iteration_settings().timeout)
    };
    LoopError::from_error(IterationTimeout {
        loop_name: shared.name().to_owned(),
        iteration,
        after: after.unwrap_or_default(),
    })
}

/// A call of the body, a panic caught, in the iteration's span: the
/// iteration's error, if any. The span is entered while the body is
/// called and polled, so that the body's own spans nest under it; without
/// a subscriber it is `Span::none()`.
pub(super) fn traced_call<A, F>(
    shared: &Shared<A, F>,
    args: &A,
) -> impl Future<Output = Option<LoopError>> + Send
where
    A: Clone,
    F: Body<A>,
{
    let span = observe::iteration_span(&shared.core, shared.name());
    let call = span.in_scope(|| shared.body.call(args.clone(), || iteration(&shared.core)));
    AssertUnwindSafe(call)
        .catch_unwind()
        .map(|called| match called {
            Ok(output) => output.into_result().err().map(LoopError::from_error),
            Err(payload) => Some(LoopError::from_panic(panic_message(&*payload))),
        })
        .instrument(span)
}

/// The iteration about to run, as its body sees it: worked out only for a
/// body that takes it, in one lock. In claim mode its token is the claim's,
/// set just before this call; in leader mode the term's, which lasts the
/// run. A retried iteration gets its number, slot and token again.
fn iteration<A>(core: &Core<A>) -> Iteration {
    let state = core.lock();
    let scheduled = state.last().map(ScheduledAt::wall);
    Iteration::new(state.current_loop(), scheduled, state.fence())
}
