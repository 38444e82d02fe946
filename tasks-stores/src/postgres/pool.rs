//! The connections of [`PostgresStore`](super::PostgresStore): a statement
//! sent on a connection from the pool, the tables created before the first
//! one, within the store's deadline and tried again as
//! [`Retry`] allows; a connection whose call did not end with an answer is
//! dropped from the pool.

use std::error::Error as StdError;
use std::time::Duration;

use deadpool_postgres::{ClientWrapper, Object, Pool};
use tasks_runtime::cluster::StoreError;
use tokio::sync::OnceCell;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::errors::{is_connection_loss, pool_error, store_error};
use crate::shared::call::{self, Failure, Retry};
use crate::shared::secret::Secrets;

/// What a statement's row held that the store did not expect.
pub(super) type AnswerError = Box<dyn StdError + Send + Sync>;

/// The pool, and what every call on it needs.
pub(super) struct Connections {
    pool: Pool,
    /// What creates the tables, unless they come from a migration.
    create_tables: Option<String>,
    tables_ready: OnceCell<()>,
    timeout: Duration,
    secrets: Secrets,
}

impl Connections {
    pub(super) fn new(
        pool: Pool,
        create_tables: Option<String>,
        timeout: Duration,
        secrets: Secrets,
    ) -> Self {
        Self {
            pool,
            create_tables,
            tables_ready: OnceCell::new(),
            timeout,
            secrets,
        }
    }

    /// The store's deadline for a call.
    pub(super) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// How many connections the pool keeps at most.
    pub(super) fn pool_size(&self) -> usize {
        self.pool.status().max_size
    }

    /// Sends `sql` with `params` and reads its row (if any) with `read`.
    ///
    /// # Errors
    ///
    /// As [`call::run`]: the database's error, sorted by `errors`; a row
    /// `read` refuses is [`Invalid`](tasks_runtime::cluster::StoreErrorKind::Invalid).
    pub(super) async fn query<T>(
        &self,
        what: &str,
        retry: Retry,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        read: impl Fn(Option<Row>) -> Result<T, AnswerError>,
    ) -> Result<T, StoreError> {
        call::run("PostgreSQL", what, self.timeout, retry, || {
            self.attempt(what, sql, params, &read)
        })
        .await
    }

    /// Sends `sql` with `params`, for what it does rather than a row: a
    /// statement that does the same if sent twice, so tried again when the
    /// connection is lost.
    ///
    /// # Errors
    ///
    /// As [`Connections::query`].
    pub(super) async fn execute(
        &self,
        what: &str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<(), StoreError> {
        self.query(what, Retry::OnConnectionLoss, sql, params, |_| Ok(()))
            .await
    }

    async fn attempt<T>(
        &self,
        what: &str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        read: &impl Fn(Option<Row>) -> Result<T, AnswerError>,
    ) -> Result<T, Failure> {
        let mut checkout = self.checkout(what).await.map_err(Failure::Final)?;
        let sent = async {
            let client = checkout.client();
            self.ensure_tables(client).await?;
            let statement = client.prepare_cached(sql).await?;
            client.query_opt(&statement, params).await
        }
        .await;
        match sent {
            Ok(row) => {
                checkout.answered = true;
                read(row).map_err(|error| {
                    Failure::Final(
                        self.secrets
                            .invalid(&format!("PostgreSQL, {what}"), &*error),
                    )
                })
            }
            Err(error) if is_connection_loss(&error) => {
                Err(Failure::Lost(store_error(&self.secrets, what, &error)))
            }
            Err(error) => {
                checkout.answered = true;
                Err(Failure::Final(store_error(&self.secrets, what, &error)))
            }
        }
    }

    /// A connection from the pool, not found closed (a few tries).
    async fn checkout(&self, what: &str) -> Result<Checkout, StoreError> {
        let mut tries = 0;
        loop {
            tries += 1;
            let client = self
                .pool
                .get()
                .await
                .map_err(|error| pool_error(&self.secrets, self.timeout, what, error))?;
            let checkout = Checkout {
                client: Some(client),
                answered: false,
            };
            if !checkout.client().is_closed() || tries >= 3 {
                return Ok(checkout);
            }
        }
    }

    async fn ensure_tables(&self, client: &ClientWrapper) -> Result<(), tokio_postgres::Error> {
        self.tables_ready
            .get_or_try_init(|| async {
                match &self.create_tables {
                    Some(tables) => client.batch_execute(tables).await,
                    None => Ok(()),
                }
            })
            .await
            .map(|_| ())
    }
}

/// A connection taken from the pool for one call: dropped from the pool
/// unless the call ended with an answer, so that a connection whose call
/// timed out or was lost is not used again.
struct Checkout {
    client: Option<Object>,
    answered: bool,
}

impl Checkout {
    fn client(&self) -> &ClientWrapper {
        self.client
            .as_ref()
            .expect("a checkout holds its client until dropped")
    }
}

impl Drop for Checkout {
    fn drop(&mut self) {
        if let (false, Some(client)) = (self.answered, self.client.take()) {
            drop(Object::take(client));
        }
    }
}
