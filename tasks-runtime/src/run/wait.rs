//! Waiting for the next iteration of a wall-clock schedule.

use chrono::TimeDelta;
use tokio::time::Instant;

use super::watched::UntilRescheduled;
use crate::error::{LoopError, NoNextIteration};
use crate::schedule::wall_sleep::{sleep_until_slot, Woke};
use crate::schedule::{AfterJump, Now, ScheduledAt};
use crate::state::{Core, Interrupt};

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
    let wall = core.wall();
    loop {
        let (next, wall_clock, jitter) = {
            let mut state = core.lock();
            state.take_rescheduled();
            let jitter = state.next.map(|next| state.jitter_for(next));
            (state.next, state.schedule.is_wall_clock(), jitter)
        };
        let Some(next) = next else {
            // `change_interval` could not read the clock, or the schedule
            // has no instant left: work it out here, where a panic of the
            // clock is the run's.
            let now = Now::read(&*wall.clock);
            let mut state = core.lock();
            if state.next.is_none() {
                state.next = state.schedule.following(state.last, now, wall.options);
            }
            if state.next.is_none() {
                let error = NoNextIteration { after: now.wall };
                return Err(WallWait::NothingScheduled(LoopError::from_error(error)));
            }
            continue;
        };
        if !wall_clock {
            // `change_interval` switched to a relative interval during
            // this sleep: wait for its iteration on the monotonic clock.
            let wake_at = next.mono + jitter.unwrap_or_default();
            if wake_at <= Instant::now() {
                return Ok(());
            }
            let sleep = tokio::time::sleep_until(wake_at);
            match UntilRescheduled::new(core, sleep).await {
                Ok(()) => return Ok(()),
                Err(Interrupt::Rescheduled) => continue,
                Err(Interrupt::Cancelled) => return Err(WallWait::Cancelled),
                Err(Interrupt::ShutDown) => return Err(WallWait::ShutDown),
            }
        }
        let jitter = jitter.unwrap_or_default();
        let wake_at = next.wall() + TimeDelta::from_std(jitter).unwrap_or(TimeDelta::MAX);
        let sleep = sleep_until_slot(
            &*wall.clock,
            wake_at,
            Some(next.mono + jitter),
            wall.options.check_every,
        );
        let woke = match UntilRescheduled::new(core, sleep).await {
            Ok(woke) => woke,
            Err(Interrupt::Rescheduled) => continue,
            Err(Interrupt::Cancelled) => return Err(WallWait::Cancelled),
            Err(Interrupt::ShutDown) => return Err(WallWait::ShutDown),
        };
        let Woke::JumpedOver { now } = woke else {
            return Ok(());
        };
        let now = Now::with_wall(now);
        let mut state = core.lock();
        // Only move the iteration if nothing else moved it meanwhile.
        if state.next.map(ScheduledAt::wall) != Some(next.wall()) || !state.schedule.is_wall_clock()
        {
            continue;
        }
        let last = state.last.map(ScheduledAt::wall);
        let skipped = next.wall();
        match state
            .schedule
            .after_jump(skipped, last, now.wall, wall.options)
        {
            AfterJump::RunLate(at) => {
                state.next = Some(ScheduledAt::at_wall(now, at));
                return Ok(());
            }
            AfterJump::Skip(following) => {
                state.next = following.map(|at| ScheduledAt::at_wall(now, at));
                drop(state);
                tracing::warn!(
                    loop_name = %name,
                    %skipped,
                    "the wall clock jumped past a time of day; skipping it"
                );
            }
        }
    }
}
