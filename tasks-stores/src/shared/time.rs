//! Slots and durations as the stores keep them: a slot exactly, as
//! nanoseconds since the Unix epoch; a duration as whole microseconds or
//! milliseconds, at most [`LONGEST`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use tasks_runtime::cluster::rules::LONGEST;
use tasks_runtime::cluster::StoreError;

use crate::shared::secret::Message;

/// The slot as nanoseconds since the Unix epoch.
///
/// # Errors
///
/// [`Invalid`](tasks_runtime::cluster::StoreErrorKind::Invalid) for a slot
/// before 1970 or after 2262-04-11, which the stores do not keep.
pub(crate) fn slot_nanos(slot: DateTime<Utc>) -> Result<i64, StoreError> {
    slot.timestamp_nanos_opt()
        .filter(|nanos| *nanos >= 0)
        .ok_or_else(|| {
            StoreError::invalid(Message(format!(
                "the slot {slot} is outside the range the stores keep (1970 to 2262)"
            )))
        })
}

/// The slot `nanos` nanoseconds after the Unix epoch.
pub(crate) fn slot_from_nanos(nanos: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(nanos)
}

/// The time `millis` milliseconds after the Unix epoch, if it is one.
pub(crate) fn time_from_millis(millis: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(millis)
}

/// `time` in milliseconds since the Unix epoch, rounded up.
pub(crate) fn millis_of(time: DateTime<Utc>) -> i64 {
    let part = time.timestamp_subsec_nanos() % 1_000_000;
    time.timestamp_millis().saturating_add(i64::from(part > 0))
}

/// The time `micros` microseconds after the Unix epoch, if it is one.
pub(crate) fn time_from_micros(micros: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros)
}

/// `duration` in nanoseconds, at most [`LONGEST`].
pub(crate) fn nanos(duration: Duration) -> i64 {
    whole(duration.min(LONGEST).as_nanos())
}

/// `duration` in microseconds, rounded up, at most [`LONGEST`].
pub(crate) fn micros(duration: Duration) -> i64 {
    whole(duration.min(LONGEST).as_nanos().div_ceil(1_000))
}

/// `duration` in milliseconds, rounded up, at most [`LONGEST`].
pub(crate) fn millis(duration: Duration) -> i64 {
    whole(duration.min(LONGEST).as_nanos().div_ceil(1_000_000))
}

/// A count of at most [`LONGEST`] in nanoseconds, which fits.
fn whole(count: u128) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_a_slot_to_the_nanosecond() {
        let slot: DateTime<Utc> = "2026-12-02T09:00:00.123456789Z".parse().unwrap();
        let nanos = slot_nanos(slot).unwrap();
        assert_eq!(slot_from_nanos(nanos), slot);
    }

    #[test]
    fn refuses_slots_outside_the_range() {
        let before: DateTime<Utc> = "1969-12-31T23:59:59Z".parse().unwrap();
        let after: DateTime<Utc> = "2263-01-01T00:00:00Z".parse().unwrap();
        assert!(slot_nanos(before).is_err());
        assert!(slot_nanos(after).is_err());
        assert!(slot_nanos(DateTime::UNIX_EPOCH).is_ok());
    }

    #[test]
    fn rounds_durations_up_and_cuts_them_to_the_longest() {
        assert_eq!(millis(Duration::from_micros(1500)), 2);
        assert_eq!(millis(Duration::from_millis(300)), 300);
        assert_eq!(micros(Duration::from_nanos(1)), 1);
        assert_eq!(nanos(Duration::MAX), nanos(LONGEST));
    }

    #[test]
    fn reads_times_in_milliseconds_rounded_up() {
        let time: DateTime<Utc> = "2026-12-02T09:00:00.001000001Z".parse().unwrap();
        assert_eq!(millis_of(time), 1_796_202_000_002);
        let whole = time_from_millis(1_796_202_000_001).unwrap();
        assert_eq!(millis_of(whole), 1_796_202_000_001);
    }
}
