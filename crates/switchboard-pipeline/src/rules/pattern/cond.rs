//! Match conditions: one element of a field's array in a pattern, compiled, and the test
//! of one event value against it. [`super::parse`] builds them; the matcher in
//! [`super`] calls [`Cond::matches`] on every leaf value the event has at the field's path.
//!
//! What each condition accepts follows EventBridge's engine (the open-source
//! `aws/event-ruler`, whose `ByteMachine` decides how a value is tried): string
//! operators see strings only; `numeric` sees numbers only; an exact number matches an
//! equal number however it is written (`300`, `300.0`, `3e2`); an exact string that is an
//! IP address matches the same address however it is written; `anything-but` matches
//! every value it does not exclude, values of other types included.

use std::net::{Ipv4Addr, Ipv6Addr};

use serde_json::{Number, Value};

/// One compiled match condition.
#[derive(Debug, Clone)]
pub(super) enum Cond {
    /// An exact string; `ip` when it is an IP address literal (then any spelling of the
    /// same address matches too, as in EventBridge).
    Str {
        text: Box<str>,
        ip: Option<Ip>,
    },
    /// An exact number, compared by value.
    Num(Number),
    Bool(bool),
    Null,
    Prefix(Box<str>),
    Suffix(Box<str>),
    PrefixFold(Folded),
    SuffixFold(Folded),
    EqualsFold(Folded),
    Wildcard(Glob),
    Numeric(Range),
    Cidr(IpRange),
    /// `{"exists": true}`: any leaf value, `null` included.
    Exists,
    AnythingBut(AnythingBut),
}

impl Cond {
    /// An exact string condition.
    pub(super) fn string(text: &str) -> Cond {
        Cond::Str {
            text: text.into(),
            ip: parse_ip(text),
        }
    }

    /// Whether one leaf value of the event satisfies the condition.
    pub(super) fn matches(&self, value: &Value) -> bool {
        match self {
            Cond::Str { text, ip } => match value {
                Value::String(s) => {
                    s.as_str() == &**text || ip.is_some_and(|ip| parse_ip(s) == Some(ip))
                }
                _ => false,
            },
            Cond::Num(n) => matches!(value, Value::Number(v) if num_eq(n, v)),
            Cond::Bool(b) => matches!(value, Value::Bool(v) if v == b),
            Cond::Null => value.is_null(),
            Cond::Prefix(p) => string(value).is_some_and(|s| s.starts_with(&**p)),
            Cond::Suffix(p) => string(value).is_some_and(|s| s.ends_with(&**p)),
            Cond::PrefixFold(f) => string(value).is_some_and(|s| f.is_prefix_of(s)),
            Cond::SuffixFold(f) => string(value).is_some_and(|s| f.is_suffix_of(s)),
            Cond::EqualsFold(f) => string(value).is_some_and(|s| f.equals(s)),
            Cond::Wildcard(g) => string(value).is_some_and(|s| g.matches(s)),
            Cond::Numeric(r) => number(value).is_some_and(|x| r.contains(x)),
            Cond::Cidr(r) => string(value)
                .and_then(parse_ip)
                .is_some_and(|ip| r.contains(ip)),
            Cond::Exists => true,
            Cond::AnythingBut(a) => a.matches(value),
        }
    }
}

/// `{"anything-but": ...}`: every value except those it names.
#[derive(Debug, Clone)]
pub(super) enum AnythingBut {
    /// Excludes these strings; numbers, booleans and `null` still match.
    Strings(Vec<Box<str>>),
    /// Excludes these numbers (by value); strings, booleans and `null` still match.
    Numbers(Vec<Number>),
    /// Excludes strings starting with one of these; other types still match.
    Prefixes(Vec<Box<str>>),
    Suffixes(Vec<Box<str>>),
    EqualsFold(Vec<Folded>),
    Wildcards(Vec<Glob>),
}

impl AnythingBut {
    fn matches(&self, value: &Value) -> bool {
        match (self, value) {
            (AnythingBut::Strings(set), Value::String(s)) => !set.iter().any(|x| **x == **s),
            (AnythingBut::Numbers(set), Value::Number(n)) => !set.iter().any(|x| num_eq(x, n)),
            (AnythingBut::Prefixes(set), Value::String(s)) => {
                !set.iter().any(|p| s.starts_with(&**p))
            }
            (AnythingBut::Suffixes(set), Value::String(s)) => {
                !set.iter().any(|p| s.ends_with(&**p))
            }
            (AnythingBut::EqualsFold(set), Value::String(s)) => !set.iter().any(|f| f.equals(s)),
            (AnythingBut::Wildcards(set), Value::String(s)) => !set.iter().any(|g| g.matches(s)),
            // A value of another type is not among the excluded ones.
            _ => true,
        }
    }
}

fn string(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => Some(s),
        _ => None,
    }
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => exact_f64(n),
        _ => None,
    }
}

/// The number as a 64-bit float, if it is exactly one. EventBridge compares numbers as
/// IEEE-754 doubles and refuses (in patterns) or ignores (in events) those that are not
/// exactly representable, such as integers above 2^53 that a double would round.
pub(super) fn exact_f64(n: &Number) -> Option<f64> {
    if let Some(i) = n.as_i64() {
        let f = i as f64;
        return (f as i128 == i128::from(i)).then_some(f);
    }
    if let Some(u) = n.as_u64() {
        let f = u as f64;
        return (f as u128 == u128::from(u)).then_some(f);
    }
    n.as_f64().filter(|f| f.is_finite())
}

/// Numeric equality: integers exactly, otherwise as doubles (so `300`, `300.0` and `3e2`
/// are equal, as in EventBridge).
pub(super) fn num_eq(a: &Number, b: &Number) -> bool {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return x == y;
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return x == y;
    }
    match (exact_f64(a), exact_f64(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// A numeric range; a bound is `(value, open)`, open meaning strict (`>` or `<`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Range {
    pub(super) low: Option<(f64, bool)>,
    pub(super) high: Option<(f64, bool)>,
}

impl Range {
    fn contains(&self, x: f64) -> bool {
        let above = match self.low {
            None => true,
            Some((b, true)) => x > b,
            Some((b, false)) => x >= b,
        };
        let below = match self.high {
            None => true,
            Some((b, true)) => x < b,
            Some((b, false)) => x <= b,
        };
        above && below
    }
}

/// A string compared ignoring case the way EventBridge does: each character of the
/// pattern matches its lower-case or its upper-case form (which may be longer: the
/// upper case of `ß` is `SS`).
#[derive(Debug, Clone)]
pub(super) struct Folded {
    units: Vec<Unit>,
}

#[derive(Debug, Clone)]
struct Unit {
    lower: Box<str>,
    /// `None` when the upper-case form is the lower-case one.
    upper: Option<Box<str>>,
}

impl Unit {
    fn forms(&self) -> impl Iterator<Item = &str> {
        std::iter::once(&*self.lower).chain(self.upper.as_deref())
    }
}

impl Folded {
    pub(super) fn new(text: &str) -> Folded {
        let units = text
            .chars()
            .map(|c| {
                let lower: String = c.to_lowercase().collect();
                let upper: String = c.to_uppercase().collect();
                Unit {
                    upper: (upper != lower).then(|| upper.into()),
                    lower: lower.into(),
                }
            })
            .collect();
        Folded { units }
    }

    fn equals(&self, s: &str) -> bool {
        forward(&self.units, s, true)
    }

    fn is_prefix_of(&self, s: &str) -> bool {
        forward(&self.units, s, false)
    }

    fn is_suffix_of(&self, s: &str) -> bool {
        backward(&self.units, s)
    }
}

/// Matches `units` at the start of `s` (and to its end when `whole`). A unit whose two
/// forms both fit (one a prefix of the other) tries both; otherwise the walk is linear.
fn forward(units: &[Unit], s: &str, whole: bool) -> bool {
    let mut rest = s;
    for (i, unit) in units.iter().enumerate() {
        let mut fits = unit.forms().filter(|f| rest.starts_with(f));
        let Some(first) = fits.next() else {
            return false;
        };
        if let Some(second) = fits.next() {
            if first.len() != second.len() {
                let tail = &units[i + 1..];
                return forward(tail, &rest[first.len()..], whole)
                    || forward(tail, &rest[second.len()..], whole);
            }
        }
        rest = &rest[first.len()..];
    }
    !whole || rest.is_empty()
}

/// Matches `units` at the end of `s`, walking backwards.
fn backward(units: &[Unit], s: &str) -> bool {
    let mut rest = s;
    for (i, unit) in units.iter().enumerate().rev() {
        let mut fits = unit.forms().filter(|f| rest.ends_with(f));
        let Some(first) = fits.next() else {
            return false;
        };
        if let Some(second) = fits.next() {
            if first.len() != second.len() {
                let head = &units[..i];
                return backward(head, &rest[..rest.len() - first.len()])
                    || backward(head, &rest[..rest.len() - second.len()]);
            }
        }
        rest = &rest[..rest.len() - first.len()];
    }
    true
}

/// A `wildcard` value: literal parts between the `*`s (`a*b*c` is `["a", "b", "c"]`,
/// `*x` is `["", "x"]`).
#[derive(Debug, Clone)]
pub(super) struct Glob {
    parts: Vec<Box<str>>,
}

impl Glob {
    /// Parses EventBridge's wildcard syntax: `*` matches any run of characters, `\*` is a
    /// literal star and `\\` a literal backslash; `**` and any other escape are refused.
    pub(super) fn parse(text: &str) -> Result<Glob, String> {
        let mut parts = vec![String::new()];
        let mut chars = text.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match c {
                '*' => {
                    if matches!(chars.peek(), Some((_, '*'))) {
                        return Err(format!(
                            "consecutive `*` at byte {at}: EventBridge refuses `**`; one `*` \
                             already matches any run of characters (escape a literal star as `\\*`)"
                        ));
                    }
                    parts.push(String::new());
                }
                '\\' => match chars.next() {
                    Some((_, escaped @ ('*' | '\\'))) => push(&mut parts, escaped),
                    _ => {
                        return Err(format!(
                            "`\\` at byte {at} escapes only `*` or `\\`: write `\\*` for a \
                             literal star and `\\\\` for a literal backslash"
                        ))
                    }
                },
                other => push(&mut parts, other),
            }
        }
        Ok(Glob {
            parts: parts.into_iter().map(String::into_boxed_str).collect(),
        })
    }

    fn matches(&self, s: &str) -> bool {
        let (first, last) = match self.parts.as_slice() {
            [] => return s.is_empty(),
            [only] => return s == &**only,
            [first, .., last] => (&**first, &**last),
        };
        if s.len() < first.len() + last.len() || !s.starts_with(first) || !s.ends_with(last) {
            return false;
        }
        // Both ends are char boundaries: `s` starts with `first` and ends with `last`.
        let mut middle = &s[first.len()..s.len() - last.len()];
        // With only `*` as a wildcard, taking each middle part at its leftmost place is
        // never worse than a later one, so no backtracking is needed.
        for part in &self.parts[1..self.parts.len() - 1] {
            match middle.find(&**part) {
                Some(at) => middle = &middle[at + part.len()..],
                None => return false,
            }
        }
        true
    }
}

fn push(parts: &mut [String], c: char) {
    if let Some(last) = parts.last_mut() {
        last.push(c);
    }
}

/// An IP address as EventBridge reads it: IPv4 as four dotted decimal numbers, IPv6 as hex
/// and colons, an IPv4-mapped IPv6 address (`::ffff:a00:1`) as the IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ip {
    V4(u32),
    V6(u128),
}

/// The address in `s`, if `s` is an IP address literal and nothing else.
pub(super) fn parse_ip(s: &str) -> Option<Ip> {
    let bytes = s.as_bytes();
    if !bytes.is_empty() && bytes.iter().all(|b| b.is_ascii_digit() || *b == b'.') {
        if bytes.iter().filter(|b| **b == b'.').count() != 3 {
            return None;
        }
        return s.parse::<Ipv4Addr>().ok().map(|a| Ip::V4(a.to_bits()));
    }
    if bytes.contains(&b':') && bytes.iter().all(|b| b.is_ascii_hexdigit() || *b == b':') {
        let a = s.parse::<Ipv6Addr>().ok()?;
        return Some(match a.to_ipv4_mapped() {
            Some(v4) => Ip::V4(v4.to_bits()),
            None => Ip::V6(a.to_bits()),
        });
    }
    None
}

/// The addresses of a CIDR block, bounds included.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct IpRange {
    low: Ip,
    high: Ip,
}

impl IpRange {
    /// Parses `address/bits`. As in EventBridge, the mask is below 32 (IPv4) or 128
    /// (IPv6): a single address is written as a plain string.
    pub(super) fn parse(cidr: &str) -> Result<IpRange, String> {
        let mut halves = cidr.split('/');
        let (Some(address), Some(bits), None) = (halves.next(), halves.next(), halves.next())
        else {
            return Err(format!(
                "{cidr:?} is not a CIDR block: write an address, one `/` and the number of \
                 fixed bits, like \"10.0.0.0/24\" or \"2001:db8::/32\""
            ));
        };
        let bits: u32 = bits.parse().map_err(|_| {
            format!("the mask in {cidr:?} must be a whole number of bits, like /24")
        })?;
        let Some(ip) = parse_ip(address) else {
            return Err(format!(
                "{address:?} is not an IPv4 or IPv6 address (in CIDR block {cidr:?})"
            ));
        };
        match ip {
            Ip::V4(a) => {
                if bits > 31 {
                    return Err(format!(
                        "an IPv4 mask must be below 32 bits (EventBridge refuses /{bits}); to \
                         match one address, give it as a plain string: [\"{address}\"]"
                    ));
                }
                let host = u32::MAX >> bits;
                Ok(IpRange {
                    low: Ip::V4(a & !host),
                    high: Ip::V4(a | host),
                })
            }
            Ip::V6(a) => {
                if bits > 127 {
                    return Err(format!(
                        "an IPv6 mask must be below 128 bits (EventBridge refuses /{bits}); to \
                         match one address, give it as a plain string: [\"{address}\"]"
                    ));
                }
                let host = u128::MAX >> bits;
                Ok(IpRange {
                    low: Ip::V6(a & !host),
                    high: Ip::V6(a | host),
                })
            }
        }
    }

    fn contains(&self, ip: Ip) -> bool {
        match (self.low, self.high, ip) {
            (Ip::V4(lo), Ip::V4(hi), Ip::V4(x)) => lo <= x && x <= hi,
            (Ip::V6(lo), Ip::V6(hi), Ip::V6(x)) => lo <= x && x <= hi,
            _ => false,
        }
    }
}
