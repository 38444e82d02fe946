//! Which Redis errors a later attempt may get past
//! ([`Unavailable`](StoreErrorKind::Unavailable)) and which it will not
//! ([`Invalid`](StoreErrorKind::Invalid)), read from the error's kind (and,
//! for the errors the client has no kind for, Redis's error code); and
//! whether the call may be tried again.

use redis::{ErrorKind, RedisError, ServerErrorKind};
use tasks_runtime::cluster::{StoreError, StoreErrorKind};

use crate::shared::call::Failure;
use crate::shared::secret::Secrets;

/// The errors of a server that a later attempt may get past: loading its
/// data, a cluster (or its primary) down, a replica that is read-only.
const UNAVAILABLE_SERVER_KINDS: [ServerErrorKind; 5] = [
    ServerErrorKind::BusyLoading,
    ServerErrorKind::TryAgain,
    ServerErrorKind::ClusterDown,
    ServerErrorKind::MasterDown,
    ServerErrorKind::ReadOnly,
];

/// The codes of the errors the client has no kind for that a later attempt
/// may get past: out of memory, a script running, too few replicas, a
/// password missing or refused.
const UNAVAILABLE_CODES: [&str; 5] = ["OOM", "BUSY", "NOREPLICAS", "NOAUTH", "WRONGPASS"];

/// The kind of `error`.
fn kind_of(error: &RedisError) -> StoreErrorKind {
    let unavailable = match error.kind() {
        ErrorKind::Io | ErrorKind::AuthenticationFailed => true,
        ErrorKind::Server(kind) => UNAVAILABLE_SERVER_KINDS.contains(&kind),
        ErrorKind::Extension => error
            .code()
            .is_some_and(|code| UNAVAILABLE_CODES.contains(&code)),
        _ => is_connection_loss(error) || error.is_timeout(),
    };
    if unavailable {
        StoreErrorKind::Unavailable
    } else {
        StoreErrorKind::Invalid
    }
}

/// Whether the connection was lost, or never made.
fn is_connection_loss(error: &RedisError) -> bool {
    error.is_io_error() || error.is_connection_dropped() || error.is_connection_refusal()
}

/// Whether the connection a call failed on with `error` is to be replaced:
/// it was lost or did not answer in time (an I/O error), its stream no
/// longer reads, or the server is a replica now (`READONLY`: a failover
/// demoted it, and a new connection to the same address may reach the new
/// primary). An answer the server gave on purpose keeps it.
pub(super) fn must_replace(error: &RedisError) -> bool {
    is_connection_loss(error)
        || error.is_timeout()
        || error.is_unrecoverable_error()
        || error.kind() == ErrorKind::Server(ServerErrorKind::ReadOnly)
}

/// The store error for a Redis error while doing `what`.
pub(super) fn store_error(secrets: &Secrets, what: &str, error: &RedisError) -> StoreError {
    secrets.error(kind_of(error), &format!("Redis, {what}"), error)
}

/// How a call doing `what` failed with `error`: not sent (the connection
/// refused), lost on the way, or for good.
pub(super) fn failure(secrets: &Secrets, what: &str, error: &RedisError) -> Failure {
    let store_error = store_error(secrets, what, error);
    if error.is_connection_refusal() {
        Failure::Unsent(store_error)
    } else if is_connection_loss(error) {
        Failure::Lost(store_error)
    } else {
        Failure::Final(store_error)
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    fn kind(error: RedisError) -> StoreErrorKind {
        kind_of(&error)
    }

    fn server(kind: ServerErrorKind) -> RedisError {
        RedisError::from((ErrorKind::Server(kind), "the server said so"))
    }

    fn code(code: &str) -> RedisError {
        redis::make_extension_error(code.to_owned(), None)
    }

    #[test]
    fn a_later_attempt_may_pass_these() {
        for kind_of_server in UNAVAILABLE_SERVER_KINDS {
            assert_eq!(kind(server(kind_of_server)), StoreErrorKind::Unavailable);
        }
        for name in UNAVAILABLE_CODES {
            assert_eq!(kind(code(name)), StoreErrorKind::Unavailable, "{name}");
        }
        for io_kind in [
            io::ErrorKind::ConnectionRefused,
            io::ErrorKind::ConnectionReset,
            io::ErrorKind::TimedOut,
        ] {
            let error = RedisError::from(io::Error::new(io_kind, "no"));
            assert_eq!(kind(error), StoreErrorKind::Unavailable, "{io_kind:?}");
        }
        let refused = RedisError::from((ErrorKind::AuthenticationFailed, "no"));
        assert_eq!(kind(refused), StoreErrorKind::Unavailable);
    }

    #[test]
    fn no_later_attempt_passes_these() {
        // A key of another type (`WRONGTYPE`), a script's own error, an
        // answer of another shape.
        for error in [
            code("WRONGTYPE"),
            server(ServerErrorKind::ResponseError),
            server(ServerErrorKind::NoScript),
            server(ServerErrorKind::NoPerm),
            RedisError::from((ErrorKind::UnexpectedReturnType, "no")),
            RedisError::from((ErrorKind::Parse, "no")),
        ] {
            assert_eq!(kind(error.clone()), StoreErrorKind::Invalid, "{error}");
        }
    }

    #[test]
    fn only_what_was_not_sent_or_was_lost_may_be_tried_again() {
        let secrets = Secrets::default();
        let refused = RedisError::from(io::Error::from(io::ErrorKind::ConnectionRefused));
        let reset = RedisError::from(io::Error::from(io::ErrorKind::ConnectionReset));
        assert!(matches!(
            failure(&secrets, "x", &refused),
            Failure::Unsent(_)
        ));
        assert!(matches!(failure(&secrets, "x", &reset), Failure::Lost(_)));
        assert!(matches!(
            failure(&secrets, "x", &code("READONLY")),
            Failure::Final(_)
        ));
    }

    #[test]
    fn a_connection_lost_silent_or_demoted_is_replaced() {
        for io_kind in [
            io::ErrorKind::ConnectionReset,
            io::ErrorKind::BrokenPipe,
            io::ErrorKind::TimedOut,
            io::ErrorKind::UnexpectedEof,
        ] {
            let error = RedisError::from(io::Error::new(io_kind, "no"));
            assert!(must_replace(&error), "{io_kind:?}");
        }
        assert!(must_replace(&server(ServerErrorKind::ReadOnly)));
        let read_only = RedisError::from((ErrorKind::Server(ServerErrorKind::ReadOnly), "demoted"));
        assert!(must_replace(&read_only));
        assert!(must_replace(&RedisError::from((ErrorKind::Parse, "no"))));
        for kept in [
            code("WRONGTYPE"),
            code("OOM"),
            server(ServerErrorKind::NoScript),
            server(ServerErrorKind::BusyLoading),
            RedisError::from((ErrorKind::UnexpectedReturnType, "no")),
        ] {
            assert!(!must_replace(&kept), "{kept}");
        }
    }
}
