//! Dotted migration versions, compared part by part.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use dbm_core::{Error, ErrorKind, Result};

/// A migration version such as `1`, `1.2` or `2026.11.28.1`.
///
/// Parts compare as numbers (`1.10 > 1.9`), leading zeros do not count (`001 == 1`) and
/// neither do trailing zero parts (`1.0 == 1`). `_` may stand for `.` (as in Flyway).
///
/// ```
/// use dbm_migrate::Version;
/// let v = |s: &str| s.parse::<Version>().unwrap();
/// assert!(v("1.10") > v("1.9"));
/// assert_eq!(v("001"), v("1"));
/// assert_eq!(v("1.0"), v("1"));
/// assert_eq!(v("2_1").to_string(), "2.1");
/// ```
#[derive(Clone, Debug)]
pub struct Version {
    parts: Vec<u64>,
}

impl Version {
    /// The numeric parts, trailing zeros removed.
    pub fn parts(&self) -> &[u64] {
        &self.parts
    }

    /// The first part (used by `new` to number the next file).
    pub fn major(&self) -> u64 {
        self.parts.first().copied().unwrap_or(0)
    }

    fn significant(&self) -> &[u64] {
        let end = self
            .parts
            .iter()
            .rposition(|&p| p != 0)
            .map_or(0, |i| i + 1);
        &self.parts[..end]
    }
}

impl FromStr for Version {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let parts: std::result::Result<Vec<u64>, _> = s
            .split(['.', '_'])
            .map(|p| {
                if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                    Err(())
                } else {
                    p.parse::<u64>().map_err(|_| ())
                }
            })
            .collect();
        match parts {
            Ok(parts) if !parts.is_empty() => Ok(Version { parts }),
            _ => Err(Error::new(
                ErrorKind::Migration,
                format!(
                    "`{s}` is not a version: use numbers separated by dots, e.g. 1, 1.1, 2026.11.28"
                ),
            )),
        }
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.significant() == other.significant()
    }
}

impl Eq for Version {}

impl std::hash::Hash for Version {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.significant().hash(state);
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.significant().cmp(other.significant())
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts = if self.significant().is_empty() {
            &self.parts[..1]
        } else {
            self.significant()
        };
        let text: Vec<String> = parts.iter().map(u64::to_string).collect();
        f.write_str(&text.join("."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn ordering_is_numeric_per_part() {
        let mut vs: Vec<Version> = ["2", "1.10", "1.9", "1", "1.2.1", "10", "1.2"]
            .iter()
            .map(|s| v(s))
            .collect();
        vs.sort();
        let shown: Vec<String> = vs.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["1", "1.2", "1.2.1", "1.9", "1.10", "2", "10"]);
    }

    #[test]
    fn equal_forms() {
        assert_eq!(v("1.0.0"), v("1"));
        assert_eq!(v("01.002"), v("1.2"));
        assert_eq!(v("0").to_string(), "0");
        assert_ne!(v("1.0.1"), v("1.1"));
    }

    #[test]
    fn malformed() {
        for s in ["", "1.", ".1", "1..2", "a", "1a", "-1", "1 2"] {
            assert!(s.parse::<Version>().is_err(), "{s}");
        }
    }
}
