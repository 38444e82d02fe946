//! Every store call of a cluster loop has a deadline: a claim, a finish, a
//! catch-up's read, an acquisition, a renewal, a release that never answers
//! fails at the cluster's store deadline, reported as a store error, and
//! `shutdown(grace)` returns within the grace period plus one deadline
//! whatever the store does. On tokio's paused clock, with the in-memory
//! store behind a wrapper whose calls can be made to hang.

mod common;
use common::utc;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tasks_runtime::cluster::{
    ClaimRenewal, Claimed, Cluster, Fence, FinishedSlot, Lease, LeaseRequest, MemoryStore, Renewal,
    ReplicaId, SlotClaim, SlotFinish, Store, StoreError, StoreErrorKind,
};
use tasks_runtime::testing::VirtualClock;
use tasks_runtime::{ConfigError, Loop, LoopError};
use tokio::time::Instant;

/// The calls of a store.
#[derive(Clone, Copy, Debug)]
enum Call {
    Claim,
    RenewClaim,
    Finish,
    LastFinished,
    Acquire,
    Renew,
    Release,
}

const CALLS: [Call; 7] = [
    Call::Claim,
    Call::RenewClaim,
    Call::Finish,
    Call::LastFinished,
    Call::Acquire,
    Call::Renew,
    Call::Release,
];

/// The in-memory store, whose calls of each kind can be made to hang (never
/// answer), for good or for the next few.
struct Hanging {
    inner: MemoryStore,
    hung: [AtomicBool; 7],
    hang_next: [AtomicUsize; 7],
}

impl Hanging {
    fn new(clock: Arc<VirtualClock>) -> Arc<Self> {
        Arc::new(Self {
            inner: MemoryStore::with_clock(clock),
            hung: Default::default(),
            hang_next: Default::default(),
        })
    }

    fn hang(&self, call: Call, hung: bool) {
        self.hung[call as usize].store(hung, Ordering::SeqCst);
    }

    fn hang_all(&self) {
        for call in CALLS {
            self.hang(call, true);
        }
    }

    fn hang_next(&self, call: Call, times: usize) {
        self.hang_next[call as usize].store(times, Ordering::SeqCst);
    }

    /// Never returns if `call` is to hang now.
    async fn maybe_hang(&self, call: Call) {
        let next = &self.hang_next[call as usize];
        let once = next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if once || self.hung[call as usize].load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
    }
}

impl Store for Hanging {
    fn claim<'a>(&'a self, claim: SlotClaim<'a>) -> BoxFuture<'a, Result<Claimed, StoreError>> {
        Box::pin(async move {
            self.maybe_hang(Call::Claim).await;
            self.inner.claim(claim).await
        })
    }
    fn renew_claim<'a>(
        &'a self,
        renewal: ClaimRenewal<'a>,
    ) -> BoxFuture<'a, Result<Renewal, StoreError>> {
        Box::pin(async move {
            self.maybe_hang(Call::RenewClaim).await;
            self.inner.renew_claim(renewal).await
        })
    }
    fn finish<'a>(&'a self, finish: SlotFinish<'a>) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.maybe_hang(Call::Finish).await;
            self.inner.finish(finish).await
        })
    }
    fn last_finished<'a>(
        &'a self,
        loop_name: &'a str,
    ) -> BoxFuture<'a, Result<Option<FinishedSlot>, StoreError>> {
        Box::pin(async move {
            self.maybe_hang(Call::LastFinished).await;
            self.inner.last_finished(loop_name).await
        })
    }
    fn lease<'a>(&'a self, request: LeaseRequest<'a>) -> BoxFuture<'a, Result<Lease, StoreError>> {
        Box::pin(async move {
            let call = match request.renew {
                None => Call::Acquire,
                Some(_) => Call::Renew,
            };
            self.maybe_hang(call).await;
            self.inner.lease(request).await
        })
    }
    fn release<'a>(
        &'a self,
        loop_name: &'a str,
        replica: &'a ReplicaId,
        fence: Fence,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.maybe_hang(Call::Release).await;
            self.inner.release(loop_name, replica, fence).await
        })
    }
}

/// Each call of the body: when (tokio's clock) and with which fence.
type Calls = Arc<Mutex<Vec<(Instant, Option<Fence>)>>>;

/// What a loop did: the body's calls (when, with which fence), the store
/// errors its `error` hook heard (when, and the message), and its terms.
#[derive(Clone, Default)]
struct Seen {
    calls: Calls,
    store_errors: Arc<Mutex<Vec<(Instant, String)>>>,
    terms: Arc<AtomicUsize>,
}

/// A loop every `every` seconds on `cluster` whose body takes `takes`,
/// recording what it does in `seen`.
fn watched(
    cluster: Cluster,
    clock: Arc<VirtualClock>,
    every: f64,
    takes: Duration,
    seen: &Seen,
) -> Loop<()> {
    let cell: Arc<std::sync::OnceLock<Loop<()>>> = Arc::default();
    let (inside, calls) = (cell.clone(), seen.calls.clone());
    let lp = Loop::builder(move |()| {
        let fence = inside.get().and_then(Loop::fence);
        calls.lock().unwrap().push((Instant::now(), fence));
        tokio::time::sleep(takes)
    })
    .seconds(every)
    .name("tick")
    .clock(clock)
    .cluster(cluster.replica(ReplicaId::new("r0")))
    .build()
    .unwrap();
    let _ = cell.set(lp.clone());
    let errors = seen.store_errors.clone();
    lp.error(move |error: LoopError| {
        let store = error.downcast_ref::<StoreError>().expect("a store error");
        assert_eq!(store.kind(), StoreErrorKind::Unavailable);
        errors
            .lock()
            .unwrap()
            .push((Instant::now(), store.to_string()));
        async {}
    });
    let terms = seen.terms.clone();
    lp.before_loop(move || {
        terms.fetch_add(1, Ordering::SeqCst);
        async {}
    });
    lp
}

#[tokio::test(start_paused = true)]
async fn a_claim_that_hangs_fails_at_the_store_deadline_as_a_store_error() {
    let clock = VirtualClock::starting_at(utc("2026-12-02T09:00:00.300Z"));
    let store = Hanging::new(clock.clone());
    store.hang(Call::Claim, true);
    let seen = Seen::default();
    // A claim of 30 s: the default deadline, 2.5 s.
    let cluster = Cluster::claim(store.clone());
    assert_eq!(
        cluster.store_deadline_duration(),
        Duration::from_millis(2500)
    );
    let lp = watched(cluster, clock, 10.0, Duration::ZERO, &seen);
    let started = Instant::now();
    lp.start(()).unwrap();
    tokio::time::sleep(Duration::from_secs(25)).await;
    // Slots at 09:00:10 and 09:00:20, each given up 2.5 s after its claim.
    let errors = seen.store_errors.lock().unwrap().clone();
    assert_eq!(errors.len(), 2, "{errors:?}");
    for ((at, message), slot) in errors.iter().zip([9.7, 19.7]) {
        let expected = started + Duration::from_secs_f64(slot + 2.5);
        assert_eq!(*at, expected, "{message}");
        assert!(
            message.contains("claiming a slot: no answer within the store deadline of 2.5s"),
            "{message}"
        );
    }
    assert!(seen.calls.lock().unwrap().is_empty(), "no slot ran");
    // The store answers again: the next slot runs.
    store.hang(Call::Claim, false);
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(seen.calls.lock().unwrap().len(), 1);
    assert!(!lp.failed());
    lp.cancel();
}

#[tokio::test(start_paused = true)]
async fn with_run_during_outage_a_slot_whose_claim_hangs_runs_without_a_fence_after_the_deadline() {
    let clock = VirtualClock::starting_at(utc("2026-12-02T09:00:00.300Z"));
    let store = Hanging::new(clock.clone());
    store.hang(Call::Claim, true);
    let seen = Seen::default();
    let cluster = Cluster::claim(store.clone())
        .run_during_outage(true)
        .store_deadline(Duration::from_secs(1));
    let lp = watched(cluster, clock, 10.0, Duration::ZERO, &seen);
    let started = Instant::now();
    lp.start(()).unwrap();
    tokio::time::sleep(Duration::from_secs(15)).await;
    let calls = seen.calls.lock().unwrap().clone();
    assert_eq!(
        calls,
        vec![(started + Duration::from_millis(10_700), None)],
        "the slot of 09:00:10 runs a second after its claim was sent"
    );
    lp.cancel();
}

#[tokio::test(start_paused = true)]
async fn a_catch_up_read_that_hangs_does_not_hold_the_run() {
    let clock = VirtualClock::starting_at(utc("2026-12-02T09:00:00.300Z"));
    let store = Hanging::new(clock.clone());
    store.hang(Call::LastFinished, true);
    let seen = Seen::default();
    let cluster = Cluster::claim(store.clone()).catch_up(true);
    let lp = watched(cluster, clock, 10.0, Duration::ZERO, &seen);
    lp.start(()).unwrap();
    tokio::time::sleep(Duration::from_secs(25)).await;
    let errors = seen.store_errors.lock().unwrap().clone();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].1.contains("reading the last finished slot"));
    // Without catch-up, the slots of 09:00:10 and 09:00:20 run.
    assert_eq!(seen.calls.lock().unwrap().len(), 2);
    lp.cancel();
}

#[tokio::test(start_paused = true)]
async fn shutdown_returns_within_grace_plus_one_deadline_when_the_finish_hangs() {
    let clock = VirtualClock::starting_at(utc("2026-12-02T09:00:00.300Z"));
    let store = Hanging::new(clock.clone());
    let seen = Seen::default();
    let deadline = Duration::from_secs(1);
    let cluster = Cluster::claim(store.clone()).store_deadline(deadline);
    let lp = watched(cluster, clock, 5.0, Duration::from_millis(1500), &seen);
    let run = lp.start(()).unwrap();
    // The slot of 09:00:05 is claimed and runs; from now on the store never
    // answers: its finish hangs, and so would anything else.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(seen.calls.lock().unwrap().len(), 1);
    store.hang_all();
    let grace = Duration::from_secs(2);
    let asked = Instant::now();
    let shut = tokio::time::timeout(grace + deadline, lp.shutdown(grace)).await;
    assert!(
        shut.is_ok(),
        "shutdown still waiting {:?} after it was asked",
        asked.elapsed()
    );
    assert!(!lp.is_running());
    drop(run);
}

#[tokio::test(start_paused = true)]
async fn shutdown_returns_within_grace_plus_one_deadline_when_the_finish_hangs_past_the_grace() {
    let clock = VirtualClock::starting_at(utc("2026-12-02T09:00:00.300Z"));
    let store = Hanging::new(clock.clone());
    let seen = Seen::default();
    // The deadline is longer than the grace period: the cancel at the end
    // of the grace ends the wait for the finish.
    let deadline = Duration::from_secs(10);
    let cluster = Cluster::claim(store.clone())
        .lease(Duration::from_secs(60))
        .store_deadline(deadline);
    let lp = watched(cluster, clock, 5.0, Duration::from_millis(500), &seen);
    lp.start(()).unwrap();
    tokio::time::sleep(Duration::from_millis(4900)).await;
    store.hang(Call::Finish, true);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(seen.calls.lock().unwrap().len(), 1);
    let grace = Duration::from_secs(1);
    let asked = Instant::now();
    let graceful = tokio::time::timeout(grace + deadline, lp.shutdown(grace))
        .await
        .expect("shutdown returns");
    assert!(!graceful, "the run was cancelled");
    assert_eq!(asked.elapsed(), grace);
}

#[tokio::test(start_paused = true)]
async fn shutdown_of_a_leader_returns_within_grace_plus_one_deadline_when_the_store_hangs() {
    let clock = VirtualClock::starting_at(utc("2026-12-02T09:00:00.300Z"));
    let store = Hanging::new(clock.clone());
    let seen = Seen::default();
    let deadline = Duration::from_secs(1);
    let cluster = Cluster::leader(store.clone())
        .lease(Duration::from_secs(3))
        .store_deadline(deadline);
    let lp = watched(cluster, clock, 0.1, Duration::ZERO, &seen);
    let participation = lp.start(()).unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(lp.fence().is_some(), "the replica leads");
    // The store stops answering, renewals included; the replica leaves
    // while its lease is still good: its release hangs.
    store.hang_all();
    let grace = Duration::from_secs(2);
    let shut = tokio::time::timeout(grace + deadline, lp.shutdown(grace)).await;
    assert!(shut.is_ok(), "shutdown still waiting on the store");
    let left = tokio::time::timeout(Duration::ZERO, participation).await;
    assert!(left.is_ok(), "the replica left");
}

#[tokio::test(start_paused = true)]
async fn a_renewal_that_hangs_once_is_followed_by_another_and_the_leader_keeps_its_lease() {
    let clock = VirtualClock::starting_at(utc("2026-12-02T09:00:00.300Z"));
    let store = Hanging::new(clock.clone());
    let seen = Seen::default();
    // The default lease of 15 s: renewals every 5 s, the leader acts 10 s
    // after its last good renewal, each call waited on for 2.5 s.
    let lp = watched(
        Cluster::leader(store.clone()),
        clock,
        1.0,
        Duration::ZERO,
        &seen,
    );
    lp.start(()).unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let fence = lp.fence().expect("the replica leads");
    store.hang_next(Call::Renew, 1);
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(seen.terms.load(Ordering::SeqCst), 1, "one term");
    assert_eq!(lp.fence(), Some(fence));
    let errors = seen.store_errors.lock().unwrap().clone();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].1.contains("renewing the lease: no answer"),
        "{}",
        errors[0].1
    );
    // An iteration a second throughout.
    let calls = seen.calls.lock().unwrap().clone();
    assert!(calls.len() >= 32, "{} calls", calls.len());
    assert!(calls.iter().all(|(_, f)| *f == Some(fence)));
    lp.cancel();
}

#[tokio::test(start_paused = true)]
async fn an_acquisition_that_hangs_is_given_up_at_the_deadline_and_asked_again() {
    let clock = VirtualClock::starting_at(utc("2026-12-02T09:00:00.300Z"));
    let store = Hanging::new(clock.clone());
    store.hang_next(Call::Acquire, 1);
    let seen = Seen::default();
    let lp = watched(
        Cluster::leader(store.clone()).lease(Duration::from_secs(3)),
        clock,
        0.5,
        Duration::ZERO,
        &seen,
    );
    let started = Instant::now();
    lp.start(()).unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    // Given up after 2 s (the lease minus the margin), asked again after a
    // poll (a quarter of the lease).
    let errors = seen.store_errors.lock().unwrap().clone();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].0, started + Duration::from_secs(2));
    assert_eq!(seen.terms.load(Ordering::SeqCst), 1);
    assert!(lp.fence().is_some());
    lp.cancel();
}

#[tokio::test]
async fn a_store_deadline_the_lease_does_not_allow_is_refused() {
    let store = Arc::new(MemoryStore::new());
    let built = |cluster: Cluster| {
        Loop::builder(|()| async {})
            .seconds(1.0)
            .cluster(cluster)
            .build()
            .map(|_| ())
    };
    // A lease of 3 s may be acted on for 2 s.
    let lease = Duration::from_secs(3);
    let leader = Cluster::leader(store.clone()).lease(lease);
    assert_eq!(
        built(leader.clone().store_deadline(Duration::from_secs(2))),
        Ok(())
    );
    let too_long = Duration::from_millis(2001);
    let error = built(leader.clone().store_deadline(too_long)).unwrap_err();
    assert_eq!(
        error,
        ConfigError::StoreDeadlineTooLong {
            deadline: too_long,
            lease,
            limit: Duration::from_secs(2),
        }
    );
    assert!(error.to_string().contains("2.001s"), "{error}");
    assert_eq!(
        built(leader.clone().store_deadline(Duration::ZERO)),
        Err(ConfigError::ZeroDuration {
            option: "store_deadline"
        })
    );
    // A claim's too, and through `join_cluster`, which keeps the loop out.
    let lp = Loop::builder(|()| async {}).seconds(1.0).build().unwrap();
    let claim = Cluster::claim(store.clone())
        .lease(lease)
        .store_deadline(too_long);
    assert!(matches!(
        lp.join_cluster(claim),
        Err(ConfigError::StoreDeadlineTooLong { .. })
    ));
    assert!(lp.cluster().is_none());
    // The defaults: 2.5 s, or the lease minus the margin when shorter.
    assert_eq!(
        Cluster::claim(store.clone()).store_deadline_duration(),
        Duration::from_millis(2500)
    );
    assert_eq!(
        Cluster::leader(store.clone())
            .lease(Duration::from_millis(900))
            .store_deadline_duration(),
        Duration::from_millis(600)
    );
}
