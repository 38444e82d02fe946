//! The contract of [`Store`], as a check any store can be run against.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::rules;
use super::store::{
    ClaimRenewal, Claimed, Fence, Lease, LeaseRequest, Renewal, ReplicaId, SlotClaim, SlotFinish,
    SlotOutcome, Store,
};

/// How long the check's leases and claims last; it sleeps twice as long
/// to see them expire.
const LEASE: Duration = Duration::from_millis(300);

/// The late tolerance of the check's claims without takeover.
const LATE: Duration = Duration::from_secs(60);

/// How far apart the check allows the store's clock and the one it is
/// given, when it holds a token against the store's time.
const CLOCKS_APART: TimeDelta = TimeDelta::seconds(1);

/// Runs `store` through the contract of [`Store`], under loop names of
/// its own (`"<prefix>-..."`), and returns the first broken rule.
///
/// `now` reads the store's clock, or a clock close to it (within a few
/// milliseconds): slots are placed a second before it and an hour after
/// it. The check sleeps on tokio's clock to let leases expire, so a store
/// on a [`VirtualClock`](crate::testing::VirtualClock) is checked in no
/// time on tokio's paused clock, and a real store in a few seconds.
///
/// # Errors
///
/// The first rule the store broke, in words, or the first error it
/// returned.
pub(crate) async fn check_store(
    store: &dyn Store,
    prefix: &str,
    now: &(dyn Fn() -> DateTime<Utc> + Sync),
) -> Result<(), String> {
    let (a, b) = (
        ReplicaId::new(format!("{prefix}/a")),
        ReplicaId::new(format!("{prefix}/b")),
    );
    let name = format!("{prefix}-claims");
    let due = now() - TimeDelta::seconds(1);
    let claim = |replica, slot, takeover: Option<Duration>| SlotClaim {
        loop_name: &name,
        slot,
        replica,
        lease: LEASE,
        early_tolerance: Duration::from_millis(50),
        late_tolerance: takeover.unwrap_or(LATE),
        takeover,
        tzdb: "2025b",
    };
    let failed = |what: &str, got: &dyn std::fmt::Debug| Err(format!("{what}: got {got:?}"));
    let err = |e: super::store::StoreError| e.to_string();

    // The first claim wins; the second is taken, with who and which tzdb.
    let floor = rules::fence_floor(now() - CLOCKS_APART);
    let first = match store.claim(claim(&a, due, None)).await.map_err(err)? {
        Claimed::Won { fence } => fence,
        other => return failed("the first claim of a slot wins", &other),
    };
    if first.get() < floor {
        return failed(
            "a token is at least the store's time in microseconds since the Unix epoch",
            &(first, floor),
        );
    }
    match store.claim(claim(&b, due, None)).await.map_err(err)? {
        Claimed::Taken { holder, tzdb }
            if holder == a.as_str() && tzdb.as_deref() == Some("2025b") => {}
        other => {
            return failed(
                "a second claim of a slot is taken, by the first holder",
                &other,
            )
        }
    }
    // A later slot wins with a higher token.
    let later_slot = due + TimeDelta::milliseconds(500);
    let second = match store
        .claim(claim(&b, later_slot, None))
        .await
        .map_err(err)?
    {
        Claimed::Won { fence } if fence > first => fence,
        other => return failed("each claim gets a higher token", &other),
    };
    // Too early: refused, and nothing recorded.
    let future = now() + TimeDelta::hours(1);
    match store.claim(claim(&a, future, None)).await.map_err(err)? {
        Claimed::TooEarly { .. } => {}
        other => return failed("a claim an hour early is refused", &other),
    }
    // Too late: refused, and nothing recorded; a claim the slot's late
    // tolerance still allows wins it, and a later one finds it taken.
    let old = now() - TimeDelta::hours(2);
    let with_late_tolerance = |replica, hours: u64| SlotClaim {
        late_tolerance: Duration::from_secs(hours * 3600),
        ..claim(replica, old, None)
    };
    match store.claim(with_late_tolerance(&a, 1)).await.map_err(err)? {
        Claimed::TooLate { .. } => {}
        other => {
            return failed(
                "a claim two hours after its slot, with a late tolerance of one hour, is refused",
                &other,
            )
        }
    }
    match store.claim(with_late_tolerance(&b, 3)).await.map_err(err)? {
        Claimed::Won { fence } if fence > second => {}
        other => {
            return failed(
                "a claim within its late tolerance wins (the one too late recorded nothing)",
                &other,
            )
        }
    }
    match store.claim(with_late_tolerance(&a, 1)).await.map_err(err)? {
        Claimed::Taken { holder, .. } if holder == b.as_str() => {}
        other => return failed("a slot claimed is taken, however late", &other),
    }
    // Finishing, with a stale token or the right one.
    store
        .finish(SlotFinish {
            loop_name: &name,
            slot: later_slot,
            fence: first,
            outcome: SlotOutcome::Failed,
        })
        .await
        .map_err(err)?;
    if let Some(last) = store.last_finished(&name).await.map_err(err)? {
        return failed("a finish with another slot's token records nothing", &last);
    }
    store
        .finish(SlotFinish {
            loop_name: &name,
            slot: later_slot,
            fence: second,
            outcome: SlotOutcome::Completed,
        })
        .await
        .map_err(err)?;
    match store.last_finished(&name).await.map_err(err)? {
        Some(last)
            if last.slot == later_slot
                && last.outcome == SlotOutcome::Completed
                && last.fence == second => {}
        other => return failed("the last finished slot is the one finished", &other),
    }
    // Takeover: the first slot never finished; once its lease expired, a
    // replica allowed to take over wins it again, others do not.
    tokio::time::sleep(LEASE * 2).await;
    match store.claim(claim(&b, due, None)).await.map_err(err)? {
        Claimed::Taken { .. } => {}
        other => return failed("without takeover an expired claim stays taken", &other),
    }
    let window = Some(Duration::from_secs(3600));
    let third = match store.claim(claim(&b, due, window)).await.map_err(err)? {
        Claimed::Won { fence } if fence > second => fence,
        other => {
            return failed(
                "an expired, unfinished claim is taken over with a higher token",
                &other,
            )
        }
    };
    match store.claim(claim(&a, due, window)).await.map_err(err)? {
        Claimed::Taken { holder, .. } if holder == b.as_str() => {}
        other => return failed("a claim taken over is held by the new holder", &other),
    }
    // A finished slot is never taken over.
    store
        .finish(SlotFinish {
            loop_name: &name,
            slot: due,
            fence: third,
            outcome: SlotOutcome::Completed,
        })
        .await
        .map_err(err)?;
    tokio::time::sleep(LEASE * 2).await;
    match store.claim(claim(&a, due, window)).await.map_err(err)? {
        Claimed::Taken { .. } => {}
        other => return failed("a finished slot is never taken over", &other),
    }
    // Concurrent claims of one slot: exactly one wins.
    let contested = due + TimeDelta::milliseconds(250);
    let replicas: Vec<ReplicaId> = (0..8)
        .map(|i| ReplicaId::new(format!("{prefix}/racer{i}")))
        .collect();
    let claims = replicas
        .iter()
        .map(|replica| store.claim(claim(replica, contested, None)));
    let answers = futures_util::future::join_all(claims).await;
    let mut won = 0;
    for answer in answers {
        if let Claimed::Won { .. } = answer.map_err(err)? {
            won += 1;
        }
    }
    if won != 1 {
        return failed("of concurrent claims of one slot, exactly one wins", &won);
    }
    // Concurrent claims of different slots: each wins, with a token of its
    // own, even within one microsecond.
    let claims = replicas.iter().enumerate().map(|(i, replica)| {
        let slot = contested + TimeDelta::milliseconds(i64::try_from(i).unwrap_or(0) + 1);
        store.claim(claim(replica, slot, None))
    });
    let mut fences = Vec::new();
    for answer in futures_util::future::join_all(claims).await {
        match answer.map_err(err)? {
            Claimed::Won { fence } => fences.push(fence),
            other => return failed("each of concurrent claims of different slots wins", &other),
        }
    }
    fences.sort_unstable();
    fences.dedup();
    if fences.len() != replicas.len() || fences.first().is_none_or(|lowest| *lowest <= third) {
        return failed(
            "concurrent claims get tokens of their own, higher than the earlier ones",
            &fences,
        );
    }

    check_renewals(store, prefix, now).await?;
    check_leases(store, prefix, now).await
}

/// The renewal part of the contract: a holder's heartbeats keep its slot
/// from being taken over; without them it is taken over, and a renewal
/// with the old token is lost.
async fn check_renewals(
    store: &dyn Store,
    prefix: &str,
    now: &(dyn Fn() -> DateTime<Utc> + Sync),
) -> Result<(), String> {
    let (a, b) = (
        ReplicaId::new(format!("{prefix}/a")),
        ReplicaId::new(format!("{prefix}/b")),
    );
    let name = format!("{prefix}-renewals");
    let due = now() - TimeDelta::seconds(1);
    let window = Some(Duration::from_secs(3600));
    let claim = |replica, slot| SlotClaim {
        loop_name: &name,
        slot,
        replica,
        lease: LEASE,
        early_tolerance: Duration::from_millis(50),
        late_tolerance: Duration::from_secs(3600),
        takeover: window,
        tzdb: "2025b",
    };
    let renewal = |replica, slot, fence| ClaimRenewal {
        loop_name: &name,
        slot,
        replica,
        fence,
        lease: LEASE,
    };
    let failed = |what: &str, got: &dyn std::fmt::Debug| Err(format!("{what}: got {got:?}"));
    let err = |e: super::store::StoreError| e.to_string();
    let renewed = |answer: Renewal, expected: Renewal, what: &str| {
        if answer == expected {
            Ok(())
        } else {
            failed(what, &answer)
        }
    };

    let first = match store.claim(claim(&a, due)).await.map_err(err)? {
        Claimed::Won { fence } => fence,
        other => return failed("the first claim of a slot wins", &other),
    };
    let never_claimed = due - TimeDelta::milliseconds(500);
    for (replica, slot, fence, what) in [
        (&b, due, first, "a renewal by another replica is lost"),
        (
            &a,
            due,
            Fence::new(first.get() + 1),
            "a renewal with another token is lost",
        ),
        (
            &a,
            never_claimed,
            first,
            "a renewal of a slot never claimed is lost",
        ),
    ] {
        let answer = store
            .renew_claim(renewal(replica, slot, fence))
            .await
            .map_err(err)?;
        renewed(answer, Renewal::Lost, what)?;
    }
    // Renewed every half lease, the claim outlives its first lease: it is
    // not taken over.
    for _ in 0..3 {
        let answer = store
            .renew_claim(renewal(&a, due, first))
            .await
            .map_err(err)?;
        renewed(answer, Renewal::Extended, "the holder renews its claim")?;
        tokio::time::sleep(LEASE / 2).await;
    }
    match store.claim(claim(&b, due)).await.map_err(err)? {
        Claimed::Taken { holder, .. } if holder == a.as_str() => {}
        other => return failed("a renewed claim is not taken over", &other),
    }
    // Its lease run out, a claim nobody took over is still its holder's to
    // renew.
    tokio::time::sleep(LEASE * 2).await;
    let answer = store
        .renew_claim(renewal(&a, due, first))
        .await
        .map_err(err)?;
    renewed(
        answer,
        Renewal::Extended,
        "a claim whose lease ran out, not taken over, is renewed",
    )?;
    match store.claim(claim(&b, due)).await.map_err(err)? {
        Claimed::Taken { .. } => {}
        other => return failed("a claim renewed late is not taken over", &other),
    }
    // Without heartbeats it is taken over; the old holder's renewal is lost.
    tokio::time::sleep(LEASE * 2).await;
    let second = match store.claim(claim(&b, due)).await.map_err(err)? {
        Claimed::Won { fence } if fence > first => fence,
        other => {
            return failed(
                "a claim no longer renewed is taken over with a higher token",
                &other,
            )
        }
    };
    let answer = store
        .renew_claim(renewal(&a, due, first))
        .await
        .map_err(err)?;
    renewed(
        answer,
        Renewal::Lost,
        "a renewal of a claim taken over is lost",
    )?;
    let answer = store
        .renew_claim(renewal(&b, due, second))
        .await
        .map_err(err)?;
    renewed(answer, Renewal::Extended, "the new holder renews its claim")?;
    // Finished, it is renewed no more.
    store
        .finish(SlotFinish {
            loop_name: &name,
            slot: due,
            fence: second,
            outcome: SlotOutcome::Completed,
        })
        .await
        .map_err(err)?;
    let answer = store
        .renew_claim(renewal(&b, due, second))
        .await
        .map_err(err)?;
    renewed(
        answer,
        Renewal::Lost,
        "a renewal of a finished slot is lost",
    )
}

/// The lease part of the contract.
async fn check_leases(
    store: &dyn Store,
    prefix: &str,
    now: &(dyn Fn() -> DateTime<Utc> + Sync),
) -> Result<(), String> {
    let (a, b) = (
        ReplicaId::new(format!("{prefix}/a")),
        ReplicaId::new(format!("{prefix}/b")),
    );
    let name = format!("{prefix}-lease");
    let request = |replica, renew| LeaseRequest {
        loop_name: &name,
        replica,
        lease: LEASE,
        renew,
    };
    let failed = |what: &str, got: &dyn std::fmt::Debug| Err(format!("{what}: got {got:?}"));
    let err = |e: super::store::StoreError| e.to_string();

    let floor = rules::fence_floor(now() - CLOCKS_APART);
    let term = match store.lease(request(&a, None)).await.map_err(err)? {
        Lease::Held { fence } if fence.get() >= floor => fence,
        other => {
            return failed(
                "a free lease is acquired, with a token at least the store's time in \
                 microseconds",
                &other,
            )
        }
    };
    match store.lease(request(&b, None)).await.map_err(err)? {
        Lease::NotHeld {
            holder: Some(holder),
        } if holder == a.as_str() => {}
        other => return failed("a held lease is not acquired by another replica", &other),
    }
    // Renewed before it expires, it stays with its token.
    tokio::time::sleep(LEASE / 2).await;
    match store.lease(request(&a, Some(term))).await.map_err(err)? {
        Lease::Held { fence } if fence == term => {}
        other => return failed("the holder renews its term with the same token", &other),
    }
    tokio::time::sleep(LEASE / 2).await;
    match store.lease(request(&b, None)).await.map_err(err)? {
        Lease::NotHeld { .. } => {}
        other => return failed("a renewed lease is still held", &other),
    }
    // Expired, it goes to another replica with a higher token, and the old
    // holder's renewal fails.
    tokio::time::sleep(LEASE * 2).await;
    let next = match store.lease(request(&b, None)).await.map_err(err)? {
        Lease::Held { fence } if fence > term => fence,
        other => {
            return failed(
                "an expired lease goes to another replica with a higher token",
                &other,
            )
        }
    };
    match store.lease(request(&a, Some(term))).await.map_err(err)? {
        Lease::NotHeld { .. } => {}
        other => return failed("the renewal of a term that ended fails", &other),
    }
    // Released, it is free at once; a release with a stale token does
    // nothing.
    store.release(&name, &a, term).await.map_err(err)?;
    match store.lease(request(&a, None)).await.map_err(err)? {
        Lease::NotHeld { .. } => {}
        other => {
            return failed(
                "a release by a replica that lost its term changes nothing",
                &other,
            )
        }
    }
    store.release(&name, &b, next).await.map_err(err)?;
    match store.lease(request(&a, None)).await.map_err(err)? {
        Lease::Held { fence } if fence > next => {}
        other => {
            return failed(
                "a released lease is free at once, with a higher token",
                &other,
            )
        }
    }
    Ok(())
}
