//! The raw layers: `dbm.toml` (its base and its `[env.<name>]` sections) and `DBM__*`
//! variables, flattened into dotted keys with the place each value came from.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use dbm_core::{Error, Result};
use toml::de::{DeTable, DeValue};

/// Keys every database takes, and `[defaults]` sets for all of them.
pub(crate) const POOL_KEYS: &[&str] = &[
    "pool_size",
    "max_overflow",
    "timeout",
    "pre_ping",
    "pre_ping_skip_ms",
    "recycle",
    "statement_timeout",
    "connect_timeout",
];

/// Keys only a database takes.
pub(crate) const DATABASE_KEYS: &[&str] = &[
    "type",
    "url",
    "url_env",
    "url_file",
    "password_env",
    "password_file",
    "migrations",
    "auto_migrate",
    "read_only",
    "required",
];

pub(crate) const RETRY_KEYS: &[&str] = &[
    "max_attempts",
    "initial_backoff",
    "max_backoff",
    "multiplier",
    "jitter",
];

pub(crate) const HEALTH_KEYS: &[&str] =
    &["slow_ms", "pool_degraded_percent", "timeout_ms", "cache_ms"];

/// A configuration value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Str(s) => write!(f, "{s:?}"),
            Scalar::Int(i) => write!(f, "{i}"),
            Scalar::Float(x) => write!(f, "{x}"),
            Scalar::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// Where a value came from, lowest layer first.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// Built into dbm.
    Default,
    /// The base of the config file.
    File {
        /// The file.
        path: PathBuf,
        /// The 1-based line.
        line: usize,
    },
    /// The `[env.<name>]` section of the config file.
    Environment {
        /// The environment's name.
        env: String,
        /// The file.
        path: PathBuf,
        /// The 1-based line.
        line: usize,
    },
    /// An environment variable (`DBM__...` or `DBM_<NAME>_URL`).
    Variable(String),
    /// A secret reference (`url_env`, `url_file`, `password_env`, `password_file`).
    Secret(String),
}

impl Origin {
    /// The layer's rank: higher overrides lower.
    pub(crate) fn rank(&self) -> u8 {
        match self {
            Origin::Default => 0,
            Origin::File { .. } => 1,
            Origin::Environment { .. } => 2,
            Origin::Variable(_) => 3,
            Origin::Secret(_) => 4,
        }
    }

    /// `default`, `file`, `environment`, `variable` or `secret`.
    pub fn kind(&self) -> &'static str {
        match self {
            Origin::Default => "default",
            Origin::File { .. } => "file",
            Origin::Environment { .. } => "environment",
            Origin::Variable(_) => "variable",
            Origin::Secret(_) => "secret",
        }
    }
}

impl Origin {
    /// Where, without the kind: a file and line, a variable name, a secret reference.
    pub fn place(&self) -> String {
        match self {
            Origin::Default => String::new(),
            Origin::File { path, line } => format!("{} line {line}", path.display()),
            Origin::Environment { env, path, line } => {
                format!("[env.{env}] in {} line {line}", path.display())
            }
            Origin::Variable(v) => v.clone(),
            Origin::Secret(s) => s.clone(),
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File { path, line } => write!(f, "file {} line {line}", path.display()),
            Origin::Environment { env, path, line } => {
                write!(f, "environment `{env}` in {} line {line}", path.display())
            }
            Origin::Variable(v) => write!(f, "variable {v}"),
            Origin::Secret(s) => write!(f, "secret {s}"),
        }
    }
}

/// One value and where it came from.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub value: Scalar,
    pub origin: Origin,
}

/// Dotted key (`databases.app.pool_size`) to value.
pub(crate) type Layer = BTreeMap<String, Entry>;

/// A parsed config file: its base layer and one layer per `[env.<name>]` section.
#[derive(Debug, Default)]
pub(crate) struct FileLayers {
    pub base: Layer,
    pub envs: BTreeMap<String, Layer>,
}

/// The variable that overrides a dotted key: `DBM__DATABASES__APP__POOL_SIZE`.
pub(crate) fn override_var(key: &str) -> String {
    format!("DBM__{}", key.replace('.', "__").to_ascii_uppercase())
}

/// Whether `key` (dotted, below the top) is one dbm knows. A database's own keys depend on
/// its driver (PostgreSQL's `sslmode`): they are checked when that database is resolved,
/// so that a file naming a database this build has no driver for still loads.
/// The keys a section takes, for "did you mean".
pub(crate) fn section_keys(section: &str) -> &'static [&'static str] {
    match section {
        "defaults" => POOL_KEYS,
        "retry" => RETRY_KEYS,
        "health" => HEALTH_KEYS,
        _ => &["defaults", "retry", "health", "databases", "env"],
    }
}

pub(crate) fn known_key(parts: &[&str]) -> bool {
    match parts {
        ["defaults", k] => POOL_KEYS.contains(k),
        ["retry", k] => RETRY_KEYS.contains(k),
        ["health", k] => HEALTH_KEYS.contains(k),
        ["databases", _, _] => true,
        _ => false,
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}

struct Walk<'a> {
    text: &'a str,
    path: &'a Path,
    env: Option<String>,
}

impl Walk<'_> {
    fn origin(&self, offset: usize) -> Origin {
        let line = line_of(self.text, offset);
        match &self.env {
            Some(env) => Origin::Environment {
                env: env.clone(),
                path: self.path.to_path_buf(),
                line,
            },
            None => Origin::File {
                path: self.path.to_path_buf(),
                line,
            },
        }
    }

    fn error(&self, offset: usize, msg: String) -> Error {
        let place = match &self.env {
            Some(env) => format!(
                "{} line {} (environment `{env}`)",
                self.path.display(),
                line_of(self.text, offset)
            ),
            None => format!(
                "{} line {}",
                self.path.display(),
                line_of(self.text, offset)
            ),
        };
        Error::config(format!("{place}: {msg}"))
            .with_operation("load configuration")
            .with_hint("see the README, \"Configuration\", for the accepted keys")
    }

    /// Flattens a table found at `prefix` into `out`, checking every key.
    fn table(&self, table: &DeTable<'_>, prefix: &[String], out: &mut Layer) -> Result<()> {
        for (key, value) in table {
            let mut parts: Vec<String> = prefix.to_vec();
            parts.push(key.get_ref().to_string());
            let offset = key.span().start;
            let dotted = parts.join(".");
            match value.get_ref() {
                DeValue::Table(inner) => {
                    let depth_ok = matches!(
                        parts
                            .iter()
                            .map(String::as_str)
                            .collect::<Vec<_>>()
                            .as_slice(),
                        ["defaults"] | ["retry"] | ["health"] | ["databases"] | ["databases", _]
                    );
                    if !depth_ok {
                        return Err(self.error(offset, format!("unknown table `{dotted}`")));
                    }
                    self.table(inner, &parts, out)?;
                }
                DeValue::Array(_) | DeValue::Datetime(_) => {
                    return Err(self.error(
                        offset,
                        format!("`{dotted}` must be a string, number or boolean"),
                    ));
                }
                scalar => {
                    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
                    if !known_key(&refs) {
                        let last = refs.last().copied().unwrap_or_default();
                        let hint = super::suggest::did_you_mean(
                            last,
                            section_keys(refs.first().copied().unwrap_or_default())
                                .iter()
                                .copied(),
                        );
                        return Err(self.error(offset, format!("unknown key `{dotted}`{hint}")));
                    }
                    let value = match scalar {
                        DeValue::String(s) => Scalar::Str(s.to_string()),
                        DeValue::Boolean(b) => Scalar::Bool(*b),
                        DeValue::Integer(i) => Scalar::Int(
                            i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).map_err(
                                |_| {
                                    self.error(offset, format!("`{dotted}` is not a valid integer"))
                                },
                            )?,
                        ),
                        DeValue::Float(x) => {
                            Scalar::Float(x.as_str().replace('_', "").parse().map_err(|_| {
                                self.error(offset, format!("`{dotted}` is not a valid number"))
                            })?)
                        }
                        _ => unreachable!("tables and arrays handled above"),
                    };
                    out.insert(
                        dotted,
                        Entry {
                            value,
                            origin: self.origin(offset),
                        },
                    );
                }
            }
        }
        Ok(())
    }
}

/// Parses a config file's text.
pub(crate) fn parse_file(text: &str, path: &Path) -> Result<FileLayers> {
    let doc = DeTable::parse(text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(text, s.start));
        Error::config(format!(
            "{} line {line}: {}",
            path.display(),
            e.message().trim_end().replace('\n', " ")
        ))
        .with_operation("load configuration")
    })?;
    let mut layers = FileLayers::default();
    let base_walk = Walk {
        text,
        path,
        env: None,
    };
    for (key, value) in doc.get_ref() {
        let name = key.get_ref().to_string();
        let offset = key.span().start;
        match (name.as_str(), value.get_ref()) {
            ("env", DeValue::Table(envs)) => {
                for (env_key, env_value) in envs {
                    let env = env_key.get_ref().to_string();
                    let DeValue::Table(section) = env_value.get_ref() else {
                        return Err(base_walk
                            .error(env_key.span().start, format!("`env.{env}` must be a table")));
                    };
                    let walk = Walk {
                        text,
                        path,
                        env: Some(env.clone()),
                    };
                    let mut layer = Layer::new();
                    walk.table(section, &[], &mut layer)?;
                    layers.envs.insert(env, layer);
                }
            }
            ("defaults" | "retry" | "health" | "databases", DeValue::Table(t)) => {
                base_walk.table(t, std::slice::from_ref(&name), &mut layers.base)?;
            }
            _ => {
                let hint = super::suggest::did_you_mean(&name, section_keys("").iter().copied());
                return Err(base_walk.error(offset, format!("unknown key `{name}`{hint}")));
            }
        }
    }
    Ok(layers)
}

/// Parses `DBM__A__B__C=value` variables into a layer. Values that read as booleans or
/// numbers become those; anything else is a string.
pub(crate) fn parse_vars<'a>(vars: impl Iterator<Item = (&'a str, &'a str)>) -> Result<Layer> {
    let mut layer = Layer::new();
    for (name, raw) in vars {
        let Some(rest) = name.strip_prefix("DBM__") else {
            continue;
        };
        let key = rest.to_ascii_lowercase().replace("__", ".");
        let parts: Vec<&str> = key.split('.').collect();
        if !known_key(&parts) {
            return Err(Error::config(format!(
                "variable {name} does not name a configuration key (it reads as `{key}`)"
            ))
            .with_operation("load configuration")
            .with_hint("e.g. DBM__DATABASES__APP__POOL_SIZE=10 or DBM__DEFAULTS__TIMEOUT=5"));
        }
        let value = if let Ok(b) = raw.parse::<bool>() {
            Scalar::Bool(b)
        } else if let Ok(i) = raw.parse::<i64>() {
            Scalar::Int(i)
        } else if let Ok(x) = raw.parse::<f64>() {
            Scalar::Float(x)
        } else {
            Scalar::Str(raw.to_owned())
        };
        layer.insert(
            key,
            Entry {
                value,
                origin: Origin::Variable(name.to_owned()),
            },
        );
    }
    Ok(layer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_values_carry_their_lines() {
        let text = "[defaults]\npool_size = 3\n\n[databases.app]\nurl = \"sqlite::memory:\"\n\n[env.production.databases.app]\npool_size = 20\n";
        let l = parse_file(text, Path::new("dbm.toml")).unwrap();
        let e = &l.base["databases.app.url"];
        assert_eq!(
            e.origin,
            Origin::File {
                path: "dbm.toml".into(),
                line: 5
            }
        );
        assert_eq!(l.base["defaults.pool_size"].value, Scalar::Int(3));
        let p = &l.envs["production"]["databases.app.pool_size"];
        assert_eq!(p.value, Scalar::Int(20));
        assert!(
            matches!(&p.origin, Origin::Environment { env, line: 8, .. } if env == "production")
        );
    }

    #[test]
    fn unknown_keys_name_file_line_and_environment() {
        let e = parse_file(
            "[databases.app]\nurl = \"x\"\n[defaults]\npool = 3\n",
            Path::new("dbm.toml"),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "load configuration: configuration error: dbm.toml line 4: unknown key `defaults.pool`; did you mean `pool_size`?; hint: see the README, \"Configuration\", for the accepted keys"
        );
        let e =
            parse_file("[env.staging.retry]\nattempts = 3\n", Path::new("dbm.toml")).unwrap_err();
        assert!(
            e.to_string()
                .contains("dbm.toml line 2 (environment `staging`): unknown key `retry.attempts`"),
            "{e}"
        );
        // A database's keys depend on its driver: they are checked when it is resolved.
        assert!(parse_file("[databases.app]\npoolsize = 3\n", Path::new("dbm.toml")).is_ok());
        let e = parse_file("[database.app]\nurl = \"x\"\n", Path::new("dbm.toml")).unwrap_err();
        assert!(e.to_string().contains("unknown key `database`"), "{e}");
        let e = parse_file("[databases.app]\nurl = \n", Path::new("dbm.toml")).unwrap_err();
        assert!(e.to_string().contains("dbm.toml line 2"), "{e}");
    }

    #[test]
    fn variables() {
        let vars = [
            ("DBM__DATABASES__RPA_DB__POOL_SIZE", "7"),
            ("DBM__DEFAULTS__PRE_PING", "false"),
            ("DBM__DATABASES__APP__URL", "sqlite://x.db"),
            ("DBM_ENV", "production"),
        ];
        let l = parse_vars(vars.iter().map(|(a, b)| (*a, *b))).unwrap();
        assert_eq!(l["databases.rpa_db.pool_size"].value, Scalar::Int(7));
        assert_eq!(l["defaults.pre_ping"].value, Scalar::Bool(false));
        assert_eq!(
            l["databases.app.url"].value,
            Scalar::Str("sqlite://x.db".into())
        );
        assert_eq!(l.len(), 3);
        let e = parse_vars([("DBM__DEFAULTS__POOLSIZE", "1")].into_iter()).unwrap_err();
        assert!(
            e.to_string()
                .contains("DBM__DEFAULTS__POOLSIZE does not name a configuration key"),
            "{e}"
        );
        assert_eq!(
            override_var("databases.rpa_db.pool_size"),
            "DBM__DATABASES__RPA_DB__POOL_SIZE"
        );
    }
}
