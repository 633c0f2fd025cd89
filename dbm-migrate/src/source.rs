//! Reading migration files: names, checksums, directives.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use dbm_core::{Error, ErrorKind, Result};

use crate::version::Version;

/// Whether a file applies a version or undoes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationKind {
    /// `V{version}__{description}.sql`.
    Forward,
    /// `U{version}__{description}.sql`.
    Undo,
}

/// One migration file.
#[derive(Debug, Clone)]
pub struct Migration {
    /// Its version.
    pub version: Version,
    /// The description from the file name, `_` read as spaces.
    pub description: String,
    /// The file name, e.g. `V2__add_users.sql`.
    pub script: String,
    /// The file's text, BOM removed and line endings normalised to `\n`.
    pub sql: String,
    /// CRC-32 of `sql` (so a CRLF checkout has the same checksum).
    pub checksum: i64,
    /// False when the file contains the line `-- dbm:no-transaction`.
    pub transactional: bool,
    /// Forward or undo.
    pub kind: MigrationKind,
}

/// The migrations of one directory: forward files by version, and their undo files.
#[derive(Debug, Clone, Default)]
pub struct MigrationSet {
    /// Forward migrations, in version order.
    pub forward: Vec<Migration>,
    /// Undo migrations, by version.
    pub undo: BTreeMap<Version, Migration>,
}

impl MigrationSet {
    /// The forward migration of `version`.
    pub fn get(&self, version: &Version) -> Option<&Migration> {
        self.forward.iter().find(|m| &m.version == version)
    }
}

/// Normalises a file's text: strips a UTF-8 BOM, turns CRLF and lone CR into LF.
///
/// ```
/// assert_eq!(dbm_migrate::normalize("\u{feff}a\r\nb\rc"), "a\nb\nc");
/// ```
pub fn normalize(text: &str) -> String {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// The checksum dbm records: CRC-32 of the normalised text, as a non-negative integer.
///
/// ```
/// assert_eq!(dbm_migrate::checksum("a\r\nb"), dbm_migrate::checksum("a\nb"));
/// ```
pub fn checksum(text: &str) -> i64 {
    i64::from(crc32fast::hash(normalize(text).as_bytes()))
}

fn has_no_transaction_directive(sql: &str) -> bool {
    sql.lines()
        .any(|l| l.trim().eq_ignore_ascii_case("-- dbm:no-transaction"))
}

/// Parses `V1.2__add_users.sql` into kind, version and description. `Ok(None)` for files
/// that are not SQL; an error for SQL files that look like migrations but do not parse.
pub(crate) fn parse_name(name: &str) -> Result<Option<(MigrationKind, Version, String)>> {
    let Some(stem) = name.strip_suffix(".sql") else {
        return Ok(None);
    };
    let malformed = |why: &str| {
        Error::new(
            ErrorKind::Migration,
            format!("migration file `{name}` is malformed: {why}"),
        )
        .with_hint("name files V<version>__<description>.sql or U<version>__<description>.sql, e.g. V2__add_users.sql")
    };
    let kind = match stem.chars().next() {
        Some('V') => MigrationKind::Forward,
        Some('U') => MigrationKind::Undo,
        Some('R') => {
            return Err(malformed("repeatable (R__) migrations are not supported"));
        }
        _ => return Err(malformed("it must start with V or U")),
    };
    let (version, description) = stem[1..]
        .split_once("__")
        .ok_or_else(|| malformed("`__` must separate the version from the description"))?;
    let version: Version = version
        .parse()
        .map_err(|_| malformed(&format!("`{version}` is not a version")))?;
    let description = description.replace('_', " ").trim().to_owned();
    if description.is_empty() {
        return Err(malformed("the description is empty"));
    }
    Ok(Some((kind, version, description)))
}

/// Reads every migration in `dir` (not its subdirectories).
///
/// Every `.sql` file must be a well-formed `V` or `U` file; two files of the same kind and
/// version (`V1` and `V1.0`) are an error naming both, and so is an undo file without its
/// forward file. Other files (a README) are ignored.
pub fn load_dir(dir: &Path) -> Result<MigrationSet> {
    let entries = fs::read_dir(dir).map_err(|e| {
        Error::new(
            ErrorKind::Migration,
            format!(
                "cannot read the migrations directory {}: {e}",
                dir.display()
            ),
        )
        .with_hint("create it, or point --dir / `migrations` in dbm.toml at the right place")
    })?;
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| {
            Error::new(
                ErrorKind::Migration,
                format!("cannot list {}: {e}", dir.display()),
            )
        })?;
        let path = entry.path();
        if !path.is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        files.push((name, path));
    }
    files.sort();

    let mut forward: BTreeMap<Version, Migration> = BTreeMap::new();
    let mut undo: BTreeMap<Version, Migration> = BTreeMap::new();
    for (name, path) in files {
        let Some((kind, version, description)) = parse_name(&name)? else {
            continue;
        };
        let raw = fs::read(&path).map_err(|e| {
            Error::new(
                ErrorKind::Migration,
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        let text = String::from_utf8(raw).map_err(|_| {
            Error::new(
                ErrorKind::Migration,
                format!("migration file `{name}` is not valid UTF-8"),
            )
        })?;
        let sql = normalize(&text);
        let m = Migration {
            checksum: i64::from(crc32fast::hash(sql.as_bytes())),
            transactional: !has_no_transaction_directive(&sql),
            version: version.clone(),
            description,
            script: name.clone(),
            sql,
            kind,
        };
        let map = match kind {
            MigrationKind::Forward => &mut forward,
            MigrationKind::Undo => &mut undo,
        };
        if let Some(other) = map.get(&version) {
            return Err(Error::new(
                ErrorKind::Migration,
                format!(
                    "`{}` and `{name}` both have version {version}",
                    other.script
                ),
            )
            .with_hint("give each migration its own version (1.0 and 1 are the same version)"));
        }
        map.insert(version, m);
    }
    if let Some((v, u)) = undo.iter().find(|(v, _)| !forward.contains_key(v)) {
        return Err(Error::new(
            ErrorKind::Migration,
            format!("undo file `{}` has no forward migration V{v}", u.script),
        ));
    }
    Ok(MigrationSet {
        forward: forward.into_values().collect(),
        undo,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let (k, v, d) = parse_name("V1.2__add_user_table.sql").unwrap().unwrap();
        assert_eq!(
            (k, v.to_string(), d.as_str()),
            (MigrationKind::Forward, "1.2".into(), "add user table")
        );
        let (k, v, _) = parse_name("U3__drop.sql").unwrap().unwrap();
        assert_eq!((k, v.to_string()), (MigrationKind::Undo, "3".into()));
        assert!(parse_name("README.md").unwrap().is_none());
        for (bad, why) in [
            ("V1_add.sql", "`__` must separate"),
            ("Vx__add.sql", "not a version"),
            ("V1__.sql", "description is empty"),
            ("seed.sql", "must start with V or U"),
            ("v1__lower.sql", "must start with V or U"),
            ("R__views.sql", "repeatable"),
        ] {
            let e = parse_name(bad).unwrap_err().to_string();
            assert!(e.contains(bad) && e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn directive() {
        assert!(has_no_transaction_directive(
            "-- dbm:no-transaction\nVACUUM;"
        ));
        assert!(has_no_transaction_directive("  -- DBM:NO-TRANSACTION  \n"));
        assert!(!has_no_transaction_directive(
            "SELECT '-- dbm:no-transaction';"
        ));
    }
}
