//! A CSV or JSON file as a lookup (`type = "file"`): a small table kept in memory, e.g.
//! the business line of each dialled number, or a VIP list.
//!
//! - CSV: a header row, then one row per key; each row becomes an object of strings
//!   (every column, the key's included), found by its `key` column.
//! - JSON: either an object whose members are the keys (`{"+15551230000": {...}}`, the
//!   values any JSON), or an array of objects found by their `key` field (a string, or a
//!   number taken as its text).
//!
//! The file is read when the lookup is built (an unreadable file fails the build), then
//! watched on use rather than by a task of its own: a call at least a second
//! ([`DEFAULT_CHECK_INTERVAL`]) after the last check looks at the file's modification
//! time and size, and reads it again when either changed. The check and the read run on
//! the blocking pool, one at a time; calls meanwhile answer from the table they have, so
//! a lookup never waits on the disk. A read that fails (a half-written file, bad JSON)
//! keeps the previous table and is logged once per version of the file. When a key
//! appears more than once the last row wins, and the number of such keys is logged.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::time::Instant;

use super::config::check_name;
use super::{Lookup, LookupError};
use crate::problems::{join, Problems};
use crate::sinks::BuildError;

/// How often, at most, a lookup looks at its file for changes.
pub const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// The file lookup (`type = "file"`). No cache settings or timeout: the table is in
/// memory already, and a cache would only delay what a reload brings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLookupConfig {
    /// The lookup's name, which rules refer to (metrics carry it as `lookup`).
    pub name: String,
    /// The file. A relative path is taken from the config file's folder.
    pub path: PathBuf,
    /// `csv`, `json`, or `auto` (the default: by the extension, `.csv` or `.json`).
    #[serde(default)]
    pub format: FileFormat,
    /// The column (CSV) or field (a JSON array of objects) holding each row's key, e.g.
    /// `number`. Not needed for a JSON object keyed by the lookup key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// How a lookup file is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    /// By the file's extension.
    #[default]
    Auto,
    Csv,
    Json,
}

impl FileLookupConfig {
    /// Business lines by dialled number, from a CSV file.
    pub fn example() -> Self {
        FileLookupConfig {
            name: "business_lines".into(),
            path: "business-lines.csv".into(),
            format: FileFormat::Auto,
            key: Some("number".into()),
        }
    }

    /// The format, `auto` resolved by the extension.
    pub fn resolved_format(&self) -> Result<FileFormat, String> {
        if self.format != FileFormat::Auto {
            return Ok(self.format);
        }
        let extension = self
            .path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("csv") => Ok(FileFormat::Csv),
            Some("json") => Ok(FileFormat::Json),
            _ => Err(format!(
                "cannot tell the format of {} by its extension: set format = \"csv\" or \"json\"",
                self.path.display()
            )),
        }
    }

    /// Reports every problem under `key`, without reading the file.
    pub fn check(&self, key: &str, problems: &mut Problems) {
        check_name(&self.name, key, problems);
        if self.path.as_os_str().is_empty() {
            problems.push(join(key, "path"), "is empty");
            return;
        }
        match self.resolved_format() {
            Err(reason) => problems.push(join(key, "format"), reason),
            Ok(FileFormat::Csv) if self.key.is_none() => problems.push(
                join(key, "key"),
                "missing: name the CSV column that holds each row's key",
            ),
            Ok(_) => {}
        }
        if self.key.as_deref() == Some("") {
            problems.push(join(key, "key"), "is empty");
        }
    }
}

/// A file's table, reloaded when the file changes.
pub struct FileLookup {
    name: String,
    path: PathBuf,
    format: FileFormat,
    key: Option<String>,
    check_every: Duration,
    table: RwLock<Arc<HashMap<String, Value>>>,
    watch: tokio::sync::Mutex<Watch>,
}

/// What the last checks saw.
struct Watch {
    checked: Instant,
    /// The version of the file the table holds.
    loaded: Version,
    /// The last version that failed to read, so its failure is logged once.
    failed: Option<Seen>,
}

/// A version of the file, as far as its metadata tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Version {
    modified: Option<SystemTime>,
    len: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    File(Version),
    Unreadable(std::io::ErrorKind),
}

/// A table read from the file, and what was odd about it.
#[derive(Debug, Default)]
pub struct Loaded {
    pub rows: HashMap<String, Value>,
    /// Keys that appeared more than once (each counted once per extra appearance).
    pub duplicates: usize,
    /// Rows without a usable key (empty, missing, not a string or number), left out.
    pub skipped: usize,
}

impl FileLookup {
    /// Reads the file; fails when it cannot be read or parsed.
    pub async fn open(config: &FileLookupConfig) -> Result<Self, BuildError> {
        let fail = |reason: String| BuildError::lookup(&config.name, reason);
        let format = config.resolved_format().map_err(fail)?;
        let (path, key) = (config.path.clone(), config.key.clone());
        let (version, loaded) = tokio::task::spawn_blocking(move || {
            let version =
                version(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            load(&path, format, key.as_deref()).map(|l| (version, l))
        })
        .await
        .map_err(|e| fail(format!("reading the file failed: {e}")))?
        .map_err(fail)?;
        log_loaded(&config.name, &config.path, &loaded);
        Ok(FileLookup {
            name: config.name.clone(),
            path: config.path.clone(),
            format,
            key: config.key.clone(),
            check_every: DEFAULT_CHECK_INTERVAL,
            table: RwLock::new(Arc::new(loaded.rows)),
            watch: tokio::sync::Mutex::new(Watch {
                checked: Instant::now(),
                loaded: version,
                failed: None,
            }),
        })
    }

    /// Looks at the file at most once per `every` (zero: on every call).
    pub fn with_check_interval(mut self, every: Duration) -> Self {
        self.check_every = every;
        self
    }

    /// Keys in the table now.
    pub fn len(&self) -> usize {
        self.current().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn current(&self) -> Arc<HashMap<String, Value>> {
        Arc::clone(&self.table.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Reloads the table if the check is due and the file changed. Returns at once when
    /// another call is already checking.
    async fn refresh(&self) {
        let Ok(mut watch) = self.watch.try_lock() else {
            return;
        };
        let now = Instant::now();
        if now.duration_since(watch.checked) < self.check_every {
            return;
        }
        watch.checked = now;
        let (path, format, key) = (self.path.clone(), self.format, self.key.clone());
        let loaded = watch.loaded;
        let failed = watch.failed.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            let seen = match version(&path) {
                Ok(v) => v,
                Err(e) => {
                    return (
                        Seen::Unreadable(e.kind()),
                        Err(format!("cannot read the file: {e}")),
                    )
                }
            };
            if seen == loaded || failed == Some(Seen::File(seen)) {
                return (Seen::File(seen), Ok(None));
            }
            (
                Seen::File(seen),
                load(&path, format, key.as_deref()).map(Some),
            )
        })
        .await;
        let (seen, result) = match outcome {
            Ok(outcome) => outcome,
            Err(e) => (
                Seen::Unreadable(std::io::ErrorKind::Other),
                Err(format!("reading the file failed: {e}")),
            ),
        };
        match result {
            Ok(None) => {}
            Ok(Some(table)) => {
                log_loaded(&self.name, &self.path, &table);
                *self.table.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(table.rows);
                if let Seen::File(version) = seen {
                    watch.loaded = version;
                }
                watch.failed = None;
            }
            Err(reason) => {
                if watch.failed.as_ref() != Some(&seen) {
                    tracing::warn!(
                        lookup = %self.name,
                        path = %self.path.display(),
                        "{reason}; keeping the {} keys read before",
                        self.len()
                    );
                    watch.failed = Some(seen);
                }
            }
        }
    }
}

#[async_trait::async_trait]
impl Lookup for FileLookup {
    fn name(&self) -> &str {
        &self.name
    }

    async fn get_many(&self, keys: &[String]) -> Result<HashMap<String, Value>, LookupError> {
        self.refresh().await;
        let table = self.current();
        Ok(keys
            .iter()
            .filter_map(|k| table.get(k).map(|v| (k.clone(), v.clone())))
            .collect())
    }
}

fn version(path: &Path) -> std::io::Result<Version> {
    let meta = std::fs::metadata(path)?;
    Ok(Version {
        modified: meta.modified().ok(),
        len: meta.len(),
    })
}

fn log_loaded(name: &str, path: &Path, loaded: &Loaded) {
    tracing::info!(lookup = %name, path = %path.display(), keys = loaded.rows.len(), "lookup file read");
    if loaded.duplicates > 0 {
        tracing::warn!(
            lookup = %name,
            path = %path.display(),
            duplicates = loaded.duplicates,
            "{} rows repeat a key of an earlier row; the last row of each key wins",
            loaded.duplicates
        );
    }
    if loaded.skipped > 0 {
        tracing::warn!(
            lookup = %name,
            path = %path.display(),
            skipped = loaded.skipped,
            "{} rows have no usable key and were left out",
            loaded.skipped
        );
    }
}

/// Reads and parses the file (blocking).
pub fn load(path: &Path, format: FileFormat, key: Option<&str>) -> Result<Loaded, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let parsed = match format {
        FileFormat::Csv => parse_csv(&bytes, key.unwrap_or_default()),
        FileFormat::Json | FileFormat::Auto => parse_json(&bytes, key),
    };
    parsed.map_err(|e| format!("{}: {e}", path.display()))
}

/// CSV with a header row; every row an object of strings, found by column `key`.
pub fn parse_csv(bytes: &[u8], key: &str) -> Result<Loaded, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(bytes);
    let headers = reader.headers().map_err(|e| e.to_string())?.clone();
    let column = headers.iter().position(|h| h == key).ok_or_else(|| {
        let names: Vec<&str> = headers.iter().collect();
        format!(
            "no column {key:?} in the header row (columns: {})",
            names.join(", ")
        )
    })?;
    let mut loaded = Loaded::default();
    for record in reader.records() {
        let record = record.map_err(|e| e.to_string())?;
        let id = record.get(column).unwrap_or_default();
        if id.is_empty() {
            loaded.skipped += 1;
            continue;
        }
        let row: Map<String, Value> = headers
            .iter()
            .zip(record.iter())
            .map(|(h, v)| (h.to_owned(), Value::String(v.to_owned())))
            .collect();
        if loaded
            .rows
            .insert(id.to_owned(), Value::Object(row))
            .is_some()
        {
            loaded.duplicates += 1;
        }
    }
    Ok(loaded)
}

/// A JSON object keyed by lookup key, or an array of objects found by field `key`.
pub fn parse_json(bytes: &[u8], key: Option<&str>) -> Result<Loaded, String> {
    let document: Document = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    match document {
        Document::Object(loaded) => Ok(loaded),
        Document::Array(items) => {
            let Some(key) = key else {
                return Err(
                    "the file is an array of objects: set `key` to the field that \
                            holds each object's key"
                        .into(),
                );
            };
            let mut loaded = Loaded::default();
            for item in items {
                let id = match item.get(key) {
                    Some(Value::String(s)) if !s.is_empty() => s.clone(),
                    Some(Value::Number(n)) => n.to_string(),
                    _ => {
                        loaded.skipped += 1;
                        continue;
                    }
                };
                if loaded.rows.insert(id, item).is_some() {
                    loaded.duplicates += 1;
                }
            }
            Ok(loaded)
        }
    }
}

/// A lookup file's top level. A custom visitor, because a map read into a `Map` would
/// drop repeated keys without a word.
enum Document {
    Object(Loaded),
    Array(Vec<Value>),
}

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DocumentVisitor;

        impl<'de> Visitor<'de> for DocumentVisitor {
            type Value = Document;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object keyed by lookup key, or an array of objects")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document, A::Error> {
                let mut loaded = Loaded::default();
                while let Some((key, value)) = map.next_entry::<String, Value>()? {
                    if loaded.rows.insert(key, value).is_some() {
                        loaded.duplicates += 1;
                    }
                }
                Ok(Document::Object(loaded))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Document, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Value>()? {
                    items.push(item);
                }
                Ok(Document::Array(items))
            }
        }

        deserializer.deserialize_any(DocumentVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn csv_rows_become_objects_of_strings_last_duplicate_winning() {
        let csv = "number,line,queue\n+15550001,sales,Sales\n+15550002,support,\"Support, EU\"\n\
                   ,orphan,x\n+15550001,sales-2,Sales\n";
        let loaded = parse_csv(csv.as_bytes(), "number").unwrap();
        assert_eq!(loaded.rows.len(), 2);
        assert_eq!(loaded.duplicates, 1);
        assert_eq!(loaded.skipped, 1);
        assert_eq!(
            loaded.rows["+15550001"],
            json!({"number": "+15550001", "line": "sales-2", "queue": "Sales"})
        );
        assert_eq!(loaded.rows["+15550002"]["queue"], json!("Support, EU"));
    }

    #[test]
    fn csv_errors_name_the_problem() {
        let err = parse_csv(b"a,b\n1,2\n", "number").unwrap_err();
        assert!(
            err.contains("no column \"number\"") && err.contains("a, b"),
            "{err}"
        );
        let err = parse_csv(b"number,b\n1,2\n3\n", "number").unwrap_err();
        assert!(err.contains("line 3") || err.contains("record 2"), "{err}");
    }

    #[test]
    fn json_objects_and_arrays() {
        let object = br#"{"+1555": {"vip": true}, "+1666": "gold", "+1555": {"vip": false}}"#;
        let loaded = parse_json(object, None).unwrap();
        assert_eq!(loaded.rows.len(), 2);
        assert_eq!(loaded.duplicates, 1);
        assert_eq!(loaded.rows["+1555"], json!({"vip": false}));
        assert_eq!(loaded.rows["+1666"], json!("gold"));

        let array =
            br#"[{"id": "a", "n": 1}, {"id": 42, "n": 2}, {"n": 3}, 7, {"id": "a", "n": 4}]"#;
        let loaded = parse_json(array, Some("id")).unwrap();
        assert_eq!(loaded.rows.len(), 2);
        assert_eq!(loaded.rows["a"], json!({"id": "a", "n": 4}));
        assert_eq!(loaded.rows["42"], json!({"id": 42, "n": 2}));
        assert_eq!((loaded.duplicates, loaded.skipped), (1, 2));

        let err = parse_json(array, None).unwrap_err();
        assert!(err.contains("`key`"), "{err}");
        let err = parse_json(b"\"just a string\"", Some("id")).unwrap_err();
        assert!(err.contains("an object keyed by lookup key"), "{err}");
        assert!(parse_json(b"{\"a\": ", None).is_err());
    }

    #[test]
    fn the_format_comes_from_the_extension_unless_set() {
        let mut config = FileLookupConfig::example();
        assert_eq!(config.resolved_format(), Ok(FileFormat::Csv));
        config.path = "lines.JSON".into();
        assert_eq!(config.resolved_format(), Ok(FileFormat::Json));
        config.path = "lines.txt".into();
        let mut problems = Problems::new("f");
        config.check("lookups[3]", &mut problems);
        assert_eq!(problems.list[0].key, "lookups[3].format");
        config.format = FileFormat::Csv;
        config.key = None;
        let mut problems = Problems::new("f");
        config.check("lookups[3]", &mut problems);
        assert_eq!(problems.list[0].key, "lookups[3].key");
    }
}
