//! `new`: creating the next migration file.

use std::fs;
use std::path::{Path, PathBuf};

use dbm_core::{Error, ErrorKind, Result};

use crate::source::load_dir;

/// Turns a description into a file-name part: lower case, words joined by `_`.
///
/// ```
/// assert_eq!(dbm_migrate::slug("Add users + index!"), "add_users_index");
/// ```
pub fn slug(description: &str) -> String {
    let mut out = String::new();
    for word in description
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push('_');
        }
        out.push_str(&word.to_lowercase());
    }
    out
}

/// Creates `V{next}__{slug}.sql` in `dir` (and its `U` file when `undo` is true), where
/// `next` is one more than the highest major version there. Returns the created paths.
pub fn new_migration(dir: &Path, description: &str, undo: bool) -> Result<Vec<PathBuf>> {
    let name = slug(description);
    if name.is_empty() {
        return Err(Error::new(
            ErrorKind::Migration,
            "the description has no letters or digits",
        )
        .with_hint("e.g. `cargo xtask new \"add users table\"`"));
    }
    let io = |e: std::io::Error, p: &Path| {
        Error::new(
            ErrorKind::Migration,
            format!("cannot write {}: {e}", p.display()),
        )
    };
    fs::create_dir_all(dir).map_err(|e| io(e, dir))?;
    let set = load_dir(dir)?;
    let next = set
        .forward
        .iter()
        .map(|m| m.version.major())
        .max()
        .unwrap_or(0)
        + 1;
    let mut created = Vec::new();
    let forward = dir.join(format!("V{next}__{name}.sql"));
    let header = format!(
        "-- {description}\n-- Runs in one transaction with its history row. Add the line\n-- `-- dbm:no-transaction` for statements that cannot (CREATE INDEX CONCURRENTLY).\n\n"
    );
    write_new(&forward, &header).map_err(|e| io(e, &forward))?;
    created.push(forward);
    if undo {
        let path = dir.join(format!("U{next}__{name}.sql"));
        let text = format!("-- Undo of V{next}: {description}\n\n");
        write_new(&path, &text).map_err(|e| io(e, &path))?;
        created.push(path);
    }
    Ok(created)
}

fn write_new(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    f.write_all(text.as_bytes())
}
