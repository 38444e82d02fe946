//! The connections of [`PostgresStore`](super::PostgresStore): a statement
//! sent on a connection from the pool, the tables created before the first
//! one, within the store's deadline and tried again as
//! [`Retry`] allows; a connection whose call did not end with an answer is
//! dropped from the pool. Claims (and the calls that go with them) use all
//! the pool's connections but one, which is kept for leases, so that a
//! burst of claims never holds up a renewal.

use std::error::Error as StdError;
use std::time::Duration;

use deadpool_postgres::{ClientWrapper, Object, Pool};
use tasks_runtime::cluster::StoreError;
use tokio::sync::{OnceCell, Semaphore, SemaphorePermit};
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
    /// A permit per connection the claims' lane may hold at once: the
    /// pool's size less one, kept for leases (a pool of one is shared).
    claims: Semaphore,
}

/// Which calls a call waits with for a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lane {
    /// Claims, their finishes and reads, pruning: all connections but one.
    Claims,
    /// Leases and their releases: any connection, the last one included.
    Leases,
}

/// The calls of the leases' lane: [`Connections::leases`].
pub(super) struct Leases<'a>(&'a Connections);

impl Connections {
    pub(super) fn new(
        pool: Pool,
        create_tables: Option<String>,
        timeout: Duration,
        secrets: Secrets,
    ) -> Self {
        let claims = Semaphore::new(pool.status().max_size.saturating_sub(1).max(1));
        Self {
            pool,
            create_tables,
            tables_ready: OnceCell::new(),
            timeout,
            secrets,
            claims,
        }
    }

    /// The calls of leases, which never wait behind claims for a
    /// connection: the claims leave one free.
    pub(super) fn leases(&self) -> Leases<'_> {
        Leases(self)
    }

    /// The store's deadline for a call.
    pub(super) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// How many connections the pool keeps at most.
    pub(super) fn pool_size(&self) -> usize {
        self.pool.status().max_size
    }

    /// Sends `sql` with `params`, in the claims' lane, and reads its row
    /// (if any) with `read`.
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
        self.query_in(Lane::Claims, what, retry, sql, params, read)
            .await
    }

    /// Sends `sql` with `params`, in the claims' lane, for what it does
    /// rather than a row: a statement that does the same if sent twice, so
    /// tried again when the connection is lost.
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

    async fn query_in<T>(
        &self,
        lane: Lane,
        what: &str,
        retry: Retry,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        read: impl Fn(Option<Row>) -> Result<T, AnswerError>,
    ) -> Result<T, StoreError> {
        call::run("PostgreSQL", what, self.timeout, retry, || {
            self.attempt(lane, what, sql, params, &read)
        })
        .await
    }

    async fn attempt<T>(
        &self,
        lane: Lane,
        what: &str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        read: &impl Fn(Option<Row>) -> Result<T, AnswerError>,
    ) -> Result<T, Failure> {
        let mut checkout = self.checkout(lane, what).await.map_err(Failure::Final)?;
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

    /// A connection from the pool for a call of `lane`, not found closed
    /// (a few tries).
    async fn checkout(&self, lane: Lane, what: &str) -> Result<Checkout<'_>, StoreError> {
        let mut tries = 0;
        loop {
            tries += 1;
            let in_lane = match lane {
                // Never closed: the semaphore lives as long as `self`.
                Lane::Claims => self.claims.acquire().await.ok(),
                Lane::Leases => None,
            };
            let client = self
                .pool
                .get()
                .await
                .map_err(|error| pool_error(&self.secrets, self.timeout, what, error))?;
            let checkout = Checkout {
                client: Some(client),
                answered: false,
                _in_lane: in_lane,
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

impl Leases<'_> {
    /// [`Connections::query`], in the leases' lane.
    ///
    /// # Errors
    ///
    /// As [`Connections::query`].
    pub(super) async fn query<T>(
        &self,
        what: &str,
        retry: Retry,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        read: impl Fn(Option<Row>) -> Result<T, AnswerError>,
    ) -> Result<T, StoreError> {
        self.0
            .query_in(Lane::Leases, what, retry, sql, params, read)
            .await
    }

    /// [`Connections::execute`], in the leases' lane.
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
}

/// A connection taken from the pool for one call: dropped from the pool
/// unless the call ended with an answer, so that a connection whose call
/// timed out or was lost is not used again. A claim's holds its place in
/// the claims' lane until then.
struct Checkout<'a> {
    client: Option<Object>,
    answered: bool,
    _in_lane: Option<SemaphorePermit<'a>>,
}

impl Checkout<'_> {
    fn client(&self) -> &ClientWrapper {
        self.client
            .as_ref()
            .expect("a checkout holds its client until dropped")
    }
}

impl Drop for Checkout<'_> {
    fn drop(&mut self) {
        if let (false, Some(client)) = (self.answered, self.client.take()) {
            drop(Object::take(client));
        }
    }
}
