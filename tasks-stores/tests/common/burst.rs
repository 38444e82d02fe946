//! A thousand loops claiming the same second beside a leader with a 1 s
//! lease, all on one store: the claims must not starve the lease's
//! renewals.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tasks_runtime::cluster::{
    ClaimRenewal, Claimed, Cluster, Fence, FinishedSlot, Lease, LeaseRequest, Renewal, ReplicaId,
    SlotClaim, SlotFinish, Store, StoreError,
};
use tasks_runtime::{Loop, LoopError};

/// A store that counts the claims sent to it.
struct Counting {
    store: Arc<dyn Store>,
    claims: AtomicUsize,
}

impl Store for Counting {
    fn claim<'a>(&'a self, claim: SlotClaim<'a>) -> BoxFuture<'a, Result<Claimed, StoreError>> {
        self.claims.fetch_add(1, Ordering::Relaxed);
        self.store.claim(claim)
    }
    fn renew_claim<'a>(
        &'a self,
        renewal: ClaimRenewal<'a>,
    ) -> BoxFuture<'a, Result<Renewal, StoreError>> {
        self.store.renew_claim(renewal)
    }
    fn finish<'a>(&'a self, finish: SlotFinish<'a>) -> BoxFuture<'a, Result<(), StoreError>> {
        self.store.finish(finish)
    }
    fn last_finished<'a>(
        &'a self,
        loop_name: &'a str,
    ) -> BoxFuture<'a, Result<Option<FinishedSlot>, StoreError>> {
        self.store.last_finished(loop_name)
    }
    fn lease<'a>(&'a self, request: LeaseRequest<'a>) -> BoxFuture<'a, Result<Lease, StoreError>> {
        self.store.lease(request)
    }
    fn release<'a>(
        &'a self,
        loop_name: &'a str,
        replica: &'a ReplicaId,
        fence: Fence,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.store.release(loop_name, replica, fence)
    }
}

/// How many loops claim at once.
pub const CLAIMERS: usize = 1000;

/// `CLAIMERS` claim-mode loops every second (on the same grid: they all
/// claim at the top of each second) and a leader-mode loop with a 1 s
/// lease, in one process on `store`, for `seconds`: the leader keeps its
/// lease throughout (one term, one fence, no store error), while the
/// claimers run their slots.
pub async fn check_leases_beside_a_burst_of_claims(store: Arc<dyn Store>, run: &str, seconds: u64) {
    let counting = Arc::new(Counting {
        store,
        claims: AtomicUsize::new(0),
    });
    let store: Arc<dyn Store> = counting.clone();
    let ran = Arc::new(AtomicUsize::new(0));
    let claimers: Vec<Loop> = (0..CLAIMERS)
        .map(|i| {
            let ran = Arc::clone(&ran);
            Loop::builder(move |()| {
                ran.fetch_add(1, Ordering::Relaxed);
                async {}
            })
            .seconds(1.0)
            .name(format!("{run}-claimer-{i}"))
            .cluster(Cluster::claim(Arc::clone(&store)).replica(ReplicaId::new("burst")))
            .build()
            .unwrap()
        })
        .collect();

    let terms = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(Mutex::new(Vec::new()));
    let leader = Loop::builder(|()| async {})
        .seconds(0.1)
        .name(format!("{run}-leader"))
        .cluster(
            Cluster::leader(Arc::clone(&store))
                .lease(Duration::from_secs(1))
                .replica(ReplicaId::new("leader")),
        )
        .build()
        .unwrap();
    let counted = Arc::clone(&terms);
    leader.before_loop(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        async {}
    });
    let heard = Arc::clone(&errors);
    leader.error(move |error: LoopError| {
        heard.lock().unwrap().push(error.to_string());
        async {}
    });
    leader.start(()).unwrap();
    let mut waited = 0;
    while leader.fence().is_none() {
        assert!(waited < 100, "the leader never led");
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
    }
    let fence = leader.fence();

    for claimer in &claimers {
        claimer.start(()).unwrap();
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let still_leading = leader.fence();
    let terms = terms.load(Ordering::SeqCst);
    let errors = errors.lock().unwrap().clone();
    for claimer in &claimers {
        claimer.cancel();
    }
    leader.shutdown(Duration::from_secs(1)).await;

    let claims = counting.claims.load(Ordering::Relaxed);
    let ran = ran.load(Ordering::Relaxed);
    eprintln!("{claims} claims sent and {ran} slots run beside the leader, in {seconds} s");
    assert!(
        errors.is_empty(),
        "the leader heard of store errors: {errors:?}"
    );
    assert_eq!(terms, 1, "the leader lost its lease and took it again");
    assert_eq!(still_leading, fence, "the leader lost its lease");
    assert!(
        claims >= 2 * CLAIMERS,
        "{claims} claims were sent: the burst did not happen"
    );
}
