//! What the stores share: running a call against a server (its deadline,
//! when it is tried again), fencing tokens as the stores keep them, slots
//! and durations as they keep them, the table names of the SQL stores, the
//! setters of their builders, and keeping secrets out of their messages.
//! The rules of the contract themselves (what a claim or a lease decides,
//! the retention, how often to prune) are `tasks_runtime::cluster::rules`,
//! which the in-memory store uses too.
// Each store uses its own part of these: with some store compiled out,
// some go unused.
#![cfg_attr(
    not(all(feature = "sqlite", feature = "postgres", feature = "redis")),
    allow(dead_code, unused_imports, unused_macros)
)]

pub(crate) mod boxed;
pub(crate) mod call;
pub(crate) mod secret;
pub(crate) mod settings;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) mod tables;
pub(crate) mod time;
pub(crate) mod values;
