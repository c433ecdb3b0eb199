//! The file lookup on real files: CSV and JSON read, a rewritten file reloaded (its
//! modification time set explicitly, so no test sleeps waiting for the clock), a broken
//! rewrite leaving the previous table in place, a missing file failing the build.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::json;
use switchboard_io::lookups::config::LookupConfig;
use switchboard_io::lookups::file::{FileFormat, FileLookup, FileLookupConfig};
use switchboard_io::lookups::Lookup;

/// A fresh folder, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "switchboard-lookup-file-{}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes `contents` with the modification time `secs` after an arbitrary moment, so
/// each version of a file differs from the last whatever the clock's resolution.
fn write(path: &Path, contents: &str, secs: u64) {
    std::fs::write(path, contents).unwrap();
    let modified = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs);
    File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(modified)
        .unwrap();
}

fn config(path: &Path, key: Option<&str>) -> FileLookupConfig {
    FileLookupConfig {
        name: "lines".into(),
        path: path.to_owned(),
        format: FileFormat::Auto,
        key: key.map(str::to_owned),
    }
}

fn keys(list: &[&str]) -> Vec<String> {
    list.iter().map(|k| k.to_string()).collect()
}

const LINES_CSV: &str = "number,line,queue\n\
                         +18005550100,sales,Sales\n\
                         +18005550199,support,\"Support, EU\"\n";

#[tokio::test]
async fn csv_rows_are_found_by_their_key_column() {
    let dir = TempDir::new();
    let path = dir.path("lines.csv");
    write(&path, LINES_CSV, 0);
    let lookup = LookupConfig::File(config(&path, Some("number")))
        .build()
        .await
        .expect("build");
    let found = lookup
        .get_many(&keys(&["+18005550100", "+18005550199", "+18005550000"]))
        .await
        .unwrap();
    assert_eq!(found.len(), 2);
    assert_eq!(
        found["+18005550199"],
        json!({"number": "+18005550199", "line": "support", "queue": "Support, EU"})
    );
}

#[tokio::test]
async fn json_objects_and_arrays_are_read() {
    let dir = TempDir::new();
    let object = dir.path("vip.json");
    write(
        &object,
        r#"{"+15550001": {"vip": true, "since": 2019}, "+15550002": "gold"}"#,
        0,
    );
    let lookup = FileLookup::open(&config(&object, None)).await.unwrap();
    let found = lookup
        .get_many(&keys(&["+15550001", "+15550002", "+15550003"]))
        .await
        .unwrap();
    assert_eq!(found["+15550001"], json!({"vip": true, "since": 2019}));
    assert_eq!(found["+15550002"], json!("gold"));
    assert_eq!(found.len(), 2);

    let array = dir.path("accounts.data");
    write(
        &array,
        r#"[{"id": 42, "name": "Acme"}, {"id": "x-7", "name": "Globex"}]"#,
        0,
    );
    let lookup = FileLookup::open(&FileLookupConfig {
        format: FileFormat::Json,
        ..config(&array, Some("id"))
    })
    .await
    .unwrap();
    let found = lookup.get_many(&keys(&["42", "x-7"])).await.unwrap();
    assert_eq!(found["42"], json!({"id": 42, "name": "Acme"}));
    assert_eq!(found["x-7"]["name"], json!("Globex"));
}

#[tokio::test]
async fn a_rewritten_file_is_reloaded_and_a_broken_one_keeps_the_old_table() {
    let dir = TempDir::new();
    let path = dir.path("lines.csv");
    write(&path, LINES_CSV, 0);
    let lookup = FileLookup::open(&config(&path, Some("number")))
        .await
        .unwrap()
        .with_check_interval(Duration::ZERO);
    let wanted = keys(&["+18005550100", "+18005550177"]);
    assert_eq!(lookup.get_many(&wanted).await.unwrap().len(), 1);

    // Rewritten: a new row, a changed one, a removed one.
    write(
        &path,
        "number,line,queue\n+18005550100,sales-us,Sales US\n+18005550177,billing,Billing\n",
        10,
    );
    let found = lookup.get_many(&wanted).await.unwrap();
    assert_eq!(found.len(), 2);
    assert_eq!(found["+18005550100"]["line"], json!("sales-us"));
    assert_eq!(found["+18005550177"]["queue"], json!("Billing"));
    assert_eq!(lookup.len(), 2);

    // Half-written (a row with too few fields): the previous table stays.
    write(&path, "number,line,queue\n+18005550100,sales\n", 20);
    let found = lookup.get_many(&wanted).await.unwrap();
    assert_eq!(found.len(), 2, "still the previous table");
    assert_eq!(found["+18005550100"]["line"], json!("sales-us"));
    // Asked again, the same broken version is not read (nor logged) again.
    assert_eq!(lookup.get_many(&wanted).await.unwrap().len(), 2);

    // Removed for a moment: the previous table stays.
    std::fs::remove_file(&path).unwrap();
    assert_eq!(lookup.get_many(&wanted).await.unwrap().len(), 2);

    // Fixed: read again, duplicates resolved by the last row.
    write(
        &path,
        "number,line,queue\n+18005550177,old,Old\n+18005550177,new,New\n",
        30,
    );
    let found = lookup.get_many(&wanted).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found["+18005550177"]["line"], json!("new"));
}

#[tokio::test(start_paused = true)]
async fn the_file_is_looked_at_at_most_once_a_second() {
    let dir = TempDir::new();
    let path = dir.path("vip.json");
    write(&path, r#"{"a": 1}"#, 0);
    let lookup = FileLookup::open(&config(&path, None)).await.unwrap();
    write(&path, r#"{"a": 2}"#, 10);
    let a = keys(&["a"]);
    assert_eq!(
        lookup.get_many(&a).await.unwrap()["a"],
        json!(1),
        "not checked yet"
    );
    tokio::time::advance(Duration::from_millis(1001)).await;
    assert_eq!(lookup.get_many(&a).await.unwrap()["a"], json!(2));
}

#[tokio::test]
async fn a_missing_or_broken_file_fails_the_build() {
    let dir = TempDir::new();
    let missing = LookupConfig::File(config(&dir.path("nope.csv"), Some("number")));
    let err = missing.build().await.err().expect("no file");
    assert!(err.reason.contains("nope.csv"), "{err}");

    let path = dir.path("lines.csv");
    write(&path, LINES_CSV, 0);
    let wrong_key = LookupConfig::File(config(&path, Some("phone")));
    let err = wrong_key.build().await.err().expect("no such column");
    assert!(err.reason.contains("no column \"phone\""), "{err}");
}
