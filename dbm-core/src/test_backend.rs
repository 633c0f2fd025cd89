//! What a driver gives the shared conformance suite (in `dbm-testing`) so that the suite
//! can test it: isolated databases, and a few queries in the driver's own SQL.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;

use crate::connection::Database;
use crate::error::Result;
use crate::pool::PoolConfig;

/// The column types the shared suite's DDL uses, written in each driver's SQL by
/// [`TestBackend::sql_type`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SqlType {
    /// A 32- or 64-bit integer (`INTEGER`).
    Integer,
    /// Text that can be compared, indexed and made UNIQUE (`TEXT`, SQL Server
    /// `NVARCHAR(200)`).
    Text,
    /// A double-precision float.
    Float,
    /// A boolean (`BOOLEAN`, SQL Server `BIT`).
    Bool,
}

/// A driver's test support. Drivers that need a server read its URL from
/// [`server_var`](TestBackend::server_var); embedded ones create files.
#[async_trait]
pub trait TestBackend: Send + Sync + fmt::Debug {
    /// The environment variable naming the server tests may create databases on
    /// (`DBM_TEST_POSTGRES_URL`), or `None` for an embedded database.
    fn server_var(&self) -> Option<&'static str> {
        None
    }

    /// A fresh, empty database that no other test uses: a new file in `scratch`, or a new
    /// database on the server `server` names. It is dropped with the returned handle.
    async fn create(
        &self,
        server: Option<&str>,
        scratch: &Path,
    ) -> Result<Box<dyn IsolatedDatabase>>;

    /// A query whose rows are the current database's tables, in a column `name`, in name
    /// order.
    fn list_tables_query(&self) -> &'static str;

    /// A query returning one row after many seconds, unless cancelled first.
    fn slow_query(&self) -> &'static str;

    /// A query returning the rows 1, 2, 3, ... in a column `n`, without end.
    fn endless_query(&self) -> &'static str;

    /// The name of `t` in the driver's DDL.
    fn sql_type(&self, t: SqlType) -> &'static str {
        match t {
            SqlType::Integer => "INTEGER",
            SqlType::Text => "TEXT",
            SqlType::Float => "DOUBLE PRECISION",
            SqlType::Bool => "BOOLEAN",
        }
    }

    /// The statement that opens a transaction when sent as plain SQL.
    fn begin_statement(&self) -> &'static str {
        "BEGIN"
    }
}

/// One isolated test database. Dropping it drops the database.
pub trait IsolatedDatabase: Send + Sync + fmt::Debug {
    /// Its URL (it may hold the test server's password: for tests only).
    fn url(&self) -> &str;

    /// A new pool on it, named `name`.
    fn open(&self, name: &str, pool: PoolConfig) -> Arc<dyn Database>;
}

/// A name no other test of any process uses at the same time: `dbm_t_<pid>_<nanos>_<n>`
/// (letters, digits and `_`, usable as a database or file name).
///
/// ```
/// let a = dbm_core::unique_test_name();
/// assert!(a.starts_with("dbm_t_") && a != dbm_core::unique_test_name());
/// ```
pub fn unique_test_name() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("dbm_t_{}_{}_{n}", std::process::id(), nanos)
}

/// Runs one statement without parameters on `db`, then closes `db`: what a test backend
/// does with the one-connection admin pool it opens to create or drop a test database.
pub async fn execute_and_close(db: &dyn Database, sql: &str) -> Result<u64> {
    let r = db.execute(sql, &crate::params::Params::new()).await;
    db.close().await;
    r
}

/// Runs `work` to its end on a thread of its own with a runtime of its own, and waits for
/// it: for dropping a test database from `Drop`, which may run inside a runtime or while
/// a test unwinds. `None` when it could not run or panicked.
pub fn run_detached<T, F>(work: F) -> Option<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        Some(rt.block_on(work))
    })
    .join()
    .ok()
    .flatten()
}

/// A `scheme://` URL with its database (the path) replaced by `database`, the query kept.
///
/// ```
/// assert_eq!(
///     dbm_core::url_with_database("postgres://u:p@h:5/postgres?sslmode=require", "t1"),
///     "postgres://u:p@h:5/t1?sslmode=require"
/// );
/// assert_eq!(dbm_core::url_with_database("mssql://u@h", "t1"), "mssql://u@h/t1");
/// ```
pub fn url_with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority = base.find("://").map_or(0, |p| p + 3);
    let server = match base[authority..].find('/') {
        Some(p) => &base[..authority + p],
        None => base,
    };
    match query {
        Some(q) => format!("{server}/{database}?{q}"),
        None => format!("{server}/{database}"),
    }
}
