//! The connection of [`RedisStore`](super::RedisStore): one multiplexed
//! connection, made on the first call, and replaced as soon as it cannot be
//! trusted: lost, a call on it left unanswered (past the deadline, or
//! dropped by its caller), or the server answering `READONLY` (a primary
//! demoted by a failover, while the address now leads to the new one).
//! Each call within the store's deadline, and tried again as [`Retry`]
//! allows.

use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, FromRedisValue, RedisError, ScriptInvocation};
use tasks_runtime::cluster::StoreError;

use super::errors::{failure, must_replace, store_error};
use crate::shared::call::{self, Failure, Retry};
use crate::shared::secret::Secrets;

/// The client, its connection once made, and what every call needs.
pub(super) struct Connection {
    client: Client,
    current: Mutex<Current>,
    /// Held while a connection is made, so that the calls that find none
    /// wait for one instead of making one each.
    connecting: tokio::sync::Mutex<()>,
    timeout: Duration,
    secrets: Secrets,
}

/// The connection in use, if any, and how many were made: a call that
/// gives up on its connection replaces that one, not a newer one.
#[derive(Default)]
struct Current {
    made: u64,
    connection: Option<MultiplexedConnection>,
}

impl Connection {
    pub(super) fn new(client: Client, timeout: Duration, secrets: Secrets) -> Self {
        Self {
            client,
            current: Mutex::default(),
            connecting: tokio::sync::Mutex::new(()),
            timeout,
            secrets,
        }
    }

    /// The store's deadline for a call.
    pub(super) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Runs `call` on the connection.
    ///
    /// # Errors
    ///
    /// As [`call::run`], with Redis's errors sorted by `errors`.
    ///
    /// # Cancel safety
    ///
    /// A call dropped before its answer gives up its connection: the next
    /// call makes a new one.
    pub(super) async fn call<T, F, Fut>(
        &self,
        what: &str,
        retry: Retry,
        call: F,
    ) -> Result<T, StoreError>
    where
        F: Fn(MultiplexedConnection) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        call::run("Redis", what, self.timeout, retry, || async {
            let (made, connection) = self.connection().await?;
            let mut in_use = InUse {
                owner: self,
                made,
                trusted: false,
            };
            let answer = call(connection).await;
            in_use.trusted = answer
                .as_ref()
                .err()
                .is_none_or(|error| !must_replace(error));
            answer.map_err(|error| failure(&self.secrets, what, &error))
        })
        .await
    }

    /// Runs `script`, with its keys and arguments, on the connection.
    ///
    /// # Errors
    ///
    /// As [`Connection::call`].
    pub(super) async fn invoke<T: FromRedisValue>(
        &self,
        what: &str,
        retry: Retry,
        script: &ScriptInvocation<'_>,
    ) -> Result<T, StoreError> {
        self.call(what, retry, |mut connection| async move {
            script.invoke_async(&mut connection).await
        })
        .await
    }

    /// The connection in use and its number, made if there is none; a
    /// failure to make it sent nothing.
    async fn connection(&self) -> Result<(u64, MultiplexedConnection), Failure> {
        if let Some(found) = self.in_use() {
            return Ok(found);
        }
        let _connecting = self.connecting.lock().await;
        if let Some(found) = self.in_use() {
            return Ok(found);
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout));
        let made = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|error| Failure::Unsent(store_error(&self.secrets, "connecting", &error)))?;
        let mut current = self.lock();
        current.made += 1;
        current.connection = Some(made.clone());
        Ok((current.made, made))
    }

    fn in_use(&self) -> Option<(u64, MultiplexedConnection)> {
        let current = self.lock();
        current
            .connection
            .clone()
            .map(|connection| (current.made, connection))
    }

    /// Drops connection number `made` if it is still the one in use.
    fn replace(&self, made: u64) {
        let mut current = self.lock();
        if current.made == made {
            current.connection = None;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Current> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A call on connection number `made`: unless it ends with an answer that
/// leaves the connection trusted, the connection is replaced (also when the
/// call is dropped: its deadline passed, or its caller's did).
struct InUse<'a> {
    owner: &'a Connection,
    made: u64,
    trusted: bool,
}

impl Drop for InUse<'_> {
    fn drop(&mut self) {
        if !self.trusted {
            self.owner.replace(self.made);
        }
    }
}
