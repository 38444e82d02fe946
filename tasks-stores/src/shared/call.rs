//! Running a call against a server store (PostgreSQL, Redis): within the
//! store's deadline, and once more on another connection when that is safe.
//! Each store says what an attempt is (a connection, the call, and how it
//! failed); this says when to try again and when to give up.

use std::future::Future;
use std::time::Duration;

use tasks_runtime::cluster::StoreError;

use crate::shared::secret::Message;

/// How many times a call is tried at most.
const TRIES: u32 = 2;

/// When a call is tried again on another connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Also when the connection was lost during the call: the call changes
    /// nothing the second time that the first did not (a finish, a read, a
    /// renewal, a release).
    OnConnectionLoss,
    /// Only when nothing was sent: a claim or a new term, which must not be
    /// made twice.
    BeforeSending,
}

/// How an attempt failed, as far as trying again goes.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Nothing reached the store (the connection was refused).
    Unsent(StoreError),
    /// The connection was lost during the call: the store may have acted.
    Lost(StoreError),
    /// Another attempt would fail as well, or must not be made.
    Final(StoreError),
}

impl Retry {
    /// Whether an attempt that failed so is tried again.
    fn allows(self, failure: &Failure) -> bool {
        match failure {
            Failure::Unsent(_) => true,
            Failure::Lost(_) => self == Retry::OnConnectionLoss,
            Failure::Final(_) => false,
        }
    }
}

impl Failure {
    fn into_error(self) -> StoreError {
        match self {
            Failure::Unsent(error) | Failure::Lost(error) | Failure::Final(error) => error,
        }
    }
}

/// Runs `attempt` until it succeeds, or fails in a way `retry` does not try
/// again, at most [`TRIES`] times, all within `timeout`.
///
/// # Errors
///
/// The last attempt's error, or
/// [`Unavailable`](tasks_runtime::cluster::StoreErrorKind::Unavailable)
/// once `timeout` has passed (`"{store}, {what}: no answer within ..."`).
pub(crate) async fn run<T, F, Fut>(
    store: &str,
    what: &str,
    timeout: Duration,
    retry: Retry,
    mut attempt: F,
) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let attempts = async {
        let mut tries = 0;
        loop {
            tries += 1;
            match attempt().await {
                Ok(value) => return Ok(value),
                Err(failure) if tries < TRIES && retry.allows(&failure) => {}
                Err(failure) => return Err(failure.into_error()),
            }
        }
    };
    match tokio::time::timeout(timeout, attempts).await {
        Ok(result) => result,
        Err(_) => Err(StoreError::unavailable(Message(format!(
            "{store}, {what}: no answer within {timeout:?}"
        )))),
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use tasks_runtime::cluster::StoreErrorKind;

    use super::*;

    /// How many attempts a call makes whose attempts all fail as `fail`.
    async fn attempts(retry: Retry, fail: fn(StoreError) -> Failure) -> u32 {
        let made = Cell::new(0);
        let result: Result<(), _> = run("Test", "calling", Duration::from_secs(5), retry, || {
            made.set(made.get() + 1);
            async move { Err(fail(StoreError::unavailable("down"))) }
        })
        .await;
        assert!(result.is_err());
        made.get()
    }

    #[tokio::test]
    async fn tries_again_once_when_it_is_safe() {
        assert_eq!(attempts(Retry::BeforeSending, Failure::Unsent).await, 2);
        assert_eq!(attempts(Retry::BeforeSending, Failure::Lost).await, 1);
        assert_eq!(attempts(Retry::OnConnectionLoss, Failure::Unsent).await, 2);
        assert_eq!(attempts(Retry::OnConnectionLoss, Failure::Lost).await, 2);
        assert_eq!(attempts(Retry::OnConnectionLoss, Failure::Final).await, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_at_the_deadline() {
        let error = run(
            "Test",
            "calling",
            Duration::from_secs(2),
            Retry::OnConnectionLoss,
            std::future::pending::<Result<(), Failure>>,
        )
        .await
        .unwrap_err();
        assert_eq!(error.kind(), StoreErrorKind::Unavailable);
        assert!(
            error
                .to_string()
                .ends_with("Test, calling: no answer within 2s"),
            "{error}"
        );
    }
}
