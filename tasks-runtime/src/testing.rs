//! Clocks for driving loops deterministically in tests: through a
//! daylight-saving change, a suspend or a clock step, in milliseconds of
//! real time.
//!
//! A loop reads two clocks:
//!
//! - the **monotonic** clock, tokio's (`tokio::time::Instant`), for relative
//!   intervals, retries and the length of every sleep. Run the test on
//!   tokio's paused clock (`#[tokio::test(start_paused = true)]`): whenever
//!   every task is asleep, time jumps to the next timer, so hours pass at
//!   once, in order;
//! - the **wall** clock, a [`Clock`], for times of day. Give the loop a
//!   [`VirtualClock`] with [`LoopBuilder::clock`]: it reads a chosen start
//!   instant plus the paused clock's elapsed time, so times of day pass as
//!   fast, and it can be stepped with [`jump`](VirtualClock::jump),
//!   [`set`](VirtualClock::set) or [`suspend`](VirtualClock::suspend) to
//!   simulate a clock change or a suspend (the monotonic clock does not
//!   move).
//!
//! A times-of-day loop re-reads the wall clock at least every
//! [`wall_clock_check`](crate::LoopBuilder::wall_clock_check) (60 s by default), so
//! it notices a step within that much (paused) time.
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
//!
//! A whole test, recording when the body ran (on the wall clock) through a
//! suspend that swallowed a listed time:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//!
//! use tasks_runtime::testing::VirtualClock;
//! use tasks_runtime::{Loop, TimeOfDay};
//!
//! let clock = VirtualClock::starting_at("2024-01-01T07:00:00Z".parse().unwrap());
//! let ran = Arc::new(Mutex::new(Vec::new()));
//! let report = Loop::builder({
//!     let (clock, ran) = (clock.clone(), ran.clone());
//!     move |()| {
//!         ran.lock().unwrap().push(clock.now().to_rfc3339());
//!         async {}
//!     }
//! })
//! .times(["08:00", "12:00"].map(|t| TimeOfDay::parse(t).unwrap()))
//! .clock(clock.clone())
//! .build()
//! .unwrap();
//! report.start(()).unwrap();
//!
//! tokio::time::sleep(Duration::from_secs(1800)).await; // 07:30
//! clock.suspend(Duration::from_secs(3600)); // asleep until 08:30: 08:00 is skipped
//! tokio::time::sleep(Duration::from_secs(6 * 3600)).await; // 14:30
//! assert_eq!(*ran.lock().unwrap(), ["2024-01-01T12:00:00+00:00"]);
//! report.cancel();
//! # }
//! ```
//!
//! [`LoopBuilder::clock`]: crate::LoopBuilder::clock

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::time::Instant;

use crate::clock::Clock;

/// Runs a [`Store`](crate::cluster::Store) through the contract written on
/// that trait, under loop names that begin with `prefix` (make it unique per
/// run against a shared store), and returns the first broken rule.
///
/// `now` reads the store's clock, or one within a few milliseconds of it:
/// slots are placed around it, and every token is held to at least the
/// store's time in microseconds (give or take a second). The check sleeps on tokio's clock to let its 300 ms leases expire: a
/// [`MemoryStore`](crate::cluster::MemoryStore) on a [`VirtualClock`] is
/// checked in no time on tokio's paused clock, a real store in a few
/// seconds.
///
/// # Errors
///
/// The rule the store broke, in words, or the first error it returned.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use tasks_runtime::cluster::MemoryStore;
/// use tasks_runtime::testing::{check_store, VirtualClock};
///
/// let clock = VirtualClock::starting_at("2026-01-01T00:00:00Z".parse().unwrap());
/// let store = MemoryStore::with_clock(clock.clone());
/// check_store(&store, "doc", &|| clock.now()).await.unwrap();
/// # }
/// ```
pub async fn check_store(
    store: &dyn crate::cluster::Store,
    prefix: &str,
    now: &(dyn Fn() -> DateTime<Utc> + Sync),
) -> Result<(), String> {
    crate::cluster::check_store(store, prefix, now).await
}

/// A wall clock that advances with tokio's (paused) clock from a chosen
/// start, and can be stepped.
///
/// It reads `start + (tokio's time elapsed since it was made) + steps`.
/// [`jump`](VirtualClock::jump), [`set`](VirtualClock::set) and
/// [`suspend`](VirtualClock::suspend) move the wall clock alone, as when the
/// system clock is set or the machine resumes from a suspend (the monotonic
/// clock does not count suspended time).
///
/// Share it as an `Arc`: one handle for the loop
/// ([`LoopBuilder::clock`](crate::LoopBuilder::clock)), one for the test.
#[derive(Debug)]
pub struct VirtualClock {
    anchor: Instant,
    start: DateTime<Utc>,
    offset: Mutex<TimeDelta>,
}

impl VirtualClock {
    /// A clock that reads `start` now, and advances with tokio's clock.
    /// Create it inside the runtime whose clock should drive it (outside a
    /// paused runtime it follows real time).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use tasks_runtime::testing::VirtualClock;
    ///
    /// let clock = VirtualClock::starting_at("2024-01-01T00:00:00Z".parse().unwrap());
    /// tokio::time::sleep(std::time::Duration::from_secs(90)).await;
    /// assert_eq!(clock.now().to_rfc3339(), "2024-01-01T00:01:30+00:00");
    /// # }
    /// ```
    pub fn starting_at(start: DateTime<Utc>) -> Arc<Self> {
        Arc::new(Self {
            anchor: Instant::now(),
            start,
            offset: Mutex::new(TimeDelta::zero()),
        })
    }

    /// What the wall clock reads now (the same as [`Clock::now`], without
    /// importing the trait).
    pub fn now(&self) -> DateTime<Utc> {
        let offset = *self.offset.lock().unwrap_or_else(PoisonError::into_inner);
        // Past either end of chrono's dates, it reads that end.
        let saturate = |by: TimeDelta| {
            if by < TimeDelta::zero() {
                DateTime::<Utc>::MIN_UTC
            } else {
                DateTime::<Utc>::MAX_UTC
            }
        };
        self.running()
            .checked_add_signed(offset)
            .unwrap_or_else(|| saturate(offset))
    }

    /// The start plus the time tokio's clock has run since, without the
    /// steps.
    fn running(&self) -> DateTime<Utc> {
        let elapsed = TimeDelta::from_std(self.anchor.elapsed()).unwrap_or(TimeDelta::MAX);
        self.start
            .checked_add_signed(elapsed)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// Steps the wall clock by `by` (negative: backwards), leaving the
    /// monotonic clock alone, as `date -s` or an NTP step does. Past either
    /// end of chrono's dates it reads that end.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use chrono::TimeDelta;
    /// use tasks_runtime::testing::VirtualClock;
    ///
    /// let clock = VirtualClock::starting_at("2024-01-01T00:00:00Z".parse().unwrap());
    /// clock.jump(TimeDelta::hours(-1));
    /// assert_eq!(clock.now().to_rfc3339(), "2023-12-31T23:00:00+00:00");
    /// # }
    /// ```
    pub fn jump(&self, by: TimeDelta) {
        let mut offset = self.offset.lock().unwrap_or_else(PoisonError::into_inner);
        *offset = offset
            .checked_add(&by)
            .unwrap_or(if by < TimeDelta::zero() {
                TimeDelta::MIN
            } else {
                TimeDelta::MAX
            });
    }

    /// Sets the wall clock to read `at` now.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use tasks_runtime::testing::VirtualClock;
    ///
    /// let clock = VirtualClock::starting_at("2024-01-01T00:00:00Z".parse().unwrap());
    /// clock.set("2024-06-01T12:00:00Z".parse().unwrap());
    /// assert_eq!(clock.now().to_rfc3339(), "2024-06-01T12:00:00+00:00");
    /// # }
    /// ```
    pub fn set(&self, at: DateTime<Utc>) {
        let mut offset = self.offset.lock().unwrap_or_else(PoisonError::into_inner);
        *offset = at - self.running();
    }

    /// Simulates the machine waking from a suspend that lasted `duration`:
    /// the wall clock moves on by `duration` at once, the monotonic clock
    /// (which does not count suspended time) does not. The same as a
    /// forward [`jump`](VirtualClock::jump).
    ///
    /// Call it while the loop sleeps: its sleep ends when the monotonic
    /// clock says so, and then it finds the wall clock far ahead.
    pub fn suspend(&self, duration: Duration) {
        self.jump(TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX));
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> DateTime<Utc> {
        VirtualClock::now(self)
    }
}
