//! The rules of the [`Store`](super::Store) contract as decisions, for the
//! stores that decide in Rust: given a row as the store read it, the
//! request and the store's time, what the store writes and answers. The
//! in-memory store and `tasks-stores`' SQLite store decide through these;
//! the PostgreSQL and Redis stores decide in one statement or script each,
//! which follows the same rules (the next token as [`next_fence`] makes
//! it), and take from here the numbers every store shares (the retention,
//! how often to prune, the longest duration).
//!
//! For store authors, and hidden from the documentation: the rows here are
//! the shapes the stores of this repository keep, and change with them. The
//! contract a store keeps is written on [`Store`](super::Store) and checked
//! by `testing::check_store`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::store::{ClaimRenewal, Claimed, Fence, Lease, LeaseRequest, Renewal, SlotClaim};

/// The longest duration a store is given (a lease, a tolerance, a window,
/// a retention): a hundred years, the longest interval of a loop. Longer
/// ones are cut to it, so that a time plus a duration stays in the range of
/// every store's clock.
pub const LONGEST: Duration = Duration::from_secs(100 * 366 * 24 * 3600);

/// How long a store keeps a claim after its lease, or its takeover window,
/// has run out, unless told otherwise.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(24 * 3600);

/// How many claims a store wins between two prunings of the claims past
/// their retention.
pub const CLAIMS_PER_PRUNING: u32 = 256;

/// `at` plus `by` (at most [`LONGEST`]), or the latest time there is.
pub fn later(at: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(by.min(LONGEST))
        .ok()
        .and_then(|by| at.checked_add_signed(by))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `at` minus `by` (at most [`LONGEST`]), or the earliest time there is.
pub fn earlier(at: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(by.min(LONGEST))
        .ok()
        .and_then(|by| at.checked_sub_signed(by))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The lowest token a store hands out at its time `now`: `now` in
/// microseconds since the Unix epoch (0 before it).
///
/// A store that forgot its tokens (emptied, restored from a backup, failed
/// over to a copy that had not seen the latest writes) starts again from
/// here, which is above every token it handed out before, as long as its
/// clock reads later than when it handed out the highest of them.
pub fn fence_floor(now: DateTime<Utc>) -> u64 {
    u64::try_from(now.timestamp_micros()).unwrap_or(0)
}

/// The token a store hands out after `last` (the loop's latest token, 0 if
/// it has none) at its time `now`: the greater of `last + 1` and
/// [`fence_floor`]`(now)`. Tokens stay strictly increasing per loop
/// (two claims in one microsecond get `last + 1`), and a store that lost
/// `last` still hands out a higher one.
pub fn next_fence(last: u64, now: DateTime<Utc>) -> Fence {
    Fence::new(last.saturating_add(1).max(fence_floor(now)))
}

/// The claim a store holds for a slot, as far as a new claim of it cares.
#[derive(Clone, Copy, Debug)]
pub struct HeldClaim<'r> {
    /// The replica that claimed it.
    pub holder: &'r str,
    /// The time-zone database version it recorded.
    pub tzdb: &'r str,
    /// When its lease runs out, on the store's clock.
    pub lease_until: DateTime<Utc>,
    /// Whether its holder reported how it ended.
    pub finished: bool,
}

/// What a store does with a [`SlotClaim`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClaimDecision {
    /// The claim loses: the store answers this and writes nothing.
    Lose(Claimed),
    /// The claim wins: the store takes the loop's next token, writes the
    /// claim with it (replacing the one it held, if any), and answers
    /// [`Claimed::Won`].
    Win(NewClaim),
}

/// The times of a claim that wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewClaim {
    /// When its lease runs out: the store's time plus the lease.
    pub lease_until: DateTime<Utc>,
    /// Until when the store keeps it: its lease, its late tolerance or its
    /// takeover window, whichever ends last (see [`held_until`]), plus the
    /// retention.
    pub keep_until: DateTime<Utc>,
}

/// The latest instant, on the store's clock, a claim of the slot may still
/// come: the slot plus its late tolerance or its takeover window,
/// whichever is longer. A store keeps a claim at least this long plus its
/// retention, so that every claim it accepts finds the claim before it.
pub fn held_until(claim: &SlotClaim<'_>) -> DateTime<Utc> {
    let window = claim.takeover.unwrap_or_default().max(claim.late_tolerance);
    later(claim.slot, window)
}

/// What a store does with `claim`, holding `held` for its slot, at its
/// time `now`, keeping claims for `retention`: too early (before the slot
/// less the early tolerance), taken (claimed, unless takeover is allowed,
/// the holder's lease has run out, the slot has not finished and `now` is
/// within the window and the late tolerance), too late (not claimed, after
/// the slot plus the late tolerance), or won.
pub fn decide_claim(
    held: Option<HeldClaim<'_>>,
    claim: &SlotClaim<'_>,
    now: DateTime<Utc>,
    retention: Duration,
) -> ClaimDecision {
    if now < earlier(claim.slot, claim.early_tolerance) {
        return ClaimDecision::Lose(Claimed::TooEarly { store_now: now });
    }
    let too_late = now > later(claim.slot, claim.late_tolerance);
    let takeover_until = claim.takeover.map(|window| later(claim.slot, window));
    if let Some(held) = held {
        let may_take_over = takeover_until
            .is_some_and(|until| !held.finished && held.lease_until <= now && now <= until);
        if too_late || !may_take_over {
            return ClaimDecision::Lose(Claimed::Taken {
                holder: held.holder.to_owned(),
                tzdb: Some(held.tzdb.to_owned()),
            });
        }
    }
    if too_late {
        return ClaimDecision::Lose(Claimed::TooLate { store_now: now });
    }
    let lease_until = later(now, claim.lease);
    ClaimDecision::Win(NewClaim {
        lease_until,
        keep_until: later(lease_until.max(held_until(claim)), retention),
    })
}

/// The claim a store holds for a slot, as far as its holder's renewal
/// cares.
#[derive(Clone, Copy, Debug)]
pub struct RenewedClaim<'r> {
    /// The replica that claimed it.
    pub holder: &'r str,
    /// The token it was claimed with.
    pub fence: Fence,
    /// Whether its holder reported how it ended.
    pub finished: bool,
    /// Until when the store keeps it.
    pub keep_until: DateTime<Utc>,
}

/// What a store does with a [`ClaimRenewal`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RenewalDecision {
    /// The holder renews its claim: the store writes these times (the
    /// token and the rest stay) and answers [`Renewal::Extended`].
    Extend(NewClaim),
    /// The store answers [`Renewal::Lost`] and writes nothing.
    Lose,
}

/// What a store does with `renewal`, holding `held` for its slot, at its
/// time `now`, keeping claims for `retention`: the claim is extended if it
/// is the renewing replica's, with the renewal's token, and has not
/// finished (whether or not its lease ran out: while no replica took the
/// slot over, it is still the holder's alone), its lease to `now` plus the
/// renewal's, and kept at least the retention after that.
pub fn decide_renewal(
    held: Option<RenewedClaim<'_>>,
    renewal: &ClaimRenewal<'_>,
    now: DateTime<Utc>,
    retention: Duration,
) -> RenewalDecision {
    let Some(held) = held else {
        return RenewalDecision::Lose;
    };
    if held.finished || held.fence != renewal.fence || held.holder != renewal.replica.as_str() {
        return RenewalDecision::Lose;
    }
    let lease_until = later(now, renewal.lease);
    RenewalDecision::Extend(NewClaim {
        lease_until,
        keep_until: held.keep_until.max(later(lease_until, retention)),
    })
}

impl RenewalDecision {
    /// The store's answer.
    pub fn answer(&self) -> Renewal {
        match self {
            RenewalDecision::Extend(_) => Renewal::Extended,
            RenewalDecision::Lose => Renewal::Lost,
        }
    }
}

/// The lease a store holds for a loop.
#[derive(Clone, Copy, Debug)]
pub struct HeldLease<'r> {
    /// The replica holding it.
    pub holder: &'r str,
    /// The token of its term.
    pub fence: Fence,
    /// When it runs out, on the store's clock.
    pub expires: DateTime<Utc>,
}

/// What a store does with a [`LeaseRequest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseDecision {
    /// The holder renews its term: the store moves the lease's expiry to
    /// `expires` and answers [`Lease::Held`] with the term's token.
    Renew {
        /// The term's token.
        fence: Fence,
        /// The new expiry.
        expires: DateTime<Utc>,
    },
    /// A new term: the store takes the loop's next token, writes the lease
    /// with it for the replica until `expires`, and answers [`Lease::Held`].
    NewTerm {
        /// The expiry.
        expires: DateTime<Utc>,
    },
    /// The request fails: the store answers this and writes nothing.
    Refuse(Lease),
}

/// What a store does with `request`, holding `held` for the loop, at its
/// time `now`: a renewal of the live term it names, by its holder, renews
/// it; a request for a new term gets one if no live lease is held;
/// anything else is refused, naming the live holder.
pub fn decide_lease(
    held: Option<HeldLease<'_>>,
    request: &LeaseRequest<'_>,
    now: DateTime<Utc>,
) -> LeaseDecision {
    let live = held.filter(|lease| lease.expires > now);
    let expires = later(now, request.lease);
    match (request.renew, live) {
        (Some(fence), Some(live))
            if live.holder == request.replica.as_str() && live.fence == fence =>
        {
            LeaseDecision::Renew { fence, expires }
        }
        (None, None) => LeaseDecision::NewTerm { expires },
        (_, live) => LeaseDecision::Refuse(Lease::NotHeld {
            holder: live.map(|lease| lease.holder.to_owned()),
        }),
    }
}

/// Whether a store may forget a claim at its time `now`: once it is past
/// `keep_until`, unless it is the loop's last finished slot, which
/// [`Store::last_finished`](super::Store::last_finished) returns however
/// old. `last_finished` is the latest finished slot of the claim's loop.
pub fn is_prunable(
    slot: DateTime<Utc>,
    keep_until: DateTime<Utc>,
    finished: bool,
    last_finished: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    keep_until < now && (!finished || last_finished.is_some_and(|last| slot < last))
}

/// Counts the claims a store wins, to prune once every
/// [`CLAIMS_PER_PRUNING`] of them.
#[derive(Debug, Default)]
pub struct PruningCounter(AtomicU32);

impl PruningCounter {
    /// A counter at zero.
    pub const fn new() -> Self {
        Self(AtomicU32::new(0))
    }

    /// Counts a claim won; `true` for every [`CLAIMS_PER_PRUNING`]th, which
    /// prunes.
    pub fn won(&self) -> bool {
        self.0.fetch_add(1, Ordering::Relaxed) % CLAIMS_PER_PRUNING == CLAIMS_PER_PRUNING - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::ReplicaId;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn claim<'a>(replica: &'a ReplicaId, takeover: Option<Duration>) -> SlotClaim<'a> {
        SlotClaim {
            loop_name: "nightly",
            slot: at("2026-12-02T09:00:00Z"),
            replica,
            lease: Duration::from_secs(60),
            early_tolerance: Duration::from_millis(50),
            late_tolerance: takeover.unwrap_or(Duration::from_secs(60)),
            takeover,
            tzdb: "2025b",
        }
    }

    fn held(lease_until: &str, finished: bool) -> HeldClaim<'static> {
        HeldClaim {
            holder: "a",
            tzdb: "2025a",
            lease_until: at(lease_until),
            finished,
        }
    }

    #[test]
    fn a_claim_before_the_tolerance_is_too_early() {
        let b = ReplicaId::new("b");
        let now = at("2026-12-02T08:59:59.949Z");
        assert_eq!(
            decide_claim(None, &claim(&b, None), now, DEFAULT_RETENTION),
            ClaimDecision::Lose(Claimed::TooEarly { store_now: now })
        );
        let within = at("2026-12-02T08:59:59.950Z");
        assert!(matches!(
            decide_claim(None, &claim(&b, None), within, DEFAULT_RETENTION),
            ClaimDecision::Win(_)
        ));
    }

    #[test]
    fn a_claim_after_the_late_tolerance_is_too_late_unless_the_slot_is_taken() {
        let b = ReplicaId::new("b");
        let last = at("2026-12-02T09:01:00Z");
        assert!(matches!(
            decide_claim(None, &claim(&b, None), last, DEFAULT_RETENTION),
            ClaimDecision::Win(_)
        ));
        let past = at("2026-12-02T09:01:00.001Z");
        assert_eq!(
            decide_claim(None, &claim(&b, None), past, DEFAULT_RETENTION),
            ClaimDecision::Lose(Claimed::TooLate { store_now: past })
        );
        // Two days late: refused, though the store no longer has the claim.
        let two_days = at("2026-12-04T09:00:00Z");
        assert_eq!(
            decide_claim(None, &claim(&b, None), two_days, DEFAULT_RETENTION),
            ClaimDecision::Lose(Claimed::TooLate {
                store_now: two_days
            })
        );
        // A slot still held is taken, however late: the answer says who.
        let held = Some(held("2026-12-02T09:01:00Z", false));
        assert!(matches!(
            decide_claim(held, &claim(&b, None), two_days, DEFAULT_RETENTION),
            ClaimDecision::Lose(Claimed::Taken { .. })
        ));
    }

    #[test]
    fn a_claim_is_kept_past_its_late_tolerance_so_no_later_claim_misses_it() {
        let b = ReplicaId::new("b");
        let now = at("2026-12-02T09:00:01Z");
        let mut long = claim(&b, None);
        long.late_tolerance = Duration::from_secs(3 * 3600);
        assert_eq!(held_until(&long), at("2026-12-02T12:00:00Z"));
        assert_eq!(
            decide_claim(None, &long, now, DEFAULT_RETENTION),
            ClaimDecision::Win(NewClaim {
                lease_until: at("2026-12-02T09:01:01Z"),
                keep_until: at("2026-12-03T12:00:00Z"),
            })
        );
    }

    #[test]
    fn tokens_are_the_store_s_microseconds_or_one_more_than_the_last() {
        let now = at("2026-12-02T09:00:00.000001Z");
        let micros = 1_796_202_000_000_001;
        assert_eq!(fence_floor(now), micros);
        // A store that forgot its tokens (0) starts from its clock.
        assert_eq!(next_fence(0, now), Fence::new(micros));
        assert_eq!(next_fence(17, now), Fence::new(micros));
        // Two in one microsecond, or a clock set back: one more.
        assert_eq!(next_fence(micros, now), Fence::new(micros + 1));
        assert_eq!(next_fence(micros + 5, now), Fence::new(micros + 6));
        assert_eq!(next_fence(u64::MAX, now), Fence::new(u64::MAX));
        assert_eq!(fence_floor(DateTime::<Utc>::MIN_UTC), 0);
    }

    #[test]
    fn a_first_claim_wins_kept_for_its_lease_then_the_retention() {
        let b = ReplicaId::new("b");
        let now = at("2026-12-02T09:00:01Z");
        assert_eq!(
            decide_claim(None, &claim(&b, None), now, DEFAULT_RETENTION),
            ClaimDecision::Win(NewClaim {
                lease_until: at("2026-12-02T09:01:01Z"),
                keep_until: at("2026-12-03T09:01:01Z"),
            })
        );
        // With takeover, kept for the window if it ends later.
        let window = Some(Duration::from_secs(3600));
        assert_eq!(
            decide_claim(None, &claim(&b, window), now, DEFAULT_RETENTION),
            ClaimDecision::Win(NewClaim {
                lease_until: at("2026-12-02T09:01:01Z"),
                keep_until: at("2026-12-03T10:00:00Z"),
            })
        );
    }

    #[test]
    fn a_held_claim_is_taken_without_takeover() {
        let b = ReplicaId::new("b");
        let now = at("2026-12-02T10:00:00Z");
        let expired = held("2026-12-02T09:01:00Z", false);
        assert_eq!(
            decide_claim(Some(expired), &claim(&b, None), now, DEFAULT_RETENTION),
            ClaimDecision::Lose(Claimed::Taken {
                holder: "a".to_owned(),
                tzdb: Some("2025a".to_owned()),
            })
        );
    }

    #[test]
    fn takeover_needs_an_expired_unfinished_claim_within_the_window() {
        let b = ReplicaId::new("b");
        let window = Some(Duration::from_secs(3600));
        let now = at("2026-12-02T09:30:00Z");
        let decide =
            |held, now| decide_claim(Some(held), &claim(&b, window), now, DEFAULT_RETENTION);
        assert!(matches!(
            decide(held("2026-12-02T09:01:00Z", false), now),
            ClaimDecision::Win(_)
        ));
        // Its lease runs on, it finished, or the window has passed.
        for (lease_until, finished, now) in [
            ("2026-12-02T09:31:00Z", false, now),
            ("2026-12-02T09:01:00Z", true, now),
            (
                "2026-12-02T09:01:00Z",
                false,
                at("2026-12-02T10:00:00.001Z"),
            ),
        ] {
            assert!(matches!(
                decide(held(lease_until, finished), now),
                ClaimDecision::Lose(Claimed::Taken { .. })
            ));
        }
    }

    #[test]
    fn only_the_holder_renews_its_unfinished_claim_with_its_token() {
        let (a, b) = (ReplicaId::new("a"), ReplicaId::new("b"));
        let now = at("2026-12-02T09:00:10Z");
        let held = RenewedClaim {
            holder: "a",
            fence: Fence::new(7),
            finished: false,
            keep_until: at("2026-12-03T10:00:00Z"),
        };
        let renewal = |replica, fence| ClaimRenewal {
            loop_name: "nightly",
            slot: at("2026-12-02T09:00:00Z"),
            replica,
            fence: Fence::new(fence),
            lease: Duration::from_secs(60),
        };
        // Extended from now; kept the longer of what it was and the
        // retention after the new lease.
        assert_eq!(
            decide_renewal(Some(held), &renewal(&a, 7), now, DEFAULT_RETENTION),
            RenewalDecision::Extend(NewClaim {
                lease_until: at("2026-12-02T09:01:10Z"),
                keep_until: at("2026-12-03T10:00:00Z"),
            })
        );
        let short = RenewedClaim {
            keep_until: now,
            ..held
        };
        assert_eq!(
            decide_renewal(Some(short), &renewal(&a, 7), now, DEFAULT_RETENTION),
            RenewalDecision::Extend(NewClaim {
                lease_until: at("2026-12-02T09:01:10Z"),
                keep_until: at("2026-12-03T09:01:10Z"),
            })
        );
        // Another replica, another token (taken over), finished, or forgotten.
        let finished = RenewedClaim {
            finished: true,
            ..held
        };
        for (held, replica, fence) in [
            (Some(held), &b, 7),
            (Some(held), &a, 8),
            (Some(finished), &a, 7),
            (None, &a, 7),
        ] {
            let decision = decide_renewal(held, &renewal(replica, fence), now, DEFAULT_RETENTION);
            assert_eq!(decision, RenewalDecision::Lose);
            assert_eq!(decision.answer(), Renewal::Lost);
        }
    }

    #[test]
    fn durations_are_cut_to_the_longest() {
        let now = at("2026-12-02T09:00:00Z");
        assert_eq!(later(now, Duration::MAX), later(now, LONGEST));
        assert_eq!(earlier(now, Duration::MAX), earlier(now, LONGEST));
        assert_eq!(
            later(DateTime::<Utc>::MAX_UTC, LONGEST),
            DateTime::<Utc>::MAX_UTC
        );
        assert_eq!(
            earlier(DateTime::<Utc>::MIN_UTC, LONGEST),
            DateTime::<Utc>::MIN_UTC
        );
    }

    #[test]
    fn a_free_or_expired_lease_is_a_new_term() {
        let b = ReplicaId::new("b");
        let now = at("2026-12-02T09:00:00Z");
        let request = LeaseRequest {
            loop_name: "nightly",
            replica: &b,
            lease: Duration::from_secs(10),
            renew: None,
        };
        let expires = at("2026-12-02T09:00:10Z");
        assert_eq!(
            decide_lease(None, &request, now),
            LeaseDecision::NewTerm { expires }
        );
        let expired = HeldLease {
            holder: "a",
            fence: Fence::new(3),
            expires: now,
        };
        assert_eq!(
            decide_lease(Some(expired), &request, now),
            LeaseDecision::NewTerm { expires }
        );
        let live = HeldLease {
            expires: at("2026-12-02T09:00:00.001Z"),
            ..expired
        };
        assert_eq!(
            decide_lease(Some(live), &request, now),
            LeaseDecision::Refuse(Lease::NotHeld {
                holder: Some("a".to_owned())
            })
        );
    }

    #[test]
    fn only_the_live_term_is_renewed_by_its_holder() {
        let (a, b) = (ReplicaId::new("a"), ReplicaId::new("b"));
        let now = at("2026-12-02T09:00:00Z");
        let live = HeldLease {
            holder: "a",
            fence: Fence::new(3),
            expires: at("2026-12-02T09:00:05Z"),
        };
        let renew = |replica, fence| LeaseRequest {
            loop_name: "nightly",
            replica,
            lease: Duration::from_secs(10),
            renew: Some(Fence::new(fence)),
        };
        assert_eq!(
            decide_lease(Some(live), &renew(&a, 3), now),
            LeaseDecision::Renew {
                fence: Fence::new(3),
                expires: at("2026-12-02T09:00:10Z"),
            }
        );
        let held_by_a = LeaseDecision::Refuse(Lease::NotHeld {
            holder: Some("a".to_owned()),
        });
        assert_eq!(decide_lease(Some(live), &renew(&a, 2), now), held_by_a);
        assert_eq!(decide_lease(Some(live), &renew(&b, 3), now), held_by_a);
        let over = HeldLease {
            expires: now,
            ..live
        };
        assert_eq!(
            decide_lease(Some(over), &renew(&a, 3), now),
            LeaseDecision::Refuse(Lease::NotHeld { holder: None })
        );
    }

    #[test]
    fn keeps_claims_until_their_time_and_the_last_finished_slot_always() {
        let now = at("2026-12-02T09:00:00Z");
        let (old, older) = (at("2026-11-30T09:00:00Z"), at("2026-11-29T09:00:00Z"));
        let past = at("2026-12-01T09:00:00Z");
        // Past its time: unfinished, or finished before the last, it goes.
        assert!(is_prunable(old, past, false, Some(old), now));
        assert!(is_prunable(older, past, true, Some(old), now));
        // The last finished slot stays; so does a claim not yet past its time.
        assert!(!is_prunable(old, past, true, Some(old), now));
        assert!(!is_prunable(old, now, false, None, now));
    }

    #[test]
    fn prunes_on_every_256th_claim_won() {
        let counter = PruningCounter::new();
        let pruned: Vec<u32> = (1..=3 * CLAIMS_PER_PRUNING)
            .filter(|_| counter.won())
            .collect();
        assert_eq!(pruned, [256, 512, 768]);
    }
}
