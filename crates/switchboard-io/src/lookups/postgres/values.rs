//! Column values in PostgreSQL's binary format, converted to JSON without the
//! `with-serde_json`/`chrono` features of tokio-postgres: integers, floats, NUMERIC as its
//! exact decimal text, json/jsonb, timestamps and dates as RFC 3339, uuid, bytea as
//! base64, text and enums.

use base64::Engine as _;
use serde_json::Value;
use tokio_postgres::types::{FromSql, Kind, Type};

/// The column types converted to JSON.
#[derive(Debug, Clone, Copy)]
pub(super) enum Column {
    Bool,
    Int2,
    Int4,
    Int8,
    Oid,
    Float4,
    Float8,
    Numeric,
    Text,
    Json,
    Jsonb,
    Timestamp,
    Date,
    Uuid,
    Bytea,
}

/// How a column of type `ty` converts; `None` for a type the lookup does not read.
pub(super) fn column_kind(ty: &Type) -> Option<Column> {
    Some(match *ty {
        Type::BOOL => Column::Bool,
        Type::INT2 => Column::Int2,
        Type::INT4 => Column::Int4,
        Type::INT8 => Column::Int8,
        Type::OID => Column::Oid,
        Type::FLOAT4 => Column::Float4,
        Type::FLOAT8 => Column::Float8,
        Type::NUMERIC => Column::Numeric,
        Type::JSON => Column::Json,
        Type::JSONB => Column::Jsonb,
        Type::TIMESTAMP | Type::TIMESTAMPTZ => Column::Timestamp,
        Type::DATE => Column::Date,
        Type::UUID => Column::Uuid,
        Type::BYTEA => Column::Bytea,
        ref t if <&str as FromSql>::accepts(t) || matches!(t.kind(), Kind::Enum(_)) => Column::Text,
        _ => return None,
    })
}

/// A column's value in PostgreSQL's binary format, undecoded.
pub(super) struct Raw<'a>(pub(super) &'a [u8]);

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(raw))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// One non-null value (binary format) as JSON; `None` when the bytes are malformed.
pub(super) fn column_to_json(kind: Column, raw: &[u8]) -> Option<Value> {
    let be = |n: usize| raw.get(..n).filter(|_| raw.len() == n);
    Some(match kind {
        Column::Bool => Value::Bool(*be(1)?.first()? != 0),
        Column::Int2 => Value::from(i16::from_be_bytes(be(2)?.try_into().ok()?)),
        Column::Int4 => Value::from(i32::from_be_bytes(be(4)?.try_into().ok()?)),
        Column::Int8 => Value::from(i64::from_be_bytes(be(8)?.try_into().ok()?)),
        Column::Oid => Value::from(u32::from_be_bytes(be(4)?.try_into().ok()?)),
        // Through the shortest text of the f32, so 0.1 reads as 0.1, not 0.100000001.
        Column::Float4 => float(
            f32::from_be_bytes(be(4)?.try_into().ok()?)
                .to_string()
                .parse()
                .ok()?,
        ),
        Column::Float8 => float(f64::from_be_bytes(be(8)?.try_into().ok()?)),
        Column::Numeric => Value::String(numeric_to_string(raw)?),
        Column::Text => Value::String(std::str::from_utf8(raw).ok()?.to_owned()),
        Column::Json => serde_json::from_slice(raw).ok()?,
        Column::Jsonb => match raw.split_first()? {
            (1, json) => serde_json::from_slice(json).ok()?,
            _ => return None,
        },
        Column::Timestamp => Value::String(timestamp_to_string(i64::from_be_bytes(
            be(8)?.try_into().ok()?,
        ))),
        Column::Date => Value::String(date_to_string(i32::from_be_bytes(be(4)?.try_into().ok()?))),
        Column::Uuid => {
            let b = be(16)?;
            let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
            Value::String(format!(
                "{}-{}-{}-{}-{}",
                &hex[..8],
                &hex[8..12],
                &hex[12..16],
                &hex[16..20],
                &hex[20..]
            ))
        }
        Column::Bytea => Value::String(base64::engine::general_purpose::STANDARD.encode(raw)),
    })
}

/// A float as a JSON number; NaN and the infinities (which JSON lacks) as strings.
fn float(f: f64) -> Value {
    match serde_json::Number::from_f64(f) {
        Some(n) => Value::Number(n),
        None if f.is_nan() => Value::String("NaN".into()),
        None if f > 0.0 => Value::String("Infinity".into()),
        None => Value::String("-Infinity".into()),
    }
}

/// Seconds from the Unix epoch to PostgreSQL's, 2000-01-01.
const PG_EPOCH_SECS: i64 = 946_684_800;

/// Microseconds since 2000-01-01 (UTC) as RFC 3339: `2024-05-01T12:00:00Z`, with
/// `.mmm` or `.uuuuuu` when there is a fraction.
fn timestamp_to_string(micros: i64) -> String {
    match micros {
        i64::MAX => return "infinity".into(),
        i64::MIN => return "-infinity".into(),
        _ => {}
    }
    let secs = micros.div_euclid(1_000_000) + PG_EPOCH_SECS;
    let fraction = micros.rem_euclid(1_000_000);
    let whole = switchboard_model::Timestamp::from_secs(secs).to_string();
    let base = whole.strip_suffix('Z').unwrap_or(&whole);
    match fraction {
        0 => format!("{base}Z"),
        f if f % 1000 == 0 => format!("{base}.{:03}Z", f / 1000),
        f => format!("{base}.{f:06}Z"),
    }
}

/// Days since 2000-01-01 as `YYYY-MM-DD`.
fn date_to_string(days: i32) -> String {
    match days {
        i32::MAX => return "infinity".into(),
        i32::MIN => return "-infinity".into(),
        _ => {}
    }
    let secs = (i64::from(days)) * 86_400 + PG_EPOCH_SECS;
    let whole = switchboard_model::Timestamp::from_secs(secs).to_string();
    whole.split('T').next().unwrap_or(&whole).to_owned()
}

/// NUMERIC's binary form (digit count, weight, sign, display scale, then base-10000
/// digits) as its decimal text, exactly as `numeric::text` writes it.
fn numeric_to_string(raw: &[u8]) -> Option<String> {
    let word = |i: usize| raw.get(i..i + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    let ndigits = usize::from(word(0)?);
    let weight = word(2)? as i16 as i64;
    let sign = word(4)?;
    let dscale = usize::from(word(6)?);
    match sign {
        0x0000 | 0x4000 => {}
        0xC000 => return Some("NaN".into()),
        0xD000 => return Some("Infinity".into()),
        0xF000 => return Some("-Infinity".into()),
        _ => return None,
    }
    if raw.len() != 8 + 2 * ndigits {
        return None;
    }
    let digits: Vec<u16> = (0..ndigits)
        .map(|i| word(8 + 2 * i))
        .collect::<Option<_>>()?;
    if digits.iter().any(|&d| d > 9999) {
        return None;
    }
    // Digit `k` is worth 10000^(weight - k).
    let digit = |k: i64| -> u16 {
        usize::try_from(k)
            .ok()
            .and_then(|k| digits.get(k).copied())
            .unwrap_or(0)
    };
    let mut out = String::new();
    if sign == 0x4000 {
        out.push('-');
    }
    if weight < 0 {
        out.push('0');
    } else {
        for k in 0..=weight {
            if k == 0 {
                out.push_str(&digit(k).to_string());
            } else {
                out.push_str(&format!("{:04}", digit(k)));
            }
        }
    }
    if dscale > 0 {
        let mut fraction = String::with_capacity(dscale + 4);
        let mut k = weight + 1;
        while fraction.len() < dscale {
            fraction.push_str(&format!("{:04}", digit(k)));
            k += 1;
        }
        fraction.truncate(dscale);
        out.push('.');
        out.push_str(&fraction);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn numeric(ndigits: u16, weight: i16, sign: u16, dscale: u16, digits: &[u16]) -> Vec<u8> {
        let mut raw = Vec::new();
        for w in [ndigits, weight as u16, sign, dscale] {
            raw.extend_from_slice(&w.to_be_bytes());
        }
        for d in digits {
            raw.extend_from_slice(&d.to_be_bytes());
        }
        raw
    }

    #[test]
    fn numeric_decodes_exactly() {
        // 12345.678 = 1|2345|6780, weight 1, scale 3
        assert_eq!(
            numeric_to_string(&numeric(3, 1, 0, 3, &[1, 2345, 6780])).unwrap(),
            "12345.678"
        );
        // -0.0001234 = 0000|0001|2340 after the point: weight -1, digits 1, 2340
        assert_eq!(
            numeric_to_string(&numeric(2, -1, 0x4000, 7, &[1, 2340])).unwrap(),
            "-0.0001234"
        );
        // 0 with scale 2
        assert_eq!(
            numeric_to_string(&numeric(0, 0, 0, 2, &[])).unwrap(),
            "0.00"
        );
        // 1e8 = 1|0000|0000 stored as one digit with weight 2
        assert_eq!(
            numeric_to_string(&numeric(1, 2, 0, 0, &[1])).unwrap(),
            "100000000"
        );
        assert_eq!(
            numeric_to_string(&numeric(0, 0, 0xC000, 0, &[])).unwrap(),
            "NaN"
        );
        assert_eq!(
            numeric_to_string(&numeric(2, 0, 0, 0, &[1])),
            None,
            "truncated"
        );
        assert_eq!(numeric_to_string(&[0, 1]), None);
    }

    #[test]
    fn binary_values_convert() {
        assert_eq!(
            column_to_json(Column::Int4, &7i32.to_be_bytes()),
            Some(json!(7))
        );
        assert_eq!(column_to_json(Column::Int4, &[0, 1]), None, "wrong length");
        assert_eq!(
            column_to_json(Column::Float4, &0.1f32.to_be_bytes()),
            Some(json!(0.1))
        );
        assert_eq!(
            column_to_json(Column::Float8, &f64::NAN.to_be_bytes()),
            Some(json!("NaN"))
        );
        assert_eq!(
            column_to_json(Column::Jsonb, b"\x01{\"a\":[1,null]}"),
            Some(json!({"a": [1, null]}))
        );
        assert_eq!(column_to_json(Column::Jsonb, b"\x02{}"), None);
        assert_eq!(
            column_to_json(Column::Text, b"caf\xc3\xa9"),
            Some(json!("café"))
        );
        assert_eq!(column_to_json(Column::Bool, &[1]), Some(json!(true)));
        assert_eq!(
            column_to_json(Column::Uuid, &[0x12; 16]),
            Some(json!("12121212-1212-1212-1212-121212121212"))
        );
        assert_eq!(column_to_json(Column::Bytea, b"hi"), Some(json!("aGk=")));
    }

    #[test]
    fn timestamps_and_dates_are_rfc_3339() {
        assert_eq!(timestamp_to_string(0), "2000-01-01T00:00:00Z");
        assert_eq!(timestamp_to_string(1_500_000), "2000-01-01T00:00:01.500Z");
        assert_eq!(timestamp_to_string(-1), "1999-12-31T23:59:59.999999Z");
        // 2024-05-01T12:30:00Z
        let micros = (1_714_566_600 - PG_EPOCH_SECS) * 1_000_000 + 123_456;
        assert_eq!(timestamp_to_string(micros), "2024-05-01T12:30:00.123456Z");
        assert_eq!(timestamp_to_string(i64::MAX), "infinity");
        assert_eq!(date_to_string(0), "2000-01-01");
        assert_eq!(date_to_string(-1), "1999-12-31");
        assert_eq!(date_to_string(8887), "2024-05-01");
    }
}
