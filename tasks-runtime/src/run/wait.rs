//! Waiting for the next iteration of a wall-clock schedule.

use tokio::time::Instant;

use super::watched::UntilRescheduled;
use crate::schedule::wall_sleep::{sleep_until_slot, Woke};
use crate::schedule::{AfterJump, ScheduledAt};
use crate::state::{Core, Interrupt};

/// Sleeps until the next iteration of a wall-clock schedule (or, once
/// `change_interval` switched to a relative interval, its next iteration),
/// sleeping again whenever `change_interval` moves it. An instant that a
/// clock jump or a suspend carried the wall clock past is skipped, unless
/// within the grace period (the schedule decides).
pub(super) async fn until_wall_clock_slot<A: Send>(
    core: &Core<A>,
    name: &str,
) -> Result<(), Interrupt> {
    let wall = core.wall();
    loop {
        let (next, wall_clock) = {
            let mut state = core.lock();
            state.take_rescheduled();
            (state.next, state.schedule.is_wall_clock())
        };
        let Some(next) = next else { return Ok(()) };
        if !wall_clock {
            // `change_interval` switched to a relative interval during
            // this sleep: wait for its iteration on the monotonic clock.
            if next.mono <= Instant::now() {
                return Ok(());
            }
            let sleep = tokio::time::sleep_until(next.mono);
            match UntilRescheduled::new(core, sleep).await {
                Err(Interrupt::Rescheduled) => continue,
                other => return other,
            }
        }
        let sleep = sleep_until_slot(
            wall.clock,
            next.wall(),
            Some(next.mono),
            wall.options.check_every,
        );
        let woke = match UntilRescheduled::new(core, sleep).await {
            Ok(woke) => woke,
            Err(Interrupt::Rescheduled) => continue,
            Err(Interrupt::Cancelled) => return Err(Interrupt::Cancelled),
        };
        let Woke::JumpedOver { now } = woke else {
            return Ok(());
        };
        let mut state = core.lock();
        // Only move the iteration if nothing else moved it meanwhile.
        if state.next.map(ScheduledAt::wall) != Some(next.wall()) || !state.schedule.is_wall_clock()
        {
            continue;
        }
        let last = state.last.map(ScheduledAt::wall);
        let skipped = next.wall();
        match state.schedule.after_jump(skipped, last, now, wall.options) {
            AfterJump::RunLate(at) => {
                state.next = Some(ScheduledAt::at_wall(wall.clock, at));
                return Ok(());
            }
            AfterJump::Skip(following) => {
                state.next = following.map(|at| ScheduledAt::at_wall(wall.clock, at));
                tracing::warn!(
                    loop_name = %name,
                    %skipped,
                    "the wall clock jumped past a time of day; skipping it"
                );
            }
        }
    }
}
