//! Jitter: a random extra delay added to each wait, so that a fleet of
//! processes on the same schedule does not act at the same instant. The
//! schedule itself does not move: the next instant is computed from the
//! unjittered one, so the delays never add up to a drift.

use std::time::Duration;

use super::scheduled::ScheduledAt;

/// A loop's jitter: the longest extra delay, the random source, and the
/// delay chosen for the instant being waited for.
pub(crate) struct Jitter {
    max: Duration,
    rng: fastrand::Rng,
    /// The instant a delay was chosen for, and that delay: a wait that
    /// starts again for the same instant (after `change_interval`, say)
    /// keeps it, and `next_iteration` reports it.
    chosen: Option<(ScheduledAt, Duration)>,
}

impl Jitter {
    /// Up to `max`, from a random source seeded with `seed` (reproducible
    /// delays, for tests) or from fastrand's global generator.
    pub(crate) fn new(max: Duration, seed: Option<u64>) -> Self {
        Self {
            max,
            rng: seed.map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed),
            chosen: None,
        }
    }

    pub(crate) fn max(&self) -> Duration {
        self.max
    }

    /// A new longest delay; the random source goes on.
    pub(crate) fn set_max(&mut self, max: Duration) {
        self.max = max;
        self.chosen = None;
    }

    /// Starts the random source again from `seed`.
    pub(crate) fn reseed(&mut self, seed: u64) {
        self.rng.seed(seed);
        self.chosen = None;
    }

    /// The extra delay of the wait for `slot`, in `[0, max]`: drawn at the
    /// first wait for it, the same at every later one.
    pub(crate) fn delay_for(&mut self, slot: ScheduledAt) -> Duration {
        match self.chosen {
            Some((chosen_for, delay)) if chosen_for == slot => delay,
            _ => {
                let max = u64::try_from(self.max.as_nanos()).unwrap_or(u64::MAX);
                let delay = Duration::from_nanos(self.rng.u64(0..=max));
                self.chosen = Some((slot, delay));
                delay
            }
        }
    }

    /// The delay already chosen for `slot`, if any.
    pub(crate) fn chosen_for(&self, slot: ScheduledAt) -> Option<Duration> {
        self.chosen
            .filter(|(chosen_for, _)| *chosen_for == slot)
            .map(|(_, delay)| delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use tokio::time::Instant;

    #[test]
    fn a_seed_repeats_its_delays_within_the_bounds() {
        let max = Duration::from_secs(5);
        let slots: Vec<ScheduledAt> = (0..1000)
            .map(|k| ScheduledAt::new(Utc::now(), Instant::now()).plus(Duration::from_secs(k)))
            .collect();
        let delays = |seed| {
            let mut jitter = Jitter::new(max, Some(seed));
            slots
                .iter()
                .map(|s| jitter.delay_for(*s))
                .collect::<Vec<_>>()
        };
        let first = delays(7);
        assert_eq!(first, delays(7));
        assert_ne!(first, delays(8));
        assert!(first.iter().all(|d| *d <= max));
        assert!(first.iter().any(|d| *d > max / 2) && first.iter().any(|d| *d < max / 2));
    }

    #[test]
    fn the_same_slot_keeps_its_delay() {
        let mut jitter = Jitter::new(Duration::from_secs(1), Some(1));
        let slot = ScheduledAt::new(Utc::now(), Instant::now());
        let delay = jitter.delay_for(slot);
        assert_eq!(jitter.delay_for(slot), delay);
        assert_eq!(jitter.chosen_for(slot), Some(delay));
        assert_eq!(jitter.chosen_for(slot.plus(Duration::from_secs(1))), None);
    }
}
