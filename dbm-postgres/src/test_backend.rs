//! PostgreSQL's test support for the shared conformance suite: a fresh database per test on
//! the server `DBM_TEST_POSTGRES_URL` names, dropped afterwards.

use std::path::Path;
use std::sync::Arc;

use dbm_core::{
    Database, Error, IsolatedDatabase, PoolConfig, Result, TestBackend, async_trait,
    execute_and_close, run_detached, unique_test_name, url_with_database,
};

use crate::options::PgOptions;

/// The variable naming the PostgreSQL server tests may create databases on.
pub const TEST_URL_VAR: &str = "DBM_TEST_POSTGRES_URL";

/// Fresh databases on a PostgreSQL server (its user needs CREATEDB).
#[derive(Debug, Clone, Copy, Default)]
pub struct PgTestBackend;

/// A test database, dropped (`WITH (FORCE)`) when this is dropped.
struct TestDatabase {
    admin: PgOptions,
    name: String,
    url: String,
}

/// The URL and options hold the server's password: show the database name only.
impl std::fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDatabase")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl IsolatedDatabase for TestDatabase {
    fn url(&self) -> &str {
        &self.url
    }

    fn open(&self, name: &str, pool: PoolConfig) -> Arc<dyn Database> {
        Arc::new(crate::open(
            name,
            self.admin.clone().with_database(&self.name),
            pool,
        ))
    }
}

/// One statement on a one-connection admin pool of the server.
async fn admin_execute(admin: &PgOptions, sql: &str) -> Result<()> {
    let db = crate::open(
        "admin",
        admin.clone(),
        PoolConfig::new("admin").pool_size(1),
    );
    execute_and_close(&db, sql).await.map(|_| ())
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let dropped = run_detached(async move {
            admin_execute(
                &admin,
                &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
            )
            .await
        });
        if !matches!(dropped, Some(Ok(()))) {
            tracing::warn!(database = %self.name, "could not drop a PostgreSQL test database");
        }
    }
}

#[async_trait]
impl TestBackend for PgTestBackend {
    fn server_var(&self) -> Option<&'static str> {
        Some(TEST_URL_VAR)
    }

    async fn create(
        &self,
        server: Option<&str>,
        _scratch: &Path,
    ) -> Result<Box<dyn IsolatedDatabase>> {
        let server = server.ok_or_else(|| {
            Error::config(format!(
                "{TEST_URL_VAR} is not set: no PostgreSQL server to test on"
            ))
        })?;
        let admin: PgOptions = server.parse()?;
        let name = unique_test_name();
        admin_execute(&admin, &format!("CREATE DATABASE \"{name}\""))
            .await
            .map_err(|e| e.context("cannot create a test database"))?;
        Ok(Box::new(TestDatabase {
            url: url_with_database(server, &name),
            admin,
            name,
        }))
    }

    fn list_tables_query(&self) -> &'static str {
        "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1"
    }

    fn slow_query(&self) -> &'static str {
        "SELECT pg_sleep(30) AS slept"
    }

    fn endless_query(&self) -> &'static str {
        "SELECT generate_series(1, 100000000) AS n"
    }
}
