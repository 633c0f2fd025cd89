//! Isolated test databases for any driver, through its [`TestBackend`]: a fresh SQLite file,
//! a fresh database created on the server a variable names (`DBM_TEST_POSTGRES_URL`) and
//! dropped afterwards, ...

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use dbm_core::{
    Backend, Database, Driver, IsolatedDatabase, Params, PoolConfig, SqlType, TestBackend,
};
use tempfile::TempDir;

/// The variable naming the PostgreSQL server tests may create databases on.
pub const POSTGRES_URL_VAR: &str = "DBM_TEST_POSTGRES_URL";

/// Set to `1` (CI does) to make a missing test server, or a check the server cannot support,
/// a failure instead of a skip.
pub const REQUIRE_POSTGRES_VAR: &str = "DBM_TEST_REQUIRE_POSTGRES";

/// The variable that makes a missing `server_var` a failure instead of a skip:
/// `DBM_TEST_POSTGRES_URL` → `DBM_TEST_REQUIRE_POSTGRES`, `DBM_TEST_MSSQL_URL` →
/// `DBM_TEST_REQUIRE_MSSQL`.
///
/// ```
/// assert_eq!(dbm_testing::require_var("DBM_TEST_MSSQL_URL"), "DBM_TEST_REQUIRE_MSSQL");
/// ```
pub fn require_var(server_var: &str) -> String {
    let product = server_var
        .strip_prefix("DBM_TEST_")
        .unwrap_or(server_var)
        .trim_end_matches("_URL");
    format!("DBM_TEST_REQUIRE_{product}")
}

/// Says on stderr that a check was skipped and why; when `require` is set to `1` a skip is
/// a failure instead.
///
/// # Panics
/// When the variable `require` is `1`.
pub fn skip_unless_required(require: &str, reason: &str) {
    if std::env::var(require).is_ok_and(|v| v == "1") {
        panic!("{require}=1, so this may not be skipped: {reason}");
    }
    skip_note(reason);
}

/// A test server a fixture runs on, kept alive as long as the databases made on it (the
/// TDS test server of [`crate::tds`], say).
pub struct TestServer {
    url: String,
    _keep: Box<dyn std::any::Any + Send + Sync>,
}

impl fmt::Debug for TestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestServer").finish_non_exhaustive()
    }
}

impl TestServer {
    /// A server reached at `url` (an administrative URL the driver's test backend creates
    /// databases through), kept running by `keep`.
    pub fn new(url: impl Into<String>, keep: impl std::any::Any + Send + Sync) -> Self {
        TestServer {
            url: url.into(),
            _keep: Box::new(keep),
        }
    }

    /// The TDS test server in engine mode (SQLite behind SQL Server's wire protocol).
    #[cfg(feature = "mssql")]
    pub async fn tds_engine() -> Self {
        let server = crate::tds::TdsServer::engine().await;
        TestServer::new(server.url("master"), server)
    }

    /// Its administrative URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// One isolated database for one test, with a scratch directory for migration files.
pub struct TestDb {
    /// The database, pooled.
    pub db: Arc<dyn Database>,
    /// The product.
    pub backend: Backend,
    /// The driver under test.
    pub driver: &'static dyn Driver,
    test: &'static dyn TestBackend,
    // Dropped before `dir`: a database file may live in it.
    isolated: Box<dyn IsolatedDatabase>,
    dir: TempDir,
    // Dropped last: dropping `isolated` may still talk to it.
    _server: Option<TestServer>,
}

impl fmt::Debug for TestDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestDb")
            .field("driver", &self.driver.name())
            .field("database", &self.isolated)
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

/// Whether `DBM_TEST_REQUIRE_POSTGRES=1`: every server test must run.
pub fn postgres_required() -> bool {
    std::env::var(REQUIRE_POSTGRES_VAR).is_ok_and(|v| v == "1")
}

/// Says on stderr that a check was skipped and why; with `DBM_TEST_REQUIRE_POSTGRES=1`
/// (CI) a skip is a failure instead.
///
/// # Panics
/// When `DBM_TEST_REQUIRE_POSTGRES=1`.
pub fn skip(reason: &str) {
    if postgres_required() {
        panic!("{REQUIRE_POSTGRES_VAR}=1, so this may not be skipped: {reason}");
    }
    skip_note(reason);
}

/// Writes straight to the process's stderr: the test harness captures `eprintln!` of
/// passing tests, and a skip must be seen.
pub(crate) fn skip_note(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "skipped: {msg}");
}

impl TestDb {
    /// A fresh database of `driver`'s, or `None` (after saying so, see [`skip`]) when the
    /// driver needs a server and its variable is not set.
    ///
    /// # Panics
    /// When the database cannot be created (the server refuses, say).
    pub async fn new(driver: &'static dyn Driver, pool: PoolConfig) -> Option<TestDb> {
        let test = driver.test_backend();
        let server = match test.server_var() {
            None => None,
            Some(var) => match std::env::var(var) {
                Ok(url) if !url.trim().is_empty() => Some(url),
                _ => {
                    let product = driver.backend().product();
                    skip_unless_required(
                        &require_var(var),
                        &format!(
                            "{var} is not set: {product} tests skipped (see README, \"Testing against {product}\")"
                        ),
                    );
                    return None;
                }
            },
        };
        Some(Self::create(driver, pool, server.as_deref(), None).await)
    }

    /// A fresh database of `driver`'s on `server` (a test server this process runs).
    ///
    /// # Panics
    /// When the database cannot be created.
    pub async fn on_server(
        driver: &'static dyn Driver,
        pool: PoolConfig,
        server: TestServer,
    ) -> TestDb {
        let url = server.url().to_owned();
        Self::create(driver, pool, Some(&url), Some(server)).await
    }

    async fn create(
        driver: &'static dyn Driver,
        pool: PoolConfig,
        server: Option<&str>,
        keep: Option<TestServer>,
    ) -> TestDb {
        let test = driver.test_backend();
        let dir = tempfile::tempdir().expect("temp dir");
        let isolated = test
            .create(server, dir.path())
            .await
            .unwrap_or_else(|e| panic!("cannot create a {} test database: {e}", driver.name()));
        TestDb {
            db: isolated.open("test", pool),
            backend: driver.backend(),
            driver,
            test,
            isolated,
            dir,
            _server: keep,
        }
    }

    /// A fresh SQLite file in a temporary directory.
    #[cfg(feature = "sqlite")]
    pub async fn sqlite(pool: PoolConfig) -> TestDb {
        TestDb::new(&dbm_sqlite::DRIVER, pool)
            .await
            .expect("SQLite needs no server")
    }

    /// A fresh PostgreSQL database, or `None` when no server is configured.
    #[cfg(feature = "postgres")]
    pub async fn postgres(pool: PoolConfig) -> Option<TestDb> {
        TestDb::new(&dbm_postgres::DRIVER, pool).await
    }

    /// The same database through a separate pool (as another process would see it).
    pub fn another_pool(&self, pool: PoolConfig) -> Arc<dyn Database> {
        self.isolated.open("test", pool)
    }

    /// The database's URL (it may hold the test server's password).
    pub fn url(&self) -> &str {
        self.isolated.url()
    }

    /// The PostgreSQL options of this database (`None` for other drivers).
    #[cfg(feature = "postgres")]
    pub fn postgres_options(&self) -> Option<dbm_postgres::PgOptions> {
        (self.backend == Backend::Postgres)
            .then(|| self.url().parse().ok())
            .flatten()
    }

    /// A scratch directory that lives as long as the fixture.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The migrations directory (`<dir>/migrations`), created on first write.
    pub fn migrations_dir(&self) -> PathBuf {
        self.dir.path().join("migrations")
    }

    /// Writes (or overwrites) a migration file.
    pub fn write_migration(&self, file: &str, sql: &str) {
        let dir = self.migrations_dir();
        std::fs::create_dir_all(&dir).expect("create migrations dir");
        std::fs::write(dir.join(file), sql).expect("write migration");
    }

    /// Removes a migration file.
    pub fn remove_migration(&self, file: &str) {
        std::fs::remove_file(self.migrations_dir().join(file)).expect("remove migration");
    }

    /// A statement that returns one row after many seconds, unless cancelled.
    pub fn slow_query(&self) -> &'static str {
        self.test.slow_query()
    }

    /// A query returning the rows 1, 2, 3, ... in a column `n`, without end.
    pub fn endless_query(&self) -> &'static str {
        self.test.endless_query()
    }

    /// The name of `t` in this driver's DDL.
    pub fn sql_type(&self, t: SqlType) -> &'static str {
        self.test.sql_type(t)
    }

    /// The statement that opens a transaction when sent as plain SQL.
    pub fn begin_statement(&self) -> &'static str {
        self.test.begin_statement()
    }

    /// The database's tables, in name order.
    pub async fn tables(&self) -> Vec<String> {
        let rows = self
            .db
            .query(self.test.list_tables_query(), &Params::new())
            .await
            .expect("list tables");
        rows.iter()
            .map(|r| r.get::<String>("name").expect("a table name"))
            .collect()
    }
}

/// The PostgreSQL server for tests, or `None` (with a message saying the tests skip it)
/// when `DBM_TEST_POSTGRES_URL` is not set.
///
/// # Panics
/// When the URL is invalid, and when it is not set while `DBM_TEST_REQUIRE_POSTGRES=1`.
#[cfg(feature = "postgres")]
pub fn postgres_options() -> Option<dbm_postgres::PgOptions> {
    match std::env::var(POSTGRES_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(
            url.parse()
                .unwrap_or_else(|e| panic!("{POSTGRES_URL_VAR} is invalid: {e}")),
        ),
        _ => {
            skip(&format!(
                "{POSTGRES_URL_VAR} is not set: PostgreSQL tests skipped (see README, \"Testing against PostgreSQL\")"
            ));
            None
        }
    }
}

/// The password in `DBM_TEST_POSTGRES_URL`, if it has one (for tests that check it never
/// leaks).
pub fn postgres_password() -> Option<String> {
    let url = std::env::var(POSTGRES_URL_VAR).ok()?;
    let rest = url.split_once("://")?.1;
    let userinfo = &rest[..rest.rfind('@')?];
    let password = userinfo.split_once(':')?.1;
    (!password.is_empty()).then(|| password.to_owned())
}
