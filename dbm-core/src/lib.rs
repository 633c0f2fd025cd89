//! Core of dbm: the traits every driver implements, the standard row format, named
//! parameters, errors, retries and the connection pool. No driver code lives here.
//!
//! Downstream crates can depend on this crate alone and hold an `Arc<dyn Database>`:
//!
//! ```
//! use std::sync::Arc;
//! use dbm_core::{params, Database, Result};
//!
//! async fn active_users(db: Arc<dyn Database>) -> Result<Vec<String>> {
//!     let rows = db
//!         .query("SELECT name FROM users WHERE active = :active", &params! { "active" => true })
//!         .await?;
//!     rows.iter().map(|r| r.get::<String>("name")).collect()
//! }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod connection;
mod database;
mod de;
mod dialect;
mod driver;
mod error;
mod fetch;
mod lex;
mod observe;
mod outcome;
mod params;
mod pool;
mod redact;
mod retry;
mod row;
mod rows;
mod script;
mod stream;
mod test_backend;
mod text;
#[cfg(feature = "tls")]
mod tls;
mod transaction;
mod value;

pub mod duration_ms;

pub use connection::{Canceller, Connection, Database, Statement};
pub use database::PooledDatabase;
pub use dialect::{Backend, Dialect};
pub use driver::{
    ConnectSettings, Driver, DriverKey, DriverOptions, DriverSettings, KeyKind, SettingValue,
    foreign_options, options_of,
};
pub use error::{Error, ErrorCode, ErrorKind, Result};
pub use fetch::{Bindings, DatabaseExt};
pub use lex::{CompoundRule, SqlSyntax};
pub use observe::{Observer, ObserverGuard, OperationEvent, WaitEvent, add_observer};
pub use params::{BoundSql, Params, PlaceholderStyle, bind_named};
pub use pool::{
    ConnectTarget, ManageConnection, Metric, Pool, PoolConfig, PoolStatus, PooledConnection,
};
pub use redact::redact_url;
pub use retry::{RetryPolicy, retry};
pub use row::{Column, ColumnIndex, Columns, Row, RowRef};
pub use rows::{Rows, RowsIntoIter, RowsIter};
pub use script::{ScriptSplit, ScriptStatement, split_script};
pub use stream::{BoxRowStream, RowStream};
pub use test_backend::{
    IsolatedDatabase, SqlType, TestBackend, execute_and_close, run_detached, unique_test_name,
    url_with_database,
};
pub use text::{percent_decode, shown_name};
#[cfg(feature = "tls")]
pub use tls::ensure_crypto_provider;
pub use transaction::Transaction;
pub use value::{Decimal, FromValue, IntoValue, Value};

/// `async_trait`, re-exported so drivers and mocks implement the traits with the same macro.
pub use async_trait::async_trait;
