//! `switchboard bench replay` runs end to end on a tiny corpus, so the command behind the
//! README's throughput figures keeps working. No figure is asserted (tests never assert
//! wall-clock times): only that each is printed, with its target, for every stream.

mod support;

use std::process::Command;
use std::time::Duration;

use support::run::{bin, with_timeout};

#[test]
fn bench_replay_prints_every_figure_per_stream() {
    // The Python of the test servers if set, else python3; a missing one is reported as
    // skipped by the bench, which this test then accepts.
    let python = std::env::var("SWITCHBOARD_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = with_timeout(
        Command::new(bin()).args([
            "bench",
            "replay",
            "--agents",
            "10",
            "--duration",
            "1h",
            "--start",
            "2026-01-05T10:00:00Z",
            "--layout",
            "ndjson",
            "--memory-agents",
            "0",
            "--python",
            &python,
        ]),
        Duration::from_secs(300),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for stream in ["agent_event", "contact_event", "contact_record"] {
        let block = stdout
            .split_once(&format!("{stream} ("))
            .unwrap_or_else(|| panic!("no {stream} block in:\n{stdout}"))
            .1;
        for figure in [
            "serde_json, IgnoredAny",
            "serde_json, borrowed engine fields",
            "decode only",
            "replay into SQLite",
            "seed-style Python handler",
        ] {
            assert!(
                block.contains(figure),
                "{stream}: no {figure:?} in:\n{stdout}"
            );
        }
        assert!(block.contains("(target: at least 70%)"), "{stdout}");
        assert!(block.contains("(target: at least 50%)"), "{stdout}");
    }
    if !stdout.contains("skipped (no python3)") {
        assert!(stdout.contains("(target: at least 5x)"), "{stdout}");
    }
}
