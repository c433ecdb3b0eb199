//! Black-box tests of `switchboard store stats` over a store filled by `switchboard
//! replay` from a simulated corpus, and of the message an old store gets.

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

/// A store holding two hours of a 20-agent contact center.
fn filled_store(dir: &Path) -> String {
    let mut config = SimConfig::new(20);
    config.start = Timestamp::parse("2026-01-05T08:00:00Z").unwrap();
    config.duration_secs = 2 * 3600;
    let corpus = dir.join("corpus");
    let mut writer = OutputWriter::create(&corpus, OutputFormat::Ndjson, 1).unwrap();
    for e in Simulator::new(config).unwrap() {
        writer.write(&e).unwrap();
    }
    writer.finish().unwrap();
    let url = format!("sqlite:{}", dir.join("s.db").display());
    stdout(&switchboard(&[
        "replay",
        corpus.to_str().unwrap(),
        "--store",
        &url,
    ]));
    url
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
