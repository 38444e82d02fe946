//! What the store tests share: the servers' URLs, unique names, a TCP proxy
//! that plays a store going down, and the checks every backend runs.
// Each test binary uses the helpers of its own backend only.
#![allow(dead_code)]

pub mod burst;
pub mod proxy;

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use tasks_runtime::cluster::{
    Claimed, Fence, Lease, LeaseRequest, ReplicaId, SlotClaim, SlotFinish, SlotOutcome, Store,
    StoreErrorKind,
};

/// The URL of a test server from `variable`, or `None` after saying the
/// test is skipped. Under CI (`CI` set) a missing URL fails the test, so
/// that CI cannot skip the backend silently.
pub fn server_url(variable: &str, test: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => panic!(
            "{variable} is not set, and CI is: start the servers with `.ci/stores start` \
             (or run `.ci/stores test`)"
        ),
        _ => {
            eprintln!("skipped {test}: {variable} is not set (`.ci/stores test` sets it)");
            None
        }
    }
}

/// A name no other run uses: `base` and 32 random bits in hex.
pub fn unique(base: &str) -> String {
    format!("{base}{:08x}", fastrand::u32(..))
}

/// A claim of `slot` by `replica` with a lease of `lease`, due now.
pub fn claim<'a>(
    loop_name: &'a str,
    slot: DateTime<Utc>,
    replica: &'a ReplicaId,
    lease: Duration,
) -> SlotClaim<'a> {
    SlotClaim {
        loop_name,
        slot,
        replica,
        lease,
        early_tolerance: Duration::from_millis(50),
        late_tolerance: Duration::from_secs(60),
        takeover: None,
        tzdb: "2025b",
    }
}

/// The claim of [`claim`], with a late tolerance that runs out `for_` after
/// now: a store keeps a claim at least until its late tolerance has run
/// out, so the pruning tests make theirs short.
pub fn claim_late_for<'a>(
    loop_name: &'a str,
    slot: DateTime<Utc>,
    replica: &'a ReplicaId,
    lease: Duration,
    for_: Duration,
) -> SlotClaim<'a> {
    let late = (Utc::now() - slot).to_std().unwrap_or_default();
    SlotClaim {
        late_tolerance: late + for_,
        ..claim(loop_name, slot, replica, lease)
    }
}

/// A slot a second ago, to the millisecond, as the runtime's slots are.
pub fn due_slot() -> DateTime<Utc> {
    let now = Utc::now() - TimeDelta::seconds(1);
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap()
}

pub async fn won(store: &dyn Store, claim: SlotClaim<'_>) -> Fence {
    match store.claim(claim).await {
        Ok(Claimed::Won { fence }) => fence,
        other => panic!("expected the claim to win, got {other:?}"),
    }
}

/// Runs `attempt` until it succeeds, for at most `within`.
pub async fn eventually<T, E: std::fmt::Debug, F: Future<Output = Result<T, E>>>(
    within: Duration,
    mut attempt: impl FnMut() -> F,
) -> T {
    let started = Instant::now();
    loop {
        match attempt().await {
            Ok(value) => return value,
            Err(error) if started.elapsed() > within => {
                panic!("still failing after {within:?}: {error:?}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Loop names that would break a store that splices them into its SQL or
/// its keys, or encodes them ambiguously.
pub fn awkward_names() -> Vec<String> {
    vec![
        "it's \"quoted\"".to_owned(),
        "semi; DROP TABLE tasks_claims; --".to_owned(),
        "100% done".to_owned(),
        "100%25 done".to_owned(),
        "a:b".to_owned(),
        "a%3Ab".to_owned(),
        "{tag}:claim:1".to_owned(),
        "tâche-nocturne-夜-🌙".to_owned(),
        "back\\slash\nnew line\ttab".to_owned(),
        "*?[glob]".to_owned(),
        "x".repeat(10 * 1024),
        incompressible(10 * 1024),
        format!("{}:{}", "é".repeat(3000), "%".repeat(2000)),
    ]
}

/// `length` bytes of text that no compression shrinks much (a
/// PostgreSQL index compresses a long key, then fails if it stays long).
fn incompressible(length: usize) -> String {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(b'!' + (state % 94) as u8)
        })
        .collect()
}

/// Each awkward name is a loop of its own: claims, finishes and leases of
/// one never touch another's, and they come back as they went in.
pub async fn check_awkward_names(store: &dyn Store, run: &str) {
    let replica = ReplicaId::new(format!("{run}/names"));
    let slot = due_slot();
    let names: Vec<String> = awkward_names()
        .into_iter()
        .map(|name| format!("{run}-{name}"))
        .collect();
    let mut fences = Vec::new();
    for name in &names {
        let fence = won(store, claim(name, slot, &replica, Duration::from_secs(60))).await;
        fences.push(fence);
    }
    for (name, fence) in names.iter().zip(&fences) {
        match store
            .claim(claim(name, slot, &replica, Duration::from_secs(60)))
            .await
        {
            Ok(Claimed::Taken { holder, .. }) => assert_eq!(holder, replica.as_str()),
            other => panic!("{name:?}: a second claim is taken, got {other:?}"),
        }
        store
            .finish(SlotFinish {
                loop_name: name,
                slot,
                fence: *fence,
                outcome: SlotOutcome::Completed,
            })
            .await
            .unwrap();
        let last = store.last_finished(name).await.unwrap().unwrap();
        assert_eq!((last.slot, last.fence), (slot, *fence), "{name:?}");
    }
    for name in &names {
        let request = LeaseRequest {
            loop_name: name,
            replica: &replica,
            lease: Duration::from_secs(60),
            renew: None,
        };
        let Ok(Lease::Held { fence }) = store.lease(request).await else {
            panic!("{name:?}: a free lease is held");
        };
        store.release(name, &replica, fence).await.unwrap();
    }
}

/// A claim made, the connection killed by `kill`, then the finish of the
/// claim: it succeeds, on a new connection, and is recorded.
pub async fn check_finish_after_a_dropped_connection<F: Future<Output = ()>>(
    store: &dyn Store,
    run: &str,
    kill: impl FnOnce() -> F,
) {
    let name = format!("{run}-dropped");
    let replica = ReplicaId::new(format!("{run}/dropped"));
    let slot = due_slot();
    let fence = won(store, claim(&name, slot, &replica, Duration::from_secs(60))).await;
    kill().await;
    let finish = SlotFinish {
        loop_name: &name,
        slot,
        fence,
        outcome: SlotOutcome::Completed,
    };
    store
        .finish(finish)
        .await
        .expect("the finish after a dropped connection succeeds");
    let last = store.last_finished(&name).await.unwrap().unwrap();
    assert_eq!((last.slot, last.fence), (slot, fence));
}

/// The store goes down (`down`): its calls fail as unavailable, each within
/// `bound`; it comes back (`up`): its calls succeed again, and what was
/// claimed before is still claimed.
pub async fn check_outage<D: Future<Output = ()>, U: Future<Output = ()>>(
    store: &dyn Store,
    run: &str,
    bound: Duration,
    down: impl FnOnce() -> D,
    up: impl FnOnce() -> U,
) {
    let name = format!("{run}-outage");
    let replica = ReplicaId::new(format!("{run}/outage"));
    let before = due_slot();
    let fence = won(
        store,
        claim(&name, before, &replica, Duration::from_secs(60)),
    )
    .await;

    down().await;
    let during = before + TimeDelta::milliseconds(100);
    for attempt in 0..3 {
        let started = Instant::now();
        let answer = store
            .claim(claim(&name, during, &replica, Duration::from_secs(60)))
            .await;
        let took = started.elapsed();
        match answer {
            Err(error) => {
                eprintln!("attempt {attempt} while down, after {took:?}: {error}");
                assert_eq!(error.kind(), StoreErrorKind::Unavailable, "{error}");
            }
            Ok(other) => panic!("attempt {attempt}: a claim while the store is down: {other:?}"),
        }
        assert!(took <= bound, "attempt {attempt}: failed after {took:?}");
    }
    let started = Instant::now();
    let error = store.last_finished(&name).await.unwrap_err();
    assert_eq!(error.kind(), StoreErrorKind::Unavailable, "{error}");
    assert!(started.elapsed() <= bound);

    up().await;
    let again = eventually(Duration::from_secs(10), || {
        store.claim(claim(&name, during, &replica, Duration::from_secs(60)))
    })
    .await;
    match again {
        Claimed::Won { fence: next } => assert!(next > fence),
        other => panic!("the first claim after the outage wins: {other:?}"),
    }
    match store
        .claim(claim(&name, before, &replica, Duration::from_secs(60)))
        .await
    {
        Ok(Claimed::Taken { .. }) => {}
        other => panic!("a claim from before the outage is still held: {other:?}"),
    }
}

/// The store hangs (`freeze`): calls fail as unavailable within `bound`,
/// on the connection open before and on the new ones; it answers again
/// (`thaw`): calls succeed again.
pub async fn check_no_answer(
    store: &dyn Store,
    run: &str,
    bound: Duration,
    freeze: impl FnOnce(),
    thaw: impl FnOnce(),
) {
    let name = format!("{run}-silent");
    let replica = ReplicaId::new(format!("{run}/silent"));
    let slot = due_slot();
    // A connection is open.
    assert_eq!(store.last_finished(&name).await.unwrap(), None);
    freeze();
    for attempt in 0..2 {
        let started = Instant::now();
        let error = store
            .claim(claim(&name, slot, &replica, Duration::from_secs(60)))
            .await
            .unwrap_err();
        let took = started.elapsed();
        eprintln!("attempt {attempt} with no answer, after {took:?}: {error}");
        assert_eq!(error.kind(), StoreErrorKind::Unavailable, "{error}");
        assert!(took <= bound, "attempt {attempt}: failed after {took:?}");
    }
    thaw();
    eventually(Duration::from_secs(10), || store.last_finished(&name)).await;
}

/// The store hangs (`freeze`): calls fail as unavailable, each within
/// `bound`; then a failover strands the connections open meanwhile (their
/// packets go nowhere, for good) while new ones go through (`heal`): the
/// store answers again within two deadlines (`timeout`, the store's own),
/// on a new connection, not once the kernel gives up on the old one.
pub async fn check_stranded_connections(
    store: &dyn Store,
    run: &str,
    timeout: Duration,
    freeze: impl FnOnce(),
    heal: impl FnOnce(),
) {
    let name = format!("{run}-stranded");
    let replica = ReplicaId::new(format!("{run}/stranded"));
    let slot = due_slot();
    // A connection is open.
    assert_eq!(store.last_finished(&name).await.unwrap(), None);
    freeze();
    for attempt in 0..2 {
        let started = Instant::now();
        let error = store
            .claim(claim(&name, slot, &replica, Duration::from_secs(60)))
            .await
            .unwrap_err();
        let took = started.elapsed();
        eprintln!("attempt {attempt} with no answer, after {took:?}: {error}");
        assert_eq!(error.kind(), StoreErrorKind::Unavailable, "{error}");
        assert!(
            took <= timeout * 2,
            "attempt {attempt}: failed after {took:?}"
        );
    }
    heal();
    let healed = Instant::now();
    let mut failures = Vec::new();
    let fence = loop {
        match store
            .claim(claim(&name, slot, &replica, Duration::from_secs(60)))
            .await
        {
            Ok(Claimed::Won { fence }) => break fence,
            Ok(other) => panic!("the claim after the failover wins: {other:?}"),
            Err(error) => failures.push(error.to_string()),
        }
        assert!(
            healed.elapsed() <= timeout * 2 + Duration::from_millis(500),
            "still failing {:?} after the failover, {} times: {:?}",
            healed.elapsed(),
            failures.len(),
            failures.last()
        );
    };
    eprintln!(
        "answered again {:?} after the failover, after {} failures",
        healed.elapsed(),
        failures.len()
    );
    assert!(fence.get() > 0);
}

/// Neither `text` nor `debug` shows `secret`.
pub fn assert_hidden(secret: &str, text: &str, debug: &str) {
    assert!(!text.contains(secret), "{secret:?} in the message: {text}");
    assert!(
        !debug.contains(secret),
        "{secret:?} in the Debug output: {debug}"
    );
}

/// What a store hands out before it forgets: three claims of `run`'s loop
/// and a term of its leadership. Returns the highest token.
pub async fn tokens_before_forgetting(store: &dyn Store, run: &str) -> Fence {
    let name = format!("{run}-forgetful");
    let replica = ReplicaId::new(format!("{run}/before"));
    let first = due_slot() - TimeDelta::milliseconds(300);
    let mut highest = Fence::new(0);
    for i in 0..3 {
        let slot = first + TimeDelta::milliseconds(i * 100);
        let fence = won(store, claim(&name, slot, &replica, Duration::from_secs(60))).await;
        assert!(fence > highest, "{fence} after {highest}");
        highest = fence;
    }
    let request = LeaseRequest {
        loop_name: &name,
        replica: &replica,
        lease: Duration::from_secs(60),
        renew: None,
    };
    match store.lease(request).await {
        Ok(Lease::Held { fence }) if fence > highest => fence,
        other => panic!("a free lease is held with a higher token: {other:?}"),
    }
}

/// After the store forgot everything (emptied, its tables truncated, its
/// file recreated): the slots claimed before can be claimed again, and
/// every token, of a claim or a term, is higher than `highest`, the
/// highest before.
pub async fn check_tokens_after_forgetting(store: &dyn Store, run: &str, highest: Fence) {
    let name = format!("{run}-forgetful");
    let replica = ReplicaId::new(format!("{run}/after"));
    let first = due_slot() - TimeDelta::milliseconds(300);
    let mut last = highest;
    // The first slot was claimed before: the store no longer knows it.
    for slot in [first, due_slot()] {
        let fence = won(store, claim(&name, slot, &replica, Duration::from_secs(60))).await;
        assert!(fence > last, "{fence} after {last}");
        last = fence;
    }
    let request = LeaseRequest {
        loop_name: &name,
        replica: &replica,
        lease: Duration::from_secs(60),
        renew: None,
    };
    match store.lease(request).await {
        Ok(Lease::Held { fence }) => assert!(fence > last, "{fence} after {last}"),
        other => panic!("the lease, forgotten, is free: {other:?}"),
    }
}
