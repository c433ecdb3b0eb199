//! Timestamps as Connect writes them.
//!
//! Contact records carry second precision (`2022-04-08T15:00:49Z`), agent events and
//! EventBridge details carry milliseconds (`2019-05-25T18:43:59.049Z`). Both parse into
//! [`Timestamp`], which keeps the instant as epoch milliseconds for arithmetic and
//! remembers how it was written, so a decoded record re-encodes byte-for-byte.
//!
//! The parser is hand-written rather than pulled from a date crate: it is on the hot path
//! of every decode (a contact record has a dozen timestamps) and only has to understand
//! RFC 3339.

use std::fmt;
use std::num::NonZeroU8;
use std::str::FromStr;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// An instant, in epoch milliseconds, plus how it was written.
#[derive(Clone, Copy)]
pub struct Timestamp {
    millis: i64,
    /// Nanoseconds below the millisecond, for inputs with more than 3 fraction digits.
    sub_milli_nanos: u32,
    /// Number of fraction digits written (0 for `...:49Z`, 3 for `...:49.049Z`), plus
    /// one: a `NonZeroU8` gives `Option<Timestamp>` a niche, so it stays 16 bytes too.
    frac: NonZeroU8,
    /// UTC offset in minutes as written, or [`ZULU`] for the `Z` suffix. (A plain `i16`
    /// rather than an `Option` keeps the type at 16 bytes: the engine holds millions.)
    offset_minutes: i16,
}

/// The stored form of a number of fraction digits (0 to 9).
const fn digits_tag(digits: u8) -> NonZeroU8 {
    match NonZeroU8::new(digits + 1) {
        Some(n) => n,
        None => NonZeroU8::MIN,
    }
}

/// `offset_minutes` of a timestamp written with `Z`.
const ZULU: i16 = i16::MIN;

/// Connect writes this for "unset" in some EventBridge details (CONTACT_DATA_UPDATED).
const EPOCH_SENTINEL_MILLIS: i64 = 1;

impl Timestamp {
    /// A UTC timestamp written with millisecond precision (agent events, contact events).
    pub fn from_millis(millis: i64) -> Self {
        Self {
            millis,
            sub_milli_nanos: 0,
            frac: digits_tag(3),
            offset_minutes: ZULU,
        }
    }

    /// Whether this is written as [`Timestamp::from_millis`] writes it: UTC (`Z`), three
    /// fraction digits, nothing below the millisecond.
    pub fn is_plain_millis(&self) -> bool {
        self.frac == digits_tag(3) && self.sub_milli_nanos == 0 && self.offset_minutes == ZULU
    }

    /// A UTC timestamp written with second precision (contact records). Sub-second
    /// milliseconds are truncated.
    pub fn from_secs(secs: i64) -> Self {
        Self {
            millis: secs * 1000,
            sub_milli_nanos: 0,
            frac: digits_tag(0),
            offset_minutes: ZULU,
        }
    }

    /// Same instant, written with second precision (`...:49Z`), as in contact records.
    pub fn to_second_precision(self) -> Self {
        Self::from_secs(self.millis.div_euclid(1000))
    }

    /// Epoch milliseconds.
    pub fn millis(self) -> i64 {
        self.millis
    }

    /// Epoch seconds (floor).
    pub fn secs(self) -> i64 {
        self.millis.div_euclid(1000)
    }

    /// True for the `1970-01-01T00:00:00.001Z` (or epoch zero) placeholder that Connect
    /// writes for a timestamp that is not set. Treat such a value as absent.
    pub fn is_unset(self) -> bool {
        (0..=EPOCH_SENTINEL_MILLIS).contains(&self.millis)
    }

    /// `None` for the unset placeholder, the timestamp otherwise.
    pub fn get(self) -> Option<Self> {
        (!self.is_unset()).then_some(self)
    }

    /// Parses RFC 3339 (`YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`); a space may stand for
    /// the `T`, and `z`/`t` are accepted in lower case.
    pub fn parse(s: &str) -> Result<Self, TimestampError> {
        parse_rfc3339(s.as_bytes()).ok_or_else(|| TimestampError(s.chars().take(64).collect()))
    }

    /// Writes the timestamp back in the form it was read.
    fn write_to(&self, out: &mut impl fmt::Write) -> fmt::Result {
        let offset = (self.offset_minutes != ZULU).then_some(self.offset_minutes);
        let offset_ms = i64::from(offset.unwrap_or(0)) * 60_000;
        let local = self.millis + offset_ms;
        let days = local.div_euclid(86_400_000);
        let ms_of_day = local.rem_euclid(86_400_000);
        let (y, m, d) = civil_from_days(days);
        let secs = ms_of_day / 1000;
        write!(
            out,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )?;
        let frac_digits = self.frac.get() - 1;
        if frac_digits > 0 {
            let nanos = (ms_of_day % 1000) as u64 * 1_000_000 + u64::from(self.sub_milli_nanos);
            let digits = format!("{nanos:09}");
            let n = usize::from(frac_digits.min(9));
            out.write_char('.')?;
            out.write_str(&digits[..n])?;
        }
        match offset {
            None => out.write_char('Z'),
            Some(off) => {
                let sign = if off < 0 { '-' } else { '+' };
                let a = off.unsigned_abs();
                write!(out, "{sign}{:02}:{:02}", a / 60, a % 60)
            }
        }
    }
}

impl PartialEq for Timestamp {
    fn eq(&self, other: &Self) -> bool {
        self.millis == other.millis && self.sub_milli_nanos == other.sub_milli_nanos
    }
}
impl Eq for Timestamp {}
impl PartialOrd for Timestamp {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Timestamp {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.millis, self.sub_milli_nanos).cmp(&(other.millis, other.sub_milli_nanos))
    }
}
impl std::hash::Hash for Timestamp {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (self.millis, self.sub_milli_nanos).hash(state)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_to(f)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_to(f)
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// A string that is not an RFC 3339 timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an RFC 3339 timestamp: {0:?}")]
pub struct TimestampError(pub String);

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = String::with_capacity(32);
        // Writing into a String cannot fail.
        let _ = self.write_to(&mut buf);
        s.serialize_str(&buf)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 timestamp string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
                Timestamp::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    let mut n = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u32::from(c - b'0');
    }
    Some(n)
}

fn parse_rfc3339(b: &[u8]) -> Option<Timestamp> {
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let year = digits(&b[0..4])? as i64;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    // 60 is a leap second; fold it onto :59 as most systems do.
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac_digits = 0u8;
    let mut nanos = 0u64;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                nanos = nanos * 10 + u64::from(b[i] - b'0');
            }
            i += 1;
        }
        let n = i - start;
        if n == 0 || n > 9 {
            return None;
        }
        nanos *= 10u64.pow(9 - n as u32);
        frac_digits = n as u8;
    }
    let offset_minutes = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => None,
        s @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let h = digits(&b[i + 1..i + 3])?;
            let m = digits(&b[i + 4..i + 6])?;
            if h > 23 || m > 59 {
                return None;
            }
            let off = (h * 60 + m) as i16;
            Some(if *s == b'-' { -off } else { off })
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second.min(59));
    let local_ms = secs * 1000 + (nanos / 1_000_000) as i64;
    let millis = local_ms - i64::from(offset_minutes.unwrap_or(0)) * 60_000;
    Some(Timestamp {
        millis,
        sub_milli_nanos: (nanos % 1_000_000) as u32,
        frac: digits_tag(frac_digits),
        offset_minutes: offset_minutes.unwrap_or(ZULU),
    })
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number since 1970-01-01.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_and_millisecond_forms_round_trip() {
        for s in [
            "2022-04-08T15:00:49Z",
            "2019-05-25T18:43:59.049Z",
            "1970-01-01T00:00:00.001Z",
            "2024-02-29T23:59:59.999999Z",
            "2021-08-11T07:43:00+02:00",
            "1969-12-31T23:59:59.5-05:30",
        ] {
            let t = Timestamp::parse(s).unwrap();
            assert_eq!(t.to_string(), s);
        }
    }

    #[test]
    fn instants_compare_across_precisions_and_offsets() {
        let a = Timestamp::parse("2022-04-08T15:00:49Z").unwrap();
        let b = Timestamp::parse("2022-04-08T15:00:49.000Z").unwrap();
        let c = Timestamp::parse("2022-04-08T17:00:49+02:00").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(a.millis(), 1_649_430_049_000);
        assert!(Timestamp::parse("2022-04-08T15:00:49.001Z").unwrap() > a);
    }

    #[test]
    fn rejects_what_is_not_a_timestamp() {
        for s in [
            "",
            "2022-04-08",
            "2022-13-08T15:00:49Z",
            "2022-02-30T15:00:49Z",
            "2022-04-08T25:00:49Z",
            "2022-04-08T15:00:49",
            "2022-04-08T15:00:49.Z",
            "2022-04-08T15:00:49Zjunk",
            "２０22-04-08T15:00:49Z",
        ] {
            assert!(Timestamp::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn sixteen_bytes() {
        assert_eq!(std::mem::size_of::<Timestamp>(), 16);
        assert_eq!(std::mem::size_of::<Option<Timestamp>>(), 16);
    }

    #[test]
    fn epoch_sentinel_is_unset() {
        assert!(Timestamp::parse("1970-01-01T00:00:00.001Z")
            .unwrap()
            .get()
            .is_none());
        assert!(Timestamp::parse("2021-01-01T00:00:00.001Z")
            .unwrap()
            .get()
            .is_some());
    }

    #[test]
    fn civil_conversion_agrees_over_a_long_range() {
        for days in (-800_000..800_000).step_by(7) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
