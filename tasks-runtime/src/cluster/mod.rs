//! Running a loop once across replicas: the [`Cluster`] a loop joins (its
//! store, claim or leader mode, and options), the [`Store`] replicas
//! coordinate through, and the fencing tokens it hands out.
//!
//! Every replica builds the same loop, under the same name, with the same
//! cluster:
//!
//! - in [`Mode::Claim`], every replica keeps the schedule and each slot runs
//!   on the one replica that claims it. A slot is the loop's name and its
//!   scheduled instant; relative intervals are laid on a grid (whole
//!   multiples of the interval since [`Cluster::anchor`]), so replicas
//!   started at different moments agree on it. A count is refused (each
//!   replica runs only its share); `change_interval` moves the loop to the
//!   grid of the new interval, new slots with new keys.
//! - in [`Mode::Leader`], one replica at a time holds the loop's lease and
//!   runs the loop as a single process would during its term (a run of its
//!   own: its `count` starts over): `change_interval`,
//!   `before_loop` at the start of its term and `after_loop` at its end (with
//!   `is_being_cancelled()` true when the lease was lost). `start` makes the
//!   replica take part; `stop` or `cancel` make it leave (giving the lease
//!   back); `is_running()` is true while it takes part.
//!
//! [`Loop::fence`](crate::Loop::fence) hands the body the [`Fence`] of its
//! slot or term, for the writes it makes. A store that cannot be reached
//! is reported to the `error` hook as a [`StoreError`], without failing the
//! loop, and the slot is skipped ([`Cluster::run_during_outage`] runs it
//! anyway).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//! use tasks_runtime::cluster::{Cluster, MemoryStore, ReplicaId};
//! use tasks_runtime::testing::VirtualClock;
//! use tasks_runtime::Loop;
//!
//! let clock = VirtualClock::starting_at("2026-12-02T09:00:00.500Z".parse().unwrap());
//! let store = Arc::new(MemoryStore::with_clock(clock.clone()));
//! let ran = Arc::new(Mutex::new(Vec::new()));
//! // Two replicas of one loop, every second.
//! let replicas: Vec<Loop> = ["a", "b"]
//!     .into_iter()
//!     .map(|name| {
//!         let ran = ran.clone();
//!         Loop::builder(move |()| {
//!             ran.lock().unwrap().push(name);
//!             async {}
//!         })
//!         .seconds(1.0)
//!         .name("report")
//!         .clock(clock.clone())
//!         .cluster(Cluster::claim(store.clone()).replica(ReplicaId::new(name)))
//!         .build()
//!         .unwrap()
//!     })
//!     .collect();
//! for replica in &replicas {
//!     replica.start(()).unwrap();
//! }
//! tokio::time::sleep(Duration::from_secs(5)).await;
//! // 09:00:01 to 09:00:05: five slots, each run once, by one replica or the other.
//! assert_eq!(ran.lock().unwrap().len(), 5);
//! # for replica in &replicas { replica.cancel(); }
//! # }
//! ```

mod config;
mod contract;
mod memory;
#[doc(hidden)]
pub mod rules;
mod store;

pub use config::{Cluster, Mode};
pub(crate) use contract::check_store;
pub use memory::MemoryStore;
pub use store::{
    ClaimLost, ClaimRenewal, Claimed, Fence, FinishedSlot, Lease, LeaseRequest, LossCause, Renewal,
    ReplicaId, SlotClaim, SlotFinish, SlotOutcome, SlotTooLate, Store, StoreError, StoreErrorKind,
};
