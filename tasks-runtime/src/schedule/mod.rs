//! When the next iteration runs. Each kind of schedule has its own file
//! (a relative interval in `relative.rs`, times of day in
//! `time_of_day.rs`, cron expressions in `cron.rs`, a relative interval on
//! a cluster's grid in `aligned.rs`) and answers what `kind.rs` asks of
//! every kind; [`Schedule`] picks the kind and derives the rest from its
//! answers: the first iteration of a run, the one after each iteration,
//! and what a jump of the wall clock over an instant means. The run
//! (`run/`) only sleeps until the instants it is given.
//!
//! A new kind of schedule is a new file here that implements `Kind`, one
//! variant of [`Schedule`] and of the public [`Interval`], and their arms in
//! this file (`Interval::validate`, `Schedule::kind`, `Schedule::interval`);
//! then its setter in the builder, with its row in the builder's list of
//! kinds, and the attribute's.

mod aligned;
mod cron;
mod jitter;
mod kind;
mod relative;
mod scheduled;
mod time_of_day;
mod wall;
pub(crate) mod wall_sleep;
mod zone;

use std::time::Duration;

use chrono::{DateTime, FixedOffset, TimeDelta, Utc};
use tokio::time::MissedTickBehavior;

use crate::error::ConfigError;
pub(crate) use aligned::Aligned;
pub use cron::Cron;
pub(crate) use jitter::Jitter;
use kind::Kind;
pub(crate) use relative::Every;
pub(crate) use scheduled::{Now, ScheduledAt};
pub use time_of_day::TimeOfDay;
use time_of_day::Times;
pub(crate) use wall::WallOptions;
pub use wall::DEFAULT_WALL_CHECK;
pub use zone::{AmbiguousTime, Zone};

/// The schedule of a loop, as given to [`LoopBuilder::interval`] or
/// [`Loop::change_interval`]: a relative interval (seconds, minutes and
/// hours, summed), a list of times of day, or a cron expression.
///
/// It is checked when used: a negative, NaN or infinite total, an empty list
/// of times, or times mixed with a relative part are each a
/// [`ConfigError`] (a [`Cron`] was checked when it was parsed).
///
/// New kinds of schedule may come: a `match` on an `Interval` needs a `_`
/// arm.
///
/// [`LoopBuilder::interval`]: crate::LoopBuilder::interval
/// [`Loop::change_interval`]: crate::Loop::change_interval
///
/// ```
/// use tasks_runtime::{Interval, TimeOfDay};
///
/// let every_90_minutes = Interval::relative(0.0, 30.0, 1.0);
/// let twice_a_day = Interval::times(["08:00", "20:00"].map(|t| TimeOfDay::parse(t).unwrap()));
/// let weekdays = Interval::Cron(tasks_runtime::Cron::parse("0 30 9 * * MON-FRI").unwrap());
/// # let _ = (every_90_minutes, twice_a_day, weekdays);
/// ```
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Interval {
    /// `seconds + 60·minutes + 3600·hours`; components may be negative or
    /// fractional as long as the total is zero or more.
    Relative {
        /// Seconds.
        seconds: f64,
        /// Minutes.
        minutes: f64,
        /// Hours.
        hours: f64,
    },
    /// One run at each listed time of day (sorted, duplicates dropped).
    Times(Vec<TimeOfDay>),
    /// One run at each instant a cron expression matches in its zone.
    Cron(Cron),
}

impl Interval {
    /// Every `seconds` seconds.
    pub fn seconds(seconds: f64) -> Self {
        Self::relative(seconds, 0.0, 0.0)
    }

    /// Every `minutes` minutes.
    pub fn minutes(minutes: f64) -> Self {
        Self::relative(0.0, minutes, 0.0)
    }

    /// Every `hours` hours.
    pub fn hours(hours: f64) -> Self {
        Self::relative(0.0, 0.0, hours)
    }

    /// Every `seconds + 60·minutes + 3600·hours` seconds.
    pub fn relative(seconds: f64, minutes: f64, hours: f64) -> Self {
        Self::Relative {
            seconds,
            minutes,
            hours,
        }
    }

    /// At each of these times of day.
    pub fn times(times: impl IntoIterator<Item = TimeOfDay>) -> Self {
        Self::Times(times.into_iter().collect())
    }

    /// Every `period` (a `Duration` cannot be negative, so this never fails).
    pub fn every(period: Duration) -> Self {
        Self::seconds(period.as_secs_f64())
    }

    pub(crate) fn validate(self) -> Result<Schedule, ConfigError> {
        match self {
            Interval::Relative {
                seconds,
                minutes,
                hours,
            } => Every::new(seconds, minutes, hours).map(Schedule::Relative),
            Interval::Times(times) => Times::new(times).map(Schedule::Times),
            Interval::Cron(cron) => Ok(Schedule::Cron(cron)),
        }
    }
}

impl Default for Interval {
    /// An interval of zero: the loop runs again at once, yielding to the
    /// runtime regularly (whenever its task's cooperative budget is spent,
    /// as any tokio task that is always ready does), so it never starves
    /// other tasks.
    fn default() -> Self {
        Self::seconds(0.0)
    }
}

/// A validated [`Interval`]: what a loop runs on.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Schedule {
    /// On the monotonic clock, anchored to the run's first iteration.
    Relative(Every),
    /// On the wall clock.
    Times(Times),
    /// On the wall clock. A `Cron` is a pointer and a zone (16 bytes):
    /// every loop's state stays as small as with the other kinds.
    Cron(Cron),
    /// A relative interval on a fixed grid of the wall clock (claim mode;
    /// boxed: rare, and it would make every loop's schedule larger).
    Aligned(Box<Aligned>),
}

/// What a wall-clock schedule does about an instant that a forward step of
/// the wall clock (or a suspend) carried it past.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum AfterJump {
    /// Run this passed instant now: it is within the grace period.
    RunLate(DateTime<Utc>),
    /// Skip it; the next instant, if any.
    Skip(Option<DateTime<Utc>>),
}

impl Schedule {
    /// The kind, to ask what [`Kind`] asks of every kind.
    fn kind(&self) -> &dyn Kind {
        match self {
            Schedule::Relative(every) => every,
            Schedule::Times(times) => times,
            Schedule::Cron(cron) => cron,
            Schedule::Aligned(aligned) => &**aligned,
        }
    }

    /// Whether the schedule sleeps on the wall clock. Read from the
    /// variant: every iteration asks, and the period's conversion from
    /// floating point is not free.
    pub(crate) fn is_wall_clock(&self) -> bool {
        !matches!(self, Schedule::Relative(_))
    }

    /// The period of a relative interval; `None` on the wall clock. Each
    /// kind is asked through its own type rather than through `dyn Kind`:
    /// the run asks on every iteration, and the calls inline.
    #[inline]
    fn monotonic_period(&self) -> Option<Duration> {
        match self {
            Schedule::Relative(every) => every.monotonic_period(),
            Schedule::Times(times) => times.monotonic_period(),
            Schedule::Cron(cron) => cron.monotonic_period(),
            Schedule::Aligned(aligned) => aligned.monotonic_period(),
        }
    }

    /// The schedule as given, for reading back.
    pub(crate) fn interval(&self) -> Interval {
        match self {
            Schedule::Relative(every) => {
                Interval::relative(every.seconds, every.minutes, every.hours)
            }
            Schedule::Aligned(aligned) => {
                let every = aligned.every;
                Interval::relative(every.seconds, every.minutes, every.hours)
            }
            Schedule::Times(times) => Interval::Times(times.as_slice().to_vec()),
            Schedule::Cron(cron) => Interval::Cron(cron.clone()),
        }
    }

    /// The relative interval it runs every, if it is one (aligned or not).
    pub(crate) fn every(&self) -> Option<Every> {
        match self {
            Schedule::Relative(every) => Some(*every),
            Schedule::Aligned(aligned) => Some(aligned.every),
            Schedule::Times(_) | Schedule::Cron(_) => None,
        }
    }

    /// The schedule as a cluster's claim mode runs it: a relative interval
    /// laid on the grid of `anchor`, so that every replica computes the
    /// same instants; other schedules are instants already.
    pub(crate) fn aligned_to(self, anchor: DateTime<Utc>) -> Schedule {
        match self.every() {
            Some(every) => Schedule::Aligned(Box::new(Aligned { every, anchor })),
            None => self,
        }
    }

    /// `at` in the zone the schedule's instants are shown in (UTC for a
    /// relative interval).
    pub(crate) fn local(&self, at: DateTime<Utc>) -> DateTime<FixedOffset> {
        at.with_timezone(&self.kind().display_zone().offset_at(at))
    }

    /// The schedule in words.
    pub(crate) fn describe(&self) -> String {
        self.kind().describe()
    }

    /// The first iteration of a run: at once on the monotonic clock, the
    /// next instant from `now` on the wall clock.
    pub(crate) fn first(&self, now: Now, options: &WallOptions) -> Option<ScheduledAt> {
        match self.monotonic_period() {
            Some(_) => Some(ScheduledAt::now(now)),
            None => self.following(None, now, options),
        }
    }

    /// The iteration after `last`: `last` plus the period, or the next
    /// wall-clock instant at or after `now` and after `last`.
    pub(crate) fn following(
        &self,
        last: Option<ScheduledAt>,
        now: Now,
        options: &WallOptions,
    ) -> Option<ScheduledAt> {
        match self.monotonic_period() {
            Some(period) => last.map(|at| at.plus(period)),
            None => self
                .next_wall(now.wall, last.map(ScheduledAt::wall), options)
                .map(|at| ScheduledAt::at_wall(now, at)),
        }
    }

    /// The iteration after `last` on the monotonic clock, which needs no
    /// clock read; `None` for a wall-clock schedule.
    #[inline]
    pub(crate) fn following_relative(&self, last: ScheduledAt) -> Option<ScheduledAt> {
        self.monotonic_period().map(|period| last.plus(period))
    }

    /// The iteration to run for `next` on the monotonic clock, which the
    /// run may have reached late, under the `missed` policy (see
    /// [`relative::reached_late`]): `now` is called only when the policy
    /// needs the monotonic clock. A wall-clock schedule keeps `next`: every
    /// policy runs one late instant, as discord.py does.
    pub(crate) fn reached_late(
        &self,
        next: ScheduledAt,
        missed: MissedTickBehavior,
        now: impl FnOnce() -> tokio::time::Instant,
    ) -> ScheduledAt {
        // Burst keeps `next` whatever the period: the period is not even
        // computed, on the path every iteration of a default loop takes.
        if matches!(missed, MissedTickBehavior::Burst) {
            return next;
        }
        match self.monotonic_period() {
            Some(period) => relative::reached_late(next, period, missed, now),
            None => next,
        }
    }

    /// The earliest instant of a wall-clock schedule at or after `now` and
    /// strictly after `after`; `None` on the monotonic clock.
    fn next_wall(
        &self,
        now: DateTime<Utc>,
        after: Option<DateTime<Utc>>,
        options: &WallOptions,
    ) -> Option<DateTime<Utc>> {
        self.kind().next_wall_instant(now, after, options)
    }

    /// The latest instant of a wall-clock schedule before `now` that passed
    /// at most `window` before it and after `last_run`: the one slot to
    /// catch up on.
    pub(crate) fn latest_missed(
        &self,
        now: DateTime<Utc>,
        window: Duration,
        last_run: Option<DateTime<Utc>>,
        options: &WallOptions,
    ) -> Option<DateTime<Utc>> {
        let oldest = TimeDelta::from_std(window)
            .ok()
            .and_then(|window| now.checked_sub_signed(window))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let passed = |from: DateTime<Utc>| {
            self.next_wall(from.max(oldest), last_run, options)
                .filter(|at| *at < now)
        };
        // Looks back 1 ms, 2 ms, 4 ms... until an instant turns up, so that
        // a long window over a short period is not walked instant by
        // instant; then walks forward over the few instants of the last
        // stretch to the latest.
        let mut back = TimeDelta::milliseconds(1);
        let mut latest = loop {
            let from = now
                .checked_sub_signed(back)
                .unwrap_or(DateTime::<Utc>::MIN_UTC);
            if let Some(at) = passed(from) {
                break at;
            }
            if from <= oldest {
                return None;
            }
            back = back.checked_mul(2).unwrap_or(TimeDelta::MAX);
        };
        while let Some(at) = self
            .next_wall(latest, Some(latest), options)
            .filter(|at| *at < now)
        {
            latest = at;
        }
        Some(latest)
    }

    /// The wall clock reads `now`, carried past `skipped` by a step or a
    /// suspend; `last` is the instant run before. The earliest passed
    /// instant no older than the grace period runs, once; otherwise
    /// `skipped` is skipped.
    pub(crate) fn after_jump(
        &self,
        skipped: DateTime<Utc>,
        last: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        options: &WallOptions,
    ) -> AfterJump {
        if let Some(grace) = options.grace {
            // A grace period longer than chrono's range reaches back to its
            // first date.
            let oldest = TimeDelta::from_std(grace)
                .ok()
                .and_then(|grace| now.checked_sub_signed(grace))
                .unwrap_or(DateTime::<Utc>::MIN_UTC);
            let late = self
                .next_wall(oldest, last, options)
                .filter(|at| *at <= now);
            if let Some(at) = late {
                return AfterJump::RunLate(at);
            }
        }
        AfterJump::Skip(self.next_wall(now, Some(skipped), options))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cron_schedule_keeps_every_loop_s_state_as_small() {
        // No larger than the relative interval it sits beside in every
        // loop, so the schedule is as small as before cron (32 bytes).
        assert!(std::mem::size_of::<Cron>() <= std::mem::size_of::<Every>());
        assert!(std::mem::size_of::<Schedule>() <= 32);
        assert_eq!(
            std::mem::size_of::<Option<Schedule>>(),
            std::mem::size_of::<Schedule>()
        );
    }

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn every_ms(ms: f64) -> Schedule {
        Schedule::Aligned(Box::new(Aligned {
            every: Every {
                seconds: ms / 1e3,
                minutes: 0.0,
                hours: 0.0,
            },
            anchor: DateTime::<Utc>::UNIX_EPOCH,
        }))
    }

    #[test]
    fn the_slot_to_catch_up_on_is_the_latest_passed_within_the_window() {
        let options = WallOptions::DEFAULT;
        let now = utc("2026-12-02T09:04:30Z");
        let minutely = every_ms(60_000.0);
        let window = Duration::from_secs(600);
        let last = Some(utc("2026-12-02T09:01:00Z"));
        assert_eq!(
            minutely.latest_missed(now, window, last, &options),
            Some(utc("2026-12-02T09:04:00Z"))
        );
        // Nothing after the last finished slot, or nothing in the window.
        let finished = Some(utc("2026-12-02T09:04:00Z"));
        assert_eq!(
            minutely.latest_missed(now, window, finished, &options),
            None
        );
        let short = Duration::from_secs(20);
        assert_eq!(minutely.latest_missed(now, short, last, &options), None);
        // A slot exactly now has not passed.
        let on_slot = utc("2026-12-02T09:05:00Z");
        assert_eq!(
            minutely.latest_missed(on_slot, window, last, &options),
            Some(utc("2026-12-02T09:04:00Z"))
        );
    }

    #[test]
    fn a_long_window_over_a_short_period_is_not_walked_slot_by_slot() {
        // A year of 1 ms slots: thirty billion of them, found in a few
        // dozen steps.
        let options = WallOptions::DEFAULT;
        let now = utc("2026-12-02T09:04:30.0005Z");
        let year = Duration::from_secs(365 * 86_400);
        assert_eq!(
            every_ms(1.0).latest_missed(now, year, None, &options),
            Some(utc("2026-12-02T09:04:30Z"))
        );
        assert_eq!(
            every_ms(1.0).latest_missed(now, Duration::MAX, None, &options),
            Some(utc("2026-12-02T09:04:30Z"))
        );
    }
}
