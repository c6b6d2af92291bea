//! Prompt version numbers: dotted numeric parts (`1.0`, `1.10`, `2.0.1`).
//!
//! Versions order numerically part by part, so `1.10` comes after `1.9` and `2.0` after
//! `1.10`; the latest version of a prompt is the highest one.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A prompt version such as `1.0` or `2.3.1`, ordered numerically by its dotted parts.
#[derive(Debug, Clone, Eq)]
pub struct Version {
    text: String,
    parts: Vec<u64>,
}

/// Why a string is not a version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid version `{text}`: expected dotted numbers such as `1.0` or `2.3.1`")]
pub struct VersionError {
    /// The rejected text.
    pub text: String,
}

impl Version {
    /// The numeric parts, e.g. `[1, 10]` for `1.10`.
    pub fn parts(&self) -> &[u64] {
        &self.parts
    }

    /// The version as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// `1.0`, the first version of a new prompt.
    pub fn first() -> Version {
        Version {
            text: "1.0".to_string(),
            parts: vec![1, 0],
        }
    }

    /// The next minor version: `1.0` → `1.1`, `1.9` → `1.10`, `2` → `2.1`.
    ///
    /// ```
    /// use ptrack::Version;
    /// let v: Version = "1.9".parse().unwrap();
    /// assert_eq!(v.next_minor().as_str(), "1.10");
    /// ```
    pub fn next_minor(&self) -> Version {
        let major = self.parts[0];
        let minor = self.parts.get(1).copied().unwrap_or(0).saturating_add(1);
        Version {
            text: format!("{major}.{minor}"),
            parts: vec![major, minor],
        }
    }
}

impl FromStr for Version {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || VersionError {
            text: s.to_string(),
        };
        if s.is_empty() || s.len() > 64 {
            return Err(err());
        }
        let parts = s
            .split('.')
            .map(|p| {
                if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                    Err(err())
                } else {
                    p.parse::<u64>().map_err(|_| err())
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Version {
            text: s.to_string(),
            parts,
        })
    }
}

/// Whether two version texts name the same version (`1.0` and `1.00`), as [`Version`]'s
/// equality says, without allocating; texts that are not versions must be equal as text.
///
/// ```
/// assert!(ptrack::version::same_version("1.0", "1.00"));
/// assert!(!ptrack::version::same_version("1", "1.0"));
/// ```
pub fn same_version(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    // What `Version::from_str` accepts.
    let valid = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.split('.').all(|p| {
                !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u64>().is_ok()
            })
    };
    if !valid(a) || !valid(b) {
        return false;
    }
    let mut pa = a.split('.');
    let mut pb = b.split('.');
    loop {
        match (pa.next(), pb.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) => {
                let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                if x != y {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

// Versions are equal when their numbers are (`1.01` is `1.1`), so `1.01.md` beside `1.1.md`
// is caught as one version defined twice.
impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.parts == other.parts
    }
}

impl std::hash::Hash for Version {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.parts.hash(state);
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.parts.cmp(&other.parts)
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

/// A version is written as its text: `"1.10"`.
#[cfg(feature = "schema")]
impl schemars::JsonSchema for Version {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Version".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A prompt version: dotted numbers such as `1.0` or `2.3.1`.",
            "type": "string",
            "pattern": r"^[0-9]+(\.[0-9]+)*$"
        })
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().expect("valid version in test")
    }

    #[test]
    fn orders_numerically_by_parts() {
        let mut vs: Vec<Version> = ["2.0", "1.10", "1.9", "1.0", "1.2.1", "1.2", "10.0"]
            .iter()
            .map(|s| v(s))
            .collect();
        vs.sort();
        let sorted: Vec<&str> = vs.iter().map(Version::as_str).collect();
        assert_eq!(
            sorted,
            ["1.0", "1.2", "1.2.1", "1.9", "1.10", "2.0", "10.0"]
        );
    }

    #[test]
    fn rejects_non_numeric_and_escapes() {
        for bad in [
            "", "1.", ".1", "1..2", "a", "1.0-beta", "../1", "1.0/..", "-1",
        ] {
            assert!(bad.parse::<Version>().is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn next_minor_increments_the_second_part() {
        assert_eq!(v("1.0").next_minor().as_str(), "1.1");
        assert_eq!(v("1.9").next_minor().as_str(), "1.10");
        assert_eq!(v("3").next_minor().as_str(), "3.1");
        assert_eq!(v("2.4.7").next_minor().as_str(), "2.5");
    }

    #[test]
    fn same_version_compares_texts_by_number() {
        assert!(same_version("1.0", "1.00"));
        assert!(same_version("01.1", "1.01"));
        assert!(same_version("2", "2"));
        assert!(!same_version("1", "1.0"));
        assert!(!same_version("1.0", "1.0.0"));
        assert!(!same_version("1.10", "1.1"));
        assert!(!same_version("x", "1.0"));
        // Equal to `Version`'s equality on every pair.
        for (a, b) in [
            ("1.0", "1.00"),
            ("1.2", "1.20"),
            ("0.0", "00.000"),
            ("3.1", "3.1.0"),
        ] {
            assert_eq!(same_version(a, b), v(a) == v(b), "{a} {b}");
        }
    }

    #[test]
    fn leading_zeros_name_the_same_version() {
        assert_eq!(v("1.01"), v("1.1"));
        assert_eq!(v("1.01").cmp(&v("1.1")), Ordering::Equal);
        assert_ne!(v("1"), v("1.0"));
    }
}
