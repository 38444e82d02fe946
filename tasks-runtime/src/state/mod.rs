//! The state a loop shares between its handles and its running task, and
//! every change to it: beginning and ending a run, stop, cancel, restart
//! and reschedule requests, and the interruptions a waiting task sees.
//!
//! Changes are methods of [`State`] (made under the lock) and of [`Core`]
//! (which take the lock, and wake the task or drop the user's values once
//! it is released: no user code runs under the loop's lock).

mod cluster;
mod core;
mod record;
mod transitions;

pub(crate) use self::cluster::Participation;
pub(crate) use self::core::{Core, Settings, Shared};
pub(crate) use self::record::Timing;
pub(crate) use self::transitions::{BackoffFactory, Extras, Interrupt, IterationSettings, State};
