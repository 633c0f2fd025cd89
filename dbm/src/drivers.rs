//! The driver registry: one line per driver, under its Cargo feature. Recognising a URL,
//! knowing a driver's configuration keys and opening a database all go through it.

use dbm_core::{Backend, Driver, DriverKey, Error, Result};

use crate::config::{ACCEPTED_URLS, detect_backend};

/// The drivers this build of dbm has.
static DRIVERS: &[&dyn Driver] = &[
    #[cfg(feature = "sqlite")]
    &dbm_sqlite::DRIVER,
    #[cfg(feature = "postgres")]
    &dbm_postgres::DRIVER,
    #[cfg(feature = "mssql")]
    &dbm_mssql::DRIVER,
];

/// The Cargo feature of the dbm crate that brings each backend's driver (for the hint when
/// this build lacks one).
static FEATURES: &[(Backend, &str)] = &[
    (Backend::Sqlite, "sqlite"),     // dbm-sqlite
    (Backend::Postgres, "postgres"), // dbm-postgres
    (Backend::Mssql, "mssql"),       // dbm-mssql
];

/// The drivers this build has, in registry order.
///
#[cfg_attr(feature = "sqlite", doc = "```")]
#[cfg_attr(not(feature = "sqlite"), doc = "```ignore")]
/// let names: Vec<&str> = dbm::drivers().iter().map(|d| d.name()).collect();
/// assert!(names.contains(&"sqlite"));
/// ```
pub fn drivers() -> &'static [&'static dyn Driver] {
    DRIVERS
}

/// The driver whose URLs `url` is, or an error that says why there is none (a scheme dbm
/// does not know, or one whose driver this build lacks) without quoting the URL.
///
#[cfg_attr(feature = "sqlite", doc = "```")]
#[cfg_attr(not(feature = "sqlite"), doc = "```ignore")]
/// assert_eq!(dbm::driver_for("sqlite::memory:").unwrap().name(), "sqlite");
/// let e = dbm::driver_for("mysql://root:pw@h/db").unwrap_err().to_string();
/// assert!(e.contains("unknown database URL scheme `mysql`") && !e.contains("pw"));
/// ```
pub fn driver_for(url: &str) -> Result<&'static dyn Driver> {
    if let Some(d) = DRIVERS.iter().find(|d| d.accepts(url)) {
        return Ok(*d);
    }
    // Not one of ours: say whether dbm knows the kind of URL at all.
    let backend = detect_backend(url)?;
    let compiled: Vec<&str> = DRIVERS.iter().map(|d| d.name()).collect();
    Err(Error::config(format!(
        "this build of dbm has no {} driver (it has: {})",
        backend.product(),
        if compiled.is_empty() {
            "none".to_owned()
        } else {
            compiled.join(", ")
        }
    ))
    .with_hint(match FEATURES.iter().find(|(b, _)| *b == backend) {
        Some((_, f)) => format!("enable the `{f}` feature of the dbm crate"),
        None => format!(
            "dbm has no {} driver yet; accepted URLs: {ACCEPTED_URLS}",
            backend.product()
        ),
    }))
}

/// Every registered driver's own configuration keys, with the driver that owns each.
pub(crate) fn driver_keys() -> impl Iterator<Item = (&'static dyn Driver, &'static DriverKey)> {
    DRIVERS
        .iter()
        .flat_map(|d| d.keys().iter().map(move |k| (*d, k)))
}
