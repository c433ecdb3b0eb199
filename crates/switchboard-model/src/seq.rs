//! Kinesis sequence numbers: decimal strings of up to 128 digits. They exceed every
//! machine integer and must never pass through a float, so they stay strings and compare
//! numerically (by length once leading zeros are gone, then lexicographically).

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A Kinesis sequence number, ordered as the big integer it is.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SequenceNumber(String);

impl SequenceNumber {
    /// Wraps a decimal string. Returns `None` unless it is 1 to 128 ASCII digits.
    pub fn new(s: impl Into<String>) -> Option<Self> {
        let s = s.into();
        (!s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_digit()))
            .then_some(Self(s))
    }

    /// The digits as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn significant(&self) -> &str {
        let t = self.0.trim_start_matches('0');
        if t.is_empty() {
            "0"
        } else {
            t
        }
    }
}

impl Ord for SequenceNumber {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (self.significant(), other.significant());
        a.len().cmp(&b.len()).then_with(|| a.cmp(b))
    }
}

impl PartialOrd for SequenceNumber {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for SequenceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SequenceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_as_big_integers() {
        let s = |x: &str| SequenceNumber::new(x).unwrap();
        assert!(
            s("49568167373333333334444444444444444444444444444444444444")
                > s("49568167373333333333333333333333333333333333333333333333")
        );
        assert!(s("9") < s("10"));
        assert_eq!(s("007").cmp(&s("7")), Ordering::Equal);
        assert!(SequenceNumber::new("12a").is_none());
        assert!(SequenceNumber::new("").is_none());
    }
}
