//! What every kind of schedule answers, whatever it is: the contract each
//! kind's file implements (`relative.rs`, `time_of_day.rs`, `cron.rs`,
//! `aligned.rs`), so that [`Schedule`](super::Schedule) only picks the kind
//! and asks it.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::wall::WallOptions;
use super::zone::Zone;

/// A kind of schedule. A kind runs either on the monotonic clock (a
/// period) or on the wall clock (instants); `Schedule` derives the first
/// iteration, the one after, a late one and what a clock jump means from
/// these answers.
pub(crate) trait Kind {
    /// The period on the monotonic clock, for a kind that runs on it (a
    /// relative interval); `None` for a kind that runs on the wall clock.
    fn monotonic_period(&self) -> Option<Duration>;

    /// The earliest instant at or after `now` and strictly after `after`
    /// (the last instant run), for a kind that runs on the wall clock;
    /// `None` when there is none, or for a kind on the monotonic clock.
    fn next_wall_instant(
        &self,
        now: DateTime<Utc>,
        after: Option<DateTime<Utc>>,
        options: &WallOptions,
    ) -> Option<DateTime<Utc>>;

    /// The zone its instants are shown in.
    fn display_zone(&self) -> Zone;

    /// The schedule in words, for a status.
    fn describe(&self) -> String;
}
