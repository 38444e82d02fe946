//! Which errors a loop retries: the retried error types (discord.py's
//! "exception types"), matched through an error's `source()` chain.

use std::any::TypeId;
use std::error::Error as StdError;
use std::sync::{Arc, LazyLock};

use crate::error::IterationTimeout;

/// One error type the loop retries.
#[derive(Clone, Copy)]
pub(crate) struct RetriedType {
    id: TypeId,
    name: &'static str,
    matches: fn(&(dyn StdError + 'static)) -> bool,
}

impl RetriedType {
    pub(crate) fn of<T: StdError + 'static>() -> Self {
        let id = TypeId::of::<T>();
        Self {
            id,
            name: std::any::type_name::<T>(),
            matches: if id == TypeId::of::<std::io::Error>() {
                is_io_error
            } else if id == TypeId::of::<tokio::time::error::Elapsed>() {
                is_timeout
            } else {
                |e| e.is::<T>()
            },
        }
    }
}

/// Retrying `std::io::Error` also retries tokio's timeout error: a timeout is
/// an I/O error (tokio converts `Elapsed` into `io::ErrorKind::TimedOut`),
/// as Python's `TimeoutError` is an `OSError`. So removing only the timeout
/// type still retries timeouts while `io::Error` is retried, as in discord.py.
fn is_io_error(error: &(dyn StdError + 'static)) -> bool {
    error.is::<std::io::Error>() || is_timeout(error)
}

/// A loop's own timeout is retried wherever tokio's timeout error is.
fn is_timeout(error: &(dyn StdError + 'static)) -> bool {
    error.is::<tokio::time::error::Elapsed>() || error.is::<IterationTimeout>()
}

impl std::fmt::Debug for RetriedType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// The error types a loop retries, in the order they were added. Loops
/// share the default list until they change theirs.
#[derive(Clone, Debug)]
pub(crate) struct RetryFilter {
    types: Arc<Vec<RetriedType>>,
}

impl Default for RetryFilter {
    /// `std::io::Error` and `tokio::time::error::Elapsed`, the counterparts
    /// of discord.py's `OSError` and `asyncio.TimeoutError`.
    fn default() -> Self {
        static DEFAULT: LazyLock<Arc<Vec<RetriedType>>> = LazyLock::new(|| {
            Arc::new(vec![
                RetriedType::of::<std::io::Error>(),
                RetriedType::of::<tokio::time::error::Elapsed>(),
            ])
        });
        Self {
            types: Arc::clone(&DEFAULT),
        }
    }
}

impl RetryFilter {
    /// The default list, shared by every loop that has not changed its own.
    pub(crate) fn default_ref() -> &'static RetryFilter {
        static DEFAULT: LazyLock<RetryFilter> = LazyLock::new(RetryFilter::default);
        &DEFAULT
    }

    /// Whether this is the default list, never changed.
    pub(crate) fn is_default(&self) -> bool {
        Arc::ptr_eq(&self.types, &Self::default_ref().types)
    }

    pub(crate) fn add(&mut self, ty: RetriedType) {
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

    /// Whether `error`, or an error in its `source()` chain, is of a
    /// retried type. The chain is user code: it is walked for at most
    /// [`MAX_SOURCES`] links (a chain that loops back on itself never ends),
    /// and an error whose `source()` panics is not retried.
    pub(crate) fn retries(&self, error: &(dyn StdError + 'static)) -> bool {
        let walk = || {
            let mut current = Some(error);
            for _ in 0..=MAX_SOURCES {
                let Some(e) = current else { return false };
                if self.types.iter().any(|t| (t.matches)(e)) {
                    return true;
                }
                current = e.source();
            }
            false
        };
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(walk)).unwrap_or(false)
    }
}

/// How many links of an error's `source()` chain the retry filter looks
/// at, past the error itself.
pub(crate) const MAX_SOURCES: usize = 64;

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
    fn retried_types_match_through_the_source_chain() {
        let filter = RetryFilter::default();
        assert!(filter.retries(&std::io::Error::other("x")));
        assert!(filter.retries(&Wrapper(std::io::Error::other("x"))));
        assert!(!filter.retries(&Custom));
    }

    #[tokio::test(start_paused = true)]
    async fn retrying_io_errors_also_retries_timeouts_like_python_os_error() {
        let elapsed = tokio::time::timeout(std::time::Duration::ZERO, std::future::pending::<()>())
            .await
            .unwrap_err();
        let mut filter = RetryFilter::default();
        assert!(filter.remove(TypeId::of::<tokio::time::error::Elapsed>()));
        assert!(filter.retries(&elapsed));
        filter.clear();
        filter.add(RetriedType::of::<tokio::time::error::Elapsed>());
        assert!(filter.retries(&elapsed));
        assert!(!filter.retries(&std::io::Error::other("x")));
    }

    #[derive(Debug, thiserror::Error)]
    #[error("link")]
    struct Chain(#[source] Option<Box<Chain>>, bool);

    impl Chain {
        /// `depth` links in front of a custom error... or an I/O one.
        fn of(depth: usize) -> Chain {
            (0..depth).fold(Chain(None, true), |inner, _| {
                Chain(Some(Box::new(inner)), false)
            })
        }
    }

    #[test]
    fn the_chain_is_walked_for_a_bounded_number_of_links() {
        let mut filter = RetryFilter::default();
        filter.add(RetriedType::of::<Custom>());
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] Custom);
        assert!(filter.retries(&Outer(Custom)));
        // A chain of links whose innermost is not retried: false, and
        // bounded whatever its length.
        assert!(!filter.retries(&Chain::of(10_000)));
    }

    #[test]
    fn remove_drops_every_copy_and_says_whether_there_was_one() {
        let mut filter = RetryFilter::default();
        filter.add(RetriedType::of::<Custom>());
        filter.add(RetriedType::of::<Custom>());
        assert!(filter.retries(&Custom));
        assert!(filter.remove(TypeId::of::<Custom>()));
        assert!(!filter.retries(&Custom));
        assert!(!filter.remove(TypeId::of::<Custom>()));
        filter.clear();
        assert!(filter.names().is_empty());
    }
}
