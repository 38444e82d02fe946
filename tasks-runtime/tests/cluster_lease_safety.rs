//! A replica acts only while its claim or lease is valid by its own clock,
//! with the cluster's safety margin: a leader paused past its lease, a
//! claim answered late, an `error` hook that hangs, a lease granted late.
//! On tokio's paused clock with the in-memory store.

mod common;
use common::utc;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tasks_runtime::cluster::{
    ClaimRenewal, Claimed, Cluster, Fence, FinishedSlot, Lease, LeaseRequest, MemoryStore, Renewal,
    ReplicaId, SlotClaim, SlotFinish, Store, StoreError,
};
use tasks_runtime::testing::VirtualClock;
use tasks_runtime::{Loop, LoopError};
use tokio::time::Instant;

/// Each call of the body: when (tokio's clock) and with which fence.
type Calls = Arc<Mutex<Vec<(Instant, Option<Fence>)>>>;

/// A loop every `every` seconds on `store`, recording each call of its body.
fn recorded(cluster: Cluster, clock: Arc<VirtualClock>, every: f64, calls: &Calls) -> Loop<()> {
    let cell: Arc<std::sync::OnceLock<Loop<()>>> = Arc::default();
    let (inside, calls) = (cell.clone(), calls.clone());
    let lp = Loop::builder(move |()| {
        let fence = inside.get().and_then(Loop::fence);
        calls.lock().unwrap().push((Instant::now(), fence));
        async {}
    })
    .seconds(every)
    .name("tick")
    .clock(clock)
    .cluster(cluster.replica(ReplicaId::new("r0")))
    .build()
    .unwrap();
    let _ = cell.set(lp.clone());
    lp
}

/// A store in front of the in-memory one that can be cut off (its calls
/// fail), and whose answers to claims and acquisitions (not renewals) can
/// arrive late: the store decides at once, the answer comes `late` after.
struct Faulty {
    inner: MemoryStore,
    cut: AtomicBool,
    late: Mutex<Duration>,
}

impl Faulty {
    fn new(clock: Arc<VirtualClock>) -> Arc<Self> {
        Arc::new(Self {
            inner: MemoryStore::with_clock(clock),
            cut: AtomicBool::new(false),
            late: Mutex::new(Duration::ZERO),
        })
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.cut.load(Ordering::SeqCst) {
            Err(StoreError::unavailable("cut off"))
        } else {
            Ok(())
        }
    }

    async fn answer_late(&self) {
        let late = *self.late.lock().unwrap();
        tokio::time::sleep(late).await;
    }
}

impl Store for Faulty {
    fn claim<'a>(&'a self, claim: SlotClaim<'a>) -> BoxFuture<'a, Result<Claimed, StoreError>> {
        Box::pin(async move {
            self.check()?;
            let answer = self.inner.claim(claim).await;
            self.answer_late().await;
            answer
        })
    }
    fn finish<'a>(&'a self, finish: SlotFinish<'a>) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.check()?;
            self.inner.finish(finish).await
        })
    }
    fn renew_claim<'a>(
        &'a self,
        renewal: ClaimRenewal<'a>,
    ) -> BoxFuture<'a, Result<Renewal, StoreError>> {
        Box::pin(async move {
            self.check()?;
            self.inner.renew_claim(renewal).await
        })
    }
    fn last_finished<'a>(
        &'a self,
        loop_name: &'a str,
    ) -> BoxFuture<'a, Result<Option<FinishedSlot>, StoreError>> {
        Box::pin(async move {
            self.check()?;
            self.inner.last_finished(loop_name).await
        })
    }
    fn lease<'a>(&'a self, request: LeaseRequest<'a>) -> BoxFuture<'a, Result<Lease, StoreError>> {
        Box::pin(async move {
            self.check()?;
            let acquiring = request.renew.is_none();
            let answer = self.inner.lease(request).await;
            if acquiring {
                self.answer_late().await;
            }
            answer
        })
    }
    fn release<'a>(
        &'a self,
        loop_name: &'a str,
        replica: &'a ReplicaId,
        fence: Fence,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.check()?;
            self.inner.release(loop_name, replica, fence).await
        })
    }
}

#[tokio::test(start_paused = true)]
async fn a_leader_paused_past_its_lease_calls_no_body_with_its_old_fence() {
    let clock = VirtualClock::starting_at(utc("2026-12-02T09:00:00.300Z"));
    let store = Faulty::new(clock.clone());
    let calls = Calls::default();
    let cluster = Cluster::leader(store.clone()).lease(Duration::from_secs(1));
    let lp = recorded(cluster, clock, 0.1, &calls);
    lp.start(()).unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let old = lp.fence().expect("the replica leads");
    assert!(calls.lock().unwrap().len() >= 15);
    // The process stalls for 3.5 s: the run's next iteration and the
    // supervisor's renewal are due at once when it resumes.
    let resumed = Instant::now() + Duration::from_millis(3500);
    tokio::time::advance(Duration::from_millis(3500)).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let calls = calls.lock().unwrap().clone();
    let stale: Vec<_> = calls
        .iter()
        .filter(|(at, fence)| *at >= resumed && *fence == Some(old))
        .collect();
    assert!(
        stale.is_empty(),
        "{} calls with the old fence: {stale:?}",
        stale.len()
    );
    lp.cancel();
}

#[tokio::test(start_paused = true)]
async fn a_claim_answered_after_its_lease_mostly_went_does_not_run_the_body() {
    let clock = VirtualClock::starting_at(utc("2026-12-02T09:00:00.300Z"));
    let store = Faulty::new(clock.clone());
    // A claim of 3 s may act for 2 s after it was sent; the answer takes 2.5.
    *store.late.lock().unwrap() = Duration::from_millis(2500);
    let calls = Calls::default();
    let cluster = Cluster::claim(store.clone()).lease(Duration::from_secs(3));
    let lp = recorded(cluster, clock, 5.0, &calls);
    lp.start(()).unwrap();
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert!(
        calls.lock().unwrap().is_empty(),
        "{:?}",
        calls.lock().unwrap()
    );
    // Answered in time, the same claims run.
    *store.late.lock().unwrap() = Duration::from_millis(1500);
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(!calls.lock().unwrap().is_empty());
    lp.cancel();
}

#[tokio::test(start_paused = true)]
async fn an_error_hook_that_hangs_does_not_keep_a_cut_off_leader_running() {
    let clock = VirtualClock::starting_at(utc("2026-12-02T09:00:00.300Z"));
    let store = Faulty::new(clock.clone());
    let calls = Calls::default();
    let cluster = Cluster::leader(store.clone()).lease(Duration::from_secs(1));
    let lp = recorded(cluster, clock, 0.1, &calls);
    let reported = Arc::new(AtomicUsize::new(0));
    let seen = reported.clone();
    lp.error(move |_: LoopError| {
        seen.fetch_add(1, Ordering::SeqCst);
        std::future::pending::<()>()
    });
    let participation = lp.start(()).unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(lp.fence().is_some(), "the replica leads");
    store.cut.store(true, Ordering::SeqCst);
    let cut_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(reported.load(Ordering::SeqCst) >= 1, "the hook heard of it");
    let calls = calls.lock().unwrap().clone();
    let late: Vec<_> = calls
        .iter()
        .filter(|(at, _)| *at >= cut_at + Duration::from_secs(1))
        .collect();
    assert!(
        late.is_empty(),
        "{} calls past the lease: {late:?}",
        late.len()
    );
    // The supervisor is not stuck in the hook: it hears the cancel.
    lp.cancel();
    let left = tokio::time::timeout(Duration::from_secs(1), participation).await;
    assert!(left.is_ok(), "the replica did not leave");
}

#[tokio::test(start_paused = true)]
async fn a_lease_granted_after_lease_minus_margin_starts_no_term() {
    let clock = VirtualClock::starting_at(utc("2026-12-02T09:00:00.300Z"));
    let store = Faulty::new(clock.clone());
    // A lease of 1 s may be acted on for 2/3 s after it was asked for; the
    // answer takes 0.8 s.
    *store.late.lock().unwrap() = Duration::from_millis(800);
    let calls = Calls::default();
    let cluster = Cluster::leader(store.clone()).lease(Duration::from_secs(1));
    let lp = recorded(cluster, clock, 0.1, &calls);
    let (began, ended) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let seen = began.clone();
    lp.before_loop(move || {
        seen.fetch_add(1, Ordering::SeqCst);
        async {}
    });
    let seen = ended.clone();
    lp.after_loop(move || {
        seen.fetch_add(1, Ordering::SeqCst);
        async {}
    });
    lp.start(()).unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(began.load(Ordering::SeqCst), 0, "no before_loop");
    assert_eq!(ended.load(Ordering::SeqCst), 0, "no run, so no after_loop");
    assert!(
        calls.lock().unwrap().is_empty(),
        "{:?}",
        calls.lock().unwrap()
    );
    // Answered in time, the term starts.
    *store.late.lock().unwrap() = Duration::from_millis(500);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(began.load(Ordering::SeqCst), 1);
    assert!(!calls.lock().unwrap().is_empty());
    lp.cancel();
}

#[tokio::test(start_paused = true)]
async fn an_error_hook_that_hangs_holds_a_claiming_replica_back_a_lease_at_most() {
    let clock = VirtualClock::starting_at(utc("2026-12-02T09:00:00.300Z"));
    let store = Faulty::new(clock.clone());
    store.cut.store(true, Ordering::SeqCst);
    let calls = Calls::default();
    let cluster = Cluster::claim(store.clone()).lease(Duration::from_secs(1));
    let lp = recorded(cluster, clock, 1.0, &calls);
    let reported = Arc::new(AtomicUsize::new(0));
    let seen = reported.clone();
    lp.error(move |_: LoopError| {
        seen.fetch_add(1, Ordering::SeqCst);
        std::future::pending::<()>()
    });
    lp.start(()).unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(reported.load(Ordering::SeqCst) >= 1);
    assert!(calls.lock().unwrap().is_empty());
    // The store comes back: the replica claims and runs its slots again,
    // the hanging hook abandoned after a lease.
    store.cut.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let ran = calls.lock().unwrap().len();
    assert!(ran >= 3, "{ran} slots ran after the store came back");
    lp.cancel();
}
