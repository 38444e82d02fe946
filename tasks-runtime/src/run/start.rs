//! Starting a loop: one run, or in a cluster's leader mode the replica's
//! part in the loop, which starts a run whenever it leads.

use std::sync::Arc;

use super::leader;
use super::task::{start_run, Runner};
use crate::error::StartError;
use crate::handle::RunHandle;

/// `start`: a run of `runner` with `args` on the current runtime, or in a
/// cluster's leader mode, the replica's participation.
pub(crate) fn start<A>(runner: Arc<dyn Runner<A>>, args: A) -> Result<RunHandle, StartError>
where
    A: Clone + Send + 'static,
{
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| StartError::NoRuntime)?;
    match leader::enter(runner.core())? {
        Some(entry) => Ok(leader::participate(runner, args, &runtime, entry)),
        None => start_run(runner, args),
    }
}
