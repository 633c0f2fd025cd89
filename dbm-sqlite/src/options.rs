//! Connection options and `sqlite:` URL parsing.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use dbm_core::{Error, Result};

/// Where the database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqliteLocation {
    /// A file (relative paths are resolved against the process's working directory unless
    /// [`SqliteOptions::resolve_relative_to`] is called).
    File(PathBuf),
    /// A private in-memory database, shared by the pool's connections and gone when the
    /// pool is dropped.
    Memory,
}

/// SQLite connection options.
///
/// ```
/// use std::time::Duration;
/// use dbm_sqlite::{SqliteLocation, SqliteOptions};
/// let o: SqliteOptions = "sqlite://target/app.db?busy_timeout=2000".parse().unwrap();
/// assert_eq!(o.location, SqliteLocation::File("target/app.db".into()));
/// assert_eq!(o.busy_timeout, Duration::from_secs(2));
/// assert!(o.wal);
/// let m: SqliteOptions = "sqlite::memory:".parse().unwrap();
/// assert_eq!(m.location, SqliteLocation::Memory);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOptions {
    /// File or memory.
    pub location: SqliteLocation,
    /// How long a writer waits for another writer's lock before `SQLITE_BUSY`.
    pub busy_timeout: Duration,
    /// Use write-ahead logging (concurrent readers alongside one writer).
    pub wal: bool,
    /// Enforce foreign keys (`PRAGMA foreign_keys = ON`).
    pub foreign_keys: bool,
    /// Open read-only.
    pub read_only: bool,
    /// Create the file if it does not exist.
    pub create_if_missing: bool,
}

impl SqliteOptions {
    /// Options for a file, with the defaults: WAL, busy timeout 5 s, foreign keys on.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        SqliteOptions {
            location: SqliteLocation::File(path.into()),
            busy_timeout: Duration::from_secs(5),
            wal: true,
            foreign_keys: true,
            read_only: false,
            create_if_missing: true,
        }
    }

    /// Options for a private in-memory database.
    pub fn memory() -> Self {
        SqliteOptions {
            location: SqliteLocation::Memory,
            wal: false,
            ..Self::file("")
        }
    }

    /// Sets the busy timeout.
    pub fn busy_timeout(mut self, t: Duration) -> Self {
        self.busy_timeout = t;
        self
    }

    /// Opens read-only.
    pub fn read_only(mut self, ro: bool) -> Self {
        self.read_only = ro;
        self
    }

    /// Makes a relative file path relative to `base` (e.g. the directory of `dbm.toml`).
    pub fn resolve_relative_to(mut self, base: &Path) -> Self {
        if let SqliteLocation::File(p) = &self.location
            && p.is_relative()
        {
            self.location = SqliteLocation::File(base.join(p));
        }
        self
    }

    /// The file path, when the database is a file.
    pub fn path(&self) -> Option<&Path> {
        match &self.location {
            SqliteLocation::File(p) => Some(p),
            SqliteLocation::Memory => None,
        }
    }
}

impl fmt::Display for SqliteOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            SqliteLocation::File(p) => write!(f, "sqlite://{}", p.display()),
            SqliteLocation::Memory => f.write_str("sqlite::memory:"),
        }
    }
}

fn percent_decode(s: &str) -> Result<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    Error::config(format!("bad percent-escape in SQLite URL path `{s}`"))
                })?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| Error::config("SQLite URL path is not valid UTF-8"))
}

impl FromStr for SqliteOptions {
    type Err = Error;

    /// Accepts `sqlite://relative/path.db`, `sqlite:///absolute/path.db`, `sqlite:path.db`,
    /// `sqlite::memory:` and `sqlite://:memory:`, with optional query parameters `mode`
    /// (`ro`, `rw`, `rwc`), `busy_timeout` (ms), `journal_mode` (`wal` or another SQLite
    /// mode, meaning no WAL) and `foreign_keys` (`on`/`off`).
    fn from_str(url: &str) -> Result<Self> {
        let rest = url
            .strip_prefix("sqlite:")
            .ok_or_else(|| Error::config(format!("`{url}` is not a sqlite: URL")))?;
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut opts = match path {
            ":memory:" => SqliteOptions::memory(),
            "" => {
                return Err(Error::config("the SQLite URL has no path")
                    .with_hint("write sqlite://path/to/file.db or sqlite::memory:"));
            }
            p => SqliteOptions::file(percent_decode(p)?),
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let bad = || {
                Error::config(format!(
                    "SQLite URL option `{key}` has a bad value `{value}`"
                ))
            };
            match key {
                "mode" => match value {
                    "ro" => {
                        opts.read_only = true;
                        opts.create_if_missing = false;
                    }
                    "rw" => opts.create_if_missing = false,
                    "rwc" => {}
                    "memory" => opts = SqliteOptions::memory(),
                    _ => return Err(bad()),
                },
                "busy_timeout" => {
                    opts.busy_timeout = Duration::from_millis(value.parse().map_err(|_| bad())?)
                }
                "journal_mode" => opts.wal = value.eq_ignore_ascii_case("wal"),
                "foreign_keys" => {
                    opts.foreign_keys = match value {
                        "on" | "true" | "1" => true,
                        "off" | "false" | "0" => false,
                        _ => return Err(bad()),
                    }
                }
                _ => {
                    return Err(Error::config(format!("unknown SQLite URL option `{key}`"))
                        .with_hint("accepted: mode, busy_timeout, journal_mode, foreign_keys"));
                }
            }
        }
        Ok(opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_forms() {
        let cases = [
            ("sqlite://target/app.db", Some("target/app.db")),
            ("sqlite:///var/lib/app.db", Some("/var/lib/app.db")),
            ("sqlite:app.db", Some("app.db")),
            ("sqlite://my%20dir/a.db", Some("my dir/a.db")),
            ("sqlite::memory:", None),
            ("sqlite://:memory:", None),
        ];
        for (url, path) in cases {
            let o: SqliteOptions = url.parse().unwrap();
            assert_eq!(o.path().map(|p| p.to_str().unwrap()), path, "{url}");
        }
    }

    #[test]
    fn url_options() {
        let o: SqliteOptions = "sqlite://a.db?mode=ro&journal_mode=delete&foreign_keys=off"
            .parse()
            .unwrap();
        assert!(o.read_only && !o.wal && !o.foreign_keys && !o.create_if_missing);
    }

    #[test]
    fn bad_urls_are_clear_errors() {
        for (url, needle) in [
            ("postgres://x", "is not a sqlite: URL"),
            ("sqlite://", "has no path"),
            (
                "sqlite://a.db?cache=shared",
                "unknown SQLite URL option `cache`",
            ),
            ("sqlite://a.db?busy_timeout=soon", "bad value `soon`"),
            ("sqlite://a%zz.db", "bad percent-escape"),
        ] {
            let e = url.parse::<SqliteOptions>().unwrap_err();
            assert_eq!(e.kind(), dbm_core::ErrorKind::Configuration);
            assert!(e.to_string().contains(needle), "{url}: {e}");
        }
    }

    #[test]
    fn relative_paths_resolve_against_a_base() {
        let o = SqliteOptions::file("target/a.db").resolve_relative_to(Path::new("/proj"));
        assert_eq!(o.path(), Some(Path::new("/proj/target/a.db")));
        let o = SqliteOptions::file("/abs.db").resolve_relative_to(Path::new("/proj"));
        assert_eq!(o.path(), Some(Path::new("/abs.db")));
    }
}
