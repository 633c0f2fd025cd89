//! The object-safe traits downstream code depends on.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::dialect::{Backend, Dialect};
use crate::error::{Error, Result};
use crate::params::Params;
use crate::pool::PoolStatus;
use crate::rows::Rows;
use crate::stream::{BoxRowStream, RowStream};
use crate::transaction::Transaction;
use crate::value::Value;

/// Cancels whatever statement a connection is running, from another task.
#[async_trait]
pub trait Canceller: Send + Sync + fmt::Debug {
    /// Asks the server (or the embedded engine) to stop the running statement. Best effort:
    /// failures are logged, not returned.
    async fn cancel(&self);
}

/// One live connection. Drivers implement the `*_raw` methods; SQL given to them is already
/// in the dialect's placeholder syntax. Most callers use [`Connection::query`] and
/// [`Connection::execute`], which take `:name` parameters.
#[async_trait]
pub trait Connection: Send + fmt::Debug {
    /// The connection's SQL dialect.
    fn dialect(&self) -> &dyn Dialect;

    /// Runs a statement that returns rows; `values` bind the placeholders in order.
    async fn query_raw(&mut self, sql: &str, values: &[Value]) -> Result<Rows>;

    /// Runs a query like [`Connection::query_raw`] and keeps its columns and at most its
    /// first row, for `fetch_one` and its kin. The statement still runs to its end (the
    /// other rows are read and dropped, never cut short). Drivers with a cheaper way to
    /// read one row override it; the default keeps the first row of `query_raw`.
    async fn query_first_raw(&mut self, sql: &str, values: &[Value]) -> Result<Rows> {
        let mut rows = self.query_raw(sql, values).await?;
        rows.truncate(1);
        Ok(rows)
    }

    /// Streams the rows of a query as they arrive. Drivers that cannot stream keep the
    /// default, which runs [`query_raw`](Connection::query_raw) and yields its rows. Dropping
    /// the stream before its end may leave the connection unusable ([`is_broken`]).
    ///
    /// [`is_broken`]: Connection::is_broken
    fn query_stream_raw<'a>(&'a mut self, sql: &'a str, values: &'a [Value]) -> BoxRowStream<'a> {
        use futures_util::StreamExt;
        Box::pin(
            futures_util::stream::once(self.query_raw(sql, values))
                .map(|result| match result {
                    Ok(rows) => futures_util::stream::iter(rows.into_iter().map(Ok)).left_stream(),
                    Err(e) => futures_util::stream::iter(vec![Err(e)]).right_stream(),
                })
                .flatten(),
        )
    }

    /// Runs a statement and returns the number of rows it changed.
    async fn execute_raw(&mut self, sql: &str, values: &[Value]) -> Result<u64>;

    /// Runs SQL without parameters (one statement, or a batch where the dialect allows
    /// several), discarding any rows.
    async fn execute_script(&mut self, sql: &str) -> Result<()>;

    /// Starts a transaction.
    async fn begin(&mut self) -> Result<()>;

    /// Commits the open transaction.
    async fn commit(&mut self) -> Result<()>;

    /// Rolls back the open transaction.
    async fn rollback(&mut self) -> Result<()>;

    /// Checks that the connection still works (a cheap round trip).
    async fn ping(&mut self) -> Result<()>;

    /// Takes the database-wide migration lock, waiting at most `wait` for another holder.
    /// The lock belongs to this connection (session) and is released by
    /// [`unlock_migrations`](Connection::unlock_migrations) or when the connection closes.
    async fn lock_migrations(&mut self, wait: Duration) -> Result<()>;

    /// Releases the migration lock.
    async fn unlock_migrations(&mut self) -> Result<()>;

    /// A handle that cancels the running statement from elsewhere, when the driver has one.
    fn canceller(&self) -> Option<Arc<dyn Canceller>>;

    /// Whether a transaction is open on this connection.
    fn in_transaction(&self) -> bool;

    /// Whether the connection is unusable (lost mid-operation, out of sync with the server)
    /// and must be closed rather than reused.
    fn is_broken(&self) -> bool;

    /// Whether a statement that failed with `error` before it produced anything may be run
    /// once more on this connection, after the driver repaired the cause here (PostgreSQL:
    /// a cached statement that no longer fits its table, SQLSTATE 0A000, is prepared again).
    /// Used for streams, whose first item is where such an error shows; `query` and
    /// `execute` do the same inside the driver. Default: no.
    async fn recover(&mut self, error: &Error) -> bool {
        let _ = error;
        false
    }

    /// Runs a query with `:name` parameters.
    async fn query(&mut self, sql: &str, params: &Params) -> Result<Rows> {
        let bound = self.dialect().bind(sql, params)?;
        self.query_raw(&bound.sql, &bound.values).await
    }

    /// [`Connection::query_first_raw`] with `:name` parameters.
    async fn query_first(&mut self, sql: &str, params: &Params) -> Result<Rows> {
        let bound = self.dialect().bind(sql, params)?;
        self.query_first_raw(&bound.sql, &bound.values).await
    }

    /// Runs a statement with `:name` parameters and returns the number of rows it changed.
    async fn execute(&mut self, sql: &str, params: &Params) -> Result<u64> {
        let bound = self.dialect().bind(sql, params)?;
        self.execute_raw(&bound.sql, &bound.values).await
    }
}

/// A SQL statement with its named parameters, for [`Database::transaction`].
///
/// ```
/// use dbm_core::{params, Statement};
/// let s = Statement::new("INSERT INTO t (id) VALUES (:id)").bind("id", 1);
/// assert_eq!(s.sql(), "INSERT INTO t (id) VALUES (:id)");
/// let s2 = Statement::with_params("DELETE FROM t WHERE id = :id", params! { "id" => 1 });
/// assert_eq!(s2.params().len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    sql: String,
    params: Params,
}

impl Statement {
    /// A statement without parameters.
    pub fn new(sql: impl Into<String>) -> Self {
        Statement {
            sql: sql.into(),
            params: Params::new(),
        }
    }

    /// A statement with parameters.
    pub fn with_params(sql: impl Into<String>, params: Params) -> Self {
        Statement {
            sql: sql.into(),
            params,
        }
    }

    /// Binds one more parameter.
    pub fn bind(mut self, name: impl Into<String>, value: impl crate::value::IntoValue) -> Self {
        self.params.insert(name, value);
        self
    }

    /// The SQL text.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }
}

impl From<&str> for Statement {
    fn from(sql: &str) -> Self {
        Statement::new(sql)
    }
}

impl From<String> for Statement {
    fn from(sql: String) -> Self {
        Statement::new(sql)
    }
}

/// A pooled database: what downstream crates depend on (`Arc<dyn Database>`), and what
/// [`mockall`-style mocks](https://docs.rs/mockall) replace in their unit tests.
///
/// Every method names the database and the operation in its errors and runs under a
/// `tracing` span with OpenTelemetry database attributes.
#[async_trait]
pub trait Database: Send + Sync + fmt::Debug {
    /// The configured name of the database (e.g. `app`).
    fn name(&self) -> &str;

    /// The product.
    fn backend(&self) -> Backend;

    /// Runs a query and returns its rows. Uses the configured statement timeout, if any.
    async fn query(&self, sql: &str, params: &Params) -> Result<Rows>;

    /// Runs a query and keeps its columns and at most its first row: what `fetch_one`,
    /// `fetch_optional` and `fetch_scalar` ([`DatabaseExt`](crate::DatabaseExt)) read. The
    /// statement still runs to its end. The default keeps the first row of
    /// [`Database::query`].
    ///
    /// ```no_run
    /// # async fn demo(db: &dyn dbm_core::Database) -> dbm_core::Result<()> {
    /// let first = db.query_first("SELECT id FROM jobs ORDER BY id", &dbm_core::Params::new()).await?;
    /// assert!(first.len() <= 1);
    /// # Ok(()) }
    /// ```
    async fn query_first(&self, sql: &str, params: &Params) -> Result<Rows> {
        let mut rows = self.query(sql, params).await?;
        rows.truncate(1);
        Ok(rows)
    }

    /// Runs a statement (committed on success) and returns the rows it changed.
    async fn execute(&self, sql: &str, params: &Params) -> Result<u64>;

    /// Streams the rows of a query as they arrive, for results too large to collect. The
    /// stream holds one pooled connection until it ends or is dropped.
    async fn query_stream(&self, sql: &str, params: &Params) -> Result<RowStream>;

    /// Runs a query that is cancelled (on the server) when it takes longer than `timeout`.
    async fn query_with_timeout(
        &self,
        sql: &str,
        params: &Params,
        timeout: Duration,
    ) -> Result<Rows>;

    /// Runs a statement that is cancelled when it takes longer than `timeout`.
    async fn execute_with_timeout(
        &self,
        sql: &str,
        params: &Params,
        timeout: Duration,
    ) -> Result<u64>;

    /// Runs statements in one transaction: all or nothing. On failure everything is rolled
    /// back and the error says which statement (1-based) failed. Returns rows changed per
    /// statement.
    async fn transaction(&self, statements: &[Statement]) -> Result<Vec<u64>>;

    /// Opens a transaction for interactive use; it is rolled back unless committed.
    async fn begin(&self) -> Result<Transaction>;

    /// Checks out a connection for work the methods above do not cover (migrations, for
    /// one). It returns to the pool when dropped.
    async fn acquire(&self) -> Result<Box<dyn Connection>>;

    /// The pool's counters and gauges.
    fn pool_status(&self) -> PoolStatus;

    /// Closes the pool: idle connections now, checked-out ones when they come back; later
    /// calls fail with [`ErrorKind::Closed`](crate::ErrorKind::Closed).
    async fn close(&self);
}
