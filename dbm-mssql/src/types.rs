//! Values to SQL Server parameters and SQL Server columns to values, exactly or not at all.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use dbm_core::{Decimal, Error, Result, Value};
use tiberius::{ColumnData, ColumnType, FromSql, IntoSql, numeric::Numeric};

/// The SQL Server type a value is sent as.
///
/// ```
/// use dbm_core::Value;
/// assert_eq!(dbm_mssql::sql_type_of(&Value::Int(1)), "bigint");
/// assert_eq!(dbm_mssql::sql_type_of(&Value::Text("x".into())), "nvarchar");
/// ```
pub fn sql_type_of(v: &Value) -> &'static str {
    match v {
        Value::Null | Value::Text(_) => "nvarchar",
        Value::Bool(_) => "bit",
        Value::Int(_) => "bigint",
        Value::Float(_) => "float",
        Value::Decimal(_) => "numeric",
        Value::Bytes(_) => "varbinary",
        Value::Uuid(_) => "uniqueidentifier",
        Value::Date(_) => "date",
        Value::Time(_) => "time",
        Value::Timestamp(_) => "datetime2",
        Value::TimestampTz(_) => "datetimeoffset",
        Value::Json(_) => "nvarchar(max)",
        _ => "unsupported",
    }
}

/// A decimal as SQL Server's `numeric`: at most 38 digits, scale at most 38.
fn numeric(d: &Decimal, position: usize) -> Result<Numeric> {
    let text = d.as_str();
    let too_big = || {
        Error::parameter(format!(
            "parameter {position}: the decimal {text} has more than 38 digits, the most SQL Server's numeric holds"
        ))
        .with_hint("round it, or send it as text and convert it in SQL")
    };
    if text.contains("NaN") || text.contains("Infinity") {
        return Err(Error::parameter(format!(
            "parameter {position}: SQL Server's numeric has no {text}"
        )));
    }
    let (neg, digits) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let int = int.trim_start_matches('0');
    if int.len() + frac.len() > 38 {
        return Err(too_big());
    }
    let all = format!("{int}{frac}");
    let mut value: i128 = if all.is_empty() {
        0
    } else {
        all.parse().map_err(|_| too_big())?
    };
    if neg {
        value = -value;
    }
    Ok(Numeric::new_with_scale(value, frac.len() as u8))
}

/// The parameters of one statement, borrowing from `values`.
pub(crate) fn bind(values: &[Value]) -> Result<Vec<ColumnData<'_>>> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let position = i + 1;
            Ok(match v {
                // A NULL has no type of its own: nvarchar converts implicitly to every
                // type but binary ones (see the crate docs).
                Value::Null => ColumnData::String(None),
                Value::Bool(b) => ColumnData::Bit(Some(*b)),
                Value::Int(n) => ColumnData::I64(Some(*n)),
                Value::Float(f) => ColumnData::F64(Some(*f)),
                Value::Decimal(d) => ColumnData::Numeric(Some(numeric(d, position)?)),
                Value::Text(s) => ColumnData::String(Some(Cow::Borrowed(s.as_str()))),
                Value::Bytes(b) => ColumnData::Binary(Some(Cow::Borrowed(b.as_slice()))),
                Value::Uuid(u) => ColumnData::Guid(Some(*u)),
                Value::Date(d) => d.into_sql(),
                Value::Time(t) => t.into_sql(),
                Value::Timestamp(t) => t.into_sql(),
                Value::TimestampTz(t) => t.fixed_offset().into_sql(),
                Value::Json(j) => ColumnData::String(Some(Cow::Owned(j.to_string()))),
                other => {
                    return Err(Error::parameter(format!(
                        "parameter {position}: SQL Server has no type for a {} value",
                        other.type_name()
                    ))
                    .with_hint("SQL Server has no arrays: pass the elements as separate parameters, or as JSON text with OPENJSON"));
                }
            })
        })
        .collect()
}

/// The SQL name of a column type, as dbm reports it.
pub(crate) fn type_name(t: ColumnType) -> &'static str {
    use ColumnType as T;
    match t {
        T::Null => "null",
        T::Bit | T::Bitn => "bit",
        T::Int1 => "tinyint",
        T::Int2 => "smallint",
        T::Int4 => "int",
        T::Int8 | T::Intn => "bigint",
        T::Datetime4 => "smalldatetime",
        T::Float4 => "real",
        T::Float8 | T::Floatn => "float",
        T::Money => "money",
        T::Money4 => "smallmoney",
        T::Datetime | T::Datetimen => "datetime",
        T::Guid => "uniqueidentifier",
        T::Decimaln => "decimal",
        T::Numericn => "numeric",
        T::Daten => "date",
        T::Timen => "time",
        T::Datetime2 => "datetime2",
        T::DatetimeOffsetn => "datetimeoffset",
        T::BigVarBin | T::BigBinary | T::Image => "varbinary",
        T::BigVarChar | T::BigChar | T::Text => "varchar",
        T::NVarchar | T::NChar | T::NText => "nvarchar",
        T::Xml => "xml",
        T::Udt => "udt",
        T::SSVariant => "sql_variant",
    }
}

/// The largest number of money units (1/10,000) whose value survives tiberius's f64
/// decoding exactly: below 2^50 the f64 has at least two bits to spare, so rounding
/// `value * 10_000` gives the units back.
const MONEY_EXACT_UNITS: f64 = 1_125_899_906_842_624.0; // 2^50

/// `money` arrives from tiberius as an f64 (value / 10,000); the exact value is the
/// nearest number of units, which is unambiguous below 2^50 units (about 1.1e11). Larger
/// amounts cannot be told apart from their neighbours and are refused.
fn money(f: f64, column: &str) -> Result<Value> {
    let units = (f * 10_000.0).round();
    if !units.is_finite() || units.abs() >= MONEY_EXACT_UNITS {
        return Err(Error::conversion(format!(
            "column `{column}`: the money value {f} is too large to read exactly (over 112,589,990,684)"
        ))
        .with_hint(format!("select it as CAST([{column}] AS DECIMAL(19,4))")));
    }
    let units = units as i64;
    let sign = if units < 0 { "-" } else { "" };
    let abs = units.unsigned_abs();
    let text = format!("{sign}{}.{:04}", abs / 10_000, abs % 10_000);
    Ok(Value::Decimal(text.parse()?))
}

fn numeric_text(n: Numeric) -> String {
    let value = n.value();
    let scale = usize::from(n.scale());
    let sign = if value < 0 { "-" } else { "" };
    let digits = value.unsigned_abs().to_string();
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{sign}{int}.{frac}")
}

fn converted<T>(
    r: tiberius::Result<Option<T>>,
    column: &str,
    wrap: impl FnOnce(T) -> Value,
) -> Result<Value> {
    match r {
        Ok(Some(v)) => Ok(wrap(v)),
        Ok(None) => Ok(Value::Null),
        Err(e) => Err(Error::conversion(format!("column `{column}`: {e}"))),
    }
}

/// One column value as a [`Value`]. `column_type` tells `money` from `float`.
pub(crate) fn decode(
    data: ColumnData<'static>,
    column: &str,
    column_type: ColumnType,
) -> Result<Value> {
    Ok(match data {
        ColumnData::U8(v) => v.map_or(Value::Null, |n| Value::Int(i64::from(n))),
        ColumnData::I16(v) => v.map_or(Value::Null, |n| Value::Int(i64::from(n))),
        ColumnData::I32(v) => v.map_or(Value::Null, |n| Value::Int(i64::from(n))),
        ColumnData::I64(v) => v.map_or(Value::Null, Value::Int),
        ColumnData::F32(v) => v.map_or(Value::Null, |f| Value::Float(f64::from(f))),
        ColumnData::F64(None) => Value::Null,
        ColumnData::F64(Some(f)) => match column_type {
            ColumnType::Money | ColumnType::Money4 => money(f, column)?,
            _ => Value::Float(f),
        },
        ColumnData::Bit(v) => v.map_or(Value::Null, Value::Bool),
        ColumnData::String(v) => v.map_or(Value::Null, |s| Value::Text(s.into_owned())),
        ColumnData::Guid(v) => v.map_or(Value::Null, Value::Uuid),
        ColumnData::Binary(v) => v.map_or(Value::Null, |b| Value::Bytes(b.into_owned())),
        ColumnData::Numeric(v) => match v {
            None => Value::Null,
            Some(n) => Value::Decimal(numeric_text(n).parse()?),
        },
        ColumnData::Xml(v) => v.map_or(Value::Null, |x| Value::Text(x.into_owned().into_string())),
        data @ (ColumnData::DateTime(_)
        | ColumnData::SmallDateTime(_)
        | ColumnData::DateTime2(_)) => {
            converted(NaiveDateTime::from_sql(&data), column, Value::Timestamp)?
        }
        ColumnData::Date(v) => v.map_or(Value::Null, |d| Value::Date(date(d))),
        ColumnData::Time(v) => match v {
            None => Value::Null,
            Some(t) => Value::Time(time(t)),
        },
        data @ ColumnData::DateTimeOffset(_) => {
            converted(DateTime::<Utc>::from_sql(&data), column, Value::TimestampTz)?
        }
    })
}

fn date(d: tiberius::time::Date) -> NaiveDate {
    NaiveDate::from_ymd_opt(1, 1, 1).expect("0001-01-01") + chrono::Days::new(u64::from(d.days()))
}

fn time(t: tiberius::time::Time) -> NaiveTime {
    let nanos = u128::from(t.increments()) * 10u128.pow(9 - u32::from(t.scale()));
    let secs = (nanos / 1_000_000_000) as u32;
    NaiveTime::from_num_seconds_from_midnight_opt(secs, (nanos % 1_000_000_000) as u32)
        .unwrap_or(NaiveTime::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_exact_or_refused() {
        for (f, want) in [
            (12.34, "12.3400"),
            (-0.0001, "-0.0001"),
            (0.0, "0.0000"),
            (112_589_990_684.262_3, "112589990684.2623"),
        ] {
            assert_eq!(
                money(f, "m").unwrap(),
                Value::Decimal(want.parse().unwrap()),
                "{f}"
            );
        }
        // Every units count below the limit survives tiberius's decoding: check the
        // edge and a spread of values.
        let limit = MONEY_EXACT_UNITS as i64 - 1;
        for units in [limit, -limit, limit - 1, 1, 99_999, 123_456_789_012_345] {
            let f = units as f64 / 1e4;
            let Value::Decimal(d) = money(f, "m").unwrap() else {
                panic!()
            };
            let back: i64 = d.as_str().replace('.', "").parse().unwrap();
            let scale = d.as_str().split_once('.').map_or(0, |(_, s)| s.len());
            assert_eq!(back * 10i64.pow(4 - scale as u32), units, "{units}");
        }
        let e = money(9.223_372_036_854_776e14, "price")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("column `price`") && e.contains("too large to read exactly"),
            "{e}"
        );
    }

    #[test]
    fn numerics_keep_every_digit() {
        let d: Decimal = "-12345678901234567890.123456789012345678".parse().unwrap();
        let n = numeric(&d, 1).unwrap();
        assert_eq!(numeric_text(n), d.as_str());
        assert_eq!(numeric_text(Numeric::new_with_scale(5, 3)), "0.005");
        assert_eq!(numeric_text(Numeric::new_with_scale(-5, 0)), "-5");
        let big: Decimal = "1234567890123456789012345678901234567890".parse().unwrap();
        assert!(
            numeric(&big, 2)
                .unwrap_err()
                .to_string()
                .contains("parameter 2")
        );
    }

    #[test]
    fn arrays_are_refused_by_position() {
        let e = bind(&[Value::Int(1), Value::Array(vec![])]).unwrap_err();
        assert!(
            e.to_string()
                .contains("parameter 2: SQL Server has no type for a array value"),
            "{e}"
        );
    }

    #[test]
    fn dates_and_times_convert() {
        let d = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        let ColumnData::Date(Some(raw)) = d.into_sql() else {
            panic!()
        };
        assert_eq!(date(raw), d);
        let t = NaiveTime::from_hms_nano_opt(13, 14, 15, 123_456_700).unwrap();
        let ColumnData::Time(Some(raw)) = t.into_sql() else {
            panic!()
        };
        assert_eq!(time(raw), t);
    }
}
