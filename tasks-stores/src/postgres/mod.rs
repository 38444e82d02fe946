//! [`PostgresStore`]: replicas on several machines, coordinated through
//! PostgreSQL tables and judged by the database's clock.
//!
//! Each claim is one statement: the loop's next token taken and the slot
//! inserted (`INSERT ... ON CONFLICT ... RETURNING`), against
//! `now()`; two replicas that claim at once are ordered by the database,
//! and exactly one wins; its holder renews it with one `UPDATE` on the
//! holder and the token. A lease is one row per loop, taken or renewed by
//! one statement comparing its expiry with `now()`. The tables are those of
//! `sql/postgres.sql` in this crate, under a configurable prefix, created
//! on first use in the connection's schema (its `search_path`), after an
//! advisory lock so that replicas starting together do not race.
//!
//! # What survives what
//!
//! What is committed survives a restart of the database. A failover
//! promotes a standby: with asynchronous replication (PostgreSQL's
//! default) it may not have received the last commits, and the claims and
//! leases in them are lost (a slot may run twice, two replicas may lead for
//! a while). Configure synchronous replication where that matters
//! (`synchronous_standby_names` on the primary, `synchronous_commit` at
//! `on` or `remote_apply`). A `TRUNCATE`, or a restore from a backup, loses
//! them too. In every case the tokens keep growing: each is the greater of
//! the loop's last token plus one and the database's `now()` in
//! microseconds, so after a loss they start again from the clock, above
//! the ones handed out before (as long as the new primary's clock is not
//! behind the old one's).
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
//! Claims, their finishes and the reads of the last finished slot use all
//! the pool's connections but one, kept for leases and their releases: a
//! burst of claims (a thousand loops at the top of the hour) never holds up
//! a leader's renewal. With a pool of one connection, both share it.
//!
//! Failures that a later attempt may get past (the database down, a
//! connection lost, a timeout, a failover to a read-only server, a wrong
//! password) are [`Unavailable`](tasks_runtime::cluster::StoreErrorKind::Unavailable);
//! tables of another shape are
//! [`Invalid`](tasks_runtime::cluster::StoreErrorKind::Invalid).

// `builder.rs` makes the pool; `store.rs` keeps the contract with the
// statements of `sql.rs`, sent through `pool.rs`; `errors.rs` sorts the
// errors.

mod builder;
mod errors;
mod pool;
mod sql;
mod store;

pub use builder::PostgresStoreBuilder;
pub use store::PostgresStore;

/// The PostgreSQL client this store is built on, for a
/// [`Config`](tokio_postgres::Config) and TLS connectors of the same version.
pub use tokio_postgres;

/// The connection pool this store is built on, for a
/// [`Pool`](deadpool_postgres::Pool) of your own.
pub use deadpool_postgres;
