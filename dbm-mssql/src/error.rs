//! tiberius errors into dbm errors, by SQL Server error number and I/O error kind.

use std::io::ErrorKind as Io;

use dbm_core::{Error, ErrorCode, ErrorKind};

use crate::options::MssqlOptions;

/// The kind a SQL Server error number stands for.
///
/// ```
/// use dbm_core::ErrorKind;
/// assert_eq!(dbm_mssql::kind_for_number(18456), ErrorKind::Authentication);
/// assert_eq!(dbm_mssql::kind_for_number(2627), ErrorKind::Constraint);
/// assert_eq!(dbm_mssql::kind_for_number(1205), ErrorKind::Transaction);
/// assert_eq!(dbm_mssql::kind_for_number(208), ErrorKind::Query);
/// ```
pub fn kind_for_number(number: u32) -> ErrorKind {
    match number {
        18456 | 18452 | 18470 | 18486 | 18487 | 18488 => ErrorKind::Authentication,
        4060 | 4064 | 40613 | 233 | 10053 | 10054 | 10060 => ErrorKind::Connection,
        2627 | 2601 | 547 | 515 | 2628 | 8152 => ErrorKind::Constraint,
        1205 | 3960 | 1222 | 266 | 3902 | 3903 | 3930 | 3998 => ErrorKind::Transaction,
        _ => ErrorKind::Query,
    }
}

/// The hint of deadlocks, snapshot conflicts and lock timeouts.
pub(crate) const RETRY_WHOLE_TRANSACTION: &str = "the transaction lost a race with another one and was rolled back: retry the whole transaction (transaction_with_retry), not the statement";

fn io_is_transient(kind: Io) -> bool {
    matches!(
        kind,
        Io::ConnectionRefused
            | Io::ConnectionReset
            | Io::ConnectionAborted
            | Io::NotConnected
            | Io::BrokenPipe
            | Io::UnexpectedEof
            | Io::HostUnreachable
            | Io::NetworkUnreachable
            | Io::NetworkDown
            | Io::AddrNotAvailable
    )
}

/// An I/O failure talking to the server. Connection-level faults (refused, reset, closed)
/// are transient; a timeout is not (the statement may have completed).
pub(crate) fn io_error(kind: Io, message: &str, target: &MssqlOptions) -> Error {
    let err = Error::new(
        ErrorKind::Connection,
        format!(
            "cannot talk to {}:{}: {message}",
            target.host(),
            target.port()
        ),
    );
    if io_is_transient(kind) {
        err.with_code(ErrorCode::ConnectIo)
            .with_hint("check that the server is running and the host and port are right")
    } else {
        err
    }
}

/// Maps a tiberius error. `target` names the server.
pub(crate) fn map_err(e: tiberius::error::Error, target: &MssqlOptions) -> Error {
    use tiberius::error::Error as T;
    match e {
        T::Server(token) => {
            let number = token.code();
            let kind = kind_for_number(number);
            let mut err = Error::new(kind, token.message().to_owned())
                .with_code(ErrorCode::MssqlNumber(number as i32))
                .with_line(token.line());
            err = match number {
                18456 => err
                    .context(format!("login to {target} refused"))
                    .with_hint("check the user name and password (DBM_<NAME>_URL or dbm.toml); the server's log says which was wrong"),
                4060 => err
                    .context(format!("cannot open the database of {target}"))
                    .with_hint("create the database, fix its name, or grant the login access to it"),
                1205 | 3960 | 1222 => err.with_hint(RETRY_WHOLE_TRANSACTION),
                226 | 574 => err.with_hint(
                    "this statement cannot run inside a transaction: put it in a migration file of its own marked with the line `-- dbm:no-transaction`",
                ),
                257 | 206 if token.message().contains("nvarchar") => err.with_hint(
                    "a NULL parameter is sent as nvarchar, which binary columns do not take: write CAST(:x AS VARBINARY(MAX))",
                ),
                _ => err,
            };
            if token.class() >= 20 {
                // Severity 20 and above ends the session.
                err = err.with_kind(ErrorKind::Connection);
            }
            err
        }
        T::Io { kind, message } => io_error(kind, &message, target),
        T::Tls(message) => Error::new(
            ErrorKind::Connection,
            format!(
                "TLS with {}:{} failed (encrypt={}, {}): {message}",
                target.host(),
                target.port(),
                target.encrypt().as_str(),
                match (target.trusts_server_certificate(), target.ca_certificate()) {
                    (true, _) => "any certificate trusted".to_owned(),
                    (false, Some(ca)) => format!("CA {}", ca.display()),
                    (false, None) => "system CA certificates".to_owned(),
                }
            ),
        )
        .with_hint("check encrypt and trust_server_certificate(_ca): the CA must have signed the server's certificate for this host name"),
        T::Routing { host, port } => Error::new(
            ErrorKind::Connection,
            format!("the server sent the connection on to {host}:{port}"),
        ),
        T::Protocol(p) => {
            let err = Error::new(
                ErrorKind::Connection,
                format!(
                    "protocol error talking to {}:{}: {p}",
                    target.host(),
                    target.port()
                ),
            );
            if p.contains("encryption level") {
                err.with_hint(format!(
                    "the server and encrypt={} disagree on TLS: a server without TLS needs encrypt=DANGER_PLAINTEXT (the password then crosses the network readable); one that requires it needs encrypt=true",
                    target.encrypt().as_str()
                ))
            } else {
                err
            }
        }
        T::Conversion(c) | T::Encoding(c) => Error::conversion(c.into_owned()),
        T::Utf8 | T::Utf16 => Error::conversion("the server sent text that is not valid Unicode"),
        other => Error::new(ErrorKind::Query, other.to_string()),
    }
}
