//! [`SqliteStoreBuilder`]: the settings of an [`SqliteStore`], and the
//! file it opens with them.

use std::path::Path;
use std::time::Duration;

use tasks_runtime::cluster::rules::DEFAULT_RETENTION;
use tasks_runtime::cluster::StoreError;

use super::open::open_connection;
use super::store::SqliteStore;
use crate::shared::settings::setter;
use crate::shared::tables::{check_table_prefix, DEFAULT_TABLE_PREFIX};

/// How long a call waits for another connection's transaction, unless told
/// otherwise.
const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

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
    setter! {
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
        table_prefix: impl Into<String>
    }

    setter! {
        /// How long a call may take, before it fails as
        /// [`Unavailable`](tasks_runtime::cluster::StoreErrorKind::Unavailable):
        /// waiting while another call of the store uses its connection,
        /// waiting while another connection (another process) holds the
        /// file's write lock, and its own work, which is interrupted then.
        /// 5 seconds unless told otherwise; also how long opening the file
        /// waits for its lock.
        ///
        /// ```
        /// use std::time::Duration;
        /// use tasks_stores::SqliteStore;
        ///
        /// let builder = SqliteStore::builder().busy_timeout(Duration::from_millis(500));
        /// # drop(builder);
        /// ```
        busy_timeout: Duration
    }

    setter! {
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
        retention: Duration
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
        Ok(SqliteStore::new(
            path,
            self.table_prefix,
            connection,
            self.busy_timeout,
            self.retention,
        ))
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
}
