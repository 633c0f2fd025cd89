//! Reading migration files: names, checksums, directives.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
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
#[non_exhaustive]
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
#[non_exhaustive]
pub struct MigrationSet {
    /// Forward migrations, in version order.
    pub forward: Vec<Migration>,
    /// Undo migrations, by version.
    pub undo: BTreeMap<Version, Migration>,
}

impl MigrationSet {
    /// The forward migration of `version` (a binary search: `forward` is in version order).
    pub fn get(&self, version: &Version) -> Option<&Migration> {
        self.forward
            .binary_search_by(|m| m.version.cmp(version))
            .ok()
            .map(|i| &self.forward[i])
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

/// Whether a file name ends in `.sql`, in any case (`V1__x.SQL` is a migration too).
fn is_sql(name: &str) -> bool {
    name.len() > 4
        && name.is_char_boundary(name.len() - 4)
        && name[name.len() - 4..].eq_ignore_ascii_case(".sql")
}

/// Whether a name looks like a migration (`V1__...`, `U2.1__...`) whatever its extension.
fn looks_like_migration(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('V' | 'U'))
        && chars.next().is_some_and(|c| c.is_ascii_digit())
        && name.contains("__")
}

/// Parses `V1.2__add_users.sql` into kind, version and description. `Ok(None)` for files
/// that are not SQL and do not look like migrations; an error for SQL files that do not
/// parse and for migration-like names with another extension (`V3__x.sql.bak`), so that
/// no migration is skipped without a word.
/// `shown` is how errors name the file (its path below the migrations directory).
pub(crate) fn parse_name(
    name: &str,
    shown: &str,
) -> Result<Option<(MigrationKind, Version, String)>> {
    let malformed = |why: &str| {
        Error::new(
            ErrorKind::Migration,
            format!("migration file `{shown}` is malformed: {why}"),
        )
        .with_hint("name files V<version>__<description>.sql or U<version>__<description>.sql, e.g. V2__add_users.sql")
    };
    if !is_sql(name) {
        if looks_like_migration(name) {
            return Err(malformed(
                "it looks like a migration but does not end in .sql, so it would never run; rename it or move it out of the directory",
            ));
        }
        return Ok(None);
    }
    let stem = &name[..name.len() - 4];
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

fn io_error(what: &str, path: &Path, e: &std::io::Error) -> Error {
    Error::new(
        ErrorKind::Migration,
        format!("cannot {what} {}: {e}", path.display()),
    )
}

/// Lists the files below `dir`, as (`relative/name`, path), in name order. Hidden
/// directories (`.git`) are not entered. Directories reached twice through links are read
/// once.
fn collect(
    dir: &Path,
    prefix: &str,
    seen: &mut HashSet<PathBuf>,
    out: &mut Vec<(String, PathBuf)>,
) -> Result<()> {
    let canonical = fs::canonicalize(dir).map_err(|e| io_error("read", dir, &e))?;
    if !seen.insert(canonical) {
        return Ok(());
    }
    let entries = fs::read_dir(dir).map_err(|e| io_error("list", dir, &e))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_error("list", dir, &e))?;
        let name = entry.file_name().into_string().map_err(|raw| {
            Error::new(
                ErrorKind::Migration,
                format!(
                    "{} holds a file whose name is not valid UTF-8 ({})",
                    dir.display(),
                    raw.to_string_lossy()
                ),
            )
            .with_hint("rename it, or move it out of the migrations directory")
        })?;
        names.push((name, entry.path()));
    }
    names.sort();
    for (name, path) in names {
        let shown = format!("{prefix}{name}");
        // `metadata` follows links: a linked file or directory counts as what it points to.
        let meta = fs::metadata(&path).map_err(|e| io_error("read", &path, &e))?;
        if meta.is_dir() {
            if !name.starts_with('.') {
                collect(&path, &format!("{shown}/"), seen, out)?;
            }
        } else {
            // Hidden files too: `assemble` refuses a hidden `.sql` file by name.
            out.push((shown, path));
        }
    }
    Ok(())
}

/// Reads every migration in `dir` and its subdirectories (as Flyway does).
///
/// Every `.sql` file (any case of the extension) must be a well-formed `V` or `U` file,
/// and a migration-like name with another extension is an error; two files of the same
/// kind and version (`V1` and `sub/V1.0`) are an error naming both, and so is an undo file
/// without its forward file. Other files (a README) are ignored, and so are hidden
/// directories. A file in a subdirectory is recorded as `sub/V2__x.sql`.
pub fn load_dir(dir: &Path) -> Result<MigrationSet> {
    if !dir.is_dir() {
        return Err(Error::new(
            ErrorKind::Migration,
            format!(
                "cannot read the migrations directory {}: it does not exist or is not a directory",
                dir.display()
            ),
        )
        .with_hint("create it, or point --dir / `migrations` in dbm.toml at the right place"));
    }
    let mut files = Vec::new();
    collect(dir, "", &mut HashSet::new(), &mut files)?;
    assemble(files.into_iter().map(|(shown, path)| {
        let read = move || {
            fs::read(&path)
                .map(Cow::Owned)
                .map_err(|e| io_error("read", &path, &e))
        };
        (shown, read)
    }))
}

/// Builds a set from files named by their path below the migrations directory (`V1__a.sql`,
/// `2026/V2__b.sql`), in listing order; `read` gives a file's bytes when it is a migration.
/// The one place that decides what a file means, for files on disk and embedded ones alike.
pub(crate) fn assemble<F>(files: impl IntoIterator<Item = (String, F)>) -> Result<MigrationSet>
where
    F: FnOnce() -> Result<Cow<'static, [u8]>>,
{
    let mut forward: BTreeMap<Version, Migration> = BTreeMap::new();
    let mut undo: BTreeMap<Version, Migration> = BTreeMap::new();
    for (shown, read) in files {
        let file_name = shown.rsplit('/').next().unwrap_or(&shown);
        if file_name.starts_with('.') {
            if is_sql(file_name) {
                return Err(Error::new(
                    ErrorKind::Migration,
                    format!("migration file `{shown}` is hidden (its name starts with `.`)"),
                )
                .with_hint(
                    "rename it without the leading `.`, or move it out of the migrations directory",
                ));
            }
            continue;
        }
        let Some((kind, version, description)) = parse_name(file_name, &shown)? else {
            continue;
        };
        let raw = read()?.into_owned();
        let text = String::from_utf8(raw).map_err(|e| {
            let at = e.utf8_error().valid_up_to();
            Error::new(
                ErrorKind::Migration,
                format!("migration file `{shown}` is not valid UTF-8 (at byte {at})"),
            )
            .with_hint("save the file as UTF-8")
        })?;
        let sql = normalize(&text);
        let m = Migration {
            checksum: i64::from(crc32fast::hash(sql.as_bytes())),
            transactional: !has_no_transaction_directive(&sql),
            version: version.clone(),
            description,
            script: shown.clone(),
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
                    "`{}` and `{shown}` both have version {version}",
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
        let (k, v, d) = parse_name("V1.2__add_user_table.sql", "V1.2__add_user_table.sql")
            .unwrap()
            .unwrap();
        assert_eq!(
            (k, v.to_string(), d.as_str()),
            (MigrationKind::Forward, "1.2".into(), "add user table")
        );
        let (k, v, _) = parse_name("U3__drop.sql", "U3__drop.sql").unwrap().unwrap();
        assert_eq!((k, v.to_string()), (MigrationKind::Undo, "3".into()));
        assert!(parse_name("README.md", "README.md").unwrap().is_none());
        let (k, v, _) = parse_name("V4__upper.SQL", "V4__upper.SQL")
            .unwrap()
            .unwrap();
        assert_eq!((k, v.to_string()), (MigrationKind::Forward, "4".into()));
        assert!(
            parse_name("U4__mixed.Sql", "U4__mixed.Sql")
                .unwrap()
                .is_some()
        );
        for (bad, why) in [
            ("V1_add.sql", "`__` must separate"),
            ("Vx__add.sql", "not a version"),
            ("V1__.sql", "description is empty"),
            ("seed.sql", "must start with V or U"),
            ("v1__lower.sql", "must start with V or U"),
            ("R__views.sql", "repeatable"),
            ("V3__backup.sql.bak", "does not end in .sql"),
            ("V3__typo.sq", "does not end in .sql"),
        ] {
            let e = parse_name(bad, bad).unwrap_err().to_string();
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
