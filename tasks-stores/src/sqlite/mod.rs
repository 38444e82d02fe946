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
//! # What survives what
//!
//! Each transaction is synced to the disk (`synchronous = FULL`): claims,
//! leases and tokens survive a crash or a restart of every process and of
//! the machine. A file deleted and recreated, or restored from an older
//! copy, has lost them: slots claimed just before may run again, and the
//! tokens start again from the machine's clock in microseconds, above the
//! ones handed out before (as long as the clock has not been set back
//! meanwhile). Nothing to configure.
//!
//! Calls run on tokio's blocking threads ([`tokio::task::spawn_blocking`]),
//! one call of a store at a time, so they need a tokio runtime. Each call
//! ends within the busy timeout, whatever it waits for: the store's
//! connection (its other calls), the file's lock (another connection), its
//! own work (interrupted then). Claims queue in a lane of their own, so
//! that a lease waits at most for the claim at work and the next one,
//! never for a burst of them.

// `builder.rs` opens the file (`open.rs`); `store.rs` keeps the contract
// with the statements of `sql.rs`, deciding by
// `tasks_runtime::cluster::rules`; `errors.rs` sorts the errors.

mod builder;
mod connection;
mod errors;
mod open;
mod sql;
mod store;

pub use builder::SqliteStoreBuilder;
pub use store::SqliteStore;
