//! DynamoDB's attribute values as plain JSON, numbers kept exact: serde_json here has no
//! arbitrary precision, so a number becomes an integer when it fits 64 bits, a float when
//! the float is the very same number, and otherwise stays the string DynamoDB sent.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use serde_json::Value;

/// An item as a JSON object.
pub fn item_to_json(item: &HashMap<String, AttributeValue>) -> Value {
    Value::Object(
        item.iter()
            .map(|(name, value)| (name.clone(), attribute_to_json(value)))
            .collect(),
    )
}

/// One attribute value as JSON: `S` a string, `N` a number ([`number_to_json`]), `BOOL`,
/// `NULL` null, `M` an object, `L` an array, `SS`/`NS`/`BS` arrays, `B` base64.
pub fn attribute_to_json(value: &AttributeValue) -> Value {
    let base64 = |b: &aws_sdk_dynamodb::primitives::Blob| {
        Value::String(base64::engine::general_purpose::STANDARD.encode(b.as_ref()))
    };
    match value {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => number_to_json(n),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::M(m) => item_to_json(m),
        AttributeValue::L(l) => Value::Array(l.iter().map(attribute_to_json).collect()),
        AttributeValue::Ss(ss) => Value::Array(ss.iter().cloned().map(Value::String).collect()),
        AttributeValue::Ns(ns) => Value::Array(ns.iter().map(|n| number_to_json(n)).collect()),
        AttributeValue::B(b) => base64(b),
        AttributeValue::Bs(bs) => Value::Array(bs.iter().map(base64).collect()),
        // A type newer than this SDK: nothing to read it with.
        _ => Value::Null,
    }
}

/// A DynamoDB number as JSON: an integer when it fits 64 bits, a float when the float
/// is the same number, else the string itself (38 digits of precision exceed both).
pub fn number_to_json(n: &str) -> Value {
    let Some(decimal) = Decimal::parse(n) else {
        return Value::String(n.to_owned());
    };
    if decimal.is_integer() && decimal.digits.len() as i64 + decimal.exponent <= 20 {
        let plain = decimal.plain();
        if let Ok(i) = plain.parse::<i64>() {
            return Value::from(i);
        }
        if let Ok(u) = plain.parse::<u64>() {
            return Value::from(u);
        }
    }
    if let Ok(f) = n.parse::<f64>() {
        if f.is_finite() && Decimal::parse(&f.to_string()).as_ref() == Some(&decimal) {
            if let Some(number) = serde_json::Number::from_f64(f) {
                return Value::Number(number);
            }
        }
    }
    Value::String(n.to_owned())
}

/// A decimal number in one canonical form: `digits × 10^exponent`, `digits` without
/// leading or trailing zeros (empty for zero, which is never negative). Two strings
/// denote the same number exactly when their `Decimal`s are equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Decimal {
    negative: bool,
    digits: String,
    exponent: i64,
}

impl Decimal {
    /// `[+-]digits[.digits][(e|E)[+-]digits]`, at least one digit before the exponent.
    pub(super) fn parse(s: &str) -> Option<Decimal> {
        let (negative, rest) = match s.as_bytes().first()? {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        let (whole, fraction) = match mantissa.split_once('.') {
            Some((w, f)) => (w, f),
            None => (mantissa, ""),
        };
        let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if whole.len() + fraction.len() == 0 || !all_digits(whole) || !all_digits(fraction) {
            return None;
        }
        let mut exponent: i64 = match exponent {
            None => 0,
            Some(e) => {
                let unsigned = e.strip_prefix(['+', '-']).unwrap_or(e);
                if unsigned.is_empty() || unsigned.len() > 9 || !all_digits(unsigned) {
                    return None;
                }
                e.parse().ok()?
            }
        };
        exponent -= fraction.len() as i64;
        let joined = format!("{whole}{fraction}");
        let trimmed = joined.trim_start_matches('0');
        let digits = trimmed.trim_end_matches('0');
        exponent += (trimmed.len() - digits.len()) as i64;
        if digits.is_empty() {
            return Some(Decimal {
                negative: false,
                digits: String::new(),
                exponent: 0,
            });
        }
        Some(Decimal {
            negative,
            digits: digits.to_owned(),
            exponent,
        })
    }

    pub(super) fn is_integer(&self) -> bool {
        self.exponent >= 0
    }

    /// Within what DynamoDB stores: 38 significant digits, magnitude
    /// 1e-130 to below 1e126.
    pub(super) fn fits_dynamodb(&self) -> bool {
        let magnitude = self.digits.len() as i64 + self.exponent;
        self.digits.is_empty() || (self.digits.len() <= 38 && (-129..=126).contains(&magnitude))
    }

    /// Written out without an exponent: `-12.5`, `1200`, `0.001`, `0`.
    pub(super) fn plain(&self) -> String {
        if self.digits.is_empty() {
            return "0".into();
        }
        let sign = if self.negative { "-" } else { "" };
        let len = self.digits.len() as i64;
        if self.exponent >= 0 {
            let zeros = "0".repeat(self.exponent as usize);
            format!("{sign}{}{zeros}", self.digits)
        } else if -self.exponent < len {
            let point = (len + self.exponent) as usize;
            format!("{sign}{}.{}", &self.digits[..point], &self.digits[point..])
        } else {
            let zeros = "0".repeat((-self.exponent - len) as usize);
            format!("{sign}0.{zeros}{}", self.digits)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::primitives::Blob;
    use serde_json::json;

    #[test]
    fn decimals_have_one_canonical_form() {
        for (a, b) in [
            ("42", "042"),
            ("42", "+42"),
            ("42", "42.000"),
            ("42", "4.2e1"),
            ("0.001", "1E-3"),
            ("1200", "12e2"),
            ("0", "-0.0"),
            ("-12.5", "-125e-1"),
        ] {
            assert_eq!(Decimal::parse(a), Decimal::parse(b), "{a} vs {b}");
        }
        for bad in [
            "",
            "-",
            ".",
            "1e",
            "1e+",
            "abc",
            "1.2.3",
            "12a",
            "1e1000000000",
            "+",
        ] {
            assert_eq!(Decimal::parse(bad), None, "{bad:?}");
        }
        for (s, plain) in [
            ("042", "42"),
            ("12e2", "1200"),
            ("1E-3", "0.001"),
            ("-125e-1", "-12.5"),
            ("-0", "0"),
            ("+15551234567", "15551234567"),
        ] {
            assert_eq!(Decimal::parse(s).unwrap().plain(), plain);
        }
        assert!(Decimal::parse("9.9e125").unwrap().fits_dynamodb());
        assert!(Decimal::parse("1e-130").unwrap().fits_dynamodb());
        assert!(!Decimal::parse("1e126").unwrap().fits_dynamodb());
        assert!(!Decimal::parse("1e-131").unwrap().fits_dynamodb());
        assert!(!Decimal::parse(&"1".repeat(39)).unwrap().fits_dynamodb());
    }

    #[test]
    fn numbers_stay_exact() {
        assert_eq!(number_to_json("42"), json!(42));
        assert_eq!(number_to_json("-7"), json!(-7));
        assert_eq!(number_to_json("18446744073709551615"), json!(u64::MAX));
        assert_eq!(number_to_json("1.5"), json!(1.5));
        assert_eq!(number_to_json("0.1"), json!(0.1));
        assert_eq!(number_to_json("1e3"), json!(1000));
        assert_eq!(number_to_json("100.0"), json!(100));
        // More digits than an f64 holds, or beyond 64-bit integers: kept as written.
        assert_eq!(
            number_to_json("12345678901234567890123"),
            json!("12345678901234567890123")
        );
        assert_eq!(
            number_to_json("0.12345678901234567890123"),
            json!("0.12345678901234567890123")
        );
        assert_eq!(
            number_to_json("9007199254740993.5"),
            json!("9007199254740993.5")
        );
        assert_eq!(number_to_json("not a number"), json!("not a number"));
    }

    #[test]
    fn every_attribute_type_converts() {
        let item = HashMap::from([
            ("s".to_owned(), AttributeValue::S("Acme".into())),
            ("n".to_owned(), AttributeValue::N("3".into())),
            ("t".to_owned(), AttributeValue::Bool(true)),
            ("z".to_owned(), AttributeValue::Null(true)),
            (
                "m".to_owned(),
                AttributeValue::M(HashMap::from([(
                    "city".to_owned(),
                    AttributeValue::S("Oslo".into()),
                )])),
            ),
            (
                "l".to_owned(),
                AttributeValue::L(vec![
                    AttributeValue::N("1.25".into()),
                    AttributeValue::Null(true),
                ]),
            ),
            (
                "ss".to_owned(),
                AttributeValue::Ss(vec!["a".into(), "b".into()]),
            ),
            (
                "ns".to_owned(),
                AttributeValue::Ns(vec!["1".into(), "2.5".into()]),
            ),
            ("b".to_owned(), AttributeValue::B(Blob::new(b"hi".to_vec()))),
            (
                "bs".to_owned(),
                AttributeValue::Bs(vec![Blob::new(vec![0u8, 255])]),
            ),
        ]);
        assert_eq!(
            item_to_json(&item),
            json!({
                "s": "Acme", "n": 3, "t": true, "z": null,
                "m": {"city": "Oslo"}, "l": [1.25, null],
                "ss": ["a", "b"], "ns": [1, 2.5], "b": "aGk=", "bs": ["AP8="]
            })
        );
    }
}
