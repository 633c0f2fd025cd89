//! SQLite's test support for the shared conformance suite: a fresh file per test.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use dbm_core::{
    Database, IsolatedDatabase, PoolConfig, Result, TestBackend, async_trait, unique_test_name,
};

use crate::options::SqliteOptions;

/// Fresh SQLite files in the test's scratch directory.
#[derive(Debug, Clone, Copy, Default)]
pub struct SqliteTestBackend;

/// A test database file (removed with the scratch directory).
#[derive(Debug)]
struct TestFile {
    path: PathBuf,
    url: String,
}

impl IsolatedDatabase for TestFile {
    fn url(&self) -> &str {
        &self.url
    }

    fn open(&self, name: &str, pool: PoolConfig) -> Arc<dyn Database> {
        Arc::new(crate::open(name, SqliteOptions::file(&self.path), pool))
    }
}

#[async_trait]
impl TestBackend for SqliteTestBackend {
    async fn create(
        &self,
        _server: Option<&str>,
        scratch: &Path,
    ) -> Result<Box<dyn IsolatedDatabase>> {
        let path = scratch.join(format!("{}.db", unique_test_name()));
        let url = format!("sqlite://{}", path.display());
        Ok(Box::new(TestFile { path, url }))
    }

    fn list_tables_query(&self) -> &'static str {
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1"
    }

    fn slow_query(&self) -> &'static str {
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000000) SELECT count(*) AS n FROM c"
    }

    fn endless_query(&self) -> &'static str {
        "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c) SELECT n FROM c"
    }
}
