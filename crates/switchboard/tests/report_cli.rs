//! Black-box tests of `switchboard report` and `switchboard store stats` over a store
//! filled by `switchboard replay` from a simulated corpus, and of the message an old
//! store gets.

use std::path::Path;
use std::process::{Command, Output};

use switchboard_model::Timestamp;
use switchboard_sim::{OutputFormat, OutputWriter, SimConfig, Simulator};

fn switchboard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// A store holding three hours of a 30-agent contact center.
fn filled_store(dir: &Path) -> String {
    let mut config = SimConfig::new(30);
    config.start = Timestamp::parse("2026-01-05T08:00:00Z").unwrap();
    config.duration_secs = 3 * 3600;
    let corpus = dir.join("corpus");
    let mut writer = OutputWriter::create(&corpus, OutputFormat::Ndjson, 1).unwrap();
    for e in Simulator::new(config).unwrap() {
        writer.write(&e).unwrap();
    }
    writer.finish().unwrap();
    let url = format!("sqlite:{}", dir.join("s.db").display());
    let out = switchboard(&["replay", corpus.to_str().unwrap(), "--store", &url]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    url
}

fn json_rows(url: &str, extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["report", "--store", url, "--format", "json"];
    args.extend_from_slice(extra);
    serde_json::from_str(&stdout(&switchboard(&args))).unwrap()
}

fn sum(rows: &[serde_json::Value], dimension: &str, field: &str) -> i64 {
    rows.iter()
        .filter(|r| r["dimension"] == dimension)
        .map(|r| r[field].as_i64().unwrap())
        .sum()
}

#[test]
fn intervals_add_up_and_filters_apply() {
    let dir = tempfile::tempdir().unwrap();
    let url = filled_store(dir.path());

    let quarters = json_rows(&url, &["--interval", "15m"]);
    let days = json_rows(&url, &["--interval", "1d"]);
    assert!(quarters.len() > days.len());
    for field in ["offered", "handled", "abandoned"] {
        for dim in ["queue", "agent"] {
            assert_eq!(
                sum(&quarters, dim, field),
                sum(&days, dim, field),
                "{dim} {field}"
            );
        }
    }
    let offered = sum(&days, "queue", "offered");
    assert!(offered > 50, "too few contacts to mean anything: {offered}");
    for r in &quarters {
        assert!(r["abandoned"].as_i64() <= r["offered"].as_i64(), "{r}");
        if let Some(sl) = r["service_level_pct"].as_f64() {
            assert!((0.0..=100.0).contains(&sl), "{r}");
        }
    }

    // One queue: only its rows.
    let queue = days.iter().find(|r| r["dimension"] == "queue").unwrap()["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let one = json_rows(&url, &["--interval", "1d", "--queue", &queue]);
    assert!(!one.is_empty() && one.iter().all(|r| r["name"] == queue.as_str()));

    // One agent, by username: only their rows, named by username.
    let agent = days.iter().find(|r| r["dimension"] == "agent").unwrap()["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let theirs = json_rows(&url, &["--interval", "1h", "--agent", &agent]);
    assert!(!theirs.is_empty());
    assert!(theirs
        .iter()
        .all(|r| r["dimension"] == "agent" && r["name"] == agent.as_str()));

    // A window after the run: nothing.
    assert!(json_rows(&url, &["--from", "2026-01-06"]).is_empty());
}

#[test]
fn table_is_aligned_and_csv_has_a_header() {
    let dir = tempfile::tempdir().unwrap();
    let url = filled_store(dir.path());
    let table = stdout(&switchboard(&["report", "--store", &url]));
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines.len() > 2);
    assert!(lines[0].starts_with("interval"));
    let width = lines[0].chars().count();
    assert!(lines.iter().all(|l| l.chars().count() == width), "{table}");

    let csv = stdout(&switchboard(&[
        "report", "--store", &url, "--format", "csv",
    ]));
    let mut rows = csv.lines();
    let header = rows.next().unwrap();
    assert!(header.starts_with("interval,dimension,name,offered"));
    let columns = header.split(',').count();
    assert!(rows.all(|r| r.split(',').count() == columns), "{csv}");
}

#[test]
fn unknown_agent_and_missing_store_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = format!("sqlite:{}", dir.path().join("none.db").display());
    let out = switchboard(&["report", "--store", &missing]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no store at"));
    assert!(!dir.path().join("none.db").exists());

    let url = filled_store(dir.path());
    let out = switchboard(&["report", "--store", &url, "--agent", "nobody"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no agent with username"));
}

#[test]
fn store_stats_prints_rows_and_bytes_per_table() {
    let dir = tempfile::tempdir().unwrap();
    let url = filled_store(dir.path());

    let json: serde_json::Value = serde_json::from_str(&stdout(&switchboard(&[
        "store", "stats", "--store", &url, "--json",
    ])))
    .unwrap();
    let tables = json.as_array().unwrap();
    let get = |name: &str| {
        tables
            .iter()
            .find(|t| t["table"] == name)
            .unwrap_or_else(|| panic!("no {name} in {json}"))
    };
    for name in [
        "contacts",
        "contact_entries",
        "contact_records",
        "transitions",
        "triggers",
        "metric_cells",
        "outbox",
    ] {
        assert!(get(name)["bytes"].as_u64().unwrap() > 0, "{name}");
    }
    let contacts = get("contacts")["rows"].as_u64().unwrap();
    assert!(contacts > 10, "{contacts} contacts");
    assert!(get("transitions")["rows"].as_u64().unwrap() > contacts);

    let text = stdout(&switchboard(&["store", "stats", "--store", &url]));
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("table") && lines[0].ends_with("bytes"),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.split_whitespace().next() == Some("contacts")
                && l.split_whitespace().nth(1) == Some(&contacts.to_string()[..])),
        "{text}"
    );
    assert!(lines.iter().any(|l| l.starts_with("total")), "{text}");
    assert!(
        lines
            .last()
            .unwrap()
            .ends_with(&format!("bytes per contact ({contacts} contacts)")),
        "{text}"
    );
}

#[test]
fn an_old_store_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    // A store file as switchboard 0.1 (schema version 2) left it, with one transition.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE transitions (seq INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL,
             kind TEXT NOT NULL, agent_arn TEXT NOT NULL, contact_id TEXT, json TEXT NOT NULL);
         CREATE TABLE contacts (contact_id TEXT PRIMARY KEY);
         CREATE TABLE contact_records (contact_id TEXT PRIMARY KEY);
         CREATE TABLE triggers (contact_id TEXT);
         INSERT INTO transitions VALUES (1, 0, 'agent_logged_in', 'arn:a', NULL, '{}');
         PRAGMA user_version = 2;",
    )
    .unwrap();
    drop(conn);
    let url = format!("sqlite:{}", path.display());
    let out = switchboard(&["store", "stats", "--store", &url]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("older switchboard") && err.contains("switchboard replay"),
        "{err}"
    );
}
