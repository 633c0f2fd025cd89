//! mockall mocks of the core traits, for unit tests of code above the drivers.
//!
//! ```
//! use std::sync::Arc;
//! use dbm_core::{Column, Columns, Database, Params, Rows, Value};
//! use dbm_testing::MockDatabase;
//!
//! // Code under test depends on `Arc<dyn Database>` only.
//! async fn active_count(db: Arc<dyn Database>) -> dbm_core::Result<i64> {
//!     let rows = db.query("SELECT count(*) AS n FROM jobs WHERE active", &Params::new()).await?;
//!     rows.first().map_or(Ok(0), |r| r.get("n"))
//! }
//!
//! let mut db = MockDatabase::new();
//! db.expect_query()
//!     .withf(|sql, _| sql.contains("FROM jobs"))
//!     .times(1)
//!     .returning(|_, _| {
//!         let mut rows = Rows::new(Columns::new(vec![Column::new("n", "INT8")]));
//!         rows.push(vec![Value::Int(3)]);
//!         Ok(rows)
//!     });
//! let n = tokio::runtime::Builder::new_current_thread().build().unwrap()
//!     .block_on(active_count(Arc::new(db))).unwrap();
//! assert_eq!(n, 3);
//! ```
#![allow(missing_docs)] // the mock! macro generates undocumented items

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use dbm_core::{
    Backend, Canceller, Connection, Database, Dialect, Params, PoolStatus, Result, RowStream, Rows,
    Statement, Transaction, Value,
};

mockall::mock! {
    /// A mock [`Database`].
    pub Database {}

    #[async_trait]
    impl Database for Database {
        fn name(&self) -> &str;
        fn backend(&self) -> Backend;
        async fn query(&self, sql: &str, params: &Params) -> Result<Rows>;
        async fn execute(&self, sql: &str, params: &Params) -> Result<u64>;
        async fn query_stream(&self, sql: &str, params: &Params) -> Result<RowStream>;
        async fn query_with_timeout(&self, sql: &str, params: &Params, timeout: Duration) -> Result<Rows>;
        async fn execute_with_timeout(&self, sql: &str, params: &Params, timeout: Duration) -> Result<u64>;
        async fn transaction(&self, statements: &[Statement]) -> Result<Vec<u64>>;
        async fn begin(&self) -> Result<Transaction>;
        async fn acquire(&self) -> Result<Box<dyn Connection>>;
        fn pool_status(&self) -> PoolStatus;
        async fn close(&self);
    }
}

impl fmt::Debug for MockDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MockDatabase")
    }
}

mockall::mock! {
    /// A mock [`Connection`] (streaming falls back to `query_raw`).
    pub Connection {}

    #[async_trait]
    impl Connection for Connection {
        fn dialect(&self) -> &dyn Dialect;
        async fn query_raw(&mut self, sql: &str, values: &[Value]) -> Result<Rows>;
        async fn execute_raw(&mut self, sql: &str, values: &[Value]) -> Result<u64>;
        async fn execute_script(&mut self, sql: &str) -> Result<()>;
        async fn begin(&mut self) -> Result<()>;
        async fn commit(&mut self) -> Result<()>;
        async fn rollback(&mut self) -> Result<()>;
        async fn ping(&mut self) -> Result<()>;
        async fn lock_migrations(&mut self, wait: Duration) -> Result<()>;
        async fn unlock_migrations(&mut self) -> Result<()>;
        fn canceller(&self) -> Option<Arc<dyn Canceller>>;
        fn in_transaction(&self) -> bool;
        fn is_broken(&self) -> bool;
    }
}

impl fmt::Debug for MockConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MockConnection")
    }
}
