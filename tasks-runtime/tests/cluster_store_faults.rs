//! A store that forgets and clocks that disagree, on tokio's paused clock
//! with the in-memory store, the store's clock apart from the replicas':
//! fencing tokens keep growing when the store loses everything, in claim
//! and leader mode, and a replica days behind the store runs no old slot.

mod common;
use common::utc;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures_util::future::BoxFuture;
use tasks_runtime::cluster::{
    ClaimRenewal, Claimed, Cluster, Fence, FinishedSlot, Lease, LeaseRequest, MemoryStore, Renewal,
    ReplicaId, SlotClaim, SlotFinish, SlotTooLate, Store, StoreError,
};
use tasks_runtime::testing::VirtualClock;
use tasks_runtime::{Clock, Loop, LoopError};

/// A store that can lose everything at once, as Redis does on `FLUSHALL`
/// or a restart without persistence: [`forget`](Forgetful::forget) puts a
/// new, empty store in its place, on the same clock.
struct Forgetful {
    clock: Arc<VirtualClock>,
    inner: Mutex<Arc<MemoryStore>>,
}

impl Forgetful {
    fn new(clock: Arc<VirtualClock>) -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::new(Arc::new(MemoryStore::with_clock(clock.clone()))),
            clock,
        })
    }

    fn forget(&self) {
        *self.inner.lock().unwrap() = Arc::new(MemoryStore::with_clock(self.clock.clone()));
    }

    fn current(&self) -> Arc<MemoryStore> {
        self.inner.lock().unwrap().clone()
    }
}

impl Store for Forgetful {
    fn claim<'a>(&'a self, claim: SlotClaim<'a>) -> BoxFuture<'a, Result<Claimed, StoreError>> {
        let inner = self.current();
        Box::pin(async move { inner.claim(claim).await })
    }
    fn renew_claim<'a>(
        &'a self,
        renewal: ClaimRenewal<'a>,
    ) -> BoxFuture<'a, Result<Renewal, StoreError>> {
        let inner = self.current();
        Box::pin(async move { inner.renew_claim(renewal).await })
    }
    fn finish<'a>(&'a self, finish: SlotFinish<'a>) -> BoxFuture<'a, Result<(), StoreError>> {
        let inner = self.current();
        Box::pin(async move { inner.finish(finish).await })
    }
    fn last_finished<'a>(
        &'a self,
        loop_name: &'a str,
    ) -> BoxFuture<'a, Result<Option<FinishedSlot>, StoreError>> {
        let inner = self.current();
        Box::pin(async move { inner.last_finished(loop_name).await })
    }
    fn lease<'a>(&'a self, request: LeaseRequest<'a>) -> BoxFuture<'a, Result<Lease, StoreError>> {
        let inner = self.current();
        Box::pin(async move { inner.lease(request).await })
    }
    fn release<'a>(
        &'a self,
        loop_name: &'a str,
        replica: &'a ReplicaId,
        fence: Fence,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let inner = self.current();
        Box::pin(async move { inner.release(loop_name, replica, fence).await })
    }
}

/// The fences of the iterations run, in the order they ran.
type Fences = Arc<Mutex<Vec<Fence>>>;

/// A replica's loop every `every` seconds on `clock`, recording each
/// iteration's fence.
fn replica(name: &str, cluster: Cluster, clock: Arc<dyn Clock>, every: f64, ran: &Fences) -> Loop {
    let cell: Arc<std::sync::OnceLock<Loop>> = Arc::default();
    let (inside, ran) = (cell.clone(), ran.clone());
    let lp = Loop::builder(move |()| {
        let fence = inside.get().and_then(Loop::fence).expect("a token");
        ran.lock().unwrap().push(fence);
        async {}
    })
    .seconds(every)
    .name("tick")
    .clock(clock)
    .cluster(cluster.replica(ReplicaId::new(name)))
    .build()
    .unwrap();
    let _ = cell.set(lp.clone());
    lp
}

fn strictly_increasing(fences: &[Fence]) -> bool {
    fences.windows(2).all(|pair| pair[0] < pair[1])
}

#[tokio::test(start_paused = true)]
async fn in_claim_mode_tokens_keep_growing_when_the_store_forgets_everything() {
    let clock = VirtualClock::starting_at(utc("2026-12-02T09:00:00.500Z"));
    let store = Forgetful::new(clock.clone());
    let ran = Fences::default();
    let loops: Vec<_> = ["a", "b"]
        .iter()
        .map(|name| {
            let cluster = Cluster::claim(store.clone());
            replica(name, cluster, clock.clone(), 1.0, &ran)
        })
        .collect();
    for lp in &loops {
        lp.start(()).unwrap();
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let before = ran.lock().unwrap().len();
    store.forget();
    tokio::time::sleep(Duration::from_secs(5)).await;
    for lp in &loops {
        lp.cancel();
    }
    let ran = ran.lock().unwrap().clone();
    // 09:00:01 to 09:00:10, each slot once; the tokens after the store lost
    // its counter are higher than every one before.
    assert_eq!((before, ran.len()), (5, 10), "{ran:?}");
    assert!(strictly_increasing(&ran), "{ran:?}");
    // They are the store's microseconds: the first, 09:00:01's claim.
    assert_eq!(ran[0].get(), 1_796_202_001_000_000);
}

#[tokio::test(start_paused = true)]
async fn in_leader_mode_a_new_term_after_the_store_forgets_has_a_higher_token() {
    let clock = VirtualClock::starting_at(utc("2026-12-02T09:00:00Z"));
    let store = Forgetful::new(clock.clone());
    let ran = Fences::default();
    let loops: Vec<_> = ["a", "b"]
        .iter()
        .map(|name| {
            let cluster = Cluster::leader(store.clone()).lease(Duration::from_secs(1));
            replica(name, cluster, clock.clone(), 0.2, &ran)
        })
        .collect();
    for lp in &loops {
        lp.start(()).unwrap();
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let first_term = *ran.lock().unwrap().last().expect("a leader ran");
    store.forget();
    tokio::time::sleep(Duration::from_secs(5)).await;
    for lp in &loops {
        lp.cancel();
    }
    let ran = ran.lock().unwrap().clone();
    // The leader's renewal finds no lease: its term ends, and the next term
    // (of either replica) gets a token above the first term's.
    let later_terms: Vec<Fence> = ran.iter().copied().filter(|f| *f != first_term).collect();
    assert!(
        !later_terms.is_empty(),
        "a new term after the store forgot: {ran:?}"
    );
    assert!(
        later_terms.iter().all(|fence| *fence > first_term),
        "{ran:?}"
    );
    assert!(ran.windows(2).all(|pair| pair[0] <= pair[1]), "{ran:?}");
}

/// Runs a claim-mode replica whose clock reads `behind` before the store's
/// for `seconds` of slots every second, and returns the tokens it ran with
/// and the slots refused as too late that its `error` hook heard of.
async fn behind_the_store(
    behind: TimeDelta,
    grace: Option<Duration>,
    seconds: u64,
) -> (Vec<Fence>, Vec<SlotTooLate>) {
    let store_time = utc("2026-12-04T09:00:00.500Z");
    let store_clock = VirtualClock::starting_at(store_time);
    let replica_clock = VirtualClock::starting_at(store_time - behind);
    let store = Arc::new(MemoryStore::with_clock(store_clock));
    let ran = Fences::default();
    let lp = replica("late", Cluster::claim(store), replica_clock, 1.0, &ran);
    if let Some(grace) = grace {
        lp.set_grace_period(Some(grace));
    }
    let refused = Arc::new(Mutex::new(Vec::new()));
    let heard = refused.clone();
    lp.error(move |error: LoopError| {
        heard.lock().unwrap().push(
            error
                .downcast_ref::<SlotTooLate>()
                .cloned()
                .expect("too late"),
        );
        async {}
    });
    lp.start(()).unwrap();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    lp.cancel();
    let ran = ran.lock().unwrap().clone();
    let refused = refused.lock().unwrap().clone();
    (ran, refused)
}

#[tokio::test(start_paused = true)]
async fn a_replica_two_days_behind_the_store_runs_no_old_slot_and_says_why() {
    let (ran, refused) = behind_the_store(TimeDelta::days(2), None, 3).await;
    assert!(ran.is_empty(), "{ran:?}");
    // 2026-12-02T09:00:01 to :03, each refused by the store's clock and
    // reported to the `error` hook; the loop goes on.
    let slots: Vec<DateTime<Utc>> = refused.iter().map(|late| late.slot).collect();
    assert_eq!(
        slots,
        ["09:00:01", "09:00:02", "09:00:03"].map(|t| utc(&format!("2026-12-02T{t}Z")))
    );
    let first = &refused[0];
    assert_eq!(first.loop_name, "tick");
    assert_eq!(first.store_now - first.slot, TimeDelta::days(2));
    assert_eq!(first.replica_now, first.slot);
    assert_eq!(first.late_tolerance, Duration::from_secs(60), "two leases");
}

#[tokio::test(start_paused = true)]
async fn a_replica_behind_within_its_late_tolerance_still_runs_its_slots() {
    // Ten seconds behind, within twice the 30 s lease.
    let (ran, refused) = behind_the_store(TimeDelta::seconds(10), None, 3).await;
    assert_eq!((ran.len(), refused.len()), (3, 0), "{ran:?} {refused:?}");
    // An hour behind, within a grace period of two hours.
    let grace = Duration::from_secs(2 * 3600);
    let (ran, refused) = behind_the_store(TimeDelta::hours(1), Some(grace), 3).await;
    assert_eq!((ran.len(), refused.len()), (3, 0), "{ran:?} {refused:?}");
    // Two days behind, past it.
    let (ran, refused) = behind_the_store(TimeDelta::days(2), Some(grace), 3).await;
    assert_eq!((ran.len(), refused.len()), (0, 3), "{ran:?} {refused:?}");
    assert_eq!(refused[0].late_tolerance, grace);
}
