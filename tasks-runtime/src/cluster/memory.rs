//! [`MemoryStore`]: the store of one process, and the reference for the
//! contract of [`Store`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;

use super::rules::{
    self, ClaimDecision, HeldClaim, HeldLease, LeaseDecision, PruningCounter, RenewalDecision,
    RenewedClaim, DEFAULT_RETENTION,
};
use super::store::{
    ClaimRenewal, Claimed, Fence, FinishedSlot, Lease, LeaseRequest, Renewal, ReplicaId, SlotClaim,
    SlotFinish, SlotOutcome, Store, StoreError,
};
use crate::clock::{Clock, SystemClock};

/// A store in memory: for several loops of one process, and for tests
/// (on a [`VirtualClock`](crate::testing::VirtualClock), with
/// [`set_available`](MemoryStore::set_available) to simulate an outage).
/// It keeps a claim for a day after its lease (or its late tolerance, or
/// its takeover window) has run out, and the last finished slot of each
/// loop, as the stores of `tasks-stores` do. Its tokens come from its
/// clock ([`Fence`](super::Fence#its-values)), so a process that restarts
/// with a new store still hands out tokens above the last ones.
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
///     late_tolerance: Duration::from_secs(60),
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
    claims_won: PruningCounter,
}

#[derive(Default)]
struct Tables {
    fences: HashMap<String, u64>,
    claims: HashMap<(String, DateTime<Utc>), ClaimRow>,
    leases: HashMap<String, LeaseRow>,
}

struct ClaimRow {
    holder: String,
    fence: Fence,
    lease_until: DateTime<Utc>,
    keep_until: DateTime<Utc>,
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
            claims_won: PruningCounter::new(),
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
    /// The loop's next token at the store's time `now`: from the clock, so
    /// that a store made anew (the process restarted) never hands out a
    /// token lower than the last one's.
    fn next_fence(&mut self, loop_name: &str, now: DateTime<Utc>) -> Fence {
        let last = self.fences.entry(loop_name.to_owned()).or_insert(0);
        let fence = rules::next_fence(*last, now);
        *last = fence.get();
        fence
    }

    /// Drops the claims past their time, but the last finished slot of
    /// each loop.
    fn prune(&mut self, now: DateTime<Utc>) {
        let mut last_finished: HashMap<String, DateTime<Utc>> = HashMap::new();
        for ((name, slot), row) in &self.claims {
            if row.finished.is_some() {
                let last = last_finished.entry(name.clone()).or_insert(*slot);
                *last = (*last).max(*slot);
            }
        }
        self.claims.retain(|(name, slot), row| {
            let last = last_finished.get(name).copied();
            !rules::is_prunable(*slot, row.keep_until, row.finished.is_some(), last, now)
        });
    }
}

impl Store for MemoryStore {
    fn claim<'a>(&'a self, claim: SlotClaim<'a>) -> BoxFuture<'a, Result<Claimed, StoreError>> {
        Box::pin(async move {
            let (mut tables, now) = self.open()?;
            let key = (claim.loop_name.to_owned(), claim.slot);
            let held = tables.claims.get(&key).map(|row| HeldClaim {
                holder: &row.holder,
                tzdb: &row.tzdb,
                lease_until: row.lease_until,
                finished: row.finished.is_some(),
            });
            let won = match rules::decide_claim(held, &claim, now, DEFAULT_RETENTION) {
                ClaimDecision::Lose(answer) => return Ok(answer),
                ClaimDecision::Win(won) => won,
            };
            let fence = tables.next_fence(claim.loop_name, now);
            tables.claims.insert(
                key,
                ClaimRow {
                    holder: claim.replica.as_str().to_owned(),
                    fence,
                    lease_until: won.lease_until,
                    keep_until: won.keep_until,
                    finished: None,
                    tzdb: claim.tzdb.to_owned(),
                },
            );
            if self.claims_won.won() {
                tables.prune(now);
            }
            Ok(Claimed::Won { fence })
        })
    }

    fn renew_claim<'a>(
        &'a self,
        renewal: ClaimRenewal<'a>,
    ) -> BoxFuture<'a, Result<Renewal, StoreError>> {
        Box::pin(async move {
            let (mut tables, now) = self.open()?;
            let key = (renewal.loop_name.to_owned(), renewal.slot);
            let Some(row) = tables.claims.get_mut(&key) else {
                return Ok(Renewal::Lost);
            };
            let held = RenewedClaim {
                holder: &row.holder,
                fence: row.fence,
                finished: row.finished.is_some(),
                keep_until: row.keep_until,
            };
            let decision = rules::decide_renewal(Some(held), &renewal, now, DEFAULT_RETENTION);
            if let RenewalDecision::Extend(times) = decision {
                row.lease_until = times.lease_until;
                row.keep_until = times.keep_until;
            }
            Ok(decision.answer())
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
            let held = tables.leases.get(request.loop_name).map(|row| HeldLease {
                holder: &row.holder,
                fence: row.fence,
                expires: row.expires,
            });
            match rules::decide_lease(held, &request, now) {
                LeaseDecision::Renew { fence, expires } => {
                    if let Some(row) = tables.leases.get_mut(request.loop_name) {
                        row.expires = expires;
                    }
                    Ok(Lease::Held { fence })
                }
                LeaseDecision::NewTerm { expires } => {
                    let fence = tables.next_fence(request.loop_name, now);
                    tables.leases.insert(
                        request.loop_name.to_owned(),
                        LeaseRow {
                            holder: request.replica.as_str().to_owned(),
                            fence,
                            expires,
                        },
                    );
                    Ok(Lease::Held { fence })
                }
                LeaseDecision::Refuse(answer) => Ok(answer),
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::TimeDelta;

    use super::*;
    use crate::cluster::rules::CLAIMS_PER_PRUNING;
    use crate::testing::VirtualClock;

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn prunes_as_the_other_stores_do_and_keeps_the_last_finished_slot() {
        let clock = VirtualClock::starting_at("2026-12-02T09:00:00Z".parse().unwrap());
        let store = MemoryStore::with_clock(clock.clone());
        let replica = ReplicaId::new("pruner");
        let first = clock.now() - TimeDelta::seconds(10);
        let claim = |slot| SlotClaim {
            loop_name: "pruned",
            slot,
            replica: &replica,
            lease: Duration::from_millis(1),
            early_tolerance: Duration::ZERO,
            late_tolerance: Duration::from_secs(60),
            takeover: None,
            tzdb: "2025b",
        };
        let won = |answer| match answer {
            Ok(Claimed::Won { fence }) => fence,
            other => panic!("expected the claim to win, got {other:?}"),
        };
        let finished = won(store.claim(claim(first)).await);
        let finish = SlotFinish {
            loop_name: "pruned",
            slot: first,
            fence: finished,
            outcome: SlotOutcome::Completed,
        };
        store.finish(finish).await.unwrap();
        for i in 1..i64::from(CLAIMS_PER_PRUNING) - 1 {
            won(store.claim(claim(first - TimeDelta::milliseconds(i))).await);
        }
        // A day after the leases and late tolerances ran out, the 256th
        // claim won (of a slot due then) prunes; its own claim and the last
        // finished slot stay.
        clock.jump(TimeDelta::days(1) + TimeDelta::seconds(61));
        let newest = clock.now() - TimeDelta::seconds(10);
        won(store.claim(claim(newest)).await);
        let kept: Vec<DateTime<Utc>> = {
            let tables = store.tables.lock().unwrap();
            let mut slots: Vec<_> = tables.claims.keys().map(|(_, slot)| *slot).collect();
            slots.sort();
            slots
        };
        assert_eq!(kept, [first, newest]);
        let last = store.last_finished("pruned").await.unwrap().unwrap();
        assert_eq!((last.slot, last.fence), (first, finished));
    }
}
