//! The fixture the migration tests share: a migrations directory in a temporary directory,
//! and a database of the kind asked for: a SQLite file, or the TDS test server in engine
//! mode (SQL Server's wire protocol, the migration engine's T-SQL, SQLite behind it).
#![allow(dead_code)] // each test file uses part of it

use std::fs;
use std::path::Path;
use std::sync::Arc;

use dbm_core::{Connection, Database, Driver, Params, PoolConfig};
use dbm_migrate::{Migrator, Version};
use dbm_sqlite::SqliteOptions;
use dbm_testing::tds::TdsServer;
use tempfile::TempDir;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Sqlite,
    Tds,
}

pub(crate) struct Fixture {
    pub(crate) kind: Kind,
    pub(crate) db: Arc<dyn Database>,
    // Dropped after `db`'s connections: they talk to it.
    server: Option<TdsServer>,
    pub(crate) dir: TempDir,
}

impl Fixture {
    pub(crate) async fn new(kind: Kind, files: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("migrations")).unwrap();
        for (name, sql) in files {
            fs::write(dir.path().join("migrations").join(name), sql).unwrap();
        }
        let server = match kind {
            Kind::Sqlite => None,
            Kind::Tds => Some(TdsServer::engine().await),
        };
        let db = open_pool(dir.path(), server.as_ref());
        Fixture {
            kind,
            db,
            server,
            dir,
        }
    }

    /// A separate pool on the same database (as another process would have).
    pub(crate) fn another_pool(&self) -> Arc<dyn Database> {
        open_pool(self.dir.path(), self.server.as_ref())
    }

    pub(crate) fn migrator(&self) -> Migrator {
        Migrator::new(self.dir.path().join("migrations"), "app")
    }

    pub(crate) fn write(&self, name: &str, sql: &str) {
        fs::write(self.dir.path().join("migrations").join(name), sql).unwrap();
    }

    pub(crate) async fn conn(&self) -> Box<dyn Connection> {
        self.db.acquire().await.unwrap()
    }

    pub(crate) async fn migrate(&self) -> dbm_migrate::MigrateReport {
        self.try_migrate().await.unwrap()
    }

    pub(crate) async fn try_migrate(&self) -> dbm_core::Result<dbm_migrate::MigrateReport> {
        self.migrator()
            .migrate(self.conn().await.as_mut(), None)
            .await
    }

    pub(crate) async fn status(&self) -> dbm_migrate::MigrationStatus {
        self.migrator()
            .status(self.conn().await.as_mut())
            .await
            .unwrap()
    }

    pub(crate) async fn validate(&self) -> dbm_core::Result<dbm_migrate::MigrationStatus> {
        self.migrator().validate(self.conn().await.as_mut()).await
    }

    pub(crate) async fn tables(&self) -> Vec<String> {
        let query = match self.kind {
            Kind::Sqlite => dbm_sqlite::DRIVER.test_backend().list_tables_query(),
            Kind::Tds => dbm_mssql::DRIVER.test_backend().list_tables_query(),
        };
        let rows = self.db.query(query, &Params::new()).await.unwrap();
        rows.iter()
            .map(|r| r.get::<String>("name").unwrap())
            .collect()
    }

    pub(crate) async fn history(&self) -> Vec<(String, String, bool)> {
        let rows = self
            .db
            .query(
                "SELECT version, type, success FROM schema_version ORDER BY installed_rank",
                &Params::new(),
            )
            .await
            .unwrap();
        rows.iter()
            .map(|r| {
                (
                    r.get::<String>("version").unwrap(),
                    r.get::<String>("type").unwrap(),
                    r.get::<bool>("success").unwrap(),
                )
            })
            .collect()
    }
}

/// A pool on the SQLite file in `dir`, or on the TDS server's `master`.
fn open_pool(dir: &Path, server: Option<&TdsServer>) -> Arc<dyn Database> {
    let pool = PoolConfig::new("app").pool_size(2);
    match server {
        None => Arc::new(dbm_sqlite::open(
            "app",
            SqliteOptions::file(dir.join("app.db")),
            pool,
        )),
        Some(s) => Arc::new(dbm_mssql::open(
            "app",
            s.url("master").parse().unwrap(),
            pool,
        )),
    }
}

pub(crate) fn v(s: &str) -> Version {
    s.parse().unwrap()
}

/// Declares each test once per kind of database: `mod sqlite` and `mod tds`.
#[macro_export]
macro_rules! on_sqlite_and_tds {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $case() {
                    super::$case($crate::common::Kind::Sqlite).await;
                }
            )*
        }
        mod tds {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $case() {
                    super::$case($crate::common::Kind::Tds).await;
                }
            )*
        }
    };
}
