//! TDS data types (MS-TDS 2.2.5.4): the TYPE_INFO of a column or parameter and the value
//! that follows it, in both directions.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use uuid::Uuid;

/// The collation sent with character types: LCID 1033 (en-US), case-insensitive, sort 52.
pub(crate) const COLLATION: [u8; 5] = [0x09, 0x04, 0xD0, 0x00, 0x34];

/// A column or parameter type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TdsType {
    /// `bit`.
    Bit,
    /// `tinyint`.
    TinyInt,
    /// `smallint`.
    SmallInt,
    /// `int`.
    Int,
    /// `bigint`.
    BigInt,
    /// `real`.
    Real,
    /// `float`.
    Float,
    /// `decimal(p, s)` / `numeric(p, s)`.
    Decimal {
        /// Digits in all.
        precision: u8,
        /// Digits after the point.
        scale: u8,
    },
    /// `money` (fixed point, 4 decimals).
    Money,
    /// `nvarchar(4000)`, or `nvarchar(max)` (sent in chunks).
    NVarChar {
        /// `nvarchar(max)`.
        max: bool,
    },
    /// `varchar(8000)` (8-bit characters).
    VarChar,
    /// `varbinary(8000)`, or `varbinary(max)`.
    VarBinary {
        /// `varbinary(max)`.
        max: bool,
    },
    /// `uniqueidentifier`.
    Guid,
    /// `date`.
    Date,
    /// `time(scale)`.
    Time(u8),
    /// `datetime2(scale)`.
    DateTime2(u8),
    /// `datetimeoffset(scale)`.
    DateTimeOffset(u8),
    /// `datetime` (1/300 s).
    DateTime,
}

/// A value as it crosses the wire.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TdsValue {
    /// NULL (of the column's type).
    Null,
    /// `bit`.
    Bit(bool),
    /// Any integer type.
    Int(i64),
    /// `real` or `float`.
    Float(f64),
    /// `decimal` / `numeric` / `money`: the digits as an integer, and the scale.
    Decimal {
        /// The value times `10^scale`.
        value: i128,
        /// Digits after the point.
        scale: u8,
    },
    /// Character data.
    Text(String),
    /// Binary data.
    Binary(Vec<u8>),
    /// `uniqueidentifier`.
    Guid(Uuid),
    /// `date`.
    Date(NaiveDate),
    /// `time`.
    Time(NaiveTime),
    /// `datetime2` / `datetime`.
    DateTime(NaiveDateTime),
    /// `datetimeoffset`.
    DateTimeOffset(DateTime<FixedOffset>),
}

impl TdsValue {
    /// The decimal text of a `Decimal` value (`-12.30`).
    pub fn decimal_text(value: i128, scale: u8) -> String {
        let digits = value.unsigned_abs().to_string();
        let scale = usize::from(scale);
        let sign = if value < 0 { "-" } else { "" };
        if scale == 0 {
            return format!("{sign}{digits}");
        }
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (int, frac) = padded.split_at(padded.len() - scale);
        format!("{sign}{int}.{frac}")
    }
}

fn days_from(epoch: NaiveDate, d: NaiveDate) -> i64 {
    d.signed_duration_since(epoch).num_days()
}

pub(crate) fn epoch0001() -> NaiveDate {
    NaiveDate::from_ymd_opt(1, 1, 1).expect("valid date")
}

pub(crate) fn epoch1900() -> NaiveDate {
    NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid date")
}

/// Bytes of a `time(scale)` value.
pub(crate) fn time_len(scale: u8) -> usize {
    match scale {
        0..=2 => 3,
        3..=4 => 4,
        _ => 5,
    }
}

fn decimal_len(precision: u8) -> u8 {
    match precision {
        0..=9 => 5,
        10..=19 => 9,
        20..=28 => 13,
        _ => 17,
    }
}

fn put_time(out: &mut Vec<u8>, t: NaiveTime, scale: u8) {
    let secs = u64::from(t.num_seconds_from_midnight());
    let nanos = u64::from(t.nanosecond().min(999_999_999));
    let units = secs * 10u64.pow(u32::from(scale)) + nanos / 10u64.pow(9 - u32::from(scale));
    out.extend_from_slice(&units.to_le_bytes()[..time_len(scale)]);
}

fn put_date(out: &mut Vec<u8>, d: NaiveDate) {
    let days = days_from(epoch0001(), d) as u32;
    out.extend_from_slice(&days.to_le_bytes()[..3]);
}

fn put_utf16(out: &mut Vec<u8>, s: &str) {
    for u in s.encode_utf16() {
        out.extend_from_slice(&u.to_le_bytes());
    }
}

/// A B_VARCHAR: a length in characters (one byte) and UTF-16LE text.
pub(crate) fn put_b_varchar(out: &mut Vec<u8>, s: &str) {
    let units: Vec<u16> = s.encode_utf16().take(255).collect();
    out.push(units.len() as u8);
    for u in units {
        out.extend_from_slice(&u.to_le_bytes());
    }
}

/// A US_VARCHAR: a length in characters (two bytes) and UTF-16LE text.
pub(crate) fn put_us_varchar(out: &mut Vec<u8>, s: &str) {
    let units: Vec<u16> = s.encode_utf16().take(65_535).collect();
    out.extend_from_slice(&(units.len() as u16).to_le_bytes());
    for u in units {
        out.extend_from_slice(&u.to_le_bytes());
    }
}

/// The GUID byte order on the wire: the first three groups little-endian.
pub(crate) fn guid_wire(bytes: [u8; 16]) -> [u8; 16] {
    let mut b = bytes;
    b[0..4].reverse();
    b[4..6].reverse();
    b[6..8].reverse();
    b
}

impl TdsType {
    /// Writes the TYPE_INFO of a result column.
    pub(crate) fn put_type_info(self, out: &mut Vec<u8>) {
        match self {
            TdsType::Bit => out.extend_from_slice(&[0x68, 1]),
            TdsType::TinyInt => out.extend_from_slice(&[0x26, 1]),
            TdsType::SmallInt => out.extend_from_slice(&[0x26, 2]),
            TdsType::Int => out.extend_from_slice(&[0x26, 4]),
            TdsType::BigInt => out.extend_from_slice(&[0x26, 8]),
            TdsType::Real => out.extend_from_slice(&[0x6D, 4]),
            TdsType::Float => out.extend_from_slice(&[0x6D, 8]),
            TdsType::Decimal { precision, scale } => {
                out.extend_from_slice(&[0x6A, decimal_len(precision), precision, scale])
            }
            TdsType::Money => out.extend_from_slice(&[0x6E, 8]),
            TdsType::NVarChar { max } => {
                out.push(0xE7);
                out.extend_from_slice(&if max { 0xFFFFu16 } else { 8000 }.to_le_bytes());
                out.extend_from_slice(&COLLATION);
            }
            TdsType::VarChar => {
                out.push(0xA7);
                out.extend_from_slice(&8000u16.to_le_bytes());
                out.extend_from_slice(&COLLATION);
            }
            TdsType::VarBinary { max } => {
                out.push(0xA5);
                out.extend_from_slice(&if max { 0xFFFFu16 } else { 8000 }.to_le_bytes());
            }
            TdsType::Guid => out.extend_from_slice(&[0x24, 16]),
            TdsType::Date => out.push(0x28),
            TdsType::Time(s) => out.extend_from_slice(&[0x29, s]),
            TdsType::DateTime2(s) => out.extend_from_slice(&[0x2A, s]),
            TdsType::DateTimeOffset(s) => out.extend_from_slice(&[0x2B, s]),
            TdsType::DateTime => out.extend_from_slice(&[0x6F, 8]),
        }
    }

    /// Writes a value of this type (as in a ROW). A value the type cannot hold is an
    /// error naming both.
    pub(crate) fn put_value(self, out: &mut Vec<u8>, v: &TdsValue) -> Result<(), String> {
        let mismatch = || Err(format!("a {v:?} value does not fit a {self:?} column"));
        match (self, v) {
            (
                TdsType::NVarChar { max: true } | TdsType::VarBinary { max: true },
                TdsValue::Null,
            ) => out.extend_from_slice(&u64::MAX.to_le_bytes()),
            (
                TdsType::NVarChar { .. } | TdsType::VarChar | TdsType::VarBinary { .. },
                TdsValue::Null,
            ) => out.extend_from_slice(&0xFFFFu16.to_le_bytes()),
            (_, TdsValue::Null) => out.push(0),
            (TdsType::Bit, TdsValue::Bit(b)) => out.extend_from_slice(&[1, u8::from(*b)]),
            (TdsType::Bit, TdsValue::Int(i)) => out.extend_from_slice(&[1, u8::from(*i != 0)]),
            (TdsType::TinyInt, TdsValue::Int(i)) => {
                out.push(1);
                out.push(u8::try_from(*i).map_err(|_| format!("{i} is not a tinyint"))?);
            }
            (TdsType::SmallInt, TdsValue::Int(i)) => {
                out.push(2);
                let v = i16::try_from(*i).map_err(|_| format!("{i} is not a smallint"))?;
                out.extend_from_slice(&v.to_le_bytes());
            }
            (TdsType::Int, TdsValue::Int(i)) => {
                out.push(4);
                let v = i32::try_from(*i).map_err(|_| format!("{i} is not an int"))?;
                out.extend_from_slice(&v.to_le_bytes());
            }
            (TdsType::BigInt, TdsValue::Int(i)) => {
                out.push(8);
                out.extend_from_slice(&i.to_le_bytes());
            }
            (TdsType::BigInt, TdsValue::Bit(b)) => {
                out.push(8);
                out.extend_from_slice(&i64::from(*b).to_le_bytes());
            }
            (TdsType::Real, TdsValue::Float(f)) => {
                out.push(4);
                out.extend_from_slice(&(*f as f32).to_le_bytes());
            }
            (TdsType::Float, TdsValue::Float(f)) => {
                out.push(8);
                out.extend_from_slice(&f.to_le_bytes());
            }
            (TdsType::Float, TdsValue::Int(i)) => {
                out.push(8);
                out.extend_from_slice(&(*i as f64).to_le_bytes());
            }
            (TdsType::Decimal { precision, scale }, TdsValue::Decimal { value, scale: s }) => {
                let value = rescale(*value, *s, scale)?;
                let len = decimal_len(precision);
                out.push(len);
                out.push(u8::from(value >= 0));
                let mag = value.unsigned_abs().to_le_bytes();
                out.extend_from_slice(&mag[..usize::from(len) - 1]);
            }
            (TdsType::Decimal { .. }, TdsValue::Int(i)) => {
                return self.put_value(
                    out,
                    &TdsValue::Decimal {
                        value: i128::from(*i),
                        scale: 0,
                    },
                );
            }
            (TdsType::Money, TdsValue::Decimal { value, scale }) => {
                let v = i64::try_from(rescale(*value, *scale, 4)?)
                    .map_err(|_| "the value does not fit money".to_owned())?;
                out.push(8);
                out.extend_from_slice(&((v >> 32) as i32).to_le_bytes());
                out.extend_from_slice(&(v as u32).to_le_bytes());
            }
            (TdsType::NVarChar { max: false }, TdsValue::Text(s)) => {
                let mut data = Vec::new();
                put_utf16(&mut data, s);
                if data.len() > 8000 {
                    return Err("text longer than nvarchar(4000)".to_owned());
                }
                out.extend_from_slice(&(data.len() as u16).to_le_bytes());
                out.extend_from_slice(&data);
            }
            (TdsType::VarChar, TdsValue::Text(s)) => {
                out.extend_from_slice(&(s.len() as u16).to_le_bytes());
                out.extend_from_slice(s.as_bytes());
            }
            (TdsType::NVarChar { max: true }, TdsValue::Text(s)) => {
                let mut data = Vec::new();
                put_utf16(&mut data, s);
                put_plp(out, &data);
            }
            (TdsType::VarBinary { max: false }, TdsValue::Binary(b)) => {
                if b.len() > 8000 {
                    return Err("binary longer than varbinary(8000)".to_owned());
                }
                out.extend_from_slice(&(b.len() as u16).to_le_bytes());
                out.extend_from_slice(b);
            }
            (TdsType::VarBinary { max: true }, TdsValue::Binary(b)) => put_plp(out, b),
            (TdsType::Guid, TdsValue::Guid(g)) => {
                out.push(16);
                out.extend_from_slice(&guid_wire(*g.as_bytes()));
            }
            (TdsType::Date, TdsValue::Date(d)) => {
                out.push(3);
                put_date(out, *d);
            }
            (TdsType::Time(s), TdsValue::Time(t)) => {
                out.push(time_len(s) as u8);
                put_time(out, *t, s);
            }
            (TdsType::DateTime2(s), TdsValue::DateTime(dt)) => {
                out.push(time_len(s) as u8 + 3);
                put_time(out, dt.time(), s);
                put_date(out, dt.date());
            }
            (TdsType::DateTimeOffset(s), TdsValue::DateTimeOffset(dt)) => {
                out.push(time_len(s) as u8 + 5);
                let utc = dt.naive_utc();
                put_time(out, utc.time(), s);
                put_date(out, utc.date());
                let minutes = (dt.offset().local_minus_utc() / 60) as i16;
                out.extend_from_slice(&minutes.to_le_bytes());
            }
            (TdsType::DateTime, TdsValue::DateTime(dt)) => {
                out.push(8);
                let days = days_from(epoch1900(), dt.date()) as i32;
                let t = dt.time();
                let ticks = u64::from(t.num_seconds_from_midnight()) * 300
                    + u64::from(t.nanosecond()) * 300 / 1_000_000_000;
                out.extend_from_slice(&days.to_le_bytes());
                out.extend_from_slice(&(ticks as u32).to_le_bytes());
            }
            _ => return mismatch(),
        }
        Ok(())
    }
}

fn rescale(value: i128, from: u8, to: u8) -> Result<i128, String> {
    if to >= from {
        value
            .checked_mul(10i128.pow(u32::from(to - from)))
            .ok_or_else(|| "the decimal overflows".to_owned())
    } else {
        let f = 10i128.pow(u32::from(from - to));
        if value % f != 0 {
            return Err(format!(
                "{} has more than {to} decimals",
                TdsValue::decimal_text(value, from)
            ));
        }
        Ok(value / f)
    }
}

/// A value of "max" type: total length, one chunk, terminator.
fn put_plp(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(&(data.len() as u64).to_le_bytes());
    if !data.is_empty() {
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
    }
    out.extend_from_slice(&0u32.to_le_bytes());
}

/// The `date` days of a chrono date, exposed for the engine's text forms.
pub(crate) fn iso_date(d: NaiveDate) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tds::decode::Cursor;

    fn round_trip(ty: TdsType, v: TdsValue) {
        let mut out = Vec::new();
        ty.put_type_info(&mut out);
        ty.put_value(&mut out, &v).unwrap();
        let (back_ty, back) = Cursor::new(&out).typed_value().unwrap();
        assert_eq!(back_ty, ty, "{v:?}");
        assert_eq!(back, v, "{ty:?}");
    }

    #[test]
    fn values_survive_the_wire() {
        let dt = NaiveDate::from_ymd_opt(2026, 11, 28)
            .unwrap()
            .and_hms_nano_opt(10, 30, 15, 123_456_700)
            .unwrap();
        for (ty, v) in [
            (TdsType::Bit, TdsValue::Bit(true)),
            (TdsType::Int, TdsValue::Int(-7)),
            (TdsType::BigInt, TdsValue::Int(i64::MIN)),
            (TdsType::Float, TdsValue::Float(0.1)),
            (
                TdsType::Decimal {
                    precision: 38,
                    scale: 10,
                },
                TdsValue::Decimal {
                    value: -123_456_789_012_345_678_901_234_567_890,
                    scale: 10,
                },
            ),
            (
                TdsType::Money,
                TdsValue::Decimal {
                    value: 9_223_372_036_854_775_807,
                    scale: 4,
                },
            ),
            (
                TdsType::NVarChar { max: false },
                TdsValue::Text("é'\"✓".into()),
            ),
            (
                TdsType::NVarChar { max: true },
                TdsValue::Text("x".repeat(10_000)),
            ),
            (
                TdsType::VarBinary { max: false },
                TdsValue::Binary(vec![0, 255]),
            ),
            (
                TdsType::Guid,
                TdsValue::Guid(Uuid::from_u128(0x0011_2233_4455_6677_8899_aabb_ccdd_eeff)),
            ),
            (TdsType::Date, TdsValue::Date(dt.date())),
            (TdsType::Time(7), TdsValue::Time(dt.time())),
            (TdsType::DateTime2(7), TdsValue::DateTime(dt)),
            (
                TdsType::DateTimeOffset(7),
                TdsValue::DateTimeOffset(DateTime::from_naive_utc_and_offset(
                    dt,
                    FixedOffset::east_opt(-5 * 3600).unwrap(),
                )),
            ),
            (TdsType::Int, TdsValue::Null),
            (TdsType::NVarChar { max: false }, TdsValue::Null),
            (TdsType::NVarChar { max: true }, TdsValue::Null),
        ] {
            round_trip(ty, v);
        }
        assert_eq!(TdsValue::decimal_text(-5, 3), "-0.005");
        assert_eq!(TdsValue::decimal_text(12300, 2), "123.00");
    }
}
