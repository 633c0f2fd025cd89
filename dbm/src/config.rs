//! Configuration: `dbm.toml` with one table per database, URLs overridable per database by
//! `DBM_<NAME>_URL`. Kept behind [`Config::load`] and [`Config::database`] so the full
//! layered configuration can replace it without touching callers.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use dbm_core::{Backend, Error, Result, RetryPolicy};
use serde::Deserialize;

/// The file name searched for in the working directory and its parents.
pub const CONFIG_FILE: &str = "dbm.toml";

fn seconds<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Duration>, D::Error> {
    let s = Option::<f64>::deserialize(d)?;
    match s {
        None => Ok(None),
        Some(v) if v.is_finite() && v >= 0.0 => Ok(Some(Duration::from_secs_f64(v))),
        Some(v) => Err(serde::de::Error::custom(format!(
            "must be a non-negative number of seconds, not {v}"
        ))),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    databases: BTreeMap<String, FileDatabase>,
    #[serde(default)]
    retry: Option<RetryPolicy>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDatabase {
    url: Option<String>,
    pool_size: Option<u32>,
    max_overflow: Option<i32>,
    #[serde(default, deserialize_with = "seconds")]
    timeout: Option<Duration>,
    pre_ping: Option<bool>,
    #[serde(default, deserialize_with = "seconds")]
    recycle: Option<Duration>,
    #[serde(default, deserialize_with = "seconds")]
    statement_timeout: Option<Duration>,
    migrations: Option<PathBuf>,
    auto_migrate: Option<bool>,
}

/// The settings of one database, resolved.
#[derive(Clone)]
pub struct DatabaseConfig {
    /// The database's name (`app`).
    pub name: String,
    /// The connection URL. Never printed whole: use [`DatabaseConfig::redacted_url`].
    pub url: String,
    /// Connections kept open.
    pub pool_size: u32,
    /// Extra connections under load (`-1` unlimited).
    pub max_overflow: i32,
    /// Checkout wait limit.
    pub timeout: Duration,
    /// Validate connections at checkout.
    pub pre_ping: bool,
    /// Replace connections older than this.
    pub recycle: Option<Duration>,
    /// Default time limit of each statement.
    pub statement_timeout: Option<Duration>,
    /// The migrations directory.
    pub migrations: PathBuf,
    /// Run pending migrations when the database is opened.
    pub auto_migrate: bool,
    /// Retry policy of the `*_with_retry` methods.
    pub retry: RetryPolicy,
    /// The directory relative paths (SQLite files) are resolved against.
    pub base_dir: PathBuf,
    /// The config file the settings came from, if any.
    pub source: Option<PathBuf>,
}

impl DatabaseConfig {
    /// Settings for `name` at `url` with the defaults (pool 5 + 10 overflow, 30 s timeout,
    /// pre-ping on, migrations in `migrations/{name}`), relative to the working directory.
    ///
    /// ```
    /// let c = dbm::DatabaseConfig::new("app", "sqlite::memory:");
    /// assert_eq!(c.pool_size, 5);
    /// assert_eq!(c.migrations, std::path::Path::new("migrations/app"));
    /// ```
    pub fn new(name: &str, url: &str) -> Self {
        DatabaseConfig {
            name: name.to_owned(),
            url: url.to_owned(),
            pool_size: 5,
            max_overflow: 10,
            timeout: Duration::from_secs(30),
            pre_ping: true,
            recycle: None,
            statement_timeout: None,
            migrations: PathBuf::from("migrations").join(name),
            auto_migrate: false,
            retry: RetryPolicy::default(),
            base_dir: PathBuf::from("."),
            source: None,
        }
    }

    /// The backend, from the URL scheme.
    pub fn backend(&self) -> Result<Backend> {
        detect_backend(&self.url).map_err(|e| e.with_database(self.name.clone()))
    }

    /// The URL with any password replaced by `***` (safe to log).
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
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
            .field("pool_size", &self.pool_size)
            .field("max_overflow", &self.max_overflow)
            .field("timeout", &self.timeout)
            .field("pre_ping", &self.pre_ping)
            .field("recycle", &self.recycle)
            .field("statement_timeout", &self.statement_timeout)
            .field("migrations", &self.migrations)
            .field("auto_migrate", &self.auto_migrate)
            .finish_non_exhaustive()
    }
}

/// The schemes dbm accepts, for error messages.
pub const ACCEPTED_URLS: &str = "postgres://, postgresql://, mssql://, sqlserver://, jdbc:sqlserver://, ADO.NET `Server=...;` strings, sqlite:";

/// The backend a URL names.
///
/// ```
/// use dbm_core::Backend;
/// assert_eq!(dbm::detect_backend("postgresql://u@h/db").unwrap(), Backend::Postgres);
/// assert_eq!(dbm::detect_backend("Server=tcp:h,1433;Database=d").unwrap(), Backend::Mssql);
/// assert_eq!(dbm::detect_backend("sqlite://target/app.db").unwrap(), Backend::Sqlite);
/// assert!(dbm::detect_backend("mysql://h/db").is_err());
/// ```
pub fn detect_backend(url: &str) -> Result<Backend> {
    let lower = url.trim().to_ascii_lowercase();
    let backend = if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
        Backend::Postgres
    } else if lower.starts_with("mssql://")
        || lower.starts_with("sqlserver://")
        || lower.starts_with("jdbc:sqlserver://")
        || lower.starts_with("server=")
        || lower.starts_with("data source=")
    {
        Backend::Mssql
    } else if lower.starts_with("sqlite:") {
        Backend::Sqlite
    } else {
        let scheme = lower
            .split_once(':')
            .map_or("(none)", |(s, _)| s)
            .to_owned();
        return Err(
            Error::config(format!("unknown database URL scheme `{scheme}`"))
                .with_hint(format!("accepted: {ACCEPTED_URLS}")),
        );
    };
    Ok(backend)
}

/// Replaces the password of a URL (`scheme://user:pass@host`) or connection string
/// (`Password=...;`) with `***`.
///
/// ```
/// assert_eq!(dbm::redact_url("postgres://bob:s3cr%40t@db:5432/x"), "postgres://bob:***@db:5432/x");
/// assert_eq!(dbm::redact_url("Server=h;User Id=sa;Password=hunter2;"), "Server=h;User Id=sa;Password=***;");
/// ```
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let (authority, tail) = match rest.find(['/', '?']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if let Some((userinfo, host)) = authority.rsplit_once('@') {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let masked = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                user.to_owned()
            };
            return format!("{scheme}://{masked}@{host}{}", redact_query(tail));
        }
        return format!("{scheme}://{authority}{}", redact_query(tail));
    }
    url.split(';')
        .map(|part| match part.split_once('=') {
            Some((k, _)) if is_secret_key(k) => format!("{k}=***"),
            _ => part.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(";")
}

fn is_secret_key(k: &str) -> bool {
    matches!(
        k.trim().to_ascii_lowercase().as_str(),
        "password" | "pwd" | "pass" | "sslpassword" | "token" | "access_token"
    )
}

fn redact_query(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_owned();
    };
    let q: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if is_secret_key(k) => format!("{k}=***"),
            _ => kv.to_owned(),
        })
        .collect();
    format!("{path}?{}", q.join("&"))
}

/// The environment variable that overrides a database's URL: `DBM_<NAME>_URL`.
///
/// ```
/// assert_eq!(dbm::url_env_var("rpa-db"), "DBM_RPA_DB_URL");
/// ```
pub fn url_env_var(name: &str) -> String {
    let upper: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("DBM_{upper}_URL")
}

/// The loaded configuration: the databases of one `dbm.toml` (possibly none).
#[derive(Debug, Default)]
pub struct Config {
    file: Option<PathBuf>,
    base_dir: PathBuf,
    databases: BTreeMap<String, FileDatabase>,
    retry: RetryPolicy,
}

impl fmt::Debug for FileDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileDatabase")
            .field("url", &self.url.as_deref().map(redact_url))
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Loads `$DBM_CONFIG` if set, else the first `dbm.toml` in the working directory or
    /// its parents; no file at all is an empty configuration (URLs may still come from
    /// `DBM_<NAME>_URL`).
    pub fn load() -> Result<Config> {
        if let Ok(path) = std::env::var("DBM_CONFIG") {
            return Self::from_path(Path::new(&path));
        }
        let cwd = std::env::current_dir()
            .map_err(|e| Error::config(format!("cannot read the working directory: {e}")))?;
        for dir in cwd.ancestors() {
            let candidate = dir.join(CONFIG_FILE);
            if candidate.is_file() {
                return Self::from_path(&candidate);
            }
        }
        Ok(Config {
            base_dir: cwd,
            ..Config::default()
        })
    }

    /// Loads one file; relative paths in it are relative to its directory.
    pub fn from_path(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::config(format!("cannot read {}: {e}", path.display()))
                .with_hint("check DBM_CONFIG, or create dbm.toml at the project root")
        })?;
        let base = path
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let base = if base.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            base
        };
        let mut c = Self::from_toml_str(&text, &base).map_err(|e| {
            let msg = format!("{}: {}", path.display(), e.message());
            Error::config(msg).with_hint("see the README for the dbm.toml keys")
        })?;
        c.file = Some(path.to_path_buf());
        Ok(c)
    }

    /// Parses TOML text; relative paths are resolved against `base_dir`.
    ///
    /// ```
    /// let c = dbm::Config::from_toml_str(
    ///     "[databases.app]\nurl = \"sqlite::memory:\"\npool_size = 2\n",
    ///     std::path::Path::new("."),
    /// ).unwrap();
    /// assert_eq!(c.database("app").unwrap().pool_size, 2);
    /// ```
    pub fn from_toml_str(text: &str, base_dir: &Path) -> Result<Config> {
        let parsed: FileConfig = toml::from_str(text)
            .map_err(|e| Error::config(e.to_string().trim_end().replace('\n', " ")))?;
        Ok(Config {
            file: None,
            base_dir: base_dir.to_path_buf(),
            databases: parsed.databases,
            retry: parsed.retry.unwrap_or_default(),
        })
    }

    /// The file the configuration came from.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The names of the databases in the file.
    pub fn database_names(&self) -> Vec<String> {
        self.databases.keys().cloned().collect()
    }

    /// The database a command should use when none is named: the only one configured,
    /// else `app`.
    pub fn default_database(&self) -> String {
        if self.databases.len() == 1 {
            self.databases.keys().next().cloned().unwrap_or_default()
        } else {
            "app".to_owned()
        }
    }

    /// The resolved settings of `name`, with `DBM_<NAME>_URL` applied.
    pub fn database(&self, name: &str) -> Result<DatabaseConfig> {
        self.database_with_env(name, |k| std::env::var(k).ok())
    }

    /// Like [`database`](Config::database), reading environment variables through `env`.
    ///
    /// ```
    /// let c = dbm::Config::default();
    /// let d = c.database_with_env("app", |k| (k == "DBM_APP_URL").then(|| "sqlite::memory:".into())).unwrap();
    /// assert_eq!(d.url, "sqlite::memory:");
    /// ```
    pub fn database_with_env(
        &self,
        name: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<DatabaseConfig> {
        let var = url_env_var(name);
        let env_url = env(&var).filter(|v| !v.trim().is_empty());
        let file = self.databases.get(name);
        let where_ = self.file.as_ref().map_or_else(
            || "no dbm.toml was found".to_owned(),
            |p| format!("not in {}", p.display()),
        );
        let Some(url) = env_url.or_else(|| file.and_then(|d| d.url.clone())) else {
            let known = if self.databases.is_empty() {
                "none".to_owned()
            } else {
                self.database_names().join(", ")
            };
            let msg = if file.is_some() {
                format!("database `{name}` has no url")
            } else {
                format!("database `{name}` is not configured ({where_}; configured: {known})")
            };
            return Err(Error::config(msg)
                .with_database(name)
                .with_operation("configure")
                .with_hint(format!(
                    "add `[databases.{name}]` with `url = \"...\"` to dbm.toml, or set {var}"
                )));
        };
        let mut c = DatabaseConfig::new(name, &url);
        c.base_dir = self.base_dir.clone();
        c.source = self.file.clone();
        c.retry = self.retry.clone();
        if let Some(d) = file {
            c.pool_size = d.pool_size.unwrap_or(c.pool_size);
            c.max_overflow = d.max_overflow.unwrap_or(c.max_overflow);
            c.timeout = d.timeout.unwrap_or(c.timeout);
            c.pre_ping = d.pre_ping.unwrap_or(c.pre_ping);
            c.recycle = d.recycle.or(c.recycle);
            c.statement_timeout = d.statement_timeout.or(c.statement_timeout);
            c.migrations = d.migrations.clone().unwrap_or(c.migrations);
            c.auto_migrate = d.auto_migrate.unwrap_or(c.auto_migrate);
        }
        if c.pool_size < 1 {
            return Err(Error::config("pool_size must be at least 1")
                .with_database(name)
                .with_operation("configure"));
        }
        if c.max_overflow < -1 {
            return Err(Error::config("max_overflow must be -1 (unlimited) or more")
                .with_database(name)
                .with_operation("configure"));
        }
        c.backend()?;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_values_and_defaults() {
        let c = Config::from_toml_str(
            "[databases.app]\nurl = \"sqlite://target/a.db\"\ntimeout = 1.5\nmax_overflow = -1\nmigrations = \"db/m\"\nauto_migrate = true\n",
            Path::new("/proj"),
        )
        .unwrap();
        let d = c.database("app").unwrap();
        assert_eq!(d.timeout, Duration::from_millis(1500));
        assert_eq!(d.max_overflow, -1);
        assert_eq!(d.pool_size, 5);
        assert!(d.auto_migrate);
        assert_eq!(d.migrations_dir(), Path::new("/proj/db/m"));
        assert_eq!(c.default_database(), "app");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        let e = Config::from_toml_str(
            "[databases.app]\nurl = \"sqlite::memory:\"\npool = 3\n",
            Path::new("."),
        )
        .unwrap_err();
        assert!(e.to_string().contains("unknown field `pool`"), "{e}");
        let e = Config::from_toml_str(
            "[databases.app]\nurl = \"sqlite::memory:\"\ntimeout = -1\n",
            Path::new("."),
        )
        .unwrap_err();
        assert!(e.to_string().contains("non-negative"), "{e}");
        let c = Config::from_toml_str(
            "[databases.app]\nurl = \"sqlite::memory:\"\npool_size = 0\n",
            Path::new("."),
        )
        .unwrap();
        assert!(
            c.database("app")
                .unwrap_err()
                .to_string()
                .contains("pool_size must be at least 1")
        );
    }

    #[test]
    fn missing_database_names_the_fix() {
        let c = Config::from_toml_str(
            "[databases.app]\nurl = \"sqlite::memory:\"\n",
            Path::new("."),
        )
        .unwrap();
        let e = c.database("reports").unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("database `reports` is not configured"),
            "{msg}"
        );
        assert!(msg.contains("configured: app"), "{msg}");
        assert!(msg.contains("DBM_REPORTS_URL"), "{msg}");
    }

    #[test]
    fn unknown_scheme_lists_accepted_ones() {
        let c = Config::from_toml_str(
            "[databases.app]\nurl = \"mysql://u:pw@h/db\"\n",
            Path::new("."),
        )
        .unwrap();
        let e = c.database("app").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("unknown database URL scheme `mysql`"), "{msg}");
        assert!(
            msg.contains("postgres://") && msg.contains("sqlite:"),
            "{msg}"
        );
        assert!(!msg.contains("pw"), "{msg}");
    }

    #[test]
    fn env_var_overrides_the_file_url() {
        let c = Config::from_toml_str(
            "[databases.app]\nurl = \"sqlite://a.db\"\npool_size = 3\n",
            Path::new("."),
        )
        .unwrap();
        let d = c
            .database_with_env("app", |k| {
                (k == "DBM_APP_URL").then(|| "sqlite://b.db".to_owned())
            })
            .unwrap();
        assert_eq!(d.url, "sqlite://b.db");
        assert_eq!(d.pool_size, 3, "other settings still come from the file");
        // A database only known from the environment gets the defaults.
        let d = c
            .database_with_env("extra", |k| {
                (k == "DBM_EXTRA_URL").then(|| "sqlite::memory:".to_owned())
            })
            .unwrap();
        assert_eq!(d.pool_size, 5);
    }

    #[test]
    fn the_readme_and_shipped_config_parse() {
        let readme = include_str!("../../README.md");
        let start = readme.find("```toml\n").unwrap() + 8;
        let end = start + readme[start..].find("```").unwrap();
        let c = Config::from_toml_str(&readme[start..end], Path::new(".")).unwrap();
        let d = c.database("app").unwrap();
        assert_eq!(d.recycle, Some(Duration::from_secs(3600)));
        assert_eq!(d.retry.max_backoff, Duration::from_secs(5));
        let shipped =
            Config::from_toml_str(include_str!("../../dbm.toml"), Path::new(".")).unwrap();
        assert_eq!(shipped.default_database(), "app");
        assert_eq!(
            shipped.database("app").unwrap().backend().unwrap(),
            Backend::Sqlite
        );
    }

    #[test]
    fn redaction() {
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            redact_url("postgres://u:p@ss@h/db?password=x&sslmode=require"),
            "postgres://u:***@h/db?password=***&sslmode=require"
        );
        assert_eq!(redact_url("sqlite://target/a.db"), "sqlite://target/a.db");
        assert_eq!(redact_url("Server=h;PWD=x"), "Server=h;PWD=***");
    }
}
