//! Which PostgreSQL errors a later attempt may get past
//! ([`Unavailable`](StoreErrorKind::Unavailable)) and which it will not
//! ([`Invalid`](StoreErrorKind::Invalid)), read from the error's SQLSTATE,
//! or, without one, from what the driver says of it (closed, an I/O error
//! beneath); never from its message.

use std::time::Duration;

use deadpool_postgres::{HookError, PoolError};
use tasks_runtime::cluster::{StoreError, StoreErrorKind};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::WrongType;

use crate::shared::secret::Secrets;

/// The classes of SQLSTATE (its first two characters) whose errors pass:
/// a connection exception, an authorization refused (a wrong password, for
/// now), a transaction rolled back (a serialization failure, a deadlock),
/// resources run out, an operator's intervention (a shutdown, a statement
/// cancelled by `statement_timeout`), a system error.
const UNAVAILABLE_CLASSES: [&str; 6] = ["08", "28", "40", "53", "57", "58"];

/// The other SQLSTATEs whose errors pass: a server gone read-only (a
/// failover to a standby), a lock or an object held by someone else.
const UNAVAILABLE_STATES: [SqlState; 3] = [
    SqlState::READ_ONLY_SQL_TRANSACTION,
    SqlState::LOCK_NOT_AVAILABLE,
    SqlState::OBJECT_IN_USE,
];

/// The SQLSTATEs outside class 08 that mean the connection is gone: the
/// server shutting down, or not accepting connections yet.
const LOST_STATES: [SqlState; 3] = [
    SqlState::ADMIN_SHUTDOWN,
    SqlState::CRASH_SHUTDOWN,
    SqlState::CANNOT_CONNECT_NOW,
];

/// The kind of an error the database answered with `state`.
fn kind_of_state(state: &SqlState) -> StoreErrorKind {
    let class = state.code().get(..2).unwrap_or_default();
    if UNAVAILABLE_CLASSES.contains(&class) || UNAVAILABLE_STATES.contains(state) {
        StoreErrorKind::Unavailable
    } else {
        StoreErrorKind::Invalid
    }
}

/// The kind of an error of sending a statement or receiving its rows (the
/// rows are read apart, and what they hold of another type is invalid
/// there): by its SQLSTATE; without one, an error of the connection (an
/// I/O error, a closed connection, TLS, a timeout), unless it is a
/// parameter of a type the statement does not take.
fn kind_of(error: &tokio_postgres::Error) -> StoreErrorKind {
    match error.code() {
        Some(state) => kind_of_state(state),
        None if has_source::<WrongType>(error) => StoreErrorKind::Invalid,
        None => StoreErrorKind::Unavailable,
    }
}

/// Whether the connection was lost (or never made): a closed connection,
/// a server going away, or an I/O error beneath.
pub(super) fn is_connection_loss(error: &tokio_postgres::Error) -> bool {
    match error.code() {
        _ if error.is_closed() => true,
        Some(state) => state.code().starts_with("08") || LOST_STATES.contains(state),
        None => has_source::<std::io::Error>(error),
    }
}

/// Whether an error of type `E` is among `error`'s sources.
fn has_source<E: std::error::Error + 'static>(error: &tokio_postgres::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if cause.is::<E>() {
            return true;
        }
        source = cause.source();
    }
    false
}

/// The store error for a PostgreSQL error while doing `what`.
pub(super) fn store_error(
    secrets: &Secrets,
    what: &str,
    error: &tokio_postgres::Error,
) -> StoreError {
    secrets.error(kind_of(error), &format!("PostgreSQL, {what}"), error)
}

/// The store error for a connection the pool did not give within
/// `timeout` (or at all) while doing `what`.
pub(super) fn pool_error(
    secrets: &Secrets,
    timeout: Duration,
    what: &str,
    error: PoolError,
) -> StoreError {
    let context = format!("PostgreSQL, {what}");
    match &error {
        PoolError::Backend(error) | PoolError::PostCreateHook(HookError::Backend(error)) => {
            store_error(secrets, what, error)
        }
        PoolError::Timeout(_) => secrets.unavailable(
            &format!("{context}: no connection within {timeout:?}"),
            &error,
        ),
        PoolError::Closed => secrets.unavailable(&context, &error),
        _ => secrets.invalid(&context, &error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(code: &str) -> StoreErrorKind {
        kind_of_state(&SqlState::from_code(code))
    }

    #[test]
    fn a_later_attempt_may_pass_these() {
        for code in [
            "08006", // connection failure
            "08001", // unable to establish a connection
            "28P01", // wrong password
            "28000", // authorization refused
            "40001", // serialization failure
            "40P01", // deadlock
            "53300", // too many connections
            "53100", // disk full
            "57014", // cancelled by statement_timeout
            "57P01", // administrator shutdown
            "57P03", // cannot connect now
            "58030", // I/O error
            "25006", // read-only transaction: a failover to a standby
            "55P03", // lock not available
            "55006", // object in use
        ] {
            assert_eq!(kind(code), StoreErrorKind::Unavailable, "{code}");
        }
    }

    #[test]
    fn no_later_attempt_passes_these() {
        for code in [
            "42P01", // undefined table: tables of another shape
            "42703", // undefined column
            "42804", // datatype mismatch
            "42601", // syntax error
            "42501", // insufficient privilege: a role that may not create tables
            "23505", // unique violation
            "23514", // check violation
            "22003", // numeric value out of range
            "XX000", // internal error
        ] {
            assert_eq!(kind(code), StoreErrorKind::Invalid, "{code}");
        }
    }

    #[test]
    fn the_server_going_away_is_a_lost_connection() {
        for state in LOST_STATES {
            assert_eq!(kind_of_state(&state), StoreErrorKind::Unavailable);
        }
        for state in UNAVAILABLE_STATES {
            assert!(!LOST_STATES.contains(&state));
        }
    }
}
