//! Clocks for driving loops deterministically in tests.
//!
//! Run the test on tokio's paused clock (`#[tokio::test(start_paused =
//! true)]`): relative intervals then pass in no real time. Give the loop a
//! [`VirtualClock`] as its wall clock: it reads a start instant plus the
//! paused clock's elapsed time, so times of day pass as fast, and it can
//! be stepped to simulate a clock change or a suspend.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::time::Duration;
//! use tasks_runtime::testing::VirtualClock;
//! use tasks_runtime::{Loop, TimeOfDay};
//!
//! // 2022-03-12 12:00 UTC: New York springs forward the next night.
//! let clock = VirtualClock::starting_at("2022-03-12T12:00:00Z".parse().unwrap());
//! let nightly = Loop::builder(|()| async {})
//!     .time(TimeOfDay::parse_in("02:30", "America/New_York").unwrap())
//!     .clock(clock.clone())
//!     .build()
//!     .unwrap();
//! nightly.start(()).unwrap();
//! tokio::time::sleep(Duration::from_secs(1)).await;
//! // 02:30 does not exist on 2022-03-13: it runs at 03:30 EDT (07:30 UTC).
//! assert_eq!(nightly.next_iteration().unwrap().to_rfc3339(), "2022-03-13T07:30:00+00:00");
//! nightly.cancel();
//! # }
//! ```

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, TimeDelta, Utc};
use tokio::time::Instant;

use crate::clock::Clock;

/// A wall clock that advances with tokio's (paused) clock from a chosen
/// start, and can be stepped.
///
/// [`jump`](VirtualClock::jump) moves the wall clock alone, as when the
/// system clock is set or the machine resumes from a suspend (the monotonic
/// clock does not count suspended time).
#[derive(Debug)]
pub struct VirtualClock {
    anchor: Instant,
    start: DateTime<Utc>,
    offset: Mutex<TimeDelta>,
}

impl VirtualClock {
    /// A clock that reads `start` now, and advances with tokio's clock.
    /// Create it inside the runtime whose clock should drive it.
    pub fn starting_at(start: DateTime<Utc>) -> Arc<Self> {
        Arc::new(Self {
            anchor: Instant::now(),
            start,
            offset: Mutex::new(TimeDelta::zero()),
        })
    }

    /// Steps the wall clock by `by` (negative: backwards), leaving the
    /// monotonic clock alone.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use chrono::TimeDelta;
    /// use tasks_runtime::{testing::VirtualClock, Clock};
    ///
    /// let clock = VirtualClock::starting_at("2024-01-01T00:00:00Z".parse().unwrap());
    /// clock.jump(TimeDelta::hours(-1));
    /// assert_eq!(clock.now().to_rfc3339(), "2023-12-31T23:00:00+00:00");
    /// # }
    /// ```
    pub fn jump(&self, by: TimeDelta) {
        let mut offset = self.offset.lock().unwrap_or_else(PoisonError::into_inner);
        *offset += by;
    }

    /// Sets the wall clock to read `at` now.
    pub fn set(&self, at: DateTime<Utc>) {
        let now = self.now();
        self.jump(at - now);
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = TimeDelta::from_std(self.anchor.elapsed()).unwrap_or(TimeDelta::MAX);
        let offset = *self.offset.lock().unwrap_or_else(PoisonError::into_inner);
        self.start + elapsed + offset
    }
}
