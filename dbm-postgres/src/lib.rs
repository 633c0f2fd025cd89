//! PostgreSQL driver for dbm: sqlx 0.9 connections (rustls), pooled by the dbm-core pool.
//!
//! - Types map into `Value` (integers, floats, exact `numeric`, text, bool, bytea, uuid,
//!   date/time/timestamp/timestamptz, json/jsonb, arrays of those scalars); anything else
//!   is an error naming the type.
//! - Errors keep their SQLSTATE and map to the core kinds; transient ones are retried by
//!   the `*_with_retry` methods.
//! - Timeouts cancel the statement on the server (`pg_cancel_backend` of the connection's
//!   backend pid) and the connection is replaced.
//! - Migrations take a session advisory lock on the migrating connection.
//!
//! ```no_run
//! # async fn demo() -> dbm_core::Result<()> {
//! use dbm_core::{params, Database, PoolConfig};
//! let options = "postgres://etl:secret@localhost/warehouse".parse()?;
//! let db = dbm_postgres::open("warehouse", options, PoolConfig::new("warehouse"));
//! let rows = db.query("SELECT now() AS t, :n::int AS n", &params! { "n" => 7 }).await?;
//! assert_eq!(rows.first().unwrap().get::<i64>("n")?, 7);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod cancel;
mod connection;
mod decode;
mod dialect;
mod driver;
mod error;
mod manager;
mod options;
mod stream;
mod test_backend;
mod tracking;
mod types;

use std::sync::Arc;

use dbm_core::{Pool, PoolConfig, PooledDatabase};

pub use cancel::PgCanceller;
pub use connection::{MIGRATION_LOCK_KEY, PgConnection};
pub use dialect::PgDialect;
pub use driver::{DRIVER, PgDriver, SSL_MODES};
pub use error::kind_for_sqlstate;
pub use manager::PgManager;
pub use options::PgOptions;
pub use sqlx::postgres::PgSslMode;
pub use test_backend::{PgTestBackend, TEST_URL_VAR};

/// A pooled PostgreSQL database.
pub type PgDatabase = PooledDatabase<PgManager>;

/// A pooled database named `name`. Nothing is opened until the first query.
pub fn open(name: &str, options: PgOptions, pool: PoolConfig) -> PgDatabase {
    PooledDatabase::new(
        name,
        Pool::new(PgManager::new(options), pool),
        Arc::new(PgDialect),
    )
}
