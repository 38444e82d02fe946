//! Fencing tokens as the stores keep them: a signed 64-bit integer (SQL's
//! `bigint`, SQLite's `INTEGER`, Redis's `INCR`).

use tasks_runtime::cluster::{Fence, StoreError};

use crate::shared::secret::Message;

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
}
