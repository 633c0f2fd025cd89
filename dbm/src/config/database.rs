//! One database's settings, resolved from the layers, secrets read, everything validated.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use dbm_core::{Backend, Error, Result, RetryPolicy};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use super::Config;
use super::identity::check_name;
use super::layers::{Entry, Origin, POOL_KEYS, Scalar};
use super::urls::{detect_backend, redact_url, url_env_var};

/// The settings of one database.
#[derive(Clone)]
#[non_exhaustive]
pub struct DatabaseConfig {
    /// The database's name (`app`).
    pub name: String,
    /// The connection URL; may hold a password, so it is kept secret and never printed
    /// whole ([`DatabaseConfig::redacted_url`] is safe to show).
    pub url: SecretString,
    /// A password given apart from the URL (`password_env` / `password_file`).
    pub password: Option<SecretString>,
    /// Connections kept open.
    pub pool_size: u32,
    /// Extra connections under load (`-1` unlimited).
    pub max_overflow: i32,
    /// Checkout wait limit.
    pub timeout: Duration,
    /// Validate connections at checkout.
    pub pre_ping: bool,
    /// Skip the pre-ping for a connection used within this long (`pre_ping_skip_ms`,
    /// default 500 ms; zero pings at every checkout).
    pub pre_ping_skip: Duration,
    /// Replace connections older than this.
    pub recycle: Option<Duration>,
    /// Default time limit of each statement.
    pub statement_timeout: Option<Duration>,
    /// Time limit for opening a connection.
    pub connect_timeout: Option<Duration>,
    /// TLS mode (PostgreSQL `sslmode`), when set apart from the URL.
    pub sslmode: Option<String>,
    /// CA certificate file for `verify-ca` / `verify-full`.
    pub sslrootcert: Option<PathBuf>,
    /// The migrations directory (relative to `base_dir` unless absolute).
    pub migrations: PathBuf,
    /// Run pending migrations when the database is opened.
    pub auto_migrate: bool,
    /// Open the database read-only.
    pub read_only: bool,
    /// Retry policy of the `*_with_retry` methods.
    pub retry: RetryPolicy,
    /// A health check slower than this reports `slow`.
    pub health_slow: Duration,
    /// The directory relative paths (SQLite files, migrations) resolve against.
    pub base_dir: PathBuf,
    /// The config file the settings came from, if any.
    pub source: Option<PathBuf>,
    /// The environment (`DBM_ENV`) they were resolved for.
    pub environment: String,
    /// Where each setting came from, for `config check`.
    pub origins: Vec<SettingReport>,
}

/// One effective setting and its origin, with secrets masked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SettingReport {
    /// The key, e.g. `pool_size`.
    pub key: String,
    /// The value as shown (URLs redacted, secrets `***`).
    pub value: String,
    /// `default`, `file`, `environment`, `variable` or `secret`.
    pub origin: String,
    /// Where exactly (file and line, variable name, secret reference).
    pub detail: String,
}

impl DatabaseConfig {
    /// Settings for `name` at `url` with the defaults (pool 5 + 10 overflow, 30 s timeout,
    /// pre-ping on, migrations in `migrations/{name}`), relative to the working directory.
    /// The URL is checked when the database is opened; an empty or blank name, or one with
    /// white space or control characters at either end, is an error now.
    ///
    /// ```
    /// let c = dbm::DatabaseConfig::new("app", "sqlite::memory:")?;
    /// assert_eq!(c.pool_size, 5);
    /// assert_eq!(c.migrations, std::path::Path::new("migrations/app"));
    /// assert!(dbm::DatabaseConfig::new("  ", "sqlite::memory:").is_err());
    /// # Ok::<(), dbm::Error>(())
    /// ```
    pub fn new(name: &str, url: &str) -> Result<Self> {
        check_name(name)?;
        Ok(Self::unchecked(name, url))
    }

    fn unchecked(name: &str, url: &str) -> Self {
        DatabaseConfig {
            name: name.to_owned(),
            url: SecretString::from(url.to_owned()),
            password: None,
            pool_size: 5,
            max_overflow: 10,
            timeout: Duration::from_secs(30),
            pre_ping: true,
            pre_ping_skip: Duration::from_millis(500),
            recycle: None,
            statement_timeout: None,
            connect_timeout: None,
            sslmode: None,
            sslrootcert: None,
            migrations: PathBuf::from("migrations").join(name),
            auto_migrate: false,
            read_only: false,
            retry: RetryPolicy::default(),
            health_slow: Duration::from_secs(1),
            base_dir: PathBuf::from("."),
            source: None,
            environment: super::DEFAULT_ENVIRONMENT.to_owned(),
            origins: Vec::new(),
        }
    }

    /// The backend, from the URL.
    pub fn backend(&self) -> Result<Backend> {
        detect_backend(self.url.expose_secret()).map_err(|e| e.with_database(self.name.clone()))
    }

    /// The URL with any password replaced by `***` (safe to log).
    pub fn redacted_url(&self) -> String {
        redact_url(self.url.expose_secret())
    }

    /// The migrations directory, resolved against `base_dir`.
    pub fn migrations_dir(&self) -> PathBuf {
        self.base_dir.join(&self.migrations)
    }
}

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("name", &self.name)
            .field("url", &self.redacted_url())
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("pool_size", &self.pool_size)
            .field("max_overflow", &self.max_overflow)
            .field("timeout", &self.timeout)
            .field("pre_ping", &self.pre_ping)
            .field("pre_ping_skip", &self.pre_ping_skip)
            .field("recycle", &self.recycle)
            .field("statement_timeout", &self.statement_timeout)
            .field("migrations", &self.migrations)
            .field("auto_migrate", &self.auto_migrate)
            .field("read_only", &self.read_only)
            .field("environment", &self.environment)
            .finish_non_exhaustive()
    }
}

fn trim_secret(s: &str) -> &str {
    s.trim_end_matches(['\n', '\r'])
}

/// Reads a secret given as `<kind>_env` (a variable name) or `<kind>_file` (a path).
fn read_secret(c: &Config, name: &str, key: &str, entry: &Entry) -> Result<(SecretString, Origin)> {
    let full = format!("databases.{name}.{key}");
    let Scalar::Str(reference) = &entry.value else {
        return Err(c.invalid(&full, Some(entry), "must be a string"));
    };
    if key.ends_with("_env") {
        let value = c
            .vars
            .get(reference)
            .cloned()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                c.invalid(
                    &full,
                    Some(entry),
                    format!("names the variable {reference}, which is not set"),
                )
            })?;
        Ok((
            SecretString::from(value),
            Origin::Secret(format!("{key} = {reference}")),
        ))
    } else {
        let path = c.base_dir.join(reference);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            c.invalid(&full, Some(entry), format!("names the file {}, which cannot be read: {e}", path.display()))
                .with_hint("mount the secret there, or fix the path (relative paths start at dbm.toml's directory)")
        })?;
        Ok((
            SecretString::from(trim_secret(&text).to_owned()),
            Origin::Secret(format!("{key} = {}", path.display())),
        ))
    }
}

fn parse_type(c: &Config, key: &str, entry: &Entry) -> Result<Backend> {
    match &entry.value {
        Scalar::Str(s) => match s.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            "mssql" | "sqlserver" => Ok(Backend::Mssql),
            "sqlite" => Ok(Backend::Sqlite),
            other => Err(c.invalid(
                key,
                Some(entry),
                format!("`{other}` is not a database type (accepted: postgres, mssql, sqlite)"),
            )),
        },
        v => Err(c.invalid(key, Some(entry), format!("must be a string, got {v}"))),
    }
}

pub(super) fn resolve(c: &Config, name: &str) -> Result<DatabaseConfig> {
    let key = |k: &str| format!("databases.{name}.{k}");
    let own = |k: &str| c.merged.get(&key(k));
    // Pool keys fall back to [defaults].
    let get = |k: &str| -> (String, Option<&Entry>) {
        match own(k) {
            Some(e) => (key(k), Some(e)),
            None if POOL_KEYS.contains(&k) => (
                format!("defaults.{k}"),
                c.merged.get(&format!("defaults.{k}")),
            ),
            None => (key(k), None),
        }
    };
    let mut origins: Vec<SettingReport> = Vec::new();
    let mut note = |k: &str, value: String, origin: Option<&Origin>| {
        let o = origin.cloned().unwrap_or(Origin::Default);
        origins.push(SettingReport {
            key: k.to_owned(),
            value,
            origin: o.kind().to_owned(),
            detail: o.place(),
        });
    };

    // The URL: the highest layer among DBM_<NAME>_URL, url, url_env and url_file wins.
    let var = url_env_var(name);
    let (url, url_origin) = if let Some(v) = c.vars.get(&var).filter(|v| !v.trim().is_empty()) {
        (SecretString::from(v.clone()), Origin::Variable(var.clone()))
    } else {
        let candidates: Vec<(&str, &Entry)> = ["url", "url_env", "url_file"]
            .into_iter()
            .filter_map(|k| own(k).map(|e| (k, e)))
            .collect();
        let top = candidates.iter().map(|(_, e)| e.origin.rank()).max();
        let winners: Vec<&(&str, &Entry)> = candidates
            .iter()
            .filter(|(_, e)| Some(e.origin.rank()) == top)
            .collect();
        match winners.as_slice() {
            [] => {
                let known = c.database_names();
                let msg = if known.iter().any(|n| n == name) {
                    format!("database `{name}` has no url")
                } else {
                    let file = c.file.as_ref().map_or_else(
                        || "no config file was found".to_owned(),
                        |p| format!("not in {}", p.display()),
                    );
                    format!(
                        "database `{name}` is not configured ({file}; configured: {})",
                        if known.is_empty() {
                            "none".to_owned()
                        } else {
                            known.join(", ")
                        }
                    )
                };
                return Err(Error::config(msg).with_operation("configure").with_hint(format!(
                    "add `[databases.{name}]` with `url`, `url_env` or `url_file` to dbm.toml, or set {var}"
                )));
            }
            [(k, e)] if *k == "url" => match &e.value {
                Scalar::Str(s) => (SecretString::from(s.clone()), e.origin.clone()),
                v => {
                    return Err(c.invalid(
                        &key("url"),
                        Some(e),
                        format!("must be a string, got {v}"),
                    ));
                }
            },
            [(k, e)] => read_secret(c, name, k, e)?,
            many => {
                let keys: Vec<&str> = many.iter().map(|(k, _)| *k).collect();
                return Err(c.invalid(
                    &key(keys[1]),
                    Some(many[1].1),
                    format!(
                        "conflicts with `{}`: give only one of url, url_env, url_file",
                        keys[0]
                    ),
                ));
            }
        }
    };
    let url_text = url.expose_secret().to_owned();
    note("url", redact_url(&url_text), Some(&url_origin));
    let detected = detect_backend(&url_text).map_err(|e| {
        Error::config(format!("{} ({})", e.message(), c.origin_note(&url_origin)))
            .with_operation("configure")
            .with_hint(e.hint().unwrap_or_default().to_owned())
    })?;
    if let Some(e) = own("type") {
        let declared = parse_type(c, &key("type"), e)?;
        if declared != detected {
            return Err(c
                .invalid(
                    &key("type"),
                    Some(e),
                    format!(
                        "says {declared} but the URL ({}) is {detected}",
                        redact_url(&url_text)
                    ),
                )
                .with_hint(format!("accepted URLs: {}", super::ACCEPTED_URLS)));
        }
        note("type", detected.to_string(), Some(&e.origin));
    } else {
        note("type", detected.to_string(), Some(&url_origin));
    }

    let mut d = DatabaseConfig::unchecked(name, &url_text);
    d.base_dir = c.base_dir.clone();
    d.source = c.file.clone();
    d.environment = c.environment.clone();

    let password = match (own("password_env"), own("password_file")) {
        (Some(a), Some(b)) if a.origin.rank() == b.origin.rank() => {
            return Err(c.invalid(
                &key("password_file"),
                Some(b),
                "conflicts with `password_env`: give only one",
            ));
        }
        (Some(a), Some(b)) => Some(if a.origin.rank() > b.origin.rank() {
            ("password_env", a)
        } else {
            ("password_file", b)
        }),
        (Some(a), None) => Some(("password_env", a)),
        (None, Some(b)) => Some(("password_file", b)),
        (None, None) => None,
    };
    if let Some((k, e)) = password {
        let (secret, origin) = read_secret(c, name, k, e)?;
        if detected == Backend::Sqlite {
            return Err(c.invalid(
                &key(k),
                Some(e),
                "is set, but SQLite databases have no password",
            ));
        }
        d.password = Some(secret);
        note("password", "***".to_owned(), Some(&origin));
    }

    let (k, e) = get("pool_size");
    if let Some(v) = c.int_in(&k, e, 1, 10_000)? {
        d.pool_size = v as u32;
    }
    note("pool_size", d.pool_size.to_string(), e.map(|e| &e.origin));
    let (k, e) = get("max_overflow");
    if let Some(v) = c.int_in(&k, e, -1, 100_000)? {
        d.max_overflow = v as i32;
    }
    note(
        "max_overflow",
        d.max_overflow.to_string(),
        e.map(|e| &e.origin),
    );
    let (k, e) = get("timeout");
    if let Some(v) = c.seconds(&k, e)? {
        d.timeout = v;
    }
    note(
        "timeout",
        format!("{}s", d.timeout.as_secs_f64()),
        e.map(|e| &e.origin),
    );
    let (k, e) = get("pre_ping");
    if let Some(v) = c.boolean(&k, e)? {
        d.pre_ping = v;
    }
    note("pre_ping", d.pre_ping.to_string(), e.map(|e| &e.origin));
    let (k, e) = get("pre_ping_skip_ms");
    if let Some(v) = c.millis(&k, e)? {
        d.pre_ping_skip = v;
    }
    note(
        "pre_ping_skip_ms",
        format!("{}", d.pre_ping_skip.as_secs_f64() * 1000.0),
        e.map(|e| &e.origin),
    );
    for opt in ["recycle", "statement_timeout", "connect_timeout"] {
        let (k, e) = get(opt);
        let v = c.seconds(&k, e)?;
        // Zero would mean "cancel at once" or "replace at every checkout": never what is
        // meant. No limit is written by leaving the key out.
        if v.is_some_and(|v| v.is_zero()) {
            return Err(c.invalid(&k, e, "must be greater than 0 (leave it out for no limit)"));
        }
        match opt {
            "recycle" => d.recycle = v,
            "statement_timeout" => d.statement_timeout = v,
            _ => d.connect_timeout = v,
        }
        note(
            opt,
            v.map_or_else(|| "none".to_owned(), |v| format!("{}s", v.as_secs_f64())),
            e.map(|e| &e.origin),
        );
    }
    let (k, e) = get("sslmode");
    if let Some(v) = c.string(&k, e)? {
        if !matches!(
            v.as_str(),
            "disable" | "allow" | "prefer" | "require" | "verify-ca" | "verify-full"
        ) {
            return Err(c.invalid(
                &k,
                e,
                format!(
                    "`{v}` is not one of disable, allow, prefer, require, verify-ca, verify-full"
                ),
            ));
        }
        note("sslmode", v.clone(), e.map(|e| &e.origin));
        d.sslmode = Some(v);
    }
    let (k, e) = get("sslrootcert");
    if let Some(v) = c.string(&k, e)? {
        let path = c.base_dir.join(v);
        if !path.is_file() {
            return Err(c.invalid(
                &k,
                e,
                format!("names {}, which is not a readable file", path.display()),
            ));
        }
        note(
            "sslrootcert",
            path.display().to_string(),
            e.map(|e| &e.origin),
        );
        d.sslrootcert = Some(path);
    }
    let (k, e) = get("migrations");
    if let Some(v) = c.string(&k, e)? {
        d.migrations = PathBuf::from(v);
    }
    note(
        "migrations",
        d.migrations_dir().display().to_string(),
        e.map(|e| &e.origin),
    );
    for flag in ["auto_migrate", "read_only"] {
        let (k, e) = get(flag);
        let v = c.boolean(&k, e)?.unwrap_or(false);
        if flag == "auto_migrate" {
            d.auto_migrate = v;
        } else {
            d.read_only = v;
        }
        note(flag, v.to_string(), e.map(|e| &e.origin));
    }
    let global = c.global()?;
    d.retry = global.retry;
    d.health_slow = global.health_slow;
    d.origins = origins;
    validate_url(&d, &url_origin, c)?;
    Ok(d)
}

/// Parses the URL with its driver now, so a bad URL fails before any connection.
fn validate_url(d: &DatabaseConfig, origin: &Origin, c: &Config) -> Result<()> {
    let url = d.url.expose_secret();
    let parsed: Result<()> = match d.backend()? {
        #[cfg(feature = "sqlite")]
        Backend::Sqlite => url.parse::<dbm_sqlite::SqliteOptions>().map(|_| ()),
        #[cfg(feature = "postgres")]
        Backend::Postgres => url.parse::<dbm_postgres::PgOptions>().map(|_| ()),
        _ => Ok(()),
    };
    parsed.map_err(|e| {
        let where_ = c.origin_note(origin);
        Error::config(format!(
            "the url of `{}` is invalid: {} ({where_})",
            d.name,
            e.message()
        ))
        .with_operation("configure")
        .with_hint(e.hint().unwrap_or("check the URL").to_owned())
    })
}
