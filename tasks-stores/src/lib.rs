//! Stores for running a `tasks` loop once across replicas: SQLite,
//! PostgreSQL and Redis, each behind a cargo feature of the same name.
//!
//! A [`Store`] is where replicas coordinate: in claim mode each scheduled
//! slot runs on the one replica that claims it; in leader mode one replica
//! holds a renewed lease and runs the loop. Each claim and each new term of
//! leadership comes with a fencing token that grows per loop. The contract
//! is written on [`Store`]; every store here keeps it with the store's own
//! clock, so that replicas whose clocks disagree still agree on who runs
//! what and when a lease has expired, and a claim too early or too late by
//! that clock is refused (a replica days behind runs no old slot).
//!
//! # Which store
//!
//! | store | for | clock | feature |
//! | --- | --- | --- | --- |
//! | [`MemoryStore`](tasks_runtime::cluster::MemoryStore) (in `tasks-runtime`) | tests; several loops of one process | the process's | none |
//! | [`SqliteStore`] | the replicas of one machine, in one file; history that survives a restart | the machine's, read by SQLite | `sqlite` |
//! | [`PostgresStore`] | replicas on several machines | the database's `now()` | `postgres` |
//! | [`RedisStore`] | replicas on several machines, with Redis at hand | Redis's `TIME` | `redis` (`redis-tls` for `rediss://`) |
//!
//! [`connect`] picks one from a URL: `sqlite:PATH`,
//! `postgres://USER@HOST:PORT/DB` (or `postgresql://`), `redis://HOST:PORT`
//! or `valkey://HOST:PORT` (`rediss://` or `valkeys://` with TLS).
//!
//! # What each one guarantees
//!
//! - **SQLite**: one machine only. Every claim, renewal and lease is one
//!   `BEGIN IMMEDIATE` transaction; SQLite runs them one at a time across
//!   all the processes that share the file (WAL mode, a busy timeout). Its
//!   clock is the machine's, which all the replicas share. Not over a
//!   network file system, whose locks SQLite cannot trust.
//! - **PostgreSQL**: each claim is one statement
//!   (`INSERT ... ON CONFLICT ... RETURNING`, with the loop's next token
//!   taken in the same statement), each lease one row updated against
//!   `now()`; the database's transactions make two replicas that claim at
//!   once never both win, and its clock judges every lease.
//! - **Redis**: each claim, renewal and lease is one Lua script, judged by
//!   Redis's `TIME`. A single Redis instance is an *efficiency* lock: with
//!   replication, a failover can lose a claim or a lease that was
//!   acknowledged but not yet copied to the replica, and two replicas may
//!   then both run a slot (see the notes on replication and on fencing in
//!   redis.io's [distributed locks page](https://redis.io/docs/latest/develop/use/patterns/distributed-locks/)).
//!   The fencing token is the safety: see below.
//!
//! # Deadlines, and leases beside claims
//!
//! Every call has a deadline in the store (5 seconds unless told
//! otherwise: `timeout` on the PostgreSQL and Redis builders, the busy
//! timeout for SQLite), and a loop waits for each call no longer than its
//! cluster's [store deadline](tasks_runtime::cluster::Cluster::store_deadline)
//! (2.5 seconds by default): a store that does not answer, whatever the
//! reason, costs a call that deadline, never a hung replica. A connection
//! whose call did not end with an answer is not used again.
//!
//! A lease renewal must not wait behind a burst of claims (a thousand loops
//! claiming at the top of the hour), or the leader loses its lease:
//!
//! - **PostgreSQL**: claims (with their finishes and reads) use all the
//!   pool's connections but one, which is kept for leases and their
//!   releases; a renewal never waits for a claim to give a connection back.
//!   (A pool of one connection is shared; a pool of your own
//!   ([`PostgresStoreBuilder::from_pool`]) keeps one free only from this
//!   store's claims, not from your other queries.)
//! - **Redis**: one multiplexed connection carries every call at once, so
//!   nothing waits for a connection; Redis runs the scripts one at a time,
//!   in microseconds, so a renewal sent in a burst waits for the scripts
//!   queued before it, about a millisecond per hundred claims.
//! - **SQLite**: one connection, one call at a time. Claims queue in a lane
//!   of their own, one of them at a time waiting for the connection, so a
//!   renewal waits at most for the claim at work and the one after it.
//!
//! # Fencing tokens
//!
//! A replica can lose its slot or its lease without knowing it (a long
//! pause, a partition, a store failover). Each claim and term comes with a
//! [`Fence`](tasks_runtime::cluster::Fence), higher than every earlier one
//! of the loop (with gaps: a claim that loses may use one up). A body that
//! writes somewhere passes it along, and the write is refused when a higher
//! token has already been seen:
//!
//! ```sql
//! UPDATE reports SET body = $1, last_fence = $2 WHERE id = $3 AND last_fence < $2
//! ```
//!
//! Every store hands out the greater of the loop's last token plus one and
//! its own time in microseconds since the Unix epoch, in the same
//! transaction or script as the claim. So the tokens are large (keep them
//! in a `bigint`), and they keep growing when the store loses its data: it
//! starts again from its clock, above every token it handed out before, as
//! long as its clock then reads later than when it handed out the last one.
//!
//! # What survives what
//!
//! What a store keeps is its claims (so that a slot runs once), its leases
//! (so that one replica leads) and the loops' last tokens. When it loses
//! them, the tokens still grow (above); what is lost is the record of who
//! holds what: a slot claimed just before may be claimed again and run
//! twice, a lease may go to a second leader while the first still acts.
//! The fence is then what keeps their writes apart.
//!
//! | event | SQLite | PostgreSQL | Redis |
//! | --- | --- | --- | --- |
//! | a replica restarts | kept | kept | kept |
//! | the store restarts | kept (each transaction synced, `synchronous = FULL`) | kept (committed transactions) | everything without persistence; since the last snapshot with RDB alone; with the append-only file (`appendonly yes`), since the last sync: up to a second with `appendfsync everysec`, nothing with `always` |
//! | the data emptied or deleted (`FLUSHALL`, `TRUNCATE`, the file recreated, a restore from a backup) | lost | lost | lost |
//! | a failover to a copy | no copies | the commits the standby had not received, unless replication is synchronous (`synchronous_standby_names` set, `synchronous_commit` at `on` or `remote_apply`) | the writes the replica had not received: Redis replicates asynchronously |
//! | memory runs short | not applicable | not applicable | keys evicted under any `maxmemory-policy` but `noeviction` (claims and leases expire, so the `volatile-*` policies take them too): use `noeviction` |
//!
//! The tokens never go backwards in any of these; the store's clock is
//! assumed to read later after the event than before it (a machine whose
//! clock was set back, or a failover to a machine whose clock is behind,
//! can hand out lower tokens for as long as it is behind).
//!
//! # Security
//!
//! Loop names, slots and replica ids reach the stores only as bound
//! parameters (SQL) or arguments of a script, and Redis keys carry the loop
//! name percent-encoded; a table prefix is checked as an identifier and the
//! names are quoted. No error, log line or `Debug` output of a store shows
//! its URL, its password or its host. TLS: PostgreSQL through
//! [`PostgresStoreBuilder::connect_with`] and a TLS connector of your
//! choice, Redis through `rediss://` URLs with the `redis-tls` feature.
//!
//! # Testing the stores
//!
//! `.ci/stores test` in the repository starts throwaway PostgreSQL and
//! Redis servers on free local ports (installing the Debian packages if
//! they are missing), runs `cargo test --workspace` against them, and stops
//! them. The tests read `TASKS_TEST_POSTGRES_URL` and
//! `TASKS_TEST_REDIS_URL`; without them the PostgreSQL and Redis tests say
//! they are skipped (and fail when `CI` is set). The SQLite tests always
//! run.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::sync::Arc;

pub use tasks_runtime::cluster::{Store, StoreError, StoreErrorKind};

mod shared;

#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod postgres;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub mod sqlite;

#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
#[doc(no_inline)]
pub use postgres::{PostgresStore, PostgresStoreBuilder};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
#[doc(no_inline)]
pub use redis::{RedisStore, RedisStoreBuilder};
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
#[doc(no_inline)]
pub use sqlite::{SqliteStore, SqliteStoreBuilder};

use shared::secret::Message;

/// The store a URL names, with its default settings:
///
/// | URL | store |
/// | --- | --- |
/// | `sqlite:PATH` (or `sqlite://PATH`) | [`SqliteStore::open`]`(PATH)` |
/// | `postgres://...`, `postgresql://...` | [`PostgresStore::connect`] (no TLS) |
/// | `redis://...`, `valkey://...`; `rediss://...`, `valkeys://...` (TLS) | [`RedisStore::connect`] |
///
/// Only SQLite touches anything here (it opens the file); PostgreSQL and
/// Redis connect on first use, so a replica starts while its store is
/// down, and its calls fail as
/// [`Unavailable`](StoreErrorKind::Unavailable) until the store is back.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = std::env::temp_dir().join(format!("tasks-doc-connect-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// # let path = dir.join("tasks.db");
/// # #[cfg(feature = "sqlite")] {
/// let store = tasks_stores::connect(&format!("sqlite:{}", path.display()))?;
/// # drop(store);
/// # }
///
/// let refused = tasks_stores::connect("mysql://app:hunter2@db/tasks").err().unwrap();
/// assert!(refused.to_string().contains("mysql"));
/// assert!(!refused.to_string().contains("hunter2"));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// [`Invalid`](StoreErrorKind::Invalid) for a URL of no known scheme, a
/// scheme whose feature is off (the message names the feature to enable),
/// or a URL its store cannot read; whatever the store's constructor
/// returns. The message never repeats the URL past its scheme.
pub fn connect(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    match Backend::of_url(url)? {
        #[cfg(feature = "sqlite")]
        Backend::Sqlite(path) => Ok(Arc::new(SqliteStore::open(path)?)),
        #[cfg(feature = "postgres")]
        Backend::Postgres => Ok(Arc::new(PostgresStore::connect(url)?)),
        // Without the `redis-tls` feature, `RedisStore::connect` refuses
        // `rediss://` URLs, naming the feature.
        #[cfg(feature = "redis")]
        Backend::Redis { .. } => Ok(Arc::new(RedisStore::connect(url)?)),
        // Reached only with some store compiled out.
        #[allow(unreachable_patterns)]
        compiled_out => Err(compiled_out.compiled_out()),
    }
}

/// The backend a URL names.
#[derive(Debug, PartialEq, Eq)]
enum Backend<'a> {
    Sqlite(&'a str),
    Postgres,
    Redis { tls: bool },
}

impl<'a> Backend<'a> {
    fn of_url(url: &'a str) -> Result<Self, StoreError> {
        let expected = "expected sqlite:PATH, postgres://, postgresql://, redis://, rediss://, \
                        valkey:// or valkeys://";
        let Some((scheme, rest)) = url.split_once(':') else {
            return Err(StoreError::invalid(Message(format!(
                "not a store URL: {expected}"
            ))));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => {
                let path = rest.strip_prefix("//").unwrap_or(rest);
                if path.is_empty() {
                    return Err(StoreError::invalid(Message(
                        "an SQLite URL names a file: sqlite:PATH".to_owned(),
                    )));
                }
                Ok(Backend::Sqlite(path))
            }
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            "redis" | "valkey" => Ok(Backend::Redis { tls: false }),
            "rediss" | "valkeys" => Ok(Backend::Redis { tls: true }),
            other => {
                let looks_like_a_scheme = rest.starts_with("//")
                    && !other.is_empty()
                    && other.len() <= 20
                    && other
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
                let named = if looks_like_a_scheme {
                    format!("{other:?}")
                } else {
                    "this".to_owned()
                };
                Err(StoreError::invalid(Message(format!(
                    "no store for URLs of the scheme {named}: {expected}"
                ))))
            }
        }
    }

    /// The store, and the feature that compiles it in.
    fn feature(&self) -> (&'static str, &'static str) {
        match self {
            Backend::Sqlite(_) => ("SQLite", "sqlite"),
            Backend::Postgres => ("PostgreSQL", "postgres"),
            Backend::Redis { tls: false } => ("Redis", "redis"),
            Backend::Redis { tls: true } => ("Redis over TLS", "redis-tls"),
        }
    }

    /// The error for a URL whose store is compiled out.
    fn compiled_out(&self) -> StoreError {
        let (store, feature) = self.feature();
        StoreError::invalid(Message(format!(
            "the URL is for {store}, and tasks-stores was built without its `{feature}` feature: \
             enable the feature `{feature}` of `tasks` (or of `tasks-stores`)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_backend_from_the_scheme() {
        assert_eq!(
            Backend::of_url("sqlite:/tmp/a.db").unwrap(),
            Backend::Sqlite("/tmp/a.db")
        );
        assert_eq!(
            Backend::of_url("sqlite:///tmp/a.db").unwrap(),
            Backend::Sqlite("/tmp/a.db")
        );
        assert_eq!(
            Backend::of_url("sqlite:tasks.db").unwrap(),
            Backend::Sqlite("tasks.db")
        );
        assert_eq!(
            Backend::of_url("postgresql://u@h/d").unwrap(),
            Backend::Postgres
        );
        assert_eq!(
            Backend::of_url("POSTGRES://u@h/d").unwrap(),
            Backend::Postgres
        );
        assert_eq!(
            Backend::of_url("rediss://h:6380").unwrap(),
            Backend::Redis { tls: true }
        );
    }

    #[test]
    fn reads_valkey_urls_as_redis() {
        assert_eq!(
            Backend::of_url("valkey://h:6379").unwrap(),
            Backend::Redis { tls: false }
        );
        assert_eq!(
            Backend::of_url("VALKEYS://h:6380").unwrap(),
            Backend::Redis { tls: true }
        );
    }

    #[tokio::test]
    async fn each_scheme_opens_its_store_or_names_its_feature() {
        let dir = std::env::temp_dir().join(format!("tasks-stores-schemes-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sqlite = format!("sqlite:{}", dir.join("tasks.db").display());
        for (url, compiled, feature) in [
            (sqlite.as_str(), cfg!(feature = "sqlite"), "`sqlite`"),
            (
                "postgres://app:hunter2@db/app",
                cfg!(feature = "postgres"),
                "`postgres`",
            ),
            ("redis://:hunter2@db", cfg!(feature = "redis"), "`redis`"),
            ("valkey://:hunter2@db", cfg!(feature = "redis"), "`redis`"),
            (
                "rediss://:hunter2@db",
                cfg!(feature = "redis-tls"),
                "`redis-tls`",
            ),
            (
                "valkeys://:hunter2@db",
                cfg!(feature = "redis-tls"),
                "`redis-tls`",
            ),
        ] {
            match connect(url) {
                Ok(_) => assert!(compiled, "{url} opened without {feature}"),
                Err(error) => {
                    let text = error.to_string();
                    assert!(!compiled, "{url}: {text}");
                    assert!(text.contains(feature), "{url}: {text}");
                    assert!(!text.contains("hunter2"), "{url}: {text}");
                }
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn names_an_unknown_scheme_and_nothing_else() {
        let error = Backend::of_url("mysql://root:hunter2@db:3306/x").unwrap_err();
        let text = error.to_string();
        assert!(text.contains("\"mysql\""), "{text}");
        assert!(
            !text.contains("hunter2") && !text.contains("db:3306"),
            "{text}"
        );
        assert!(!format!("{error:?}").contains("hunter2"));

        let error = Backend::of_url("hunter2 is my password").unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
        let error = Backend::of_url("user:hunter2@db").unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
        assert!(Backend::of_url("sqlite:").is_err());
    }
}
