//! `Value`: one type for every column value and every bound parameter.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use serde::{Serialize, Serializer};
use uuid::Uuid;

use crate::error::{Error, Result};

/// An exact decimal number, kept as its canonical text so no precision is ever lost
/// (PostgreSQL `numeric` has up to 131072 digits; no fixed-size type holds that).
///
/// ```
/// use dbm_core::Decimal;
/// let d: Decimal = "-0012.500".parse().unwrap();
/// assert_eq!(d.as_str(), "-12.500");
/// assert!("1e5".parse::<Decimal>().is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Decimal(String);

impl Decimal {
    /// The decimal as text, e.g. `-12.500`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Decimal {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim();
        let (neg, digits) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        if matches!(digits, "NaN" | "Infinity") {
            return Ok(Decimal(format!("{}{digits}", if neg { "-" } else { "" })));
        }
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        let ok = !(int.is_empty() && frac.is_empty())
            && int.bytes().all(|b| b.is_ascii_digit())
            && frac.bytes().all(|b| b.is_ascii_digit());
        if !ok {
            return Err(Error::conversion(format!("`{s}` is not a decimal number")));
        }
        let int = int.trim_start_matches('0');
        let int = if int.is_empty() { "0" } else { int };
        let zero = int == "0" && frac.bytes().all(|b| b == b'0');
        let sign = if neg && !zero { "-" } else { "" };
        Ok(Decimal(if frac.is_empty() {
            format!("{sign}{int}")
        } else {
            format!("{sign}{int}.{frac}")
        }))
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Decimal({})", self.0)
    }
}

/// A column value or a bound parameter.
///
/// Every driver maps its native types into these variants. Integers of every width arrive as
/// `Int`, `real` and `double` as `Float`.
///
/// ```
/// use dbm_core::Value;
/// assert_eq!(Value::from(42), Value::Int(42));
/// assert_eq!(Value::from(None::<i64>), Value::Null);
/// assert_eq!(Value::from("x").type_name(), "text");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A boolean.
    Bool(bool),
    /// Any integer type, widened to 64 bits.
    Int(i64),
    /// Any binary floating-point type.
    Float(f64),
    /// An exact decimal (`numeric`, `decimal`, `money`).
    Decimal(Decimal),
    /// Text of any kind.
    Text(String),
    /// Binary data.
    Bytes(Vec<u8>),
    /// A UUID.
    Uuid(Uuid),
    /// A calendar date.
    Date(NaiveDate),
    /// A time of day without zone.
    Time(NaiveTime),
    /// A timestamp without zone.
    Timestamp(NaiveDateTime),
    /// A timestamp with zone, normalised to UTC.
    TimestampTz(DateTime<Utc>),
    /// A JSON document.
    Json(serde_json::Value),
    /// An array of values (PostgreSQL arrays).
    Array(Vec<Value>),
}

/// Drops `values`, leaving out the drop glue's call for values that own no heap memory
/// (most cells: NULL, numbers, dates): that call costs about 25 instructions a value, as
/// the glue saves and restores six registers for the recursive `Array` case, and a large
/// result is mostly such values.
pub(crate) fn drop_values(values: impl Iterator<Item = Value>) {
    for value in values {
        match value {
            // Nothing of these lives on the heap: forgetting them frees nothing less.
            Value::Null
            | Value::Bool(_)
            | Value::Int(_)
            | Value::Float(_)
            | Value::Uuid(_)
            | Value::Date(_)
            | Value::Time(_)
            | Value::Timestamp(_)
            | Value::TimestampTz(_) => std::mem::forget(value),
            owning => drop(owning),
        }
    }
}

impl Value {
    /// The name of the variant, used in conversion errors.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::Decimal(_) => "decimal",
            Value::Text(_) => "text",
            Value::Bytes(_) => "bytes",
            Value::Uuid(_) => "uuid",
            Value::Date(_) => "date",
            Value::Time(_) => "time",
            Value::Timestamp(_) => "timestamp",
            Value::TimestampTz(_) => "timestamptz",
            Value::Json(_) => "json",
            Value::Array(_) => "array",
        }
    }

    /// Whether this is `Value::Null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value as JSON: numbers stay numbers, decimals become strings (exact), bytes become
    /// an array of numbers, dates and times ISO 8601 strings.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Decimal(d) => J::String(d.0.clone()),
            Value::Text(s) => J::String(s.clone()),
            Value::Bytes(b) => J::Array(b.iter().map(|x| J::from(*x)).collect()),
            Value::Uuid(u) => J::String(u.to_string()),
            Value::Date(d) => J::String(d.to_string()),
            Value::Time(t) => J::String(t.to_string()),
            Value::Timestamp(t) => J::String(t.format("%Y-%m-%dT%H:%M:%S%.f").to_string()),
            Value::TimestampTz(t) => J::String(t.to_rfc3339()),
            Value::Json(j) => j.clone(),
            Value::Array(a) => J::Array(a.iter().map(Value::to_json).collect()),
        }
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_none(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Int(i) => serializer.serialize_i64(*i),
            Value::Float(f) => serializer.serialize_f64(*f),
            Value::Text(s) => serializer.serialize_str(s),
            Value::Json(j) => j.serialize(serializer),
            other => other.to_json().serialize(serializer),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Text(s) => f.write_str(s),
            Value::Json(j) => write!(f, "{j}"),
            other => match other.to_json() {
                serde_json::Value::String(s) => f.write_str(&s),
                j => write!(f, "{j}"),
            },
        }
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self { Value::Int(i64::from(v)) }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32);

macro_rules! from_simple {
    ($($t:ty => $variant:ident),* $(,)?) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self { Value::$variant(v) }
        }
    )*};
}
from_simple!(
    bool => Bool,
    f64 => Float,
    String => Text,
    Vec<u8> => Bytes,
    Uuid => Uuid,
    NaiveDate => Date,
    NaiveTime => Time,
    NaiveDateTime => Timestamp,
    DateTime<Utc> => TimestampTz,
    serde_json::Value => Json,
    Decimal => Decimal,
);

impl From<f32> for Value {
    fn from(v: f32) -> Self {
        Value::Float(f64::from(v))
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}

impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Value::Bytes(v.to_vec())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// What a parameter value can be given as: every type with a `From` conversion into
/// [`Value`], `Option<T>` (None binds NULL), integers wider than `i64` (`u64`, `usize`,
/// `u128`, `i128`) checked against its range (out of range is an error when the SQL is
/// bound, never a wrap), and lists (`Vec<T>` and slices of integers, floats, text, UUIDs,
/// dates...; `Vec<u8>` stays bytes) that expand in `IN (:ids)` and bind as arrays where the
/// database has them.
///
/// ```
/// use dbm_core::{IntoValue, Value};
/// assert_eq!(7u64.into_value(), Ok(Value::Int(7)));
/// assert!(u64::MAX.into_value().unwrap_err().contains("18446744073709551615"));
/// assert_eq!(vec![1i64, 2].into_value(), Ok(Value::Array(vec![Value::Int(1), Value::Int(2)])));
/// assert_eq!(Some(2.5f32).into_value(), Ok(Value::Float(2.5)));
/// assert_eq!(None::<u64>.into_value(), Ok(Value::Null));
/// ```
pub trait IntoValue {
    /// The value, or why it cannot be bound.
    fn into_value(self) -> std::result::Result<Value, String>;
}

macro_rules! into_value_via_from {
    ($($t:ty),* $(,)?) => {$(
        impl IntoValue for $t {
            fn into_value(self) -> std::result::Result<Value, String> { Ok(Value::from(self)) }
        }
    )*};
}
into_value_via_from!(
    Value,
    bool,
    i8,
    i16,
    i32,
    i64,
    u8,
    u16,
    u32,
    f32,
    f64,
    String,
    &str,
    &String,
    Vec<u8>,
    &[u8],
    Uuid,
    NaiveDate,
    NaiveTime,
    NaiveDateTime,
    DateTime<Utc>,
    serde_json::Value,
    Decimal,
);

macro_rules! into_value_wide_int {
    ($($t:ty),*) => {$(
        impl IntoValue for $t {
            fn into_value(self) -> std::result::Result<Value, String> {
                i64::try_from(self).map(Value::Int).map_err(|_| {
                    format!(
                        "{self} ({}) does not fit a 64-bit signed integer, the widest integer the databases store",
                        stringify!($t)
                    )
                })
            }
        }
    )*};
}
into_value_wide_int!(u64, usize, u128, i128, isize);

impl<T: IntoValue> IntoValue for Option<T> {
    fn into_value(self) -> std::result::Result<Value, String> {
        match self {
            Some(v) => v.into_value(),
            None => Ok(Value::Null),
        }
    }
}

macro_rules! into_value_list {
    ($($t:ty),*) => {$(
        impl IntoValue for Vec<$t> {
            fn into_value(self) -> std::result::Result<Value, String> {
                self.into_iter()
                    .map(IntoValue::into_value)
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map(Value::Array)
            }
        }
        impl IntoValue for &[$t] {
            fn into_value(self) -> std::result::Result<Value, String> {
                self.iter()
                    .cloned()
                    .map(IntoValue::into_value)
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map(Value::Array)
            }
        }
        impl<const N: usize> IntoValue for [$t; N] {
            fn into_value(self) -> std::result::Result<Value, String> {
                self.into_iter()
                    .map(IntoValue::into_value)
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map(Value::Array)
            }
        }
    )*};
}
into_value_list!(
    bool,
    i16,
    i32,
    i64,
    u16,
    u32,
    u64,
    usize,
    f32,
    f64,
    String,
    &str,
    Uuid,
    NaiveDate,
    NaiveDateTime,
    DateTime<Utc>,
    Decimal
);

impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}

/// Conversion out of a [`Value`], used by [`Row::get`](crate::Row::get).
///
/// Conversions are strict except where a backend has no native type: SQLite stores booleans
/// as integers 0/1 and dates, times, UUIDs and decimals as text, so those are accepted.
pub trait FromValue: Sized {
    /// The type's name in error messages.
    const TYPE_NAME: &'static str;

    /// Converts, or returns `None` when the value has another type.
    fn from_value(value: &Value) -> Option<Self>;

    /// Whether `NULL` converts (true only for `Option<T>`).
    fn accepts_null() -> bool {
        false
    }
}

impl FromValue for Value {
    const TYPE_NAME: &'static str = "Value";
    fn from_value(value: &Value) -> Option<Self> {
        Some(value.clone())
    }
    fn accepts_null() -> bool {
        true
    }
}

impl<T: FromValue> FromValue for Option<T> {
    const TYPE_NAME: &'static str = T::TYPE_NAME;
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Null => Some(None),
            v => T::from_value(v).map(Some),
        }
    }
    fn accepts_null() -> bool {
        true
    }
}

impl FromValue for i64 {
    const TYPE_NAME: &'static str = "i64";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
}

macro_rules! from_value_narrow_int {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            const TYPE_NAME: &'static str = stringify!($t);
            fn from_value(value: &Value) -> Option<Self> {
                match value {
                    Value::Int(i) => <$t>::try_from(*i).ok(),
                    _ => None,
                }
            }
        }
    )*};
}
from_value_narrow_int!(i32, i16, u32, u64, usize);

impl FromValue for f64 {
    const TYPE_NAME: &'static str = "f64";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Float(f) => Some(*f),
            // Integers convert exactly up to 2^53; beyond that the caller asked for a float.
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
}

impl FromValue for bool {
    const TYPE_NAME: &'static str = "bool";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Bool(b) => Some(*b),
            Value::Int(0) => Some(false),
            Value::Int(1) => Some(true),
            _ => None,
        }
    }
}

impl FromValue for String {
    const TYPE_NAME: &'static str = "String";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}

impl FromValue for Vec<u8> {
    const TYPE_NAME: &'static str = "Vec<u8>";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Bytes(b) => Some(b.clone()),
            _ => None,
        }
    }
}

impl FromValue for Decimal {
    const TYPE_NAME: &'static str = "Decimal";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Decimal(d) => Some(d.clone()),
            Value::Int(i) => Some(Decimal(i.to_string())),
            Value::Text(s) => s.parse().ok(),
            _ => None,
        }
    }
}

impl FromValue for Uuid {
    const TYPE_NAME: &'static str = "Uuid";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Uuid(u) => Some(*u),
            Value::Text(s) => Uuid::parse_str(s).ok(),
            Value::Bytes(b) => Uuid::from_slice(b).ok(),
            _ => None,
        }
    }
}

impl FromValue for NaiveDate {
    const TYPE_NAME: &'static str = "NaiveDate";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Date(d) => Some(*d),
            Value::Text(s) => s.parse().ok(),
            _ => None,
        }
    }
}

impl FromValue for NaiveTime {
    const TYPE_NAME: &'static str = "NaiveTime";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Time(t) => Some(*t),
            Value::Text(s) => s.parse().ok(),
            _ => None,
        }
    }
}

impl FromValue for NaiveDateTime {
    const TYPE_NAME: &'static str = "NaiveDateTime";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Timestamp(t) => Some(*t),
            Value::Text(s) => NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
                .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f"))
                .ok(),
            _ => None,
        }
    }
}

impl FromValue for DateTime<Utc> {
    const TYPE_NAME: &'static str = "DateTime<Utc>";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::TimestampTz(t) => Some(*t),
            Value::Text(s) => DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .ok(),
            _ => None,
        }
    }
}

impl FromValue for serde_json::Value {
    const TYPE_NAME: &'static str = "serde_json::Value";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Json(j) => Some(j.clone()),
            Value::Text(s) => serde_json::from_str(s).ok(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_parsing_is_canonical_and_strict() {
        assert_eq!("0.10".parse::<Decimal>().unwrap().as_str(), "0.10");
        assert_eq!("-0.0".parse::<Decimal>().unwrap().as_str(), "0.0");
        assert_eq!("+7".parse::<Decimal>().unwrap().as_str(), "7");
        assert_eq!(".5".parse::<Decimal>().unwrap().as_str(), "0.5");
        assert_eq!("NaN".parse::<Decimal>().unwrap().as_str(), "NaN");
        for bad in ["", ".", "1.2.3", "abc", "1,5", "- 1"] {
            assert!(bad.parse::<Decimal>().is_err(), "{bad}");
        }
    }

    #[test]
    fn values_serialise_as_plain_json() {
        let v = vec![
            Value::Null,
            Value::Bool(true),
            Value::Int(-3),
            Value::Decimal("1.50".parse().unwrap()),
            Value::Text("a".into()),
            Value::Date(NaiveDate::from_ymd_opt(2026, 1, 2).unwrap()),
            Value::Array(vec![Value::Int(1), Value::Null]),
        ];
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"[null,true,-3,"1.50","a","2026-01-02",[1,null]]"#
        );
    }

    #[test]
    fn lenient_conversions_for_sqlite_storage() {
        assert_eq!(bool::from_value(&Value::Int(1)), Some(true));
        assert_eq!(bool::from_value(&Value::Int(2)), None);
        assert_eq!(
            NaiveDate::from_value(&Value::Text("2026-11-28".into())),
            NaiveDate::from_ymd_opt(2026, 11, 28)
        );
        assert_eq!(i32::from_value(&Value::Int(i64::MAX)), None);
        assert_eq!(Option::<i64>::from_value(&Value::Null), Some(None));
        assert_eq!(i64::from_value(&Value::Text("1".into())), None);
    }
}
