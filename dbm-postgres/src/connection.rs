//! `PgConnection`: one sqlx connection, its backend pid, and a canceller that stops its
//! running statement on the server.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use dbm_core::{
    BoxRowStream, Canceller, Columns, Connection, Dialect, Error, ErrorKind, Result, Rows, Value,
    async_trait,
};
use sqlx::{AssertSqlSafe, Connection as _, Executor, SqlSafeStr, Statement as _};

use crate::cancel::PgCanceller;
use crate::decode::{Decoder, decode_cells};
use crate::dialect::PgDialect;
use crate::error::map_err;
use crate::options::PgOptions;
use crate::stream::{PgRowStream, Reading};
use crate::tracking::transaction_effect;

mod statements;

use statements::Prepared;

static DIALECT: PgDialect = PgDialect;

/// The advisory lock key of migration runs: any fixed 64-bit number works as long as every
/// dbm process uses the same one ("dbm:migrate" in ASCII).
pub const MIGRATION_LOCK_KEY: i64 = 0x64626d3a6d696772;

/// One PostgreSQL connection.
///
/// If a call's future is dropped mid-flight (a timeout, a cancelled task), the connection
/// is marked broken and the pool closes it: the protocol state is unknown, and closing also
/// ends any open transaction and releases session locks on the server.
pub struct PgConnection {
    conn: sqlx::PgConnection,
    pid: i32,
    options: Arc<PgOptions>,
    busy: bool,
    broken: bool,
    in_tx: bool,
    locked: bool,
    /// Set by this connection's canceller once it sent a cancel, so that dropping the
    /// connection does not send a second one for the same statement.
    cancel_sent: Arc<AtomicBool>,
    /// Made once: each statement gets a clone of the `Arc`, not a new canceller.
    canceller: Arc<PgCanceller>,
    /// Each SQL text run here with its prepared statement and result columns: a statement
    /// run again is bound and executed without asking sqlx to prepare it (sqlx still finds
    /// its server-side statement in its own cache, by the same shared text). Cleared with
    /// sqlx's cache, when a statement no longer fits its table or its parameter types.
    statements: hashbrown::HashMap<Arc<str>, Prepared>,
}

impl fmt::Debug for PgConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgConnection")
            .field("target", &self.options.to_string())
            .field("pid", &self.pid)
            .field("in_transaction", &self.in_tx)
            .field("broken", &self.is_broken())
            .finish()
    }
}

/// Opens a raw sqlx connection within the connect timeout.
pub(crate) async fn open(options: &PgOptions) -> Result<sqlx::PgConnection> {
    dbm_core::ensure_crypto_provider();
    // With verify-ca and verify-full, sqlx reads the CA file during the handshake and
    // reports a missing one as a plain I/O error, which reads like an unreachable server:
    // check it first.
    let verifies = matches!(
        options.ssl_mode(),
        sqlx::postgres::PgSslMode::VerifyCa | sqlx::postgres::PgSslMode::VerifyFull
    );
    if verifies
        && let Some(ca) = options.ssl_root_cert()
        && let Err(e) = std::fs::metadata(ca)
    {
        return Err(crate::error::tls_error(
            options,
            &format!("cannot read the CA certificate {}: {e}", ca.display()),
        )
        .with_operation("connect"));
    }
    match tokio::time::timeout(
        options.connect_timeout,
        sqlx::PgConnection::connect_with(&options.connect),
    )
    .await
    {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(map_err(e, options).with_operation("connect")),
        Err(_) => Err(Error::new(
            ErrorKind::Connection,
            format!(
                "no answer from {}:{} within {} s",
                options.host(),
                options.port(),
                options.connect_timeout.as_secs_f64()
            ),
        )
        .with_code(dbm_core::ErrorCode::ConnectIo)
        .with_operation("connect")
        .with_hint("check that the server is running and reachable")),
    }
}

fn sql_str(sql: &str) -> sqlx::SqlStr {
    // dbm binds every value; the SQL text comes from the application, never from data.
    AssertSqlSafe(sql.to_owned()).into_sql_str()
}

/// Marks the connection busy for the duration of one call; a dropped future leaves it set.
macro_rules! guarded {
    ($self:ident, $call:expr) => {{
        $self.cancel_sent.store(false, Ordering::SeqCst);
        $self.busy = true;
        let r = $call;
        $self.busy = false;
        r
    }};
}

impl PgConnection {
    pub(crate) async fn connect(options: Arc<PgOptions>) -> Result<Self> {
        let mut conn = open(&options).await?;
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut conn)
            .await
            .map_err(|e| map_err(e, &options).with_operation("connect"))?;
        let cancel_sent = Arc::new(AtomicBool::new(false));
        let canceller = Arc::new(PgCanceller {
            pid,
            options: options.clone(),
            sent: cancel_sent.clone(),
        });
        Ok(PgConnection {
            conn,
            pid,
            options,
            busy: false,
            broken: false,
            in_tx: false,
            locked: false,
            cancel_sent,
            canceller,
            statements: hashbrown::HashMap::new(),
        })
    }

    /// The server process id of this connection.
    pub fn backend_pid(&self) -> i32 {
        self.pid
    }

    /// Follows transaction statements the caller sent as plain SQL.
    fn track(&mut self, sql: &str, ok: bool) {
        match transaction_effect(sql) {
            Some(true) if ok => self.in_tx = true,
            Some(false) => self.in_tx = false,
            // A failed statement of a script may have left a transaction open: be safe.
            Some(true) => self.in_tx = true,
            None => {}
        }
    }

    pub(crate) fn holds_migration_lock(&self) -> bool {
        self.locked
    }

    fn fail(&mut self, e: sqlx::Error) -> Error {
        let err = map_err(e, &self.options);
        if err.kind() == ErrorKind::Connection {
            self.broken = true;
        }
        err
    }

    /// Runs a query into `Rows`: every row, or (`first_only`) the first one, the others read
    /// and dropped as sqlx's `fetch_optional` does.
    async fn run_query(
        &mut self,
        sql: &str,
        values: &[Value],
        first_only: bool,
    ) -> std::result::Result<Rows, Error> {
        let (prepared, binds) = self.prepare_bound(sql, values).await?;
        let Prepared {
            stmt,
            columns,
            decoders,
        } = prepared;
        let mut q = stmt.query();
        for b in binds {
            q = q.bind(b);
        }
        let mut out = Rows::new(columns.clone());
        if first_only {
            // One async stream where `fetch_many` has two: the whole result is still read.
            let row = match sqlx::Executor::fetch_optional(&mut self.conn, q).await {
                Ok(row) => row,
                Err(e) => return Err(self.fail(e)),
            };
            if let Some(row) = row {
                out.try_push(decode_cells(&row, &columns, &decoders, &self.options))?;
            }
            return Ok(out);
        }
        // Each row is decoded as it arrives and its wire buffer freed: the result is not
        // held twice (sqlx's rows, then ours).
        let mut wire_error = None;
        let mut decode_error = None;
        {
            use futures_util::TryStreamExt;
            // `fetch_many` rather than `fetch`: the same stream without one more boxed layer
            // that only filters out the final result summary.
            let mut stream = sqlx::Executor::fetch_many(&mut self.conn, q);
            loop {
                let row = match stream.try_next().await {
                    Ok(Some(sqlx::Either::Right(row))) => row,
                    Ok(Some(sqlx::Either::Left(_))) => continue,
                    Ok(None) => break,
                    Err(e) => {
                        wire_error = Some(e);
                        break;
                    }
                };
                // The values go straight into the result's one vector.
                let cells = decode_cells(&row, &columns, &decoders, &self.options);
                if let Err(e) = out.try_push(cells) {
                    decode_error = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = wire_error {
            return Err(self.fail(e));
        }
        if let Some(e) = decode_error {
            return Err(e);
        }
        Ok(out)
    }

    /// `run_query` with its guards: a stale cached plan repaired and run once more, the
    /// transaction state followed.
    async fn query_rows(&mut self, sql: &str, values: &[Value], first_only: bool) -> Result<Rows> {
        let mut r = guarded!(self, self.run_query(sql, values, first_only).await);
        if let Err(e) = &r
            && self.repair_stale_plan(e).await
        {
            r = guarded!(self, self.run_query(sql, values, first_only).await);
        }
        self.track(sql, r.is_ok());
        r
    }

    /// Prepares and binds; returns the statement's text (shared, not copied), the arguments
    /// and the result's columns.
    async fn prepare_stream(
        &mut self,
        sql: &str,
        values: &[Value],
    ) -> Result<(
        sqlx::SqlStr,
        sqlx::postgres::PgArguments,
        Columns,
        Arc<[Decoder]>,
    )> {
        use sqlx::Arguments as _;
        use sqlx::Statement as _;
        let (p, binds) = self.prepare_bound(sql, values).await?;
        let mut args = sqlx::postgres::PgArguments::default();
        for b in binds {
            args.add(b)
                .map_err(|e| Error::parameter(format!("cannot encode a parameter: {e}")))?;
        }
        Ok((p.stmt.into_sql(), args, p.columns, p.decoders))
    }

    async fn run_execute(&mut self, sql: &str, values: &[Value]) -> Result<u64> {
        let (p, binds) = self.prepare_bound(sql, values).await?;
        let mut q = p.stmt.query();
        for b in binds {
            q = q.bind(b);
        }
        match q.execute(&mut self.conn).await {
            Ok(r) => Ok(r.rows_affected()),
            Err(e) => Err(self.fail(e)),
        }
    }

    async fn run_script(&mut self, sql: &str) -> Result<()> {
        match sqlx::raw_sql(sql_str(sql)).execute(&mut self.conn).await {
            Ok(_) => Ok(()),
            Err(e) => Err(self.fail(e)),
        }
    }
}

impl Drop for PgConnection {
    /// A connection dropped mid-statement (its task was cancelled) would leave the server
    /// running the statement, holding its locks, until it ends: cancel it on the server.
    fn drop(&mut self) {
        if !self.busy || self.cancel_sent.load(Ordering::SeqCst) {
            return;
        }
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let canceller = self.canceller.clone();
            handle.spawn(async move { canceller.cancel().await });
        }
    }
}

#[async_trait]
impl Connection for PgConnection {
    fn dialect(&self) -> &dyn Dialect {
        &DIALECT
    }

    async fn query_raw(&mut self, sql: &str, values: &[Value]) -> Result<Rows> {
        self.query_rows(sql, values, false).await
    }

    async fn query_first_raw(&mut self, sql: &str, values: &[Value]) -> Result<Rows> {
        self.query_rows(sql, values, true).await
    }

    fn query_stream_raw<'a>(&'a mut self, sql: &'a str, values: &'a [Value]) -> BoxRowStream<'a> {
        let this = self;
        let preparing = async move {
            this.cancel_sent.store(false, Ordering::SeqCst);
            this.busy = true;
            let (text, args, columns, decoders) = match this.prepare_stream(sql, values).await {
                Ok(p) => p,
                Err(e) => {
                    this.busy = false;
                    return Err(e);
                }
            };
            let PgConnection {
                conn,
                busy,
                broken,
                options,
                ..
            } = this;
            // `fetch_many` rather than `fetch`: one boxed layer less; the stream skips the
            // final result summary itself.
            let rows = Executor::fetch_many(conn, sqlx::query_with(text, args));
            Ok(Reading {
                rows,
                columns,
                decoders,
                busy,
                broken,
                options: options.clone(),
            })
        };
        Box::pin(PgRowStream::Preparing(Box::pin(preparing)))
    }

    async fn execute_raw(&mut self, sql: &str, values: &[Value]) -> Result<u64> {
        let mut r = guarded!(self, self.run_execute(sql, values).await);
        if let Err(e) = &r
            && self.repair_stale_plan(e).await
        {
            r = guarded!(self, self.run_execute(sql, values).await);
        }
        self.track(sql, r.is_ok());
        r
    }

    async fn execute_script(&mut self, sql: &str) -> Result<()> {
        let r = guarded!(self, self.run_script(sql).await);
        self.track(sql, r.is_ok());
        r
    }

    async fn begin(&mut self) -> Result<()> {
        guarded!(self, self.run_script("BEGIN").await)?;
        self.in_tx = true;
        Ok(())
    }

    async fn commit(&mut self) -> Result<()> {
        let r = guarded!(self, self.run_script("COMMIT").await);
        // Whatever the outcome, the server has left the transaction (a failed COMMIT rolls
        // back), unless the connection itself broke.
        self.in_tx = false;
        r
    }

    async fn rollback(&mut self) -> Result<()> {
        let r = guarded!(self, self.run_script("ROLLBACK").await);
        if r.is_ok() {
            self.in_tx = false;
        }
        r
    }

    async fn ping(&mut self) -> Result<()> {
        guarded!(self, {
            let r = self.conn.ping().await;
            r.map_err(|e| self.fail(e))
        })
    }

    async fn lock_migrations(&mut self, wait: Duration) -> Result<()> {
        // If this process dies mid-migration, the server should notice within a second
        // (PostgreSQL 14+), end the session and so free the lock, rather than when the
        // running statement ends. Older servers do not know the setting: that is fine.
        let checked = guarded!(self, {
            let r = sqlx::raw_sql(sql_str("SET client_connection_check_interval = 1000"))
                .execute(&mut self.conn)
                .await;
            r.map_err(|e| self.fail(e))
        });
        if let Err(e) = checked {
            if self.is_broken() {
                return Err(e);
            }
            tracing::debug!(error = %e, "client_connection_check_interval not available");
        }
        let deadline = Instant::now() + wait;
        loop {
            let got: bool = guarded!(self, {
                let r = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                    .bind(MIGRATION_LOCK_KEY)
                    .fetch_one(&mut self.conn)
                    .await;
                r.map_err(|e| self.fail(e))
            })?;
            if got {
                self.locked = true;
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::new(
                    ErrorKind::Migration,
                    format!(
                        "another session has held the migration lock (advisory lock {MIGRATION_LOCK_KEY}) for over {} s",
                        wait.as_secs()
                    ),
                )
                .with_hint("wait for the other migration to finish (see pg_locks), then run again"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn unlock_migrations(&mut self) -> Result<()> {
        if !self.locked {
            return Ok(());
        }
        guarded!(self, {
            let r = sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(MIGRATION_LOCK_KEY)
                .execute(&mut self.conn)
                .await;
            r.map_err(|e| self.fail(e))
        })?;
        self.locked = false;
        let _ = guarded!(self, {
            let r = sqlx::raw_sql(sql_str("RESET client_connection_check_interval"))
                .execute(&mut self.conn)
                .await;
            r.map_err(|e| self.fail(e))
        });
        Ok(())
    }

    async fn recover(&mut self, error: &Error) -> bool {
        self.repair_stale_plan(error).await
    }

    fn canceller(&self) -> Option<Arc<dyn Canceller>> {
        Some(self.canceller.clone())
    }

    fn in_transaction(&self) -> bool {
        self.in_tx
    }

    fn is_broken(&self) -> bool {
        self.broken || self.busy
    }
}
