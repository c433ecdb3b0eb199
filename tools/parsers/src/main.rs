//! Parses every record of a corpus into the engine's borrowed view with three parsers
//! (serde_json, sonic-rs, simd-json, each through serde) and into `IgnoredAny`, on one
//! thread, and prints MB/s per stream. See docs/parsers.md.
//!
//! Usage: cargo run --release --manifest-path tools/parsers/Cargo.toml -- FILE.ndjson...

use std::time::Instant;

use serde::de::IgnoredAny;
use switchboard_model::view::{AgentEventView, ContactEventView, ContactRecordView};
use switchboard_model::RecordKind;

const ROUNDS: usize = 3;

fn main() {
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path).expect("readable file");
        let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
        let Some(kind) = switchboard_model::Record::sniff(lines[0]) else {
            eprintln!("{path}: not a record file");
            continue;
        };
        let mb = lines.iter().map(|l| l.len()).sum::<usize>() as f64 / 1e6;
        println!("{path}: {kind}, {} records, {mb:.1} MB", lines.len());
        let best = |f: &mut dyn FnMut() -> usize| {
            let mut secs = f64::MAX;
            for _ in 0..ROUNDS {
                let t = Instant::now();
                let ok = f();
                assert_eq!(ok, lines.len(), "every record parses");
                secs = secs.min(t.elapsed().as_secs_f64());
            }
            mb / secs
        };
        let serde_ignored = best(&mut || {
            lines.iter().filter(|l| serde_json::from_slice::<IgnoredAny>(l).is_ok()).count()
        });
        let sonic_ignored = best(&mut || {
            lines.iter().filter(|l| sonic_rs::from_slice::<IgnoredAny>(l).is_ok()).count()
        });
        macro_rules! view {
            ($t:ty) => {{
                let serde = best(&mut || {
                    lines.iter().filter(|l| serde_json::from_slice::<$t>(l).is_ok()).count()
                });
                let sonic = best(&mut || {
                    lines.iter().filter(|l| sonic_rs::from_slice::<$t>(l).is_ok()).count()
                });
                // simd-json parses in place: each record is copied into a scratch buffer
                // first (a copy the pipeline would have to make too).
                let mut scratch = Vec::new();
                let simd = best(&mut || {
                    let mut ok = 0;
                    for l in &lines {
                        scratch.clear();
                        scratch.extend_from_slice(l);
                        if simd_json::serde::from_slice::<$t>(&mut scratch).is_ok() {
                            ok += 1;
                        }
                    }
                    ok
                });
                (serde, sonic, simd)
            }};
        }
        let (serde, sonic, simd) = match kind {
            RecordKind::AgentEvent => view!(AgentEventView<'_>),
            RecordKind::ContactRecord => view!(ContactRecordView<'_>),
            RecordKind::ContactEvent => view!(ContactEventView<'_>),
        };
        println!("  IgnoredAny:  serde_json {serde_ignored:7.0} MB/s  sonic-rs {sonic_ignored:7.0} MB/s");
        println!("  engine view: serde_json {serde:7.0} MB/s  sonic-rs {sonic:7.0} MB/s  simd-json {simd:7.0} MB/s");
    }
}
