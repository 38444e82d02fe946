//! Fencing tokens and finished slots as the stores keep them: a token as a
//! signed 64-bit integer (SQL's `bigint`, SQLite's `INTEGER`, Redis's
//! `INCR`), a slot in nanoseconds, an outcome as its text.

use tasks_runtime::cluster::{Fence, FinishedSlot, SlotOutcome, StoreError};

use crate::shared::secret::Message;
use crate::shared::time::slot_from_nanos;

/// A token as the stores keep it; one no row has (`-1`) if it cannot be.
pub(crate) fn fence_value(fence: Fence) -> i64 {
    i64::try_from(fence.get()).unwrap_or(-1)
}

/// The token a store kept as `value`.
///
/// # Errors
///
/// [`Invalid`](tasks_runtime::cluster::StoreErrorKind::Invalid) for a
/// negative value, which no store hands out; the message starts with
/// `context` (the store, and what it was doing).
pub(crate) fn fence_from(context: &str, value: i64) -> Result<Fence, StoreError> {
    u64::try_from(value)
        .map(Fence::new)
        .map_err(|_| StoreError::invalid(Message(format!("{context}: a fencing token of {value}"))))
}

/// The finished slot a store kept as `slot_ns`, `outcome` and `fence`.
///
/// # Errors
///
/// [`Invalid`](tasks_runtime::cluster::StoreErrorKind::Invalid) for an
/// outcome or a token no store writes; the message starts with `context`.
pub(crate) fn finished_slot(
    context: &str,
    slot_ns: i64,
    outcome: &str,
    fence: i64,
) -> Result<FinishedSlot, StoreError> {
    let outcome = SlotOutcome::parse(outcome).ok_or_else(|| {
        StoreError::invalid(Message(format!(
            "{context}: a slot's outcome of {outcome:?}"
        )))
    })?;
    Ok(FinishedSlot {
        slot: slot_from_nanos(slot_ns),
        outcome,
        fence: fence_from(context, fence)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_tokens_as_signed_integers() {
        assert_eq!(fence_value(Fence::new(7)), 7);
        assert_eq!(fence_value(Fence::new(u64::MAX)), -1);
        assert_eq!(fence_from("SQLite", 7).unwrap(), Fence::new(7));
        let error = fence_from("SQLite, claiming a slot", -1).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the store answered something unexpected: \
             SQLite, claiming a slot: a fencing token of -1"
        );
    }

    #[test]
    fn reads_a_finished_slot_and_refuses_an_unknown_outcome() {
        let finished = finished_slot("SQLite", 1_000_000_000, "completed", 3).unwrap();
        assert_eq!(
            finished.slot,
            chrono::DateTime::from_timestamp(1, 0).unwrap()
        );
        assert_eq!(finished.outcome, SlotOutcome::Completed);
        assert_eq!(finished.fence, Fence::new(3));
        let error = finished_slot("SQLite", 0, "skipped", 3).unwrap_err();
        assert!(error
            .to_string()
            .ends_with("SQLite: a slot's outcome of \"skipped\""));
    }
}
