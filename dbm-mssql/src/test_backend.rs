//! SQL Server's test support for the shared conformance suite: a fresh database per test
//! on the server `DBM_TEST_MSSQL_URL` names (or the TDS test server a test starts),
//! dropped afterwards.

use std::path::Path;
use std::sync::Arc;

use dbm_core::{
    Database, Error, IsolatedDatabase, PoolConfig, Result, SqlType, TestBackend, async_trait,
    execute_and_close, run_detached, unique_test_name, url_with_database,
};

use crate::options::MssqlOptions;

/// The variable naming the SQL Server tests may create databases on (its login needs
/// CREATE DATABASE, and ALTER ANY CONNECTION for the KILL fallback).
pub const TEST_URL_VAR: &str = "DBM_TEST_MSSQL_URL";

/// Fresh databases on a SQL Server.
#[derive(Debug, Clone, Copy, Default)]
pub struct MssqlTestBackend;

/// A test database, dropped when this is dropped.
struct TestDatabase {
    admin: MssqlOptions,
    name: String,
    url: String,
}

/// The URL holds the server's password: show the database name only.
impl std::fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDatabase")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// `url` naming `database` instead of its own: the path of an `mssql://` URL, a trailing
/// `Database=` setting otherwise (a later setting wins).
fn with_database(url: &str, database: &str) -> String {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("mssql://") || lower.starts_with("sqlserver://") {
        url_with_database(url, database)
    } else if lower.starts_with("jdbc:") {
        format!("{};databaseName={database}", url.trim_end_matches(';'))
    } else {
        format!("{};Database={database}", url.trim_end_matches(';'))
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

async fn admin_batch(admin: &MssqlOptions, sql: &str) -> Result<()> {
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
            admin_batch(
                &admin,
                &format!(
                    "ALTER DATABASE [{name}] SET SINGLE_USER WITH ROLLBACK IMMEDIATE; DROP DATABASE [{name}]"
                ),
            )
            .await
        });
        if !matches!(dropped, Some(Ok(()))) {
            tracing::warn!(database = %self.name, "could not drop a SQL Server test database");
        }
    }
}

#[async_trait]
impl TestBackend for MssqlTestBackend {
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
                "{TEST_URL_VAR} is not set: no SQL Server to test on"
            ))
        })?;
        let admin: MssqlOptions = server.parse()?;
        let name = unique_test_name();
        admin_batch(&admin, &format!("CREATE DATABASE [{name}]"))
            .await
            .map_err(|e| e.context("cannot create a test database"))?;
        Ok(Box::new(TestDatabase {
            url: with_database(server, &name),
            admin,
            name,
        }))
    }

    fn list_tables_query(&self) -> &'static str {
        "SELECT TABLE_NAME AS name FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME"
    }

    fn slow_query(&self) -> &'static str {
        "WAITFOR DELAY '00:00:30'; SELECT 1 AS slept"
    }

    fn endless_query(&self) -> &'static str {
        "WITH n(n) AS (SELECT CAST(1 AS BIGINT) UNION ALL SELECT n + 1 FROM n) SELECT n FROM n OPTION (MAXRECURSION 0)"
    }

    fn sql_type(&self, t: SqlType) -> &'static str {
        match t {
            SqlType::Integer => "INT",
            SqlType::Text => "NVARCHAR(200)",
            SqlType::Float => "FLOAT",
            SqlType::Bool => "BIT",
            _ => "NVARCHAR(200)",
        }
    }

    fn begin_statement(&self) -> &'static str {
        "BEGIN TRANSACTION"
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_get_the_test_database() {
        for (url, want) in [
            (
                "mssql://u:p@h:5/master?encrypt=false",
                "mssql://u:p@h:5/t1?encrypt=false",
            ),
            ("sqlserver://u:p@h", "sqlserver://u:p@h/t1"),
            (
                "Server=h;User Id=u;Password=p;",
                "Server=h;User Id=u;Password=p;Database=t1",
            ),
            (
                "jdbc:sqlserver://h;user=u",
                "jdbc:sqlserver://h;user=u;databaseName=t1",
            ),
        ] {
            assert_eq!(super::with_database(url, "t1"), want);
            let o: crate::MssqlOptions = want.parse().unwrap();
            assert_eq!(o.database(), Some("t1"), "{want}");
        }
    }
}
