//! The SQLite driver's descriptor, as the facade's registry lists it.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use dbm_core::{
    Backend, ConnectSettings, ConnectTarget, Database, Driver, DriverOptions, DriverSettings,
    Error, PoolConfig, Result, TestBackend, options_of,
};

use crate::options::SqliteOptions;

/// SQLite: `sqlite:` URLs, no keys of its own, no password.
///
/// ```
/// use dbm_core::{Driver, DriverSettings};
/// let d = &dbm_sqlite::DRIVER;
/// assert!(d.accepts("SQLite://target/app.db"));
/// let options = d.configure("sqlite://app.db", &DriverSettings::new("/srv/etl")).unwrap();
/// assert_eq!(options.target().database.as_deref(), Some("/srv/etl/app.db"));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SqliteDriver;

/// The descriptor the facade registers.
pub static DRIVER: SqliteDriver = SqliteDriver;

impl DriverOptions for SqliteOptions {
    fn target(&self) -> ConnectTarget {
        match self.path() {
            Some(p) => ConnectTarget::new().database(p.display().to_string()),
            None => ConnectTarget::new().database(":memory:"),
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Driver for SqliteDriver {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn url_forms(&self) -> &'static [&'static str] {
        &["sqlite:"]
    }

    fn takes_password(&self) -> bool {
        false
    }

    fn configure(&self, url: &str, settings: &DriverSettings) -> Result<Arc<dyn DriverOptions>> {
        let options: SqliteOptions = url.parse()?;
        Ok(Arc::new(options.resolve_relative_to(&settings.base_dir)))
    }

    fn open(
        &self,
        name: &str,
        options: &dyn DriverOptions,
        connect: &ConnectSettings,
        pool: PoolConfig,
        statement_timeout: Option<Duration>,
    ) -> Result<Arc<dyn Database>> {
        let options = options_of::<SqliteOptions>(options, "sqlite")?;
        if connect.password.is_some() {
            return Err(Error::config("SQLite databases have no password")
                .with_hint("remove password_env / password_file for this database"));
        }
        let mut options = options.clone();
        if connect.read_only {
            options = options.read_only(true);
        }
        Ok(Arc::new(
            crate::open(name, options, pool).with_statement_timeout(statement_timeout),
        ))
    }

    fn test_backend(&self) -> &'static dyn TestBackend {
        &crate::SqliteTestBackend
    }
}
