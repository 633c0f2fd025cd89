//! Every configured database's health in one report: checked concurrently, the worst status
//! wins, results cached so a flood of probes is not a flood of queries.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use chrono::{SecondsFormat, Utc};
use dbm_core::Database;
use dbm_migrate::Migrator;
use serde::Serialize;

use crate::check::{DatabaseHealth, check_database};
use crate::status::{HealthSettings, Status};

/// One database the monitor checks.
///
/// ```
/// # fn demo(db: std::sync::Arc<dyn dbm_core::Database>) {
/// use dbm_health::Component;
/// use dbm_migrate::Migrator;
/// let c = Component::new(db)
///     .migrations(Migrator::new("migrations/app", "app"))
///     .required(false); // down = degraded, not unhealthy
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Component {
    database: Arc<dyn Database>,
    migrator: Option<Migrator>,
    required: bool,
}

impl Component {
    /// A required database, without a migration check.
    pub fn new(database: Arc<dyn Database>) -> Self {
        Component {
            database,
            migrator: None,
            required: true,
        }
    }

    /// Checks the migration state with `migrator` too.
    pub fn migrations(mut self, migrator: Migrator) -> Self {
        self.migrator = Some(migrator);
        self
    }

    /// Whether the overall status fails when this database is unhealthy (`true`, the
    /// default) or is only degraded.
    pub fn required(mut self, required: bool) -> Self {
        self.required = required;
        self
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        self.database.name()
    }

    /// The database.
    pub fn database(&self) -> &Arc<dyn Database> {
        &self.database
    }
}

/// The health of every database: an overall status over components, in the manner of
/// Spring Boot Actuator's health groups.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct HealthSummary {
    /// The worst status of the required databases; an optional database that is unhealthy
    /// makes it degraded at most.
    pub status: Status,
    /// When the checks ran: RFC 3339, UTC, `Z`.
    pub timestamp: String,
    /// Each database's health, by name.
    pub components: BTreeMap<String, DatabaseHealth>,
}

impl HealthSummary {
    /// Builds the summary of `components`' results.
    pub fn of(components: Vec<DatabaseHealth>) -> Self {
        let status = components
            .iter()
            .map(|h| match (h.required, h.status) {
                (false, Status::Unhealthy) => Status::Degraded,
                (_, s) => s,
            })
            .max()
            .unwrap_or(Status::Healthy);
        HealthSummary {
            status,
            timestamp: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            components: components
                .into_iter()
                .map(|h| (h.database_name.clone(), h))
                .collect(),
        }
    }

    /// Readiness: every required database is reachable and its migrations are up to date.
    /// The reasons name each database that is not.
    pub fn readiness(&self) -> Readiness {
        let reasons: Vec<String> = self
            .components
            .values()
            .filter(|h| h.required && !h.is_ready())
            .map(|h| {
                if h.connection {
                    format!(
                        "{}: migrations are not up to date ({})",
                        h.database_name,
                        serde_json::to_value(h.migration_status)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_owned))
                            .unwrap_or_default()
                    )
                } else {
                    format!("{}: not reachable", h.database_name)
                }
            })
            .collect();
        Readiness {
            ready: reasons.is_empty(),
            reasons,
        }
    }
}

/// The answer of a readiness probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Readiness {
    /// Every required database is reachable and migrated.
    pub ready: bool,
    /// Why not, one per database.
    pub reasons: Vec<String>,
}

struct Cached {
    at: Instant,
    summary: Arc<HealthSummary>,
}

/// Checks a set of databases concurrently and caches the result for
/// [`HealthSettings::cache`]. Callers that arrive while a check runs wait for that check
/// instead of starting their own, so each database sees at most one check per cache
/// interval however many probes call.
///
/// ```
/// # async fn demo(db: std::sync::Arc<dyn dbm_core::Database>) {
/// use dbm_health::{Component, HealthMonitor, HealthSettings, Status};
/// let monitor = HealthMonitor::new(vec![Component::new(db)], HealthSettings::default());
/// let summary = monitor.check().await;
/// println!("{}", serde_json::to_string_pretty(&*summary).unwrap());
/// let _ok = summary.status != Status::Unhealthy;
/// # }
/// ```
#[derive(Debug)]
pub struct HealthMonitor {
    components: Vec<Component>,
    settings: HealthSettings,
    cache: tokio::sync::Mutex<Option<Cached>>,
    runs: AtomicU64,
}

impl std::fmt::Debug for Cached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cached").field("at", &self.at).finish()
    }
}

impl HealthMonitor {
    /// A monitor of `components` with `settings`.
    pub fn new(components: Vec<Component>, settings: HealthSettings) -> Self {
        HealthMonitor {
            components,
            settings,
            cache: tokio::sync::Mutex::new(None),
            runs: AtomicU64::new(0),
        }
    }

    /// The databases checked.
    pub fn components(&self) -> &[Component] {
        &self.components
    }

    /// The settings.
    pub fn settings(&self) -> &HealthSettings {
        &self.settings
    }

    /// How many times the databases were actually checked (cache misses).
    pub fn checks_run(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }

    /// The health of every database: the cached summary while it is younger than
    /// `settings.cache`, else a new check of all of them, run concurrently.
    pub async fn check(&self) -> Arc<HealthSummary> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref()
            && c.at.elapsed() < self.settings.cache
        {
            return c.summary.clone();
        }
        let summary = Arc::new(self.check_now().await);
        *cache = Some(Cached {
            at: Instant::now(),
            summary: summary.clone(),
        });
        summary
    }

    /// Checks every database now, bypassing (and not filling) the cache.
    pub async fn check_now(&self) -> HealthSummary {
        self.runs.fetch_add(1, Ordering::Relaxed);
        let checks = self.components.iter().map(|c| async move {
            let mut h =
                check_database(c.database.as_ref(), c.migrator.as_ref(), &self.settings).await;
            h.required = c.required;
            h
        });
        let results = futures_util::future::join_all(checks).await;
        for h in &results {
            if h.status != Status::Healthy {
                tracing::warn!(
                    db.namespace = %h.database_name,
                    status = %h.status,
                    reasons = %h.reasons.join("; "),
                    error = h.error.as_deref().unwrap_or(""),
                    "database health check"
                );
            }
        }
        HealthSummary::of(results)
    }
}
