//! `postgres://` URLs and connection options.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use dbm_core::{Error, Result};
use sqlx::postgres::{PgConnectOptions, PgSslMode};

/// PostgreSQL connection options. `Debug` and `Display` never show the password.
///
/// ```
/// use dbm_postgres::PgOptions;
/// let o: PgOptions = "postgres://etl:p%40ss@db.internal:5433/warehouse?sslmode=require&connect_timeout=5&application_name=loader"
///     .parse()
///     .unwrap();
/// assert_eq!(o.host(), "db.internal");
/// assert_eq!(o.port(), 5433);
/// assert_eq!(o.database(), Some("warehouse"));
/// assert_eq!(o.username(), "etl");
/// assert_eq!(o.to_string(), "postgres://etl@db.internal:5433/warehouse");
/// assert!(!format!("{o:?}").contains("p@ss"));
/// ```
#[derive(Clone)]
pub struct PgOptions {
    pub(crate) connect: PgConnectOptions,
    /// How long opening a connection may take.
    pub connect_timeout: Duration,
}

const ACCEPTED: &str = "sslmode, sslrootcert, sslcert, sslkey, application_name, options, connect_timeout, host, hostaddr, port, dbname, user, password, statement-cache-capacity";

impl PgOptions {
    /// Options from sqlx's `PgConnectOptions`, with a 10 s connect timeout.
    pub fn from_connect_options(connect: PgConnectOptions) -> Self {
        PgOptions {
            connect,
            connect_timeout: Duration::from_secs(10),
        }
    }

    /// The server host.
    pub fn host(&self) -> &str {
        self.connect.get_host()
    }

    /// The server port.
    pub fn port(&self) -> u16 {
        self.connect.get_port()
    }

    /// The database name, if given.
    pub fn database(&self) -> Option<&str> {
        self.connect.get_database()
    }

    /// The user name.
    pub fn username(&self) -> &str {
        self.connect.get_username()
    }

    /// The TLS mode.
    pub fn ssl_mode(&self) -> PgSslMode {
        self.connect.get_ssl_mode()
    }

    /// The same server and credentials, another database (used by test fixtures).
    pub fn with_database(mut self, database: &str) -> Self {
        self.connect = self.connect.database(database);
        self
    }

    /// Sets the password (e.g. from a secret file).
    pub fn with_password(mut self, password: &str) -> Self {
        self.connect = self.connect.password(password);
        self
    }

    /// Sets the TLS mode.
    pub fn with_ssl_mode(mut self, mode: PgSslMode) -> Self {
        self.connect = self.connect.ssl_mode(mode);
        self
    }

    /// Sets the CA certificate file used by `verify-ca` and `verify-full`.
    pub fn with_ssl_root_cert(mut self, path: &std::path::Path) -> Self {
        self.connect = self.connect.ssl_root_cert(path);
        self
    }

    /// Makes every transaction read-only (`default_transaction_read_only = on`).
    pub fn read_only(mut self) -> Self {
        self.connect = self
            .connect
            .options([("default_transaction_read_only", "on")]);
        self
    }

    /// Sets the connect timeout.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
}

impl fmt::Display for PgOptions {
    /// `postgres://user@host:port/database`, without password or parameters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "postgres://{}@{}:{}",
            self.username(),
            self.host(),
            self.port()
        )?;
        if let Some(db) = self.database() {
            write!(f, "/{db}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for PgOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgOptions")
            .field("target", &self.to_string())
            .field("ssl_mode", &self.ssl_mode())
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

impl FromStr for PgOptions {
    type Err = Error;

    fn from_str(url: &str) -> Result<Self> {
        let lower = url.to_ascii_lowercase();
        if !(lower.starts_with("postgres://") || lower.starts_with("postgresql://")) {
            return Err(Error::config(
                "a PostgreSQL URL starts with postgres:// or postgresql://",
            ));
        }
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut timeout = Duration::from_secs(10);
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "connect_timeout" => {
                    let secs: f64 = value
                        .parse()
                        .ok()
                        .filter(|s: &f64| s.is_finite() && *s >= 0.0)
                        .ok_or_else(|| {
                            Error::config(format!(
                                "connect_timeout must be a number of seconds, not `{value}`"
                            ))
                        })?;
                    timeout = Duration::from_secs_f64(secs);
                }
                "sslmode" | "ssl-mode" => {
                    if !matches!(
                        value,
                        "disable" | "allow" | "prefer" | "require" | "verify-ca" | "verify-full"
                    ) {
                        return Err(Error::config(format!(
                            "sslmode `{value}` is not one of disable, allow, prefer, require, verify-ca, verify-full"
                        )));
                    }
                    kept.push(pair);
                }
                k if ACCEPTED.split(", ").any(|a| a == k) || k.starts_with("options[") => {
                    kept.push(pair)
                }
                _ => {
                    return Err(
                        Error::config(format!("unknown PostgreSQL URL parameter `{key}`"))
                            .with_hint(format!("accepted: {ACCEPTED}")),
                    );
                }
            }
        }
        let rebuilt = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        // sqlx's own parser: percent-decodes user, password and database.
        let connect = PgConnectOptions::from_str(&rebuilt).map_err(|e| {
            // sqlx's message may quote the URL: keep only our own words.
            let _ = e;
            Error::config(format!("the PostgreSQL URL {} does not parse", dbm_redact(url)))
                .with_hint("postgres://user:password@host:5432/database?sslmode=prefer (percent-encode @ : / % in the password)")
        })?;
        Ok(PgOptions {
            connect,
            connect_timeout: timeout,
        })
    }
}

/// `scheme://user:***@rest`, for messages about a URL that may hold a password.
pub(crate) fn dbm_redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(unparseable)".to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let tail = tail.split('?').next().unwrap_or("");
    match authority.rsplit_once('@') {
        Some((user, host)) => {
            let user = user.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        None => format!("{scheme}://{authority}{tail}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_parts() {
        let o: PgOptions = "postgresql://u%40x:p%3A%2F%25%20w@h:6000/d%20b?sslmode=disable&application_name=a&options=-c%20search_path%3Dx&connect_timeout=2.5"
            .parse()
            .unwrap();
        assert_eq!(o.username(), "u@x");
        assert_eq!(o.host(), "h");
        assert_eq!(o.port(), 6000);
        assert_eq!(o.database(), Some("d b"));
        assert!(matches!(o.ssl_mode(), PgSslMode::Disable));
        assert_eq!(o.connect_timeout, Duration::from_millis(2500));
        assert_eq!(o.connect.get_application_name(), Some("a"));
    }

    #[test]
    fn rejects_bad_input_without_echoing_the_password() {
        for (url, needle) in [
            ("mysql://u:pw@h/db", "starts with postgres://"),
            (
                "postgres://u:secretpw@h/db?sslmode=sometimes",
                "sslmode `sometimes`",
            ),
            (
                "postgres://u:secretpw@h/db?pool=3",
                "unknown PostgreSQL URL parameter `pool`",
            ),
            (
                "postgres://u:secretpw@h/db?connect_timeout=soon",
                "connect_timeout",
            ),
            ("postgres://u:secretpw@h:notaport/db", "does not parse"),
        ] {
            let e = url.parse::<PgOptions>().unwrap_err().to_string();
            assert!(e.contains(needle), "{url}: {e}");
            assert!(!e.contains("secretpw"), "{e}");
        }
    }

    #[test]
    fn redaction() {
        assert_eq!(
            dbm_redact("postgres://u:pw@h:1/db?password=x"),
            "postgres://u:***@h:1/db"
        );
    }
}
