//! Health of one or many dbm databases, for operators: checks aggregated into one status,
//! cached, served over HTTP for liveness and readiness probes, with Prometheus metrics.
//!
//! Everything works over the `dbm-core` traits, so every driver gets it:
//!
//! - [`check_database`]: one database's connectivity, test query, response time, pool
//!   utilisation and migration state, with a status ([`Status`]) decided by
//!   [`HealthSettings`] (`[health]` in `dbm.toml`), bounded by a timeout.
//! - [`HealthMonitor`]: all of them, checked concurrently, the worst status wins (an
//!   optional database only degrades it), cached for `cache_ms` with a single check in
//!   flight.
//! - [`Metrics`]: `db_client_operation_duration_seconds` for every operation, pool readings
//!   and health gauges, in the Prometheus text format 0.0.4 or OpenMetrics.
//! - Feature `http`: [`router`] (`/health`, `/health/live`, `/health/ready`,
//!   `/health/{database}`, `/metrics`) on axum, and [`serve`] with graceful shutdown.
//!
//! ```no_run
//! # async fn demo(db: std::sync::Arc<dyn dbm_core::Database>) {
//! use dbm_health::{Component, HealthMonitor, HealthSettings, Status};
//! let monitor = HealthMonitor::new(vec![Component::new(db)], HealthSettings::default());
//! let summary = monitor.check().await;
//! assert_ne!(summary.status, Status::Unhealthy, "{summary:?}");
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod check;
#[cfg(feature = "http")]
mod http;
mod metrics;
mod monitor;
mod status;

pub use check::{DatabaseHealth, MigrationDetails, SchemaState, check_database};
#[cfg(feature = "http")]
pub use http::{HealthService, router, serve, shutdown_signal};
pub use metrics::{Format, Metrics};
pub use monitor::{Component, HealthMonitor, HealthSummary, Readiness};
pub use status::{HealthSettings, Status};
