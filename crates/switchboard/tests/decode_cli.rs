//! Black-box tests of `switchboard decode`: output shape, exit codes, error positions.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn samples() -> PathBuf {
    std::env::var("SWITCHBOARD_SAMPLES")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/connect/samples")
        })
}

fn switchboard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .output()
        .unwrap()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn prints_kind_source_and_record() {
    let file = samples().join("agent-event-state-change-contact-ended.json");
    let out = switchboard(&["decode", path(&file)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = lines(&out);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["kind"], "agent_event");
    assert_eq!(lines[0]["source"]["file"], path(&file));
    assert_eq!(lines[0]["source"]["line"], 1);
    assert_eq!(lines[0]["record"]["EventType"], "STATE_CHANGE");
}

#[test]
fn every_record_sample_decodes_with_its_kind() {
    let dir = samples();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_str().unwrap();
            n.ends_with(".json")
                && (n.starts_with("ctr-")
                    || n.starts_with("agent-event-")
                    || n.starts_with("eventbridge-contact-"))
        })
        .collect();
    files.sort();
    let mut args = vec!["decode"];
    args.extend(files.iter().map(|p| path(p)));
    let out = switchboard(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = lines(&out);
    assert_eq!(lines.len(), files.len());
    for (line, file) in lines.iter().zip(&files) {
        let name = file.file_name().unwrap().to_str().unwrap();
        let kind = if name.starts_with("ctr-") {
            "contact_record"
        } else if name.starts_with("agent-event-") {
            "agent_event"
        } else {
            "contact_event"
        };
        assert_eq!(line["kind"], kind, "{name}");
    }
}

#[test]
fn truncated_file_is_a_clear_error_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let sample = std::fs::read(samples().join("ctr-voice-inbound-2022.json")).unwrap();
    let file = dir.path().join("cut.json");
    std::fs::write(&file, &sample[..sample.len() / 2]).unwrap();
    let out = switchboard(&["decode", path(&file)]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:1 (byte 0)", path(&file))),
        "{err}"
    );
    assert!(err.contains("truncated"), "{err}");
}

#[test]
fn garbage_is_a_clear_error_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("garbage.bin");
    std::fs::write(&file, b"\x00\x9f\x92\x96 not json at all\n").unwrap();
    let out = switchboard(&["decode", path(&file)]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("garbage.bin:1") && err.contains("not JSON"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn keep_going_prints_good_records_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(samples().join("agent-event-heartbeat.json")).unwrap();
    let good: serde_json::Value = serde_json::from_str(&good).unwrap();
    let good = serde_json::to_string(&good).unwrap();
    let file = dir.path().join("mixed.ndjson");
    std::fs::write(
        &file,
        format!("{good}\n{{\"EventType\": \n{good}\nnonsense\n{good}\n"),
    )
    .unwrap();
    let out = switchboard(&["decode", "--keep-going", path(&file)]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(lines(&out).len(), 3);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 2, "{err}");
    assert!(err.contains("mixed.ndjson:2"), "{err}");
    assert!(
        err.contains("mixed.ndjson:4") && err.contains("nonsense"),
        "{err}"
    );

    // Without --keep-going, the first bad record stops the run.
    let out = switchboard(&["decode", path(&file)]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(lines(&out).len(), 1);
}

#[test]
fn folders_gzip_and_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a/b");
    std::fs::create_dir_all(&nested).unwrap();
    let ctr = std::fs::read(samples().join("ctr-voice-inbound-2022.json")).unwrap();
    let mut gz = flate2_gzip(&ctr);
    std::fs::write(nested.join("ctr.json.gz"), &gz).unwrap();
    std::fs::write(
        dir.path().join("a/two.json"),
        [ctr.clone(), ctr.clone()].concat(),
    )
    .unwrap();
    let out = switchboard(&["decode", path(dir.path())]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(lines(&out).len(), 3);

    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["decode", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::mem::take(&mut gz))
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(lines(&out)[0]["source"]["file"], "<stdin>");
}

#[test]
fn missing_file_and_bad_format_are_reported() {
    let out = switchboard(&["decode", "/nonexistent/file.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot open"));
    let out = switchboard(&["decode", "--format", "xml", "-"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected one of"));
}

/// Gzip without pulling a compression crate into this crate's tests: use the system's
/// `gzip`, which every Debian machine has.
fn flate2_gzip(bytes: &[u8]) -> Vec<u8> {
    let mut child = Command::new("gzip")
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("gzip is installed");
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    child.wait_with_output().unwrap().stdout
}
