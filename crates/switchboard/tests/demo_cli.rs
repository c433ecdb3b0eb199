//! `switchboard demo` runs the simulator through the engine into the store.

use std::process::Command;

use switchboard_store::{AgentFilter, StoreUrl, TransitionFilter};

#[test]
fn demo_runs_simulator_engine_and_store_together() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let url = format!("sqlite:{}", db.display());
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "demo", "--agents", "20", "--speed", "600", "--for", "3s", "--store", &url, "--port",
            "0",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Not a terminal: one summary line per second, drawn from the engine.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.lines().count() >= 2, "{stdout}");
    assert!(
        stdout
            .lines()
            .all(|l| l.contains("| agents: ") && l.contains("transitions")),
        "{stdout}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains(&url));

    // The store holds what the engine derived.
    let store = url.parse::<StoreUrl>().unwrap().open().unwrap();
    let agents = store.agents(&AgentFilter::default()).unwrap();
    assert!(!agents.is_empty(), "no agent states stored");
    let transitions = store.transitions(&TransitionFilter::default()).unwrap();
    assert!(
        transitions.len() >= agents.len(),
        "only {} transitions for {} agents",
        transitions.len(),
        agents.len()
    );
}
