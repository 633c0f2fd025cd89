//! Test support for dbm.
//!
//! - [`TestDb`]: an isolated database per test: a fresh SQLite file, or a fresh PostgreSQL
//!   database on the server named by `DBM_TEST_POSTGRES_URL` (created for the test, dropped
//!   afterwards, so tests run in parallel and never touch data they did not create).
//! - [`conformance`]: the behaviour suite every driver runs, and [`conformance_suite!`] to
//!   declare it as tests.
//! - [`MockDatabase`] and [`MockConnection`]: mockall mocks of the core traits, for unit
//!   tests of code that depends on `dbm-core` alone (never a substitute for driver tests).
//!
//! ```
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! use dbm_core::Params;
//! let t = dbm_testing::TestDb::sqlite(dbm_testing::default_pool()).await;
//! t.db.execute("CREATE TABLE t (x INTEGER)", &Params::new()).await.unwrap();
//! # });
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod conformance;
mod fixture;
mod logs;
mod mocks;

pub use fixture::{
    POSTGRES_URL_VAR, REQUIRE_POSTGRES_VAR, TestDb, postgres_options, postgres_password,
    postgres_required, skip,
};
pub use logs::LogCapture;
pub use mocks::{MockConnection, MockDatabase};

/// The pool settings fixtures use unless a test asks otherwise.
pub fn default_pool() -> dbm_core::PoolConfig {
    dbm_core::PoolConfig::new("test")
        .pool_size(4)
        .max_overflow(4)
        .timeout(std::time::Duration::from_secs(10))
}
