//! Running a loop: one run, from `before_loop` to `after_loop`, in a task
//! of its own (the port of discord.py's `Loop._loop`).
//!
//! - `task.rs`: starting a run, and the run's task, which catches what
//!   panics outside the body and ends the run if the task is dropped first;
//! - `start.rs`: starting a loop: a run, or a replica's part in a
//!   leader-mode loop;
//! - `drive.rs`: the iterations, the retries and the end-of-run paths;
//! - `call.rs`: one call of the body, in its span, with its timeout;
//! - `claim.rs`: a cluster's claim mode, a claim before each slot;
//! - `heartbeat.rs`: with takeover, the renewals of a claim while its body
//!   runs;
//! - `leader.rs`: a cluster's leader mode, one run per term of leadership;
//! - `store_call.rs`: every call to a cluster's store, within its deadline;
//! - `wait.rs`: the waits until the next iteration on the wall clock;
//! - `watched.rs`: the waits that a cancel or a reschedule interrupts.
//!
//! An idle loop is mostly its task, so the task is kept small: across a
//! sleep it holds only the loop's `Arc`, the arguments and the `Sleep`,
//! and everything else is in the loop's state. The paths most runs never
//! take, or take rarely (hooks, failures and retries, wall-clock waits,
//! the end of a run), are boxed futures, made through `drive::boxed` so
//! that their state is not part of every idle loop's task.

mod call;
mod claim;
mod drive;
mod heartbeat;
mod leader;
mod shutdown;
mod start;
mod store_call;
mod task;
mod wait;
mod watched;

pub(crate) use shutdown::shutdown;
pub(crate) use start::start;
pub(crate) use task::Runner;
