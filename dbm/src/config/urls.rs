//! Database URLs: backend detection, redaction, the per-database override variable.

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
        let scheme = lower
            .split_once(':')
            .map_or("(none)", |(s, _)| s)
            .to_owned();
        return Err(
            Error::config(format!("unknown database URL scheme `{scheme}`"))
                .with_hint(format!("accepted: {ACCEPTED_URLS}")),
        );
    };
    Ok(backend)
}

/// Replaces the password of a URL (`scheme://user:pass@host`) or connection string
/// (`Password=...;`) with `***`.
///
/// ```
/// assert_eq!(dbm::redact_url("postgres://bob:s3cr%40t@db:5432/x"), "postgres://bob:***@db:5432/x");
/// assert_eq!(dbm::redact_url("Server=h;User Id=sa;Password=hunter2;"), "Server=h;User Id=sa;Password=***;");
/// ```
pub fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rfind('@') {
            // The last `@` ends the user info even when an unencoded password holds `@`,
            // `/` or `?`: mask everything after the user name.
            Some(at) => {
                let (userinfo, host) = (&rest[..at], &rest[at + 1..]);
                let user = userinfo.split(':').next().unwrap_or("");
                let masked = if userinfo.contains(':') {
                    format!("{user}:***")
                } else {
                    user.to_owned()
                };
                format!("{scheme}://{masked}@{}", redact_params(host))
            }
            None => format!("{scheme}://{}", redact_params(rest)),
        },
        None => redact_params(url),
    }
}

/// Masks `password=...`-style parameters in `;`, `&` or `?` separated text.
fn redact_params(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let end = rest.find([';', '&', '?']).unwrap_or(rest.len());
        let part = &rest[..end];
        match part.split_once('=') {
            Some((k, _)) if is_secret_key(k) => {
                out.push_str(k);
                out.push_str("=***");
            }
            _ => out.push_str(part),
        }
        if end == rest.len() {
            return out;
        }
        out.push_str(&rest[end..end + 1]);
        rest = &rest[end + 1..];
    }
}

fn is_secret_key(k: &str) -> bool {
    matches!(
        k.trim().to_ascii_lowercase().as_str(),
        "password" | "pwd" | "pass" | "sslpassword" | "token" | "access_token"
    )
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
    fn redaction() {
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            redact_url("postgres://u:p@ss@h/db?password=x&sslmode=require"),
            "postgres://u:***@h/db?password=***&sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://u:p%40ss%3Aw%2F%25%20x@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(redact_url("sqlite://target/a.db"), "sqlite://target/a.db");
        assert_eq!(redact_url("Server=h;PWD=x"), "Server=h;PWD=***");
        assert_eq!(
            redact_url("jdbc:sqlserver://h:1433;user=sa;password=x"),
            "jdbc:sqlserver://h:1433;user=sa;password=***"
        );
    }
}
