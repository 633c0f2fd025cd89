//! Serde helpers for durations written as milliseconds (`timeout_ms = 500`).

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// Serialises a duration as whole milliseconds.
pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

/// Deserialises milliseconds (an integer, or a non-negative float).
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let ms = f64::deserialize(d)?;
    if !ms.is_finite() || ms < 0.0 {
        return Err(serde::de::Error::custom(format!(
            "a duration in milliseconds must be a non-negative number, not {ms}"
        )));
    }
    Ok(Duration::from_secs_f64(ms / 1000.0))
}
