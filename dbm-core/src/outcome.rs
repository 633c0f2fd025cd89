//! What a statement that ran past its time limit, or lost its connection, did: the
//! difference between "cancelled" (the server said so), "finished anyway" and "outcome
//! unknown", which decides whether repeating it is safe.

use std::sync::Arc;
use std::time::Duration;

use crate::connection::Canceller;
use crate::error::{Error, ErrorCode, ErrorKind, Result};

/// A connection failure without the server's word on the statement (an I/O error, not a
/// SQLSTATE such as 57P01 which says the server stopped it).
pub(crate) fn lost_mid_statement(e: &Error) -> bool {
    e.kind() == ErrorKind::Connection && matches!(e.code(), None | Some(ErrorCode::ConnectIo))
}

/// A time limit must be positive: zero is an error, never "no limit" or "cancel at once".
pub(crate) fn check_timeout(timeout: Option<Duration>) -> Result<()> {
    match timeout {
        Some(t) if t.is_zero() => Err(Error::invalid_argument(
            "the timeout must be greater than zero",
        )
        .with_hint("pass a positive duration, or use the method without a timeout for no limit")),
        _ => Ok(()),
    }
}

/// How long to wait for the server to answer a cancellation before giving up on knowing
/// what happened to the statement.
const CANCEL_CONFIRM_WAIT: Duration = Duration::from_secs(5);

/// Runs `fut`; past `timeout`, cancels the statement through `canceller` and waits (at most
/// [`CANCEL_CONFIRM_WAIT`]) for the statement's own answer, so the error says what is known:
/// - the server confirmed the cancellation (the driver reports a cancelled statement as a
///   [`ErrorKind::Timeout`]): the statement did nothing, or its transaction is aborted;
/// - the statement finished anyway: its result is returned (with a warning);
/// - no answer: the outcome is unknown, and the error says so
///   ([`Error::outcome_unknown`]) unless the statement ran inside a transaction, which
///   dropping the connection rolls back.
///
/// Returns the result and whether a cancellation was sent (the connection should then not
/// be reused).
pub(crate) async fn run_with_timeout<T>(
    fut: impl Future<Output = Result<T>>,
    timeout: Option<Duration>,
    canceller: Option<Arc<dyn Canceller>>,
    in_transaction: bool,
) -> (Result<T>, bool) {
    let Some(limit) = timeout else {
        return (fut.await, false);
    };
    let mut fut = std::pin::pin!(fut);
    let first = match tokio::time::timeout(limit, &mut fut).await {
        Ok(result) => return (result, false),
        Err(_) => canceller,
    };
    let ms = limit.as_millis();
    let unknown = || {
        let e = Error::new(
            ErrorKind::Timeout,
            if in_transaction {
                format!(
                    "statement stopped after {ms} ms; the server did not confirm the cancellation, and the transaction was rolled back by closing its connection"
                )
            } else {
                format!(
                    "statement ran past {ms} ms and the server did not confirm its cancellation: it may or may not have completed (outcome unknown)"
                )
            },
        );
        if in_transaction {
            e.with_hint("raise the timeout, or make the statement cheaper (an index, a LIMIT)")
        } else {
            e.with_outcome_unknown().with_hint(
                "check whether it took effect before running it again; raise the timeout, or make the statement cheaper",
            )
        }
    };
    let Some(canceller) = first else {
        return (Err(unknown()), false);
    };
    canceller.cancel().await;
    match tokio::time::timeout(CANCEL_CONFIRM_WAIT, &mut fut).await {
        Ok(Err(e)) if e.kind() == ErrorKind::Timeout && !e.outcome_unknown() => {
            let what = if in_transaction {
                "; the transaction is rolled back"
            } else {
                ", so it did nothing"
            };
            let confirmed = Error::new(
                ErrorKind::Timeout,
                format!("statement cancelled after {ms} ms (the server confirmed the cancellation{what})"),
            )
            .with_hint("raise the timeout, or make the statement cheaper (an index, a LIMIT)");
            let confirmed = match e.code() {
                Some(code) => confirmed.with_code(code.clone()),
                None => confirmed,
            };
            (Err(confirmed.with_source(e)), true)
        }
        Ok(Ok(value)) => {
            tracing::warn!(
                limit_ms = ms as u64,
                "the statement completed after its time limit, before the cancellation reached it"
            );
            (Ok(value), true)
        }
        Ok(Err(e)) => (Err(e), true),
        Err(_) => (Err(unknown()), true),
    }
}

/// A failed COMMIT: when the connection broke without the server's answer, the
/// transaction may or may not have been committed.
pub(crate) fn commit_error(e: Error) -> Error {
    let lost = lost_mid_statement(&e);
    let e = e.with_kind(ErrorKind::Transaction);
    if lost {
        e.context("commit: the connection was lost before the server answered, so the transaction may or may not have been committed")
            .with_outcome_unknown()
            .with_hint("check whether its changes are there before running it again")
    } else {
        e.context("commit")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use std::sync::Arc;

    use async_trait::async_trait;

    use super::*;
    use crate::connection::Canceller;
    use crate::error::ErrorCode;

    /// A canceller that raises a flag the fake statement watches.
    #[derive(Debug, Default)]
    struct Flag(Arc<AtomicBool>);

    #[async_trait]
    impl Canceller for Flag {
        async fn cancel(&self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    /// A statement that runs until cancelled, then answers `on_cancel` (or never answers).
    async fn statement(flag: Arc<AtomicBool>, on_cancel: Option<Result<u64>>) -> Result<u64> {
        while !flag.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        match on_cancel {
            Some(r) => r,
            None => std::future::pending().await,
        }
    }

    async fn timed(on_cancel: Option<Result<u64>>, in_transaction: bool) -> (Result<u64>, bool) {
        let flag = Arc::new(AtomicBool::new(false));
        let canceller: Arc<dyn Canceller> = Arc::new(Flag(flag.clone()));
        run_with_timeout(
            statement(flag, on_cancel),
            Some(Duration::from_millis(200)),
            Some(canceller),
            in_transaction,
        )
        .await
    }

    #[tokio::test(start_paused = true)]
    async fn a_confirmed_cancellation_says_the_statement_did_nothing() {
        let server = Error::new(
            ErrorKind::Timeout,
            "canceling statement due to user request",
        )
        .with_code(ErrorCode::SqlState("57014".into()));
        let (r, cancelled) = timed(Some(Err(server)), false).await;
        let e = r.unwrap_err();
        assert!(cancelled);
        assert_eq!(e.kind(), ErrorKind::Timeout);
        assert!(!e.outcome_unknown());
        assert!(
            e.message().contains(
                "cancelled after 200 ms (the server confirmed the cancellation, so it did nothing)"
            ),
            "{e}"
        );
        assert_eq!(e.code(), Some(&ErrorCode::SqlState("57014".into())));
    }

    #[tokio::test(start_paused = true)]
    async fn a_statement_that_finished_anyway_returns_its_result() {
        let (r, cancelled) = timed(Some(Ok(4)), false).await;
        assert_eq!(r.unwrap(), 4);
        assert!(
            cancelled,
            "the connection is not reused after a late cancel"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn no_answer_means_the_outcome_is_unknown() {
        let started = tokio::time::Instant::now();
        let (r, _) = timed(None, false).await;
        let e = r.unwrap_err();
        assert_eq!(
            started.elapsed(),
            Duration::from_millis(200) + CANCEL_CONFIRM_WAIT
        );
        assert_eq!(e.kind(), ErrorKind::Timeout);
        assert!(e.outcome_unknown());
        assert!(!e.is_transient());
        assert!(
            e.message()
                .contains("may or may not have completed (outcome unknown)"),
            "{e}"
        );
        assert!(!e.message().contains("cancelled"), "{e}");
        // Inside a transaction, closing the connection rolls it back: that much is known.
        let (r, _) = timed(None, true).await;
        let e = r.unwrap_err();
        assert!(!e.outcome_unknown());
        assert!(
            e.message().contains("the transaction was rolled back"),
            "{e}"
        );
        // Without a canceller nothing was even asked.
        let (r, cancelled) = run_with_timeout(
            std::future::pending::<Result<u64>>(),
            Some(Duration::from_millis(5)),
            None,
            false,
        )
        .await;
        assert!(r.unwrap_err().outcome_unknown() && !cancelled);
    }

    #[test]
    fn zero_timeouts_are_invalid_arguments() {
        let e = check_timeout(Some(Duration::ZERO)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(check_timeout(Some(Duration::from_nanos(1))).is_ok());
        assert!(check_timeout(None).is_ok());
    }

    #[test]
    fn a_commit_whose_answer_was_lost_has_an_unknown_outcome() {
        let lost =
            Error::new(ErrorKind::Connection, "connection reset").with_code(ErrorCode::ConnectIo);
        let e = commit_error(lost);
        assert_eq!(e.kind(), ErrorKind::Transaction);
        assert!(e.outcome_unknown() && !e.is_transient());
        assert!(
            e.message().contains("may or may not have been committed"),
            "{e}"
        );
        // A server's refusal (serialization failure) is known: rolled back, retry it whole.
        let refused = Error::new(ErrorKind::Transaction, "could not serialize access")
            .with_code(ErrorCode::SqlState("40001".into()));
        let e = commit_error(refused);
        assert!(!e.outcome_unknown() && e.is_transient());
    }
}
