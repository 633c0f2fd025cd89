//! The proc macro behind `dbm_migrate::embed_migrations!`. Use that macro, not this crate.
//!
//! `embed_files!("migrations/app")` reads the directory (relative to the compiled crate's
//! `Cargo.toml`) and expands to a `&'static [(&str, &[u8])]` of
//! `("V1__x.sql", include_bytes!("/abs/.../V1__x.sql"))` pairs
//! with every file that is, or looks like, a migration, named by its path below the
//! directory. Hidden directories are not entered. What the files mean is decided at run time
//! by `dbm_migrate`, with the same rules and the same checksums as files read from disk.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::path::{Path, PathBuf};

use proc_macro::{TokenStream, TokenTree};

/// Expands to the embedded files of a migrations directory (see the crate docs).
#[proc_macro]
pub fn embed_files(input: TokenStream) -> TokenStream {
    match expand(input) {
        Ok(code) => code,
        Err(msg) => format!("compile_error!({msg:?})")
            .parse()
            .unwrap_or_default(),
    }
}

fn expand(input: TokenStream) -> Result<TokenStream, String> {
    let mut tokens: Vec<TokenTree> = input.into_iter().collect();
    // Through `macro_rules!`, a `$dir:literal` arrives in an invisible group.
    while let [TokenTree::Group(g)] = tokens.as_slice()
        && g.delimiter() == proc_macro::Delimiter::None
    {
        tokens = g.stream().into_iter().collect();
    }
    let [TokenTree::Literal(lit)] = tokens.as_slice() else {
        return Err("embed_migrations! takes one string literal: the migrations directory, e.g. \"migrations/app\"".to_owned());
    };
    let text = lit.to_string();
    let rel = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .filter(|t| !t.contains('\\'))
        .ok_or_else(|| format!("embed_migrations! takes a plain string literal, got {text}"))?;
    let base = std::env::var("CARGO_MANIFEST_DIR").map_err(|_| {
        "embed_migrations!: CARGO_MANIFEST_DIR is not set (build with cargo)".to_owned()
    })?;
    let dir = Path::new(&base).join(rel);
    if !dir.is_dir() {
        return Err(format!(
            "embed_migrations!: {} is not a directory (the path is relative to {base})",
            dir.display()
        ));
    }
    let mut files = Vec::new();
    walk(&dir, "", &mut Vec::new(), &mut files)?;
    let mut code = String::from("{ static FILES: &[(&str, &[u8])] = &[");
    for (shown, path) in files {
        let abs = path
            .to_str()
            .ok_or_else(|| format!("embed_migrations!: {} is not valid UTF-8", path.display()))?;
        code.push_str(&format!("({shown:?}, include_bytes!({abs:?})),"));
    }
    code.push_str("]; FILES }");
    code.parse().map_err(|e| format!("embed_migrations!: {e}"))
}

/// Whether a file name is, or looks like, a migration: `.sql` in any case, or `V1__...` /
/// `U1__...` with another extension (which `dbm_migrate` then refuses by name).
fn wanted(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let mut chars = name.trim_start_matches('.').chars();
    lower.ends_with(".sql")
        || (matches!(chars.next(), Some('V' | 'U'))
            && chars.next().is_some_and(|c| c.is_ascii_digit())
            && name.contains("__"))
}

/// Files below `dir` in the order `dbm_migrate` lists a directory: names sorted within each
/// directory, depth first, hidden directories skipped, a directory reached twice through
/// links read once.
fn walk(
    dir: &Path,
    prefix: &str,
    seen: &mut Vec<PathBuf>,
    out: &mut Vec<(String, PathBuf)>,
) -> Result<(), String> {
    let canonical =
        std::fs::canonicalize(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    if seen.contains(&canonical) {
        return Ok(());
    }
    seen.push(canonical);
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        let name = entry
            .file_name()
            .into_string()
            .map_err(|n| format!("{} holds a name that is not UTF-8: {n:?}", dir.display()))?;
        names.push((name, entry.path()));
    }
    names.sort();
    for (name, path) in names {
        let shown = format!("{prefix}{name}");
        if path.is_dir() {
            if !name.starts_with('.') {
                walk(&path, &format!("{shown}/"), seen, out)?;
            }
        } else if wanted(&name) {
            out.push((shown, path));
        }
    }
    Ok(())
}
