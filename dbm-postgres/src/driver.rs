//! The PostgreSQL driver's descriptor, as the facade's registry lists it.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use dbm_core::{
    Backend, ConnectSettings, ConnectTarget, Database, Driver, DriverKey, DriverOptions,
    DriverSettings, Error, KeyKind, PoolConfig, Result, TestBackend, options_of,
};

use crate::options::PgOptions;

/// PostgreSQL: `postgres://` and `postgresql://` URLs, with the keys `sslmode` and
/// `sslrootcert`.
///
/// ```
/// use dbm_core::{Driver, DriverSettings, SettingValue};
/// let d = &dbm_postgres::DRIVER;
/// assert!(d.accepts("postgresql://etl@db/sales"));
/// let settings = DriverSettings::new(".").with("sslmode", SettingValue::Text("require".into()));
/// let options = d.configure("postgres://etl:pw@db:5433/sales", &settings).unwrap();
/// assert_eq!(options.target().to_string(), "etl@db:5433/sales");
/// assert!(!format!("{options:?}").contains("pw"));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct PgDriver;

/// The descriptor the facade registers.
pub static DRIVER: PgDriver = PgDriver;

/// The TLS modes, as libpq names them.
pub const SSL_MODES: &[&str] = &[
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];

const KEYS: &[DriverKey] = &[
    DriverKey::new(
        "sslmode",
        KeyKind::Choice(SSL_MODES),
        "TLS mode (overrides the URL's sslmode)",
    ),
    DriverKey::new(
        "sslrootcert",
        KeyKind::File,
        "CA certificate file for verify-ca and verify-full",
    ),
];

impl DriverOptions for PgOptions {
    fn target(&self) -> ConnectTarget {
        ConnectTarget::new()
            .host(self.host())
            .port(self.port())
            .user(self.username())
            .database_opt(self.database())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Driver for PgDriver {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn url_forms(&self) -> &'static [&'static str] {
        &["postgres://", "postgresql://"]
    }

    fn keys(&self) -> &'static [DriverKey] {
        KEYS
    }

    fn configure(&self, url: &str, settings: &DriverSettings) -> Result<Arc<dyn DriverOptions>> {
        let mut options: PgOptions = url.parse()?;
        if let Some(mode) = settings.text("sslmode") {
            let mode = mode.parse().map_err(|_| {
                Error::config(format!(
                    "sslmode `{mode}` is not one of {}",
                    SSL_MODES.join(", ")
                ))
            })?;
            options = options.with_ssl_mode(mode);
        }
        if let Some(ca) = settings.path("sslrootcert") {
            options = options.with_ssl_root_cert(ca);
        }
        Ok(Arc::new(options))
    }

    fn open(
        &self,
        name: &str,
        options: &dyn DriverOptions,
        connect: &ConnectSettings,
        pool: PoolConfig,
        statement_timeout: Option<Duration>,
    ) -> Result<Arc<dyn Database>> {
        let mut options = options_of::<PgOptions>(options, "postgres")?.clone();
        if let Some(p) = &connect.password {
            options = options.with_password(p);
        }
        if let Some(t) = connect.connect_timeout {
            options = options.with_connect_timeout(t);
        }
        if connect.read_only {
            options = options.read_only();
        }
        Ok(Arc::new(
            crate::open(name, options, pool).with_statement_timeout(statement_timeout),
        ))
    }

    fn test_backend(&self) -> &'static dyn TestBackend {
        &crate::PgTestBackend
    }
}
