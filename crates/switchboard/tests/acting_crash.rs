//! Delivery survives a crash while a sink is down: `switchboard run` reads simulator
//! records (files source) and routes every record to a webhook that is not listening, so
//! the outbox fills; it is SIGKILLed mid-way, started again, and the webhook comes up.
//! Every routed record arrives, byte for byte, and every repeat of a record (at-least-once
//! around the kill) carries the same idempotency key, so the receiver applies each once.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::receiver::{free_port, Receiver};
use support::run::{bin, wait_for, Running};
use switchboard_store::{SqliteStore, Store};

fn write_config(dir: &Path, hook: &str) -> std::path::PathBuf {
    let config = format!(
        r#"
[store]
url = "sqlite:sb.db"

[server]
enabled = false

[pipeline]
commit_interval_ms = 100
max_batch_records = 50

[outbox]
retry_initial_ms = 20
retry_max_ms = 200
max_attempts = 1000
poll_ms = 20

[[sources]]
type = "files"
paths = ["input"]
batch = 25

[[sinks]]
name = "crm"
type = "webhook"
url = "{hook}"
timeout_ms = 2000
concurrency = 8

[[rules]]
name = "every-record"
kinds = ["record"]
sinks = ["crm"]
"#
    );
    let path = dir.join("switchboard.toml");
    std::fs::write(&path, config).unwrap();
    path
}

#[test]
fn sigkill_while_a_sink_is_down_loses_nothing_and_repeats_no_key() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input");
    let status = Command::new(bin())
        .args([
            "simulate",
            "--agents",
            "25",
            "--duration",
            "40m",
            "--seed",
            "7",
        ])
        .args(["--start", "2026-03-02T09:00:00Z", "--out"])
        .arg(&input)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    // What should arrive: every record line of the input, once.
    let mut expected = BTreeSet::new();
    for entry in std::fs::read_dir(&input).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            expected.insert(line.to_vec());
        }
    }
    assert!(expected.len() > 300, "{} records", expected.len());

    let addr = free_port();
    let config = write_config(dir.path(), &format!("http://{addr}/hook"));
    let db = dir.path().join("sb.db");
    let outbox_len = || {
        SqliteStore::open(&db)
            .ok()
            .and_then(|s| s.outbox_len().ok())
            .unwrap_or(0)
    };

    // The sink is down: the outbox fills; kill the process mid-way.
    let first = Running::start(&config, &[]);
    wait_for("the outbox to fill", Duration::from_secs(120), || {
        outbox_len() >= 100
    });
    first.kill();
    let waiting = outbox_len();
    assert!(waiting >= 100, "{waiting} items waiting");

    // Restart, then bring the sink up: everything arrives.
    let second = Running::start(&config, &[]);
    std::thread::sleep(Duration::from_millis(300));
    let receiver = Receiver::start_on(addr);
    wait_for("every record to arrive", Duration::from_secs(240), || {
        receiver.applied().len() >= expected.len()
    });
    wait_for("the outbox to empty", Duration::from_secs(60), || {
        outbox_len() == 0
    });
    second.stop();

    let applied = receiver.applied();
    let bodies: BTreeSet<Vec<u8>> = applied.values().cloned().collect();
    assert_eq!(
        bodies.len(),
        applied.len(),
        "one key per record: a repeat carried a new key"
    );
    assert_eq!(
        bodies, expected,
        "every record arrived byte for byte, nothing else"
    );
    let seen = receiver.seen.lock().unwrap();
    eprintln!(
        "{} records, {} calls, {} repeats acknowledged without applying",
        applied.len(),
        seen.calls.len(),
        seen.repeats
    );
}
