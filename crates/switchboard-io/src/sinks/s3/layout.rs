//! Where each item of a batch goes and what the objects hold: the pure half of the S3
//! sink, tested without a bucket.
//!
//! A batch is split into groups by folder (`prefix/[name=value/...]YYYY/MM/DD/HH/`, or
//! the error prefix's date folder for items that cannot be partitioned); each group is
//! one NDJSON object whose name is a function of its items alone
//! (`<sink>-<first item id>-<hash of the item keys>.ndjson[.gz]`), so a batch retried
//! after a write whose answer was lost overwrites its object instead of adding a copy.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write;

use serde_json::{Map, Value};
use switchboard_model::envelope::{encode_base64, FirehoseErrorRecord};

use super::config::{folder, S3Config, TimeBasis};
use crate::civil::civil_from_days;
use crate::sinks::Item;

/// `errorCode` of an item whose partition value is missing (or not a scalar).
pub const ERROR_PARTITION_VALUE: &str = "Switchboard.PartitionValueMissing";
/// `errorCode` of an item whose payload is not JSON (and partitioning needs it).
pub const ERROR_NOT_JSON: &str = "Switchboard.PayloadNotJson";

/// One object to write: its key and the items it holds (indexes into the batch, in
/// batch order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub key: String,
    pub items: Vec<usize>,
    /// Items that could not be partitioned, under the error prefix, each with its
    /// `(errorCode, errorMessage)`.
    pub errors: Option<Vec<(&'static str, String)>>,
}

/// Splits `items` into objects.
pub fn plan(config: &S3Config, sink: &str, items: &[Item]) -> Vec<Group> {
    // (is an error group, folder) -> (items, their errors)
    type Slot = (Vec<usize>, Vec<(&'static str, String)>);
    let mut folders: BTreeMap<(bool, String), Slot> = BTreeMap::new();
    let prefix = folder(&config.prefix);
    let error_prefix = folder(&config.error_prefix);
    for (i, item) in items.iter().enumerate() {
        let ms = match config.time {
            TimeBasis::Event => item.event_ms,
            TimeBasis::Arrival => item.created_ms,
        };
        let hour = UtcHour::of(ms).folder();
        match partitions(config, item) {
            Ok(parts) => {
                let slot = folders
                    .entry((false, format!("{prefix}{parts}{hour}")))
                    .or_default();
                slot.0.push(i);
            }
            Err(error) => {
                let slot = folders
                    .entry((true, format!("{error_prefix}{hour}")))
                    .or_default();
                slot.0.push(i);
                slot.1.push(error);
            }
        }
    }
    let suffix = if config.gzip { ".ndjson.gz" } else { ".ndjson" };
    let sink_part = sanitize(sink);
    folders
        .into_iter()
        .map(|((is_error, dir), (indexes, errors))| {
            let first = items[indexes[0]].id;
            let hash = fnv1a(indexes.iter().map(|&i| items[i].key.as_bytes()));
            Group {
                key: format!("{dir}{sink_part}-{first}-{hash:016x}{suffix}"),
                items: indexes,
                errors: is_error.then_some(errors),
            }
        })
        .collect()
}

/// `name=value/` for each partition field, or why the item cannot be partitioned.
fn partitions(config: &S3Config, item: &Item) -> Result<String, (&'static str, String)> {
    if config.partition_by.is_empty() {
        return Ok(String::new());
    }
    let doc: Value = item.json().map_err(|e| {
        (
            ERROR_NOT_JSON,
            format!("the payload is not JSON ({e}), so it has no partition values"),
        )
    })?;
    let mut out = String::new();
    for field in &config.partition_by {
        let value = match field_at(&doc, &field.path) {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::Bool(b)) => b.to_string(),
            Some(Value::String(_)) => return Err(missing(field, "is empty")),
            Some(Value::Null) => return Err(missing(field, "is null")),
            Some(Value::Object(_) | Value::Array(_)) => {
                return Err(missing(field, "is an object or array, not a value"))
            }
            None => return Err(missing(field, &absent(&doc, &field.path))),
        };
        out.push_str(&field.name);
        out.push('=');
        out.push_str(&hive_escape(&value));
        out.push('/');
    }
    Ok(out)
}

fn missing(field: &super::config::PartitionField, why: &str) -> (&'static str, String) {
    (
        ERROR_PARTITION_VALUE,
        format!("partition {:?}: {} {why}", field.name, field.path),
    )
}

/// Why nothing is at `path`: `is missing`, or `is missing (Queue is null)` when a
/// parent is null.
fn absent(doc: &Value, path: &str) -> String {
    let parts: Vec<&str> = path.split('.').collect();
    for n in (1..parts.len()).rev() {
        let parent = parts[..n].join(".");
        match field_at(doc, &parent) {
            Some(Value::Null) => return format!("is missing ({parent} is null)"),
            Some(_) => break,
            None => {}
        }
    }
    "is missing".into()
}

/// The value at a dotted path (`Queue.Name`; a number indexes an array).
pub(crate) fn field_at<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    let mut at = doc;
    for part in path.split('.') {
        at = match at {
            Value::Object(m) => m.get(part)?,
            Value::Array(a) => a.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(at)
}

/// Escapes a partition value as Hive's `FileUtils.escapePathName` does (control
/// characters and `"#%'*/:=?\{[]^` become `%XX`), so Athena and Glue read it back.
pub fn hive_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        let escape = c.is_ascii_control()
            || matches!(
                c,
                '"' | '#' | '%' | '\'' | '*' | '/' | ':' | '=' | '?' | '\\' | '{' | '[' | ']' | '^'
            );
        if escape {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// The sink's name as a safe file-name part.
pub(crate) fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// FNV-1a, 64 bits, over `parts` (each followed by a 0 byte): a stable name part (unlike
/// `DefaultHasher`, whose algorithm may change between Rust releases).
fn fnv1a<'a>(parts: impl Iterator<Item = &'a [u8]>) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in part.iter().chain(std::iter::once(&0)) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

/// One JSON value on one line: raw line breaks become spaces. In valid JSON a line break
/// can only be whitespace between tokens (inside strings it must be escaped), so the
/// value means the same and every other byte is kept; a record received pretty-printed
/// stays one NDJSON line.
pub(crate) fn one_line(payload: &[u8]) -> Cow<'_, [u8]> {
    if payload.iter().any(|b| matches!(b, b'\n' | b'\r')) {
        Cow::Owned(
            payload
                .iter()
                .map(|&b| if matches!(b, b'\n' | b'\r') { b' ' } else { b })
                .collect(),
        )
    } else {
        Cow::Borrowed(payload)
    }
}

/// The object's bytes before compression: each payload on its line, or, in an error
/// group, each item wrapped in a Firehose error record.
pub fn body(group: &Group, items: &[Item], sink: &str, now_ms: i64) -> Vec<u8> {
    let mut out = Vec::new();
    for (n, &i) in group.items.iter().enumerate() {
        let item = &items[i];
        match &group.errors {
            None => out.extend_from_slice(&one_line(&item.payload)),
            Some(errors) => {
                let (code, message) = &errors[n];
                let record = error_record(item, sink, code, message, now_ms);
                // Serializing a struct of strings and numbers cannot fail.
                out.extend_from_slice(&serde_json::to_vec(&record).unwrap_or_default());
            }
        }
        out.push(b'\n');
    }
    out
}

/// A Firehose error record for `item`, with switchboard's keys beside Firehose's.
fn error_record(
    item: &Item,
    sink: &str,
    code: &str,
    message: &str,
    now_ms: i64,
) -> FirehoseErrorRecord {
    let mut extra = Map::new();
    extra.insert("eventTimestamp".into(), item.event_ms.into());
    extra.insert("key".into(), item.key.clone().into());
    extra.insert("kind".into(), item.kind.as_str().into());
    extra.insert("rule".into(), item.rule.clone().into());
    extra.insert("sink".into(), sink.into());
    FirehoseErrorRecord {
        attempts_made: Some((item.attempts + 1).into()),
        arrival_timestamp: Some(item.created_ms.into()),
        error_code: Some(code.to_owned()),
        error_message: Some(message.to_owned()),
        attempt_ending_timestamp: Some(now_ms.into()),
        raw_data: encode_base64(&item.payload),
        subsequence_number: None,
        data_id: None,
        lambda_arn: None,
        extra,
    }
}

/// Gzip with a fixed header (no file name, time 0), so equal input gives equal bytes.
pub fn gzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 4),
        flate2::Compression::default(),
    );
    encoder.write_all(data)?;
    encoder.finish()
}

/// A UTC date and hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UtcHour {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
}

impl UtcHour {
    /// The hour holding `ms` (milliseconds since the epoch; before 1970 too).
    pub fn of(ms: i64) -> UtcHour {
        let (year, month, day) = civil_from_days(ms.div_euclid(86_400_000));
        let hour = (ms.rem_euclid(86_400_000) / 3_600_000) as u32;
        UtcHour {
            year,
            month,
            day,
            hour,
        }
    }

    /// `YYYY/MM/DD/HH/`.
    pub fn folder(self) -> String {
        format!(
            "{:04}/{:02}/{:02}/{:02}/",
            self.year, self.month, self.day, self.hour
        )
    }

    /// `YYYY.MM.DD` (daily index names).
    pub fn dotted_day(self) -> String {
        format!("{:04}.{:02}.{:02}", self.year, self.month, self.day)
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::sinks::s3::config::PartitionField;
    use crate::sinks::ItemKind;

    fn item(id: i64, key: &str, payload: &str, event_ms: i64) -> Item {
        Item {
            id,
            rule: "archive".into(),
            sink: "s3".into(),
            key: key.into(),
            kind: ItemKind::Record,
            payload: Bytes::from(payload.to_owned()),
            event_ms,
            created_ms: 1_700_000_000_000,
            attempts: 0,
        }
    }

    fn config() -> S3Config {
        S3Config {
            bucket: "b-1".into(),
            prefix: "ctr".into(),
            partition_by: vec![PartitionField {
                name: "queue".into(),
                path: "Queue.Name".into(),
            }],
            gzip: false,
            ..S3Config::example()
        }
    }

    // 2022-04-08T15:03:02Z
    const T: i64 = 1_649_430_182_000;

    #[test]
    fn utc_hours() {
        assert_eq!(UtcHour::of(T).folder(), "2022/04/08/15/");
        assert_eq!(UtcHour::of(0).folder(), "1970/01/01/00/");
        assert_eq!(UtcHour::of(-1).folder(), "1969/12/31/23/");
        assert_eq!(UtcHour::of(951_782_400_000).dotted_day(), "2000.02.29");
        assert_eq!(UtcHour::of(4_102_444_799_999).folder(), "2099/12/31/23/");
    }

    #[test]
    fn groups_by_partition_and_hour_with_stable_names() {
        let items = vec![
            item(7, "k7", r#"{"Queue":{"Name":"Sales"}}"#, T),
            item(8, "k8", r#"{"Queue":{"Name":"Support/EU"}}"#, T),
            item(9, "k9", r#"{"Queue":{"Name":"Sales"}}"#, T + 3_600_000),
            item(10, "k10", r#"{"Queue":{"Name":"Sales"}}"#, T + 60_000),
            item(11, "k11", r#"{"Queue":null}"#, T),
            item(12, "k12", "not json", T),
        ];
        let groups = plan(&config(), "arch ive", &items);
        let keys: Vec<(&str, &[usize])> = groups
            .iter()
            .map(|g| (g.key.rsplit_once('-').unwrap().0, g.items.as_slice()))
            .collect();
        assert_eq!(
            keys,
            [
                ("ctr/queue=Sales/2022/04/08/15/arch_ive-7", &[0, 3][..]),
                ("ctr/queue=Sales/2022/04/08/16/arch_ive-9", &[2][..]),
                ("ctr/queue=Support%2FEU/2022/04/08/15/arch_ive-8", &[1][..]),
                ("errors/2022/04/08/15/arch_ive-11", &[4, 5][..]),
            ]
        );
        assert!(groups[0].key.ends_with(".ndjson"));
        let errors = groups[3].errors.as_ref().unwrap();
        assert_eq!(errors[0].0, ERROR_PARTITION_VALUE);
        assert_eq!(
            errors[0].1,
            "partition \"queue\": Queue.Name is missing (Queue is null)"
        );
        assert_eq!(errors[1].0, ERROR_NOT_JSON);
        // The same items give the same names; other items other names.
        assert_eq!(plan(&config(), "arch ive", &items), groups);
        let mut other = items.clone();
        other[3].key = "k10'".into();
        assert_ne!(plan(&config(), "arch ive", &other)[0].key, groups[0].key);
    }

    #[test]
    fn arrival_time_and_gzip_names() {
        let c = S3Config {
            time: TimeBasis::Arrival,
            gzip: true,
            partition_by: vec![],
            prefix: String::new(),
            ..config()
        };
        let groups = plan(&c, "s", &[item(1, "k", "{}", T)]);
        assert!(groups[0].key.starts_with("2023/11/14/22/s-1-"));
        assert!(groups[0].key.ends_with(".ndjson.gz"));
    }

    #[test]
    fn bodies_keep_bytes_and_wrap_errors() {
        let items = vec![
            item(1, "a", "{\"x\": 1,\n  \"y\": \"two\"}", T),
            item(2, "b", r#"{"Queue":{}}"#, T),
        ];
        let data = Group {
            key: "k".into(),
            items: vec![0],
            errors: None,
        };
        assert_eq!(
            body(&data, &items, "s", 5),
            b"{\"x\": 1,   \"y\": \"two\"}\n"
        );
        let errors = Group {
            key: "e".into(),
            items: vec![1],
            errors: Some(vec![(ERROR_PARTITION_VALUE, "missing".into())]),
        };
        let line = body(&errors, &items, "s", 5);
        assert_eq!(line.last(), Some(&b'\n'));
        let v: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["errorCode"], ERROR_PARTITION_VALUE);
        assert_eq!(v["errorMessage"], "missing");
        assert_eq!(v["attemptsMade"], 1);
        assert_eq!(v["attemptEndingTimestamp"], 5);
        assert_eq!(v["rawData"], encode_base64(br#"{"Queue":{}}"#));
        assert_eq!(v["key"], "b");
        assert_eq!(v["sink"], "s");
    }

    #[test]
    fn hive_escaping_and_paths() {
        assert_eq!(hive_escape("Sales"), "Sales");
        assert_eq!(hive_escape("+1 555/0100=x:y"), "+1 555%2F0100%3Dx%3Ay");
        assert_eq!(hive_escape("a%b\n"), "a%25b%0A");
        let doc: Value = serde_json::json!({"a": [{"b": 3}], "c": "d"});
        assert_eq!(field_at(&doc, "a.0.b"), Some(&Value::from(3)));
        assert_eq!(field_at(&doc, "a.1.b"), None);
        assert_eq!(field_at(&doc, "c.d"), None);
    }

    #[test]
    fn gzip_is_deterministic() {
        let a = gzip(b"hello\n").unwrap();
        assert_eq!(a, gzip(b"hello\n").unwrap());
        let mut out = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&a[..]), &mut out).unwrap();
        assert_eq!(out, "hello\n");
    }
}
