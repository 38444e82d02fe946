//! A loop's settings: what its builder sets and its handle may change
//! afterwards (which one where is the table on `LoopBuilder`), each with
//! its one check, used by both. Each setting is read where it applies
//! (the retry filter at an error, the timeout as a call begins, the wall
//! options as a wall-clock wait begins...), so a change takes effect from
//! then on.

use std::num::NonZeroU64;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::MissedTickBehavior;

use crate::backoff::Backoff;
use crate::clock::Clock;
use crate::error::ConfigError;
use crate::retry::RetryFilter;
use crate::schedule::{AmbiguousTime, Jitter, ScheduledAt, WallOptions};

/// Makes the backoff of a run.
pub(crate) type BackoffFactory = Arc<dyn Fn() -> Box<dyn Backoff> + Send + Sync>;

/// The settings of a loop that are not in every loop's state: in its
/// extras, made when one of them leaves its default.
#[derive(Default)]
pub(crate) struct Settings {
    /// The retried error types.
    retry: RetryFilter,
    /// Makes a run's backoff; `None`: discord.py's exponential backoff.
    make_backoff: Option<BackoffFactory>,
    /// The wall clock, when not the system's.
    clock: Option<Arc<dyn Clock>>,
    /// What a relative interval does about missed iterations; `None`: burst.
    missed: Option<MissedTickBehavior>,
    /// How long a call of the body may run.
    timeout: Option<Duration>,
    jitter: JitterSetting,
    /// How a wall-clock schedule watches the wall clock; `None`: the
    /// defaults (boxed: most loops keep them, and every loop with extras
    /// would carry them).
    wall: Option<Box<WallOptions>>,
}

/// The jitter, or a seed given before it, kept for when it is set.
#[derive(Default)]
enum JitterSetting {
    #[default]
    Off,
    /// `jitter_seed` without a jitter: the seed of the jitter set next.
    Seeded(u64),
    On(Jitter),
}

/// A count as given: at least 1, `None` for an endless loop.
pub(crate) fn check_count(count: Option<u64>) -> Result<Option<NonZeroU64>, ConfigError> {
    count
        .map(|count| NonZeroU64::new(count).ok_or(ConfigError::ZeroCount))
        .transpose()
}

/// A timeout: more than zero, at most 100 years.
fn check_timeout(timeout: Option<Duration>) -> Result<Option<Duration>, ConfigError> {
    timeout
        .map(|timeout| ConfigError::check_duration("timeout", timeout, true))
        .transpose()
}

/// A jitter: at most 100 years (zero is no delay).
fn check_jitter(jitter: Option<Duration>) -> Result<Option<Duration>, ConfigError> {
    jitter
        .map(|jitter| ConfigError::check_duration("jitter", jitter, false))
        .transpose()
}

/// The longest sleep of a wall-clock wait: more than zero.
fn check_wall_clock_check(every: Duration) -> Result<Duration, ConfigError> {
    if every.is_zero() {
        return Err(ConfigError::ZeroDuration {
            option: "wall_clock_check",
        });
    }
    Ok(every)
}

impl Settings {
    /// Whether every setting is at its default, so that a loop built with
    /// them needs no extras.
    pub(crate) fn is_default(&self) -> bool {
        self.retry.is_default()
            && self.make_backoff.is_none()
            && self.clock.is_none()
            && self.missed.is_none()
            && self.timeout.is_none()
            && matches!(self.jitter, JitterSetting::Off)
            && self.wall.is_none()
    }

    pub(crate) fn retry(&self) -> &RetryFilter {
        &self.retry
    }

    /// The retried error types, to change.
    pub(crate) fn retry_mut(&mut self) -> &mut RetryFilter {
        &mut self.retry
    }

    pub(crate) fn make_backoff(&self) -> Option<&BackoffFactory> {
        self.make_backoff.as_ref()
    }

    /// Returns the factory replaced, for the caller to drop outside the
    /// lock.
    pub(crate) fn set_backoff(&mut self, make: Option<BackoffFactory>) -> Option<BackoffFactory> {
        std::mem::replace(&mut self.make_backoff, make)
    }

    pub(crate) fn clock(&self) -> Option<&Arc<dyn Clock>> {
        self.clock.as_ref()
    }

    /// Returns the clock replaced, for the caller to drop outside the lock.
    pub(crate) fn set_clock(&mut self, clock: Option<Arc<dyn Clock>>) -> Option<Arc<dyn Clock>> {
        std::mem::replace(&mut self.clock, clock)
    }

    pub(crate) fn missed(&self) -> MissedTickBehavior {
        self.missed.unwrap_or(MissedTickBehavior::Burst)
    }

    pub(crate) fn set_missed(&mut self, missed: MissedTickBehavior) {
        self.missed = (missed != MissedTickBehavior::Burst).then_some(missed);
    }

    pub(crate) fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// # Errors
    ///
    /// A zero timeout, or one longer than 100 years; left as it was.
    pub(crate) fn set_timeout(&mut self, timeout: Option<Duration>) -> Result<(), ConfigError> {
        self.timeout = check_timeout(timeout)?;
        Ok(())
    }

    /// The longest extra delay of a wait; `None` without jitter.
    pub(crate) fn jitter(&self) -> Option<Duration> {
        match &self.jitter {
            JitterSetting::On(jitter) => Some(jitter.max()),
            JitterSetting::Off | JitterSetting::Seeded(_) => None,
        }
    }

    /// A new jitter keeps the random source of the one it replaces, or
    /// takes the seed given before it; `None` removes the jitter and its
    /// source (a seed waiting for a jitter keeps waiting).
    ///
    /// # Errors
    ///
    /// A jitter longer than 100 years; left as it was.
    pub(crate) fn set_jitter(&mut self, jitter: Option<Duration>) -> Result<(), ConfigError> {
        let Some(max) = check_jitter(jitter)? else {
            if let JitterSetting::On(_) = self.jitter {
                self.jitter = JitterSetting::Off;
            }
            return Ok(());
        };
        match &mut self.jitter {
            JitterSetting::On(kept) => kept.set_max(max),
            JitterSetting::Seeded(seed) => {
                self.jitter = JitterSetting::On(Jitter::new(max, Some(*seed)))
            }
            JitterSetting::Off => self.jitter = JitterSetting::On(Jitter::new(max, None)),
        }
        Ok(())
    }

    /// Starts the jitter's random source again from `seed`; without a
    /// jitter, the seed is kept for the one set next.
    pub(crate) fn set_jitter_seed(&mut self, seed: u64) {
        match &mut self.jitter {
            JitterSetting::On(jitter) => jitter.reseed(seed),
            JitterSetting::Off | JitterSetting::Seeded(_) => {
                self.jitter = JitterSetting::Seeded(seed)
            }
        }
    }

    /// The extra delay of the wait for `slot`: zero without jitter.
    pub(crate) fn jitter_for(&mut self, slot: ScheduledAt) -> Duration {
        match &mut self.jitter {
            JitterSetting::On(jitter) => jitter.delay_for(slot),
            JitterSetting::Off | JitterSetting::Seeded(_) => Duration::ZERO,
        }
    }

    /// The extra delay already chosen for the wait for `slot`, if any.
    pub(crate) fn jitter_chosen_for(&self, slot: ScheduledAt) -> Option<Duration> {
        match &self.jitter {
            JitterSetting::On(jitter) => jitter.chosen_for(slot),
            JitterSetting::Off | JitterSetting::Seeded(_) => None,
        }
    }

    pub(crate) fn wall(&self) -> WallOptions {
        self.wall
            .as_deref()
            .copied()
            .unwrap_or(WallOptions::DEFAULT)
    }

    /// # Errors
    ///
    /// A zero duration; left as it was.
    pub(crate) fn set_wall_clock_check(&mut self, every: Duration) -> Result<(), ConfigError> {
        let every = check_wall_clock_check(every)?;
        self.change_wall(|wall| wall.check_every = every);
        Ok(())
    }

    pub(crate) fn set_grace_period(&mut self, grace: Option<Duration>) {
        self.change_wall(|wall| wall.grace = grace);
    }

    pub(crate) fn set_ambiguous_time(&mut self, choice: AmbiguousTime) {
        self.change_wall(|wall| wall.ambiguous = choice);
    }

    /// Changes the wall-clock options; back at their defaults, they cost
    /// a null pointer again.
    fn change_wall(&mut self, change: impl FnOnce(&mut WallOptions)) {
        let mut wall = self.wall();
        change(&mut wall);
        self.wall = (wall != WallOptions::DEFAULT).then(|| Box::new(wall));
    }
}
