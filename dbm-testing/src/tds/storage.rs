//! What the engine stores and what it sends: SQLite values to TDS values of a column's type
//! and back, SQLite errors as the SQL Server errors a client would see.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};
use rusqlite::types::Value as Sv;

use super::engine::INTERRUPTED;
use super::types::{TdsType, TdsValue, iso_date};

/// A SQLite error as the SQL Server error a client would see for it.
pub(crate) fn sqlite_error(e: rusqlite::Error) -> (i32, u8, String) {
    let text = e.to_string();
    let code = e.sqlite_error_code();
    if code == Some(rusqlite::ErrorCode::OperationInterrupted) {
        return (INTERRUPTED, 0, text);
    }
    let lower = text.to_ascii_lowercase();
    let (number, class) = if lower.contains("no such table") {
        (208, 16)
    } else if lower.contains("no such column") {
        (207, 16)
    } else if lower.contains("unique constraint") {
        (2627, 14)
    } else if lower.contains("not null constraint") {
        (515, 16)
    } else if lower.contains("foreign key constraint") || lower.contains("check constraint") {
        (547, 16)
    } else if lower.contains("syntax error") || lower.contains("incomplete input") {
        (102, 15)
    } else if code == Some(rusqlite::ErrorCode::DatabaseBusy)
        || code == Some(rusqlite::ErrorCode::DatabaseLocked)
    {
        (1222, 16)
    } else {
        (50000, 16)
    };
    (number, class, text)
}

pub(crate) fn to_sqlite_value(v: &TdsValue) -> Sv {
    match v {
        TdsValue::Null => Sv::Null,
        TdsValue::Bit(b) => Sv::Integer(i64::from(*b)),
        TdsValue::Int(i) => Sv::Integer(*i),
        TdsValue::Float(f) => Sv::Real(*f),
        TdsValue::Decimal { value, scale } => Sv::Text(TdsValue::decimal_text(*value, *scale)),
        TdsValue::Text(s) => Sv::Text(s.clone()),
        TdsValue::Binary(b) => Sv::Blob(b.clone()),
        TdsValue::Guid(g) => Sv::Text(g.hyphenated().to_string().to_ascii_uppercase()),
        TdsValue::Date(d) => Sv::Text(iso_date(*d)),
        TdsValue::Time(t) => Sv::Text(t.format("%H:%M:%S%.f").to_string()),
        TdsValue::DateTime(dt) => Sv::Text(dt.format("%Y-%m-%d %H:%M:%S%.f").to_string()),
        TdsValue::DateTimeOffset(dt) => Sv::Text(dt.format("%Y-%m-%d %H:%M:%S%.f %:z").to_string()),
    }
}

pub(crate) fn type_of_values<'a>(values: impl Iterator<Item = &'a Sv>) -> TdsType {
    for v in values {
        match v {
            Sv::Null => continue,
            Sv::Integer(_) => return TdsType::BigInt,
            Sv::Real(_) => return TdsType::Float,
            Sv::Text(t) => {
                return TdsType::NVarChar {
                    max: t.encode_utf16().count() > 4000,
                };
            }
            Sv::Blob(b) => {
                return TdsType::VarBinary {
                    max: b.len() > 8000,
                };
            }
        }
    }
    TdsType::Int
}

fn parse_decimal(text: &str) -> Option<(i128, u8)> {
    let t = text.trim();
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    if int.is_empty() && frac.is_empty()
        || !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let digits: i128 = format!("{int}{frac}")
        .trim_start_matches('0')
        .parse()
        .unwrap_or(0);
    Some((if neg { -digits } else { digits }, frac.len() as u8))
}

fn parse_datetime(t: &str) -> Option<NaiveDateTime> {
    let t = t.trim().replace('T', " ");
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%d"]
        .iter()
        .find_map(|f| {
            NaiveDateTime::parse_from_str(&t, f).ok().or_else(|| {
                NaiveDate::parse_from_str(&t, f)
                    .ok()
                    .map(|d| d.and_time(NaiveTime::MIN))
            })
        })
}

/// A stored SQLite value as a value of the column's TDS type.
pub(crate) fn from_sqlite(v: &Sv, ty: TdsType) -> Result<TdsValue, String> {
    let text = |v: &Sv| match v {
        Sv::Text(s) => s.clone(),
        Sv::Integer(i) => i.to_string(),
        Sv::Real(f) => f.to_string(),
        Sv::Blob(b) => String::from_utf8_lossy(b).into_owned(),
        Sv::Null => String::new(),
    };
    Ok(match (ty, v) {
        (_, Sv::Null) => TdsValue::Null,
        (TdsType::Bit, v) => TdsValue::Bit(text(v).trim() != "0"),
        (TdsType::TinyInt | TdsType::SmallInt | TdsType::Int | TdsType::BigInt, Sv::Integer(i)) => {
            TdsValue::Int(*i)
        }
        (TdsType::TinyInt | TdsType::SmallInt | TdsType::Int | TdsType::BigInt, v) => {
            TdsValue::Int(
                text(v)
                    .trim()
                    .parse()
                    .map_err(|_| format!("{} is not an integer", text(v)))?,
            )
        }
        (TdsType::Real | TdsType::Float, Sv::Real(f)) => TdsValue::Float(*f),
        (TdsType::Real | TdsType::Float, Sv::Integer(i)) => TdsValue::Float(*i as f64),
        (TdsType::Real | TdsType::Float, v) => {
            TdsValue::Float(text(v).parse().map_err(|_| "not a number".to_owned())?)
        }
        (TdsType::Decimal { .. } | TdsType::Money, v) => {
            let (value, scale) =
                parse_decimal(&text(v)).ok_or_else(|| format!("{} is not a decimal", text(v)))?;
            TdsValue::Decimal { value, scale }
        }
        (TdsType::NVarChar { .. } | TdsType::VarChar, v) => TdsValue::Text(text(v)),
        (TdsType::VarBinary { .. }, Sv::Blob(b)) => TdsValue::Binary(b.clone()),
        (TdsType::VarBinary { .. }, v) => TdsValue::Binary(text(v).into_bytes()),
        (TdsType::Guid, v) => TdsValue::Guid(text(v).parse().map_err(|_| "not a GUID".to_owned())?),
        (TdsType::Date, v) => TdsValue::Date(
            parse_datetime(&text(v))
                .map(|d| d.date())
                .ok_or("not a date")?,
        ),
        (TdsType::Time(_), v) => TdsValue::Time(
            NaiveTime::parse_from_str(text(v).trim(), "%H:%M:%S%.f")
                .map_err(|_| "not a time".to_owned())?,
        ),
        (TdsType::DateTime2(_) | TdsType::DateTime, v) => {
            TdsValue::DateTime(parse_datetime(&text(v)).ok_or("not a datetime")?)
        }
        (TdsType::DateTimeOffset(_), v) => TdsValue::DateTimeOffset(
            DateTime::parse_from_str(text(v).trim(), "%Y-%m-%d %H:%M:%S%.f %:z")
                .map_err(|_| "not a datetimeoffset".to_owned())?,
        ),
    })
}
