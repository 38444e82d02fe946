//! Running a loop once across replicas: the store they coordinate through,
//! and the fencing tokens it hands out.

mod contract;
mod memory;
mod store;

pub(crate) use contract::check_store;
pub use memory::MemoryStore;
pub use store::{
    Claimed, Fence, FinishedSlot, Lease, LeaseRequest, ReplicaId, SlotClaim, SlotFinish,
    SlotOutcome, Store, StoreError, StoreErrorKind,
};
