//! Running a loop once across replicas: the [`Cluster`] a loop joins (its
//! store, claim or leader mode, and options), the [`Store`] replicas
//! coordinate through, and the fencing tokens it hands out. The run's side
//! of the two modes is in `run/claim.rs` and `run/leader.rs`.

mod config;
mod contract;
mod memory;
mod store;

pub use config::{Cluster, Mode};
pub(crate) use contract::check_store;
pub use memory::MemoryStore;
pub use store::{
    Claimed, Fence, FinishedSlot, Lease, LeaseRequest, ReplicaId, SlotClaim, SlotFinish,
    SlotOutcome, Store, StoreError, StoreErrorKind,
};
