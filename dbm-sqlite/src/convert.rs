//! Values in and out of SQLite, and rusqlite errors into dbm errors.

use chrono::SecondsFormat;
use dbm_core::{Error, ErrorCode, ErrorKind, Value};
use rusqlite::ErrorCode as Code;
use rusqlite::types::{ToSqlOutput, Value as Sv, ValueRef};

/// Converts a bound value to SQLite storage. SQLite has no date, UUID, decimal or JSON
/// type: those are stored as text in their ISO / canonical forms.
pub(crate) fn to_sqlite(v: &Value) -> Result<ToSqlOutput<'_>, Error> {
    Ok(match v {
        Value::Null => ToSqlOutput::Owned(Sv::Null),
        Value::Bool(b) => ToSqlOutput::Owned(Sv::Integer(i64::from(*b))),
        Value::Int(i) => ToSqlOutput::Owned(Sv::Integer(*i)),
        Value::Float(f) => ToSqlOutput::Owned(Sv::Real(*f)),
        Value::Decimal(d) => ToSqlOutput::Borrowed(ValueRef::Text(d.as_str().as_bytes())),
        Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        Value::Bytes(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        Value::Uuid(u) => ToSqlOutput::Owned(Sv::Text(u.hyphenated().to_string())),
        Value::Date(d) => ToSqlOutput::Owned(Sv::Text(d.format("%Y-%m-%d").to_string())),
        Value::Time(t) => ToSqlOutput::Owned(Sv::Text(t.format("%H:%M:%S%.f").to_string())),
        Value::Timestamp(t) => {
            ToSqlOutput::Owned(Sv::Text(t.format("%Y-%m-%d %H:%M:%S%.f").to_string()))
        }
        Value::TimestampTz(t) => {
            ToSqlOutput::Owned(Sv::Text(t.to_rfc3339_opts(SecondsFormat::AutoSi, true)))
        }
        Value::Json(j) => ToSqlOutput::Owned(Sv::Text(j.to_string())),
        other => {
            return Err(Error::parameter(format!(
                "SQLite cannot store a value of type {}",
                other.type_name()
            ))
            .with_hint("store arrays as JSON text (Value::Json)"));
        }
    })
}

/// Whether a declared column type makes integers 0 and 1 booleans (`BOOL`, `BOOLEAN`).
pub(crate) fn is_bool_type(decl_type: &str) -> bool {
    decl_type.eq_ignore_ascii_case("BOOL") || decl_type.eq_ignore_ascii_case("BOOLEAN")
}

/// Converts a stored value of the column `column` (called only to name it in an error).
/// Integers 0 and 1 in columns declared BOOL/BOOLEAN become `Bool`. TEXT that is not valid
/// UTF-8 is an error naming the column, never replaced characters: reading and writing back
/// must not change the bytes.
#[inline]
pub(crate) fn from_sqlite<'c>(
    v: ValueRef<'_>,
    is_bool: bool,
    column: impl FnOnce() -> &'c str,
) -> Result<Value, Error> {
    Ok(match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) if is_bool && (i == 0 || i == 1) => Value::Bool(i == 1),
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Float(f),
        ValueRef::Text(t) => match std::str::from_utf8(t) {
            Ok(s) => Value::Text(s.to_owned()),
            Err(e) => return Err(not_utf8(column(), &e, t.len())),
        },
        ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
    })
}

/// The error for TEXT that is not UTF-8 (kept out of the per-cell path).
#[cold]
fn not_utf8(column: &str, e: &std::str::Utf8Error, len: usize) -> Error {
    Error::conversion(format!(
        "column `{column}` holds TEXT that is not valid UTF-8 (invalid byte at offset {} of {len}); it was not read, so that nothing is altered",
        e.valid_up_to(),
    ))
    .with_hint(format!(
        "read it as bytes with CAST({} AS BLOB), or repair the stored text",
        quote_name(column)
    ))
}

/// A column name as it would be written in SQL (quoted unless it is a plain word).
fn quote_name(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// Maps a rusqlite error: the SQLite extended code is kept, the kind follows the primary code.
pub(crate) fn map_err(e: rusqlite::Error) -> Error {
    match &e {
        rusqlite::Error::SqliteFailure(f, msg) => {
            let kind = match f.code {
                Code::ConstraintViolation => ErrorKind::Constraint,
                Code::OperationInterrupted => ErrorKind::Timeout,
                Code::CannotOpen | Code::NotADatabase | Code::PermissionDenied => {
                    ErrorKind::Connection
                }
                _ => ErrorKind::Query,
            };
            let text = msg.clone().unwrap_or_else(|| f.to_string());
            let mut err = Error::new(kind, text).with_code(ErrorCode::Sqlite(f.extended_code));
            match f.code {
                Code::DatabaseBusy | Code::DatabaseLocked => {
                    err = err.with_hint(
                        "another connection held the write lock past busy_timeout: raise busy_timeout, or retry the whole transaction (transaction_with_retry)",
                    )
                }
                Code::CannotOpen => {
                    err = err.with_hint("check that the directory exists and is writable")
                }
                Code::ReadOnly => err = err.with_hint("the database was opened read-only"),
                _ => {}
            }
            err.with_source(e)
        }
        rusqlite::Error::SqlInputError {
            error, msg, offset, ..
        } => Error::new(
            ErrorKind::Query,
            format!("{msg} (at byte {offset} of the statement)"),
        )
        .with_code(ErrorCode::Sqlite(error.extended_code)),
        rusqlite::Error::InvalidParameterCount(given, expected) => Error::parameter(format!(
            "the statement has {expected} placeholders but {given} values were bound"
        )),
        rusqlite::Error::InvalidParameterName(n) => {
            Error::parameter(format!("unknown parameter name `{n}`"))
        }
        rusqlite::Error::MultipleStatement => Error::parameter(
            "several statements were given where one is expected; use a transaction or a script",
        ),
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::Utf8Error(..) => Error::conversion(e.to_string()),
        _ => Error::new(ErrorKind::Query, e.to_string()),
    }
}
