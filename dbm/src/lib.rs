//! dbm: one dependable way for data-pipeline code to talk to PostgreSQL, SQL Server and
//! SQLite.
//!
//! [`DatabaseManager`] is the entry point: a named database from `dbm.toml` with a real
//! connection pool, versioned migrations, health checks, retries, timeouts that cancel the
//! statement, and transactions. Rows come back in the standard format ([`Rows`]): column
//! names held once, accessed by name or index, serialisable as a list of JSON objects.
//!
//! ```no_run
//! use dbm::{params, DatabaseManager};
//! # async fn job() -> dbm::Result<()> {
//! let db = DatabaseManager::open("app").await?; // [databases.app] in dbm.toml
//! let rows = db
//!     .query("SELECT id, name FROM users WHERE active = :active", &params! { "active" => true })
//!     .await?;
//! for row in &rows {
//!     println!("{} {}", row.get::<i64>("id")?, row.get::<String>("name")?);
//! }
//! # Ok(()) }
//! ```
//!
//! Features: `sqlite` (default), `postgres`, `mssql`, `cli` (the `cargo xtask` commands),
//! `http` (health probes and metrics served over HTTP, see [`router`]), `sea-query`
//! (statements built with sea-query: `DatabaseManager::query_statement`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "cli")]
pub mod cli;
mod config;
mod drivers;
mod health;
mod manager;
#[cfg(feature = "sea-query")]
mod sea;

pub use config::{
    ACCEPTED_URLS, CONFIG_FILE, Config, ConfigLoader, DEFAULT_ENVIRONMENT, DatabaseConfig,
    GlobalSettings, Origin, SettingReport, detect_backend, redact_url, url_env_var,
};
pub use dbm_health::{
    Component, DatabaseHealth, Format, HealthMonitor, HealthSettings, HealthSummary, Metrics,
    MigrationDetails, Readiness, SchemaState, Status, check_database,
};
#[cfg(feature = "http")]
pub use dbm_health::{HealthService, router, serve, shutdown_signal};
pub use drivers::{driver_for, drivers};
pub use health::health_monitor;
pub use manager::{DatabaseManager, build_database};
pub use secrecy::{ExposeSecret, SecretString};

/// The crates dbm's types use ([`Value`] holds their dates, UUIDs and JSON), re-exported so
/// they need no dependency of their own at a matching version.
pub use {chrono, serde_json, uuid};

pub use dbm_core::{
    Backend, Bindings, Column, Columns, Connection, Database, DatabaseExt, Decimal, Driver,
    DriverSettings, Error, ErrorCode, ErrorKind, FromValue, IntoValue, Params, PoolConfig,
    PoolStatus, Result, RetryPolicy, Row, RowStream, Rows, SettingValue, Statement, Transaction,
    Value, params,
};
pub use dbm_migrate::{
    EmbeddedMigrations, MigrateReport, MigrationInfo, MigrationState, MigrationStatus, Migrator,
    RepairReport, Version, embed_migrations,
};

/// The README's Rust examples run as doc tests, so the front door stays true (they use
/// SQLite, the default driver).
#[cfg(all(doctest, feature = "sqlite"))]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
