//! The state a loop shares between its handles and its running task, and
//! every change to it: beginning and ending a run, stop, cancel, restart
//! and reschedule requests, the interruptions a waiting task sees, the
//! iterations of a run and their record, the settings and hooks.
//!
//! The fields are this module's own. Changes are methods of [`State`]
//! (made under the lock) and of [`Core`] (which take the lock, and wake
//! the task or drop the user's values once it is released: no user code
//! runs under the loop's lock); the rest of the crate reads the state
//! through accessors.
//!
//! - `transitions.rs`: [`State`], its accessors, a run's transitions and
//!   a cluster's;
//! - `iterations.rs`: the transitions of a run's iterations, and their
//!   record;
//! - `core.rs`: [`Core`], the state behind its lock, and [`Shared`];
//! - `extras.rs`: what most loops never need, grouped by concern, in
//!   `settings.rs` (the settings and their checks), `record.rs` (what a
//!   loop keeps of its iterations) and `cluster.rs` (a loop's part in a
//!   cluster).

mod cluster;
mod core;
mod extras;
mod iterations;
mod record;
mod settings;
mod transitions;

pub(crate) use self::cluster::Participation;
pub(crate) use self::core::{Core, Shared};
pub(crate) use self::extras::Hooks;
pub(crate) use self::iterations::{AfterSuccess, Jumped, NextIteration, Previous};
pub(crate) use self::settings::{check_count, BackoffFactory, Settings};
pub(crate) use self::transitions::{Interrupt, IterationSettings, State};
