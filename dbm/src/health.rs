//! Health of the configured databases, through `dbm-health`: one database from its
//! manager, or every database of a configuration in one monitor.

use std::sync::Arc;

use dbm_core::Result;
use dbm_health::{Component, HealthMonitor};

use crate::config::{Config, DatabaseConfig};
use crate::manager::{DatabaseManager, build_database};

/// The health component of a database: its pool, its migrations when the directory
/// exists, and whether it is required.
pub(crate) fn component(db: Arc<dyn dbm_core::Database>, c: &DatabaseConfig) -> Component {
    let dir = c.migrations_dir();
    let component = Component::new(db).required(c.required);
    if dir.is_dir() {
        component.migrations(dbm_migrate::Migrator::new(dir, c.name.clone()))
    } else {
        component
    }
}

impl DatabaseManager {
    /// This database as a component of a [`HealthMonitor`] (sharing this handle's pool),
    /// for an application that serves health for the managers it already holds.
    pub fn health_component(&self) -> Component {
        component(self.database(), self.config())
    }
}

/// A monitor of every database in `config` (`[health]` settings, each database's
/// `required` and migrations directory). Each database gets its own pool, opened lazily:
/// nothing connects until the first check, and a database that is down does not stop the
/// others from being checked. A database whose settings are invalid is an error.
///
#[cfg_attr(feature = "sqlite", doc = "```")]
#[cfg_attr(not(feature = "sqlite"), doc = "```ignore")]
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let dir = tempfile::tempdir().unwrap();
/// let config = dbm::Config::loader()
///     .toml("[databases.app]\nurl = \"sqlite://app.db\"\n[databases.cache]\nurl = \"sqlite://cache.db\"\nrequired = false\n")
///     .base_dir(dir.path())
///     .load()
///     .unwrap();
/// let monitor = dbm::health_monitor(&config).unwrap();
/// let summary = monitor.check().await;
/// assert_eq!(summary.status, dbm::Status::Healthy);
/// assert!(!summary.components["cache"].required);
/// # });
/// ```
pub fn health_monitor(config: &Config) -> Result<HealthMonitor> {
    let settings = config.global()?.health;
    let mut components = Vec::new();
    for name in config.database_names() {
        let c = config.database(&name)?;
        components.push(component(build_database(&c)?, &c));
    }
    Ok(HealthMonitor::new(components, settings))
}
