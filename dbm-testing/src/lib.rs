//! Test support for dbm.
//!
//! - [`TestDb`]: an isolated database per test for any driver, through the driver's
//!   [`TestBackend`](dbm_core::TestBackend): a fresh SQLite file, or a fresh PostgreSQL
//!   database on the server named by `DBM_TEST_POSTGRES_URL` (created for the test, dropped
//!   afterwards, so tests run in parallel and never touch data they did not create).
//!   Features `sqlite` and `postgres` add `TestDb::sqlite` and `TestDb::postgres`.
//! - [`conformance`]: the behaviour suite every driver runs; a driver's own `tests/`
//!   declares it with [`conformance_suite!`], e.g. `dbm_testing::conformance_suite!(dbm_sqlite::DRIVER);`.
//! - [`MockDatabase`] and [`MockConnection`]: mockall mocks of the core traits, for unit
//!   tests of code that depends on `dbm-core` alone (never a substitute for driver tests).
//! - [`LogCapture`]: what a process logs, for tests that assert log events.
//! - Feature `http`: `http_get`, a real HTTP client (hyper) for tests of the health routes.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod conformance;
#[cfg(feature = "testcontainers")]
pub mod containers;
mod fixture;
#[cfg(feature = "http")]
mod http;
mod logs;
mod mocks;
#[cfg(feature = "mssql")]
pub mod tds;

#[cfg(feature = "postgres")]
pub use fixture::postgres_options;
pub use fixture::{
    POSTGRES_URL_VAR, REQUIRE_POSTGRES_VAR, TestDb, TestServer, postgres_password,
    postgres_required, require_var, skip, skip_unless_required,
};
#[cfg(feature = "http")]
pub use http::{HttpReply, http_get};
pub use logs::LogCapture;
pub use mocks::{MockConnection, MockDatabase};

/// The pool settings fixtures use unless a test asks otherwise.
pub fn default_pool() -> dbm_core::PoolConfig {
    dbm_core::PoolConfig::new("test")
        .pool_size(4)
        .max_overflow(4)
        .timeout(std::time::Duration::from_secs(10))
}
