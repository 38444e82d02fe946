//! Sleeping until a wall-clock instant without trusting one long monotonic
//! sleep: the wall clock is read again at least every `check_every`, so a
//! suspend or a clock step is noticed.
//!
//! Each chunk of sleep measures how far the wall clock moved against how far
//! the monotonic clock moved (the monotonic clock does not count a suspend
//! and is not moved when the system clock is set). When the wall clock ends
//! up past the target *and* it moved more than [`JUMP_THRESHOLD`] further
//! than the monotonic clock, the target was carried past by a forward step
//! or a suspend: [`Woke::JumpedOver`]. A backward step only makes the next
//! chunk longer, so a target is never reached early.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::time::Instant;

use crate::clock::Clock;

/// A wall clock that moved this much more than the monotonic clock during
/// one sleep has been stepped (or the machine was suspended); and a target
/// reached less than this late counts as on time whatever happened.
const JUMP_THRESHOLD: TimeDelta = TimeDelta::seconds(1);

/// How a wall-clock sleep ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Woke {
    /// The target came in the ordinary course of time (or had already
    /// passed when the sleep began: an overrunning body).
    Reached,
    /// A forward clock step or a suspend carried the wall clock past the
    /// target: it was jumped over, and the clock now reads `now`.
    JumpedOver { now: DateTime<Utc> },
}

/// Sleeps until the wall clock reads `target` or later.
///
/// `due_mono` is where the monotonic clock was expected to be at `target`
/// when the target was scheduled (`ScheduledAt::mono`). With it, a target
/// that has already passed when the sleep begins is told apart: passed
/// because the body overran (both clocks late alike: [`Woke::Reached`], run
/// late once, as discord.py does) or because the wall clock jumped while
/// the body ran (the wall clock is later than the monotonic one:
/// [`Woke::JumpedOver`]). Without it, such a target is reached.
///
/// Cancel safe: dropping it mid-sleep loses nothing.
pub(crate) async fn sleep_until_slot(
    clock: &dyn Clock,
    target: DateTime<Utc>,
    due_mono: Option<Instant>,
    check_every: Duration,
) -> Woke {
    let first = clock.now();
    if first >= target {
        let drift = due_mono.map_or(TimeDelta::zero(), |due| {
            let mono_late = signed_since(Instant::now(), due);
            (first - target).checked_sub(&mono_late).unwrap_or_default()
        });
        return classify(first, target, drift);
    }
    let mut before = first;
    loop {
        let remaining = (target - before).to_std().unwrap_or_default();
        let started = Instant::now();
        tokio::time::sleep(remaining.min(check_every)).await;
        let slept = signed_since(Instant::now(), started);
        let now = clock.now();
        if now >= target {
            let drift = before
                .checked_add_signed(slept)
                .map_or(TimeDelta::zero(), |expected| now - expected);
            return classify(now, target, drift);
        }
        before = now;
    }
}

/// The wall clock reads `now`, at or past `target`, and moved `drift` more
/// than the monotonic clock since the last reading.
fn classify(now: DateTime<Utc>, target: DateTime<Utc>, drift: TimeDelta) -> Woke {
    if drift > JUMP_THRESHOLD && now - target > JUMP_THRESHOLD {
        Woke::JumpedOver { now }
    } else {
        Woke::Reached
    }
}

/// `later - earlier` on the monotonic clock, negative when `later` is
/// earlier.
fn signed_since(later: Instant, earlier: Instant) -> TimeDelta {
    let forward = later.saturating_duration_since(earlier);
    let backward = earlier.saturating_duration_since(later);
    let as_delta = |d: Duration| TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX);
    as_delta(forward) - as_delta(backward)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::VirtualClock;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// A sleep with no monotonic due time: a target already passed when it
    /// begins is reached at once.
    async fn sleep_until_wall(
        clock: &dyn Clock,
        target: DateTime<Utc>,
        check_every: Duration,
    ) -> Woke {
        sleep_until_slot(clock, target, None, check_every).await
    }

    const MINUTE: Duration = Duration::from_secs(60);

    /// Runs the sleep in the background, doing `meanwhile` after
    /// `after_secs` of monotonic time, and reports how it woke and when.
    async fn sleep_with(
        clock: &std::sync::Arc<VirtualClock>,
        target: &str,
        check_every: Duration,
        after_secs: u64,
        meanwhile: impl FnOnce(&VirtualClock),
    ) -> (Woke, DateTime<Utc>) {
        let target = utc(target);
        let sleeper = {
            let clock = std::sync::Arc::clone(clock);
            tokio::spawn(async move {
                let woke = sleep_until_wall(&*clock, target, check_every).await;
                (woke, clock.now())
            })
        };
        tokio::time::sleep(Duration::from_secs(after_secs)).await;
        meanwhile(clock);
        sleeper.await.unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn reaches_the_target_in_the_ordinary_course_of_time() {
        let clock = VirtualClock::starting_at(utc("2024-01-01T00:00:00Z"));
        let (woke, at) = sleep_with(&clock, "2024-01-01T01:00:00Z", MINUTE, 0, |_| {}).await;
        assert_eq!((woke, at), (Woke::Reached, utc("2024-01-01T01:00:00Z")));
    }

    #[tokio::test(start_paused = true)]
    async fn a_forward_step_short_of_the_target_wakes_at_the_right_wall_time() {
        let clock = VirtualClock::starting_at(utc("2024-01-01T00:00:00Z"));
        let (woke, at) = sleep_with(&clock, "2024-01-01T01:00:00Z", MINUTE, 600, |c| {
            c.jump(TimeDelta::minutes(30));
        })
        .await;
        assert_eq!((woke, at), (Woke::Reached, utc("2024-01-01T01:00:00Z")));
    }

    #[tokio::test(start_paused = true)]
    async fn a_backward_step_never_wakes_early() {
        let clock = VirtualClock::starting_at(utc("2024-01-01T00:00:00Z"));
        let (woke, at) = sleep_with(&clock, "2024-01-01T01:00:00Z", MINUTE, 600, |c| {
            c.jump(TimeDelta::minutes(-30));
        })
        .await;
        assert_eq!((woke, at), (Woke::Reached, utc("2024-01-01T01:00:00Z")));
    }

    #[tokio::test(start_paused = true)]
    async fn a_jump_over_the_target_in_a_capped_chunk_is_detected() {
        let clock = VirtualClock::starting_at(utc("2024-01-01T00:00:00Z"));
        let (woke, at) = sleep_with(&clock, "2024-01-01T01:00:00Z", MINUTE, 90, |c| {
            c.jump(TimeDelta::hours(2));
        })
        .await;
        // Noticed at the end of the chunk that began at 60 s.
        let now = utc("2024-01-01T02:02:00Z");
        assert_eq!((woke, at), (Woke::JumpedOver { now }, now));
    }

    #[tokio::test(start_paused = true)]
    async fn a_jump_over_the_target_in_the_final_chunk_is_detected() {
        // 30 s left, a one-hour suspend 10 s into the last chunk: the
        // monotonic sleep ends at the target's old deadline, an hour late
        // on the wall clock.
        let clock = VirtualClock::starting_at(utc("2024-01-01T00:59:30Z"));
        let (woke, at) = sleep_with(&clock, "2024-01-01T01:00:00Z", MINUTE, 10, |c| {
            c.jump(TimeDelta::hours(1));
        })
        .await;
        let now = utc("2024-01-01T02:00:00Z");
        assert_eq!((woke, at), (Woke::JumpedOver { now }, now));
    }

    #[tokio::test(start_paused = true)]
    async fn a_step_noticed_just_past_the_target_counts_as_on_time() {
        // 90 s to go: the first chunk (60 s) ends 0.5 s past the target.
        let clock = VirtualClock::starting_at(utc("2024-01-01T00:58:30Z"));
        let (woke, _) = sleep_with(&clock, "2024-01-01T01:00:00Z", MINUTE, 30, |c| {
            c.jump(TimeDelta::milliseconds(30_500));
        })
        .await;
        assert_eq!(woke, Woke::Reached);
    }

    #[tokio::test(start_paused = true)]
    async fn a_small_step_is_not_a_jump() {
        let clock = VirtualClock::starting_at(utc("2024-01-01T00:59:00Z"));
        let (woke, _) = sleep_with(&clock, "2024-01-01T01:00:00Z", MINUTE, 30, |c| {
            c.jump(TimeDelta::milliseconds(900));
        })
        .await;
        assert_eq!(woke, Woke::Reached);
    }

    #[tokio::test(start_paused = true)]
    async fn a_passed_target_is_reached_at_once() {
        let clock = VirtualClock::starting_at(utc("2024-01-01T02:00:00Z"));
        let woke = sleep_until_wall(&*clock, utc("2024-01-01T01:00:00Z"), MINUTE).await;
        assert_eq!(woke, Woke::Reached);
    }

    #[tokio::test(start_paused = true)]
    async fn with_its_monotonic_due_time_a_jump_during_the_body_is_told_from_an_overrun() {
        let clock = VirtualClock::starting_at(utc("2024-01-01T00:59:00Z"));
        let target = utc("2024-01-01T01:00:00Z");
        let due = Instant::now() + MINUTE;
        // The body overran by 90 s: both clocks are late alike.
        tokio::time::advance(Duration::from_secs(150)).await;
        let woke = sleep_until_slot(&*clock, target, Some(due), MINUTE).await;
        assert_eq!(woke, Woke::Reached);
        // The wall clock jumped an hour while the body ran.
        clock.jump(TimeDelta::hours(1));
        let woke = sleep_until_slot(&*clock, target, Some(due), MINUTE).await;
        let now = utc("2024-01-01T02:01:30Z");
        assert_eq!(woke, Woke::JumpedOver { now });
    }
}
