//! Opening the file of [`SqliteStore`](super::SqliteStore): in WAL mode,
//! with a busy timeout, its tables created if they are missing.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tasks_runtime::cluster::StoreError;

use super::errors::{is_busy, sqlite_error};
use super::sql::TABLES;
use crate::shared::secret::Message;
use crate::shared::tables::with_table_prefix;

/// Opens the file, in WAL mode, with its tables; retried while another
/// process holds a lock that the busy timeout does not wait for (switching
/// a new file to WAL mode).
pub(super) fn open_connection(
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
