//! Where a loop reads the wall clock.
//!
//! Relative intervals run on tokio's monotonic clock (`tokio::time::Instant`,
//! which tokio's paused test clock drives). Times of day also need the wall
//! clock, read through a [`Clock`] so that tests can drive it: see
//! [`testing::VirtualClock`](crate::testing::VirtualClock).

use std::sync::Arc;

use chrono::{DateTime, Utc};

/// A source of wall-clock time.
///
/// ```
/// use chrono::{DateTime, Utc};
/// use tasks_runtime::Clock;
///
/// struct Frozen(DateTime<Utc>);
/// impl Clock for Frozen {
///     fn now(&self) -> DateTime<Utc> {
///         self.0
///     }
/// }
/// let noon: DateTime<Utc> = "2024-01-01T12:00:00Z".parse().unwrap();
/// assert_eq!(Frozen(noon).now(), noon);
/// ```
pub trait Clock: Send + Sync + 'static {
    /// The current wall-clock time.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's wall clock (`chrono::Utc::now`), the default.
///
/// ```
/// use tasks_runtime::{Clock, SystemClock};
/// assert!(SystemClock.now().timestamp() > 1_700_000_000);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

static SYSTEM_CLOCK: SystemClock = SystemClock;

/// A loop's wall clock, taken out of its state: the system's, or a shared
/// one (`set_clock` can replace it between runs).
#[derive(Clone)]
pub(crate) struct ClockRef(pub(crate) Option<Arc<dyn Clock>>);

impl std::ops::Deref for ClockRef {
    type Target = dyn Clock;

    fn deref(&self) -> &(dyn Clock + 'static) {
        match &self.0 {
            Some(clock) => &**clock,
            None => &SYSTEM_CLOCK,
        }
    }
}
