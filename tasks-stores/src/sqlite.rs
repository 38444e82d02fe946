//! [`SqliteStore`]: the embedded store, one file shared by the processes of
//! one machine, with history that survives a restart.
//!
//! The file is in WAL mode with a busy timeout, so that several processes
//! (and several stores of one process) use it at once; each claim and each
//! lease is one `BEGIN IMMEDIATE` transaction, which SQLite runs one at a
//! time across all of them. Its clock is the machine's, read by SQLite
//! (`unixepoch('subsec')`, to the millisecond) inside the transaction: every
//! replica on the machine reads the same one. The tables are those of
//! `sql/sqlite.sql` in this crate, created when the file is opened.
//!
//! Calls run on tokio's blocking threads ([`tokio::task::spawn_blocking`]),
//! so they need a tokio runtime.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::future::BoxFuture;
use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior};
use tasks_runtime::cluster::{
    Claimed, Fence, FinishedSlot, Lease, LeaseRequest, ReplicaId, SlotClaim, SlotFinish,
    SlotOutcome, Store, StoreError,
};

use crate::secret::{Message, Secrets};
use crate::tables::{check_table_prefix, with_table_prefix, DEFAULT_TABLE_PREFIX};
use crate::time::{
    millis, nanos, slot_from_nanos, slot_nanos, time_from_millis, CLAIMS_PER_PRUNING,
    DEFAULT_RETENTION,
};

/// The tables, for the default prefix.
const TABLES: &str = include_str!("../sql/sqlite.sql");

/// The machine's clock, as SQLite reads it, in milliseconds.
const NOW_MS: &str = "SELECT CAST(round(unixepoch('subsec') * 1000) AS INTEGER)";

/// How long a call waits for another connection's transaction, unless told
/// otherwise.
const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A store in an SQLite file: for the replicas of one machine (several
/// processes, or several loops of one process), with claims and leases that
/// survive a restart. Not for replicas on several machines: SQLite over a
/// network file system does not lock reliably.
///
/// Cloning it shares its connection; [`SqliteStore::open`] on the same file
/// makes another one.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use tasks_runtime::cluster::{Claimed, ReplicaId, SlotClaim, Store};
/// use tasks_stores::SqliteStore;
///
/// # let dir = std::env::temp_dir().join(format!("tasks-doc-sqlite-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// # let path = dir.join("tasks.db");
/// let store = SqliteStore::open(&path)?;
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
/// assert!(matches!(store.claim(claim).await?, Claimed::Won { .. }));
///
/// // The claim is in the file: a store opened on it later sees it.
/// let reopened = SqliteStore::open(&path)?;
/// assert!(matches!(reopened.claim(claim).await?, Claimed::Taken { .. }));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    table_prefix: String,
    connection: Mutex<Connection>,
    sql: Statements,
    retention: Duration,
    claims_since_pruning: AtomicU32,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .field("table_prefix", &self.inner.table_prefix)
            .field("retention", &self.inner.retention)
            .finish_non_exhaustive()
    }
}

/// The settings of an [`SqliteStore`], then [`open`](SqliteStoreBuilder::open).
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use tasks_stores::SqliteStore;
///
/// # let dir = std::env::temp_dir().join(format!("tasks-doc-builder-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// # let path = dir.join("app.db");
/// let store = SqliteStore::builder()
///     .table_prefix("jobs_")
///     .busy_timeout(Duration::from_secs(2))
///     .retention(Duration::from_secs(7 * 24 * 3600))
///     .open(&path)?;
/// # drop(store);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct SqliteStoreBuilder {
    table_prefix: String,
    busy_timeout: Duration,
    retention: Duration,
}

impl Default for SqliteStoreBuilder {
    fn default() -> Self {
        Self {
            table_prefix: DEFAULT_TABLE_PREFIX.to_owned(),
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            retention: DEFAULT_RETENTION,
        }
    }
}

impl SqliteStoreBuilder {
    /// The prefix of the tables' names (`tasks_` unless told otherwise): a
    /// lowercase letter or `_`, then lowercase letters, digits and `_`, at
    /// most 46 bytes. [`open`](SqliteStoreBuilder::open) checks it.
    ///
    /// ```
    /// use tasks_stores::SqliteStore;
    ///
    /// let refused = SqliteStore::builder().table_prefix("Jobs-").open("unused.db");
    /// assert!(refused.is_err());
    /// ```
    pub fn table_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.table_prefix = prefix.into();
        self
    }

    /// How long a call waits while another connection (another process)
    /// holds the file's write lock, before it fails as
    /// [`Unavailable`](tasks_runtime::cluster::StoreErrorKind::Unavailable):
    /// 5 seconds unless told otherwise.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tasks_stores::SqliteStore;
    ///
    /// let builder = SqliteStore::builder().busy_timeout(Duration::from_millis(500));
    /// # drop(builder);
    /// ```
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// How long a claim is kept after its lease (or its takeover window)
    /// has run out: a day unless told otherwise. A slot whose claim is gone
    /// could be claimed again, so keep it longer than any replica could be
    /// late for a slot. The last finished slot of each loop is kept anyway.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tasks_stores::SqliteStore;
    ///
    /// let builder = SqliteStore::builder().retention(Duration::from_secs(30 * 24 * 3600));
    /// # drop(builder);
    /// ```
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// Opens (or creates) the file at `path`, in WAL mode, and creates the
    /// tables if they are missing. This blocks while it opens the file:
    /// call it before the loops start, or on a blocking thread.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = std::env::temp_dir().join(format!("tasks-doc-open-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// let store = tasks_stores::SqliteStore::builder().open(dir.join("tasks.db"))?;
    /// # drop(store);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Invalid`](tasks_runtime::cluster::StoreErrorKind::Invalid) if the
    /// table prefix is not an identifier, the file is not an SQLite
    /// database, or its tables have another shape;
    /// [`Unavailable`](tasks_runtime::cluster::StoreErrorKind::Unavailable)
    /// if the file cannot be opened or stays locked for the busy timeout.
    pub fn open(self, path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        check_table_prefix(&self.table_prefix)?;
        let path = path.as_ref().to_owned();
        let connection = open_connection(&path, self.busy_timeout, &self.table_prefix)?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                sql: Statements::new(&self.table_prefix),
                path,
                table_prefix: self.table_prefix,
                connection: Mutex::new(connection),
                retention: self.retention,
                claims_since_pruning: AtomicU32::new(0),
            }),
        })
    }
}

/// Opens the file, in WAL mode, with its tables; retried while another
/// process holds a lock that the busy timeout does not wait for (switching
/// a new file to WAL mode).
fn open_connection(
    path: &Path,
    busy_timeout: Duration,
    table_prefix: &str,
) -> Result<Connection, StoreError> {
    let started = std::time::Instant::now();
    loop {
        match try_open_connection(path, busy_timeout, table_prefix) {
            Ok(connection) => return Ok(connection),
            Err(Opening::Failed(error)) if is_busy(&error) && started.elapsed() < busy_timeout => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(Opening::Failed(error)) => return Err(sqlite_error("opening the file", &error)),
            Err(Opening::NotWal(mode)) => {
                return Err(StoreError::invalid(Message(format!(
                    "SQLite, opening the file: it stays in {mode} mode, not WAL mode \
                     (a file system without shared memory?)"
                ))))
            }
        }
    }
}

/// Why a file did not open.
enum Opening {
    Failed(rusqlite::Error),
    /// It would not go into WAL mode: the journal mode it is in.
    NotWal(String),
}

impl From<rusqlite::Error> for Opening {
    fn from(error: rusqlite::Error) -> Self {
        Opening::Failed(error)
    }
}

fn try_open_connection(
    path: &Path,
    busy_timeout: Duration,
    table_prefix: &str,
) -> Result<Connection, Opening> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = Connection::open_with_flags(path, flags)?;
    connection.busy_timeout(busy_timeout)?;
    let mode: String = connection.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    // An in-memory database (`:memory:`) has no WAL: it is one connection's.
    if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
        return Err(Opening::NotWal(mode));
    }
    connection.pragma_update(None, "synchronous", "FULL")?;
    let tables = with_table_prefix(TABLES, table_prefix);
    connection.execute_batch(&format!("BEGIN IMMEDIATE;\n{tables}\nCOMMIT;"))?;
    Ok(connection)
}

fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// A store error for an SQLite error: the file locked or unreadable is
/// unavailable, anything else (another schema, a value of another type)
/// invalid. Messages name no path.
fn sqlite_error(context: &str, error: &rusqlite::Error) -> StoreError {
    let secrets = Secrets::default();
    let context = format!("SQLite, {context}");
    match error.sqlite_error_code() {
        Some(
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::SystemIoFailure
            | ErrorCode::DiskFull
            | ErrorCode::CannotOpen
            | ErrorCode::OutOfMemory
            | ErrorCode::FileLockingProtocolFailed,
        ) => secrets.unavailable(&context, error),
        _ => secrets.invalid(&context, error),
    }
}

/// The statements of the store, for its table prefix.
struct Statements {
    claim_row: String,
    next_fence: String,
    record_claim: String,
    finish: String,
    last_finished: String,
    lease_row: String,
    renew: String,
    record_lease: String,
    release: String,
    prune: String,
}

impl Statements {
    fn new(prefix: &str) -> Self {
        let sql = |text: &str| with_table_prefix(text, prefix);
        Self {
            claim_row: sql(
                r#"SELECT holder, tzdb, lease_until_ms, outcome FROM "tasks_claims"
                WHERE loop_name = ?1 AND slot_ns = ?2"#,
            ),
            next_fence: sql(
                r#"INSERT INTO "tasks_fences" (loop_name, fence) VALUES (?1, 1)
                ON CONFLICT (loop_name) DO UPDATE SET fence = fence + 1
                RETURNING fence"#,
            ),
            record_claim: sql(r#"INSERT INTO "tasks_claims"
                    (loop_name, slot_ns, holder, fence, tzdb, claimed_at_ms, lease_until_ms,
                     keep_until_ms)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                ON CONFLICT (loop_name, slot_ns) DO UPDATE SET
                    holder = excluded.holder, fence = excluded.fence, tzdb = excluded.tzdb,
                    claimed_at_ms = excluded.claimed_at_ms,
                    lease_until_ms = excluded.lease_until_ms,
                    keep_until_ms = excluded.keep_until_ms,
                    outcome = NULL, finished_at_ms = NULL"#),
            finish: sql(&format!(
                r#"UPDATE "tasks_claims" SET outcome = ?4, finished_at_ms = ({NOW_MS})
                WHERE loop_name = ?1 AND slot_ns = ?2 AND fence = ?3"#
            )),
            last_finished: sql(r#"SELECT slot_ns, outcome, fence FROM "tasks_claims"
                WHERE loop_name = ?1 AND outcome IS NOT NULL
                ORDER BY slot_ns DESC LIMIT 1"#),
            lease_row: sql(r#"SELECT holder, fence, expires_ms FROM "tasks_leases"
                WHERE loop_name = ?1"#),
            renew: sql(r#"UPDATE "tasks_leases" SET expires_ms = ?4
                WHERE loop_name = ?1 AND holder = ?2 AND fence = ?3"#),
            record_lease: sql(
                r#"INSERT INTO "tasks_leases" (loop_name, holder, fence, expires_ms)
                VALUES (?1, ?2, ?3, ?4)
                ON CONFLICT (loop_name) DO UPDATE SET
                    holder = excluded.holder, fence = excluded.fence,
                    expires_ms = excluded.expires_ms"#,
            ),
            release: sql(r#"DELETE FROM "tasks_leases"
                WHERE loop_name = ?1 AND holder = ?2 AND fence = ?3"#),
            prune: sql(r#"DELETE FROM "tasks_claims" WHERE keep_until_ms < ?1
                AND (outcome IS NULL OR slot_ns < (
                    SELECT max(finished.slot_ns) FROM "tasks_claims" AS finished
                    WHERE finished.loop_name = "tasks_claims".loop_name
                      AND finished.outcome IS NOT NULL))"#),
        }
    }
}

impl SqliteStore {
    /// Opens (or creates) the file at `path` with the default settings:
    /// tables prefixed `tasks_`, a busy timeout of 5 seconds, claims kept a
    /// day. [`SqliteStore::builder`] changes them.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = std::env::temp_dir().join(format!("tasks-doc-open2-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// let store = tasks_stores::SqliteStore::open(dir.join("tasks.db"))?;
    /// assert!(format!("{store:?}").contains("tasks.db"));
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`SqliteStoreBuilder::open`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::builder().open(path)
    }

    /// The settings, to change before [`open`](SqliteStoreBuilder::open).
    ///
    /// ```
    /// let builder = tasks_stores::SqliteStore::builder().table_prefix("jobs_");
    /// # drop(builder);
    /// ```
    pub fn builder() -> SqliteStoreBuilder {
        SqliteStoreBuilder::default()
    }

    /// The file.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = std::env::temp_dir().join(format!("tasks-doc-path-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// let store = tasks_stores::SqliteStore::open(dir.join("tasks.db"))?;
    /// assert_eq!(store.path(), dir.join("tasks.db"));
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `work` on the connection, on a blocking thread.
    async fn call<T, F>(&self, what: &'static str, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &Inner) -> rusqlite::Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        let joined = tokio::task::spawn_blocking(move || {
            let mut connection = inner
                .connection
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            work(&mut connection, &inner)
        })
        .await;
        match joined {
            Ok(result) => result.map_err(|error| sqlite_error(what, &error)),
            Err(join_error) => Err(StoreError::unavailable(Message(format!(
                "SQLite, {what}: the blocking call did not finish: {join_error}"
            )))),
        }
    }
}

/// The store's time, in milliseconds.
fn now_ms(connection: &Connection) -> rusqlite::Result<i64> {
    connection.query_row(NOW_MS, [], |row| row.get(0))
}

fn store_time(now_ms: i64) -> rusqlite::Result<chrono::DateTime<chrono::Utc>> {
    time_from_millis(now_ms).ok_or(rusqlite::Error::IntegralValueOutOfRange(0, now_ms))
}

fn fence_from(value: i64) -> rusqlite::Result<Fence> {
    u64::try_from(value)
        .map(Fence::new)
        .map_err(|_| rusqlite::Error::IntegralValueOutOfRange(0, value))
}

/// A token as the tables keep it; one no row has (`-1`) if it cannot be.
fn fence_value(fence: Fence) -> i64 {
    i64::try_from(fence.get()).unwrap_or(-1)
}

/// What a claim row says.
struct ClaimRow {
    holder: String,
    tzdb: String,
    lease_until_ms: i64,
    outcome: Option<String>,
}

impl Store for SqliteStore {
    fn claim<'a>(&'a self, claim: SlotClaim<'a>) -> BoxFuture<'a, Result<Claimed, StoreError>> {
        Box::pin(async move {
            let slot_ns = slot_nanos(claim.slot)?;
            let loop_name = claim.loop_name.to_owned();
            let holder = claim.replica.as_str().to_owned();
            let tzdb = claim.tzdb.to_owned();
            let not_before_ns = slot_ns.saturating_sub(nanos(claim.early_tolerance));
            let takeover_until_ns = claim
                .takeover
                .map(|window| slot_ns.saturating_add(nanos(window)));
            let lease_ms = millis(claim.lease);
            let prune = self
                .inner
                .claims_since_pruning
                .fetch_add(1, Ordering::Relaxed)
                % CLAIMS_PER_PRUNING
                == CLAIMS_PER_PRUNING - 1;
            self.call("claiming a slot", move |connection, inner| {
                let transaction =
                    connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let now_ms = now_ms(&transaction)?;
                let now_ns = now_ms.saturating_mul(1_000_000);
                if now_ns < not_before_ns {
                    return Ok(Claimed::TooEarly {
                        store_now: store_time(now_ms)?,
                    });
                }
                let existing = transaction
                    .prepare_cached(&inner.sql.claim_row)?
                    .query_row(params![loop_name, slot_ns], |row| {
                        Ok(ClaimRow {
                            holder: row.get(0)?,
                            tzdb: row.get(1)?,
                            lease_until_ms: row.get(2)?,
                            outcome: row.get(3)?,
                        })
                    })
                    .optional()?;
                if let Some(row) = existing {
                    let may_take_over = takeover_until_ns.is_some_and(|until_ns| {
                        row.outcome.is_none() && row.lease_until_ms <= now_ms && now_ns <= until_ns
                    });
                    if !may_take_over {
                        return Ok(Claimed::Taken {
                            holder: row.holder,
                            tzdb: Some(row.tzdb),
                        });
                    }
                }
                let fence: i64 = transaction
                    .prepare_cached(&inner.sql.next_fence)?
                    .query_row(params![loop_name], |row| row.get(0))?;
                let lease_until_ms = now_ms.saturating_add(lease_ms);
                let held_until_ms = takeover_until_ns.unwrap_or(slot_ns) / 1_000_000;
                let keep_until_ms = lease_until_ms
                    .max(held_until_ms)
                    .saturating_add(millis(inner.retention));
                transaction
                    .prepare_cached(&inner.sql.record_claim)?
                    .execute(params![
                        loop_name,
                        slot_ns,
                        holder,
                        fence,
                        tzdb,
                        now_ms,
                        lease_until_ms,
                        keep_until_ms
                    ])?;
                transaction.commit()?;
                if prune {
                    // Pruning is housekeeping: the claim stands whatever it
                    // answers.
                    if let Err(error) = connection
                        .prepare_cached(&inner.sql.prune)
                        .and_then(|mut prune| prune.execute(params![now_ms]))
                    {
                        tracing::warn!(
                            "SQLite store: pruning old claims failed: {}",
                            sqlite_error("pruning", &error)
                        );
                    }
                }
                Ok(Claimed::Won {
                    fence: fence_from(fence)?,
                })
            })
            .await
        })
    }

    fn finish<'a>(&'a self, finish: SlotFinish<'a>) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let slot_ns = slot_nanos(finish.slot)?;
            let loop_name = finish.loop_name.to_owned();
            let fence = fence_value(finish.fence);
            let outcome = finish.outcome.as_str();
            self.call("finishing a slot", move |connection, inner| {
                connection
                    .prepare_cached(&inner.sql.finish)?
                    .execute(params![loop_name, slot_ns, fence, outcome])?;
                Ok(())
            })
            .await
        })
    }

    fn last_finished<'a>(
        &'a self,
        loop_name: &'a str,
    ) -> BoxFuture<'a, Result<Option<FinishedSlot>, StoreError>> {
        Box::pin(async move {
            let loop_name = loop_name.to_owned();
            self.call(
                "reading the last finished slot",
                move |connection, inner| {
                    let row = connection
                        .prepare_cached(&inner.sql.last_finished)?
                        .query_row(params![loop_name], |row| {
                            Ok((
                                row.get::<_, i64>(0)?,
                                row.get::<_, String>(1)?,
                                row.get::<_, i64>(2)?,
                            ))
                        })
                        .optional()?;
                    let Some((slot_ns, outcome, fence)) = row else {
                        return Ok(None);
                    };
                    let outcome = SlotOutcome::parse(&outcome).ok_or_else(|| {
                        rusqlite::Error::FromSqlConversionFailure(
                            1,
                            rusqlite::types::Type::Text,
                            format!("an outcome of {outcome:?}").into(),
                        )
                    })?;
                    Ok(Some(FinishedSlot {
                        slot: slot_from_nanos(slot_ns),
                        outcome,
                        fence: fence_from(fence)?,
                    }))
                },
            )
            .await
        })
    }

    fn lease<'a>(&'a self, request: LeaseRequest<'a>) -> BoxFuture<'a, Result<Lease, StoreError>> {
        Box::pin(async move {
            let loop_name = request.loop_name.to_owned();
            let replica = request.replica.as_str().to_owned();
            let lease_ms = millis(request.lease);
            let renew = request.renew;
            self.call("taking the lease", move |connection, inner| {
                let transaction =
                    connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let now_ms = now_ms(&transaction)?;
                let current = transaction
                    .prepare_cached(&inner.sql.lease_row)?
                    .query_row(params![loop_name], |row| {
                        Ok((
                            row.get::<_, String>(0)?,
                            row.get::<_, i64>(1)?,
                            row.get::<_, i64>(2)?,
                        ))
                    })
                    .optional()?;
                let live = current.filter(|(_, _, expires_ms)| *expires_ms > now_ms);
                let expires_ms = now_ms.saturating_add(lease_ms);
                let answer = match (renew, live) {
                    (Some(fence), Some((holder, current, _)))
                        if holder == replica && current == fence_value(fence) =>
                    {
                        transaction
                            .prepare_cached(&inner.sql.renew)?
                            .execute(params![loop_name, replica, current, expires_ms])?;
                        Lease::Held { fence }
                    }
                    (Some(_), live) | (None, live @ Some(_)) => Lease::NotHeld {
                        holder: live.map(|(holder, _, _)| holder),
                    },
                    (None, None) => {
                        let fence: i64 = transaction
                            .prepare_cached(&inner.sql.next_fence)?
                            .query_row(params![loop_name], |row| row.get(0))?;
                        transaction
                            .prepare_cached(&inner.sql.record_lease)?
                            .execute(params![loop_name, replica, fence, expires_ms])?;
                        Lease::Held {
                            fence: fence_from(fence)?,
                        }
                    }
                };
                transaction.commit()?;
                Ok(answer)
            })
            .await
        })
    }

    fn release<'a>(
        &'a self,
        loop_name: &'a str,
        replica: &'a ReplicaId,
        fence: Fence,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let loop_name = loop_name.to_owned();
            let replica = replica.as_str().to_owned();
            let fence = fence_value(fence);
            self.call("releasing the lease", move |connection, inner| {
                connection
                    .prepare_cached(&inner.sql.release)?
                    .execute(params![loop_name, replica, fence])?;
                Ok(())
            })
            .await
        })
    }
}
