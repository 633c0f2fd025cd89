//! SQL Server connection options, read from `mssql://` and `sqlserver://` URLs, ADO.NET
//! connection strings (`Server=tcp:host,1433;...`) and JDBC URLs
//! (`jdbc:sqlserver://host:1433;databaseName=...`). Errors name keys, never values: a
//! value may be (part of) a password.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use dbm_core::{Error, Result, shown_name as shown};

mod forms;

use forms::ado_server;

/// How the connection is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Encrypt {
    /// TLS for everything, or no connection (`encrypt=true`, the default).
    Required,
    /// TLS for the login only (`encrypt=false`, as SqlClient means it).
    LoginOnly,
    /// No TLS at all, not even for the login (`encrypt=DANGER_PLAINTEXT`): the password
    /// crosses the network readable. For test servers only.
    Plaintext,
}

/// The words `encrypt` takes.
pub const ENCRYPT_MODES: &[&str] = &["true", "false", "DANGER_PLAINTEXT"];

impl Encrypt {
    fn parse(value: &str) -> Result<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "mandatory" | "required" => Ok(Encrypt::Required),
            "false" | "no" | "optional" => Ok(Encrypt::LoginOnly),
            "danger_plaintext" => Ok(Encrypt::Plaintext),
            "strict" => Err(Error::config(
                "encrypt=strict (TDS 8.0) is not supported by dbm's SQL Server driver",
            )
            .with_hint("use encrypt=true, which encrypts everything after the PRELOGIN")),
            _ => Err(Error::config(format!(
                "encrypt {} is not one of {}",
                shown(value),
                ENCRYPT_MODES.join(", ")
            ))),
        }
    }

    /// The word `encrypt` is written with.
    pub fn as_str(self) -> &'static str {
        match self {
            Encrypt::Required => "true",
            Encrypt::LoginOnly => "false",
            Encrypt::Plaintext => "DANGER_PLAINTEXT",
        }
    }
}

/// SQL Server connection options (SQL Server authentication). `Debug` and `Display` never
/// show the password.
///
/// ```
/// use dbm_mssql::MssqlOptions;
/// let o: MssqlOptions = "mssql://etl:p%40ss@db.internal:1444/warehouse?encrypt=true&trust_server_certificate=true"
///     .parse()
///     .unwrap();
/// assert_eq!((o.host(), o.port(), o.database()), ("db.internal", 1444, Some("warehouse")));
/// assert_eq!(o.to_string(), "mssql://etl@db.internal:1444/warehouse");
/// let ado: MssqlOptions = "Server=tcp:db.internal,1444;Database=warehouse;User Id=etl;Password={p@ss;1}"
///     .parse()
///     .unwrap();
/// assert_eq!(ado.to_string(), o.to_string());
/// assert!(!format!("{ado:?}").contains("p@ss"));
/// ```
#[derive(Clone)]
pub struct MssqlOptions {
    host: String,
    port: u16,
    database: Option<String>,
    user: String,
    password: Option<String>,
    encrypt: Encrypt,
    trust_server_certificate: bool,
    ca: Option<PathBuf>,
    application_name: Option<String>,
    /// How long opening a connection (TCP, TLS and login) may take.
    pub connect_timeout: Duration,
}

impl MssqlOptions {
    /// The server host.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The server port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The database, if given (otherwise the login's default database).
    pub fn database(&self) -> Option<&str> {
        self.database.as_deref()
    }

    /// The login name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Whether a password is set.
    pub fn has_password(&self) -> bool {
        self.password.is_some()
    }

    /// How the connection is encrypted.
    pub fn encrypt(&self) -> Encrypt {
        self.encrypt
    }

    /// Whether the server's certificate is accepted without verification.
    pub fn trusts_server_certificate(&self) -> bool {
        self.trust_server_certificate
    }

    /// The CA certificate file the server's certificate is verified against, if any.
    pub fn ca_certificate(&self) -> Option<&Path> {
        self.ca.as_deref()
    }

    /// The same server and credentials, another database.
    pub fn with_database(mut self, database: &str) -> Self {
        self.database = Some(database.to_owned());
        self
    }

    /// Sets the password (e.g. from a secret file).
    pub fn with_password(mut self, password: &str) -> Self {
        self.password = Some(password.to_owned());
        self
    }

    /// Sets how the connection is encrypted.
    pub fn with_encrypt(mut self, encrypt: Encrypt) -> Self {
        self.encrypt = encrypt;
        self
    }

    /// Accepts the server's certificate without verification (or stops doing so).
    pub fn with_trust_server_certificate(mut self, trust: bool) -> Self {
        self.trust_server_certificate = trust;
        self
    }

    /// Verifies the server's certificate against this CA certificate file.
    pub fn with_ca_certificate(mut self, path: &Path) -> Self {
        self.ca = Some(path.to_path_buf());
        self
    }

    /// Sets the application name the server shows for the session.
    pub fn with_application_name(mut self, name: &str) -> Self {
        self.application_name = Some(name.to_owned());
        self
    }

    /// Sets the connect timeout.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Checks what can only be checked once every source (URL, keys, secrets) was applied.
    pub(crate) fn check(&self) -> Result<()> {
        if self.trust_server_certificate && self.ca.is_some() {
            return Err(Error::config(
                "trust_server_certificate and trust_server_certificate_ca exclude each other",
            )
            .with_hint("verify against the CA file, or trust any certificate, not both"));
        }
        if self.password.is_none() {
            return Err(Error::config(format!(
                "no password for the SQL Server login `{}` at {}:{}",
                self.user, self.host, self.port
            ))
            .with_hint(
                "put it in the URL, or set password_env or password_file for this database",
            ));
        }
        Ok(())
    }

    /// tiberius's configuration. The command timeout is off: dbm's own timeouts cancel
    /// statements on the server (ATTENTION, then KILL).
    pub(crate) fn tiberius_config(&self) -> tiberius::Config {
        let mut c = tiberius::Config::new();
        c.host(&self.host);
        c.port(self.port);
        if let Some(db) = &self.database {
            c.database(db);
        }
        c.authentication(tiberius::AuthMethod::sql_server(
            &self.user,
            self.password.as_deref().unwrap_or(""),
        ));
        c.encryption(match self.encrypt {
            Encrypt::Required => tiberius::EncryptionLevel::Required,
            Encrypt::LoginOnly => tiberius::EncryptionLevel::Off,
            Encrypt::Plaintext => tiberius::EncryptionLevel::NotSupported,
        });
        if self.trust_server_certificate {
            c.trust_cert();
        } else if let Some(ca) = &self.ca {
            c.trust_cert_ca(ca.display());
        }
        c.application_name(self.application_name.as_deref().unwrap_or("dbm"));
        c.handshake_timeout(Some(self.connect_timeout));
        c.command_timeout(None);
        c
    }

    fn new(host: String, port: u16) -> Self {
        MssqlOptions {
            host,
            port,
            database: None,
            user: String::new(),
            password: None,
            encrypt: Encrypt::Required,
            trust_server_certificate: false,
            ca: None,
            application_name: None,
            connect_timeout: Duration::from_secs(10),
        }
    }

    /// Applies one `key=value` of any of the three forms (keys compared without case,
    /// spaces or underscores).
    fn set(&mut self, key: &str, value: &str, form: Form) -> Result<()> {
        let k: String = key
            .chars()
            .filter(|c| !matches!(c, ' ' | '_'))
            .flat_map(char::to_lowercase)
            .collect();
        match k.as_str() {
            "server" | "datasource" | "address" | "addr" | "networkaddress"
                if form == Form::Ado =>
            {
                let (host, port) = ado_server(value)?;
                self.host = host;
                if let Some(p) = port {
                    self.port = p;
                }
            }
            "servername" if form == Form::Jdbc => self.host = value.to_owned(),
            "portnumber" | "port" if form == Form::Jdbc => {
                self.port = value
                    .trim()
                    .parse()
                    .map_err(|_| Error::config("portNumber is not a port number"))?;
            }
            "database" | "initialcatalog" | "databasename" => {
                self.database = Some(value.to_owned()).filter(|d| !d.is_empty());
            }
            "userid" | "uid" | "user" | "username" if form != Form::Url => {
                self.user = value.to_owned();
            }
            "password" | "pwd" if form != Form::Url => self.password = Some(value.to_owned()),
            "encrypt" => self.encrypt = Encrypt::parse(value)?,
            "trustservercertificate" => self.trust_server_certificate = flag(key, value)?,
            "trustservercertificateca" => self.ca = Some(PathBuf::from(value)),
            "applicationname" | "app" => self.application_name = Some(value.to_owned()),
            "connecttimeout" | "connectiontimeout" | "logintimeout" | "timeout" => {
                let secs: f64 = value
                    .trim()
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s > 0.0)
                    .ok_or_else(|| {
                        Error::config(format!(
                            "{} must be a positive number of seconds",
                            shown(key)
                        ))
                    })?;
                self.connect_timeout = Duration::from_secs_f64(secs);
            }
            "integratedsecurity"
            | "trustedconnection"
            | "authentication"
            | "authenticationscheme" => {
                return Err(Error::config(format!(
                    "{} is not supported: dbm's SQL Server driver logs in with SQL Server authentication",
                    shown(key)
                ))
                .with_hint("give a SQL Server login's user name and password"));
            }
            _ => {
                return Err(Error::config(format!(
                    "unknown SQL Server connection setting {}",
                    shown(key)
                ))
                .with_hint(format!("accepted: {}", form.accepted())));
            }
        }
        Ok(())
    }
}

/// Which of the three forms a setting came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Url,
    Ado,
    Jdbc,
}

impl Form {
    fn accepted(self) -> &'static str {
        match self {
            Form::Url => {
                "encrypt, trust_server_certificate, trust_server_certificate_ca, application_name, connect_timeout"
            }
            Form::Ado => {
                "Server, Database (Initial Catalog), User Id, Password, Encrypt, TrustServerCertificate, TrustServerCertificateCA, Application Name, Connect Timeout"
            }
            Form::Jdbc => {
                "databaseName, user, password, encrypt, trustServerCertificate, trustServerCertificateCA, applicationName, loginTimeout, portNumber, serverName"
            }
        }
    }
}

fn flag(key: &str, value: &str) -> Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" => Ok(true),
        "false" | "no" => Ok(false),
        _ => Err(Error::config(format!(
            "{} must be true or false",
            shown(key)
        ))),
    }
}

impl fmt::Display for MssqlOptions {
    /// `mssql://user@host:port/database`, without password or settings.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mssql://{}@{}:{}", self.user, self.host, self.port)?;
        if let Some(db) = &self.database {
            write!(f, "/{db}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for MssqlOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MssqlOptions")
            .field("target", &self.to_string())
            .field("encrypt", &self.encrypt)
            .field("trust_server_certificate", &self.trust_server_certificate)
            .field("ca", &self.ca)
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> MssqlOptions {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn the_three_forms_read_the_same() {
        let forms = [
            "mssql://etl:p%40ss%3Bw@db:1444/sales?encrypt=false&trust_server_certificate=true&application_name=loader&connect_timeout=2.5",
            "sqlserver://etl:p%40ss%3Bw@db:1444/sales?Encrypt=no&TrustServerCertificate=yes&ApplicationName=loader&connect_timeout=2.5",
            "Server=tcp:db,1444;Initial Catalog=sales;User Id=etl;Password='p@ss;w';Encrypt=False;TrustServerCertificate=True;Application Name=loader;Connect Timeout=2.5",
            "jdbc:sqlserver://db:1444;databaseName=sales;user=etl;password={p@ss;w};encrypt=false;trustServerCertificate=true;applicationName=loader;loginTimeout=2.5",
        ];
        for f in forms {
            let o = parse(f);
            assert_eq!(o.to_string(), "mssql://etl@db:1444/sales", "{f}");
            assert_eq!(o.password.as_deref(), Some("p@ss;w"), "{f}");
            assert_eq!(o.encrypt, Encrypt::LoginOnly, "{f}");
            assert!(o.trust_server_certificate, "{f}");
            assert_eq!(o.application_name.as_deref(), Some("loader"), "{f}");
            assert_eq!(o.connect_timeout, Duration::from_millis(2500), "{f}");
        }
    }

    #[test]
    fn defaults_and_quoting() {
        let o = parse("mssql://sa@h");
        assert_eq!(
            (o.port, o.database.as_deref(), o.encrypt),
            (1433, None, Encrypt::Required)
        );
        assert!(!o.has_password());
        let o = parse("Data Source=.;UID=sa;PWD=\"a\"\"b\";Database=x;");
        assert_eq!(
            (o.host.as_str(), o.password.as_deref()),
            ("localhost", Some("a\"b"))
        );
        let o = parse("mssql://sa:pw@[::1]:1500/db?encrypt=DANGER_PLAINTEXT");
        assert_eq!(
            (o.host.as_str(), o.port, o.encrypt),
            ("::1", 1500, Encrypt::Plaintext)
        );
    }

    #[test]
    fn bad_input_is_refused_without_quoting_secrets() {
        for (text, needle) in [
            ("mysql://u:pw9X@h/db", "a SQL Server URL is"),
            (
                "mssql://u:pw9X@h/db?encrypt=sometimes",
                "encrypt `sometimes`",
            ),
            ("mssql://u:pw9X@h/db?encrypt=strict", "TDS 8.0"),
            (
                "mssql://u:pw9X@h/db?pool=3",
                "unknown SQL Server connection setting `pool`",
            ),
            (
                "mssql://u:pw9X@h/db?user=x",
                "unknown SQL Server connection setting `user`",
            ),
            ("mssql://u:pw9X@h:port/db", "not host[:port]"),
            ("mssql://u:pw/9X@h/db", "an `@` after a `/`"),
            ("mssql://u:pw%zz9X@h/db", "the password has a `%`"),
            ("mssql://u:pw9X@h\\SQLEXPRESS/db", "named instances"),
            ("mssql://h/db", "names no user"),
            (
                "Server=tcp:h,1433;User Id=u;Password=pw9X;Integrated Security=true",
                "`Integrated Security` is not supported",
            ),
            (
                "Server=tcp:h,14x;User Id=u;Password=pw9X",
                "not a port number",
            ),
            ("Server=h\\inst;User Id=u;Password=pw9X", "named instances"),
            ("Server=np:h;User Id=u;Password=pw9X", "named pipes"),
            ("User Id=u;Password=pw9X", "no Server"),
            ("Server=h;User Id=u;Password='pw9X", "no closing quote"),
            ("Server=h;User Id=u;Password={pw9X", "no closing `}`"),
            (
                "Server=h;User Id=u;Password='pw'9X;",
                "text follows the quoted value of `Password`",
            ),
            ("Server=h;User Id=u;pw9X", "has no `=`"),
            ("Server=h;User Id=u;Password=x;pw9X;y=1", "cannot be shown"),
            (
                "jdbc:sqlserver://h:1433;user=u;password=pw9X;foo=1",
                "unknown SQL Server connection setting `foo`",
            ),
            (
                "jdbc:sqlserver://h\\i;user=u;password=pw9X",
                "named instances",
            ),
            (
                "mssql://u:pw9X@h/db?trust_server_certificate=maybe",
                "must be true or false",
            ),
            (
                "mssql://u:pw9X@h/db?connect_timeout=0",
                "positive number of seconds",
            ),
        ] {
            let e = text.parse::<MssqlOptions>().unwrap_err();
            let shown = format!("{e} {}", e.hint().unwrap_or(""));
            assert!(shown.contains(needle), "{text}: {shown}");
            assert!(!shown.contains("9X"), "{text}: {shown}");
        }
    }

    #[test]
    fn checks_after_every_source() {
        let o = parse("mssql://u@h/db");
        assert!(o.check().unwrap_err().to_string().contains("no password"));
        let o = o.with_password("x");
        assert!(o.check().is_ok());
        let o = o
            .with_trust_server_certificate(true)
            .with_ca_certificate(Path::new("ca.pem"));
        assert!(
            o.check()
                .unwrap_err()
                .to_string()
                .contains("exclude each other")
        );
    }
}
