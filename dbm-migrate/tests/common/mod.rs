//! The fixture the SQLite migration tests share: a migrations directory and a database file
//! in a temporary directory.
#![allow(dead_code)] // each test file uses part of it

use std::fs;
use std::path::Path;
use std::sync::Arc;

use dbm_core::{Connection, Database, Params, PoolConfig};
use dbm_migrate::{Migrator, Version};
use dbm_sqlite::{SqliteDatabase, SqliteOptions};
use tempfile::TempDir;

pub(crate) struct Fixture {
    pub(crate) dir: TempDir,
    pub(crate) db: Arc<SqliteDatabase>,
}

impl Fixture {
    pub(crate) fn new(files: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("migrations")).unwrap();
        for (name, sql) in files {
            fs::write(dir.path().join("migrations").join(name), sql).unwrap();
        }
        let db = Arc::new(Self::open(dir.path()));
        Fixture { dir, db }
    }

    pub(crate) fn open(dir: &Path) -> SqliteDatabase {
        dbm_sqlite::open(
            "app",
            SqliteOptions::file(dir.join("app.db")),
            PoolConfig::new("app").pool_size(2),
        )
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
        let rows = self
            .db
            .query(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
                &Params::new(),
            )
            .await
            .unwrap();
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

pub(crate) fn v(s: &str) -> Version {
    s.parse().unwrap()
}
