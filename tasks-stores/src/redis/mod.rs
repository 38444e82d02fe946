//! [`RedisStore`]: replicas on several machines, coordinated through Redis
//! keys, each claim, renewal and lease one Lua script judged by Redis's
//! `TIME`.
//!
//! # An efficiency lock, with the fence as the safety
//!
//! A single Redis instance runs each script alone, so two replicas that
//! claim a slot at once never both win, and its clock (`TIME`, and the
//! expiry of keys) judges every lease. But Redis acknowledges a write
//! before its replicas have it: after a failover, the new primary may not
//! know a claim or a lease that was granted, and hand it out again. So a
//! Redis store is an *efficiency* lock (a slot runs once nearly always),
//! not a *correctness* one; see the notes on replication and fencing on
//! redis.io's [distributed locks page](https://redis.io/docs/latest/develop/use/patterns/distributed-locks/).
//! Where running twice is harmful, have the body's writes check the
//! [`Fence`](tasks_runtime::cluster::Fence) it is given
//! (`UPDATE ... WHERE last_fence < $fence`): the token of a slot handed out
//! again is higher.
//!
//! # What survives what
//!
//! Redis keeps its data in memory. Without persistence a restart loses
//! every claim, lease and token; with RDB snapshots alone, what was written
//! since the last one. Turn the append-only file on (`appendonly yes`):
//! with `appendfsync everysec` a restart loses at most the last second,
//! with `always` nothing. Under memory pressure Redis evicts keys unless
//! `maxmemory-policy` is `noeviction` (the claims and leases expire, so the
//! `volatile-*` policies take them too): set `noeviction`. A failover, and
//! `FLUSHALL`, lose what the new primary had not received, or everything.
//!
//! A claim or a lease lost may be handed out again: a slot may run twice,
//! two replicas may lead for a while. The tokens never go backwards: each
//! is the greater of the loop's last token plus one and Redis's `TIME` in
//! microseconds, so after a loss they start again from the clock, above the
//! ones handed out before (as long as the clock of the Redis that hands
//! them out is not behind the one before).
//!
//! # Keys
//!
//! Under a prefix (`tasks:` unless told otherwise), with the loop's name
//! percent-encoded (letters, digits, `-`, `_` and `.` kept; every other
//! byte `%XX`) inside a hash tag, so that names cannot collide or inject
//! and a loop's keys share a cluster slot:
//!
//! | key | what | kept |
//! | --- | --- | --- |
//! | `tasks:{NAME}:fence` | the loop's last token, shared by claims and terms: the next is the greater of it plus one and `TIME` in microseconds | always |
//! | `tasks:{NAME}:claim:SLOT` | a hash: `holder`, `fence`, `tzdb`, `lease_until` (µs on Redis's clock), `outcome` once finished; `SLOT` in nanoseconds since the Unix epoch | until its lease (as last renewed), its late tolerance or its takeover window has run out, plus the retention |
//! | `tasks:{NAME}:last` | a hash: the last finished slot's `slot`, `outcome`, `fence` | always |
//! | `tasks:{NAME}:lease` | a hash: `holder`, `fence` | its lease (`PEXPIRE`, Redis's clock) |
//!
//! A claim's key outlives its lease on purpose: a claimed slot is never
//! claimed again (unless takeover is asked and the lease expired), however
//! late another replica comes: a claim later than the slot's late
//! tolerance is refused, and the key outlives that tolerance.
//!
//! # Connections
//!
//! One multiplexed connection, made on the first call, and replaced by a
//! new one as soon as it cannot be trusted: lost, a call on it left
//! unanswered (past its deadline), or a `READONLY` answer (a primary
//! demoted by a failover: a new connection to the same address may reach
//! the new one). So after a failover that drops the old connection's
//! packets rather than closing it, the store works again a deadline or two
//! later, not once the kernel gives up on the socket. Every call has a
//! deadline (5 seconds unless told otherwise); a Redis that is down or does
//! not answer makes the call fail as
//! [`Unavailable`](tasks_runtime::cluster::StoreErrorKind::Unavailable).
//!
//! Claims and leases share the connection: it carries every call of every
//! loop at once (nothing waits for a connection to be free), and Redis runs
//! each script in microseconds, one at a time, so a burst of claims at the
//! top of the hour delays a lease renewal by the time Redis takes to run
//! the scripts queued before it (about a millisecond per hundred), far
//! within a lease.
//! `rediss://` (and `valkeys://`) URLs connect with TLS when the
//! `redis-tls` feature is on (through the system's TLS library, with its
//! trusted roots). Redis 6.2 or later, or Valkey (`valkey://`).

// `builder.rs` makes the client; `store.rs` keeps the contract with the
// scripts of `scripts.rs`, on the keys of `keys.rs`, sent through
// `connection.rs`; `errors.rs` sorts the errors.

mod builder;
mod connection;
mod errors;
mod keys;
mod scripts;
mod store;

pub use builder::RedisStoreBuilder;
pub use store::RedisStore;

/// The Redis client this store is built on, for a
/// [`Client`](::redis::Client) of your own (other TLS settings, a Unix
/// socket) given to [`RedisStoreBuilder::from_client`].
pub use ::redis;
