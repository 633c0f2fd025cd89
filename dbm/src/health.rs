//! Health of one database: connectivity, a test query, timing, migrations, pool.

use std::time::Instant;

use chrono::{DateTime, Utc};
use dbm_core::{Backend, Params, PoolStatus};
use serde::Serialize;

use crate::manager::DatabaseManager;

/// Migration facts in a health report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct MigrationHealth {
    /// The applied version.
    pub current_version: Option<String>,
    /// How many migrations are pending.
    pub pending: usize,
    /// How many are recorded as failed.
    pub failed: usize,
    /// Problems `validate` would report.
    pub problems: Vec<String>,
}

/// The result of [`DatabaseManager::health_check`]. Serialises to JSON for monitoring.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct HealthReport {
    /// The database name.
    pub database: String,
    /// The backend.
    pub backend: Backend,
    /// Connectivity and test query both succeeded.
    pub healthy: bool,
    /// A connection could be checked out and pinged.
    pub connectivity: bool,
    /// `SELECT 1` returned 1.
    pub test_query: bool,
    /// Time for checkout, ping and test query, in milliseconds.
    pub response_time_ms: f64,
    /// The response took longer than the `health.slow_ms` threshold.
    pub slow: bool,
    /// Migration status, when a migrations directory exists and could be read.
    pub migrations: Option<MigrationHealth>,
    /// The pool's status after the check.
    pub pool: PoolStatus,
    /// When the check ran.
    pub checked_at: DateTime<Utc>,
    /// What failed, if anything (never containing credentials).
    pub error: Option<String>,
}

pub(crate) async fn check_health(m: &DatabaseManager) -> HealthReport {
    let started = Instant::now();
    let db = m.database();
    let mut connectivity = false;
    let mut test_query = false;
    let mut error = None;
    match db.acquire().await {
        Ok(mut conn) => match conn.ping().await {
            Ok(()) => {
                connectivity = true;
                match conn.query("SELECT 1 AS ok", &Params::new()).await {
                    Ok(rows) => {
                        test_query = rows.first().and_then(|r| r.get::<i64>("ok").ok()) == Some(1);
                        if !test_query {
                            error = Some("the test query did not return 1".to_owned());
                        }
                    }
                    Err(e) => error = Some(e.with_database(m.name()).to_string()),
                }
            }
            Err(e) => error = Some(e.with_database(m.name()).to_string()),
        },
        Err(e) => error = Some(e.to_string()),
    }
    let response_time_ms = started.elapsed().as_secs_f64() * 1000.0;
    let migrations = if connectivity && m.config().migrations_dir().is_dir() {
        match m.get_migration_status().await {
            Ok(s) => Some(MigrationHealth {
                current_version: s.current_version.clone(),
                pending: s.pending.len(),
                failed: s.failed.len(),
                problems: s.problems().iter().map(ToString::to_string).collect(),
            }),
            Err(e) => {
                error.get_or_insert(e.to_string());
                None
            }
        }
    } else {
        None
    };
    HealthReport {
        database: m.name().to_owned(),
        backend: m.backend(),
        healthy: connectivity && test_query,
        connectivity,
        test_query,
        response_time_ms,
        slow: response_time_ms > m.config().health_slow.as_secs_f64() * 1000.0,
        migrations,
        pool: m.get_pool_status(),
        checked_at: Utc::now(),
        error,
    }
}
