//! How long a loop waits before retrying a body whose error it handles.

use std::time::Duration;

use tokio::time::Instant;

/// A retry delay policy. The loop makes a fresh one for each run (each
/// `start`) when that run first retries an error (a run that never fails
/// makes none), asks it for a [`delay`](Backoff::delay) after each handled
/// error, and [`reset`](Backoff::reset)s it after each successful iteration.
///
/// ```
/// use std::time::Duration;
/// use tasks_runtime::Backoff;
///
/// /// Waits one second more after each failure in a row.
/// struct Linear(u32);
/// impl Backoff for Linear {
///     fn delay(&mut self) -> Duration {
///         self.0 += 1;
///         Duration::from_secs(self.0.into())
///     }
///     fn reset(&mut self) {
///         self.0 = 0;
///     }
/// }
/// let mut linear = Linear(0);
/// assert_eq!(linear.delay(), Duration::from_secs(1));
/// assert_eq!(linear.delay(), Duration::from_secs(2));
/// ```
pub trait Backoff: Send + 'static {
    /// The delay before the next retry.
    fn delay(&mut self) -> Duration;

    /// Called after a successful iteration. The default does nothing.
    fn reset(&mut self) {}
}

/// The same delay before every retry.
///
/// ```
/// use std::time::Duration;
/// use tasks_runtime::{Backoff, FixedBackoff};
///
/// let mut fixed = FixedBackoff::new(Duration::from_millis(50));
/// assert_eq!(fixed.delay(), Duration::from_millis(50));
/// assert_eq!(fixed.delay(), Duration::from_millis(50));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct FixedBackoff {
    delay: Duration,
}

impl FixedBackoff {
    /// Waits `delay` before each retry.
    pub fn new(delay: Duration) -> Self {
        Self { delay }
    }
}

impl Backoff for FixedBackoff {
    fn delay(&mut self) -> Duration {
        self.delay
    }
}

/// discord.py's exponential backoff: the n-th failure in a row waits a
/// random delay in `[0, base·2^min(n, 10)]`, and the exponent starts over
/// when more than `base·2^11` passed since the previous failure.
///
/// Unlike discord.py's loop, `tasks` also calls [`reset`](Backoff::reset)
/// after a successful iteration, so a failure after a success waits at most
/// `2·base` again.
///
/// Time is read from tokio's clock, so the paused test clock drives it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::time::Duration;
/// use tasks_runtime::{Backoff, ExponentialBackoff};
///
/// let mut backoff = ExponentialBackoff::new(Duration::from_secs(1));
/// assert!(backoff.delay() <= Duration::from_secs(2));
/// assert!(backoff.delay() <= Duration::from_secs(4));
/// backoff.reset();
/// assert!(backoff.delay() <= Duration::from_secs(2));
/// # }
/// ```
#[derive(Debug)]
pub struct ExponentialBackoff {
    base: Duration,
    exponent: u32,
    last_invocation: Instant,
    integral: bool,
    rng: fastrand::Rng,
}

impl ExponentialBackoff {
    /// The largest exponent: delays never exceed `base·1024`.
    pub const MAX_EXPONENT: u32 = 10;

    /// A backoff with this base (discord.py's loop uses one second).
    pub fn new(base: Duration) -> Self {
        Self {
            base,
            exponent: 0,
            last_invocation: Instant::now(),
            integral: false,
            rng: fastrand::Rng::new(),
        }
    }

    /// Delays in whole multiples of `base` (`[0, base·2^exp − 1]`), like
    /// discord.py's `integral=True`.
    pub fn integral(mut self) -> Self {
        self.integral = true;
        self
    }

    /// A reproducible sequence of delays, for tests.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.rng = fastrand::Rng::with_seed(seed);
        self
    }

    /// The exponent the last delay used (0 before the first).
    pub fn exponent(&self) -> u32 {
        self.exponent
    }
}

impl Default for ExponentialBackoff {
    fn default() -> Self {
        Self::new(Duration::from_secs(1))
    }
}

impl Backoff for ExponentialBackoff {
    fn delay(&mut self) -> Duration {
        let now = Instant::now();
        let idle = now.saturating_duration_since(self.last_invocation);
        self.last_invocation = now;
        if idle > self.base.saturating_mul(1 << 11) {
            self.exponent = 0;
        }
        self.exponent = (self.exponent + 1).min(Self::MAX_EXPONENT);
        let bound = self.base.saturating_mul(1 << self.exponent);
        if self.integral {
            let steps = 1u64 << self.exponent;
            let step = self.rng.u64(0..steps);
            self.base
                .saturating_mul(u32::try_from(step).unwrap_or(u32::MAX))
        } else {
            // A fraction of the bound; rounding can overshoot a bound near
            // `Duration::MAX`, so fall back to the bound itself.
            Duration::try_from_secs_f64(bound.as_secs_f64() * self.rng.f64())
                .map_or(bound, |d| d.min(bound))
        }
    }

    fn reset(&mut self) {
        self.exponent = 0;
    }
}

/// The backoff of a loop built without one: discord.py's.
pub(crate) fn default_backoff() -> Box<dyn Backoff> {
    Box::new(ExponentialBackoff::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn delays_stay_within_the_exponential_bound() {
        let mut b = ExponentialBackoff::new(Duration::from_secs(1)).with_seed(7);
        for n in 1..=15u32 {
            let d = b.delay();
            assert_eq!(b.exponent(), n.min(10));
            assert!(d <= Duration::from_secs(1 << n.min(10)), "call {n}: {d:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn integral_delays_are_whole_multiples_below_the_bound() {
        let mut b = ExponentialBackoff::new(Duration::from_secs(3))
            .integral()
            .with_seed(1);
        for n in 1..=12u32 {
            let d = b.delay();
            assert_eq!(d.as_secs() % 3, 0);
            assert!(d.as_secs() < 3 * (1 << n.min(10)));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_exponent_starts_over_after_a_long_idle_gap() {
        let mut b = ExponentialBackoff::new(Duration::from_secs(1));
        for _ in 0..5 {
            b.delay();
        }
        assert_eq!(b.exponent(), 5);
        tokio::time::advance(Duration::from_secs(2048)).await;
        b.delay();
        assert_eq!(b.exponent(), 6, "exactly 2048 s does not reset");
        tokio::time::advance(Duration::from_millis(2_048_010)).await;
        b.delay();
        assert_eq!(b.exponent(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn the_reset_threshold_scales_with_the_base() {
        let mut b = ExponentialBackoff::new(Duration::from_secs(2));
        b.delay();
        b.delay();
        tokio::time::advance(Duration::from_secs(4096)).await;
        b.delay();
        assert_eq!(b.exponent(), 3);
        tokio::time::advance(Duration::from_secs(4097)).await;
        b.delay();
        assert_eq!(b.exponent(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_delay_uses_exponent_one_even_after_a_long_wait() {
        let mut b = ExponentialBackoff::new(Duration::from_secs(1));
        tokio::time::advance(Duration::from_secs(5000)).await;
        assert!(b.delay() <= Duration::from_secs(2));
        assert_eq!(b.exponent(), 1);
    }
}
