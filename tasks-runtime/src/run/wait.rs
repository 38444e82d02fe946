//! Waiting for the next iteration of a wall-clock schedule.

use chrono::TimeDelta;
use tokio::time::Instant;

use super::watched::UntilRescheduled;
use crate::clock::Clock;
use crate::error::{LoopError, NoNextIteration};
use crate::schedule::wall_sleep::{sleep_until_slot, Woke};
use crate::schedule::Now;
use crate::state::{Core, Interrupt, Jumped};

/// Why a wall-clock wait ended without reaching its iteration.
pub(super) enum WallWait {
    /// A cancel.
    Cancelled,
    /// A shutdown.
    ShutDown,
    /// The schedule has no next iteration: the run ends with this error.
    NothingScheduled(LoopError),
}

/// Sleeps until the next iteration of a wall-clock schedule (or, once
/// `change_interval` switched to a relative interval, its next iteration),
/// sleeping again whenever `change_interval` moves it. An instant that a
/// clock jump or a suspend carried the wall clock past is skipped, unless
/// within the grace period (the schedule decides). The loop's jitter
/// delays the wake-up, never the instant the schedule goes on from.
pub(super) async fn until_wall_clock_slot<A: Send>(
    core: &Core<A>,
    name: &str,
) -> Result<(), WallWait> {
    let clock = core.clock();
    loop {
        let target = core.lock().wall_target();
        let Some(next) = target.next else {
            schedule_missing(core, &*clock)?;
            continue;
        };
        let wake_at = next.mono + target.jitter;
        if !target.wall_clock {
            // `change_interval` switched to a relative interval during
            // this sleep: wait for its iteration on the monotonic clock.
            if wake_at <= Instant::now() {
                return Ok(());
            }
            let sleep = tokio::time::sleep_until(wake_at);
            match UntilRescheduled::new(core, sleep).await {
                Ok(()) => return Ok(()),
                Err(interrupt) => go_on(interrupt)?,
            }
            continue;
        }
        let wall_wake_at =
            next.wall() + TimeDelta::from_std(target.jitter).unwrap_or(TimeDelta::MAX);
        let sleep = sleep_until_slot(&*clock, wall_wake_at, Some(wake_at), target.check_every);
        let now = match UntilRescheduled::new(core, sleep).await {
            Ok(Woke::Reached) => return Ok(()),
            Ok(Woke::JumpedOver { now }) => Now::with_wall(now),
            Err(interrupt) => {
                go_on(interrupt)?;
                continue;
            }
        };
        let jumped = core.lock().after_jump(next, now);
        match jumped {
            Jumped::Moved => {}
            Jumped::RunLate => return Ok(()),
            Jumped::Skipped(skipped) => tracing::warn!(
                loop_name = %name,
                %skipped,
                "the wall clock jumped past a time of day; skipping it"
            ),
        }
    }
}

/// No next iteration is scheduled (`change_interval` could not read the
/// clock, or the schedule has no instant left): it is worked out here,
/// where a panic of the clock is the run's; none at all ends the run.
fn schedule_missing<A>(core: &Core<A>, clock: &dyn Clock) -> Result<(), WallWait> {
    let now = Now::read(clock);
    if core.lock().schedule_missing(now) {
        return Ok(());
    }
    let error = NoNextIteration { after: now.wall };
    Err(WallWait::NothingScheduled(LoopError::from_error(error)))
}

/// Whether a wait that `interrupt` ended goes on: yes when the next
/// iteration moved (wait for it again), no after a cancel or a shutdown.
fn go_on(interrupt: Interrupt) -> Result<(), WallWait> {
    match interrupt {
        Interrupt::Rescheduled => Ok(()),
        Interrupt::Cancelled => Err(WallWait::Cancelled),
        Interrupt::ShutDown => Err(WallWait::ShutDown),
    }
}
