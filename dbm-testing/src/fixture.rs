//! Isolated test databases: a fresh SQLite file, or a fresh PostgreSQL database created on
//! the server named by `DBM_TEST_POSTGRES_URL` and dropped afterwards.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use dbm_core::{Backend, Database, Params, PoolConfig};
use dbm_postgres::PgOptions;
use dbm_sqlite::SqliteOptions;
use tempfile::TempDir;

/// The variable naming the PostgreSQL server tests may create databases on.
pub const POSTGRES_URL_VAR: &str = "DBM_TEST_POSTGRES_URL";

/// Set to `1` (CI does) to make a missing PostgreSQL server a failure instead of a skip.
pub const REQUIRE_POSTGRES_VAR: &str = "DBM_TEST_REQUIRE_POSTGRES";

/// One isolated database for one test, with a scratch directory for migration files.
pub struct TestDb {
    /// The database, pooled.
    pub db: Arc<dyn Database>,
    /// The product.
    pub backend: Backend,
    dir: TempDir,
    target: Target,
}

enum Target {
    Sqlite(PathBuf),
    Postgres { admin: Box<PgOptions>, name: String },
}

impl fmt::Debug for TestDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestDb")
            .field("backend", &self.backend)
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

fn unique_name() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("dbm_t_{}_{}_{n}", std::process::id(), nanos)
}

/// The PostgreSQL server for tests, or `None` (with a message saying the tests skip it)
/// when `DBM_TEST_POSTGRES_URL` is not set.
///
/// # Panics
/// When the URL is invalid, and when it is not set while `DBM_TEST_REQUIRE_POSTGRES=1`:
/// a test that should run against a server must not pass without one.
pub fn postgres_options() -> Option<PgOptions> {
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

/// Whether `DBM_TEST_REQUIRE_POSTGRES=1`: every PostgreSQL check must run.
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

/// The password in `DBM_TEST_POSTGRES_URL`, if it has one (for tests that check it never
/// leaks).
pub fn postgres_password() -> Option<String> {
    let url = std::env::var(POSTGRES_URL_VAR).ok()?;
    let rest = url.split_once("://")?.1;
    let userinfo = &rest[..rest.rfind('@')?];
    let password = userinfo.split_once(':')?.1;
    (!password.is_empty()).then(|| password.to_owned())
}

/// Writes straight to the process's stderr: the test harness captures `eprintln!` of
/// passing tests, and a skip must be seen.
fn skip_note(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "skipped: {msg}");
}

impl TestDb {
    /// A fresh SQLite file in a temporary directory.
    pub async fn sqlite(pool: PoolConfig) -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("test.db");
        let db = dbm_sqlite::open("test", SqliteOptions::file(&path), pool);
        TestDb {
            db: Arc::new(db),
            backend: Backend::Sqlite,
            dir,
            target: Target::Sqlite(path),
        }
    }

    /// A fresh PostgreSQL database, or `None` when no server is configured.
    pub async fn postgres(pool: PoolConfig) -> Option<TestDb> {
        let admin = postgres_options()?;
        let name = unique_name();
        let db = dbm_postgres::open(
            "admin",
            admin.clone(),
            PoolConfig::new("admin").pool_size(1),
        );
        db.execute(&format!("CREATE DATABASE \"{name}\""), &Params::new())
            .await
            .unwrap_or_else(|e| panic!("cannot create test database: {e}"));
        db.close().await;
        let options = admin.clone().with_database(&name);
        let test = dbm_postgres::open("test", options, pool);
        Some(TestDb {
            db: Arc::new(test),
            backend: Backend::Postgres,
            dir: tempfile::tempdir().expect("temp dir"),
            target: Target::Postgres {
                admin: Box::new(admin),
                name,
            },
        })
    }

    /// The same database through a separate pool (as another process would see it).
    pub fn another_pool(&self, pool: PoolConfig) -> Arc<dyn Database> {
        match &self.target {
            Target::Sqlite(path) => {
                Arc::new(dbm_sqlite::open("test", SqliteOptions::file(path), pool))
            }
            Target::Postgres { admin, name } => Arc::new(dbm_postgres::open(
                "test",
                admin.clone().with_database(name),
                pool,
            )),
        }
    }

    /// The PostgreSQL options of this database (`None` for SQLite).
    pub fn postgres_options(&self) -> Option<PgOptions> {
        match &self.target {
            Target::Postgres { admin, name } => Some((**admin).clone().with_database(name)),
            Target::Sqlite(_) => None,
        }
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

    /// A statement that runs for many seconds unless cancelled.
    pub fn slow_query(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => "SELECT pg_sleep(30) AS slept",
            _ => {
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000000) SELECT count(*) AS n FROM c"
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Target::Postgres { admin, name } = &self.target else {
            return;
        };
        let (admin, name) = ((**admin).clone(), name.clone());
        // Drop the database on a thread of its own: this may run inside a runtime, or
        // while a failed test unwinds.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let db = dbm_postgres::open("admin", admin, PoolConfig::new("admin").pool_size(1));
                let r = db
                    .execute(
                        &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
                        &Params::new(),
                    )
                    .await;
                db.close().await;
                r.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            skip_note("could not drop a PostgreSQL test database");
        }
    }
}
