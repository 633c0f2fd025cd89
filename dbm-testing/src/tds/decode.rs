//! Reading TDS data: a cursor over a message with the primitive reads, and a typed value
//! (TYPE_INFO then the value, as RPC parameters carry them) into a `TdsValue`.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime};
use uuid::Uuid;

use super::types::{TdsType, TdsValue, epoch0001, epoch1900, guid_wire, time_len};

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
