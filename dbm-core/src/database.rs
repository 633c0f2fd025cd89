//! `PooledDatabase`: the one implementation of [`Database`] over any driver's pool.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tracing::Instrument;

use crate::connection::{Canceller, Connection, Database, Statement};
use crate::dialect::{Backend, Dialect};
use crate::error::{Error, ErrorKind, Result};
use crate::params::{BoundSql, Params};
use crate::pool::{ManageConnection, Pool, PoolStatus, PooledConnection};
use crate::row::Rows;
use crate::stream::{BoxRowStream, RowStream};
use crate::transaction::Transaction;
use crate::value::Value;

/// A named database served by a pool of driver connections. Drivers construct it; users
/// hold it as `Arc<dyn Database>`.
pub struct PooledDatabase<M: ManageConnection> {
    name: String,
    dialect: Arc<dyn Dialect>,
    pool: Pool<M>,
    statement_timeout: Option<Duration>,
}

impl<M: ManageConnection> fmt::Debug for PooledDatabase<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledDatabase")
            .field("name", &self.name)
            .field("backend", &self.dialect.backend())
            .field("statement_timeout", &self.statement_timeout)
            .field("pool", &self.pool)
            .finish()
    }
}

#[derive(Clone, Copy)]
enum Work {
    Query,
    Execute,
}

enum Output {
    Rows(Rows),
    Affected(u64),
}

impl<M> PooledDatabase<M>
where
    M: ManageConnection,
    M::Connection: Connection,
{
    /// A database named `name` over `pool`.
    pub fn new(name: impl Into<String>, pool: Pool<M>, dialect: Arc<dyn Dialect>) -> Self {
        PooledDatabase {
            name: name.into(),
            dialect,
            pool,
            statement_timeout: None,
        }
    }

    /// A default time limit for [`Database::query`] and [`Database::execute`].
    pub fn with_statement_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.statement_timeout = timeout;
        self
    }

    /// The pool.
    pub fn pool(&self) -> &Pool<M> {
        &self.pool
    }

    async fn checkout(&self, operation: &str) -> Result<PooledConnection<M>> {
        self.pool.get().await.map_err(|e| {
            e.with_database(self.name.clone())
                .with_operation(operation.to_owned())
        })
    }

    fn span(&self, operation: &'static str) -> tracing::Span {
        tracing::info_span!(
            "db.client.operation",
            db.system = self.dialect.backend().db_system(),
            db.namespace = %self.name,
            db.operation.name = operation,
            db.response.returned_rows = tracing::field::Empty,
            db.rows_affected = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
            error.type = tracing::field::Empty,
        )
    }

    async fn run(
        &self,
        operation: &'static str,
        work: Work,
        sql: &str,
        params: &Params,
        timeout: Option<Duration>,
    ) -> Result<Output> {
        let span = self.span(operation);
        let started = Instant::now();
        let result = async {
            check_timeout(timeout)?;
            let bound = self.dialect.bind(sql, params)?;
            let mut conn = self.checkout(operation).await?;
            let canceller = conn.canceller();
            let fut = async {
                match work {
                    Work::Query => conn
                        .query_raw(&bound.sql, &bound.values)
                        .await
                        .map(Output::Rows),
                    Work::Execute => conn
                        .execute_raw(&bound.sql, &bound.values)
                        .await
                        .map(Output::Affected),
                }
            };
            let (result, cancelled) = run_with_timeout(fut, timeout, canceller, false).await;
            if cancelled {
                // A cancel that arrives late could hit the connection's next statement.
                conn.mark_broken();
            }
            match (work, result) {
                (Work::Execute, Err(e)) if lost_mid_statement(&e) => Err(e
                    .context(
                        "the connection was lost while the statement ran, so it may or may not have taken effect",
                    )
                    .with_outcome_unknown()
                    .with_hint("check whether it took effect before running it again")),
                (_, r) => r,
            }
        }
        .instrument(span.clone())
        .await
        .map_err(|e| e.with_database(self.name.clone()).with_operation(operation));
        record(&span, operation, started, &result);
        result
    }
}

/// A connection failure without the server's word on the statement (an I/O error, not a
/// SQLSTATE such as 57P01 which says the server stopped it).
fn lost_mid_statement(e: &Error) -> bool {
    e.kind() == ErrorKind::Connection
        && matches!(e.code(), None | Some(crate::error::ErrorCode::ConnectIo))
}

/// A time limit must be positive: zero is an error, never "no limit" or "cancel at once".
fn check_timeout(timeout: Option<Duration>) -> Result<()> {
    match timeout {
        Some(t) if t.is_zero() => Err(Error::invalid_argument(
            "the timeout must be greater than zero",
        )
        .with_hint("pass a positive duration, or use the method without a timeout for no limit")),
        _ => Ok(()),
    }
}

impl<M> PooledDatabase<M>
where
    M: ManageConnection,
    M::Connection: Connection,
{
    async fn rows(&self, sql: &str, params: &Params, timeout: Option<Duration>) -> Result<Rows> {
        match self.run("query", Work::Query, sql, params, timeout).await? {
            Output::Rows(rows) => Ok(rows),
            Output::Affected(_) => unreachable!("query returns rows"),
        }
    }

    async fn affected(&self, sql: &str, params: &Params, timeout: Option<Duration>) -> Result<u64> {
        match self
            .run("execute", Work::Execute, sql, params, timeout)
            .await?
        {
            Output::Affected(n) => Ok(n),
            Output::Rows(_) => unreachable!("execute returns a count"),
        }
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
async fn run_with_timeout<T>(
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
        Ok(Err(e)) if e.kind() == ErrorKind::Timeout => {
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

fn record(span: &tracing::Span, operation: &str, started: Instant, result: &Result<Output>) {
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    span.record("duration_ms", ms);
    match result {
        Ok(Output::Rows(rows)) => {
            span.record("db.response.returned_rows", rows.len() as u64);
            span.in_scope(|| {
                tracing::debug!(
                    operation,
                    duration_ms = ms,
                    rows = rows.len(),
                    "database operation finished"
                )
            });
        }
        Ok(Output::Affected(n)) => {
            span.record("db.rows_affected", *n);
            span.in_scope(|| {
                tracing::debug!(
                    operation,
                    duration_ms = ms,
                    rows_affected = *n,
                    "database operation finished"
                )
            });
        }
        Err(e) => {
            span.record("error.type", e.kind().as_str());
            span.in_scope(|| tracing::debug!(operation, duration_ms = ms, error = %e, "database operation failed"));
        }
    }
}

#[async_trait]
impl<M> Database for PooledDatabase<M>
where
    M: ManageConnection,
    M::Connection: Connection,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn backend(&self) -> Backend {
        self.dialect.backend()
    }

    async fn query(&self, sql: &str, params: &Params) -> Result<Rows> {
        self.rows(sql, params, self.statement_timeout).await
    }

    async fn execute(&self, sql: &str, params: &Params) -> Result<u64> {
        self.affected(sql, params, self.statement_timeout).await
    }

    async fn query_stream(&self, sql: &str, params: &Params) -> Result<RowStream> {
        let name = self.name.clone();
        let context = move |e: Error| e.with_database(name.clone()).with_operation("query stream");
        let bound = self.dialect.bind(sql, params).map_err(&context)?;
        let mut conn = self.checkout("query stream").await?;
        // Up to 4 batches of up to 512 rows in flight: memory stays bounded.
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let span = self.span("query stream");
        let started = Instant::now();
        let task = tokio::spawn(
            async move {
                use futures_util::StreamExt;
                let mut batches = conn
                    .query_stream_raw(&bound.sql, &bound.values)
                    .ready_chunks(512);
                let mut count = 0u64;
                while let Some(batch) = batches.next().await {
                    let failed = batch.iter().any(Result::is_err);
                    count += batch.iter().filter(|r| r.is_ok()).count() as u64;
                    let batch: Vec<_> = batch.into_iter().map(|r| r.map_err(&context)).collect();
                    if tx.send(batch).await.is_err() || failed {
                        break;
                    }
                }
                drop(batches);
                let span = tracing::Span::current();
                span.record("db.response.returned_rows", count);
                let ms = started.elapsed().as_secs_f64() * 1000.0;
                span.record("duration_ms", ms);
                tracing::debug!(
                    operation = "query stream",
                    duration_ms = ms,
                    rows = count,
                    "database operation finished"
                );
            }
            .instrument(span),
        );
        Ok(RowStream::new(rx, task))
    }

    async fn query_with_timeout(
        &self,
        sql: &str,
        params: &Params,
        timeout: Duration,
    ) -> Result<Rows> {
        self.rows(sql, params, Some(timeout)).await
    }

    async fn execute_with_timeout(
        &self,
        sql: &str,
        params: &Params,
        timeout: Duration,
    ) -> Result<u64> {
        self.affected(sql, params, Some(timeout)).await
    }

    async fn transaction(&self, statements: &[Statement]) -> Result<Vec<u64>> {
        let span = self.span("transaction");
        let n = statements.len();
        let name = self.name.clone();
        let started = Instant::now();
        let result = async move {
            if statements.is_empty() {
                return Err(Error::invalid_argument("the transaction has no statements")
                    .with_hint("pass at least one Statement"));
            }
            check_timeout(self.statement_timeout)?;
            let bound: Vec<BoundSql> = statements
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    self.dialect
                        .bind(s.sql(), s.params())
                        .map_err(|e| e.context(format!("statement {} of {n}", i + 1)))
                })
                .collect::<Result<_>>()?;
            let mut conn = self.checkout("transaction").await?;
            conn.begin()
                .await
                .map_err(|e| e.with_kind(ErrorKind::Transaction).context("begin"))?;
            let mut counts = Vec::with_capacity(n);
            let canceller = conn.canceller();
            for (i, b) in bound.iter().enumerate() {
                let run = conn.execute_raw(&b.sql, &b.values);
                let (result, cancelled) =
                    run_with_timeout(run, self.statement_timeout, canceller.clone(), true).await;
                if cancelled {
                    conn.mark_broken();
                }
                match result {
                    Ok(c) => counts.push(c),
                    Err(e) => {
                        // After a timeout the connection may be lost; rolling back is then
                        // impossible, and closing it (the pool does) rolls back instead.
                        if !conn.is_broken()
                            && let Err(re) = conn.rollback().await
                        {
                            tracing::warn!(error = %re, "rollback failed; the connection will be closed");
                        }
                        return Err(e.context(format!(
                            "statement {} of {n} failed, transaction rolled back",
                            i + 1
                        )));
                    }
                }
            }
            conn.commit().await.map_err(commit_error)?;
            Ok(counts)
        }
        .instrument(span.clone())
        .await
        .map_err(|e: Error| e.with_database(name).with_operation("transaction"));
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        span.record("duration_ms", ms);
        span.in_scope(|| match &result {
            Ok(counts) => tracing::debug!(
                operation = "transaction",
                duration_ms = ms,
                statements = counts.len(),
                rows_affected = counts.iter().sum::<u64>(),
                "database operation finished"
            ),
            Err(e) => tracing::debug!(operation = "transaction", duration_ms = ms, error = %e, "database operation failed"),
        });
        result
    }

    async fn begin(&self) -> Result<Transaction> {
        let conn = self.checkout("begin").await?;
        Transaction::begin(Box::new(conn), self.name.clone()).await
    }

    async fn acquire(&self) -> Result<Box<dyn Connection>> {
        Ok(Box::new(self.checkout("acquire").await?))
    }

    fn pool_status(&self) -> PoolStatus {
        self.pool.status()
    }

    async fn close(&self) {
        self.pool.close();
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

impl<M> PooledConnection<M>
where
    M: ManageConnection,
    M::Connection: Connection,
{
    /// Notes a connection-level failure: this connection is closed when returned, and every
    /// connection opened before now is replaced at its next checkout.
    fn observe<T>(&mut self, result: Result<T>) -> Result<T> {
        if let Err(e) = &result
            && e.kind() == ErrorKind::Connection
        {
            self.mark_broken();
            self.pool().invalidate();
        }
        result
    }
}

#[async_trait]
impl<M> Connection for PooledConnection<M>
where
    M: ManageConnection,
    M::Connection: Connection,
{
    fn dialect(&self) -> &dyn Dialect {
        (**self).dialect()
    }

    async fn query_raw(&mut self, sql: &str, values: &[Value]) -> Result<Rows> {
        let r = (**self).query_raw(sql, values).await;
        self.observe(r)
    }

    async fn execute_raw(&mut self, sql: &str, values: &[Value]) -> Result<u64> {
        let r = (**self).execute_raw(sql, values).await;
        self.observe(r)
    }

    fn query_stream_raw<'a>(&'a mut self, sql: &'a str, values: &'a [Value]) -> BoxRowStream<'a> {
        (**self).query_stream_raw(sql, values)
    }

    async fn execute_script(&mut self, sql: &str) -> Result<()> {
        let r = (**self).execute_script(sql).await;
        self.observe(r)
    }

    async fn begin(&mut self) -> Result<()> {
        let r = (**self).begin().await;
        self.observe(r)
    }

    async fn commit(&mut self) -> Result<()> {
        let r = (**self).commit().await;
        self.observe(r)
    }

    async fn rollback(&mut self) -> Result<()> {
        let r = (**self).rollback().await;
        self.observe(r)
    }

    async fn ping(&mut self) -> Result<()> {
        let r = (**self).ping().await;
        self.observe(r)
    }

    async fn lock_migrations(&mut self, wait: Duration) -> Result<()> {
        let r = (**self).lock_migrations(wait).await;
        self.observe(r)
    }

    async fn unlock_migrations(&mut self) -> Result<()> {
        let r = (**self).unlock_migrations().await;
        self.observe(r)
    }

    fn canceller(&self) -> Option<Arc<dyn Canceller>> {
        (**self).canceller()
    }

    fn in_transaction(&self) -> bool {
        (**self).in_transaction()
    }

    fn is_broken(&self) -> bool {
        (**self).is_broken()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
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
