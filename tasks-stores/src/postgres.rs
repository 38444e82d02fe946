//! [`PostgresStore`]: replicas on several machines, coordinated through
//! PostgreSQL tables and judged by the database's clock.
//!
//! Each claim is one statement: the loop's token counter incremented and
//! the slot inserted (`INSERT ... ON CONFLICT ... RETURNING`), against
//! `now()`; two replicas that claim at once are ordered by the database,
//! and exactly one wins. A lease is one row per loop, taken or renewed by
//! one statement comparing its expiry with `now()`. The tables are those of
//! `sql/postgres.sql` in this crate, under a configurable prefix, created
//! on first use in the connection's schema (its `search_path`), after an
//! advisory lock so that replicas starting together do not race.
//!
//! Connections come from a [deadpool](deadpool_postgres) pool: the store
//! makes one without TLS ([`PostgresStore::connect`]) or with the TLS
//! connector you give ([`PostgresStoreBuilder::connect_with`]), or uses
//! yours ([`PostgresStoreBuilder::from_pool`]). Every call has a deadline
//! (5 seconds unless told otherwise): a database that does not answer in
//! time makes the call fail as
//! [`Unavailable`](tasks_runtime::cluster::StoreErrorKind::Unavailable), and
//! the connection is dropped; the store's own connections also carry the
//! deadline as PostgreSQL's `statement_timeout`. After the database
//! restarts the pool connects again, and the calls succeed again.
//!
//! Failures that a later attempt may get past (the database down, a
//! connection lost, a timeout, a failover to a read-only server, a wrong
//! password) are [`Unavailable`](tasks_runtime::cluster::StoreErrorKind::Unavailable);
//! tables of another shape are
//! [`Invalid`](tasks_runtime::cluster::StoreErrorKind::Invalid).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use deadpool_postgres::{
    ClientWrapper, Hook, HookError, Manager, ManagerConfig, Object, Pool, PoolError,
    RecyclingMethod, Runtime,
};
use futures_util::future::BoxFuture;
use sha2::{Digest, Sha256};
use tasks_runtime::cluster::{
    Claimed, Fence, FinishedSlot, Lease, LeaseRequest, ReplicaId, SlotClaim, SlotFinish,
    SlotOutcome, Store, StoreError,
};
use tokio::sync::OnceCell;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{NoTls, Socket};

/// The PostgreSQL client this store is built on, for a
/// [`Config`](tokio_postgres::Config) and TLS connectors of the same version.
pub use tokio_postgres;

/// The connection pool this store is built on, for a [`Pool`] of your own.
pub use deadpool_postgres;

use crate::secret::{Message, Secrets};
use crate::tables::{check_table_prefix, with_table_prefix, DEFAULT_TABLE_PREFIX};
use crate::time::{micros, slot_from_nanos, slot_nanos, CLAIMS_PER_PRUNING, DEFAULT_RETENTION};

/// The tables, for the default prefix.
const TABLES: &str = include_str!("../sql/postgres.sql");

/// How long a call may take, unless told otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// How many connections the store's own pool keeps, unless told otherwise.
const DEFAULT_POOL_SIZE: usize = 4;

/// The `application_name` of the store's connections, unless the
/// configuration names one.
const APPLICATION_NAME: &str = "tasks-stores";

/// A store in PostgreSQL tables: for replicas on several machines.
///
/// Nothing is connected when it is made: the first call connects (and
/// creates the tables), so a replica starts while the database is down.
/// Cloning it shares its pool.
///
/// ```no_run
/// // Needs a PostgreSQL server.
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use tasks_runtime::cluster::{Claimed, ReplicaId, SlotClaim, Store};
/// use tasks_stores::PostgresStore;
///
/// let store = PostgresStore::connect("postgres://app@db.internal:5432/app")?;
/// let replica = ReplicaId::generate();
/// let claim = SlotClaim {
///     loop_name: "nightly-report",
///     slot: chrono::Utc::now(),
///     replica: &replica,
///     lease: Duration::from_secs(60),
///     early_tolerance: Duration::from_millis(50),
///     takeover: None,
///     tzdb: "2025b",
/// };
/// if let Claimed::Won { fence } = store.claim(claim).await? {
///     println!("this replica runs the slot, with token {fence}");
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    table_prefix: String,
    sql: Statements,
    create_tables: Option<String>,
    tables_ready: OnceCell<()>,
    timeout: Duration,
    retention: Duration,
    secrets: Secrets,
    claims_since_pruning: AtomicU32,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("table_prefix", &self.inner.table_prefix)
            .field("timeout", &self.inner.timeout)
            .field("retention", &self.inner.retention)
            .field("pool_size", &self.inner.pool.status().max_size)
            .finish_non_exhaustive()
    }
}

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
    pub fn table_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.table_prefix = prefix.into();
        self
    }

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
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long a claim is kept after its lease (or its takeover window)
    /// has run out: a day unless told otherwise. A slot whose claim is gone
    /// could be claimed again, so keep it longer than any replica could be
    /// late for a slot. The last finished slot of each loop is kept anyway.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let builder =
    ///     tasks_stores::PostgresStore::builder().retention(Duration::from_secs(7 * 24 * 3600));
    /// # drop(builder);
    /// ```
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// How many connections the store's own pool keeps (4 unless told
    /// otherwise). Not used by [`from_pool`](PostgresStoreBuilder::from_pool).
    ///
    /// ```
    /// let builder = tasks_stores::PostgresStore::builder().pool_size(8);
    /// # drop(builder);
    /// ```
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// Whether the store creates its tables on first use (`true` unless
    /// told otherwise). Say `false` when they come from a migration (the
    /// SQL is `sql/postgres.sql` in this crate) and the store's role may not
    /// create tables.
    ///
    /// ```
    /// let builder = tasks_stores::PostgresStore::builder().create_tables(false);
    /// # drop(builder);
    /// ```
    pub fn create_tables(mut self, create: bool) -> Self {
        self.create_tables = create;
        self
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
        self.connect_with_secrets(config, NoTls, secrets)
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
        self.connect_with_secrets(config, tls, Secrets::default())
    }

    fn connect_with_secrets<T>(
        self,
        mut config: tokio_postgres::Config,
        tls: T,
        mut secrets: Secrets,
    ) -> Result<PostgresStore, StoreError>
    where
        T: MakeTlsConnect<Socket> + Clone + Sync + Send + 'static,
        T::Stream: Sync + Send,
        T::TlsConnect: Sync + Send,
        <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
    {
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
        let manager = Manager::from_config(
            config,
            tls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
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
        let create_tables = self.create_tables.then(|| {
            let lock = advisory_lock_key(&self.table_prefix);
            format!(
                "SELECT pg_advisory_xact_lock({lock});\n{}",
                with_table_prefix(TABLES, &self.table_prefix)
            )
        });
        PostgresStore {
            inner: Arc::new(Inner {
                pool,
                sql: Statements::new(&self.table_prefix),
                table_prefix: self.table_prefix,
                create_tables,
                tables_ready: OnceCell::new(),
                timeout: self.timeout,
                retention: self.retention,
                secrets,
                claims_since_pruning: AtomicU32::new(0),
            }),
        }
    }
}

/// The advisory lock under which the tables of `prefix` are created: a
/// 64-bit FNV-1a hash of the prefix, the same in every replica.
fn advisory_lock_key(prefix: &str) -> i64 {
    let hash = format!("tasks-stores tables {prefix}")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// The statements of the store, for its table prefix.
struct Statements {
    claim: String,
    claim_holder: String,
    finish: String,
    last_finished: String,
    acquire: String,
    renew: String,
    live_holder: String,
    release: String,
    prune: String,
}

impl Statements {
    fn new(prefix: &str) -> Self {
        let sql = |text: &str| with_table_prefix(text, prefix);
        Self {
            // $1 loop key, $2 slot (ns), $3 the earliest time the claim is
            // accepted, $4 holder, $5 tzdb, $6 lease (µs), $7 the end of
            // the slot's takeover window (or the slot), $8 retention (µs),
            // $9 the end of the takeover window, NULL without takeover,
            // $10 loop name.
            claim: sql(r#"
                WITH clock AS (SELECT now() AS now),
                fence AS (
                    INSERT INTO "tasks_fences" AS f (loop_key, loop_name, fence)
                    SELECT $1::bytea, $10::text, 1 FROM clock
                    WHERE clock.now >= $3::timestamptz
                    ON CONFLICT (loop_key) DO UPDATE SET fence = f.fence + 1
                    RETURNING f.fence
                ),
                claim AS (
                    INSERT INTO "tasks_claims" AS c
                        (loop_key, slot_ns, loop_name, holder, fence, tzdb, claimed_at,
                         lease_until, keep_until)
                    SELECT $1::bytea, $2::bigint, $10::text, $4::text, fence.fence, $5::text,
                           clock.now, clock.now + $6::bigint * interval '1 microsecond',
                           greatest(clock.now + $6::bigint * interval '1 microsecond',
                                    $7::timestamptz)
                               + $8::bigint * interval '1 microsecond'
                    FROM fence, clock
                    ON CONFLICT (loop_key, slot_ns) DO UPDATE SET
                        holder = excluded.holder, fence = excluded.fence, tzdb = excluded.tzdb,
                        claimed_at = excluded.claimed_at, lease_until = excluded.lease_until,
                        keep_until = excluded.keep_until
                    WHERE c.outcome IS NULL
                      AND c.lease_until <= excluded.claimed_at
                      AND excluded.claimed_at <= $9::timestamptz
                    RETURNING c.fence
                )
                SELECT clock.now, clock.now < $3::timestamptz, (SELECT fence FROM claim)
                FROM clock"#),
            claim_holder: sql(r#"SELECT holder, tzdb FROM "tasks_claims"
                WHERE loop_key = $1::bytea AND slot_ns = $2::bigint"#),
            finish: sql(
                r#"UPDATE "tasks_claims" SET outcome = $4::text, finished_at = now()
                WHERE loop_key = $1::bytea AND slot_ns = $2::bigint AND fence = $3::bigint"#,
            ),
            last_finished: sql(r#"SELECT slot_ns, outcome, fence FROM "tasks_claims"
                WHERE loop_key = $1::bytea AND outcome IS NOT NULL
                ORDER BY slot_ns DESC LIMIT 1"#),
            // $1 loop key, $2 replica, $3 lease (µs), $4 loop name.
            acquire: sql(r#"
                WITH clock AS (SELECT now() AS now),
                live AS (
                    SELECT holder FROM "tasks_leases", clock
                    WHERE loop_key = $1::bytea AND expires > clock.now
                ),
                fence AS (
                    INSERT INTO "tasks_fences" AS f (loop_key, loop_name, fence)
                    SELECT $1::bytea, $4::text, 1 WHERE NOT EXISTS (SELECT 1 FROM live)
                    ON CONFLICT (loop_key) DO UPDATE SET fence = f.fence + 1
                    RETURNING f.fence
                ),
                lease AS (
                    INSERT INTO "tasks_leases" AS l (loop_key, loop_name, holder, fence, expires)
                    SELECT $1::bytea, $4::text, $2::text, fence.fence,
                           clock.now + $3::bigint * interval '1 microsecond'
                    FROM fence, clock
                    ON CONFLICT (loop_key) DO UPDATE SET
                        holder = excluded.holder, fence = excluded.fence,
                        expires = excluded.expires
                    WHERE l.expires <= (SELECT now FROM clock)
                    RETURNING l.fence
                )
                SELECT (SELECT fence FROM lease), (SELECT holder FROM live)"#),
            // $1 loop key, $2 replica, $3 token, $4 lease (µs).
            renew: sql(r#"UPDATE "tasks_leases"
                SET expires = now() + $4::bigint * interval '1 microsecond'
                WHERE loop_key = $1::bytea AND holder = $2::text AND fence = $3::bigint
                  AND expires > now()
                RETURNING fence"#),
            live_holder: sql(r#"SELECT holder FROM "tasks_leases"
                WHERE loop_key = $1::bytea AND expires > now()"#),
            release: sql(r#"DELETE FROM "tasks_leases"
                WHERE loop_key = $1::bytea AND holder = $2::text AND fence = $3::bigint"#),
            prune: sql(
                r#"DELETE FROM "tasks_claims" AS c WHERE c.keep_until < now()
                AND (c.outcome IS NULL OR c.slot_ns < (
                    SELECT max(finished.slot_ns) FROM "tasks_claims" AS finished
                    WHERE finished.loop_key = c.loop_key AND finished.outcome IS NOT NULL))"#,
            ),
        }
    }
}

/// The key of a loop in the tables: the SHA-256 of its name.
fn loop_key(loop_name: &str) -> Vec<u8> {
    Sha256::digest(loop_name.as_bytes()).to_vec()
}

/// Runs `$body` on a connection of `$inner` (`$client`), within the
/// store's deadline, after creating the tables if no call has yet; tries
/// again on another connection as `$retry` allows. `$body` is a block whose
/// value is a `Result<_, tokio_postgres::Error>`.
macro_rules! call {
    ($inner:expr, $what:expr, $retry:expr, |$client:ident| $body:block) => {{
        let inner: &Inner = $inner;
        inner
            .within_deadline($what, async {
                let mut tries = 0;
                loop {
                    tries += 1;
                    let checkout = inner.checkout($what).await?;
                    let result = async {
                        let $client = checkout.client();
                        inner.ensure_tables($client).await?;
                        $body
                    }
                    .await;
                    if let Some(answer) = inner.settle($what, $retry, tries, checkout, result)? {
                        break Ok(answer);
                    }
                }
            })
            .await
    }};
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

    /// The claim's statement as this store sends it (its parameters are
    /// described where it is written): the cluster benchmark sends it by
    /// hand, on the same connection, as the floor a claim is held against.
    #[doc(hidden)]
    pub fn claim_statement(&self) -> &str {
        &self.inner.sql.claim
    }

    /// Connects and creates the tables now rather than on the first call,
    /// to learn at start-up that the database is there and the tables
    /// usable.
    ///
    /// ```no_run
    /// // Needs a PostgreSQL server.
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let store = tasks_stores::PostgresStore::connect("postgres://app@db/app")?;
    /// store.prepare().await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As any call: [`Unavailable`](tasks_runtime::cluster::StoreErrorKind::Unavailable)
    /// if the database cannot be reached in time,
    /// [`Invalid`](tasks_runtime::cluster::StoreErrorKind::Invalid) if its
    /// tables have another shape.
    pub async fn prepare(&self) -> Result<(), StoreError> {
        let inner = &self.inner;
        call!(inner, "preparing", Retry::OnConnectionLoss, |client| {
            client.prepare_cached(&inner.sql.last_finished).await?;
            Ok(())
        })
    }
}

/// When a call is tried again on another connection.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// Also when the connection was lost during the call: the call changes
    /// nothing the second time that the first did not.
    OnConnectionLoss,
    /// Never once the call is sent (a connection found closed before is
    /// replaced): a claim or a new term, which must not be made twice.
    BeforeSending,
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

impl Inner {
    /// `call`, or an [`Unavailable`](tasks_runtime::cluster::StoreErrorKind::Unavailable)
    /// error once the store's deadline has passed.
    async fn within_deadline<T>(
        &self,
        what: &str,
        call: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::unavailable(Message(format!(
                "PostgreSQL, {what}: no answer within {:?}",
                self.timeout
            )))),
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
                .map_err(|error| self.pool_error(what, error))?;
            let checkout = Checkout {
                client: Some(client),
                answered: false,
            };
            if !checkout.client().is_closed() || tries >= 3 {
                return Ok(checkout);
            }
        }
    }

    /// What a call's `result` comes to: its answer, `None` to try again on
    /// another connection, or the error. The connection goes back to the
    /// pool only after an answer from the database.
    fn settle<T>(
        &self,
        what: &str,
        retry: Retry,
        tries: u32,
        mut checkout: Checkout,
        result: Result<T, tokio_postgres::Error>,
    ) -> Result<Option<T>, StoreError> {
        match result {
            Ok(value) => {
                checkout.answered = true;
                Ok(Some(value))
            }
            Err(error) => {
                let lost = is_connection_loss(&error);
                checkout.answered = !lost;
                if lost && retry == Retry::OnConnectionLoss && tries < 2 {
                    Ok(None)
                } else {
                    Err(self.error(what, &error))
                }
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

    /// A store error for a PostgreSQL error: the database unreachable,
    /// shutting down, out of resources, read-only, refusing the password or
    /// cancelling a statement that timed out is unavailable; anything else
    /// (tables of another shape) invalid.
    fn error(&self, what: &str, error: &tokio_postgres::Error) -> StoreError {
        let context = format!("PostgreSQL, {what}");
        let unavailable = match error.code() {
            Some(state) => {
                let code = state.code();
                ["08", "28", "40", "53", "57", "58"]
                    .iter()
                    .any(|class| code.starts_with(class))
                    || matches!(code, "25006" | "55P03" | "55006")
            }
            None => is_connection_loss(error) || !is_answer_error(error),
        };
        if unavailable {
            self.secrets.unavailable(&context, error)
        } else {
            self.secrets.invalid(&context, error)
        }
    }

    fn pool_error(&self, what: &str, error: PoolError) -> StoreError {
        let context = format!("PostgreSQL, {what}");
        match &error {
            PoolError::Backend(error) | PoolError::PostCreateHook(HookError::Backend(error)) => {
                self.error(what, error)
            }
            PoolError::Timeout(_) => self.secrets.unavailable(
                &format!("{context}: no connection within {:?}", self.timeout),
                &error,
            ),
            PoolError::Closed => self.secrets.unavailable(&context, &error),
            _ => self.secrets.invalid(&context, &error),
        }
    }

    /// Prunes the claims past their retention, in the background.
    fn prune_later(self: &Arc<Self>) {
        let inner = Arc::clone(self);
        tokio::spawn(async move {
            let pruned = call!(&inner, "pruning", Retry::OnConnectionLoss, |client| {
                let prune = client.prepare_cached(&inner.sql.prune).await?;
                client.execute(&prune, &[]).await
            });
            if let Err(error) = pruned {
                tracing::warn!("PostgreSQL store: pruning old claims failed: {error}");
            }
        });
    }
}

/// Whether the connection was lost (or never made): the error of a socket,
/// a closed connection, or a server going away.
fn is_connection_loss(error: &tokio_postgres::Error) -> bool {
    if error.is_closed() {
        return true;
    }
    if let Some(state) = error.code() {
        let code = state.code();
        return code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03");
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if cause.is::<std::io::Error>() {
            return true;
        }
        source = cause.source();
    }
    false
}

/// Whether an error without an SQL state is about an answer the store does
/// not understand (a column of another type), rather than the connection.
fn is_answer_error(error: &tokio_postgres::Error) -> bool {
    let text = error.to_string();
    [
        "error deserializing column",
        "invalid column",
        "query returned an unexpected number",
        "error serializing parameter",
        "expected ",
    ]
    .iter()
    .any(|start| text.starts_with(start))
}

fn fence_from(value: i64) -> Result<Fence, StoreError> {
    u64::try_from(value).map(Fence::new).map_err(|_| {
        StoreError::invalid(Message(format!("PostgreSQL: a fencing token of {value}")))
    })
}

/// A token as the tables keep it; one no row has (`-1`) if it cannot be.
fn fence_value(fence: Fence) -> i64 {
    i64::try_from(fence.get()).unwrap_or(-1)
}

/// `slot` moved by `by`, which [`micros`] keeps within a hundred years of
/// a slot the stores keep.
fn shifted(slot: DateTime<Utc>, by: Duration, later: bool) -> DateTime<Utc> {
    let by = TimeDelta::microseconds(micros(by));
    if later {
        slot + by
    } else {
        slot - by
    }
}

impl Store for PostgresStore {
    fn claim<'a>(&'a self, claim: SlotClaim<'a>) -> BoxFuture<'a, Result<Claimed, StoreError>> {
        Box::pin(async move {
            let inner = &self.inner;
            let slot_ns = slot_nanos(claim.slot)?;
            let key = loop_key(claim.loop_name);
            let not_before = shifted(claim.slot, claim.early_tolerance, false);
            let takeover_until = claim
                .takeover
                .map(|window| shifted(claim.slot, window, true));
            let held_until = takeover_until.unwrap_or(claim.slot);
            let lease = micros(claim.lease);
            let retention = micros(inner.retention);
            let (store_now, too_early, won): (DateTime<Utc>, bool, Option<i64>) =
                call!(inner, "claiming a slot", Retry::BeforeSending, |client| {
                    let statement = client.prepare_cached(&inner.sql.claim).await?;
                    let row = client
                        .query_one(
                            &statement,
                            &[
                                &key,
                                &slot_ns,
                                &not_before,
                                &claim.replica.as_str(),
                                &claim.tzdb,
                                &lease,
                                &held_until,
                                &retention,
                                &takeover_until,
                                &claim.loop_name,
                            ],
                        )
                        .await?;
                    Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?))
                })?;
            if too_early {
                return Ok(Claimed::TooEarly { store_now });
            }
            if let Some(fence) = won {
                if inner.claims_since_pruning.fetch_add(1, Ordering::Relaxed) % CLAIMS_PER_PRUNING
                    == CLAIMS_PER_PRUNING - 1
                {
                    inner.prune_later();
                }
                return Ok(Claimed::Won {
                    fence: fence_from(fence)?,
                });
            }
            let holder: Option<(String, String)> = call!(
                inner,
                "reading a slot's holder",
                Retry::OnConnectionLoss,
                |client| {
                    let statement = client.prepare_cached(&inner.sql.claim_holder).await?;
                    let row = client.query_opt(&statement, &[&key, &slot_ns]).await?;
                    row.map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
                        .transpose()
                }
            )?;
            // The row is gone only if it was pruned meanwhile: then the
            // slot was claimed long ago, by a holder no one remembers.
            let (holder, tzdb) =
                holder.map_or((String::new(), None), |(holder, tzdb)| (holder, Some(tzdb)));
            Ok(Claimed::Taken { holder, tzdb })
        })
    }

    fn finish<'a>(&'a self, finish: SlotFinish<'a>) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let inner = &self.inner;
            let key = loop_key(finish.loop_name);
            let slot_ns = slot_nanos(finish.slot)?;
            let fence = fence_value(finish.fence);
            let outcome = finish.outcome.as_str();
            call!(
                inner,
                "finishing a slot",
                Retry::OnConnectionLoss,
                |client| {
                    let statement = client.prepare_cached(&inner.sql.finish).await?;
                    client
                        .execute(&statement, &[&key, &slot_ns, &fence, &outcome])
                        .await?;
                    Ok(())
                }
            )
        })
    }

    fn last_finished<'a>(
        &'a self,
        loop_name: &'a str,
    ) -> BoxFuture<'a, Result<Option<FinishedSlot>, StoreError>> {
        Box::pin(async move {
            let inner = &self.inner;
            let key = loop_key(loop_name);
            let row: Option<(i64, String, i64)> = call!(
                inner,
                "reading the last finished slot",
                Retry::OnConnectionLoss,
                |client| {
                    let statement = client.prepare_cached(&inner.sql.last_finished).await?;
                    let row = client.query_opt(&statement, &[&key]).await?;
                    row.map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
                        .transpose()
                }
            )?;
            let Some((slot_ns, outcome, fence)) = row else {
                return Ok(None);
            };
            let outcome = SlotOutcome::parse(&outcome).ok_or_else(|| {
                StoreError::invalid(Message(format!(
                    "PostgreSQL: a slot's outcome of {outcome:?}"
                )))
            })?;
            Ok(Some(FinishedSlot {
                slot: slot_from_nanos(slot_ns),
                outcome,
                fence: fence_from(fence)?,
            }))
        })
    }

    fn lease<'a>(&'a self, request: LeaseRequest<'a>) -> BoxFuture<'a, Result<Lease, StoreError>> {
        Box::pin(async move {
            let inner = &self.inner;
            let key = loop_key(request.loop_name);
            let lease = micros(request.lease);
            let replica = request.replica.as_str();
            let (held, holder): (Option<i64>, Option<String>) = match request.renew {
                Some(fence) => {
                    let fence = fence_value(fence);
                    let renewed: Option<i64> = call!(
                        inner,
                        "renewing the lease",
                        Retry::OnConnectionLoss,
                        |client| {
                            let statement = client.prepare_cached(&inner.sql.renew).await?;
                            let row = client
                                .query_opt(&statement, &[&key, &replica, &fence, &lease])
                                .await?;
                            row.map(|row| row.try_get(0)).transpose()
                        }
                    )?;
                    (renewed, None)
                }
                None => call!(inner, "taking the lease", Retry::BeforeSending, |client| {
                    let statement = client.prepare_cached(&inner.sql.acquire).await?;
                    let row = client
                        .query_one(&statement, &[&key, &replica, &lease, &request.loop_name])
                        .await?;
                    Ok((row.try_get(0)?, row.try_get(1)?))
                })?,
            };
            if let Some(fence) = held {
                return Ok(Lease::Held {
                    fence: fence_from(fence)?,
                });
            }
            if holder.is_some() {
                return Ok(Lease::NotHeld { holder });
            }
            let holder: Option<String> = call!(
                inner,
                "reading the lease's holder",
                Retry::OnConnectionLoss,
                |client| {
                    let statement = client.prepare_cached(&inner.sql.live_holder).await?;
                    let row = client.query_opt(&statement, &[&key]).await?;
                    row.map(|row| row.try_get(0)).transpose()
                }
            )?;
            Ok(Lease::NotHeld { holder })
        })
    }

    fn release<'a>(
        &'a self,
        loop_name: &'a str,
        replica: &'a ReplicaId,
        fence: Fence,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let inner = &self.inner;
            let key = loop_key(loop_name);
            let fence = fence_value(fence);
            let replica = replica.as_str();
            call!(
                inner,
                "releasing the lease",
                Retry::OnConnectionLoss,
                |client| {
                    let statement = client.prepare_cached(&inner.sql.release).await?;
                    client
                        .execute(&statement, &[&key, &replica, &fence])
                        .await?;
                    Ok(())
                }
            )
        })
    }
}
