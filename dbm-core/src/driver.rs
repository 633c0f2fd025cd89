//! How a driver plugs in: one descriptor per driver crate says which URLs are its own, which
//! configuration keys it adds, how it turns a URL and those keys into typed options (once,
//! when the configuration is read), and how it opens a pooled [`Database`] from them.

use std::any::Any;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::connection::Database;
use crate::dialect::Backend;
use crate::error::Result;
use crate::pool::{ConnectTarget, PoolConfig};
use crate::test_backend::TestBackend;

/// What a driver's own configuration key holds. The facade checks values against it, with
/// the file, line and variable of each value, before the driver sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyKind {
    /// Any string.
    Text,
    /// `true` or `false`.
    Bool,
    /// A non-negative number of seconds.
    Seconds,
    /// One of these words.
    Choice(&'static [&'static str]),
    /// A readable file; relative paths start at the configuration file's directory.
    File,
}

/// A configuration key a driver adds to `[databases.<name>]` (e.g. PostgreSQL's `sslmode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DriverKey {
    /// The key, e.g. `sslmode`.
    pub name: &'static str,
    /// What it holds.
    pub kind: KeyKind,
    /// One line for `config check` and error messages.
    pub doc: &'static str,
}

impl DriverKey {
    /// A key.
    pub const fn new(name: &'static str, kind: KeyKind, doc: &'static str) -> Self {
        DriverKey { name, kind, doc }
    }
}

/// A driver key's checked value.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SettingValue {
    /// A [`KeyKind::Text`] or [`KeyKind::Choice`] value.
    Text(String),
    /// A [`KeyKind::Bool`] value.
    Bool(bool),
    /// A [`KeyKind::Seconds`] value.
    Duration(Duration),
    /// A [`KeyKind::File`] value, resolved against the configuration's directory.
    Path(PathBuf),
}

impl fmt::Display for SettingValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingValue::Text(s) => f.write_str(s),
            SettingValue::Bool(b) => write!(f, "{b}"),
            SettingValue::Duration(d) => write!(f, "{}s", d.as_secs_f64()),
            SettingValue::Path(p) => write!(f, "{}", p.display()),
        }
    }
}

/// The driver keys set for one database, and the directory relative paths start from.
///
/// ```
/// use dbm_core::{DriverSettings, SettingValue};
/// let s = DriverSettings::new(".").with("sslmode", SettingValue::Text("require".into()));
/// assert_eq!(s.text("sslmode"), Some("require"));
/// assert_eq!(s.text("sslrootcert"), None);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct DriverSettings {
    /// Where relative paths (a SQLite file) start: the configuration file's directory.
    pub base_dir: PathBuf,
    /// The driver's keys that are set, with their checked values.
    pub values: Vec<(&'static str, SettingValue)>,
}

impl DriverSettings {
    /// No keys set; relative paths start at `base_dir`.
    pub fn new(base_dir: impl Into<PathBuf>) -> Self {
        DriverSettings {
            base_dir: base_dir.into(),
            values: Vec::new(),
        }
    }

    /// Sets a key.
    pub fn with(mut self, key: &'static str, value: SettingValue) -> Self {
        self.values.retain(|(k, _)| *k != key);
        self.values.push((key, value));
        self
    }

    /// The value of a key.
    pub fn get(&self, key: &str) -> Option<&SettingValue> {
        self.values.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// A text or choice key's value.
    pub fn text(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some(SettingValue::Text(s)) => Some(s),
            _ => None,
        }
    }

    /// A file key's value.
    pub fn path(&self, key: &str) -> Option<&Path> {
        match self.get(key) {
            Some(SettingValue::Path(p)) => Some(p),
            _ => None,
        }
    }

    /// A boolean key's value.
    pub fn flag(&self, key: &str) -> Option<bool> {
        match self.get(key) {
            Some(SettingValue::Bool(b)) => Some(*b),
            _ => None,
        }
    }
}

/// The settings every driver applies when it opens a database, whatever its URL says:
/// held apart from the typed options so that changing them never re-parses the URL.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct ConnectSettings {
    /// A password given apart from the URL (`password_env`, `password_file`).
    pub password: Option<String>,
    /// How long opening a connection may take.
    pub connect_timeout: Option<Duration>,
    /// Open the database read-only.
    pub read_only: bool,
}

impl ConnectSettings {
    /// Nothing set.
    pub fn new() -> Self {
        Self::default()
    }
}

/// The password is never shown.
impl fmt::Debug for ConnectSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectSettings")
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("connect_timeout", &self.connect_timeout)
            .field("read_only", &self.read_only)
            .finish()
    }
}

/// A driver's typed options, made once from a URL and the driver's keys and kept.
/// `Debug` must not show a password.
pub trait DriverOptions: Send + Sync + fmt::Debug + 'static {
    /// Where connections go (host, port, database, user), for logs and reports.
    fn target(&self) -> ConnectTarget;

    /// For the driver to recover its own type in [`Driver::open`].
    fn as_any(&self) -> &dyn Any;
}

/// One driver, as the facade's registry lists it.
pub trait Driver: Send + Sync + fmt::Debug + 'static {
    /// The driver's (and its Cargo feature's) name: `sqlite`, `postgres`, `mssql`.
    fn name(&self) -> &'static str;

    /// The product.
    fn backend(&self) -> Backend;

    /// The URL forms it accepts, as prefixes (`postgres://`, `Server=`), for recognising
    /// URLs and for messages.
    fn url_forms(&self) -> &'static [&'static str];

    /// Whether `url` is one of this driver's (a case-insensitive prefix match of
    /// [`url_forms`](Driver::url_forms) by default).
    fn accepts(&self, url: &str) -> bool {
        let url = url.trim_start();
        self.url_forms().iter().any(|form| {
            url.len() >= form.len()
                && url.is_char_boundary(form.len())
                && url[..form.len()].eq_ignore_ascii_case(form)
        })
    }

    /// The configuration keys the driver adds (besides the common ones).
    fn keys(&self) -> &'static [DriverKey] {
        &[]
    }

    /// Whether a password may be given apart from the URL (`password_env`,
    /// `password_file`); SQLite has none.
    fn takes_password(&self) -> bool {
        true
    }

    /// Parses and checks `url` with the driver's keys into typed options. Errors never
    /// quote a password.
    fn configure(&self, url: &str, settings: &DriverSettings) -> Result<Arc<dyn DriverOptions>>;

    /// Opens a pooled database from options this driver made (nothing connects until the
    /// first query).
    fn open(
        &self,
        name: &str,
        options: &dyn DriverOptions,
        connect: &ConnectSettings,
        pool: PoolConfig,
        statement_timeout: Option<Duration>,
    ) -> Result<Arc<dyn Database>>;

    /// What the shared conformance suite needs to test this driver.
    fn test_backend(&self) -> &'static dyn TestBackend;
}

/// An error for options handed to a driver that did not make them (a bug in the caller).
pub fn foreign_options(driver: &str) -> crate::Error {
    crate::Error::new(
        crate::ErrorKind::Other,
        format!("the {driver} driver was given options another driver made"),
    )
}

/// The options a driver made, back as its own type (in [`Driver::open`]); an error when
/// another driver made them.
///
/// ```
/// # use std::any::Any;
/// # #[derive(Debug)] struct MyOptions;
/// # impl dbm_core::DriverOptions for MyOptions {
/// #     fn target(&self) -> dbm_core::ConnectTarget { dbm_core::ConnectTarget::new() }
/// #     fn as_any(&self) -> &dyn Any { self }
/// # }
/// let options: &dyn dbm_core::DriverOptions = &MyOptions;
/// assert!(dbm_core::options_of::<MyOptions>(options, "mine").is_ok());
/// ```
pub fn options_of<'o, T: DriverOptions>(
    options: &'o dyn DriverOptions,
    driver: &str,
) -> Result<&'o T> {
    options
        .as_any()
        .downcast_ref::<T>()
        .ok_or_else(|| foreign_options(driver))
}
