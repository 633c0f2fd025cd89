//! One database's settings, resolved from the layers, secrets read, everything validated.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use dbm_core::{
    Backend, ConnectSettings, Driver, DriverOptions, DriverSettings, Error, KeyKind, Result,
    RetryPolicy, SettingValue,
};
use dbm_health::HealthSettings;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use super::Config;
use super::identity::check_name;
use super::layers::{DATABASE_KEYS, Entry, Origin, POOL_KEYS, Scalar};
use super::urls::{redact_url, url_env_var};
use crate::drivers::{driver_for, driver_keys};

/// The settings of one database.
#[derive(Clone)]
#[non_exhaustive]
pub struct DatabaseConfig {
    /// The database's name (`app`).
    pub name: String,
    /// The connection URL; may hold a password, so it is kept secret and never printed
    /// whole ([`DatabaseConfig::redacted_url`] is safe to show).
    url: SecretString,
    /// The driver the URL belongs to.
    driver: &'static dyn Driver,
    /// The driver's own keys that are set (PostgreSQL's `sslmode`, ...).
    driver_settings: DriverSettings,
    /// The URL and driver keys, parsed once by the driver.
    options: Arc<dyn DriverOptions>,
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
    /// The migrations directory (relative to `base_dir` unless absolute).
    pub migrations: PathBuf,
    /// Run pending migrations when the database is opened.
    pub auto_migrate: bool,
    /// Open the database read-only.
    pub read_only: bool,
    /// Retry policy of the `*_with_retry` methods.
    pub retry: RetryPolicy,
    /// Health check thresholds (`[health]`).
    pub health: HealthSettings,
    /// Whether this database being unhealthy fails the overall health (`required = true`,
    /// the default) or only degrades it.
    pub required: bool,
    /// The directory relative paths resolve against: the migrations directory, and (when
    /// the URL was read; see [`DatabaseConfig::relocate`]) a SQLite file.
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
#[non_exhaustive]
pub struct SettingReport {
    /// The key, e.g. `pool_size`.
    pub key: String,
    /// The value as shown (URLs redacted, secrets `***`, durations as `30s`).
    #[serde(skip)]
    pub value: String,
    /// The value with its type, as JSON shows it: numbers as numbers (durations in the
    /// key's unit: seconds, or milliseconds for `*_ms`), booleans as booleans, `null` for
    /// none; URLs redacted and secrets `***` as in `value`.
    #[serde(rename = "value")]
    pub typed: serde_json::Value,
    /// `default`, `file`, `environment`, `variable` or `secret`.
    pub origin: String,
    /// Where exactly (file and line, variable name, secret reference).
    pub detail: String,
}

impl DatabaseConfig {
    /// Settings for `name` at `url` with the defaults (pool 5 + 10 overflow, 30 s timeout,
    /// pre-ping on, migrations in `migrations/{name}`), relative to the working directory.
    /// The URL is read now by its driver: an unknown scheme, a driver this build lacks, a
    /// URL that does not parse, and an empty or blank name are errors now.
    ///
    #[cfg_attr(feature = "sqlite", doc = "```")]
    #[cfg_attr(not(feature = "sqlite"), doc = "```ignore")]
    /// let c = dbm::DatabaseConfig::new("app", "sqlite::memory:")?;
    /// assert_eq!(c.pool_size, 5);
    /// assert_eq!(c.migrations, std::path::Path::new("migrations/app"));
    /// assert_eq!(c.driver().name(), "sqlite");
    /// assert!(dbm::DatabaseConfig::new("  ", "sqlite::memory:").is_err());
    /// assert!(dbm::DatabaseConfig::new("app", "sqlite://a.db?cache=shared").is_err());
    /// # Ok::<(), dbm::Error>(())
    /// ```
    pub fn new(name: &str, url: &str) -> Result<Self> {
        check_name(name)?;
        let driver = driver_for(url).map_err(|e| e.with_database(name))?;
        let settings = DriverSettings::new(".");
        let options = driver
            .configure(url, &settings)
            .map_err(|e| e.with_database(name).with_operation("configure"))?;
        Ok(Self::with_parts(name, url, driver, settings, options))
    }

    fn with_parts(
        name: &str,
        url: &str,
        driver: &'static dyn Driver,
        driver_settings: DriverSettings,
        options: Arc<dyn DriverOptions>,
    ) -> Self {
        DatabaseConfig {
            name: name.to_owned(),
            url: SecretString::from(url.to_owned()),
            driver,
            driver_settings,
            options,
            password: None,
            pool_size: 5,
            max_overflow: 10,
            timeout: Duration::from_secs(30),
            pre_ping: true,
            pre_ping_skip: Duration::from_millis(500),
            recycle: None,
            statement_timeout: None,
            connect_timeout: None,
            migrations: PathBuf::from("migrations").join(name),
            auto_migrate: false,
            read_only: false,
            retry: RetryPolicy::default(),
            health: HealthSettings::default(),
            required: true,
            base_dir: PathBuf::from("."),
            source: None,
            environment: super::DEFAULT_ENVIRONMENT.to_owned(),
            origins: Vec::new(),
        }
    }

    /// The connection URL (a secret: show [`redacted_url`](DatabaseConfig::redacted_url)).
    pub fn url(&self) -> &SecretString {
        &self.url
    }

    /// The driver the URL belongs to.
    pub fn driver(&self) -> &'static dyn Driver {
        self.driver
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.driver.backend()
    }

    /// The driver's typed options, parsed once from the URL and the driver's keys.
    pub fn options(&self) -> &dyn DriverOptions {
        &*self.options
    }

    /// The driver's own keys that are set.
    pub fn driver_settings(&self) -> &DriverSettings {
        &self.driver_settings
    }

    /// Sets one of the driver's keys (`sslmode = "require"`), checked as a configuration
    /// file's value would be; the options are made again.
    ///
    /// ```
    /// # #[cfg(feature = "postgres")] {
    /// let c = dbm::DatabaseConfig::new("wh", "postgres://etl@db/wh")?.with_setting("sslmode", "require")?;
    /// assert_eq!(c.driver_settings().text("sslmode"), Some("require"));
    /// assert!(c.clone().with_setting("sslmode", "sometimes").is_err());
    /// assert!(c.with_setting("journal", "wal").is_err());
    /// # }
    /// # Ok::<(), dbm::Error>(())
    /// ```
    pub fn with_setting(mut self, key: &str, value: &str) -> Result<Self> {
        let spec = self
            .driver
            .keys()
            .iter()
            .find(|k| k.name == key)
            .ok_or_else(|| {
                Error::config(format!(
                    "`{key}` is not a setting of the {} driver",
                    self.driver.name()
                ))
                .with_database(self.name.clone())
            })?;
        let value = setting_value(spec.kind, value, &self.base_dir).map_err(|why| {
            Error::config(format!("`{key}` {why}")).with_database(self.name.clone())
        })?;
        self.driver_settings = self.driver_settings.clone().with(spec.name, value);
        self.reconfigure()?;
        Ok(self)
    }

    /// Makes relative paths in the URL (a SQLite file) and the migrations directory start
    /// at `dir` (the CLI's `--url` does this for the working directory).
    pub fn relocate(&mut self, dir: &Path) -> Result<()> {
        self.base_dir = dir.to_path_buf();
        self.driver_settings.base_dir = dir.to_path_buf();
        self.reconfigure()
    }

    fn reconfigure(&mut self) -> Result<()> {
        self.options = self
            .driver
            .configure(self.url.expose_secret(), &self.driver_settings)
            .map_err(|e| {
                e.with_database(self.name.clone())
                    .with_operation("configure")
            })?;
        Ok(())
    }

    /// The settings every driver applies when it opens the database.
    pub(crate) fn connect_settings(&self) -> ConnectSettings {
        let mut s = ConnectSettings::new();
        s.password = self.password.as_ref().map(|p| p.expose_secret().to_owned());
        s.connect_timeout = self.connect_timeout;
        s.read_only = self.read_only;
        s
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

/// Checks a driver key's text (from code or a variable) against its kind.
fn setting_value(
    kind: KeyKind,
    text: &str,
    base_dir: &Path,
) -> std::result::Result<SettingValue, String> {
    match kind {
        KeyKind::Text => Ok(SettingValue::Text(text.to_owned())),
        KeyKind::Bool => text
            .parse()
            .map(SettingValue::Bool)
            .map_err(|_| format!("must be true or false, got {text:?}")),
        KeyKind::Seconds => text
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| SettingValue::Duration(Duration::from_secs_f64(s)))
            .ok_or_else(|| format!("must be a non-negative number of seconds, got {text:?}")),
        KeyKind::Choice(words) => {
            if words.contains(&text) {
                Ok(SettingValue::Text(text.to_owned()))
            } else {
                Err(format!("`{text}` is not one of {}", words.join(", ")))
            }
        }
        KeyKind::File => {
            let path = base_dir.join(text);
            if path.is_file() {
                Ok(SettingValue::Path(path))
            } else {
                Err(format!(
                    "names {}, which is not a readable file",
                    path.display()
                ))
            }
        }
        _ => Err("has a kind this version of dbm cannot read".to_owned()),
    }
}

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("name", &self.name)
            .field("url", &self.redacted_url())
            .field("driver", &self.driver.name())
            .field("options", &self.options)
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
                // The fix is to set that variable, not to override the key.
                let what = if key == "url_env" {
                    "the URL"
                } else {
                    "the password"
                };
                Error::config(format!(
                    "`{full}` names the variable {reference}, which is not set ({})",
                    c.origin_note(&entry.origin)
                ))
                .with_operation("configure")
                .with_hint(format!("export {reference}=... ({what} of `{name}`)"))
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
    let mut note = |k: &str, value: Shown, origin: Option<&Origin>| {
        let o = origin.cloned().unwrap_or(Origin::Default);
        origins.push(SettingReport {
            key: k.to_owned(),
            value: value.to_string(),
            typed: value.json(),
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
                    let file = match (&c.file, &c.searched) {
                        (Some(p), _) => format!("not in {}", p.display()),
                        (None, Some(dir)) => format!(
                            "no {} was found in {} or its parents, and DBM_CONFIG is not set",
                            super::CONFIG_FILE,
                            dir.display()
                        ),
                        (None, None) => "no config file was given".to_owned(),
                    };
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
                    "add `[databases.{name}]` with `url`, `url_env` or `url_file` to dbm.toml (or point DBM_CONFIG at one), or set {var}"
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
    note("url", Shown::Text(redact_url(&url_text)), Some(&url_origin));
    let driver = driver_for(&url_text).map_err(|e| {
        Error::config(format!("{} ({})", e.message(), c.origin_note(&url_origin)))
            .with_operation("configure")
            .with_hint(e.hint().unwrap_or_default().to_owned())
    })?;
    let detected = driver.backend();
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
        note("type", Shown::Text(detected.to_string()), Some(&e.origin));
    } else {
        note("type", Shown::Text(detected.to_string()), Some(&url_origin));
    }

    check_keys(c, name, driver)?;
    let settings = driver_settings(c, name, driver, &mut note)?;
    let options = driver.configure(&url_text, &settings).map_err(|e| {
        Error::config(format!(
            "the url of `{name}` is invalid: {} ({})",
            e.message(),
            c.origin_note(&url_origin)
        ))
        .with_operation("configure")
        .with_hint(e.hint().unwrap_or("check the URL").to_owned())
    })?;
    let mut d = DatabaseConfig::with_parts(name, &url_text, driver, settings, options);
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
        if !driver.takes_password() {
            return Err(c.invalid(
                &key(k),
                Some(e),
                format!(
                    "is set, but {} databases have no password",
                    detected.product()
                ),
            ));
        }
        d.password = Some(secret);
        note("password", Shown::Text("***".to_owned()), Some(&origin));
    }

    let (k, e) = get("pool_size");
    if let Some(v) = c.int_in(&k, e, 1, 10_000)? {
        d.pool_size = v as u32;
    }
    note(
        "pool_size",
        Shown::Int(d.pool_size.into()),
        e.map(|e| &e.origin),
    );
    let (k, e) = get("max_overflow");
    if let Some(v) = c.int_in(&k, e, -1, 100_000)? {
        d.max_overflow = v as i32;
    }
    note(
        "max_overflow",
        Shown::Int(d.max_overflow.into()),
        e.map(|e| &e.origin),
    );
    let (k, e) = get("timeout");
    if let Some(v) = c.seconds(&k, e)? {
        d.timeout = v;
    }
    note(
        "timeout",
        Shown::Seconds(Some(d.timeout)),
        e.map(|e| &e.origin),
    );
    let (k, e) = get("pre_ping");
    if let Some(v) = c.boolean(&k, e)? {
        d.pre_ping = v;
    }
    note("pre_ping", Shown::Bool(d.pre_ping), e.map(|e| &e.origin));
    let (k, e) = get("pre_ping_skip_ms");
    if let Some(v) = c.millis(&k, e)? {
        d.pre_ping_skip = v;
    }
    note(
        "pre_ping_skip_ms",
        Shown::Millis(d.pre_ping_skip),
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
        note(opt, Shown::Seconds(v), e.map(|e| &e.origin));
    }
    let (k, e) = get("migrations");
    if let Some(v) = c.string(&k, e)? {
        d.migrations = PathBuf::from(v);
    }
    note(
        "migrations",
        Shown::Text(d.migrations_dir().display().to_string()),
        e.map(|e| &e.origin),
    );
    for (flag, default) in [
        ("auto_migrate", false),
        ("read_only", false),
        ("required", true),
    ] {
        let (k, e) = get(flag);
        let v = c.boolean(&k, e)?.unwrap_or(default);
        match flag {
            "auto_migrate" => d.auto_migrate = v,
            "read_only" => d.read_only = v,
            _ => d.required = v,
        }
        note(flag, Shown::Bool(v), e.map(|e| &e.origin));
    }
    let global = c.global()?;
    d.retry = global.retry;
    d.health = global.health;
    d.origins = origins;
    Ok(d)
}

/// Refuses keys of `[databases.<name>]` that neither dbm nor the database's driver knows,
/// naming the file and line (or variable) of each.
fn check_keys(c: &Config, name: &str, driver: &'static dyn Driver) -> Result<()> {
    let prefix = format!("databases.{name}.");
    for (full, e) in c.merged.range(prefix.clone()..) {
        let Some(k) = full.strip_prefix(&prefix) else {
            break;
        };
        if POOL_KEYS.contains(&k)
            || DATABASE_KEYS.contains(&k)
            || driver.keys().iter().any(|d| d.name == k)
        {
            continue;
        }
        let product = driver.backend().product();
        let msg = match driver_keys().find(|(_, d)| d.name == k) {
            Some((owner, _)) => format!(
                "`{full}` is a {} setting, but `{name}` is a {product} database",
                owner.backend().product()
            ),
            None => format!("unknown key `{full}`"),
        };
        let suggestion = super::suggest::did_you_mean(
            k,
            POOL_KEYS
                .iter()
                .chain(DATABASE_KEYS)
                .copied()
                .chain(driver.keys().iter().map(|d| d.name)),
        );
        let own: Vec<&str> = driver.keys().iter().map(|d| d.name).collect();
        return Err(
            Error::config(format!("{msg} ({}){suggestion}", c.origin_note(&e.origin)))
                .with_operation("configure")
                .with_hint(format!(
                    "a {product} database takes the keys of the README's \"Configuration\"{}",
                    if own.is_empty() {
                        String::new()
                    } else {
                        format!(" and {}", own.join(", "))
                    }
                )),
        );
    }
    Ok(())
}

/// Reads the driver's own keys for database `name`, checked against their kinds.
fn driver_settings(
    c: &Config,
    name: &str,
    driver: &'static dyn Driver,
    note: &mut impl FnMut(&str, Shown, Option<&Origin>),
) -> Result<DriverSettings> {
    let mut settings = DriverSettings::new(c.base_dir.clone());
    for spec in driver.keys() {
        let full = format!("databases.{name}.{}", spec.name);
        let Some(e) = c.merged.get(&full) else {
            continue;
        };
        let text = match &e.value {
            Scalar::Str(s) => s.clone(),
            other => other.to_string(),
        };
        let value = match (spec.kind, &e.value) {
            (KeyKind::Bool, Scalar::Bool(b)) => SettingValue::Bool(*b),
            (KeyKind::Seconds, Scalar::Int(_) | Scalar::Float(_)) => {
                SettingValue::Duration(c.seconds(&full, Some(e))?.unwrap_or_default())
            }
            (kind, _) => setting_value(kind, &text, &c.base_dir)
                .map_err(|why| c.invalid(&full, Some(e), why))?,
        };
        note(spec.name, Shown::of(&value), Some(&e.origin));
        settings = settings.with(spec.name, value);
    }
    Ok(settings)
}

/// A setting's value for [`SettingReport`]: shown as text, and typed for JSON.
enum Shown {
    Text(String),
    Int(i64),
    Bool(bool),
    /// A duration set in seconds; `None` for no limit.
    Seconds(Option<Duration>),
    /// A duration set in milliseconds.
    Millis(Duration),
}

impl Shown {
    fn of(v: &SettingValue) -> Shown {
        match v {
            SettingValue::Bool(b) => Shown::Bool(*b),
            SettingValue::Duration(d) => Shown::Seconds(Some(*d)),
            other => Shown::Text(other.to_string()),
        }
    }

    fn json(&self) -> serde_json::Value {
        match self {
            Shown::Text(s) => serde_json::Value::from(s.as_str()),
            Shown::Int(i) => serde_json::Value::from(*i),
            Shown::Bool(b) => serde_json::Value::from(*b),
            Shown::Seconds(None) => serde_json::Value::Null,
            Shown::Seconds(Some(d)) => number(d.as_secs_f64()),
            Shown::Millis(d) => number(d.as_secs_f64() * 1000.0),
        }
    }
}

/// An integer when the value is whole (`30`, not `30.0`).
fn number(v: f64) -> serde_json::Value {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        serde_json::Value::from(v as i64)
    } else {
        serde_json::Value::from(v)
    }
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shown::Text(s) => f.write_str(s),
            Shown::Int(i) => write!(f, "{i}"),
            Shown::Bool(b) => write!(f, "{b}"),
            Shown::Seconds(None) => f.write_str("none"),
            Shown::Seconds(Some(d)) => write!(f, "{}s", d.as_secs_f64()),
            Shown::Millis(d) => write!(f, "{}", d.as_secs_f64() * 1000.0),
        }
    }
}
