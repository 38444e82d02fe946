//! Claim mode with takeover: the holder of a running slot renews its claim
//! (a heartbeat), so that a body longer than the claim's lease is not
//! started again on another replica while its holder lives; once the holder
//! stops renewing (cut off from the store, or paused), its body is
//! cancelled within its lease minus the margin and another replica takes
//! the slot over after the lease; a replica watching a slot held by a live
//! holder turns to its own next slot. On tokio's paused clock with the
//! in-memory store.

mod common;
use common::utc;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tasks_runtime::cluster::{
    ClaimLost, ClaimRenewal, Claimed, Cluster, Fence, FinishedSlot, Lease, LeaseRequest, LossCause,
    MemoryStore, Renewal, ReplicaId, SlotClaim, SlotFinish, Store, StoreError,
};
use tasks_runtime::testing::VirtualClock;
use tasks_runtime::{IterationOutcome, Loop, LoopError};
use tokio::time::Instant;

/// How a replica's calls to the store go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reach {
    Reached,
    /// Every call fails, as when the store refuses the replica.
    Failing,
    /// No call answers, as when the replica's packets are dropped or the
    /// replica is paused.
    Hanging,
}

/// A replica's view of the shared in-memory store: its calls can fail or
/// hang, its claims arrive a little late (so that another replica wins a
/// slot first), and its renewals can be answered `Lost`.
struct View {
    inner: Arc<MemoryStore>,
    reach: Mutex<Reach>,
    claims_late_by: Duration,
    renewals_lost: AtomicBool,
    renewals: AtomicUsize,
}

impl View {
    fn new(inner: &Arc<MemoryStore>, claims_late_by: Duration) -> Arc<Self> {
        Arc::new(Self {
            inner: inner.clone(),
            reach: Mutex::new(Reach::Reached),
            claims_late_by,
            renewals_lost: AtomicBool::new(false),
            renewals: AtomicUsize::new(0),
        })
    }

    fn set(&self, reach: Reach) {
        *self.reach.lock().unwrap() = reach;
    }

    async fn reach(&self) -> Result<(), StoreError> {
        let reach = *self.reach.lock().unwrap();
        match reach {
            Reach::Reached => Ok(()),
            Reach::Failing => Err(StoreError::unavailable("cut off")),
            Reach::Hanging => std::future::pending().await,
        }
    }
}

impl Store for View {
    fn claim<'a>(&'a self, claim: SlotClaim<'a>) -> BoxFuture<'a, Result<Claimed, StoreError>> {
        Box::pin(async move {
            tokio::time::sleep(self.claims_late_by).await;
            self.reach().await?;
            self.inner.claim(claim).await
        })
    }
    fn renew_claim<'a>(
        &'a self,
        renewal: ClaimRenewal<'a>,
    ) -> BoxFuture<'a, Result<Renewal, StoreError>> {
        Box::pin(async move {
            self.renewals.fetch_add(1, Ordering::SeqCst);
            self.reach().await?;
            if self.renewals_lost.load(Ordering::SeqCst) {
                return Ok(Renewal::Lost);
            }
            self.inner.renew_claim(renewal).await
        })
    }
    fn finish<'a>(&'a self, finish: SlotFinish<'a>) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.reach().await?;
            self.inner.finish(finish).await
        })
    }
    fn last_finished<'a>(
        &'a self,
        loop_name: &'a str,
    ) -> BoxFuture<'a, Result<Option<FinishedSlot>, StoreError>> {
        Box::pin(async move {
            self.reach().await?;
            self.inner.last_finished(loop_name).await
        })
    }
    fn lease<'a>(&'a self, request: LeaseRequest<'a>) -> BoxFuture<'a, Result<Lease, StoreError>> {
        Box::pin(async move {
            self.reach().await?;
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
            self.reach().await?;
            self.inner.release(loop_name, replica, fence).await
        })
    }
}

/// What a body did: began, ran to its end, or was dropped before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Began,
    Ended,
    Dropped,
}

#[derive(Clone, Debug)]
struct Event {
    replica: &'static str,
    step: Step,
    at: Instant,
    fence: Option<Fence>,
}

type Log = Arc<Mutex<Vec<Event>>>;

/// Logs the body's drop unless it ran to its end.
struct Running {
    event: Option<Event>,
    log: Log,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut event) = self.event.take() {
            event.step = Step::Dropped;
            event.at = Instant::now();
            self.log.lock().unwrap().push(event);
        }
    }
}

/// How a replica's loop runs: every `every` seconds, a body of `body`.
#[derive(Clone, Copy)]
struct Shape {
    every: f64,
    body: Duration,
}

/// A loop every minute whose body takes 3 s.
const LONG_BODY: Shape = Shape {
    every: 60.0,
    body: Duration::from_secs(3),
};

/// A replica of a loop of `shape` with a lease of 1 s and a grace period
/// of 10 s: a slot may be taken over until 10 s after it.
fn replica(
    name: &'static str,
    store: Arc<dyn Store>,
    takeover: bool,
    shape: Shape,
    clock: &Arc<VirtualClock>,
    log: &Log,
) -> Loop<()> {
    let cell: Arc<OnceLock<Loop<()>>> = Arc::default();
    let (inside, log) = (cell.clone(), log.clone());
    let cluster = Cluster::claim(store)
        .lease(Duration::from_secs(1))
        .takeover(takeover)
        .replica(ReplicaId::new(name));
    let lp = Loop::builder(move |()| {
        let event = Event {
            replica: name,
            step: Step::Began,
            at: Instant::now(),
            fence: inside.get().and_then(Loop::fence),
        };
        log.lock().unwrap().push(event.clone());
        let mut running = Running {
            event: Some(event),
            log: log.clone(),
        };
        async move {
            tokio::time::sleep(shape.body).await;
            let mut event = running.event.take().unwrap();
            event.step = Step::Ended;
            event.at = Instant::now();
            running.log.lock().unwrap().push(event);
        }
    })
    .seconds(shape.every)
    .name("nightly")
    .grace_period(Duration::from_secs(10))
    .clock(clock.clone())
    .cluster(cluster)
    .build()
    .unwrap();
    let _ = cell.set(lp.clone());
    lp
}

/// The errors a loop's `error` hook received.
fn errors_of(lp: &Loop<()>) -> Arc<Mutex<Vec<LoopError>>> {
    let errors: Arc<Mutex<Vec<LoopError>>> = Arc::default();
    let seen = errors.clone();
    lp.error(move |error: LoopError| {
        seen.lock().unwrap().push(error);
        async {}
    });
    errors
}

fn steps(log: &Log, replica: &str) -> Vec<Event> {
    log.lock()
        .unwrap()
        .iter()
        .filter(|event| event.replica == replica)
        .cloned()
        .collect()
}

/// Two replicas of a loop whose slot of 09:01:00 takes 3 s on a lease of
/// 1 s; `a` claims it first (`b`'s claims arrive 50 ms late).
struct Pair {
    log: Log,
    a: Loop<()>,
    b: Loop<()>,
    a_view: Arc<View>,
    /// 09:01:00 on tokio's clock.
    slot: Instant,
}

fn pair() -> Pair {
    let clock = VirtualClock::starting_at(utc("2026-12-02T09:00:59Z"));
    let store = Arc::new(MemoryStore::with_clock(clock.clone()));
    let log = Log::default();
    let a_view = View::new(&store, Duration::ZERO);
    let a = replica("a", a_view.clone(), true, LONG_BODY, &clock, &log);
    let b_view = View::new(&store, Duration::from_millis(50));
    let b = replica("b", b_view, true, LONG_BODY, &clock, &log);
    Pair {
        slot: Instant::now() + Duration::from_secs(1),
        log,
        a,
        b,
        a_view,
    }
}

#[tokio::test(start_paused = true)]
async fn a_body_longer_than_the_lease_is_not_started_again_while_its_holder_lives() {
    let Pair {
        log, a, b, slot, ..
    } = pair();
    let (a_errors, b_errors) = (errors_of(&a), errors_of(&b));
    a.start(()).unwrap();
    b.start(()).unwrap();
    // The slot and b's looks at it, every lease until its window closes.
    tokio::time::sleep_until(slot + Duration::from_secs(12)).await;
    let a_steps = steps(&log, "a");
    assert_eq!(
        a_steps.iter().map(|e| e.step).collect::<Vec<_>>(),
        [Step::Began, Step::Ended],
        "{a_steps:?}"
    );
    assert_eq!(a_steps[1].at - a_steps[0].at, Duration::from_secs(3));
    assert!(steps(&log, "b").is_empty(), "{:?}", log.lock().unwrap());
    assert!(a_errors.lock().unwrap().is_empty());
    assert!(b_errors.lock().unwrap().is_empty());
    assert_eq!(
        a.status().last_iteration.map(|last| last.outcome),
        Some(IterationOutcome::Succeeded)
    );
    a.cancel();
    b.cancel();
}

/// `a` stops reaching the store 1.5 s into its body: its last renewal that
/// succeeded was sent at 1.33 s, so it may act until 2 s and the store
/// holds the slot for it until 2.33 s.
async fn holder_cut_off(reach: Reach) {
    let Pair {
        log,
        a,
        b,
        a_view,
        slot,
        ..
    } = pair();
    let a_errors = errors_of(&a);
    a.start(()).unwrap();
    b.start(()).unwrap();
    tokio::time::sleep_until(slot + Duration::from_millis(1500)).await;
    a_view.set(reach);
    tokio::time::sleep_until(slot + Duration::from_secs(12)).await;

    let a_steps = steps(&log, "a");
    let b_steps = steps(&log, "b");
    assert_eq!(
        a_steps.iter().map(|e| e.step).collect::<Vec<_>>(),
        [Step::Began, Step::Dropped],
        "{a_steps:?}"
    );
    // Two thirds of the lease after the last renewal sent that succeeded,
    // sent 1.33 s after the claim (give or take the timer's milliseconds).
    let (began, cancelled) = (a_steps[0].at, a_steps[1].at);
    let ran = cancelled - began;
    assert!(
        ran > Duration::from_millis(1990) && ran < Duration::from_millis(2010),
        "{a_steps:?}"
    );
    // `b` takes the slot over once the store's lease ran out, after `a`'s
    // body was cancelled, with a higher token.
    assert_eq!(
        b_steps.iter().map(|e| e.step).collect::<Vec<_>>(),
        [Step::Began, Step::Ended],
        "{b_steps:?}"
    );
    assert!(b_steps[0].at > cancelled, "{a_steps:?} {b_steps:?}");
    assert!(
        b_steps[0].at - began > Duration::from_millis(2330),
        "{b_steps:?}"
    );
    assert!(b_steps[0].fence > a_steps[0].fence);
    // `a` says why, and goes on.
    let lost: Vec<ClaimLost> = a_errors
        .lock()
        .unwrap()
        .iter()
        .filter_map(|error| error.downcast_ref::<ClaimLost>().cloned())
        .collect();
    assert_eq!(lost.len(), 1, "{:?}", a_errors.lock().unwrap());
    assert_eq!(lost[0].cause, LossCause::Lapsed);
    assert_eq!(lost[0].slot, utc("2026-12-02T09:01:00Z"));
    assert_eq!(Some(lost[0].fence), a_steps[0].fence);
    let last = a.status().last_iteration.unwrap();
    assert_eq!(last.outcome, IterationOutcome::Cancelled);
    assert!(last.error.unwrap().contains("lost its claim"));
    assert!(a.is_running());
    a.cancel();
    b.cancel();
}

#[tokio::test(start_paused = true)]
async fn a_holder_whose_calls_fail_is_taken_over_after_it_stopped_renewing() {
    holder_cut_off(Reach::Failing).await;
}

#[tokio::test(start_paused = true)]
async fn a_holder_whose_calls_hang_is_taken_over_after_it_stopped_renewing() {
    holder_cut_off(Reach::Hanging).await;
}

#[tokio::test(start_paused = true)]
async fn a_renewal_answered_lost_cancels_the_body_at_once() {
    let Pair {
        log,
        a,
        a_view,
        slot,
        ..
    } = pair();
    let errors = errors_of(&a);
    a.start(()).unwrap();
    tokio::time::sleep_until(slot + Duration::from_millis(1500)).await;
    a_view.renewals_lost.store(true, Ordering::SeqCst);
    tokio::time::sleep_until(slot + Duration::from_secs(5)).await;
    let a_steps = steps(&log, "a");
    assert_eq!(
        a_steps.iter().map(|e| e.step).collect::<Vec<_>>(),
        [Step::Began, Step::Dropped],
        "{a_steps:?}"
    );
    // The renewal after 1.33 s is sent at 1.67 s.
    let cancelled = a_steps[1].at - a_steps[0].at;
    assert!(
        cancelled > Duration::from_millis(1600) && cancelled < Duration::from_millis(1700),
        "{cancelled:?}"
    );
    let errors = errors.lock().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let lost = errors[0].downcast_ref::<ClaimLost>().unwrap();
    assert_eq!(lost.cause, LossCause::Taken);
    a.cancel();
}

#[tokio::test(start_paused = true)]
async fn renewals_that_fail_for_a_while_keep_the_claim_and_are_reported() {
    let Pair {
        log,
        a,
        a_view,
        slot,
        ..
    } = pair();
    let errors = errors_of(&a);
    a.start(()).unwrap();
    // The renewal of 0.67 s and its retry of 0.77 s fail; the one of
    // 0.87 s succeeds, before 1 s when the claim would lapse.
    tokio::time::sleep_until(slot + Duration::from_millis(500)).await;
    a_view.set(Reach::Failing);
    tokio::time::sleep_until(slot + Duration::from_millis(820)).await;
    a_view.set(Reach::Reached);
    tokio::time::sleep_until(slot + Duration::from_secs(5)).await;
    let a_steps = steps(&log, "a");
    assert_eq!(
        a_steps.iter().map(|e| e.step).collect::<Vec<_>>(),
        [Step::Began, Step::Ended],
        "{a_steps:?}"
    );
    // The outage, reported once, after the body.
    let errors = errors.lock().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].is::<StoreError>());
    a.cancel();
}

#[tokio::test(start_paused = true)]
async fn a_replica_watching_a_held_slot_turns_to_its_own_next_slot() {
    // Every 5 s, a body of 12 s: while `a` runs the slot of 09:00:05, `b`
    // watches it, then claims the slot of 09:00:10 rather than watching
    // on until the window of 09:00:05 closes at 09:00:15.
    let clock = VirtualClock::starting_at(utc("2026-12-02T09:00:04Z"));
    let store = Arc::new(MemoryStore::with_clock(clock.clone()));
    let log = Log::default();
    let shape = Shape {
        every: 5.0,
        body: Duration::from_secs(12),
    };
    let a = replica(
        "a",
        View::new(&store, Duration::ZERO),
        true,
        shape,
        &clock,
        &log,
    );
    let b_view = View::new(&store, Duration::from_millis(50));
    let b = replica("b", b_view, true, shape, &clock, &log);
    let slot = Instant::now() + Duration::from_secs(1);
    a.start(()).unwrap();
    b.start(()).unwrap();
    tokio::time::sleep_until(slot + Duration::from_secs(8)).await;
    let b_steps = steps(&log, "b");
    let began = b_steps.first().expect("b runs the next slot").at - slot;
    assert!(
        began >= Duration::from_secs(5) && began < Duration::from_millis(5200),
        "{began:?}"
    );
    assert_eq!(steps(&log, "a").len(), 1, "a runs its slot still");
    a.cancel();
    b.cancel();
}

#[tokio::test(start_paused = true)]
async fn without_takeover_a_claim_is_never_renewed() {
    let clock = VirtualClock::starting_at(utc("2026-12-02T09:00:59Z"));
    let store = Arc::new(MemoryStore::with_clock(clock.clone()));
    let log = Log::default();
    let view = View::new(&store, Duration::ZERO);
    let lp = replica("a", view.clone(), false, LONG_BODY, &clock, &log);
    lp.start(()).unwrap();
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(view.renewals.load(Ordering::SeqCst), 0);
    let steps: Vec<Step> = steps(&log, "a").iter().map(|e| e.step).collect();
    assert_eq!(steps, [Step::Began, Step::Ended]);
    lp.cancel();
}
