//! The writers: NDJSON files, and Firehose-style S3 objects (records concatenated with no
//! separator, one object per five minutes, keys named as Firehose names them).

mod common;

use std::path::Path;

use common::config;
use switchboard_model::Record;
use switchboard_sim::{ConfigError, OutputFormat, OutputWriter, SimConfig, Simulator};

fn write(dir: &Path, format: OutputFormat) -> switchboard_sim::WriteStats {
    let mut writer = OutputWriter::create(dir, format, 1).unwrap();
    for e in Simulator::new(config(15, 1, 2)).unwrap() {
        writer.write(&e).unwrap();
    }
    writer.finish().unwrap()
}

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn ndjson_has_one_record_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let stats = write(dir.path(), OutputFormat::Ndjson);
    for (name, expected) in [
        ("agent-events.ndjson", stats.agent_events.records),
        ("contact-events.ndjson", stats.contact_events.records),
        ("contact-records.ndjson", stats.contact_records.records),
    ] {
        let text = std::fs::read_to_string(dir.path().join(name)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len() as u64, expected, "{name}");
        for line in lines {
            assert!(Record::from_json_slice(line.as_bytes()).unwrap().is_some());
        }
        assert_eq!(text.len() as u64, stats.get(kind_of(name)).bytes);
    }
}

fn kind_of(name: &str) -> switchboard_model::RecordKind {
    use switchboard_model::RecordKind::*;
    match name.split('.').next().unwrap() {
        "agent-events" => AgentEvent,
        "contact-events" => ContactEvent,
        _ => ContactRecord,
    }
}

#[test]
fn firehose_objects_are_concatenated_records_under_dated_keys() {
    let dir = tempfile::tempdir().unwrap();
    let stats = write(dir.path(), OutputFormat::Firehose);
    let mut paths = Vec::new();
    files(dir.path(), &mut paths);
    assert_eq!(
        paths.len() as u64,
        stats.agent_events.files + stats.contact_events.files + stats.contact_records.files
    );
    assert!(
        stats.agent_events.files >= 12,
        "one hour should give about 12 five-minute objects"
    );
    let mut records = 0;
    for path in &paths {
        let rel = path
            .strip_prefix(dir.path())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        // <stream>/YYYY/MM/dd/HH/<stream>-1-YYYY-MM-dd-HH-mm-ss-<uuid>
        let parts: Vec<&str> = rel.split('/').collect();
        assert_eq!(parts.len(), 6, "{rel}");
        let name = parts[5];
        assert!(
            name.starts_with(&format!(
                "{}-1-{}-{}-{}-{}-",
                parts[0], parts[1], parts[2], parts[3], parts[4]
            )),
            "{rel}"
        );
        assert_eq!(
            name.len(),
            parts[0].len() + "-1-2026-01-05-08-00-00-".len() + 36,
            "{rel}"
        );
        let bytes = std::fs::read(path).unwrap();
        assert!(
            !bytes.contains(&b'\n'),
            "{rel}: records must not be separated"
        );
        for value in serde_json::Deserializer::from_slice(&bytes).into_iter::<serde_json::Value>() {
            let json = serde_json::to_vec(&value.unwrap()).unwrap();
            assert!(Record::from_json_slice(&json).unwrap().is_some());
            records += 1;
        }
    }
    assert_eq!(records, stats.records());
}

#[test]
fn invalid_configs_are_refused_not_panicked_on() {
    let bad = [
        SimConfig {
            agents: 0,
            ..SimConfig::new(1)
        },
        SimConfig {
            duration_secs: u64::MAX,
            ..SimConfig::new(1)
        },
        SimConfig {
            peak_occupancy: 2.0,
            ..SimConfig::new(1)
        },
    ];
    for c in bad {
        assert!(matches!(
            Simulator::new(c),
            Err(ConfigError::Agents(_) | ConfigError::Duration(_) | ConfigError::Occupancy(_))
        ));
    }
    // Tiny and odd but valid configs run to the end.
    for agents in [1, 2, 3, 7] {
        let mut c = SimConfig::new(agents);
        c.duration_secs = 3 * 3600;
        c.start =
            switchboard_model::Timestamp::from_millis(c.start.millis() + 7 * 3_600_000 + 1234);
        assert!(Simulator::new(c).unwrap().count() > 0);
    }
}
