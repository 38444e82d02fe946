//! Every call a loop makes to its cluster's store goes through
//! [`store_call`]: within the cluster's
//! [store deadline](crate::cluster::Cluster::store_deadline), so that no
//! store (one that hangs, a network that drops packets) holds a replica
//! longer than that.

use std::future::Future;
use std::time::Duration;

use crate::cluster::{Cluster, StoreError};

/// Waits for `call` to `cluster`'s store, doing `what` (for the message),
/// no longer than the cluster's store deadline.
///
/// # Errors
///
/// The store's own error, or
/// [`Unavailable`](crate::cluster::StoreErrorKind::Unavailable) once the
/// deadline has passed (the call is dropped then): callers report it as
/// any store error.
///
/// # Cancel safety
///
/// Dropping it drops the call, as the deadline does.
pub(super) async fn store_call<T>(
    cluster: &Cluster,
    what: &'static str,
    call: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let deadline = cluster.store_deadline_duration();
    match tokio::time::timeout(deadline, call).await {
        Ok(answer) => answer,
        Err(_elapsed) => Err(StoreError::unavailable(NoAnswer { what, deadline })),
    }
}

/// A store call that outlived the cluster's store deadline.
#[derive(Debug, thiserror::Error)]
#[error("{what}: no answer within the store deadline of {deadline:?}")]
struct NoAnswer {
    what: &'static str,
    deadline: Duration,
}
