//! The connection of [`RedisStore`](super::RedisStore): one multiplexed
//! connection, made on the first call and reconnected when lost; each call
//! within the store's deadline, and tried again as [`Retry`] allows.

use std::future::Future;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, FromRedisValue, RedisError, ScriptInvocation};
use tasks_runtime::cluster::StoreError;
use tokio::sync::OnceCell;

use super::errors::{failure, store_error};
use crate::shared::call::{self, Failure, Retry};
use crate::shared::secret::Secrets;

/// The client, its connection once made, and what every call needs.
pub(super) struct Connection {
    client: Client,
    connection: OnceCell<ConnectionManager>,
    timeout: Duration,
    secrets: Secrets,
}

impl Connection {
    pub(super) fn new(client: Client, timeout: Duration, secrets: Secrets) -> Self {
        Self {
            client,
            connection: OnceCell::new(),
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
    pub(super) async fn call<T, F, Fut>(
        &self,
        what: &str,
        retry: Retry,
        call: F,
    ) -> Result<T, StoreError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        call::run("Redis", what, self.timeout, retry, || async {
            let connection = self.connection().await.map_err(Failure::Final)?;
            call(connection)
                .await
                .map_err(|error| failure(&self.secrets, what, &error))
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

    /// The connection, made on first use.
    async fn connection(&self) -> Result<ConnectionManager, StoreError> {
        self.connection
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.timeout))
                    .set_response_timeout(Some(self.timeout))
                    .set_number_of_retries(0);
                ConnectionManager::new_lazy_with_config(self.client.clone(), config)
            })
            .await
            .cloned()
            .map_err(|error| store_error(&self.secrets, "connecting", &error))
    }
}
