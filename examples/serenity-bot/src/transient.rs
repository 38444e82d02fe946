//! Which of serenity's errors are worth another try.
//!
//! A loop retries by error *type* (`add_exception_type::<T>()`), looking at
//! the error and every error in its `source()` chain. `serenity::Error` is
//! one type for every failure: a 429 and a 403 are both
//! `serenity::Error::Http`. So the body sorts its errors with [`classify`]:
//! those worth a retry are wrapped in [`Transient`], the type the loops
//! retry, and the others stay as they are and end the run.

use serenity::all::{HttpError, StatusCode};
use tasks::BoxError;

/// A serenity error that is likely to pass: a rate limit, a 5xx from
/// Discord (a 502 or 503 while Discord's side hiccups), a request that
/// timed out or could not connect.
#[derive(Debug, thiserror::Error)]
#[error("{0} (transient, retried)")]
pub struct Transient(#[source] pub serenity::Error);

/// Whether `error` is worth another try.
///
/// - `429 Too Many Requests` and `5xx`: yes. (serenity's rate limiter
///   already waits out a 429 that carries `Retry-After`; one that escapes
///   it is retried here with the loop's backoff.)
/// - a request that timed out or could not connect, an I/O error: yes.
/// - any other status (401 bad token, 403 missing permission, 404 unknown
///   channel), a message too long, a decoding error: no, the same request
///   fails the same way again.
pub fn is_transient(error: &serenity::Error) -> bool {
    match error {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(response)) => {
            let status = response.status_code;
            status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
        }
        serenity::Error::Http(HttpError::Request(request)) => {
            request.is_timeout() || request.is_connect()
        }
        serenity::Error::Io(_) => true,
        _ => false,
    }
}

/// Wraps a transient error in [`Transient`], and boxes the others as they
/// are: use it as `.map_err(classify)?` in a loop body.
pub fn classify(error: serenity::Error) -> BoxError {
    if is_transient(&error) {
        Box::new(Transient(error))
    } else {
        Box::new(error)
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use serenity::all::{ChannelId, HttpBuilder};
    use tasks::{FixedBackoff, Loop, RunOutcome};

    use super::*;

    fn reset() -> serenity::Error {
        serenity::Error::Io(io::Error::from(io::ErrorKind::ConnectionReset))
    }

    #[test]
    fn io_errors_are_transient_and_the_others_are_not() {
        assert!(is_transient(&reset()));
        assert!(!is_transient(&serenity::Error::Other("bad payload")));
        assert!(!is_transient(&serenity::Error::Http(
            HttpError::ApplicationIdMissing
        )));
    }

    #[test]
    fn classify_wraps_only_the_transient_ones() {
        assert!(classify(reset()).is::<Transient>());
        assert!(classify(serenity::Error::Other("bad payload")).is::<serenity::Error>());
    }

    #[tokio::test]
    async fn statuses_worth_a_retry_are_transient() {
        let expected = [
            (429, true),
            (500, true),
            (502, true),
            (503, true),
            (504, true),
            (400, false),
            (401, false),
            (403, false),
            (404, false),
        ];
        let statuses: Vec<u16> = expected.iter().map(|(status, _)| *status).collect();
        let http = crate::fake_discord::http_answering(&statuses).await;
        for (status, transient) in expected {
            let error = ChannelId::new(1).say(&http, "hello").await.unwrap_err();
            assert_eq!(is_transient(&error), transient, "status {status}: {error}");
        }
    }

    #[tokio::test]
    async fn a_refused_connection_is_transient() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let http = HttpBuilder::new("a-test-token")
            .proxy(format!("http://127.0.0.1:{port}"))
            .ratelimiter_disabled(true)
            .build();
        let error = ChannelId::new(1).say(&http, "hello").await.unwrap_err();
        assert!(is_transient(&error), "{error}");
    }

    #[tokio::test]
    async fn a_loop_retries_transient_errors_and_ends_on_the_others() {
        let _turn = crate::shutdown::LOOPS_IN_TESTS.lock().await;
        let calls = Arc::new(AtomicU32::new(0));
        let post = Loop::builder(|calls: Arc<AtomicU32>| async move {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 => Err(classify(reset())),
                1 => Ok(()),
                _ => Err(classify(serenity::Error::Other("bad payload"))),
            }
        })
        .backoff(|| FixedBackoff::new(Duration::from_millis(1)))
        .build()
        .unwrap();
        post.clear_exception_types()
            .add_exception_type::<Transient>();

        let outcome = post.start(Arc::clone(&calls)).unwrap().await;
        assert!(matches!(outcome, RunOutcome::Failed(ref error) if error.is::<serenity::Error>()));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }
}
