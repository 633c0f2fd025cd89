//! sqlx errors into dbm errors, by SQLSTATE.

use dbm_core::{Error, ErrorCode, ErrorKind};

use crate::options::PgOptions;

/// The kind a SQLSTATE stands for.
///
/// ```
/// use dbm_core::ErrorKind;
/// assert_eq!(dbm_postgres::kind_for_sqlstate("23505"), ErrorKind::Constraint);
/// assert_eq!(dbm_postgres::kind_for_sqlstate("28P01"), ErrorKind::Authentication);
/// assert_eq!(dbm_postgres::kind_for_sqlstate("57014"), ErrorKind::Timeout);
/// assert_eq!(dbm_postgres::kind_for_sqlstate("42P01"), ErrorKind::Query);
/// ```
pub fn kind_for_sqlstate(code: &str) -> ErrorKind {
    match code {
        "57014" => ErrorKind::Timeout,
        "40001" | "40P01" | "25P02" => ErrorKind::Transaction,
        "3D000" | "53300" | "57P01" | "57P02" | "57P03" => ErrorKind::Connection,
        c if c.starts_with("28") => ErrorKind::Authentication,
        c if c.starts_with("23") => ErrorKind::Constraint,
        c if c.starts_with("08") => ErrorKind::Connection,
        _ => ErrorKind::Query,
    }
}

/// The hint of deadlocks, serialization failures and lock timeouts.
pub(crate) const RETRY_WHOLE_TRANSACTION: &str = "the transaction lost a race with another one and was rolled back: retry the whole transaction (transaction_with_retry), not the statement";

/// Maps a sqlx error. `target` names the server for connection errors.
pub(crate) fn map_err(e: sqlx::Error, target: &PgOptions) -> Error {
    match &e {
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            let kind = kind_for_sqlstate(&code);
            let mut err = Error::new(kind, db.message().to_owned());
            if !code.is_empty() {
                err = err.with_code(ErrorCode::SqlState(code.clone()));
            }
            err = match kind {
                ErrorKind::Authentication => err
                    .context(format!("login to {target} refused"))
                    .with_hint("check the user name and password (DBM_<NAME>_URL or dbm.toml)"),
                _ if code == "3D000" => {
                    err.with_hint("create the database, or fix its name in the URL")
                }
                _ if matches!(code.as_str(), "40001" | "40P01" | "55P03") => {
                    err.with_hint(RETRY_WHOLE_TRANSACTION)
                }
                _ => err,
            };
            err
        }
        // A TLS handshake that fails (an unknown CA, a wrong host name) arrives as an I/O
        // error carrying the rustls error: it is not a network fault and retrying cannot
        // help.
        sqlx::Error::Io(io) if tls_cause(io).is_some() => tls_error(
            target,
            &tls_cause(io).map_or_else(String::new, ToString::to_string),
        ),
        sqlx::Error::Io(io) => Error::new(
            ErrorKind::Connection,
            format!("cannot reach {}:{}: {io}", target.host(), target.port()),
        )
        .with_code(ErrorCode::ConnectIo)
        .with_hint("check that the server is running and the host and port are right"),
        sqlx::Error::Tls(t) => tls_error(target, &t.to_string()),
        sqlx::Error::Protocol(p) => Error::new(
            ErrorKind::Connection,
            format!(
                "protocol error talking to {}:{}: {p}",
                target.host(),
                target.port()
            ),
        ),
        sqlx::Error::ColumnDecode { index, source } => {
            Error::conversion(format!("cannot decode column {index}: {source}"))
        }
        sqlx::Error::Encode(source) => {
            Error::parameter(format!("cannot encode a parameter: {source}"))
        }
        sqlx::Error::Configuration(_) => Error::config("invalid PostgreSQL connection settings"),
        other => Error::new(ErrorKind::Query, other.to_string()),
    }
}

/// The rustls error inside an I/O error, if the I/O error is a failed TLS handshake.
fn tls_cause(io: &std::io::Error) -> Option<&rustls::Error> {
    io.get_ref()?.downcast_ref::<rustls::Error>()
}

/// A TLS failure: its own message and hint, and no code, so it is not retried.
pub(crate) fn tls_error(target: &PgOptions, cause: &str) -> Error {
    Error::new(
        ErrorKind::Connection,
        format!(
            "TLS with {}:{} failed ({} sslmode={}): {cause}",
            target.host(),
            target.port(),
            match target.ssl_root_cert() {
                Some(p) => format!("sslrootcert={},", p.display()),
                None => "system CA certificates,".to_owned(),
            },
            ssl_mode_name(target.ssl_mode())
        ),
    )
    .with_hint(
        "check sslmode and sslrootcert: the CA file must exist and have signed the server's certificate, and verify-full also checks the host name against it",
    )
}

fn ssl_mode_name(mode: sqlx::postgres::PgSslMode) -> &'static str {
    use sqlx::postgres::PgSslMode as M;
    match mode {
        M::Disable => "disable",
        M::Allow => "allow",
        M::Prefer => "prefer",
        M::Require => "require",
        M::VerifyCa => "verify-ca",
        M::VerifyFull => "verify-full",
    }
}
