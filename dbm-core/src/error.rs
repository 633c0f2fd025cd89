//! The one error type of dbm.

use std::error::Error as StdError;
use std::fmt;

/// What went wrong, in the terms a caller acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The configuration is missing, malformed or contradicts itself.
    Configuration,
    /// The database could not be reached, or the connection broke.
    Connection,
    /// The server refused the credentials.
    Authentication,
    /// The statement failed (syntax, missing table, type error, ...).
    Query,
    /// A constraint (unique, foreign key, not null, check) was violated.
    Constraint,
    /// The operation ran past its time limit and was cancelled.
    Timeout,
    /// No connection could be checked out of the pool in time.
    PoolExhausted,
    /// Begin, commit or rollback failed, or a statement inside a transaction failed.
    Transaction,
    /// A migration could not be read, validated or applied.
    Migration,
    /// A named parameter is missing, unused or malformed, or the SQL is empty.
    Parameter,
    /// A value could not be converted to the requested type.
    Conversion,
    /// An argument of the call is out of range: a zero timeout, an empty list of
    /// statements, an empty database name.
    InvalidArgument,
    /// The database returned a type dbm does not map.
    UnsupportedType,
    /// The database handle or pool was closed.
    Closed,
    /// Anything that does not fit the kinds above (a bug, an I/O error on a local file, ...).
    Other,
}

impl ErrorKind {
    /// A short lower-case name, used in messages and JSON.
    ///
    /// ```
    /// assert_eq!(dbm_core::ErrorKind::PoolExhausted.as_str(), "pool exhausted");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Configuration => "configuration error",
            ErrorKind::Connection => "connection error",
            ErrorKind::Authentication => "authentication error",
            ErrorKind::Query => "query error",
            ErrorKind::Constraint => "constraint violation",
            ErrorKind::Timeout => "timeout",
            ErrorKind::PoolExhausted => "pool exhausted",
            ErrorKind::Transaction => "transaction error",
            ErrorKind::Migration => "migration error",
            ErrorKind::Parameter => "parameter error",
            ErrorKind::Conversion => "conversion error",
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::UnsupportedType => "unsupported type",
            ErrorKind::Closed => "closed",
            ErrorKind::Other => "error",
        }
    }
}

impl ErrorKind {
    /// The kind as a low-cardinality identifier, for metric labels and the OpenTelemetry
    /// `error.type` attribute: `query`, `pool_exhausted`, `invalid_argument`...
    ///
    /// ```
    /// use dbm_core::ErrorKind;
    /// assert_eq!(ErrorKind::PoolExhausted.id(), "pool_exhausted");
    /// assert_eq!(ErrorKind::Query.id(), "query");
    /// ```
    pub fn id(self) -> &'static str {
        match self {
            ErrorKind::Configuration => "configuration",
            ErrorKind::Connection => "connection",
            ErrorKind::Authentication => "authentication",
            ErrorKind::Query => "query",
            ErrorKind::Constraint => "constraint",
            ErrorKind::Timeout => "timeout",
            ErrorKind::PoolExhausted => "pool_exhausted",
            ErrorKind::Transaction => "transaction",
            ErrorKind::Migration => "migration",
            ErrorKind::Parameter => "parameter",
            ErrorKind::Conversion => "conversion",
            ErrorKind::InvalidArgument => "invalid_argument",
            ErrorKind::UnsupportedType => "unsupported_type",
            ErrorKind::Closed => "closed",
            ErrorKind::Other => "other",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The code the database (or the operating system) gave for an error.
///
/// Transient classification ([`Error::is_transient`]) is decided from these codes only.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// A PostgreSQL SQLSTATE, e.g. `40001`.
    SqlState(String),
    /// A SQL Server error number, e.g. `1205`.
    MssqlNumber(i32),
    /// A SQLite extended result code, e.g. `5` (`SQLITE_BUSY`).
    Sqlite(i32),
    /// An I/O error while connecting (refused, reset, unreachable, ...).
    ConnectIo,
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorCode::SqlState(s) => write!(f, "SQLSTATE {s}"),
            ErrorCode::MssqlNumber(n) => write!(f, "SQL Server error {n}"),
            ErrorCode::Sqlite(n) => write!(f, "SQLite code {n}"),
            ErrorCode::ConnectIo => f.write_str("I/O error while connecting"),
        }
    }
}

/// SQL Server error numbers treated as transient: Microsoft.Data.SqlClient's list, plus 3960
/// (a snapshot isolation update conflict: like PostgreSQL's 40001, the whole transaction
/// succeeds when run again).
const MSSQL_TRANSIENT: &[i32] = &[
    1204, 1205, 1222, 3960, 4060, 4221, 10053, 10054, 10060, 10928, 10929, 40143, 40197, 40501,
    40540, 40613, 49918, 49919, 49920, 997, 233,
];

impl ErrorCode {
    /// Whether an operation that failed with this code may succeed if retried.
    ///
    /// ```
    /// use dbm_core::ErrorCode;
    /// assert!(ErrorCode::SqlState("40001".into()).is_transient());
    /// assert!(!ErrorCode::SqlState("57014".into()).is_transient());
    /// assert!(ErrorCode::Sqlite(5).is_transient());
    /// assert!(!ErrorCode::MssqlNumber(18456).is_transient());
    /// ```
    pub fn is_transient(&self) -> bool {
        match self {
            ErrorCode::SqlState(s) => {
                s.starts_with("08")
                    || matches!(
                        s.as_str(),
                        "40001" | "40P01" | "57P01" | "57P02" | "57P03" | "53300" | "55P03"
                    )
            }
            ErrorCode::MssqlNumber(n) => MSSQL_TRANSIENT.contains(n),
            // Primary result code is the low byte: SQLITE_BUSY (5) and SQLITE_LOCKED (6),
            // including their extended forms.
            ErrorCode::Sqlite(n) => matches!(n & 0xff, 5 | 6),
            ErrorCode::ConnectIo => true,
        }
    }
}

/// The error of every dbm operation.
///
/// It carries the kind, the database name, the operation, the driver's code and the source
/// error. Its `Display` is one line, never containing a password or a full connection string:
/// drivers must build messages from redacted pieces.
///
/// ```
/// use dbm_core::{Error, ErrorKind};
/// let err = Error::new(ErrorKind::Timeout, "statement cancelled after 200 ms")
///     .with_database("app")
///     .with_operation("query");
/// assert_eq!(err.kind(), ErrorKind::Timeout);
/// assert_eq!(err.to_string(), "[app] query: timeout: statement cancelled after 200 ms");
/// ```
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    message: String,
    database: Option<String>,
    operation: Option<String>,
    code: Option<ErrorCode>,
    hint: Option<String>,
    line: Option<u32>,
    outcome_unknown: bool,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind` with a message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                database: None,
                operation: None,
                code: None,
                hint: None,
                line: None,
                outcome_unknown: false,
                source: None,
            }),
        }
    }

    /// Shorthand for a [`ErrorKind::Configuration`] error.
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Configuration, message)
    }

    /// Shorthand for a [`ErrorKind::Parameter`] error.
    pub fn parameter(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Parameter, message)
    }

    /// Shorthand for a [`ErrorKind::Conversion`] error.
    pub fn conversion(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conversion, message)
    }

    /// Shorthand for a [`ErrorKind::InvalidArgument`] error.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    /// Marks that the operation may or may not have taken effect (a statement whose
    /// cancellation was not confirmed, a COMMIT whose answer was lost): it must not be
    /// repeated blindly, so such an error is never [transient](Error::is_transient).
    pub fn with_outcome_unknown(mut self) -> Self {
        self.inner.outcome_unknown = true;
        self
    }

    /// Whether the operation may have taken effect although it failed.
    ///
    /// ```
    /// use dbm_core::{Error, ErrorCode, ErrorKind};
    /// let e = Error::new(ErrorKind::Connection, "connection lost during COMMIT")
    ///     .with_code(ErrorCode::ConnectIo)
    ///     .with_outcome_unknown();
    /// assert!(e.outcome_unknown());
    /// assert!(!e.is_transient(), "repeating it could apply it twice");
    /// ```
    pub fn outcome_unknown(&self) -> bool {
        self.inner.outcome_unknown
    }

    /// The same error with another message; everything else (kind, database, operation,
    /// code, hint, outcome) is kept and the original becomes the source.
    pub fn restated(self, message: impl Into<String>) -> Self {
        let mut out = Error::new(self.kind(), message);
        out.inner.database = self.inner.database.clone();
        out.inner.operation = self.inner.operation.clone();
        out.inner.code = self.inner.code.clone();
        out.inner.hint = self.inner.hint.clone();
        out.inner.line = self.inner.line;
        out.inner.outcome_unknown = self.inner.outcome_unknown;
        out.with_source(self)
    }

    /// Sets the database name (kept if one is already set, so the innermost layer wins).
    pub fn with_database(mut self, database: impl Into<String>) -> Self {
        if self.inner.database.is_none() {
            self.inner.database = Some(database.into());
        }
        self
    }

    /// Sets the operation (kept if one is already set).
    pub fn with_operation(mut self, operation: impl Into<String>) -> Self {
        if self.inner.operation.is_none() {
            self.inner.operation = Some(operation.into());
        }
        self
    }

    /// Sets the database's error code.
    pub fn with_code(mut self, code: ErrorCode) -> Self {
        self.inner.code = Some(code);
        self
    }

    /// Sets a suggestion for fixing the problem.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.inner.hint = Some(hint.into());
        self
    }

    /// Sets the line, counted from 1 within the SQL text sent, that the database said the
    /// error is on (SQL Server reports one for each error of a batch).
    ///
    /// ```
    /// use dbm_core::{Error, ErrorKind};
    /// let e = Error::new(ErrorKind::Query, "Invalid object name 't'.").with_line(4);
    /// assert_eq!(e.line(), Some(4));
    /// ```
    pub fn with_line(mut self, line: u32) -> Self {
        self.inner.line = Some(line);
        self
    }

    /// The line within the SQL text sent that the database reported, when it did.
    pub fn line(&self) -> Option<u32> {
        self.inner.line
    }

    /// Sets the underlying error. Its `Display` must not contain secrets.
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.inner.source = Some(Box::new(source));
        self
    }

    /// Replaces the kind, keeping everything else.
    pub fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.inner.kind = kind;
        self
    }

    /// Prefixes the message with more context, e.g. `statement 3 of 3`.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.inner.message = format!("{context}: {}", self.inner.message);
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The message, without database, operation, code or hint.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// The database the error is about, when known.
    pub fn database(&self) -> Option<&str> {
        self.inner.database.as_deref()
    }

    /// The operation that failed, when known.
    pub fn operation(&self) -> Option<&str> {
        self.inner.operation.as_deref()
    }

    /// The database's error code, when known.
    pub fn code(&self) -> Option<&ErrorCode> {
        self.inner.code.as_ref()
    }

    /// The suggested fix, when known.
    pub fn hint(&self) -> Option<&str> {
        self.inner.hint.as_deref()
    }

    /// Whether retrying the operation may succeed: decided from the error code only
    /// (see [`ErrorCode::is_transient`]). Timeouts we imposed ourselves are not transient,
    /// and neither is anything whose [outcome is unknown](Error::outcome_unknown).
    pub fn is_transient(&self) -> bool {
        !self.inner.outcome_unknown
            && self
                .inner
                .code
                .as_ref()
                .is_some_and(ErrorCode::is_transient)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(db) = &self.inner.database {
            write!(f, "[{db}] ")?;
        }
        if let Some(op) = &self.inner.operation {
            write!(f, "{op}: ")?;
        }
        write!(f, "{}: {}", self.inner.kind, self.inner.message)?;
        if let Some(code) = &self.inner.code {
            write!(f, " ({code})")?;
        }
        if let Some(hint) = &self.inner.hint {
            write!(f, "; hint: {hint}")?;
        }
        Ok(())
    }
}

/// `{:?}` is for people (what `fn main() -> dbm::Result<()>` prints): the kind and message,
/// then one line each for the database, operation, code, line, outcome, hint and causes.
/// `{:#?}` is the struct, for debugging dbm itself.
///
/// ```
/// use dbm_core::{Error, ErrorKind};
/// let e = Error::new(ErrorKind::Query, "no such table: nope")
///     .with_database("app")
///     .with_operation("query")
///     .with_hint("run `dbm migrate`");
/// assert_eq!(
///     format!("{e:?}"),
///     "query error: no such table: nope\n  database:  app\n  operation: query\n  hint:      run `dbm migrate`"
/// );
/// assert!(format!("{e:#?}").starts_with("Error {"));
/// ```
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        if f.alternate() {
            let mut d = f.debug_struct("Error");
            d.field("kind", &i.kind)
                .field("message", &i.message)
                .field("database", &i.database)
                .field("operation", &i.operation)
                .field("code", &i.code)
                .field("hint", &i.hint)
                .field("line", &i.line)
                .field("outcome_unknown", &i.outcome_unknown);
            if let Some(source) = &i.source {
                d.field("source", &source.to_string());
            }
            return d.finish();
        }
        write!(f, "{}: {}", i.kind, i.message)?;
        let mut row = |k: &str, v: &dyn fmt::Display| write!(f, "\n  {k:<10} {v}");
        if let Some(d) = &i.database {
            row("database:", d)?;
        }
        if let Some(o) = &i.operation {
            row("operation:", o)?;
        }
        if let Some(c) = &i.code {
            row("code:", c)?;
        }
        if let Some(l) = &i.line {
            row("line:", l)?;
        }
        if i.outcome_unknown {
            row("outcome:", &"unknown: it may or may not have taken effect")?;
        }
        if let Some(h) = &i.hint {
            row("hint:", h)?;
        }
        let mut source = i.source.as_deref().map(|e| e as &(dyn StdError + 'static));
        while let Some(e) = source {
            row("caused by:", e)?;
            source = e.source();
        }
        Ok(())
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_has_database_operation_code_and_hint() {
        let err = Error::new(ErrorKind::Query, "no such table: users")
            .with_database("app")
            .with_operation("query")
            .with_code(ErrorCode::Sqlite(1))
            .with_hint("run `cargo xtask migrate`");
        assert_eq!(
            err.to_string(),
            "[app] query: query error: no such table: users (SQLite code 1); hint: run `cargo xtask migrate`"
        );
    }

    #[test]
    fn innermost_database_and_operation_win() {
        let err = Error::new(ErrorKind::Query, "x")
            .with_operation("statement 2")
            .with_operation("transaction")
            .with_database("a")
            .with_database("b");
        assert_eq!(err.operation(), Some("statement 2"));
        assert_eq!(err.database(), Some("a"));
    }

    #[test]
    fn transient_codes() {
        for s in [
            "08006", "08001", "40001", "40P01", "57P01", "57P03", "53300", "55P03",
        ] {
            assert!(ErrorCode::SqlState(s.into()).is_transient(), "{s}");
        }
        for s in ["57014", "23505", "42P01", "28P01"] {
            assert!(!ErrorCode::SqlState(s.into()).is_transient(), "{s}");
        }
        for n in MSSQL_TRANSIENT {
            assert!(ErrorCode::MssqlNumber(*n).is_transient());
        }
        assert!(!ErrorCode::MssqlNumber(18456).is_transient());
        assert!(ErrorCode::Sqlite(5).is_transient());
        assert!(ErrorCode::Sqlite(6).is_transient());
        assert!(ErrorCode::Sqlite(517).is_transient()); // SQLITE_BUSY_SNAPSHOT
        assert!(!ErrorCode::Sqlite(19).is_transient()); // SQLITE_CONSTRAINT
        assert!(!Error::new(ErrorKind::Timeout, "t").is_transient());
    }
}
