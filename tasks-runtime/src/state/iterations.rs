//! The transitions of a run's iterations, each a decision made under the
//! loop's lock and handed to the run (`run/`) as a small answer: the
//! first iteration, the wait after a success, the next iteration (counted,
//! on the monotonic or the wall clock), a wall-clock jump, a cluster's
//! catch-up, `change_interval`; and the record of how each call of the
//! body went.

use std::task::Waker;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::{Instant, MissedTickBehavior};

use super::record::{Recorded, Timing};
use super::settings::Settings;
use super::transitions::{IterationSettings, State};
use crate::schedule::{AfterJump, Now, Schedule, ScheduledAt};
use crate::status::IterationOutcome;

/// What the run waits for after a successful iteration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AfterSuccess {
    /// `stop` or `shutdown` was called: the run ends.
    Stop,
    /// The next iteration is already due (a zero interval).
    Due,
    /// Sleep until then.
    SleepUntil(Instant),
    /// The schedule is on the wall clock: its wait comes before the body.
    WallClock,
    /// No next iteration is scheduled.
    Unscheduled,
}

/// How the previous iteration of a run ended, as the next one begins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Previous {
    /// None ran: the run has just begun, or this replica skipped the slot.
    NotRun,
    /// It succeeded: it counts.
    Succeeded,
    /// It failed and is retried now, after its backoff, not at the next
    /// instant of the schedule.
    Retried,
}

/// What the next iteration does first.
#[derive(Clone, Copy)]
pub(crate) enum NextIteration {
    /// The count is reached: the run completes.
    Completed,
    /// The body runs now, with these settings.
    Run(IterationSettings),
    /// Leader mode: the term's lease lapsed by this replica's clock (with
    /// the cluster's margin): the body is not called, the run ends.
    LeaseLapsed,
    /// The schedule is on the wall clock: wait for its instant first.
    WaitForWallClock,
}

/// The wall-clock wait's next target, read in one lock.
#[derive(Clone, Copy)]
pub(crate) struct WallTarget {
    /// The iteration to wait for; `None` when none is scheduled.
    pub(crate) next: Option<ScheduledAt>,
    /// Whether the schedule is still on the wall clock.
    pub(crate) wall_clock: bool,
    /// The extra delay of the wait (zero without jitter).
    pub(crate) jitter: Duration,
    /// The longest sleep before the wall clock is read again.
    pub(crate) check_every: Duration,
}

/// What a wall-clock jump over the instant waited for did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Jumped {
    /// Something else moved the next iteration meanwhile: wait again.
    Moved,
    /// An instant passed over runs now, within the grace period.
    RunLate,
    /// The instant was skipped; the next one is scheduled.
    Skipped(DateTime<Utc>),
}

impl<A> State<A> {
    /// The first iteration of a run, from `now`. Returns whether the
    /// schedule is on the wall clock.
    pub(crate) fn schedule_first(&mut self, now: Now) -> bool {
        self.last = None;
        self.next = self.schedule.first(now, &self.wall_options());
        self.schedule.is_wall_clock()
    }

    /// After a successful iteration: the stop check, and for a relative
    /// interval the next iteration moved under the missed policy, with its
    /// jitter. The next iteration is read now, so an earlier move of it
    /// needs no more attention.
    #[inline]
    pub(crate) fn after_success(&mut self) -> AfterSuccess {
        self.rescheduled = false;
        if let Some(extras) = self.extras.as_mut() {
            extras.record.succeeded();
        }
        if self.ending() {
            return AfterSuccess::Stop;
        }
        if self.schedule.is_wall_clock() {
            return AfterSuccess::WallClock;
        }
        // A zero interval is due at once, without reading the clock. An
        // iteration that a long body made due is left to the sleep, which
        // returns at once: reading the clock here would cost every
        // iteration of every loop a system clock read for a rare case.
        // A policy other than burst moves an iteration that is already
        // late; only such a policy reads the clock. Burst leaves `next` as
        // it is, unwritten: every iteration of a default loop comes here.
        let missed = self.missed();
        if !matches!(missed, MissedTickBehavior::Burst) {
            if let Some(next) = self.next {
                self.next = Some(self.schedule.reached_late(next, missed, Instant::now));
            }
        }
        // The iterations are read by reference, and only their instants on
        // the monotonic clock compared: copying them whole, just after the
        // stores of the previous iteration, stalls the processor on every
        // iteration.
        let Some(next) = &self.next else {
            return AfterSuccess::Unscheduled;
        };
        let jitter = match self.extras.as_mut() {
            Some(extras) => extras.settings.jitter_for(*next),
            None => Duration::ZERO,
        };
        match &self.last {
            Some(last) if next.mono <= last.mono && jitter.is_zero() => AfterSuccess::Due,
            _ => AfterSuccess::SleepUntil(next.mono + jitter),
        }
    }

    /// The next iteration begins, after `previous`: a success counts (and
    /// may complete the run); a relative interval's iteration becomes the
    /// last and the one after it is scheduled; a retry runs at once. In
    /// leader mode, the body runs only while the lease holds: checked here,
    /// in the same lock, immediately before the call.
    #[inline]
    pub(crate) fn begin_iteration(&mut self, previous: Previous) -> NextIteration {
        if previous == Previous::Succeeded && self.count_iteration() {
            return NextIteration::Completed;
        }
        if previous != Previous::Retried {
            if self.schedule.is_wall_clock() {
                return NextIteration::WaitForWallClock;
            }
            self.last = self.next;
            self.next = self
                .next
                .and_then(|last| self.schedule.following_relative(last));
        }
        if self.lease_lapsed() {
            return NextIteration::LeaseLapsed;
        }
        NextIteration::Run(self.iteration_settings())
    }

    /// Counts a successful iteration; whether that reaches the count. A
    /// count lowered below the iterations already done is reached too.
    fn count_iteration(&mut self) -> bool {
        self.current_loop += 1;
        self.count
            .is_some_and(|count| self.current_loop >= count.get())
    }

    /// The wall-clock wait reached its iteration at `now`: it becomes the
    /// last, and the one after it is scheduled. Returns the settings the
    /// body runs with and, in a cluster's claim mode, the slot to claim.
    pub(crate) fn reach_wall_clock_slot(
        &mut self,
        now: Now,
    ) -> (IterationSettings, Option<DateTime<Utc>>) {
        self.last = match self.next {
            Some(at) if self.schedule.is_wall_clock() => Some(at.reached(now)),
            other => other,
        };
        self.next = self
            .schedule
            .following(self.last, now, &self.wall_options());
        let to_claim = self
            .last
            .filter(|_| self.claims_slots())
            .map(ScheduledAt::wall);
        (self.iteration_settings(), to_claim)
    }

    /// What the wall-clock wait waits for now. The next iteration is read
    /// now, so an earlier move of it needs no more attention.
    pub(crate) fn wall_target(&mut self) -> WallTarget {
        self.rescheduled = false;
        let jitter = match self.next {
            Some(next) => self.jitter_for(next),
            None => Duration::ZERO,
        };
        WallTarget {
            next: self.next,
            wall_clock: self.schedule.is_wall_clock(),
            jitter,
            check_every: self.wall_options().check_every,
        }
    }

    /// Schedules the next iteration from `now` if none is (`change_interval`
    /// could not read the clock, or the schedule had no instant left).
    /// Returns whether one is scheduled now.
    pub(crate) fn schedule_missing(&mut self, now: Now) -> bool {
        if self.next.is_none() {
            self.next = self
                .schedule
                .following(self.last, now, &self.wall_options());
        }
        self.next.is_some()
    }

    /// The wall clock, read at `now`, was carried past `waited_for` by a
    /// step or a suspend: the schedule decides whether an instant passed
    /// over runs late or is skipped. Only if nothing else moved the next
    /// iteration meanwhile.
    pub(crate) fn after_jump(&mut self, waited_for: ScheduledAt, now: Now) -> Jumped {
        let skipped = waited_for.wall();
        if self.next.map(ScheduledAt::wall) != Some(skipped) || !self.schedule.is_wall_clock() {
            return Jumped::Moved;
        }
        let last = self.last.map(ScheduledAt::wall);
        let options = self.wall_options();
        match self.schedule.after_jump(skipped, last, now.wall, &options) {
            AfterJump::RunLate(at) => {
                self.next = Some(ScheduledAt::at_wall(now, at));
                Jumped::RunLate
            }
            AfterJump::Skip(following) => {
                self.next = following.map(|at| ScheduledAt::at_wall(now, at));
                Jumped::Skipped(skipped)
            }
        }
    }

    /// Claim mode with catch-up, at the start of a run: the latest slot
    /// that passed before `now`, within `window` and after `last_finished`
    /// (the last slot the store saw finish), becomes the run's first.
    pub(crate) fn catch_up(
        &mut self,
        now: Now,
        window: Duration,
        last_finished: Option<DateTime<Utc>>,
    ) {
        let options = self.wall_options();
        let missed = self
            .schedule
            .latest_missed(now.wall, window, last_finished, &options);
        if let Some(missed) = missed {
            self.next = Some(ScheduledAt::at_wall(now, missed));
        }
    }

    /// `change_interval`: the new schedule, and for a running loop the next
    /// iteration under it (for a relative interval, anchored to the last
    /// iteration, as in discord.py; before the first iteration of a run,
    /// the first one stays at once). `now` is `None` when the clock could
    /// not be read: the task then finds no next iteration and works it out
    /// itself. Returns the task to wake.
    pub(crate) fn reschedule(&mut self, schedule: Schedule, now: Option<Now>) -> Option<Waker> {
        let relative_first_wait = !schedule.is_wall_clock() && self.last.is_none();
        self.schedule = schedule;
        let pending = self.next.is_some() || self.last.is_some();
        if !self.running || !pending || relative_first_wait {
            return None;
        }
        self.next = match (self.last, now) {
            (Some(last), _) if !self.schedule.is_wall_clock() => {
                self.schedule.following_relative(last)
            }
            (last, Some(now)) => self.schedule.following(last, now, &self.wall_options()),
            (_, None) => None,
        };
        self.rescheduled = true;
        self.take_waker()
    }

    /// The missed-iteration policy of a relative interval.
    pub(crate) fn missed(&self) -> MissedTickBehavior {
        self.settings()
            .map_or(MissedTickBehavior::Burst, Settings::missed)
    }

    /// The longest extra delay of each wait; `None` without jitter.
    pub(crate) fn jitter(&self) -> Option<Duration> {
        self.settings()?.jitter()
    }

    /// The extra delay of the wait for `slot`: zero without jitter.
    fn jitter_for(&mut self, slot: ScheduledAt) -> Duration {
        match self.extras.as_mut() {
            Some(extras) => extras.settings.jitter_for(slot),
            None => Duration::ZERO,
        }
    }

    /// The extra delay already chosen for the wait for `slot`, if any.
    pub(crate) fn jitter_chosen_for(&self, slot: ScheduledAt) -> Duration {
        self.settings()
            .and_then(|settings| settings.jitter_chosen_for(slot))
            .unwrap_or_default()
    }

    /// When the next iteration is scheduled: `None` when the loop is not
    /// running or is stopping. Returns it with whether the schedule is on
    /// the wall clock, and the jitter chosen for it.
    pub(crate) fn upcoming(&self) -> Option<(ScheduledAt, bool, Duration)> {
        if !self.running || self.ending() {
            return None;
        }
        let next = self.next?;
        Some((
            next,
            self.schedule.is_wall_clock(),
            self.jitter_chosen_for(next),
        ))
    }
}

/// The record of the iterations.
impl<A> State<A> {
    /// A timed call of the body began at `now`.
    pub(crate) fn record_began(&mut self, now: Instant) {
        self.extras_mut().record.began(now);
    }

    /// A call of the body ended at `now` with `outcome`. Returns its
    /// timing, if it was timed.
    pub(crate) fn record_ended(
        &mut self,
        outcome: IterationOutcome,
        now: Instant,
    ) -> Option<Timing> {
        let slot = self.last.map(|slot| (slot, self.jitter_chosen_for(slot)));
        self.extras_mut().record.ended(outcome, now, slot)
    }

    /// A call of the body failed with `error` (as text), `retried` or not.
    /// Returns the error text it replaces, for the caller to drop outside
    /// the lock.
    pub(crate) fn record_failed(&mut self, error: Box<str>, retried: bool) -> Option<Box<str>> {
        self.extras_mut().record.failed(error, retried)
    }

    /// A call of the body was dropped by a cancel.
    pub(crate) fn record_cancelled(&mut self) {
        self.extras_mut().record.cancelled();
    }

    /// What `status` shows of the record; from now on, iterations are
    /// timed. Without extras the loop has never failed: its last call, if
    /// this run made one, succeeded.
    pub(crate) fn read_record(&mut self) -> Recorded {
        let succeeded =
            (self.extras.is_none() && self.current_loop > 0).then_some(IterationOutcome::Succeeded);
        let mut recorded = self.extras_mut().record.read_for_status();
        recorded.outcome = recorded.outcome.or(succeeded);
        recorded
    }

    /// The loop's metric handles, registered as its run starts.
    #[cfg(feature = "metrics")]
    pub(crate) fn metrics(&self) -> Option<std::sync::Arc<crate::metrics::LoopMetrics>> {
        self.extras.as_ref()?.record.metrics()
    }

    /// A run's metric handles. Returns the ones replaced, for the caller to
    /// drop outside the lock.
    #[cfg(feature = "metrics")]
    pub(crate) fn set_metrics(
        &mut self,
        metrics: std::sync::Arc<crate::metrics::LoopMetrics>,
    ) -> Option<std::sync::Arc<crate::metrics::LoopMetrics>> {
        self.extras_mut().record.set_metrics(metrics)
    }
}
