//! `postgres://` URLs and connection options.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use dbm_core::{Error, Result, percent_decode, redact_url, shown_name};
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
    /// The CA certificate file (`sslrootcert`), checked before each connection so that a
    /// missing file is a TLS configuration error, not a network one.
    pub(crate) ssl_root_cert: Option<PathBuf>,
}

const ACCEPTED: &str = "sslmode, sslrootcert, sslcert, sslkey, application_name, options, connect_timeout, host, hostaddr, port, dbname, user, password, statement-cache-capacity";

impl PgOptions {
    /// Options from sqlx's `PgConnectOptions`, with a 10 s connect timeout.
    pub fn from_connect_options(connect: PgConnectOptions) -> Self {
        PgOptions {
            connect,
            connect_timeout: Duration::from_secs(10),
            ssl_root_cert: None,
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
    pub fn with_ssl_root_cert(mut self, path: &Path) -> Self {
        self.connect = self.connect.ssl_root_cert(path);
        self.ssl_root_cert = Some(path.to_path_buf());
        self
    }

    /// The CA certificate file, when one is set.
    pub fn ssl_root_cert(&self) -> Option<&Path> {
        self.ssl_root_cert.as_deref()
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

/// Where a URL's invalid percent-encoding is, for the message.
fn percent_error(url: &str, rest_start: usize) -> Option<&'static str> {
    let b = url.as_bytes();
    let bad = (0..b.len()).find(|&i| {
        b[i] == b'%'
            && !(b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    })?;
    let rest = &url[rest_start..];
    let at = rest.rfind('@').map(|p| rest_start + p);
    let query = url.find('?');
    Some(match at {
        Some(at) if bad < at => {
            let colon = url[rest_start..at].find(':').map(|p| rest_start + p);
            if colon.is_some_and(|c| bad > c) {
                "the password"
            } else {
                "the user name"
            }
        }
        _ if query.is_some_and(|q| bad > q) => "a parameter value",
        _ => "the host or database name",
    })
}

impl FromStr for PgOptions {
    type Err = Error;

    /// Parses a `postgres://` URL. Errors never quote the URL's user info: a password
    /// that is not percent-encoded may hold any character.
    fn from_str(url: &str) -> Result<Self> {
        let hint = "postgres://user:password@host:5432/database?sslmode=prefer; percent-encode @ : / ? # % and spaces in the user name and password (p%40ss)";
        let unreadable = |why: &str| {
            Error::config(format!(
                "the PostgreSQL URL {} cannot be read: {why}",
                redact_url(url)
            ))
            .with_hint(hint)
        };
        let lower = url.to_ascii_lowercase();
        let rest_start = if lower.starts_with("postgres://") {
            "postgres://".len()
        } else if lower.starts_with("postgresql://") {
            "postgresql://".len()
        } else {
            return Err(Error::config(
                "a PostgreSQL URL starts with postgres:// or postgresql://",
            ));
        };
        let rest = &url[rest_start..];
        // The user info ends at the last `@`; an `@` after the first `/`, `?` or `#` means
        // a password (or value) that should have been percent-encoded.
        let first_separator = rest.find(['/', '?', '#']);
        let last_at = rest.rfind('@');
        if let (Some(sep), Some(at)) = (first_separator, last_at)
            && at > sep
        {
            return Err(unreadable(
                "it has an `@` after a `/`, `?` or `#`, so where the password ends is unclear",
            ));
        }
        let authority = &rest[..first_separator.unwrap_or(rest.len())];
        let host_port = authority.rsplit('@').next().unwrap_or("");
        // What follows the host: `""` or `:digits` (IPv6 hosts are bracketed).
        let after_host = match host_port.strip_prefix('[') {
            Some(v6) => v6.split_once(']').map(|(_, p)| p),
            None => Some(host_port.find(':').map_or("", |p| &host_port[p..])),
        };
        let port_ok = after_host.is_some_and(|p| {
            p.is_empty()
                || p.strip_prefix(':')
                    .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        });
        if !port_ok || host_port.contains(' ') {
            return Err(unreadable(
                "the part after the user info is not host[:port]",
            ));
        }
        if let Some(part) = percent_error(url, rest_start) {
            return Err(unreadable(&format!(
                "{part} has a `%` that is not followed by two hex digits"
            ))
            .with_hint(
                "write `%25` for a literal `%`, and percent-encode @ : / ? # in the password",
            ));
        }
        if let Some(at) = last_at
            && percent_decode(&rest[..at]).is_none()
        {
            return Err(unreadable(
                "the user name or password is not valid UTF-8 once percent-decoded",
            ));
        }

        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut timeout = Duration::from_secs(10);
        let mut root_cert = None;
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
                    if !crate::SSL_MODES.contains(&value) {
                        return Err(Error::config(format!(
                            "sslmode `{value}` is not one of {}",
                            crate::SSL_MODES.join(", ")
                        )));
                    }
                    kept.push(pair);
                }
                "sslrootcert" | "ssl-root-cert" => {
                    let path = percent_decode(value)
                        .ok_or_else(|| Error::config("sslrootcert is not a valid path"))?;
                    root_cert = Some(PathBuf::from(path));
                    kept.push(pair);
                }
                k if ACCEPTED.split(", ").any(|a| a == k) || k.starts_with("options[") => {
                    kept.push(pair)
                }
                _ => {
                    return Err(Error::config(format!(
                        "unknown PostgreSQL URL parameter {}",
                        shown_name(key)
                    ))
                    .with_hint(format!("accepted: {ACCEPTED}")));
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
            unreadable("its parts do not parse")
        })?;
        Ok(PgOptions {
            connect,
            connect_timeout: timeout,
            ssl_root_cert: root_cert,
        })
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
            ("postgres://u:secretpw@h:notaport/db", "not host[:port]"),
        ] {
            let e = url.parse::<PgOptions>().unwrap_err().to_string();
            assert!(e.contains(needle), "{url}: {e}");
            assert!(!e.contains("secretpw"), "{e}");
        }
    }

    #[test]
    fn unencoded_or_malformed_user_info_is_refused_without_quoting_it() {
        for (url, needle) in [
            ("postgres://u:pa/ss9X@h/db", "an `@` after a `/`"),
            ("postgres://u:pa?ss9X@h/db", "an `@` after a `/`"),
            ("postgres://u:pa#ss9X@h/db", "an `@` after a `/`"),
            ("postgres://u:pass9X/h/db", "not host[:port]"),
            ("postgres://u:pa?ss9X", "not host[:port]"),
            ("postgres://u:pa%zzss9X@h/db", "the password has a `%`"),
            ("postgres://u%zz:pass9X@h/db", "the user name has a `%`"),
            (
                "postgres://u:pass9X@h/db?application_name=%zz",
                "a parameter value has a `%`",
            ),
            ("postgres://u:pa%ffss9X@h/db", "not valid UTF-8"),
            (
                "postgres://u:pass9X@h/db?ss9X/x=1",
                "unknown PostgreSQL URL parameter (a name that cannot be shown)",
            ),
        ] {
            let e = url.parse::<PgOptions>().unwrap_err().to_string();
            assert!(e.contains(needle), "{url}: {e}");
            assert!(!e.contains("ss9X"), "{url}: {e}");
        }
        // An unencoded `@` or `:` inside the user info is still read (the last `@` ends it).
        let o: PgOptions = "postgres://u:p@ss:w@h:5/db".parse().unwrap();
        assert_eq!((o.host(), o.port()), ("h", 5));
        let o: PgOptions = "postgres://[::1]:6543/db".parse().unwrap();
        assert_eq!(o.port(), 6543);
    }
}
