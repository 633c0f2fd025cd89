//! `SqliteConnection`: rusqlite on tokio's blocking threads, cancellable through the
//! interrupt handle.

use std::fmt;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dbm_core::{
    BoxRowStream, Canceller, Column, Columns, Connection, Dialect, Error, ErrorKind, Result, Row,
    Rows, Value, async_trait,
};
use rusqlite::InterruptHandle;

use crate::convert::{from_sqlite, is_bool_type, map_err, to_sqlite};
use crate::dialect::SqliteDialect;

static DIALECT: SqliteDialect = SqliteDialect;

/// One SQLite connection.
///
/// Every call runs on a blocking thread. If the calling future is dropped (a timeout, a
/// cancelled task) while a statement runs, the statement is interrupted and the connection
/// is marked lost, so the pool closes it instead of reusing it.
pub struct SqliteConnection {
    inner: Option<rusqlite::Connection>,
    interrupt: Arc<InterruptHandle>,
    lock_path: Option<PathBuf>,
    lock: Option<File>,
    broken: bool,
}

impl fmt::Debug for SqliteConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteConnection")
            .field("open", &self.inner.is_some())
            .field("in_transaction", &self.in_transaction())
            .field("migration_lock", &self.lock.is_some())
            .finish()
    }
}

/// Interrupts the connection's running statement when dropped while armed.
struct InterruptOnDrop(Option<Arc<InterruptHandle>>);

impl Drop for InterruptOnDrop {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            h.interrupt();
        }
    }
}

/// Cancels a SQLite statement through `sqlite3_interrupt`.
pub struct SqliteCanceller(Arc<InterruptHandle>);

impl fmt::Debug for SqliteCanceller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SqliteCanceller")
    }
}

#[async_trait]
impl Canceller for SqliteCanceller {
    async fn cancel(&self) {
        self.0.interrupt();
    }
}

impl SqliteConnection {
    pub(crate) fn new(conn: rusqlite::Connection, lock_path: Option<PathBuf>) -> Self {
        SqliteConnection {
            interrupt: Arc::new(conn.get_interrupt_handle()),
            inner: Some(conn),
            lock_path,
            lock: None,
            broken: false,
        }
    }

    /// Whether this connection holds the migration lock (a cancelled migration): such a
    /// connection is closed, not pooled, so the lock cannot outlive the run.
    pub(crate) fn holds_migration_lock(&self) -> bool {
        self.lock.is_some()
    }

    /// Runs `f` with the connection on a blocking thread.
    async fn with_conn<T, F>(&mut self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut rusqlite::Connection) -> Result<T> + Send + 'static,
    {
        let mut conn = self.inner.take().ok_or_else(|| {
            Error::new(
                ErrorKind::Connection,
                "the connection was lost by an earlier cancelled operation",
            )
        })?;
        let mut guard = InterruptOnDrop(Some(self.interrupt.clone()));
        let joined = tokio::task::spawn_blocking(move || {
            let r = f(&mut conn);
            (conn, r)
        })
        .await;
        guard.0 = None;
        match joined {
            Ok((conn, r)) => {
                self.inner = Some(conn);
                r
            }
            Err(e) => {
                self.broken = true;
                Err(Error::new(
                    ErrorKind::Other,
                    format!("the SQLite worker thread failed: {e}"),
                ))
            }
        }
    }
}

fn prepare_and_bind<'c>(
    c: &'c rusqlite::Connection,
    sql: &str,
    values: &[Value],
) -> Result<rusqlite::CachedStatement<'c>> {
    let mut stmt = c.prepare_cached(sql).map_err(map_err)?;
    let expected = stmt.parameter_count();
    if expected != values.len() {
        return Err(Error::parameter(format!(
            "the statement has {expected} placeholders but {} values were bound",
            values.len()
        )));
    }
    for (i, v) in values.iter().enumerate() {
        stmt.raw_bind_parameter(i + 1, to_sqlite(v)?)
            .map_err(map_err)?;
    }
    Ok(stmt)
}

/// Runs a query and hands each row to `each` until it returns false; returns the result's
/// columns.
fn for_each_row(
    c: &rusqlite::Connection,
    sql: &str,
    values: &[Value],
    mut each: impl FnMut(&Columns, Cells<'_, '_>) -> Result<bool>,
) -> Result<Columns> {
    let mut stmt = prepare_and_bind(c, sql, values)?;
    // rusqlite's `columns()` panics on a name that is not UTF-8: check the names first,
    // so that such a name is an error.
    for i in 0..stmt.column_count() {
        stmt.column_name(i).map_err(map_err)?;
    }
    let columns: Vec<Column> = stmt
        .columns()
        .iter()
        .map(|col| Column::new(col.name(), col.decl_type().unwrap_or("")))
        .collect();
    let is_bool: Vec<bool> = columns
        .iter()
        .map(|c| is_bool_type(c.type_name()))
        .collect();
    let columns = Columns::new(columns);
    let mut rows = stmt.raw_query();
    while let Some(row) = rows.next().map_err(map_err)? {
        let cells = Cells {
            row,
            columns: &columns,
            is_bool: &is_bool,
            next: 0,
        };
        if !each(&columns, cells)? {
            break;
        }
    }
    Ok(columns)
}

/// One row's values, converted as they are read.
struct Cells<'r, 's> {
    row: &'r rusqlite::Row<'s>,
    columns: &'r Columns,
    is_bool: &'r [bool],
    next: usize,
}

impl Iterator for Cells<'_, '_> {
    type Item = Result<Value>;

    #[inline]
    fn next(&mut self) -> Option<Result<Value>> {
        let i = self.next;
        let is_bool = *self.is_bool.get(i)?;
        self.next += 1;
        let columns = self.columns;
        Some(
            self.row
                .get_ref(i)
                .map_err(map_err)
                .and_then(|v| from_sqlite(v, is_bool, || columns.as_slice()[i].name())),
        )
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.is_bool.len() - self.next;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Cells<'_, '_> {}

/// Runs a query into `Rows`: every row, or (`first_only`) the first one, the statement
/// still stepped to its end without converting the others.
fn run_query(
    c: &rusqlite::Connection,
    sql: &str,
    values: &[Value],
    first_only: bool,
) -> Result<Rows> {
    // Values go straight into the result's one vector (made at the first row, when the
    // columns are known): no vector per row, nothing copied again.
    let mut out: Option<Rows> = None;
    let columns = for_each_row(c, sql, values, |columns, cells| {
        let rows = out.get_or_insert_with(|| Rows::new(columns.clone()));
        if !(first_only && rows.len() == 1) {
            rows.try_push(cells)?;
        }
        Ok(true)
    })?;
    Ok(out.unwrap_or_else(|| Rows::new(columns)))
}

/// Sends rows into `tx` as they are read; stops quietly when the receiver is gone.
fn stream_rows(
    c: &rusqlite::Connection,
    sql: &str,
    values: &[Value],
    tx: &tokio::sync::mpsc::Sender<Result<Row>>,
) -> Result<()> {
    for_each_row(c, sql, values, |columns, cells| {
        let mut vals = Vec::with_capacity(cells.len());
        for value in cells {
            vals.push(value?);
        }
        Ok(tx
            .blocking_send(Ok(Row::new(columns.clone(), vals)))
            .is_ok())
    })
    .map(|_| ())
}

struct StreamState<'a> {
    rx: tokio::sync::mpsc::Receiver<Result<Row>>,
    worker: Option<tokio::task::JoinHandle<rusqlite::Connection>>,
    guard: InterruptOnDrop,
    slot: &'a mut Option<rusqlite::Connection>,
    broken: &'a mut bool,
}

fn run_execute(c: &rusqlite::Connection, sql: &str, values: &[Value]) -> Result<u64> {
    let before = c.total_changes();
    let mut stmt = prepare_and_bind(c, sql, values)?;
    let mut rows = stmt.raw_query();
    while rows.next().map_err(map_err)?.is_some() {}
    drop(rows);
    // `changes()` keeps the count of the last INSERT/UPDATE/DELETE, so after DDL it would
    // be stale: trust it only when this statement changed something.
    Ok(if c.total_changes() == before {
        0
    } else {
        c.changes()
    })
}

#[async_trait]
impl Connection for SqliteConnection {
    fn dialect(&self) -> &dyn Dialect {
        &DIALECT
    }

    async fn query_raw(&mut self, sql: &str, values: &[Value]) -> Result<Rows> {
        let (sql, values) = (sql.to_owned(), values.to_vec());
        self.with_conn(move |c| run_query(c, &sql, &values, false))
            .await
    }

    async fn query_first_raw(&mut self, sql: &str, values: &[Value]) -> Result<Rows> {
        let (sql, values) = (sql.to_owned(), values.to_vec());
        self.with_conn(move |c| run_query(c, &sql, &values, true))
            .await
    }

    fn query_stream_raw<'a>(&'a mut self, sql: &'a str, values: &'a [Value]) -> BoxRowStream<'a> {
        use futures_util::StreamExt;
        let Some(conn) = self.inner.take() else {
            let e = Error::new(
                ErrorKind::Connection,
                "the connection was lost by an earlier cancelled operation",
            );
            return Box::pin(futures_util::stream::iter(vec![Err(e)]));
        };
        let (tx, rx) = tokio::sync::mpsc::channel(256);
        let (sql, values) = (sql.to_owned(), values.to_vec());
        let worker = tokio::task::spawn_blocking(move || {
            if let Err(e) = stream_rows(&conn, &sql, &values, &tx) {
                let _ = tx.blocking_send(Err(e));
            }
            conn
        });
        let state = StreamState {
            rx,
            worker: Some(worker),
            // Dropping the stream early interrupts the statement; the connection is then
            // never put back, so the pool closes it.
            guard: InterruptOnDrop(Some(self.interrupt.clone())),
            slot: &mut self.inner,
            broken: &mut self.broken,
        };
        futures_util::stream::unfold(state, |mut st| async move {
            let item = st.rx.recv().await;
            // After the last row, or an error (the worker stops after sending it), take the
            // connection back.
            if item.as_ref().is_none_or(Result::is_err)
                && let Some(worker) = st.worker.take()
            {
                match worker.await {
                    Ok(conn) => *st.slot = Some(conn),
                    Err(_) => *st.broken = true,
                }
                st.guard.0.take();
            }
            item.map(|item| (item, st))
        })
        .boxed()
    }

    async fn execute_raw(&mut self, sql: &str, values: &[Value]) -> Result<u64> {
        let (sql, values) = (sql.to_owned(), values.to_vec());
        self.with_conn(move |c| run_execute(c, &sql, &values)).await
    }

    async fn execute_script(&mut self, sql: &str) -> Result<()> {
        let sql = sql.to_owned();
        self.with_conn(move |c| c.execute_batch(&sql).map_err(map_err))
            .await
    }

    async fn begin(&mut self) -> Result<()> {
        // IMMEDIATE takes the write lock now, so two writers queue on the busy timeout
        // instead of failing at their first write with SQLITE_BUSY.
        self.execute_script("BEGIN IMMEDIATE").await
    }

    async fn commit(&mut self) -> Result<()> {
        self.execute_script("COMMIT").await
    }

    async fn rollback(&mut self) -> Result<()> {
        self.execute_script("ROLLBACK").await
    }

    async fn ping(&mut self) -> Result<()> {
        self.with_conn(|c| {
            c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
                .map(|_| ())
                .map_err(map_err)
        })
        .await
    }

    async fn lock_migrations(&mut self, wait: Duration) -> Result<()> {
        let Some(path) = self.lock_path.clone() else {
            return Ok(()); // in-memory: one connection, nobody to race
        };
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| {
                Error::new(
                    ErrorKind::Migration,
                    format!(
                        "cannot open the migration lock file {}: {e}",
                        path.display()
                    ),
                )
            })?;
        let deadline = Instant::now() + wait;
        loop {
            match file.try_lock() {
                Ok(()) => {
                    self.lock = Some(file);
                    return Ok(());
                }
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(Error::new(
                        ErrorKind::Migration,
                        format!(
                            "another process has held the migration lock ({}) for over {} s",
                            path.display(),
                            wait.as_secs()
                        ),
                    )
                    .with_hint("wait for the other migration to finish, then run again"));
                }
                Err(TryLockError::Error(e)) => {
                    return Err(Error::new(
                        ErrorKind::Migration,
                        format!("cannot lock {}: {e}", path.display()),
                    ));
                }
            }
        }
    }

    async fn unlock_migrations(&mut self) -> Result<()> {
        // Dropping the file releases the lock (and so does process exit).
        self.lock = None;
        Ok(())
    }

    fn canceller(&self) -> Option<Arc<dyn Canceller>> {
        Some(Arc::new(SqliteCanceller(self.interrupt.clone())))
    }

    fn in_transaction(&self) -> bool {
        self.inner.as_ref().is_some_and(|c| !c.is_autocommit())
    }

    fn is_broken(&self) -> bool {
        self.broken || self.inner.is_none()
    }
}
