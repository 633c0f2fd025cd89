//! `MssqlConnection`: one tiberius client with its session id (`@@SPID`), transaction and
//! lock state, implementing the core `Connection`; a statement stops when its canceller
//! fires (see `client` for how).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dbm_core::{
    BoxRowStream, Canceller, Column, Columns, Connection, Dialect, Error, ErrorKind, Result, Rows,
    Value, async_trait,
};
use futures_util::TryStreamExt;
use tiberius::{ColumnType, QueryItem, ToSql};
use tokio::sync::watch;

use crate::client::{Client, MssqlCanceller, batch_int, open, run_batch, stop};
use crate::dialect::MssqlDialect;
use crate::error::map_err;
use crate::options::MssqlOptions;
use crate::types::{bind, decode, type_name};

mod stream;

static DIALECT: MssqlDialect = MssqlDialect;

/// The application lock migration runs take (`sp_getapplock`, per database).
pub const MIGRATION_LOCK_RESOURCE: &str = "dbm:migrate";

/// One SQL Server connection (SET XACT_ABORT ON).
///
/// A statement stopped by a timeout, a cancelled statement's future and a stream dropped
/// before its end all leave the connection out of step with the server: it is cancelled
/// on the server and discarded, never pooled again.
pub struct MssqlConnection {
    client: Option<Client>,
    spid: i32,
    options: Arc<MssqlOptions>,
    busy: bool,
    broken: bool,
    in_tx: bool,
    locks: u32,
    cancel: Arc<watch::Sender<u64>>,
}

impl fmt::Debug for MssqlConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MssqlConnection")
            .field("target", &self.options.to_string())
            .field("spid", &self.spid)
            .field("in_transaction", &self.in_tx)
            .field("broken", &self.is_broken())
            .finish()
    }
}

fn columns_of(cols: &[tiberius::Column]) -> (Columns, Vec<ColumnType>) {
    (
        Columns::new(
            cols.iter()
                .map(|c| Column::new(c.name(), type_name(c.column_type())))
                .collect(),
        ),
        cols.iter().map(tiberius::Column::column_type).collect(),
    )
}

fn convert_row(row: tiberius::Row, columns: &Columns, types: &[ColumnType]) -> Result<Vec<Value>> {
    cells(row, columns, types).collect()
}

/// The row's values as they are decoded, for [`Rows::try_push`].
fn cells<'r>(
    row: tiberius::Row,
    columns: &'r Columns,
    types: &'r [ColumnType],
) -> impl Iterator<Item = Result<Value>> + 'r {
    row.into_iter()
        .zip(columns.as_slice().iter().zip(types))
        .map(|(data, (col, ty))| decode(data, col.name(), *ty))
}

/// Whether `sql` may begin or end a transaction (checked with `@@TRANCOUNT` afterwards).
fn touches_transaction(sql: &str) -> bool {
    let upper = sql.to_ascii_uppercase();
    upper.contains("TRAN") || upper.contains("COMMIT") || upper.contains("ROLLBACK")
}

/// Runs `$work` (a future of `Result<T>` using the client `$c`) unless the canceller
/// fires first; then stops the statement on the server and returns the error saying how.
macro_rules! cancellable {
    ($self:ident, |$c:ident| $work:expr) => {{
        let mut signal = $self.cancel.subscribe();
        signal.mark_unchanged();
        $self.busy = true;
        let outcome = match $self.client.as_mut() {
            None => Some(Err(closed())),
            Some($c) => {
                let work = $work;
                tokio::select! {
                    biased;
                    r = work => Some(r),
                    _ = signal.changed() => None,
                }
            }
        };
        match outcome {
            Some(r) => {
                $self.busy = false;
                if let Err(e) = &r
                    && e.kind() == ErrorKind::Connection
                {
                    $self.broken = true;
                }
                r
            }
            None => Err($self.stopped().await),
        }
    }};
}

fn closed() -> Error {
    Error::new(ErrorKind::Connection, "the connection is closed")
}

impl MssqlConnection {
    /// Runs a query into `Rows`: every row, or (`first_only`) the first one, the rest of
    /// the reply still read.
    async fn run_query(&mut self, sql: &str, values: &[Value], first_only: bool) -> Result<Rows> {
        let params = bind(values)?;
        let options = self.options.clone();
        let r = cancellable!(self, |c| async {
            let refs: Vec<&dyn ToSql> = params.iter().map(|p| p as &dyn ToSql).collect();
            let mut stream = c
                .query(sql, &refs)
                .await
                .map_err(|e| map_err(e, &options))?;
            let mut sets = 0usize;
            let mut rows: Option<(Rows, Columns, Vec<ColumnType>)> = None;
            let mut failure = None;
            while let Some(item) = stream.try_next().await.map_err(|e| map_err(e, &options))? {
                match item {
                    QueryItem::Metadata(m) => {
                        sets += 1;
                        if sets == 1 {
                            let (cols, types) = columns_of(m.columns());
                            rows = Some((Rows::new(cols.clone()), cols, types));
                        }
                    }
                    QueryItem::Row(row) if sets == 1 && failure.is_none() => {
                        if let Some((rows, columns, types)) = rows.as_mut()
                            && !(first_only && rows.len() == 1)
                        {
                            // Read the rest of the reply after an error, so the connection
                            // stays in step.
                            failure = rows.try_push(cells(row, columns, types)).err();
                        }
                    }
                    QueryItem::Row(_) => {}
                }
            }
            if let Some(e) = failure {
                return Err(e);
            }
            if sets > 1 {
                return Err(Error::new(
                    ErrorKind::Query,
                    format!("the SQL returned {sets} result sets and query returns one; all of its statements ran"),
                )
                .with_hint("send one SELECT per query call (use execute for the statements before it)"));
            }
            Ok(rows.map_or_else(|| Rows::new(Columns::new(Vec::new())), |(r, _, _)| r))
        });
        self.after(sql, r.is_err()).await;
        r
    }

    pub(crate) async fn connect(options: Arc<MssqlOptions>) -> Result<Self> {
        let mut client = open(&options).await?;
        let spid = batch_int(&mut client, "SET XACT_ABORT ON; SELECT @@SPID AS spid")
            .await
            .map_err(|e| map_err(e, &options).with_operation("connect"))?
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Connection,
                    "the server did not say its session id",
                )
                .with_operation("connect")
            })?;
        Ok(MssqlConnection {
            client: Some(client),
            spid: spid as i32,
            options,
            busy: false,
            broken: false,
            in_tx: false,
            locks: 0,
            cancel: Arc::new(watch::channel(0).0),
        })
    }

    /// The server's session id of this connection (`@@SPID`).
    pub fn spid(&self) -> i32 {
        self.spid
    }

    pub(crate) fn holds_migration_lock(&self) -> bool {
        self.locks > 0
    }

    /// After the canceller fired: the statement's future is gone; stop it on the server.
    /// The connection is discarded whatever happens.
    async fn stopped(&mut self) -> Error {
        self.broken = true;
        let Some(client) = self.client.as_mut() else {
            return closed();
        };
        let stopped = stop(client, &self.options, self.spid).await;
        // Handled here: dropping the connection must not stop it a second time.
        self.busy = false;
        match stopped {
            // Confirmed by the server: a Timeout without "outcome unknown".
            Ok(()) => Error::new(
                ErrorKind::Timeout,
                "the server acknowledged the ATTENTION and stopped the statement",
            ),
            Err(how) => Error::new(
                ErrorKind::Timeout,
                format!("the statement was not confirmed stopped: {how}"),
            )
            .with_outcome_unknown(),
        }
    }

    /// Learns whether a transaction is open (after SQL that may have opened or ended one,
    /// or an error that XACT_ABORT may have rolled back).
    async fn refresh_tx(&mut self) {
        if self.broken {
            return;
        }
        if let Some(c) = self.client.as_mut() {
            match batch_int(c, "SELECT XACT_STATE() AS state").await {
                Ok(state) => self.in_tx = state.unwrap_or(0) != 0,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read XACT_STATE(); the connection will be closed");
                    self.broken = true;
                }
            }
        }
    }

    async fn after(&mut self, sql: &str, failed: bool) {
        if touches_transaction(sql) || (failed && self.in_tx) {
            self.refresh_tx().await;
        }
    }

    async fn simple(&mut self, sql: &str) -> Result<()> {
        let options = self.options.clone();
        cancellable!(self, |c| async {
            run_batch(c, sql).await.map_err(|e| map_err(e, &options))
        })
    }

    async fn applock(&mut self, sql: &str) -> Result<i64> {
        let options = self.options.clone();
        let r = cancellable!(self, |c| async {
            batch_int(c, sql).await.map_err(|e| map_err(e, &options))
        })?;
        r.ok_or_else(|| Error::new(ErrorKind::Migration, "sp_getapplock returned no result"))
    }
}

impl Drop for MssqlConnection {
    /// A connection dropped mid-statement (its task was cancelled, a stream dropped early)
    /// would leave the server running the statement, holding its locks: stop it there.
    fn drop(&mut self) {
        if !self.busy {
            return;
        }
        let Some(mut client) = self.client.take() else {
            return;
        };
        let (options, spid) = (self.options.clone(), self.spid);
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                if let Err(how) = stop(&mut client, &options, spid).await {
                    tracing::warn!(spid, "stopping an abandoned statement: {how}");
                }
            });
        }
    }
}

#[async_trait]
impl Connection for MssqlConnection {
    fn dialect(&self) -> &dyn Dialect {
        &DIALECT
    }

    async fn query_raw(&mut self, sql: &str, values: &[Value]) -> Result<Rows> {
        self.run_query(sql, values, false).await
    }

    async fn query_first_raw(&mut self, sql: &str, values: &[Value]) -> Result<Rows> {
        self.run_query(sql, values, true).await
    }

    fn query_stream_raw<'a>(&'a mut self, sql: &'a str, values: &'a [Value]) -> BoxRowStream<'a> {
        self.stream_rows(sql, values)
    }

    /// The total of every count the statement (or batch) reported.
    async fn execute_raw(&mut self, sql: &str, values: &[Value]) -> Result<u64> {
        let params = bind(values)?;
        let options = self.options.clone();
        let r = cancellable!(self, |c| async {
            let refs: Vec<&dyn ToSql> = params.iter().map(|p| p as &dyn ToSql).collect();
            c.execute(sql, &refs)
                .await
                .map(tiberius::ExecuteResult::total)
                .map_err(|e| map_err(e, &options))
        });
        self.after(sql, r.is_err()).await;
        r
    }

    async fn execute_script(&mut self, sql: &str) -> Result<()> {
        let r = self.simple(sql).await;
        self.after(sql, r.is_err()).await;
        r
    }

    async fn begin(&mut self) -> Result<()> {
        self.simple("BEGIN TRANSACTION").await?;
        self.in_tx = true;
        Ok(())
    }

    async fn commit(&mut self) -> Result<()> {
        let r = self.simple("COMMIT TRANSACTION").await;
        if r.is_err() {
            self.refresh_tx().await;
        } else {
            self.in_tx = false;
        }
        r
    }

    async fn rollback(&mut self) -> Result<()> {
        // XACT_ABORT may have rolled back already; a second ROLLBACK would raise 3903.
        let r = self
            .simple("IF XACT_STATE() <> 0 ROLLBACK TRANSACTION")
            .await;
        if r.is_ok() {
            self.in_tx = false;
        }
        r
    }

    async fn ping(&mut self) -> Result<()> {
        self.simple("SELECT 1").await
    }

    async fn lock_migrations(&mut self, wait: Duration) -> Result<()> {
        let sql = format!(
            "DECLARE @r int; EXEC @r = sp_getapplock @Resource = N'{MIGRATION_LOCK_RESOURCE}', @LockMode = 'Exclusive', @LockOwner = 'Session', @LockTimeout = 0; SELECT @r AS result"
        );
        let deadline = Instant::now() + wait;
        loop {
            match self.applock(&sql).await? {
                0 | 1 => {
                    self.locks += 1;
                    return Ok(());
                }
                // -1 timed out (held elsewhere), -2 cancelled, -3 chosen as deadlock victim:
                // try again until the wait is over.
                -3..=-1 if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                -3..=-1 => {
                    return Err(Error::new(
                        ErrorKind::Migration,
                        format!(
                            "another session has held the migration lock (sp_getapplock `{MIGRATION_LOCK_RESOURCE}`) for over {} s",
                            wait.as_secs_f64()
                        ),
                    )
                    .with_hint("wait for the other migration to finish (see sys.dm_tran_locks, resource_type APPLICATION), then run again"));
                }
                code => {
                    return Err(Error::new(
                        ErrorKind::Migration,
                        format!("sp_getapplock failed with return code {code}"),
                    )
                    .with_hint("check that the login may call sp_getapplock in this database"));
                }
            }
        }
    }

    async fn unlock_migrations(&mut self) -> Result<()> {
        while self.locks > 0 {
            let sql = format!(
                "DECLARE @r int; EXEC @r = sp_releaseapplock @Resource = N'{MIGRATION_LOCK_RESOURCE}', @LockOwner = 'Session'; SELECT @r AS result"
            );
            let code = self.applock(&sql).await?;
            if code != 0 {
                return Err(Error::new(
                    ErrorKind::Migration,
                    format!("sp_releaseapplock failed with return code {code}"),
                )
                .with_hint("the lock ends with the session: closing the connection frees it"));
            }
            self.locks -= 1;
        }
        Ok(())
    }

    fn canceller(&self) -> Option<Arc<dyn Canceller>> {
        Some(Arc::new(MssqlCanceller {
            spid: self.spid,
            signal: self.cancel.clone(),
        }))
    }

    fn in_transaction(&self) -> bool {
        self.in_tx
    }

    fn is_broken(&self) -> bool {
        self.broken || self.busy || self.client.is_none()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn transaction_words_are_noticed() {
        for sql in [
            "BEGIN TRAN",
            "begin transaction; insert t values (1)",
            "COMMIT",
            "IF @@TRANCOUNT > 0 ROLLBACK",
            "SAVE TRANSACTION s",
        ] {
            assert!(super::touches_transaction(sql), "{sql}");
        }
        assert!(!super::touches_transaction("SELECT 1"));
    }
}
