//! The SQL Server driver's descriptor, as the facade's registry lists it.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use dbm_core::{
    Backend, ConnectSettings, ConnectTarget, Database, Driver, DriverKey, DriverOptions,
    DriverSettings, Error, KeyKind, PoolConfig, Result, TestBackend, options_of,
};

use crate::options::{ENCRYPT_MODES, Encrypt, MssqlOptions};

/// SQL Server: `mssql://` and `sqlserver://` URLs, ADO.NET connection strings
/// (`Server=...;`, `Data Source=...;`) and `jdbc:sqlserver://` URLs, with the keys
/// `encrypt`, `trust_server_certificate`, `trust_server_certificate_ca` and
/// `application_name`.
///
/// ```
/// use dbm_core::{Driver, DriverSettings, SettingValue};
/// let d = &dbm_mssql::DRIVER;
/// assert!(d.accepts("Server=tcp:db,1433;Database=sales;User Id=etl;Password=pw"));
/// let settings = DriverSettings::new(".").with("trust_server_certificate", SettingValue::Bool(true));
/// let options = d.configure("mssql://etl:pw@db/sales", &settings).unwrap();
/// assert_eq!(options.target().to_string(), "etl@db:1433/sales");
/// assert!(!format!("{options:?}").contains("pw"));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct MssqlDriver;

/// The descriptor the facade registers.
pub static DRIVER: MssqlDriver = MssqlDriver;

const KEYS: &[DriverKey] = &[
    DriverKey::new(
        "encrypt",
        KeyKind::Choice(ENCRYPT_MODES),
        "TLS: true (everything, the default), false (the login only), DANGER_PLAINTEXT (none)",
    ),
    DriverKey::new(
        "trust_server_certificate",
        KeyKind::Bool,
        "accept the server's certificate without verifying it",
    ),
    DriverKey::new(
        "trust_server_certificate_ca",
        KeyKind::File,
        "CA certificate file the server's certificate is verified against",
    ),
    DriverKey::new(
        "application_name",
        KeyKind::Text,
        "the program name the server shows for the session (default dbm)",
    ),
];

impl DriverOptions for MssqlOptions {
    fn target(&self) -> ConnectTarget {
        ConnectTarget::new()
            .host(self.host())
            .port(self.port())
            .user(self.user())
            .database_opt(self.database())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Driver for MssqlDriver {
    fn name(&self) -> &'static str {
        "mssql"
    }

    fn backend(&self) -> Backend {
        Backend::Mssql
    }

    fn url_forms(&self) -> &'static [&'static str] {
        &[
            "mssql://",
            "sqlserver://",
            "jdbc:sqlserver://",
            "Server=",
            "Data Source=",
        ]
    }

    fn keys(&self) -> &'static [DriverKey] {
        KEYS
    }

    fn configure(&self, url: &str, settings: &DriverSettings) -> Result<Arc<dyn DriverOptions>> {
        let mut options: MssqlOptions = url.parse()?;
        if let Some(mode) = settings.text("encrypt") {
            let encrypt = match mode {
                "true" => Encrypt::Required,
                "false" => Encrypt::LoginOnly,
                "DANGER_PLAINTEXT" => Encrypt::Plaintext,
                _ => {
                    return Err(Error::config(format!(
                        "encrypt is not one of {}",
                        ENCRYPT_MODES.join(", ")
                    )));
                }
            };
            options = options.with_encrypt(encrypt);
        }
        if let Some(trust) = settings.flag("trust_server_certificate") {
            options = options.with_trust_server_certificate(trust);
        }
        if let Some(ca) = settings.path("trust_server_certificate_ca") {
            options = options.with_ca_certificate(ca);
        }
        if let Some(name) = settings.text("application_name") {
            options = options.with_application_name(name);
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
        let mut options = options_of::<MssqlOptions>(options, "mssql")?.clone();
        if let Some(p) = &connect.password {
            options = options.with_password(p);
        }
        if let Some(t) = connect.connect_timeout {
            options = options.with_connect_timeout(t);
        }
        if connect.read_only {
            return Err(Error::config(format!(
                "read_only is not available for SQL Server databases ({name})"
            ))
            .with_hint("SQL Server has no read-only session setting: connect with a login that only has db_datareader"));
        }
        options.check()?;
        Ok(Arc::new(
            crate::open(name, options, pool).with_statement_timeout(statement_timeout),
        ))
    }

    fn test_backend(&self) -> &'static dyn TestBackend {
        &crate::MssqlTestBackend
    }
}
