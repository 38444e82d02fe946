//! Cluster modes on tokio's paused clock with the in-memory store: claim
//! mode runs each slot once across replicas, leader mode hands the loop
//! over when a leader cannot renew its lease; store outages, skewed clocks
//! and takeovers.

mod common;
use common::utc;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures_util::future::BoxFuture;
use tasks_runtime::cluster::{
    ClaimRenewal, Claimed, Cluster, Fence, Lease, LeaseRequest, MemoryStore, Renewal, ReplicaId,
    SlotClaim, SlotFinish, Store, StoreError,
};
use tasks_runtime::testing::VirtualClock;
use tasks_runtime::{Clock, ConfigError, Loop, LoopError, RunOutcome, StartError};

/// One line per iteration run: replica, slot (as the fence saw it), fence,
/// and when the body began on the store's clock.
#[derive(Clone, Debug)]
struct Ran {
    replica: String,
    fence: Option<Fence>,
    at: DateTime<Utc>,
}

type Log = Arc<Mutex<Vec<Ran>>>;

/// A replica's loop: `every` seconds, logging each iteration.
fn replica(name: &str, cluster: Cluster, clock: Arc<dyn Clock>, every: f64, log: &Log) -> Loop<()> {
    let cell: Arc<std::sync::OnceLock<Loop<()>>> = Arc::default();
    let (inside, log, replica, store_clock) =
        (cell.clone(), log.clone(), name.to_owned(), clock.clone());
    let lp = Loop::builder(move |()| {
        let me = inside.get().unwrap();
        log.lock().unwrap().push(Ran {
            replica: replica.clone(),
            fence: me.fence(),
            at: store_clock.now(),
        });
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

#[tokio::test(start_paused = true)]
async fn claim_mode_runs_each_slot_once_on_the_grid_with_growing_fences() {
    let clock = VirtualClock::starting_at(utc("2026-12-02T09:00:00.300Z"));
    let store = Arc::new(MemoryStore::with_clock(clock.clone()));
    let log = Log::default();
    let loops: Vec<_> = (0..3)
        .map(|i| {
            replica(
                &format!("r{i}"),
                Cluster::claim(store.clone()),
                clock.clone(),
                1.0,
                &log,
            )
        })
        .collect();
    for (i, lp) in loops.iter().enumerate() {
        // Replicas start at different moments.
        tokio::time::sleep(Duration::from_millis(i as u64 * 170)).await;
        lp.start(()).unwrap();
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    for lp in &loops {
        lp.cancel();
    }
    let ran = log.lock().unwrap().clone();
    let slots: Vec<DateTime<Utc>> = ran.iter().map(|r| r.at).collect();
    assert_eq!(ran.len(), 10, "{ran:?}");
    for (i, at) in slots.iter().enumerate() {
        assert_eq!(
            *at,
            utc("2026-12-02T09:00:01Z") + TimeDelta::seconds(i as i64),
            "{ran:?}"
        );
    }
    let fences: Vec<u64> = ran.iter().map(|r| r.fence.unwrap().get()).collect();
    assert!(fences.windows(2).all(|w| w[0] < w[1]), "{fences:?}");
    let replicas: std::collections::HashSet<_> = ran.iter().map(|r| r.replica.clone()).collect();
    assert!(!replicas.is_empty());
}

#[tokio::test(start_paused = true)]
async fn claim_mode_refuses_a_count_and_a_zero_interval() {
    let store = Arc::new(MemoryStore::new());
    let counted = Loop::builder(|()| async {})
        .seconds(1.0)
        .count(3)
        .cluster(Cluster::claim(store.clone()))
        .build();
    assert!(matches!(counted, Err(ConfigError::CountInClaimMode)));
    let zero = Loop::builder(|()| async {})
        .cluster(Cluster::claim(store.clone()))
        .build();
    assert!(matches!(zero, Err(ConfigError::ZeroIntervalInClaimMode)));
    let lp = Loop::builder(|()| async {})
        .seconds(1.0)
        .cluster(Cluster::claim(store.clone()))
        .build()
        .unwrap();
    assert!(matches!(
        lp.set_count(Some(2)),
        Err(ConfigError::CountInClaimMode)
    ));
    assert!(lp
        .change_interval(tasks_runtime::Interval::seconds(0.0))
        .is_err());
    lp.start(()).unwrap();
    assert!(matches!(
        lp.join_cluster(Cluster::claim(store)),
        Err(ConfigError::Refused(StartError::AlreadyRunning))
    ));
    lp.cancel();
}

#[tokio::test(start_paused = true)]
async fn during_a_store_outage_no_slot_runs_and_the_error_hook_hears_of_it() {
    let clock = VirtualClock::starting_at(utc("2026-12-02T09:00:00Z"));
    let store = Arc::new(MemoryStore::with_clock(clock.clone()));
    let log = Log::default();
    let lp = replica(
        "r0",
        Cluster::claim(store.clone()),
        clock.clone(),
        1.0,
        &log,
    );
    let errors = Arc::new(Mutex::new(Vec::new()));
    let seen = errors.clone();
    lp.error(move |error: LoopError| {
        seen.lock().unwrap().push(error.is::<StoreError>());
        async {}
    });
    lp.start(()).unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    store.set_available(false);
    tokio::time::sleep(Duration::from_secs(3)).await;
    store.set_available(true);
    tokio::time::sleep(Duration::from_secs(3)).await;
    lp.cancel();
    let ran: Vec<_> = log.lock().unwrap().iter().map(|r| r.at).collect();
    let down = (utc("2026-12-02T09:00:02.5Z"), utc("2026-12-02T09:00:05.5Z"));
    assert!(ran.iter().all(|at| *at < down.0 || *at > down.1), "{ran:?}");
    // 09:00:00 to :02, then from :06 to :08; :03 to :05 fell in the outage.
    assert_eq!(ran.len(), 6, "{ran:?}");
    assert_eq!(*errors.lock().unwrap(), [true, true, true]);
    assert!(!lp.failed());
}

#[tokio::test(start_paused = true)]
async fn run_during_outage_runs_without_a_fence() {
    let clock = VirtualClock::starting_at(utc("2026-12-02T09:00:00Z"));
    let store = Arc::new(MemoryStore::with_clock(clock.clone()));
    store.set_available(false);
    let log = Log::default();
    let cluster = Cluster::claim(store.clone()).run_during_outage(true);
    let lp = replica("r0", cluster, clock.clone(), 1.0, &log);
    lp.start(()).unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    lp.cancel();
    let ran = log.lock().unwrap().clone();
    assert_eq!(ran.len(), 3, "09:00:00 to 09:00:02: {ran:?}");
    assert!(ran.iter().all(|r| r.fence.is_none()));
}

/// A slot run, and the store's time when its body began.
type RanAt = (DateTime<Utc>, DateTime<Utc>);

/// A replica whose clock runs three seconds ahead of the store's, with
/// `early_tolerance` (the default without one), for eight seconds: each
/// slot it ran, and the store's time when the body began.
async fn ahead_by_three_seconds(
    tolerance: Option<Duration>,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let store_clock = VirtualClock::starting_at(utc("2026-12-02T09:00:00.500Z"));
    let store = Arc::new(MemoryStore::with_clock(store_clock.clone()));
    let ahead = VirtualClock::starting_at(utc("2026-12-02T09:00:03.500Z"));
    let ran: Arc<Mutex<Vec<RanAt>>> = Arc::default();
    let cell: Arc<std::sync::OnceLock<Loop<()>>> = Arc::default();
    let (inside, seen, at) = (cell.clone(), ran.clone(), store_clock.clone());
    let mut cluster = Cluster::claim(store).replica(ReplicaId::new("ahead"));
    if let Some(tolerance) = tolerance {
        cluster = cluster.early_tolerance(tolerance);
    }
    let lp = Loop::builder(move |()| {
        let slot = inside.get().unwrap().current_slot().unwrap();
        seen.lock().unwrap().push((slot, at.now()));
        async {}
    })
    .seconds(1.0)
    .name("tick")
    .clock(ahead)
    .cluster(cluster)
    .build()
    .unwrap();
    let _ = cell.set(lp.clone());
    lp.start(()).unwrap();
    tokio::time::sleep(Duration::from_secs(8)).await;
    lp.cancel();
    let ran = ran.lock().unwrap().clone();
    ran
}

#[tokio::test(start_paused = true)]
async fn a_replica_whose_clock_runs_ahead_never_runs_a_slot_early() {
    let ran = ahead_by_three_seconds(None).await;
    assert!(ran.len() >= 4, "{ran:?}");
    // Each slot the replica claims is three seconds ahead of the store's
    // time: the store refuses it until its time (within the default 50 ms).
    for (slot, store_now) in &ran {
        assert!(*store_now >= *slot - TimeDelta::milliseconds(50), "{ran:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_wider_early_tolerance_lets_a_clock_ahead_run_early_within_it() {
    let ran = ahead_by_three_seconds(Some(Duration::from_secs(5))).await;
    assert!(ran.len() >= 4, "{ran:?}");
    // Accepted at once, three seconds before the slot on the store's clock.
    for (slot, store_now) in &ran {
        let early = *slot - *store_now;
        assert!(
            early > TimeDelta::milliseconds(2_900) && early <= TimeDelta::seconds(5),
            "{ran:?}"
        );
    }
}

/// A replica's view of a shared store that can be cut off from it.
struct Partitioned {
    inner: Arc<MemoryStore>,
    cut: AtomicBool,
}

impl Partitioned {
    fn check(&self) -> Result<(), StoreError> {
        if self.cut.load(Ordering::SeqCst) {
            Err(StoreError::unavailable("partitioned"))
        } else {
            Ok(())
        }
    }
}

impl Store for Partitioned {
    fn claim<'a>(&'a self, claim: SlotClaim<'a>) -> BoxFuture<'a, Result<Claimed, StoreError>> {
        Box::pin(async move {
            self.check()?;
            self.inner.claim(claim).await
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
    ) -> BoxFuture<'a, Result<Option<tasks_runtime::cluster::FinishedSlot>, StoreError>> {
        Box::pin(async move {
            self.check()?;
            self.inner.last_finished(loop_name).await
        })
    }
    fn lease<'a>(&'a self, request: LeaseRequest<'a>) -> BoxFuture<'a, Result<Lease, StoreError>> {
        Box::pin(async move {
            self.check()?;
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
            self.check()?;
            self.inner.release(loop_name, replica, fence).await
        })
    }
}

#[tokio::test(start_paused = true)]
async fn leader_mode_hands_over_with_a_higher_fence_when_the_leader_is_cut_off() {
    let clock = VirtualClock::starting_at(utc("2026-12-02T09:00:00Z"));
    let shared = Arc::new(MemoryStore::with_clock(clock.clone()));
    let log = Log::default();
    let views: Vec<_> = (0..3)
        .map(|_| {
            Arc::new(Partitioned {
                inner: shared.clone(),
                cut: AtomicBool::new(false),
            })
        })
        .collect();
    let afters = Arc::new(Mutex::new(Vec::new()));
    let loops: Vec<_> = views
        .iter()
        .enumerate()
        .map(|(i, view)| {
            let cluster = Cluster::leader(view.clone()).lease(Duration::from_secs(1));
            let lp = replica(&format!("r{i}"), cluster, clock.clone(), 0.2, &log);
            let (afters, me, name) = (afters.clone(), lp.clone(), format!("r{i}"));
            lp.after_loop(move || {
                let (afters, me, name) = (afters.clone(), me.clone(), name.clone());
                async move {
                    afters.lock().unwrap().push((name, me.is_being_cancelled()));
                }
            });
            lp
        })
        .collect();
    let runs: Vec<_> = loops.iter().map(|lp| lp.start(()).unwrap()).collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let leader = log.lock().unwrap().last().unwrap().replica.clone();
    let index: usize = leader[1..].parse().unwrap();
    views[index].cut.store(true, Ordering::SeqCst);
    let cut_at = clock.now();
    tokio::time::sleep(Duration::from_secs(5)).await;
    for lp in &loops {
        lp.cancel();
    }
    for run in runs {
        assert!(matches!(
            run.await,
            RunOutcome::Stopped | RunOutcome::Cancelled
        ));
    }
    let ran = log.lock().unwrap().clone();
    // The cut-off leader stops within its lease; the next one takes over
    // within the lease plus a poll, with a higher fence.
    let old: Vec<_> = ran.iter().filter(|r| r.replica == leader).collect();
    let new: Vec<_> = ran.iter().filter(|r| r.replica != leader).collect();
    assert!(
        old.iter().all(|r| r.at <= cut_at + TimeDelta::seconds(1)),
        "{ran:?}"
    );
    let first_new = new.first().expect("another replica took over");
    assert!(
        first_new.at - cut_at <= TimeDelta::milliseconds(2500),
        "{ran:?}"
    );
    assert!(first_new.fence > old.last().unwrap().fence);
    assert!(
        new.iter().all(|r| r.replica == first_new.replica),
        "no back and forth: {ran:?}"
    );
    let afters = afters.lock().unwrap().clone();
    assert!(afters.contains(&(leader.clone(), true)), "{afters:?}");
}

#[tokio::test(start_paused = true)]
async fn with_takeover_a_slot_whose_holder_died_runs_again_elsewhere() {
    let clock = VirtualClock::starting_at(utc("2026-12-02T09:00:04.500Z"));
    let store = Arc::new(MemoryStore::with_clock(clock.clone()));
    let log = Log::default();
    let lease = Duration::from_millis(300);
    // The first replica claims the first slot and hangs in its body.
    let hung = Loop::builder(|()| std::future::pending::<()>())
        .seconds(5.0)
        .name("tick")
        .clock(clock.clone())
        .cluster(
            Cluster::claim(store.clone())
                .replica(ReplicaId::new("hung"))
                .lease(lease),
        )
        .build()
        .unwrap();
    hung.start(()).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let cluster = Cluster::claim(store.clone()).lease(lease).takeover(true);
    let other = replica("other", cluster, clock.clone(), 5.0, &log);
    other.start(()).unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ran = log.lock().unwrap().clone();
    // The slot of 09:00:05, taken over once the hung claim ran out.
    assert_eq!(ran.len(), 1, "{ran:?}");
    assert!(
        ran[0].at > utc("2026-12-02T09:00:05.3Z") && ran[0].at < utc("2026-12-02T09:00:06Z"),
        "{ran:?}"
    );
    hung.cancel();
    other.cancel();
}

#[tokio::test(start_paused = true)]
async fn in_leader_mode_restart_keeps_the_term_and_stop_leaves_with_the_lease_given_back() {
    let clock = VirtualClock::starting_at(utc("2026-12-02T09:00:00Z"));
    let store = Arc::new(MemoryStore::with_clock(clock.clone()));
    let log = Log::default();
    let cluster = || Cluster::leader(store.clone()).lease(Duration::from_secs(1));
    let first = replica("r0", cluster(), clock.clone(), 0.5, &log);
    let participation = first.start(()).unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let term = first.fence();
    first.restart(());
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(first.is_running());
    assert_eq!(first.fence(), term, "a restart stays in the term");
    let second = replica("r1", cluster(), clock.clone(), 0.5, &log);
    let waiting = second.start(()).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(second.fence().is_none(), "a follower runs nothing");
    first.stop();
    assert!(matches!(participation.await, RunOutcome::Stopped));
    assert!(!first.is_running());
    // The lease was given back: the follower leads without waiting for it to
    // run out.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(second.fence() > term);
    second.cancel();
    waiting.await;
}

#[tokio::test(start_paused = true)]
async fn a_replica_taking_part_in_leader_mode_is_refused_as_running() {
    let clock = VirtualClock::starting_at(utc("2026-12-02T09:00:00Z"));
    let store = Arc::new(MemoryStore::with_clock(clock.clone()));
    let log = Log::default();
    let cluster = || Cluster::leader(store.clone()).lease(Duration::from_secs(1));
    let leader = replica("r0", cluster(), clock.clone(), 0.5, &log);
    let follower = replica("r1", cluster(), clock.clone(), 0.5, &log);
    let led = leader.start(()).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let followed = follower.start(()).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Leading a run or only waiting for the lease, the answer is the same.
    for lp in [&leader, &follower] {
        assert_eq!(lp.start(()).unwrap_err(), StartError::AlreadyRunning);
        assert_eq!(
            lp.join_cluster(cluster()).unwrap_err(),
            ConfigError::Refused(StartError::AlreadyRunning)
        );
    }
    // Once it has left, it joins again.
    leader.cancel();
    follower.cancel();
    assert_eq!(led.await, RunOutcome::Cancelled);
    followed.await;
    leader.join_cluster(cluster()).unwrap();
}

type Slots = Arc<Mutex<Vec<(String, DateTime<Utc>)>>>;

/// A replica of a loop every minute, logging the slot of each iteration;
/// the grace period, if any, is the loop's.
fn minutely(
    name: &str,
    cluster: Cluster,
    clock: &Arc<VirtualClock>,
    grace: Option<Duration>,
    slots: &Slots,
) -> Loop<()> {
    let cell: Arc<std::sync::OnceLock<Loop<()>>> = Arc::default();
    let (inside, slots, replica) = (cell.clone(), slots.clone(), name.to_owned());
    let mut builder = Loop::builder(move |()| {
        let slot = inside.get().unwrap().current_slot().unwrap();
        slots.lock().unwrap().push((replica.clone(), slot));
        async {}
    })
    .minutes(1.0)
    .name("minutely")
    .clock(clock.clone())
    .cluster(cluster.replica(ReplicaId::new(name)));
    if let Some(grace) = grace {
        builder = builder.grace_period(grace);
    }
    let lp = builder.build().unwrap();
    let _ = cell.set(lp.clone());
    lp
}

/// The slots run so far, past the first `skip`, on any replica.
fn slots_run(slots: &Slots, skip: usize) -> Vec<DateTime<Utc>> {
    slots.lock().unwrap()[skip..].iter().map(|s| s.1).collect()
}

/// Runs one replica from 09:00:30 over the slot of 09:01 and stops it, so
/// that the store saw 09:01 finish; then every replica is down until
/// 09:04:30, missing 09:02, 09:03 and 09:04. Returns the clock, the store
/// and the log of slots run.
async fn run_then_all_down() -> (Arc<VirtualClock>, Arc<MemoryStore>, Slots) {
    let clock = VirtualClock::starting_at(utc("2026-12-02T09:00:30Z"));
    let store = Arc::new(MemoryStore::with_clock(clock.clone()));
    let slots = Slots::default();
    let first = minutely("first", Cluster::claim(store.clone()), &clock, None, &slots);
    first.start(()).unwrap();
    tokio::time::sleep(Duration::from_secs(60)).await;
    first.cancel();
    tokio::time::sleep(Duration::from_secs(180)).await;
    assert_eq!(clock.now(), utc("2026-12-02T09:04:30Z"));
    assert_eq!(
        *slots.lock().unwrap(),
        [("first".to_owned(), utc("2026-12-02T09:01:00Z"))]
    );
    (clock, store, slots)
}

#[tokio::test(start_paused = true)]
async fn catch_up_runs_the_latest_slot_every_replica_missed_once_on_one_replica() {
    let (clock, store, slots) = run_then_all_down().await;

    // Two replicas come back with catch-up and a grace period of 10 minutes.
    let grace = Some(Duration::from_secs(600));
    let back: Vec<_> = ["a", "b"]
        .iter()
        .map(|name| {
            let cluster = Cluster::claim(store.clone()).catch_up(true);
            minutely(name, cluster, &clock, grace, &slots)
        })
        .collect();
    for lp in &back {
        lp.start(()).unwrap();
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let ran = slots_run(&slots, 1);
    // 09:04 runs once, at once; 09:02 and 09:03 are not run.
    assert_eq!(ran, [utc("2026-12-02T09:04:00Z")]);
    tokio::time::sleep(Duration::from_secs(60)).await;
    let ran = slots_run(&slots, 1);
    assert_eq!(
        ran,
        [utc("2026-12-02T09:04:00Z"), utc("2026-12-02T09:05:00Z")]
    );
    for lp in &back {
        lp.cancel();
    }
}

#[tokio::test(start_paused = true)]
async fn without_catch_up_a_slot_every_replica_missed_stays_missed() {
    let (clock, store, slots) = run_then_all_down().await;
    let grace = Some(Duration::from_secs(600));
    let back = minutely("a", Cluster::claim(store.clone()), &clock, grace, &slots);
    back.start(()).unwrap();
    tokio::time::sleep(Duration::from_secs(31)).await;
    let ran = slots_run(&slots, 1);
    assert_eq!(ran, [utc("2026-12-02T09:05:00Z")]);
    back.cancel();
}

#[tokio::test(start_paused = true)]
async fn catch_up_without_a_grace_period_looks_back_twice_the_lease() {
    for (lease_s, caught_up) in [(10, false), (40, true)] {
        let (clock, store, slots) = run_then_all_down().await;
        // 09:04 passed 30 s ago: within 80 s, not within 20 s.
        let cluster = Cluster::claim(store.clone())
            .lease(Duration::from_secs(lease_s))
            .catch_up(true);
        let back = minutely("a", cluster, &clock, None, &slots);
        back.start(()).unwrap();
        tokio::time::sleep(Duration::from_secs(31)).await;
        let ran = slots_run(&slots, 1);
        let expected = if caught_up {
            vec![utc("2026-12-02T09:04:00Z"), utc("2026-12-02T09:05:00Z")]
        } else {
            vec![utc("2026-12-02T09:05:00Z")]
        };
        assert_eq!(ran, expected, "a lease of {lease_s} s");
        back.cancel();
    }
}

#[tokio::test(start_paused = true)]
async fn an_anchor_moves_the_grid_of_a_relative_interval() {
    let clock = VirtualClock::starting_at(utc("2026-12-02T09:00:30Z"));
    let store = Arc::new(MemoryStore::with_clock(clock.clone()));
    let slots = Slots::default();
    // Fifteen seconds past each minute, whatever the replica's start.
    let cluster = Cluster::claim(store.clone()).anchor(utc("2000-01-01T00:00:15Z"));
    let lp = minutely("a", cluster, &clock, None, &slots);
    lp.start(()).unwrap();
    tokio::time::sleep(Duration::from_secs(120)).await;
    let ran = slots_run(&slots, 0);
    assert_eq!(
        ran,
        [utc("2026-12-02T09:01:15Z"), utc("2026-12-02T09:02:15Z")]
    );
    lp.cancel();
}
