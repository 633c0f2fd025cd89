//! Database URLs: backend detection, redaction, the per-database override variable.

pub use dbm_core::redact_url;
use dbm_core::{Backend, Error, Result};

/// The schemes dbm accepts, for error messages.
pub const ACCEPTED_URLS: &str = "postgres://, postgresql://, mssql://, sqlserver://, jdbc:sqlserver://, ADO.NET `Server=...;` strings, sqlite:";

/// The backend a URL names.
///
/// ```
/// use dbm_core::Backend;
/// assert_eq!(dbm::detect_backend("postgresql://u@h/db").unwrap(), Backend::Postgres);
/// assert_eq!(dbm::detect_backend("Server=tcp:h,1433;Database=d").unwrap(), Backend::Mssql);
/// assert_eq!(dbm::detect_backend("sqlite://target/app.db").unwrap(), Backend::Sqlite);
/// assert!(dbm::detect_backend("mysql://h/db").is_err());
/// let e = dbm::detect_backend("./a.db").unwrap_err();
/// assert!(e.to_string().contains("for a SQLite file write `sqlite://./a.db`"));
/// ```
pub fn detect_backend(url: &str) -> Result<Backend> {
    let lower = url.trim().to_ascii_lowercase();
    let backend = if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
        Backend::Postgres
    } else if lower.starts_with("mssql://")
        || lower.starts_with("sqlserver://")
        || lower.starts_with("jdbc:sqlserver://")
        || lower.starts_with("server=")
        || lower.starts_with("data source=")
    {
        Backend::Mssql
    } else if lower.starts_with("sqlite:") {
        Backend::Sqlite
    } else {
        // Name the scheme only when it is one (`name://`): text before a lone `:` may be
        // a user name or part of a password.
        let scheme = url.trim().split_once("://").map(|(s, _)| s).filter(|s| {
            !s.is_empty()
                && s.len() <= 20
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.:".contains(c))
        });
        let msg = match scheme {
            Some(s) => format!("unknown database URL scheme `{s}`"),
            None => "the database URL does not start with a known scheme".to_owned(),
        };
        // Plainly a file path (it starts like one or has a SQLite file's extension, and has
        // nothing in it that could be a credential) is most likely a SQLite file: show the
        // URL for it. Anything else is not echoed: it may be a password pasted by mistake.
        let t = url.trim();
        let lower_t = t.to_ascii_lowercase();
        let path_like = scheme.is_none()
            && !t.contains([':', '@', ';', '=', '?', '#'])
            && !t.chars().any(char::is_whitespace)
            && (["/", "./", "../"].iter().any(|p| t.starts_with(p))
                || [".db", ".sqlite", ".sqlite3", ".db3"]
                    .iter()
                    .any(|e| lower_t.ends_with(e) && lower_t.len() > e.len()));
        let hint = if path_like {
            let shown = if t.starts_with('/') || t.starts_with("./") || t.starts_with("../") {
                t.to_owned()
            } else {
                format!("./{t}")
            };
            format!("for a SQLite file write `sqlite://{shown}`; accepted: {ACCEPTED_URLS}")
        } else {
            format!("accepted: {ACCEPTED_URLS}")
        };
        return Err(Error::config(msg).with_hint(hint));
    };
    Ok(backend)
}

/// The environment variable that overrides a database's URL: `DBM_<NAME>_URL`.
///
/// ```
/// assert_eq!(dbm::url_env_var("rpa-db"), "DBM_RPA_DB_URL");
/// ```
pub fn url_env_var(name: &str) -> String {
    let upper: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("DBM_{upper}_URL")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_url_form_is_detected() {
        for (url, backend) in [
            ("postgres://u@h/db", Backend::Postgres),
            ("postgresql://u@h/db", Backend::Postgres),
            ("POSTGRES://u@h/db", Backend::Postgres),
            ("mssql://sa@h:1433/db", Backend::Mssql),
            ("sqlserver://h;databaseName=db", Backend::Mssql),
            ("jdbc:sqlserver://h:1433;databaseName=db", Backend::Mssql),
            (
                "Server=tcp:h,1433;Database=d;User Id=sa;Password=x;",
                Backend::Mssql,
            ),
            ("Data Source=h;Initial Catalog=d", Backend::Mssql),
            ("sqlite://target/a.db", Backend::Sqlite),
            ("sqlite::memory:", Backend::Sqlite),
        ] {
            assert_eq!(detect_backend(url).unwrap(), backend, "{url}");
        }
        let e = detect_backend("mysql://u:pw@h/db").unwrap_err().to_string();
        assert!(
            e.contains("unknown database URL scheme `mysql`") && e.contains("jdbc:sqlserver://"),
            "{e}"
        );
        assert!(!e.contains("pw"), "{e}");
        assert!(detect_backend("just-a-path.db").is_err());
    }

    #[test]
    fn unknown_schemes_are_named_only_when_they_are_schemes() {
        let e = detect_backend("Zq9secret:more@h").unwrap_err().to_string();
        assert!(e.contains("does not start with a known scheme"), "{e}");
        assert!(!e.contains("Zq9"), "{e}");
    }
}
