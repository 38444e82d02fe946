//! The connection of [`SqliteStore`](super::SqliteStore): one per store,
//! taken by one call at a time for its work on a blocking thread, each call
//! within the store's busy timeout, and the claims in a lane of their own
//! so that a lease never waits behind a burst of them.
//!
//! A call waits for the connection (another call of this store at work), then
//! for the file's write lock (another connection's transaction: SQLite's
//! busy timeout, set to what is left of the call's), then works. Past its
//! deadline it fails as
//! [`Unavailable`](tasks_runtime::cluster::StoreErrorKind::Unavailable) at
//! once, its statement in progress is interrupted, and the connection is
//! free again as soon as the blocking thread lets go of it. Only one call
//! of a store is ever on a blocking thread: the others wait without one.
//!
//! A claim (or a finish, or a read of the last finished slot) holds the
//! claims' lane from before it waits for the connection until its work is
//! done, so that at most one claim waits for the connection at a time: a
//! lease, which takes no lane, waits at most for the claim at work and that
//! one.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::InterruptHandle;
use tasks_runtime::cluster::StoreError;
use tokio::time::Instant;

use super::errors::Failed;
use crate::shared::secret::Message;

/// Which calls a call queues with for the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Lane {
    /// Claims, their finishes, reads of the last finished slot: one at a
    /// time in the lane.
    Claims,
    /// Leases and their releases: straight to the connection.
    Leases,
}

/// The store's connection, and what every call on it needs.
pub(super) struct StoreConnection {
    connection: Arc<tokio::sync::Mutex<rusqlite::Connection>>,
    claims: tokio::sync::Mutex<()>,
    interrupt: InterruptHandle,
    timeout: Duration,
}

impl StoreConnection {
    /// The store's calls on `connection`, each within `timeout`.
    pub(super) fn new(connection: rusqlite::Connection, timeout: Duration) -> Self {
        Self {
            interrupt: connection.get_interrupt_handle(),
            connection: Arc::new(tokio::sync::Mutex::new(connection)),
            claims: tokio::sync::Mutex::new(()),
            timeout,
        }
    }

    /// Runs `work` on the connection, on a blocking thread, in `lane`,
    /// within the store's deadline; `what` names it in messages.
    ///
    /// # Errors
    ///
    /// `work`'s error, sorted by `errors`, or
    /// [`Unavailable`](tasks_runtime::cluster::StoreErrorKind::Unavailable)
    /// once the deadline has passed.
    ///
    /// # Cancel safety
    ///
    /// Dropped before it ends, it interrupts its work as its deadline
    /// does.
    pub(super) async fn call<T, F>(
        &self,
        lane: Lane,
        what: &'static str,
        work: F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut rusqlite::Connection) -> Result<T, Failed> + Send + 'static,
    {
        let deadline = Instant::now() + self.timeout;
        let late = || self.late(what);
        let _in_lane = match lane {
            Lane::Claims => Some(
                tokio::time::timeout_at(deadline, self.claims.lock())
                    .await
                    .map_err(|_| late())?,
            ),
            Lane::Leases => None,
        };
        let connection = Arc::clone(&self.connection).lock_owned();
        let mut connection = tokio::time::timeout_at(deadline, connection)
            .await
            .map_err(|_| late())?;
        let left = deadline.saturating_duration_since(Instant::now());
        let working = Working {
            interrupt: &self.interrupt,
            done: Arc::default(),
        };
        let done = Arc::clone(&working.done);
        let blocking = tokio::task::spawn_blocking(move || {
            // The file's lock is waited for no longer than the call may
            // still take.
            let result = match connection.busy_timeout(left) {
                Ok(()) => work(&mut connection),
                Err(error) => Err(error.into()),
            };
            *done.lock().unwrap_or_else(PoisonError::into_inner) = true;
            result
        });
        match tokio::time::timeout_at(deadline, blocking).await {
            Err(_elapsed) => Err(late()),
            Ok(Ok(result)) => result.map_err(|failed| failed.into_store_error(what)),
            Ok(Err(join_error)) => Err(StoreError::unavailable(Message(format!(
                "SQLite, {what}: the blocking call did not finish: {join_error}"
            )))),
        }
    }

    fn late(&self, what: &str) -> StoreError {
        StoreError::unavailable(Message(format!(
            "SQLite, {what}: no answer within {:?} (the file stayed locked by another \
             connection, or the store's connection busy)",
            self.timeout
        )))
    }
}

/// A call's work on the blocking thread: interrupted if the call is
/// dropped (its deadline passed) before the work is done.
struct Working<'a> {
    interrupt: &'a InterruptHandle,
    /// Set by the work as it ends, before it lets go of the connection: an
    /// interrupt sent while it is not set can only reach this work.
    done: Arc<Mutex<bool>>,
}

impl Drop for Working<'_> {
    fn drop(&mut self) {
        let done = self.done.lock().unwrap_or_else(PoisonError::into_inner);
        if !*done {
            self.interrupt.interrupt();
        }
    }
}
