//! `PooledDatabase`: the one implementation of [`Database`] over any driver's pool.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tracing::Instrument;

use crate::connection::{Canceller, Connection, Database, Statement};
use crate::dialect::{Backend, Dialect};
use crate::error::{Error, ErrorKind, Result};
use crate::outcome::{check_timeout, commit_error, lost_mid_statement, run_with_timeout};
use crate::params::{BoundSql, Params};
use crate::pool::{ManageConnection, Pool, PoolStatus, PooledConnection};
use crate::rows::Rows;
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
    /// A query of which only the first row is kept.
    First,
    Execute,
}

enum Output {
    Rows(Rows),
    /// The columns and at most the first row; how many rows the server sent is not known.
    First(Rows),
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

    /// The operation's span; a disabled one, made without looking up a dispatcher, when no
    /// subscriber was ever set and the `log` fallback would not print it.
    fn span(&self, operation: &'static str) -> tracing::Span {
        if !tracing::dispatcher::has_been_set() && log::max_level() < log::LevelFilter::Info {
            return tracing::Span::none();
        }
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
        let work_done = async {
            check_timeout(timeout)?;
            let bound = self.dialect.bind(sql, params)?;
            let mut conn = self.checkout(operation).await?;
            let canceller = conn.canceller();
            // The driver's connection is called directly (not through the pooled wrapper's
            // boxed future), and its connection-level failures are noted the same way.
            let fut = async {
                let driver: &mut M::Connection = &mut conn;
                let result = match work {
                    Work::Query => driver
                        .query_raw(&bound.sql, &bound.values)
                        .await
                        .map(Output::Rows),
                    Work::First => driver
                        .query_first_raw(&bound.sql, &bound.values)
                        .await
                        .map(Output::First),
                    Work::Execute => driver
                        .execute_raw(&bound.sql, &bound.values)
                        .await
                        .map(Output::Affected),
                };
                conn.observe(result)
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
        };
        let result = if span_is_seen(&span) {
            work_done.instrument(span.clone()).await
        } else {
            work_done.await
        }
        .map_err(|e| e.with_database(self.name.clone()).with_operation(operation));
        let elapsed = started.elapsed();
        record(&span, operation, elapsed, &result);
        self.report_operation(operation, elapsed, result.as_ref().err());
        result
    }

    fn report_operation(&self, operation: &'static str, duration: Duration, error: Option<&Error>) {
        crate::observe::operation(&crate::observe::OperationEvent {
            db_system: self.dialect.backend().db_system(),
            db_namespace: &self.name,
            operation,
            duration,
            error: error.map(Error::kind),
        });
    }
}

impl<M> PooledDatabase<M>
where
    M: ManageConnection,
    M::Connection: Connection,
{
    async fn rows(
        &self,
        work: Work,
        sql: &str,
        params: &Params,
        timeout: Option<Duration>,
    ) -> Result<Rows> {
        match self.run("query", work, sql, params, timeout).await? {
            Output::Rows(rows) | Output::First(rows) => Ok(rows),
            Output::Affected(_) => unreachable!("query returns rows"),
        }
    }

    async fn affected(&self, sql: &str, params: &Params, timeout: Option<Duration>) -> Result<u64> {
        match self
            .run("execute", Work::Execute, sql, params, timeout)
            .await?
        {
            Output::Affected(n) => Ok(n),
            Output::Rows(_) | Output::First(_) => unreachable!("execute returns a count"),
        }
    }
}

/// Whether entering `span` does anything: a subscriber wants it, or (with no subscriber)
/// the `log` fallback would write its enter and exit lines (at trace level). When neither
/// holds, operations skip instrumenting their future, which would enter and leave the
/// span at every poll for nothing.
fn span_is_seen(span: &tracing::Span) -> bool {
    !span.is_disabled() || log::max_level() >= log::LevelFilter::Trace
}

fn record(span: &tracing::Span, operation: &str, elapsed: Duration, result: &Result<Output>) {
    let ms = elapsed.as_secs_f64() * 1000.0;
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
        Ok(Output::First(rows)) => {
            // Only the first row was kept: the number the server sent is not known, so
            // `db.response.returned_rows` stays unset.
            span.in_scope(|| {
                tracing::debug!(
                    operation,
                    duration_ms = ms,
                    first_row = !rows.is_empty(),
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
            span.record("error.type", e.kind().id());
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
        self.rows(Work::Query, sql, params, self.statement_timeout)
            .await
    }

    async fn query_first(&self, sql: &str, params: &Params) -> Result<Rows> {
        self.rows(Work::First, sql, params, self.statement_timeout)
            .await
    }

    async fn execute(&self, sql: &str, params: &Params) -> Result<u64> {
        self.affected(sql, params, self.statement_timeout).await
    }

    async fn query_stream(&self, sql: &str, params: &Params) -> Result<RowStream> {
        let name = self.name.clone();
        let context = move |e: Error| e.with_database(name.clone()).with_operation("query stream");
        let bound = self
            .dialect
            .bind(sql, params)
            .map_err(&context)?
            .into_owned();
        let mut conn = self.checkout("query stream").await?;
        // Up to 4 batches of up to 16 rows in flight: memory stays bounded, and a batch is
        // small enough that its rows come from the allocator's per-thread cache.
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let span = self.span("query stream");
        let started = Instant::now();
        let db_system = self.dialect.backend().db_system();
        let namespace = self.name.clone();
        let seen = span_is_seen(&span);
        let own_span = span.clone();
        let producer = async move {
            use crate::stream::Batch;
            use futures_util::StreamExt;
            let mut rows = conn.query_stream_raw(&bound.sql, &bound.values).fuse();
            let mut first = Batch::next(&mut rows).await;
            // A failure before the first row that the driver can repair (a stale cached
            // statement) is run once more, as `query` does.
            if let Some(b) = first.as_mut()
                && b.rows.is_empty()
                && let Some(e) = b.error.take()
            {
                drop(rows);
                if conn.recover(&e).await {
                    rows = conn.query_stream_raw(&bound.sql, &bound.values).fuse();
                    first = Batch::next(&mut rows).await;
                } else {
                    rows = futures_util::stream::empty().boxed().fuse();
                    first = Some(Batch {
                        rows: Vec::new(),
                        error: Some(e),
                    });
                }
            }
            let mut count = 0u64;
            let mut error = None;
            let mut next = first;
            while let Some(mut batch) = next.take() {
                count += batch.rows.len() as u64;
                let failed = batch.error.is_some();
                if let Some(e) = batch.error.take() {
                    error = Some(e.kind());
                    batch.error = Some(context(e));
                }
                if tx.send(batch).await.is_err() || failed {
                    break;
                }
                next = Batch::next(&mut rows).await;
            }
            drop(rows);
            // Recorded on the stream's own span, not whichever span polls the stream.
            let span = own_span;
            span.record("db.response.returned_rows", count);
            let elapsed = started.elapsed();
            let ms = elapsed.as_secs_f64() * 1000.0;
            span.record("duration_ms", ms);
            tracing::debug!(
                operation = "query stream",
                duration_ms = ms,
                rows = count,
                "database operation finished"
            );
            crate::observe::operation(&crate::observe::OperationEvent {
                db_system,
                db_namespace: &namespace,
                operation: "query stream",
                duration: elapsed,
                error,
            });
        };
        let producer: crate::stream::Producer = if seen {
            Box::pin(producer.instrument(span))
        } else {
            Box::pin(producer)
        };
        Ok(RowStream::new(rx, producer))
    }

    async fn query_with_timeout(
        &self,
        sql: &str,
        params: &Params,
        timeout: Duration,
    ) -> Result<Rows> {
        self.rows(Work::Query, sql, params, Some(timeout)).await
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
            let bound: Vec<BoundSql<'_>> = statements
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
        let elapsed = started.elapsed();
        self.report_operation("transaction", elapsed, result.as_ref().err());
        let ms = elapsed.as_secs_f64() * 1000.0;
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

    async fn query_first_raw(&mut self, sql: &str, values: &[Value]) -> Result<Rows> {
        let r = (**self).query_first_raw(sql, values).await;
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

    async fn recover(&mut self, error: &Error) -> bool {
        (**self).recover(error).await
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
