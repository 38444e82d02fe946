//! [`MemoryStore`]: the store of one process, and the reference for the
//! contract of [`Store`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, TimeDelta, Utc};
use futures_util::future::BoxFuture;

use super::store::{
    Claimed, Fence, FinishedSlot, Lease, LeaseRequest, ReplicaId, SlotClaim, SlotFinish,
    SlotOutcome, Store, StoreError,
};
use crate::clock::{Clock, SystemClock};

/// A store in memory: for several loops of one process, and for tests
/// (on a [`VirtualClock`](crate::testing::VirtualClock), with
/// [`set_available`](MemoryStore::set_available) to simulate an outage).
/// It keeps the claims of the last day.
///
/// On tokio's paused clock, give the store and the loops one
/// `VirtualClock` ([`with_clock`](MemoryStore::with_clock) and
/// `LoopBuilder::clock`): in claim mode a loop waits for its slots on the
/// wall clock, which a paused test does not move otherwise.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::time::Duration;
/// use tasks_runtime::cluster::{Claimed, MemoryStore, ReplicaId, SlotClaim, Store};
///
/// let store = MemoryStore::new();
/// let (a, b) = (ReplicaId::new("a"), ReplicaId::new("b"));
/// let slot = chrono::Utc::now();
/// let claim = |replica| SlotClaim {
///     loop_name: "nightly",
///     slot,
///     replica,
///     lease: Duration::from_secs(60),
///     early_tolerance: Duration::from_millis(50),
///     takeover: None,
///     tzdb: "2025b",
/// };
/// assert!(matches!(store.claim(claim(&a)).await, Ok(Claimed::Won { .. })));
/// assert!(matches!(store.claim(claim(&b)).await, Ok(Claimed::Taken { .. })));
/// # }
/// ```
pub struct MemoryStore {
    clock: Arc<dyn Clock>,
    available: AtomicBool,
    tables: Mutex<Tables>,
}

#[derive(Default)]
struct Tables {
    fences: HashMap<String, u64>,
    claims: HashMap<(String, DateTime<Utc>), ClaimRow>,
    leases: HashMap<String, LeaseRow>,
    claims_since_pruning: usize,
}

struct ClaimRow {
    holder: String,
    fence: Fence,
    lease_until: DateTime<Utc>,
    finished: Option<SlotOutcome>,
    tzdb: String,
}

struct LeaseRow {
    holder: String,
    fence: Fence,
    expires: DateTime<Utc>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("available", &self.available.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// A store on the system's wall clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// A store that reads its time from `clock` (a test's
    /// [`VirtualClock`](crate::testing::VirtualClock), say).
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            available: AtomicBool::new(true),
            tables: Mutex::new(Tables::default()),
        }
    }

    /// Makes every call fail as [`Unavailable`](super::StoreErrorKind::Unavailable)
    /// (`false`), as when a real store is down, or work again (`true`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use tasks_runtime::cluster::{MemoryStore, Store};
    ///
    /// let store = MemoryStore::new();
    /// store.set_available(false);
    /// assert!(store.last_finished("nightly").await.is_err());
    /// # }
    /// ```
    pub fn set_available(&self, available: bool) {
        self.available.store(available, Ordering::SeqCst);
    }

    /// The tables and the store's time, unless the store is "down".
    fn open(&self) -> Result<(std::sync::MutexGuard<'_, Tables>, DateTime<Utc>), StoreError> {
        if !self.available.load(Ordering::SeqCst) {
            return Err(StoreError::unavailable(
                "the memory store is set unavailable",
            ));
        }
        let now = self.clock.now();
        let tables = self.tables.lock().unwrap_or_else(PoisonError::into_inner);
        Ok((tables, now))
    }
}

impl Tables {
    fn next_fence(&mut self, loop_name: &str) -> Fence {
        let counter = self.fences.entry(loop_name.to_owned()).or_insert(0);
        *counter += 1;
        Fence::new(*counter)
    }

    /// Drops claims of slots more than a day old, now and then.
    fn prune(&mut self, now: DateTime<Utc>) {
        self.claims_since_pruning += 1;
        if self.claims_since_pruning < 1024 {
            return;
        }
        self.claims_since_pruning = 0;
        let oldest = now - TimeDelta::days(1);
        self.claims.retain(|(_, slot), _| *slot >= oldest);
    }
}

fn later(now: DateTime<Utc>, by: std::time::Duration) -> DateTime<Utc> {
    TimeDelta::from_std(by)
        .ok()
        .and_then(|by| now.checked_add_signed(by))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn earlier(at: DateTime<Utc>, by: std::time::Duration) -> DateTime<Utc> {
    TimeDelta::from_std(by)
        .ok()
        .and_then(|by| at.checked_sub_signed(by))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

impl Store for MemoryStore {
    fn claim<'a>(&'a self, claim: SlotClaim<'a>) -> BoxFuture<'a, Result<Claimed, StoreError>> {
        Box::pin(async move {
            let (mut tables, now) = self.open()?;
            if now < earlier(claim.slot, claim.early_tolerance) {
                return Ok(Claimed::TooEarly { store_now: now });
            }
            tables.prune(now);
            let key = (claim.loop_name.to_owned(), claim.slot);
            if let Some(row) = tables.claims.get(&key) {
                let may_take_over = claim.takeover.is_some_and(|window| {
                    row.finished.is_none()
                        && row.lease_until <= now
                        && now <= later(claim.slot, window)
                });
                if !may_take_over {
                    return Ok(Claimed::Taken {
                        holder: row.holder.clone(),
                        tzdb: Some(row.tzdb.clone()),
                    });
                }
            }
            let fence = tables.next_fence(claim.loop_name);
            tables.claims.insert(
                key,
                ClaimRow {
                    holder: claim.replica.as_str().to_owned(),
                    fence,
                    lease_until: later(now, claim.lease),
                    finished: None,
                    tzdb: claim.tzdb.to_owned(),
                },
            );
            Ok(Claimed::Won { fence })
        })
    }

    fn finish<'a>(&'a self, finish: SlotFinish<'a>) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let (mut tables, _) = self.open()?;
            let key = (finish.loop_name.to_owned(), finish.slot);
            if let Some(row) = tables.claims.get_mut(&key) {
                if row.fence == finish.fence {
                    row.finished = Some(finish.outcome);
                }
            }
            Ok(())
        })
    }

    fn last_finished<'a>(
        &'a self,
        loop_name: &'a str,
    ) -> BoxFuture<'a, Result<Option<FinishedSlot>, StoreError>> {
        Box::pin(async move {
            let (tables, _) = self.open()?;
            let last = tables
                .claims
                .iter()
                .filter(|((name, _), row)| name == loop_name && row.finished.is_some())
                .max_by_key(|((_, slot), _)| *slot)
                .and_then(|((_, slot), row)| {
                    Some(FinishedSlot {
                        slot: *slot,
                        outcome: row.finished?,
                        fence: row.fence,
                    })
                });
            Ok(last)
        })
    }

    fn lease<'a>(&'a self, request: LeaseRequest<'a>) -> BoxFuture<'a, Result<Lease, StoreError>> {
        Box::pin(async move {
            let (mut tables, now) = self.open()?;
            let replica = request.replica.as_str();
            let current = tables.leases.get(request.loop_name);
            let live_holder = current
                .filter(|row| row.expires > now)
                .map(|row| (row.holder.clone(), row.fence));
            match (request.renew, live_holder) {
                (Some(fence), Some((holder, current))) if holder == replica && current == fence => {
                    if let Some(row) = tables.leases.get_mut(request.loop_name) {
                        row.expires = later(now, request.lease);
                    }
                    Ok(Lease::Held { fence })
                }
                (Some(_), live) | (None, live @ Some(_)) => Ok(Lease::NotHeld {
                    holder: live.map(|(holder, _)| holder),
                }),
                (None, None) => {
                    let fence = tables.next_fence(request.loop_name);
                    tables.leases.insert(
                        request.loop_name.to_owned(),
                        LeaseRow {
                            holder: replica.to_owned(),
                            fence,
                            expires: later(now, request.lease),
                        },
                    );
                    Ok(Lease::Held { fence })
                }
            }
        })
    }

    fn release<'a>(
        &'a self,
        loop_name: &'a str,
        replica: &'a ReplicaId,
        fence: Fence,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let (mut tables, _) = self.open()?;
            let current = tables
                .leases
                .get(loop_name)
                .is_some_and(|row| row.holder == replica.as_str() && row.fence == fence);
            if current {
                tables.leases.remove(loop_name);
            }
            Ok(())
        })
    }
}
