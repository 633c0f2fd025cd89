//! `Value` in and out of PostgreSQL's binary formats.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use dbm_core::{Decimal, Error, Result, Value};
use sqlx::error::BoxDynError;
use sqlx::postgres::types::Oid;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, Postgres};
use sqlx::{Encode, Statement as _, Type, TypeInfo};
use uuid::Uuid;

const NUMERIC_OID: u32 = 1700;

/// One bound parameter, typed from its `Value`.
#[derive(Debug)]
pub(crate) enum Bind<'a> {
    Null,
    Bool(bool),
    Int2(i16),
    Int4(i32),
    Int(i64),
    Float4(f32),
    Float(f64),
    Numeric(Vec<u8>),
    /// Text sent as a `json` (not `jsonb`) parameter: its binary form is the text itself.
    JsonText(String),
    /// Text sent as a `jsonb` parameter: a version byte, then the text.
    JsonbText(&'a str),
    Text(&'a str),
    Bytes(&'a [u8]),
    Uuid(Uuid),
    Date(NaiveDate),
    Time(NaiveTime),
    Timestamp(NaiveDateTime),
    TimestampTz(DateTime<Utc>),
    Json(&'a serde_json::Value),
    BoolArray(Vec<Option<bool>>),
    IntArray(Vec<Option<i64>>),
    FloatArray(Vec<Option<f64>>),
    TextArray(Vec<Option<String>>),
    UuidArray(Vec<Option<Uuid>>),
}

fn array_of<'a, T>(
    items: &'a [Value],
    what: &str,
    pick: impl Fn(&'a Value) -> Option<T>,
) -> Result<Vec<Option<T>>> {
    items
        .iter()
        .map(|v| match v {
            Value::Null => Ok(None),
            v => pick(v).map(Some).ok_or_else(|| {
                Error::parameter(format!(
                    "an array of {what} cannot hold a {} element",
                    v.type_name()
                ))
            }),
        })
        .collect()
}

impl<'a> Bind<'a> {
    pub(crate) fn new(v: &'a Value) -> Result<Self> {
        Ok(match v {
            Value::Null => Bind::Null,
            Value::Bool(b) => Bind::Bool(*b),
            Value::Int(i) => Bind::Int(*i),
            Value::Float(f) => Bind::Float(*f),
            Value::Decimal(d) => Bind::Numeric(encode_numeric(d)?),
            Value::Text(s) => Bind::Text(s),
            Value::Bytes(b) => Bind::Bytes(b),
            Value::Uuid(u) => Bind::Uuid(*u),
            Value::Date(d) => Bind::Date(*d),
            Value::Time(t) => Bind::Time(*t),
            Value::Timestamp(t) => Bind::Timestamp(*t),
            Value::TimestampTz(t) => Bind::TimestampTz(*t),
            Value::Json(j) => Bind::Json(j),
            Value::Array(items) => {
                let first = items.iter().find(|v| !v.is_null()).unwrap_or(&Value::Null);
                match first {
                    Value::Bool(_) | Value::Null => {
                        Bind::BoolArray(array_of(items, "bool", |v| match v {
                            Value::Bool(b) => Some(*b),
                            _ => None,
                        })?)
                    }
                    Value::Int(_) => Bind::IntArray(array_of(items, "integer", |v| match v {
                        Value::Int(i) => Some(*i),
                        _ => None,
                    })?),
                    Value::Float(_) => Bind::FloatArray(array_of(items, "float", |v| match v {
                        Value::Float(f) => Some(*f),
                        Value::Int(i) => Some(*i as f64),
                        _ => None,
                    })?),
                    Value::Text(_) => Bind::TextArray(array_of(items, "text", |v| match v {
                        Value::Text(s) => Some(s.clone()),
                        _ => None,
                    })?),
                    Value::Uuid(_) => Bind::UuidArray(array_of(items, "uuid", |v| match v {
                        Value::Uuid(u) => Some(*u),
                        _ => None,
                    })?),
                    other => {
                        return Err(Error::parameter(format!(
                            "arrays of {} are not supported as parameters",
                            other.type_name()
                        ))
                        .with_hint(
                            "bind arrays of bool, integer, float, text or uuid, or use JSON",
                        ));
                    }
                }
            }
            other => {
                return Err(Error::parameter(format!(
                    "cannot bind a {} value to PostgreSQL",
                    other.type_name()
                )));
            }
        })
    }
}

impl Type<Postgres> for Bind<'_> {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(Oid(0))
    }
}

fn ti<T: Type<Postgres>>() -> PgTypeInfo {
    T::type_info()
}

impl<'q> Encode<'q, Postgres> for Bind<'_> {
    fn produces(&self) -> Option<PgTypeInfo> {
        Some(match self {
            // Unspecified: the server infers the parameter's type from its context.
            Bind::Null => PgTypeInfo::with_oid(Oid(0)),
            Bind::Bool(_) => ti::<bool>(),
            Bind::Int2(_) => ti::<i16>(),
            Bind::Int4(_) => ti::<i32>(),
            Bind::Int(_) => ti::<i64>(),
            Bind::Float4(_) => ti::<f32>(),
            Bind::Float(_) => ti::<f64>(),
            Bind::JsonText(_) => PgTypeInfo::with_oid(Oid(114)),
            Bind::JsonbText(_) => PgTypeInfo::with_oid(Oid(3802)),
            Bind::Numeric(_) => PgTypeInfo::with_oid(Oid(NUMERIC_OID)),
            Bind::Text(_) => ti::<&str>(),
            Bind::Bytes(_) => ti::<&[u8]>(),
            Bind::Uuid(_) => ti::<Uuid>(),
            Bind::Date(_) => ti::<NaiveDate>(),
            Bind::Time(_) => ti::<NaiveTime>(),
            Bind::Timestamp(_) => ti::<NaiveDateTime>(),
            Bind::TimestampTz(_) => ti::<DateTime<Utc>>(),
            Bind::Json(_) => ti::<sqlx::types::Json<&serde_json::Value>>(),
            Bind::BoolArray(_) => ti::<Vec<bool>>(),
            Bind::IntArray(_) => ti::<Vec<i64>>(),
            Bind::FloatArray(_) => ti::<Vec<f64>>(),
            Bind::TextArray(_) => ti::<Vec<String>>(),
            Bind::UuidArray(_) => ti::<Vec<Uuid>>(),
        })
    }

    fn encode_by_ref(
        &self,
        buf: &mut PgArgumentBuffer,
    ) -> std::result::Result<sqlx::encode::IsNull, BoxDynError> {
        use sqlx::encode::IsNull;
        match self {
            Bind::Null => Ok(IsNull::Yes),
            Bind::Bool(v) => <bool as Encode<Postgres>>::encode_by_ref(v, buf),
            Bind::Int2(v) => <i16 as Encode<Postgres>>::encode_by_ref(v, buf),
            Bind::Int4(v) => <i32 as Encode<Postgres>>::encode_by_ref(v, buf),
            Bind::Int(v) => <i64 as Encode<Postgres>>::encode_by_ref(v, buf),
            Bind::Float4(v) => <f32 as Encode<Postgres>>::encode_by_ref(v, buf),
            Bind::Float(v) => <f64 as Encode<Postgres>>::encode_by_ref(v, buf),
            Bind::JsonText(text) => {
                buf.extend_from_slice(text.as_bytes());
                Ok(IsNull::No)
            }
            Bind::JsonbText(text) => {
                buf.push(1);
                buf.extend_from_slice(text.as_bytes());
                Ok(IsNull::No)
            }
            Bind::Numeric(bytes) => {
                buf.extend_from_slice(bytes);
                Ok(IsNull::No)
            }
            Bind::Text(v) => <&str as Encode<Postgres>>::encode_by_ref(v, buf),
            Bind::Bytes(v) => <&[u8] as Encode<Postgres>>::encode_by_ref(v, buf),
            Bind::Uuid(v) => <Uuid as Encode<Postgres>>::encode_by_ref(v, buf),
            Bind::Date(v) => <NaiveDate as Encode<Postgres>>::encode_by_ref(v, buf),
            Bind::Time(v) => <NaiveTime as Encode<Postgres>>::encode_by_ref(v, buf),
            Bind::Timestamp(v) => <NaiveDateTime as Encode<Postgres>>::encode_by_ref(v, buf),
            Bind::TimestampTz(v) => <DateTime<Utc> as Encode<Postgres>>::encode_by_ref(v, buf),
            Bind::Json(v) => {
                <sqlx::types::Json<&serde_json::Value> as Encode<Postgres>>::encode_by_ref(
                    &sqlx::types::Json(*v),
                    buf,
                )
            }
            Bind::BoolArray(v) => <Vec<Option<bool>> as Encode<Postgres>>::encode_by_ref(v, buf),
            Bind::IntArray(v) => <Vec<Option<i64>> as Encode<Postgres>>::encode_by_ref(v, buf),
            Bind::FloatArray(v) => <Vec<Option<f64>> as Encode<Postgres>>::encode_by_ref(v, buf),
            Bind::TextArray(v) => <Vec<Option<String>> as Encode<Postgres>>::encode_by_ref(v, buf),
            Bind::UuidArray(v) => <Vec<Option<Uuid>> as Encode<Postgres>>::encode_by_ref(v, buf),
        }
    }
}

impl<'a> Bind<'a> {
    /// The type this parameter declares when the statement is prepared.
    pub(crate) fn declared_type(&self) -> PgTypeInfo {
        self.produces()
            .unwrap_or_else(|| PgTypeInfo::with_oid(Oid(0)))
    }

    /// `v` encoded as the prepared statement's parameter type `target`, when that is
    /// lossless; `Ok(None)` when `v` does not fit it (the statement must be prepared again).
    pub(crate) fn coerce(v: &'a Value, target: &PgTypeInfo) -> Result<Option<Bind<'a>>> {
        let natural = Bind::new(v)?;
        if matches!(natural, Bind::Null) || natural.declared_type().type_eq(target) {
            return Ok(Some(natural));
        }
        let out_of_range = |t: &str| {
            Error::parameter(format!(
                "the value {v} does not fit the parameter's type {t}"
            ))
        };
        let inexact = |t: &str| {
            Error::parameter(format!(
                "the value {v} cannot be stored exactly in the parameter's type {t}"
            ))
            .with_hint(
                "cast in SQL if rounding is intended, e.g. :x::float8, or use a numeric column",
            )
        };
        let name = target.name();
        Ok(match (v, name) {
            (Value::Int(i), "INT2") => Some(Bind::Int2(
                i16::try_from(*i).map_err(|_| out_of_range(name))?,
            )),
            (Value::Int(i), "INT4") => Some(Bind::Int4(
                i32::try_from(*i).map_err(|_| out_of_range(name))?,
            )),
            // Integers go into float columns only when they survive the trip exactly.
            (Value::Int(i), "FLOAT8") => {
                Some(Bind::Float(exact_f64(*i).ok_or_else(|| inexact(name))?))
            }
            (Value::Int(i), "FLOAT4") => Some(Bind::Float4(
                exact_f64(*i)
                    .map(|f| f as f32)
                    .filter(|f| *f as i64 == *i)
                    .ok_or_else(|| inexact(name))?,
            )),
            (Value::Int(i), "NUMERIC") => {
                Some(Bind::Numeric(encode_numeric(&i.to_string().parse()?)?))
            }
            // A real column rounds to its precision (as PostgreSQL's own cast does), but a
            // finite value too large for it is an error, not infinity.
            (Value::Float(f), "FLOAT4") if f.is_finite() && !(*f as f32).is_finite() => {
                return Err(out_of_range(name));
            }
            (Value::Float(f), "FLOAT4") => Some(Bind::Float4(*f as f32)),
            (Value::Float(f), "NUMERIC") if f.is_finite() => {
                Some(Bind::Numeric(encode_numeric(&f.to_string().parse()?)?))
            }
            (Value::Decimal(d), "FLOAT8") => d.as_str().parse().ok().map(Bind::Float),
            (Value::Text(s), "VARCHAR" | "BPCHAR" | "NAME" | "TEXT" | "UNKNOWN" | "CITEXT") => {
                Some(Bind::Text(s))
            }
            (Value::Text(s), "JSON") => Some(Bind::JsonText(s.clone())),
            (Value::Text(s), "JSONB") => Some(Bind::JsonbText(s)),
            (Value::Json(j), "JSON") => Some(Bind::JsonText(j.to_string())),
            _ => None,
        })
    }
}

/// Encodes a decimal in PostgreSQL's binary `numeric` format (base-10000 digits).
pub(crate) fn encode_numeric(d: &Decimal) -> Result<Vec<u8>> {
    let s = d.as_str();
    let mut out = Vec::new();
    let special = match s {
        "NaN" => Some(0xC000u16),
        "Infinity" => Some(0xD000),
        "-Infinity" => Some(0xF000),
        _ => None,
    };
    if let Some(sign) = special {
        for part in [0i16, 0, sign as i16, 0] {
            out.extend_from_slice(&part.to_be_bytes());
        }
        return Ok(out);
    }
    let (neg, digits) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let dscale = u16::try_from(frac.len())
        .map_err(|_| Error::parameter("decimal has too many fraction digits for numeric"))?;
    // Pad the integer part on the left and the fraction on the right to whole groups of 4.
    let int_pad = (4 - int.len() % 4) % 4;
    let frac_pad = (4 - frac.len() % 4) % 4;
    let all: String = "0".repeat(int_pad) + int + frac + &"0".repeat(frac_pad);
    let mut groups: Vec<i16> = all
        .as_bytes()
        .chunks(4)
        .map(|c| {
            std::str::from_utf8(c)
                .unwrap_or("0")
                .parse::<i16>()
                .unwrap_or(0)
        })
        .collect();
    let mut weight = ((int.len() + int_pad) / 4) as i32 - 1;
    while groups.first() == Some(&0) {
        groups.remove(0);
        weight -= 1;
    }
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    let ndigits = i16::try_from(groups.len())
        .map_err(|_| Error::parameter("decimal has too many digits for numeric"))?;
    out.extend_from_slice(&ndigits.to_be_bytes());
    out.extend_from_slice(&(weight as i16).to_be_bytes());
    out.extend_from_slice(&(if neg { 0x4000u16 } else { 0 }).to_be_bytes());
    out.extend_from_slice(&dscale.to_be_bytes());
    for g in groups {
        out.extend_from_slice(&g.to_be_bytes());
    }
    Ok(out)
}

/// Decodes PostgreSQL's binary `numeric` exactly, as text.
pub(crate) fn decode_numeric(b: &[u8]) -> Option<String> {
    let word = |i: usize| -> Option<i16> { Some(i16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?])) };
    let ndigits = word(0)? as usize;
    let weight = word(2)? as i32;
    let sign = word(4)? as u16;
    let dscale = word(6)? as usize;
    match sign {
        0xC000 => return Some("NaN".into()),
        0xD000 => return Some("Infinity".into()),
        0xF000 => return Some("-Infinity".into()),
        _ => {}
    }
    let digits: Vec<i16> = (0..ndigits)
        .map(|i| word(8 + 2 * i))
        .collect::<Option<_>>()?;
    let group = |i: i32| -> i16 {
        // Group i has place value 10000^(weight - i).
        usize::try_from(i)
            .ok()
            .and_then(|i| digits.get(i))
            .copied()
            .unwrap_or(0)
    };
    let mut int = String::new();
    if weight >= 0 {
        for i in 0..=weight {
            if int.is_empty() {
                int = group(i).to_string();
            } else {
                int.push_str(&format!("{:04}", group(i)));
            }
        }
    } else {
        int.push('0');
    }
    let mut frac = String::new();
    let mut i = weight + 1;
    while frac.len() < dscale {
        frac.push_str(&format!("{:04}", group(i)));
        i += 1;
    }
    frac.truncate(dscale);
    let zero = int.trim_start_matches('0').is_empty() && frac.bytes().all(|c| c == b'0');
    let sign = if sign == 0x4000 && !zero { "-" } else { "" };
    Some(if dscale == 0 {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    })
}

/// `values` bound as `stmt`'s parameter types; `None` when one does not fit them.
pub(crate) fn bind_all<'v>(
    values: &'v [Value],
    stmt: &sqlx::postgres::PgStatement,
) -> Result<Option<Vec<Bind<'v>>>> {
    let types: &[sqlx::postgres::PgTypeInfo] = match stmt.parameters() {
        Some(sqlx::Either::Left(types)) => types,
        _ => &[],
    };
    if types.len() != values.len() {
        return Err(Error::parameter(format!(
            "the statement has {} placeholders but {} values were bound",
            types.len(),
            values.len()
        )));
    }
    let mut binds = Vec::with_capacity(values.len());
    for (v, t) in values.iter().zip(types) {
        match Bind::coerce(v, t)? {
            Some(b) => binds.push(b),
            None => return Ok(None),
        }
    }
    Ok(Some(binds))
}

/// `i` as a float when the float is exactly `i`.
fn exact_f64(i: i64) -> Option<f64> {
    let f = i as f64;
    // `f as i64` saturates, so 2^63 (the rounding of i64::MAX) compares unequal.
    (f as i64 == i && f < 9_223_372_036_854_775_808.0).then_some(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(s: &str) -> String {
        let d: Decimal = s.parse().unwrap();
        decode_numeric(&encode_numeric(&d).unwrap()).unwrap()
    }

    #[test]
    fn numeric_codec_is_exact() {
        for s in [
            "0",
            "1",
            "-1",
            "10000",
            "12345.6789",
            "0.0001",
            "0.00001",
            "-0.5",
            "123456789012345678901234567890.000000000000000000001",
            "100.10",
            "9999.9999",
            "0.000",
            "NaN",
        ] {
            let want = s.parse::<Decimal>().unwrap().as_str().to_owned();
            assert_eq!(round_trip(s), want, "{s}");
        }
    }

    #[test]
    fn numeric_wire_format() {
        // 12345.678 = groups [1, 2345, 6780], weight 1, dscale 3
        let b = encode_numeric(&"12345.678".parse().unwrap()).unwrap();
        assert_eq!(b, [0, 3, 0, 1, 0, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1a, 0x7c]);
    }

    #[test]
    fn integers_convert_to_floats_only_exactly() {
        assert_eq!(super::exact_f64(1 << 53), Some(9_007_199_254_740_992.0));
        assert_eq!(super::exact_f64((1 << 53) + 1), None);
        assert_eq!(super::exact_f64(i64::MAX), None);
        assert_eq!(
            super::exact_f64(i64::MIN),
            Some(-9_223_372_036_854_775_808.0)
        );
    }
}
