//! Which SQLite errors a later attempt may get past
//! ([`Unavailable`](tasks_runtime::cluster::StoreErrorKind::Unavailable):
//! the file locked, unreadable, full) and which it will not
//! ([`Invalid`](tasks_runtime::cluster::StoreErrorKind::Invalid): tables of
//! another shape, a value of another type), by SQLite's error code.

use rusqlite::ErrorCode;
use tasks_runtime::cluster::StoreError;

use crate::shared::secret::Secrets;

/// The codes of the errors a later attempt may get past.
const UNAVAILABLE_CODES: [ErrorCode; 7] = [
    ErrorCode::DatabaseBusy,
    ErrorCode::DatabaseLocked,
    ErrorCode::SystemIoFailure,
    ErrorCode::DiskFull,
    ErrorCode::CannotOpen,
    ErrorCode::OutOfMemory,
    ErrorCode::FileLockingProtocolFailed,
];

/// Why a call on the connection failed: SQLite's error, or a row the store
/// does not understand.
pub(super) enum Failed {
    Sqlite(rusqlite::Error),
    Store(StoreError),
}

impl From<rusqlite::Error> for Failed {
    fn from(error: rusqlite::Error) -> Self {
        Failed::Sqlite(error)
    }
}

impl From<StoreError> for Failed {
    fn from(error: StoreError) -> Self {
        Failed::Store(error)
    }
}

impl Failed {
    /// The store error, for a call doing `what`.
    pub(super) fn into_store_error(self, what: &str) -> StoreError {
        match self {
            Failed::Sqlite(error) => sqlite_error(what, &error),
            Failed::Store(error) => error,
        }
    }
}

/// Whether another connection holds the lock.
pub(super) fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// The store error for an SQLite error while doing `what`. Messages name
/// no path.
pub(super) fn sqlite_error(what: &str, error: &rusqlite::Error) -> StoreError {
    let secrets = Secrets::default();
    let context = format!("SQLite, {what}");
    match error.sqlite_error_code() {
        Some(code) if UNAVAILABLE_CODES.contains(&code) => secrets.unavailable(&context, error),
        _ => secrets.invalid(&context, error),
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::ffi;
    use tasks_runtime::cluster::StoreErrorKind;

    use super::*;

    fn kind(code: i32) -> StoreErrorKind {
        let error = rusqlite::Error::SqliteFailure(ffi::Error::new(code), None);
        sqlite_error("testing", &error).kind()
    }

    #[test]
    fn a_later_attempt_may_pass_these() {
        for code in [
            ffi::SQLITE_BUSY,
            ffi::SQLITE_LOCKED,
            ffi::SQLITE_IOERR,
            ffi::SQLITE_FULL,
            ffi::SQLITE_CANTOPEN,
            ffi::SQLITE_NOMEM,
            ffi::SQLITE_PROTOCOL,
        ] {
            assert_eq!(kind(code), StoreErrorKind::Unavailable, "{code}");
        }
    }

    #[test]
    fn no_later_attempt_passes_these() {
        for code in [
            ffi::SQLITE_ERROR, // no such table or column: another schema
            ffi::SQLITE_CONSTRAINT,
            ffi::SQLITE_MISMATCH,
            ffi::SQLITE_NOTADB,
            ffi::SQLITE_CORRUPT,
            ffi::SQLITE_READONLY,
        ] {
            assert_eq!(kind(code), StoreErrorKind::Invalid, "{code}");
        }
        let of_another_type =
            rusqlite::Error::InvalidColumnType(0, "fence".to_owned(), rusqlite::types::Type::Text);
        let error = sqlite_error("testing", &of_another_type);
        assert_eq!(error.kind(), StoreErrorKind::Invalid);
    }
}
