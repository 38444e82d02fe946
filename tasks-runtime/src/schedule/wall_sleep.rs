//! Sleeping until a wall-clock instant without trusting one long monotonic
//! sleep: the wall clock is read again at least every `check_every`, so a
//! suspend or a clock step is noticed.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::time::Instant;

use crate::clock::Clock;

/// A wall clock that moved this much more than the monotonic clock during
/// one sleep has been stepped (or the machine was suspended).
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
/// Cancel safe: dropping it mid-sleep loses nothing.
pub(crate) async fn sleep_until_wall(
    clock: &dyn Clock,
    target: DateTime<Utc>,
    check_every: Duration,
) -> Woke {
    loop {
        let before = clock.now();
        if before >= target {
            return Woke::Reached;
        }
        let remaining = (target - before).to_std().unwrap_or_default();
        let started = Instant::now();
        tokio::time::sleep(remaining.min(check_every)).await;
        let slept = TimeDelta::from_std(started.elapsed()).unwrap_or(TimeDelta::MAX);
        let now = clock.now();
        let expected = before + slept;
        if now >= target && expected < target && now - expected > JUMP_THRESHOLD {
            return Woke::JumpedOver { now };
        }
    }
}
