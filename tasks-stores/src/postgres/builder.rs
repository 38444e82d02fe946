//! [`PostgresStoreBuilder`]: the settings of a [`PostgresStore`], and the
//! pool it makes of them (or is given).

use std::time::Duration;

use deadpool_postgres::{Hook, HookError, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tasks_runtime::cluster::rules::DEFAULT_RETENTION;
use tasks_runtime::cluster::StoreError;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{NoTls, Socket};

use super::pool::Connections;
use super::sql::create_tables;
use super::store::PostgresStore;
use crate::shared::secret::Secrets;
use crate::shared::settings::setter;
use crate::shared::tables::{check_table_prefix, DEFAULT_TABLE_PREFIX};

/// How long a call may take, unless told otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// How many connections the store's own pool keeps, unless told otherwise.
const DEFAULT_POOL_SIZE: usize = 4;

/// The `application_name` of the store's connections, unless the
/// configuration names one.
const APPLICATION_NAME: &str = "tasks-stores";

/// The settings of a [`PostgresStore`], then
/// [`connect`](PostgresStoreBuilder::connect),
/// [`connect_with`](PostgresStoreBuilder::connect_with) (TLS) or
/// [`from_pool`](PostgresStoreBuilder::from_pool).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use tasks_stores::PostgresStore;
///
/// // Nothing connects until the first call.
/// let store = PostgresStore::builder()
///     .table_prefix("billing_tasks_")
///     .timeout(Duration::from_secs(2))
///     .pool_size(2)
///     .connect("postgres://app@db.internal/app")?;
/// assert!(format!("{store:?}").contains("billing_tasks_"));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct PostgresStoreBuilder {
    table_prefix: String,
    timeout: Duration,
    retention: Duration,
    pool_size: usize,
    create_tables: bool,
}

impl Default for PostgresStoreBuilder {
    fn default() -> Self {
        Self {
            table_prefix: DEFAULT_TABLE_PREFIX.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            retention: DEFAULT_RETENTION,
            pool_size: DEFAULT_POOL_SIZE,
            create_tables: true,
        }
    }
}

impl PostgresStoreBuilder {
    setter! {
        /// The prefix of the tables' names (`tasks_` unless told otherwise): a
        /// lowercase letter or `_`, then lowercase letters, digits and `_`, at
        /// most 46 bytes. The store quotes the names it makes of it.
        ///
        /// ```
        /// use tasks_runtime::cluster::StoreErrorKind;
        /// use tasks_stores::PostgresStore;
        ///
        /// let refused = PostgresStore::builder()
        ///     .table_prefix("tasks; DROP TABLE users")
        ///     .connect("postgres://app@db/app")
        ///     .unwrap_err();
        /// assert_eq!(refused.kind(), StoreErrorKind::Invalid);
        /// ```
        table_prefix: impl Into<String>
    }

    setter! {
        /// How long a call may take, from waiting for a connection to the
        /// answer, before it fails as
        /// [`Unavailable`](tasks_runtime::cluster::StoreErrorKind::Unavailable):
        /// 5 seconds unless told otherwise. The store's own connections also
        /// use it as their connection timeout and `statement_timeout`.
        ///
        /// ```
        /// use std::time::Duration;
        ///
        /// let builder = tasks_stores::PostgresStore::builder().timeout(Duration::from_secs(1));
        /// # drop(builder);
        /// ```
        timeout: Duration
    }

    setter! {
        /// How long a claim is kept after its lease (or its takeover window)
        /// has run out: a day unless told otherwise. A slot whose claim is gone
        /// could be claimed again, so keep it longer than any replica could be
        /// late for a slot. The last finished slot of each loop is kept anyway.
        ///
        /// ```
        /// use std::time::Duration;
        ///
        /// let week = Duration::from_secs(7 * 24 * 3600);
        /// let builder = tasks_stores::PostgresStore::builder().retention(week);
        /// # drop(builder);
        /// ```
        retention: Duration
    }

    /// How many connections the store's own pool keeps (4 unless told
    /// otherwise). Claims use all of them but one, kept for leases, so that
    /// claims never starve a renewal (with 1, claims and leases share it).
    /// Not used by [`from_pool`](PostgresStoreBuilder::from_pool), whose
    /// pool's size counts the same way.
    ///
    /// ```
    /// let builder = tasks_stores::PostgresStore::builder().pool_size(8);
    /// # drop(builder);
    /// ```
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size.max(1);
        self
    }

    setter! {
        /// Whether the store creates its tables on first use (`true` unless
        /// told otherwise). Say `false` when they come from a migration (the
        /// SQL is `sql/postgres.sql` in this crate) and the store's role may not
        /// create tables.
        ///
        /// ```
        /// let builder = tasks_stores::PostgresStore::builder().create_tables(false);
        /// # drop(builder);
        /// ```
        create_tables: bool
    }

    /// A store with a pool of its own, without TLS, for a URL
    /// (`postgres://USER:PASSWORD@HOST:PORT/DB?...`) or a key-value
    /// connection string, as [`tokio_postgres::Config`] reads them. Nothing
    /// connects until the first call.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let store = tasks_stores::PostgresStore::builder().connect("postgres://app@db/app")?;
    /// # drop(store);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Invalid`](tasks_runtime::cluster::StoreErrorKind::Invalid) for a
    /// table prefix that is not an identifier or a URL that does not read;
    /// the message shows neither the URL nor its password.
    pub fn connect(self, url: &str) -> Result<PostgresStore, StoreError> {
        let secrets = Secrets::of_url(url);
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|error| secrets.invalid("PostgreSQL, reading the URL", &error))?;
        let (config, secrets) = self.configure(config, secrets)?;
        let manager = Manager::from_config(config, NoTls, manager_config());
        self.with_manager(manager, secrets)
    }

    /// A store with a pool of its own, connecting by `config` through the
    /// TLS connector `tls` (from `postgres-native-tls`,
    /// `tokio-postgres-rustls` or `postgres-openssl`, of the same
    /// `tokio-postgres` as [`tokio_postgres`]). Nothing connects until the
    /// first call.
    ///
    /// With `native-tls` and `postgres-native-tls`:
    ///
    /// ```no_run
    /// // Needs a PostgreSQL server with TLS.
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use tasks_stores::postgres::tokio_postgres;
    /// use tasks_stores::PostgresStore;
    ///
    /// let config: tokio_postgres::Config =
    ///     "postgres://app@db.internal/app?sslmode=require".parse()?;
    /// let connector = native_tls::TlsConnector::builder().build()?;
    /// let tls = postgres_native_tls::MakeTlsConnector::new(connector);
    /// let store = PostgresStore::builder().connect_with(config, tls)?;
    /// # drop(store);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Invalid`](tasks_runtime::cluster::StoreErrorKind::Invalid) for a
    /// table prefix that is not an identifier.
    pub fn connect_with<T>(
        self,
        config: tokio_postgres::Config,
        tls: T,
    ) -> Result<PostgresStore, StoreError>
    where
        T: MakeTlsConnect<Socket> + Clone + Sync + Send + 'static,
        T::Stream: Sync + Send,
        T::TlsConnect: Sync + Send,
        <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
    {
        let (config, secrets) = self.configure(config, Secrets::default())?;
        let manager = Manager::from_config(config, tls, manager_config());
        self.with_manager(manager, secrets)
    }

    /// `config` with the store's defaults where it says nothing (its
    /// application name, its connection timeout), and its password and
    /// hosts among the `secrets`.
    fn configure(
        &self,
        mut config: tokio_postgres::Config,
        mut secrets: Secrets,
    ) -> Result<(tokio_postgres::Config, Secrets), StoreError> {
        check_table_prefix(&self.table_prefix)?;
        if let Some(password) = config.get_password() {
            secrets.hide(&String::from_utf8_lossy(password));
        }
        for host in config.get_hosts() {
            if let tokio_postgres::config::Host::Tcp(name) = host {
                secrets.hide_name(name);
            }
        }
        if config.get_application_name().is_none() {
            config.application_name(APPLICATION_NAME);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(self.timeout);
        }
        Ok((config, secrets))
    }

    /// A store with a pool of its own, of `manager`'s connections.
    fn with_manager(self, manager: Manager, secrets: Secrets) -> Result<PostgresStore, StoreError> {
        let statement_timeout = format!(
            "SET statement_timeout = {}",
            self.timeout.as_millis().clamp(1, i32::MAX as u128)
        );
        let pool = Pool::builder(manager)
            .max_size(self.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(self.timeout))
            .create_timeout(Some(self.timeout))
            .recycle_timeout(Some(self.timeout))
            .post_create(Hook::async_fn(move |client, _| {
                let statement_timeout = statement_timeout.clone();
                Box::pin(async move {
                    client
                        .batch_execute(&statement_timeout)
                        .await
                        .map_err(HookError::Backend)
                })
            }))
            .build()
            .map_err(|error| secrets.invalid("PostgreSQL, making the pool", &error))?;
        Ok(self.build(pool, secrets))
    }

    /// A store on your pool: its connections, their TLS, their timeouts.
    /// The store's deadline still bounds each call.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use tasks_stores::postgres::deadpool_postgres::{Manager, Pool};
    /// use tasks_stores::postgres::tokio_postgres::{Config, NoTls};
    /// use tasks_stores::PostgresStore;
    ///
    /// let config: Config = "postgres://app@db.internal/app".parse()?;
    /// let pool = Pool::builder(Manager::new(config, NoTls)).max_size(2).build()?;
    /// let store = PostgresStore::builder().from_pool(pool)?;
    /// # drop(store);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Invalid`](tasks_runtime::cluster::StoreErrorKind::Invalid) for a
    /// table prefix that is not an identifier.
    pub fn from_pool(self, pool: Pool) -> Result<PostgresStore, StoreError> {
        check_table_prefix(&self.table_prefix)?;
        Ok(self.build(pool, Secrets::default()))
    }

    fn build(self, pool: Pool, secrets: Secrets) -> PostgresStore {
        let create_tables = self
            .create_tables
            .then(|| create_tables(&self.table_prefix));
        let connections = Connections::new(pool, create_tables, self.timeout, secrets);
        PostgresStore::new(connections, self.table_prefix, self.retention)
    }
}

/// How the pool's connections are recycled: checked only by the driver's
/// own flag, the calls' deadline catching the rest.
fn manager_config() -> ManagerConfig {
    ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    }
}

impl PostgresStore {
    /// A store with a pool of its own, without TLS, and the default
    /// settings: tables prefixed `tasks_`, a deadline of 5 seconds per
    /// call, claims kept a day, 4 connections. [`PostgresStore::builder`]
    /// changes them, and connects with TLS. Nothing connects until the
    /// first call.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let store = tasks_stores::PostgresStore::connect("postgres://app:hunter2@db/app")?;
    /// assert!(!format!("{store:?}").contains("hunter2"));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`PostgresStoreBuilder::connect`].
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        Self::builder().connect(url)
    }

    /// The settings, to change before connecting.
    ///
    /// ```
    /// let builder = tasks_stores::PostgresStore::builder().table_prefix("jobs_");
    /// # drop(builder);
    /// ```
    pub fn builder() -> PostgresStoreBuilder {
        PostgresStoreBuilder::default()
    }
}
