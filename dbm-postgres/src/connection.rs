//! `PgConnection`: one sqlx connection, its backend pid, and a canceller that stops its
//! running statement on the server.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use dbm_core::{
    BoxRowStream, Canceller, Column, Columns, Connection, Dialect, Error, ErrorKind, Result, Row,
    Rows, Value, async_trait,
};
use sqlx::{
    AssertSqlSafe, Column as _, Connection as _, Executor, Row as _, SqlSafeStr, Statement as _,
    TypeInfo,
};

use crate::dialect::PgDialect;
use crate::error::map_err;
use crate::options::PgOptions;
use crate::types::{Bind, decode};

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
    statements: std::collections::HashMap<Arc<str>, Prepared>,
}

/// A statement prepared on this connection, and its result columns built once.
struct Prepared {
    stmt: sqlx::postgres::PgStatement,
    columns: Columns,
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

/// Cancels a statement with `pg_cancel_backend(pid)` sent over a fresh connection.
pub struct PgCanceller {
    pid: i32,
    options: Arc<PgOptions>,
    sent: Arc<AtomicBool>,
}

impl fmt::Debug for PgCanceller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgCanceller")
            .field("pid", &self.pid)
            .finish()
    }
}

#[async_trait]
impl Canceller for PgCanceller {
    async fn cancel(&self) {
        let result = async {
            let mut c = open(&self.options).await?;
            sqlx::query("SELECT pg_cancel_backend($1)")
                .bind(self.pid)
                .execute(&mut c)
                .await
                .map_err(|e| map_err(e, &self.options))?;
            let _ = c.close().await;
            Ok::<(), Error>(())
        }
        .await;
        match result {
            Ok(()) => self.sent.store(true, Ordering::SeqCst),
            Err(e) => {
                tracing::warn!(pid = self.pid, error = %e, "could not cancel the statement on the server")
            }
        }
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
            statements: std::collections::HashMap::new(),
        })
    }

    /// Forgets every prepared statement, sqlx's and this connection's.
    async fn forget_statements(&mut self) -> Result<()> {
        self.statements.clear();
        match self.conn.clear_cached_statements().await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.fail(e)),
        }
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

    /// Whether `r` failed because a cached prepared statement no longer fits its table
    /// (SQLSTATE 0A000, "cached plan must not change result type", after an `ALTER TABLE`)
    /// and may be run once more: PostgreSQL refuses such a statement before executing it,
    /// so nothing ran. The statement cache is cleared first. Inside a transaction the error
    /// has aborted the transaction, so it is returned as it is.
    async fn stale_plan<T>(&mut self, r: &Result<T>) -> bool {
        let stale = matches!(r, Err(e) if matches!(e.code(), Some(dbm_core::ErrorCode::SqlState(s)) if s == "0A000"));
        if !stale || self.in_tx || self.broken {
            return false;
        }
        tracing::debug!("a cached statement no longer fits its table; preparing again");
        self.forget_statements().await.is_ok()
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

    /// The statement for `sql` (prepared here before, or now) with its result columns, and
    /// `values` bound as the statement's parameter types. A statement whose types do not fit
    /// these values (prepared earlier with a NULL, say) is prepared again.
    async fn prepare_bound<'v>(
        &mut self,
        sql: &str,
        values: &'v [Value],
    ) -> Result<(sqlx::postgres::PgStatement, Columns, Vec<Bind<'v>>)> {
        if let Some(p) = self.statements.get(sql) {
            if let Some(binds) = bind_all(values, &p.stmt)? {
                return Ok((p.stmt.clone(), p.columns.clone(), binds));
            }
            tracing::debug!("cached statement types do not fit the values; preparing again");
            self.forget_statements().await?;
        }
        let declared: Vec<_> = values
            .iter()
            .map(|v| Bind::new(v).map(|b| b.declared_type()))
            .collect::<Result<_>>()?;
        for attempt in 0..2 {
            // Bounded like a statement cache: forgotten wholesale when it grows large.
            if self.statements.len() >= 512 {
                self.statements.clear();
            }
            let text: Arc<str> = Arc::from(sql);
            let stmt = match (&mut self.conn)
                .prepare_with(AssertSqlSafe(text.clone()).into_sql_str(), &declared)
                .await
            {
                Ok(s) => s,
                Err(e) => return Err(self.fail(e)),
            };
            if let Some(binds) = bind_all(values, &stmt)? {
                let columns = Columns::new(
                    stmt.columns()
                        .iter()
                        .map(|c| Column::new(c.name(), c.type_info().name()))
                        .collect(),
                );
                self.statements.insert(
                    text,
                    Prepared {
                        stmt: stmt.clone(),
                        columns: columns.clone(),
                    },
                );
                return Ok((stmt, columns, binds));
            }
            if attempt == 0 {
                tracing::debug!("cached statement types do not fit the values; preparing again");
                self.forget_statements().await?;
            }
        }
        Err(Error::parameter(
            "the parameter values do not fit the types PostgreSQL inferred for them",
        )
        .with_hint("add casts in the SQL, e.g. :id::bigint"))
    }

    async fn run_query(&mut self, sql: &str, values: &[Value]) -> std::result::Result<Rows, Error> {
        let (stmt, columns, binds) = self.prepare_bound(sql, values).await?;
        let mut q = stmt.query();
        for b in binds {
            q = q.bind(b);
        }
        // Each row is decoded as it arrives and its wire buffer freed: the result is not
        // held twice (sqlx's rows, then ours).
        let mut out = Rows::new(columns);
        let width = out.columns().len();
        let mut wire_error = None;
        let mut decode_error = None;
        {
            use futures_util::TryStreamExt;
            let mut stream = q.fetch(&mut self.conn);
            'rows: loop {
                let row = match stream.try_next().await {
                    Ok(Some(row)) => row,
                    Ok(None) => break,
                    Err(e) => {
                        wire_error = Some(e);
                        break;
                    }
                };
                let mut vals = Vec::with_capacity(width);
                for i in 0..width {
                    let raw = match row.try_get_raw(i) {
                        Ok(raw) => raw,
                        Err(e) => {
                            wire_error = Some(e);
                            break 'rows;
                        }
                    };
                    match decode(raw, out.columns().as_slice()[i].name()) {
                        Ok(v) => vals.push(v),
                        Err(e) => {
                            decode_error = Some(e);
                            break 'rows;
                        }
                    }
                }
                out.push(vals);
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

    /// Prepares and binds; returns the statement's text (shared, not copied), the arguments
    /// and the result's columns.
    async fn prepare_stream(
        &mut self,
        sql: &str,
        values: &[Value],
    ) -> Result<(sqlx::SqlStr, sqlx::postgres::PgArguments, Columns)> {
        use sqlx::Arguments as _;
        use sqlx::Statement as _;
        let (stmt, columns, binds) = self.prepare_bound(sql, values).await?;
        let mut args = sqlx::postgres::PgArguments::default();
        for b in binds {
            args.add(b)
                .map_err(|e| Error::parameter(format!("cannot encode a parameter: {e}")))?;
        }
        Ok((stmt.into_sql(), args, columns))
    }

    async fn run_execute(&mut self, sql: &str, values: &[Value]) -> Result<u64> {
        let (stmt, _, binds) = self.prepare_bound(sql, values).await?;
        let mut q = stmt.query();
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

/// `values` bound as `stmt`'s parameter types; `None` when one does not fit them.
fn bind_all<'v>(
    values: &'v [Value],
    stmt: &sqlx::postgres::PgStatement,
) -> Result<Option<Vec<Bind<'v>>>> {
    let types: &[sqlx::postgres::PgTypeInfo] = match stmt.parameters() {
        Some(sqlx::Either::Left(types)) => types,
        _ => &[],
    };
    if types.len() != values.len() {
        return Err(Error::parameter(format!(
            "the statement has {} placeholders but {} values were bound",
            types.len(),
            values.len()
        )));
    }
    let mut binds = Vec::with_capacity(values.len());
    for (v, t) in values.iter().zip(types) {
        match Bind::coerce(v, t)? {
            Some(b) => binds.push(b),
            None => return Ok(None),
        }
    }
    Ok(Some(binds))
}

/// How a statement changes the session's transaction state: `Some(true)` opens one,
/// `Some(false)` ends one. SQL sent through `execute("BEGIN")` must be tracked too, or a
/// connection would go back to the pool inside a transaction.
///
/// Called for every statement, so the common case is cheap: SQL without a `;` before its
/// end is one statement, and only its first two words are read (no split, no allocation).
fn transaction_effect(sql: &str) -> Option<bool> {
    let body = sql.trim_end().trim_end_matches(';');
    if !body.contains(';') {
        return statement_effect(body);
    }
    let mut effect = None;
    for stmt in dbm_core::split_script(
        sql,
        &dbm_core::SqlSyntax::POSTGRES,
        dbm_core::ScriptSplit::Semicolon,
    ) {
        if let Some(e) = statement_effect(&stmt.sql) {
            effect = Some(e);
        }
    }
    effect
}

/// The transaction effect of one statement, from its first two words (comments skipped,
/// case ignored).
fn statement_effect(stmt: &str) -> Option<bool> {
    let mut words = Words(stmt.as_bytes());
    let first = words.next()?;
    let is = |w: &[u8], k: &str| w.eq_ignore_ascii_case(k.as_bytes());
    if is(first, "BEGIN") || is(first, "START") {
        Some(true)
    } else if is(first, "COMMIT") || is(first, "END") || is(first, "ABORT") {
        Some(false)
    } else if is(first, "ROLLBACK") {
        // ROLLBACK TO SAVEPOINT keeps the transaction.
        (!words.next().is_some_and(|w| is(w, "TO"))).then_some(false)
    } else if is(first, "PREPARE") {
        words
            .next()
            .is_some_and(|w| is(w, "TRANSACTION"))
            .then_some(false)
    } else {
        None
    }
}

/// The words of SQL text: runs of bytes between ASCII white space, without `--` and
/// `/* */` comments and without a trailing `;`. Reads only as far as it is asked to.
struct Words<'a>(&'a [u8]);

impl<'a> Iterator for Words<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let b = self.0;
        let mut i = 0;
        loop {
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if b[i..].starts_with(b"--") {
                i += b[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .unwrap_or(b.len() - i);
            } else if b[i..].starts_with(b"/*") {
                i += 2 + b[i + 2..]
                    .windows(2)
                    .position(|w| w == b"*/")
                    .map_or(b.len() - i - 2, |p| p + 2);
            } else {
                break;
            }
        }
        if i >= b.len() {
            self.0 = &[];
            return None;
        }
        let mut end = i;
        while end < b.len()
            && !b[end].is_ascii_whitespace()
            && !b[end..].starts_with(b"--")
            && !b[end..].starts_with(b"/*")
        {
            end += 1;
        }
        self.0 = &b[end..];
        let mut word = &b[i..end];
        while let [rest @ .., b';'] = word {
            word = rest;
        }
        Some(word)
    }
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

#[async_trait]
impl Connection for PgConnection {
    fn dialect(&self) -> &dyn Dialect {
        &DIALECT
    }

    async fn query_raw(&mut self, sql: &str, values: &[Value]) -> Result<Rows> {
        let mut r = guarded!(self, self.run_query(sql, values).await);
        if self.stale_plan(&r).await {
            r = guarded!(self, self.run_query(sql, values).await);
        }
        self.track(sql, r.is_ok());
        r
    }

    fn query_stream_raw<'a>(&'a mut self, sql: &'a str, values: &'a [Value]) -> BoxRowStream<'a> {
        use futures_util::StreamExt;
        let this = self;
        let start = async move {
            this.cancel_sent.store(false, Ordering::SeqCst);
            this.busy = true;
            let (text, args, columns) = match this.prepare_stream(sql, values).await {
                Ok(p) => p,
                Err(e) => {
                    this.busy = false;
                    return futures_util::stream::iter(vec![Err(e)]).left_stream();
                }
            };
            let PgConnection {
                conn,
                busy,
                broken,
                options,
                ..
            } = this;
            let options = options.clone();
            let rows = sqlx::query_with(text, args).fetch(conn);
            // `busy` stays set until the last row: a stream dropped midway leaves the
            // connection marked, so the pool closes it (and its Drop cancels the statement).
            let state = (rows, columns, busy, broken, options);
            futures_util::stream::unfold(Some(state), |state| async move {
                let (mut rows, columns, busy, broken, options) = state?;
                match rows.next().await {
                    Some(Ok(row)) => {
                        let mut vals = Vec::with_capacity(columns.len());
                        for (i, col) in columns.as_slice().iter().enumerate() {
                            let decoded = row
                                .try_get_raw(i)
                                .map_err(|e| map_err(e, &options))
                                .and_then(|raw| decode(raw, col.name()));
                            match decoded {
                                Ok(v) => vals.push(v),
                                Err(e) => return Some((Err(e), None)),
                            }
                        }
                        let row = Row::new(columns.clone(), vals);
                        Some((Ok(row), Some((rows, columns, busy, broken, options))))
                    }
                    Some(Err(e)) => {
                        let err = map_err(e, &options);
                        if err.kind() == ErrorKind::Connection {
                            *broken = true;
                        }
                        drop(rows);
                        *busy = false;
                        Some((Err(err), None))
                    }
                    None => {
                        drop(rows);
                        *busy = false;
                        None
                    }
                }
            })
            .right_stream()
        };
        futures_util::stream::once(start).flatten().boxed()
    }

    async fn execute_raw(&mut self, sql: &str, values: &[Value]) -> Result<u64> {
        let mut r = guarded!(self, self.run_execute(sql, values).await);
        if self.stale_plan(&r).await {
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

#[cfg(test)]
mod tests {
    use super::transaction_effect;

    #[test]
    fn transaction_statements_are_recognised() {
        assert_eq!(transaction_effect("BEGIN"), Some(true));
        assert_eq!(
            transaction_effect("start transaction isolation level serializable"),
            Some(true)
        );
        assert_eq!(
            transaction_effect("BEGIN; INSERT INTO t VALUES (1); COMMIT;"),
            Some(false)
        );
        assert_eq!(transaction_effect("ROLLBACK TO SAVEPOINT a"), None);
        assert_eq!(transaction_effect("rollback"), Some(false));
        assert_eq!(transaction_effect("-- c\nEND"), Some(false));
        assert_eq!(transaction_effect("SELECT 'BEGIN'"), None);
        // The one-statement fast path: trailing `;` and white space, case, CASE ... END.
        assert_eq!(transaction_effect("  commit ;  \n"), Some(false));
        assert_eq!(transaction_effect("Begin;"), Some(true));
        assert_eq!(transaction_effect("SELECT CASE WHEN true THEN 1 END"), None);
        assert_eq!(transaction_effect("PREPARE TRANSACTION 'x'"), Some(false));
        assert_eq!(transaction_effect("PREPARE q AS SELECT 1"), None);
        assert_eq!(transaction_effect(""), None);
        assert_eq!(transaction_effect("  -- only a comment"), None);
        // Comments anywhere between the words, and glued to them.
        assert_eq!(transaction_effect("/* c; */ BEGIN"), Some(true));
        assert_eq!(transaction_effect("/* unterminated"), None);
        assert_eq!(transaction_effect("BEGIN--x"), Some(true));
        assert_eq!(transaction_effect("COMMIT/* x */"), Some(false));
        assert_eq!(transaction_effect("ROLLBACK -- why\n TO SAVEPOINT a"), None);
        assert_eq!(transaction_effect("ROLLBACK /* why */ TO a"), None);
        assert_eq!(transaction_effect("rollback;;"), Some(false));
        assert_eq!(transaction_effect("BEGINNING"), None);
        // A `;` inside a literal takes the splitting path, with the same answer.
        assert_eq!(transaction_effect("SELECT ';'"), None);
        assert_eq!(transaction_effect("COMMIT; SELECT ';'"), Some(false));
        assert_eq!(
            transaction_effect(
                "CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END $$ LANGUAGE plpgsql"
            ),
            None
        );
    }
}
