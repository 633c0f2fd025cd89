//! SQLite driver for dbm: rusqlite connections opened through r2d2_sqlite's connection
//! manager and pooled by the dbm-core pool. Blocking work runs on tokio's blocking threads;
//! timeouts interrupt the running statement. WAL mode and a busy timeout are on by default.
//!
//! ```
//! use dbm_core::{params, Database, PoolConfig};
//! use dbm_sqlite::SqliteOptions;
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! let db = dbm_sqlite::open("demo", SqliteOptions::memory(), PoolConfig::new("demo"));
//! db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)", &params! {}).await.unwrap();
//! db.execute("INSERT INTO t (name) VALUES (:n)", &params! { "n" => "ada" }).await.unwrap();
//! let rows = db.query("SELECT id, name FROM t", &params! {}).await.unwrap();
//! assert_eq!(rows.first().unwrap().get::<String>("name").unwrap(), "ada");
//! # });
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod connection;
mod convert;
mod dialect;
mod driver;
mod manager;
mod options;
mod test_backend;

use std::sync::Arc;

use dbm_core::{PoolConfig, PooledDatabase};

pub use connection::{SqliteCanceller, SqliteConnection};
pub use dialect::SqliteDialect;
pub use driver::{DRIVER, SqliteDriver};
pub use manager::SqliteManager;
pub use options::{SqliteLocation, SqliteOptions};
pub use test_backend::SqliteTestBackend;

/// A pooled SQLite database.
pub type SqliteDatabase = PooledDatabase<SqliteManager>;

/// A pooled database named `name`. Nothing is opened until the first query.
///
/// An in-memory database is private to its pool and lives in one connection, so its pool is
/// held at `pool_size = 1`, `max_overflow = 0`.
pub fn open(name: &str, options: SqliteOptions, pool: PoolConfig) -> SqliteDatabase {
    let pool = if options.path().is_none() {
        pool.pool_size(1).max_overflow(0)
    } else {
        pool
    };
    PooledDatabase::new(
        name,
        dbm_core::Pool::new(SqliteManager::new(options), pool),
        Arc::new(SqliteDialect),
    )
}
