//! What identifies a database handle (for sharing pools) and what a database name may be.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use dbm_core::{Error, Result};
use secrecy::ExposeSecret;

use super::DatabaseConfig;

impl DatabaseConfig {
    /// Everything that decides which database a handle talks to and how: the URL with its
    /// credentials, the driver and pool settings, and what the handle does with them. Two
    /// handles may share a pool only when these are equal; a name is never enough.
    pub(crate) fn identity(&self) -> Identity {
        let r = &self.retry;
        Identity {
            name: self.name.clone(),
            url: self.url().expose_secret().to_owned(),
            password: self.password.as_ref().map(|p| p.expose_secret().to_owned()),
            base_dir: self.base_dir.clone(),
            pool: (
                self.pool_size,
                self.max_overflow,
                self.timeout,
                self.pre_ping,
                self.pre_ping_skip,
                self.recycle,
            ),
            driver: (
                self.driver().name(),
                self.driver_settings()
                    .values
                    .iter()
                    .map(|(k, v)| format!("{k}={v:?}"))
                    .collect(),
                self.statement_timeout,
                self.connect_timeout,
                self.read_only,
            ),
            usage: (
                self.migrations_dir(),
                self.auto_migrate,
                (
                    self.health.slow,
                    self.health.pool_degraded_percent.to_bits(),
                    self.health.timeout,
                    self.health.cache,
                    self.required,
                ),
                (
                    r.max_attempts,
                    r.initial_backoff,
                    r.max_backoff,
                    r.multiplier.to_bits(),
                    r.jitter,
                ),
            ),
        }
    }
}

/// Rejects a database name that is empty, blank, padded with white space or holds
/// control characters: such a name is a mistake, and would name nothing findable.
pub(crate) fn check_name(name: &str) -> Result<()> {
    let why = if name.trim().is_empty() {
        "is empty"
    } else if name.trim() != name {
        "starts or ends with white space"
    } else if name.chars().any(char::is_control) {
        "holds a control character"
    } else {
        return Ok(());
    };
    Err(
        Error::invalid_argument(format!("the database name {name:?} {why}"))
            .with_hint("name the database as dbm.toml does, e.g. \"app\" for [databases.app]"),
    )
}

/// Health thresholds (slow, pool percent as bits, timeout, cache) and `required`.
type HealthKey = (Duration, u64, Duration, Duration, bool);

/// See [`DatabaseConfig::identity`]. Holds secrets: `Debug` shows the name only.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct Identity {
    name: String,
    url: String,
    password: Option<String>,
    base_dir: PathBuf,
    pool: (u32, i32, Duration, bool, Duration, Option<Duration>),
    driver: (
        &'static str,
        Vec<String>,
        Option<Duration>,
        Option<Duration>,
        bool,
    ),
    usage: (
        PathBuf,
        bool,
        HealthKey,
        (u32, Duration, Duration, u64, bool),
    ),
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}
