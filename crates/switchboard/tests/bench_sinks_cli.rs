//! `switchboard bench sinks` runs end to end on a tiny corpus against the test servers
//! (moto for S3, PostgreSQL), so the command behind the README's sink figures keeps
//! working. No figure is asserted: only that each is printed.

mod support;

use std::process::Command;

use support::run::{bin, with_timeout};

#[test]
fn bench_sinks_prints_every_figure() {
    let moto = support::servers::moto_url();
    let pg = support::servers::PgSchema::new();
    let out = with_timeout(
        Command::new(bin()).args([
            "bench",
            "sinks",
            "--agents",
            "10",
            "--duration",
            "20m",
            "--latency-records",
            "100",
            "--rate",
            "200",
            "--commit-ms",
            "200",
            "--s3-endpoint",
            &moto,
            "--pg",
            &pg.url(),
        ]),
        std::time::Duration::from_secs(300),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "replay without sinks:",
        "into S3:",
        "into PostgreSQL:",
        "commit → webhook: p50",
    ] {
        assert!(stdout.contains(line), "no {line:?} in:\n{stdout}");
    }
    assert!(!stdout.contains("skipped"), "{stdout}");
}
