//! Which errors a loop retries: the reconnect filter.

use std::any::TypeId;
use std::error::Error as StdError;
use std::sync::{Arc, LazyLock};

/// One error type the loop retries.
#[derive(Clone, Copy)]
pub(crate) struct ErrorType {
    id: TypeId,
    name: &'static str,
    matches: fn(&(dyn StdError + 'static)) -> bool,
}

impl ErrorType {
    pub(crate) fn of<T: StdError + 'static>() -> Self {
        let id = TypeId::of::<T>();
        Self {
            id,
            name: std::any::type_name::<T>(),
            matches: if id == TypeId::of::<std::io::Error>() {
                is_io_error
            } else {
                |e| e.is::<T>()
            },
        }
    }
}

/// A held `std::io::Error` also holds tokio's timeout error: a timeout is
/// an I/O error (tokio converts `Elapsed` into `io::ErrorKind::TimedOut`),
/// as Python's `TimeoutError` is an `OSError`. So removing only the timeout
/// type still retries timeouts while `io::Error` is held, as in discord.py.
fn is_io_error(error: &(dyn StdError + 'static)) -> bool {
    error.is::<std::io::Error>() || error.is::<tokio::time::error::Elapsed>()
}

impl std::fmt::Debug for ErrorType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// The error types a loop retries, in the order they were added. Loops
/// share the default list until they change theirs.
#[derive(Clone, Debug)]
pub(crate) struct ErrorFilter {
    types: Arc<Vec<ErrorType>>,
}

impl Default for ErrorFilter {
    /// `std::io::Error` and `tokio::time::error::Elapsed`, the counterparts
    /// of discord.py's `OSError` and `asyncio.TimeoutError`.
    fn default() -> Self {
        static DEFAULT: LazyLock<Arc<Vec<ErrorType>>> = LazyLock::new(|| {
            Arc::new(vec![
                ErrorType::of::<std::io::Error>(),
                ErrorType::of::<tokio::time::error::Elapsed>(),
            ])
        });
        Self {
            types: Arc::clone(&DEFAULT),
        }
    }
}

impl ErrorFilter {
    pub(crate) fn add(&mut self, ty: ErrorType) {
        Arc::make_mut(&mut self.types).push(ty);
    }

    /// Removes every copy of `T`; whether there was one.
    pub(crate) fn remove(&mut self, id: TypeId) -> bool {
        if !self.types.iter().any(|t| t.id == id) {
            return false;
        }
        Arc::make_mut(&mut self.types).retain(|t| t.id != id);
        true
    }

    pub(crate) fn clear(&mut self) {
        self.types = Arc::default();
    }

    pub(crate) fn names(&self) -> Vec<&'static str> {
        self.types.iter().map(|t| t.name).collect()
    }

    /// Whether `error`, or any error in its `source()` chain, is of a held
    /// type.
    pub(crate) fn handles(&self, error: &(dyn StdError + 'static)) -> bool {
        let mut current = Some(error);
        while let Some(e) = current {
            if self.types.iter().any(|t| (t.matches)(e)) {
                return true;
            }
            current = e.source();
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("wrapped")]
    struct Wrapper(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("custom")]
    struct Custom;

    #[test]
    fn held_types_match_through_the_source_chain() {
        let filter = ErrorFilter::default();
        assert!(filter.handles(&std::io::Error::other("x")));
        assert!(filter.handles(&Wrapper(std::io::Error::other("x"))));
        assert!(!filter.handles(&Custom));
    }

    #[tokio::test(start_paused = true)]
    async fn a_held_io_error_also_holds_timeouts_like_python_os_error() {
        let elapsed = tokio::time::timeout(std::time::Duration::ZERO, std::future::pending::<()>())
            .await
            .unwrap_err();
        let mut filter = ErrorFilter::default();
        assert!(filter.remove(TypeId::of::<tokio::time::error::Elapsed>()));
        assert!(filter.handles(&elapsed));
        filter.clear();
        filter.add(ErrorType::of::<tokio::time::error::Elapsed>());
        assert!(filter.handles(&elapsed));
        assert!(!filter.handles(&std::io::Error::other("x")));
    }

    #[test]
    fn remove_drops_every_copy_and_says_whether_there_was_one() {
        let mut filter = ErrorFilter::default();
        filter.add(ErrorType::of::<Custom>());
        filter.add(ErrorType::of::<Custom>());
        assert!(filter.handles(&Custom));
        assert!(filter.remove(TypeId::of::<Custom>()));
        assert!(!filter.handles(&Custom));
        assert!(!filter.remove(TypeId::of::<Custom>()));
        filter.clear();
        assert!(filter.names().is_empty());
    }
}
