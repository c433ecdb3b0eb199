//! `switchboard bench memory` on a small center: one line per simulated day, the
//! eviction and commit figures, the store's tables and the figure beside its ceiling
//! (the figures themselves are not asserted: they depend on the machine).

use std::process::Command;

#[test]
fn bench_memory_reports_each_day_and_the_peak_beside_the_ceiling() {
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "bench", "memory", "--agents", "20", "--days", "2", "--batch", "500",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let days: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with(['1', '2']) && l.split_whitespace().count() == 11)
        .collect();
    assert_eq!(days.len(), 2, "{text}");
    assert!(text.contains("contacts evicted"), "{text}");
    assert!(text.contains("bytes per contact"), "{text}");
    assert!(
        text.contains("resident after the first day: at most") && text.contains("(ceiling 150 MB)"),
        "{text}"
    );
}
