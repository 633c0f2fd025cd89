//! SQL Server driver for dbm: tiberius 0.13 connections (TDS 7.3+, rustls), pooled by the
//! dbm-core pool.
//!
//! - URLs: `mssql://user:pass@host:1433/db?encrypt=true&trust_server_certificate=false`,
//!   `sqlserver://...`, ADO.NET strings (`Server=tcp:host,1433;Database=...;User Id=...;
//!   Password=...`) and JDBC URLs (`jdbc:sqlserver://host:1433;databaseName=...`). SQL
//!   Server authentication only; named instances need their TCP port.
//! - `:name` parameters become `@P1..@Pn`. Values map both ways: bool `bit`, integers
//!   `bigint`, floats `float`, decimals `numeric(p,s)` exactly (up to 38 digits; `money`
//!   is read exactly up to 112,589,990,684 and refused above), text `nvarchar`, bytes
//!   `varbinary`, uuid `uniqueidentifier`, date `date`, time `time`, timestamps
//!   `datetime2`, timestamps with zone `datetimeoffset`, JSON `nvarchar(max)`. A NULL
//!   parameter is an `nvarchar` NULL, which every column type but the binary ones accepts
//!   (write `CAST(:x AS VARBINARY(MAX))` for those). Arrays are refused.
//! - Each connection runs `SET XACT_ABORT ON` and records its `@@SPID`. `execute` returns
//!   the total of every count the statement or batch reported; `query` returns one result
//!   set and refuses SQL that returns more.
//! - Timeouts cancel on the server: ATTENTION first (bounded by [`ATTENTION_WAIT`]), then
//!   `KILL <spid>` from a fresh connection; the connection is discarded either way, as it
//!   is when a running statement's future or a stream is dropped.
//! - Migrations take `sp_getapplock` (session-owned, in the target database); scripts run
//!   in `GO` batches.
//!
//! ```no_run
//! # async fn demo() -> dbm_core::Result<()> {
//! use dbm_core::{params, Database, PoolConfig};
//! let options = "mssql://etl:secret@localhost/warehouse?trust_server_certificate=true".parse()?;
//! let db = dbm_mssql::open("warehouse", options, PoolConfig::new("warehouse"));
//! let rows = db.query("SELECT SYSDATETIME() AS t, :n AS n", &params! { "n" => 7 }).await?;
//! assert_eq!(rows.first().unwrap().get::<i64>("n")?, 7);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod client;
mod connection;
mod dialect;
mod driver;
mod error;
mod manager;
mod options;
mod test_backend;
mod types;

use std::sync::Arc;

use dbm_core::{Pool, PoolConfig, PooledDatabase};

pub use client::{ATTENTION_WAIT, KILL_WAIT, MssqlCanceller};
pub use connection::{MIGRATION_LOCK_RESOURCE, MssqlConnection};
pub use dialect::MssqlDialect;
pub use driver::{DRIVER, MssqlDriver};
pub use error::kind_for_number;
pub use manager::MssqlManager;
pub use options::{ENCRYPT_MODES, Encrypt, MssqlOptions};
pub use test_backend::{MssqlTestBackend, TEST_URL_VAR};
pub use types::sql_type_of;

/// A pooled SQL Server database.
pub type MssqlDatabase = PooledDatabase<MssqlManager>;

/// A pooled database named `name`. Nothing is opened until the first query.
pub fn open(name: &str, options: MssqlOptions, pool: PoolConfig) -> MssqlDatabase {
    PooledDatabase::new(
        name,
        Pool::new(MssqlManager::new(options), pool),
        Arc::new(MssqlDialect),
    )
}
