//! The dashboard in a real browser: `tests/browser/dashboard.cjs` starts `switchboard demo`
//! on a free port, opens it in headless Chromium through playwright-core, waits for the
//! seat map, checks that tiles change state live and that a contact's timeline opens, and
//! saves screenshots to `target/dashboard-screenshots/`.
//!
//! Needs Node.js, Chromium (`/usr/bin/chromium`, or `CHROMIUM`) and playwright-core (in
//! `.tools/node_modules`, or `PLAYWRIGHT_CORE`); `bash scripts/test.sh` installs them. In
//! CI, or with `SWITCHBOARD_REQUIRE_BROWSER=1` (which scripts/test.sh sets), a missing
//! tool fails the test; elsewhere the test says what is missing and passes without
//! running, so a plain `cargo test` on a machine without a browser stays usable.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn required() -> bool {
    let set = |v: &str| std::env::var(v).is_ok_and(|x| !x.is_empty() && x != "0" && x != "false");
    set("CI") || set("SWITCHBOARD_REQUIRE_BROWSER")
}

#[test]
fn dashboard_shows_a_live_seat_map_in_headless_chromium() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let playwright = std::env::var("PLAYWRIGHT_CORE").map_or_else(
        |_| root().join(".tools/node_modules/playwright-core"),
        PathBuf::from,
    );
    let node = Command::new("node").arg("--version").output();
    let mut missing = Vec::new();
    if !node.is_ok_and(|o| o.status.success()) {
        missing.push("Node.js (`node`): apt-get install nodejs".to_owned());
    }
    if !Path::new(&chromium).exists() {
        missing.push(format!("Chromium at {chromium}: apt-get install chromium"));
    }
    if !playwright.join("package.json").exists() {
        missing.push(format!(
            "playwright-core at {}: npm install --prefix .tools playwright-core",
            playwright.display()
        ));
    }
    if !missing.is_empty() {
        let message = format!(
            "the dashboard browser test cannot run; missing:\n  {}\n`bash scripts/test.sh` installs them",
            missing.join("\n  ")
        );
        assert!(!required(), "{message}");
        eprintln!("SKIPPED (not in CI): {message}");
        return;
    }

    let shots = root().join("target/dashboard-screenshots");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/dashboard.cjs");
    let output = Command::new("node")
        .arg(&script)
        .env("SWITCHBOARD_BIN", env!("CARGO_BIN_EXE_switchboard"))
        .env("PLAYWRIGHT_CORE", &playwright)
        .env("CHROMIUM", &chromium)
        .env("SCREENSHOT_DIR", &shots)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "the browser test failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("dashboard browser test passed"), "{stdout}");
    for shot in ["dashboard.png", "contact.png"] {
        let meta = std::fs::metadata(shots.join(shot)).expect("screenshot written");
        assert!(meta.len() > 10_000, "{shot} is only {} bytes", meta.len());
    }
}
