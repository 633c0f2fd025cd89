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

fn epoch0001() -> NaiveDate {
    NaiveDate::from_ymd_opt(1, 1, 1).expect("valid date")
}

fn epoch1900() -> NaiveDate {
    NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid date")
}

/// Bytes of a `time(scale)` value.
fn time_len(scale: u8) -> usize {
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
fn guid_wire(bytes: [u8; 16]) -> [u8; 16] {
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

/// Reads values out of a request payload.
pub(crate) struct Cursor<'a> {
    pub data: &'a [u8],
    pub pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Cursor { data, pos: 0 }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.data.len())
            .ok_or_else(|| "the message ended early".to_owned())?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, String> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// UTF-16LE text of `chars` code units.
    pub(crate) fn utf16(&mut self, chars: usize) -> Result<String, String> {
        let b = self.take(chars * 2)?;
        let units: Vec<u16> = b
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16(&units).map_err(|_| "text is not valid UTF-16".to_owned())
    }

    pub(crate) fn b_varchar(&mut self) -> Result<String, String> {
        let n = usize::from(self.u8()?);
        self.utf16(n)
    }

    pub(crate) fn done(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// A parameter's TYPE_INFO and value (RPC), as clients send them.
    pub(crate) fn typed_value(&mut self) -> Result<(TdsType, TdsValue), String> {
        let code = self.u8()?;
        Ok(match code {
            // INTN, BITN, FLTN, MONEYN, GUID, DATETIMN: a max length, then length + bytes.
            0x26 | 0x68 | 0x6D | 0x6E | 0x24 | 0x6F => {
                let max = self.u8()?;
                let len = usize::from(self.u8()?);
                let ty = match (code, max) {
                    (0x26, 1) => TdsType::TinyInt,
                    (0x26, 2) => TdsType::SmallInt,
                    (0x26, 4) => TdsType::Int,
                    (0x26, _) => TdsType::BigInt,
                    (0x68, _) => TdsType::Bit,
                    (0x6D, 4) => TdsType::Real,
                    (0x6D, _) => TdsType::Float,
                    (0x6E, _) => TdsType::Money,
                    (0x24, _) => TdsType::Guid,
                    _ => TdsType::DateTime,
                };
                if len == 0 {
                    return Ok((ty, TdsValue::Null));
                }
                let b = self.take(len)?;
                let v = match ty {
                    TdsType::Bit => TdsValue::Bit(b[0] != 0),
                    TdsType::TinyInt | TdsType::SmallInt | TdsType::Int | TdsType::BigInt => {
                        let mut a = [0u8; 8];
                        a[..len].copy_from_slice(b);
                        let raw = i64::from_le_bytes(a);
                        // Sign-extend the shorter integers (tinyint is unsigned).
                        TdsValue::Int(match len {
                            1 => raw,
                            2 => i64::from(raw as i16),
                            4 => i64::from(raw as i32),
                            _ => raw,
                        })
                    }
                    TdsType::Real => {
                        TdsValue::Float(f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                    }
                    TdsType::Float => {
                        let mut a = [0u8; 8];
                        a.copy_from_slice(&b[..8]);
                        TdsValue::Float(f64::from_le_bytes(a))
                    }
                    TdsType::Money => {
                        let v = if len == 4 {
                            i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        } else {
                            let high = i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                            let low = i64::from(u32::from_le_bytes([b[4], b[5], b[6], b[7]]));
                            (high << 32) | low
                        };
                        TdsValue::Decimal {
                            value: i128::from(v),
                            scale: 4,
                        }
                    }
                    TdsType::Guid => {
                        let mut a = [0u8; 16];
                        a.copy_from_slice(b);
                        TdsValue::Guid(Uuid::from_bytes(guid_wire(a)))
                    }
                    _ => {
                        let days = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                        let ticks = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
                        let date = epoch1900() + chrono::Duration::days(i64::from(days));
                        let nanos = u64::from(ticks) * 1_000_000_000 / 300;
                        let time = NaiveTime::from_num_seconds_from_midnight_opt(
                            (nanos / 1_000_000_000) as u32,
                            (nanos % 1_000_000_000) as u32,
                        )
                        .ok_or("bad datetime")?;
                        TdsValue::DateTime(date.and_time(time))
                    }
                };
                (ty, v)
            }
            // DECIMALN, NUMERICN
            0x6A | 0x6C => {
                let _max = self.u8()?;
                let precision = self.u8()?;
                let scale = self.u8()?;
                let len = usize::from(self.u8()?);
                let ty = TdsType::Decimal { precision, scale };
                if len == 0 {
                    return Ok((ty, TdsValue::Null));
                }
                let b = self.take(len)?;
                let mut a = [0u8; 16];
                a[..len - 1].copy_from_slice(&b[1..]);
                let mag = i128::from_le_bytes(a);
                let value = if b[0] == 0 { -mag } else { mag };
                (ty, TdsValue::Decimal { value, scale })
            }
            // NVARCHAR, NCHAR, BIGVARCHAR, BIGCHAR (with collation); BIGVARBIN, BIGBINARY.
            0xE7 | 0xEF | 0xA7 | 0xAF | 0xA5 | 0xAD => {
                let max = self.u16()?;
                let text = matches!(code, 0xE7 | 0xEF | 0xA7 | 0xAF);
                if text {
                    self.take(5)?; // collation
                }
                let wide = matches!(code, 0xE7 | 0xEF);
                let plp = max == 0xFFFF;
                let ty = match code {
                    0xE7 | 0xEF => TdsType::NVarChar { max: plp },
                    0xA7 | 0xAF => TdsType::VarChar,
                    _ => TdsType::VarBinary { max: plp },
                };
                let bytes = if plp {
                    self.plp()?
                } else {
                    let len = self.u16()?;
                    if len == 0xFFFF {
                        None
                    } else {
                        Some(self.take(usize::from(len))?.to_vec())
                    }
                };
                let Some(bytes) = bytes else {
                    return Ok((ty, TdsValue::Null));
                };
                let v = if wide {
                    TdsValue::Text(Cursor::new(&bytes).utf16(bytes.len() / 2)?)
                } else if text {
                    TdsValue::Text(String::from_utf8_lossy(&bytes).into_owned())
                } else {
                    TdsValue::Binary(bytes)
                };
                (ty, v)
            }
            // NULLTYPE: a NULL whose type only the declaration names (tiberius sends
            // untyped string NULLs so).
            0x1F => (TdsType::NVarChar { max: false }, TdsValue::Null),
            // NTEXT / TEXT / IMAGE (python-tds sends long strings this way).
            0x63 | 0x23 | 0x22 => {
                let _max = self.u32()?;
                if code != 0x22 {
                    self.take(5)?;
                }
                let len = self.u32()?;
                let ty = match code {
                    0x22 => TdsType::VarBinary { max: true },
                    _ => TdsType::NVarChar { max: true },
                };
                if len == 0xFFFF_FFFF {
                    return Ok((ty, TdsValue::Null));
                }
                let b = self.take(len as usize)?;
                let v = match code {
                    0x63 => TdsValue::Text(Cursor::new(b).utf16(b.len() / 2)?),
                    0x23 => TdsValue::Text(String::from_utf8_lossy(b).into_owned()),
                    _ => TdsValue::Binary(b.to_vec()),
                };
                (ty, v)
            }
            0x28 => {
                let len = self.u8()?;
                if len == 0 {
                    return Ok((TdsType::Date, TdsValue::Null));
                }
                (TdsType::Date, TdsValue::Date(self.date()?))
            }
            0x29..=0x2B => {
                let scale = self.u8()?;
                let len = self.u8()?;
                let ty = match code {
                    0x29 => TdsType::Time(scale),
                    0x2A => TdsType::DateTime2(scale),
                    _ => TdsType::DateTimeOffset(scale),
                };
                if len == 0 {
                    return Ok((ty, TdsValue::Null));
                }
                let time = self.time(scale)?;
                let v = match code {
                    0x29 => TdsValue::Time(time),
                    0x2A => TdsValue::DateTime(self.date()?.and_time(time)),
                    _ => {
                        let utc = self.date()?.and_time(time);
                        let minutes = self.u16()? as i16;
                        let offset =
                            FixedOffset::east_opt(i32::from(minutes) * 60).ok_or("bad offset")?;
                        TdsValue::DateTimeOffset(DateTime::from_naive_utc_and_offset(utc, offset))
                    }
                };
                (ty, v)
            }
            other => {
                return Err(format!(
                    "parameter type 0x{other:02X} is not supported by the test server"
                ));
            }
        })
    }

    fn plp(&mut self) -> Result<Option<Vec<u8>>, String> {
        let total = self.u64()?;
        if total == u64::MAX {
            return Ok(None);
        }
        let mut out = Vec::new();
        loop {
            let n = self.u32()? as usize;
            if n == 0 {
                return Ok(Some(out));
            }
            out.extend_from_slice(self.take(n)?);
        }
    }

    fn date(&mut self) -> Result<NaiveDate, String> {
        let b = self.take(3)?;
        let days = u32::from_le_bytes([b[0], b[1], b[2], 0]);
        Ok(epoch0001() + chrono::Duration::days(i64::from(days)))
    }

    fn time(&mut self, scale: u8) -> Result<NaiveTime, String> {
        let len = time_len(scale);
        let b = self.take(len)?;
        let mut a = [0u8; 8];
        a[..len].copy_from_slice(b);
        let units = u64::from_le_bytes(a);
        let per_sec = 10u64.pow(u32::from(scale));
        let secs = units / per_sec;
        let nanos = (units % per_sec) * 10u64.pow(9 - u32::from(scale));
        NaiveTime::from_num_seconds_from_midnight_opt(secs as u32, nanos as u32)
            .ok_or_else(|| "bad time".to_owned())
    }
}

/// The `date` days of a chrono date, exposed for the engine's text forms.
pub(crate) fn iso_date(d: NaiveDate) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
}

#[cfg(test)]
mod tests {
    use super::*;

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
