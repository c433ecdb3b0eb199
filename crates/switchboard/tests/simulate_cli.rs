//! `switchboard simulate` output reads back through `decode` and `transitions` without an
//! error, in both layouts.

use std::path::Path;
use std::process::{Command, Output};

fn switchboard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .output()
        .unwrap()
}

fn files(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path().to_str().unwrap().to_owned())
        .collect();
    out.sort();
    out
}

/// Simulates (with `extra` options), then decodes and derives transitions from the output;
/// returns records by kind and the transition types seen.
fn simulate_then_read_back(
    format: &str,
    extra: &[&str],
) -> (
    std::collections::BTreeMap<String, usize>,
    std::collections::BTreeSet<String>,
) {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("cc");
    let out_str = out_dir.to_str().unwrap();
    let mut args = vec![
        "simulate",
        "--agents",
        "200",
        "--duration",
        "2h",
        "--seed",
        "1",
        "--out",
        out_str,
        "--format",
        format,
    ];
    args.extend(extra);
    let out = switchboard(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let entries = files(&out_dir);
    assert_eq!(entries.len(), 3, "{entries:?}");

    // `decode DIR/*`: every record, no error.
    let mut args = vec!["decode"];
    args.extend(entries.iter().map(String::as_str));
    let out = switchboard(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        *kinds
            .entry(v["kind"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(kinds.len(), 3, "{kinds:?}");

    // `transitions DIR/*`: no error, every transition well-formed.
    let mut args = vec!["transitions"];
    args.extend(entries.iter().map(String::as_str));
    let out = switchboard(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut types = std::collections::BTreeSet::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let t: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(t["agent_arn"].is_string() && t["at"].is_string(), "{line}");
        types.insert(t["type"].as_str().unwrap().to_owned());
    }
    (kinds, types)
}

/// The issue's own command: `simulate --agents 200 --duration 2h --seed 1` (midnight to
/// 2 am: a quiet night shift).
#[test]
fn ndjson_output_decodes_and_yields_transitions() {
    let (kinds, types) = simulate_then_read_back("ndjson", &[]);
    assert!(kinds["agent_event"] > 500, "{kinds:?}");
    assert!(types.contains("agent_logged_in"), "{types:?}");
}

/// The busy morning, in Firehose's S3 layout: every kind of transition appears.
#[test]
fn firehose_output_decodes_and_yields_transitions() {
    let (kinds, types) = simulate_then_read_back("firehose", &["--start", "2026-01-05T08:00:00Z"]);
    assert!(kinds["contact_record"] > 300, "{kinds:?}");
    for expected in [
        "agent_logged_in",
        "agent_status_changed",
        "contact_offered",
        "contact_connected",
        "hold_started",
        "hold_ended",
        "acw_started",
        "acw_ended",
        "contact_missed",
    ] {
        assert!(types.contains(expected), "no {expected} in {types:?}");
    }
}
