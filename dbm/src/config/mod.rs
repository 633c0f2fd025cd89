//! Layered configuration with secrets.
//!
//! Layers, lowest first: built-in defaults; the config file (`dbm.toml`, or `$DBM_CONFIG`);
//! its `[env.<name>]` section for the environment chosen by `DBM_ENV` (default
//! `development`); then environment variables: `DBM__<PATH>` for any key
//! (`DBM__DATABASES__RPA_DB__POOL_SIZE=10`, `DBM__DEFAULTS__TIMEOUT=5`) and `DBM_<NAME>_URL`
//! for a database's URL. URLs and passwords may be references to secrets (`url_env`,
//! `url_file`, `password_env`, `password_file`). Every value remembers its [`Origin`].

mod database;
mod identity;
mod layers;
mod suggest;
mod urls;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use dbm_core::{Error, Result, RetryPolicy};
use dbm_health::HealthSettings;

pub use database::{DatabaseConfig, SettingReport};
pub(crate) use identity::{Identity, check_name};
pub use layers::Origin;
pub use urls::{ACCEPTED_URLS, detect_backend, redact_url, url_env_var};

use layers::{Entry, Layer, Scalar, override_var, parse_file, parse_vars};

/// The file name searched for in the working directory and its parents.
pub const CONFIG_FILE: &str = "dbm.toml";

/// The environment used when `DBM_ENV` is not set.
pub const DEFAULT_ENVIRONMENT: &str = "development";

/// Settings that are not about one database.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct GlobalSettings {
    /// Retry policy of the `*_with_retry` methods.
    pub retry: RetryPolicy,
    /// Health check thresholds and limits (`[health]`).
    pub health: HealthSettings,
}

/// The loaded, merged configuration. Databases are resolved and validated by
/// [`Config::database`]; nothing connects.
#[derive(Default, Clone)]
pub struct Config {
    file: Option<PathBuf>,
    base_dir: PathBuf,
    environment: String,
    merged: Layer,
    vars: BTreeMap<String, String>,
    warnings: Vec<String>,
    /// Where the search for dbm.toml started, when it found none.
    searched: Option<PathBuf>,
}

/// Builds a [`Config`] from explicit parts; [`Config::load`] is this with the process's
/// own environment.
///
#[cfg_attr(feature = "sqlite", doc = "```")]
#[cfg_attr(not(feature = "sqlite"), doc = "```ignore")]
/// let c = dbm::Config::loader()
///     .toml("[databases.app]\nurl = \"sqlite::memory:\"\n[env.production.databases.app]\npool_size = 20\n")
///     .environment("production")
///     .var("DBM__DATABASES__APP__MAX_OVERFLOW", "0")
///     .load()
///     .unwrap();
/// let app = c.database("app").unwrap();
/// assert_eq!((app.pool_size, app.max_overflow), (20, 0));
/// ```
#[derive(Default, Clone)]
pub struct ConfigLoader {
    file: Option<PathBuf>,
    text: Option<String>,
    base_dir: Option<PathBuf>,
    environment: Option<String>,
    vars: BTreeMap<String, String>,
    search: bool,
}

/// Variables are not shown: they may hold secrets.
impl std::fmt::Debug for ConfigLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigLoader")
            .field("file", &self.file)
            .field("environment", &self.environment)
            .field("vars", &self.vars.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Values are not shown: use `config check` (which masks secrets) to see them.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("file", &self.file)
            .field("environment", &self.environment)
            .field("databases", &self.database_names())
            .finish_non_exhaustive()
    }
}

impl ConfigLoader {
    /// Reads this config file.
    pub fn file(mut self, path: impl Into<PathBuf>) -> Self {
        self.file = Some(path.into());
        self
    }

    /// Uses this text as the config file (relative paths resolve against `base_dir`).
    pub fn toml(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// The directory relative paths resolve against (default: the file's directory).
    pub fn base_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.base_dir = Some(dir.into());
        self
    }

    /// The environment whose `[env.<name>]` section applies (default: `$DBM_ENV`, else
    /// `development`).
    pub fn environment(mut self, env: impl Into<String>) -> Self {
        self.environment = Some(env.into());
        self
    }

    /// Adds one environment variable (as if set in the process).
    pub fn var(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.insert(name.into(), value.into());
        self
    }

    /// Adds environment variables.
    pub fn vars<K: Into<String>, V: Into<String>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.vars
            .extend(vars.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Merges the layers and checks every key (values are checked per database by
    /// [`Config::database`]).
    pub fn load(self) -> Result<Config> {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        let file = match (&self.file, self.vars.get("DBM_CONFIG")) {
            (Some(f), _) => Some(f.clone()),
            (None, Some(f)) if !f.is_empty() => Some(PathBuf::from(f)),
            _ if self.search && self.text.is_none() => cwd
                .ancestors()
                .map(|d| d.join(CONFIG_FILE))
                .find(|p| p.is_file()),
            _ => None,
        };
        let text = match (&self.text, &file) {
            (Some(t), _) => Some(t.clone()),
            (None, Some(path)) => Some(std::fs::read_to_string(path).map_err(|e| {
                Error::config(format!("cannot read {}: {e}", path.display()))
                    .with_operation("load configuration")
                    .with_hint("check DBM_CONFIG, or create dbm.toml at the project root")
            })?),
            (None, None) => None,
        };
        let base_dir = self.base_dir.clone().unwrap_or_else(|| match &file {
            Some(f) => f
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map_or_else(|| cwd.clone(), Path::to_path_buf),
            None => cwd.clone(),
        });
        let chosen = self
            .environment
            .clone()
            .or_else(|| self.vars.get("DBM_ENV").cloned())
            .filter(|e| !e.is_empty());
        let environment = chosen
            .clone()
            .unwrap_or_else(|| DEFAULT_ENVIRONMENT.to_owned());
        let mut merged = Layer::new();
        let mut warnings = Vec::new();
        if let Some(text) = &text {
            let shown = file.clone().unwrap_or_else(|| PathBuf::from(CONFIG_FILE));
            let mut layers = parse_file(text, &shown)?;
            merged.append(&mut layers.base);
            match layers.envs.get_mut(&environment) {
                Some(env) => merged.append(env),
                // An environment asked for by name that the file does not have is most
                // likely a typo (`prod` for `production`): say so.
                None if chosen.is_some() => {
                    let known: Vec<&str> = layers.envs.keys().map(String::as_str).collect();
                    warnings.push(format!(
                        "DBM_ENV is `{environment}`, but {} has no [env.{environment}] section (environments: {}); only its base settings apply",
                        shown.display(),
                        if known.is_empty() { "none".to_owned() } else { known.join(", ") }
                    ));
                }
                None => {}
            }
        }
        for w in &warnings {
            tracing::warn!("{w}");
        }
        let mut vars_layer = parse_vars(self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
        merged.append(&mut vars_layer);
        // The sqlx convention: without a config file, DATABASE_URL is the default
        // database's URL.
        let no_file = file.is_none() && text.is_none();
        if no_file
            && !merged.keys().any(|k| k.starts_with("databases."))
            && let Some(url) = self
                .vars
                .get("DATABASE_URL")
                .filter(|u| !u.trim().is_empty())
        {
            merged.insert(
                "databases.app.url".to_owned(),
                Entry {
                    value: Scalar::Str(url.clone()),
                    origin: Origin::Variable("DATABASE_URL".to_owned()),
                },
            );
        }
        Ok(Config {
            file,
            searched: (no_file && self.search).then_some(cwd),
            base_dir,
            environment,
            merged,
            vars: self.vars,
            warnings,
        })
    }
}

impl Config {
    /// A loader with nothing set.
    pub fn loader() -> ConfigLoader {
        ConfigLoader::default()
    }

    /// Loads the configuration of this process: `$DBM_CONFIG`, else the first `dbm.toml` in
    /// the working directory or its parents (none is fine: URLs may come from variables),
    /// the `DBM_ENV` section, and the `DBM__*` / `DBM_<NAME>_URL` variables.
    pub fn load() -> Result<Config> {
        ConfigLoader {
            search: true,
            // All of them: `url_env` / `password_env` may name any variable.
            vars: std::env::vars().collect(),
            ..ConfigLoader::default()
        }
        .load()
    }

    /// Loads one file, with the process's environment variables.
    pub fn from_path(path: &Path) -> Result<Config> {
        Config::loader().file(path).vars(std::env::vars()).load()
    }

    /// Parses TOML text alone (no environment variables); relative paths resolve against
    /// `base_dir`.
    ///
    #[cfg_attr(feature = "sqlite", doc = "```")]
    #[cfg_attr(not(feature = "sqlite"), doc = "```ignore")]
    /// let c = dbm::Config::from_toml_str(
    ///     "[databases.app]\nurl = \"sqlite::memory:\"\npool_size = 2\n",
    ///     std::path::Path::new("."),
    /// ).unwrap();
    /// assert_eq!(c.database("app").unwrap().pool_size, 2);
    /// ```
    pub fn from_toml_str(text: &str, base_dir: &Path) -> Result<Config> {
        Config::loader().toml(text).base_dir(base_dir).load()
    }

    /// The file the configuration came from.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The active environment (`DBM_ENV`).
    pub fn environment(&self) -> &str {
        &self.environment
    }

    /// What looked wrong but did not stop loading (also logged at WARN): for example a
    /// `DBM_ENV` naming an environment the file has no section for.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The names of the configured databases (from any layer, including `DBM_<NAME>_URL`
    /// for names the file does not mention only when asked for by name).
    pub fn database_names(&self) -> Vec<String> {
        let mut names = BTreeSet::new();
        for key in self.merged.keys() {
            if let Some(rest) = key.strip_prefix("databases.")
                && let Some((name, _)) = rest.split_once('.')
            {
                names.insert(name.to_owned());
            }
        }
        names.into_iter().collect()
    }

    /// The database a command uses when none is named: the only one configured, else `app`.
    pub fn default_database(&self) -> String {
        let names = self.database_names();
        if names.len() == 1 {
            names[0].clone()
        } else {
            "app".to_owned()
        }
    }

    /// Global settings (retry policy, health thresholds), validated.
    pub fn global(&self) -> Result<GlobalSettings> {
        let d = RetryPolicy::default();
        let r = |k: &str| self.merged.get(&format!("retry.{k}"));
        let mut retry = d.clone();
        retry.max_attempts = self
            .int_in(
                &format!("retry.{}", "max_attempts"),
                r("max_attempts"),
                1,
                1000,
            )?
            .map_or(d.max_attempts, |v| v as u32);
        retry.initial_backoff = self
            .millis("retry.initial_backoff", r("initial_backoff"))?
            .unwrap_or(d.initial_backoff);
        retry.max_backoff = self
            .millis("retry.max_backoff", r("max_backoff"))?
            .unwrap_or(d.max_backoff);
        retry.multiplier = self
            .number("retry.multiplier", r("multiplier"), 1.0)?
            .unwrap_or(d.multiplier);
        retry.jitter = self
            .boolean("retry.jitter", r("jitter"))?
            .unwrap_or(d.jitter);
        let h = |k: &str| self.merged.get(&format!("health.{k}"));
        let d = HealthSettings::default();
        let mut health = d.clone();
        health.slow = self
            .millis("health.slow_ms", h("slow_ms"))?
            .unwrap_or(d.slow);
        health.pool_degraded_percent = self
            .number(
                "health.pool_degraded_percent",
                h("pool_degraded_percent"),
                0.0,
            )?
            .unwrap_or(d.pool_degraded_percent);
        if health.pool_degraded_percent > 100.0 {
            return Err(self.invalid(
                "health.pool_degraded_percent",
                h("pool_degraded_percent"),
                "must be a percentage from 0 to 100",
            ));
        }
        health.timeout = self
            .millis("health.timeout_ms", h("timeout_ms"))?
            .unwrap_or(d.timeout);
        if health.timeout.is_zero() {
            return Err(self.invalid(
                "health.timeout_ms",
                h("timeout_ms"),
                "must be more than 0 milliseconds",
            ));
        }
        health.cache = self
            .millis("health.cache_ms", h("cache_ms"))?
            .unwrap_or(d.cache);
        Ok(GlobalSettings { retry, health })
    }

    /// Describes where `key` was set, for error messages.
    /// Where a value came from, with the environment, for error messages.
    pub(crate) fn origin_note(&self, origin: &Origin) -> String {
        match origin {
            Origin::Variable(v) => format!("set by {v}"),
            o => format!("{o}, environment `{}`", self.environment),
        }
    }

    /// Describes where `key` was set and how to override it, for error messages.
    fn place(&self, key: &str, entry: Option<&Entry>) -> String {
        let var = override_var(key);
        match entry.map(|e| &e.origin) {
            Some(o @ Origin::Variable(_)) => self.origin_note(o),
            Some(o) => format!("{}; override with {var}", self.origin_note(o)),
            None => format!(
                "environment `{}`; set it in dbm.toml or with {var}",
                self.environment
            ),
        }
    }

    fn invalid(&self, key: &str, entry: Option<&Entry>, msg: impl std::fmt::Display) -> Error {
        Error::config(format!("`{key}` {msg} ({})", self.place(key, entry)))
            .with_operation("configure")
    }

    fn int_in(&self, key: &str, e: Option<&Entry>, min: i64, max: i64) -> Result<Option<i64>> {
        match e.map(|e| &e.value) {
            None => Ok(None),
            Some(Scalar::Int(i)) if (min..=max).contains(i) => Ok(Some(*i)),
            Some(Scalar::Int(i)) if *i < min => {
                Err(self.invalid(key, e, format!("must be at least {min}, got {i}")))
            }
            Some(Scalar::Int(i)) => {
                Err(self.invalid(key, e, format!("must be at most {max}, got {i}")))
            }
            Some(v) => Err(self.invalid(key, e, format!("must be a whole number, got {v}"))),
        }
    }

    fn number(&self, key: &str, e: Option<&Entry>, min: f64) -> Result<Option<f64>> {
        let v = match e.map(|e| &e.value) {
            None => return Ok(None),
            Some(Scalar::Int(i)) => *i as f64,
            Some(Scalar::Float(x)) => *x,
            Some(v) => return Err(self.invalid(key, e, format!("must be a number, got {v}"))),
        };
        if !v.is_finite() || v < min {
            return Err(self.invalid(
                key,
                e,
                format!("must be a number of at least {min}, got {v}"),
            ));
        }
        Ok(Some(v))
    }

    fn seconds(&self, key: &str, e: Option<&Entry>) -> Result<Option<Duration>> {
        self.number(key, e, 0.0)
            .map_err(|_| self.invalid(key, e, "must be a non-negative number of seconds"))
            .map(|v| v.map(Duration::from_secs_f64))
    }

    fn millis(&self, key: &str, e: Option<&Entry>) -> Result<Option<Duration>> {
        self.number(key, e, 0.0)
            .map_err(|_| self.invalid(key, e, "must be a non-negative number of milliseconds"))
            .map(|v| v.map(|ms| Duration::from_secs_f64(ms / 1000.0)))
    }

    fn boolean(&self, key: &str, e: Option<&Entry>) -> Result<Option<bool>> {
        match e.map(|e| &e.value) {
            None => Ok(None),
            Some(Scalar::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(self.invalid(key, e, format!("must be true or false, got {v}"))),
        }
    }

    fn string(&self, key: &str, e: Option<&Entry>) -> Result<Option<String>> {
        match e.map(|e| &e.value) {
            None => Ok(None),
            Some(Scalar::Str(s)) => Ok(Some(s.clone())),
            Some(v) => Err(self.invalid(key, e, format!("must be a string, got {v}"))),
        }
    }

    /// A copy in which `name`'s URL is `url` (as `DBM_<NAME>_URL` would set it): what
    /// `--url` does.
    pub fn with_url(&self, name: &str, url: &str) -> Config {
        let mut c = self.clone();
        c.vars.insert(url_env_var(name), url.to_owned());
        c
    }

    /// Resolves, validates and returns the settings of `name`.
    pub fn database(&self, name: &str) -> Result<DatabaseConfig> {
        identity::check_name(name).map_err(|e| e.with_operation("configure"))?;
        database::resolve(self, name).map_err(|e| e.with_database(name))
    }

    /// Every configured database, resolved (or the reason it cannot be), for
    /// `cargo xtask config check`.
    pub fn check(&self) -> Vec<(String, Result<DatabaseConfig>)> {
        self.database_names()
            .into_iter()
            .map(|n| {
                let r = self.database(&n);
                (n, r)
            })
            .collect()
    }
}

#[cfg(test)]
mod health_tests;
#[cfg(test)]
mod tests;
