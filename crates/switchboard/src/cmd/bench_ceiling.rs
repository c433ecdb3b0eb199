//! The ceiling beside our figures, per stream: how fast the JSON parser alone goes on the
//! same records, next to our decode-only and replay throughput and a seed-style Python
//! handler's.
//!
//! For each of the three streams of a corpus, on the same bytes in one process:
//! 1. serde_json into `IgnoredAny` (validating only);
//! 2. serde_json into a borrowed struct of the fields the engine reads: the engine's own
//!    view ([`RecordView`]), which is exactly that;
//! 3. decode only: the decoder over the stream's files in memory (split, kind, view);
//! 4. replay: the stream's files through `switchboard replay` (the files source and the
//!    one pipeline loop into a fresh SQLite store);
//! 5. `scripts/seed_handler.py` (base64, `json.loads`, snapshot checks) when a Python is
//!    found, timing its own loop.
//!
//! Each figure is printed twice: per second of wall-clock time, and per second of CPU time
//! of the whole process (`/proc/self/stat`, every thread counted, those that ended too):
//! the throughput one dedicated core would give. The targets are checked on the CPU-time
//! figures, which a machine shared with other work does not distort; on an idle machine
//! pinned to one core (`taskset -c 0`) the two agree. Replay runs a reader and a pipeline
//! thread; their CPU time is added.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::Context;
use serde::de::IgnoredAny;
use switchboard_model::decode::{Decoded, Decoder, Format};
use switchboard_model::{RecordKind, RecordView};

use super::replay::{replay, Options};

/// The seed-style handler, written next to the corpus when it runs.
const SEED_HANDLER: &str = include_str!("../../../../scripts/seed_handler.py");

/// Targets, as fractions of the borrowed-struct figure (and a multiple of Python's).
const REPLAY_TARGET: f64 = 0.50;
const DECODE_TARGET: f64 = 0.70;
const PYTHON_TARGET: f64 = 5.0;

/// One measured figure.
#[derive(Debug, Clone, Copy, Default)]
struct Rate {
    bytes: u64,
    records: u64,
    /// Wall-clock seconds.
    secs: f64,
    /// CPU seconds of the process (all threads).
    cpu: f64,
}

impl Rate {
    /// MB per CPU second.
    fn mbs(self) -> f64 {
        self.bytes as f64 / 1e6 / self.cpu.max(1e-9)
    }
    fn per_s(self) -> f64 {
        self.records as f64 / self.cpu.max(1e-9)
    }
    fn wall_mbs(self) -> f64 {
        self.bytes as f64 / 1e6 / self.secs.max(1e-9)
    }
    fn show(self) -> String {
        format!(
            "{:8.1} MB/s {:9.0} records/s per CPU s ({:7.1} MB/s wall)",
            self.mbs(),
            self.per_s(),
            self.wall_mbs()
        )
    }
}

/// CPU seconds this process has used (user + system, every thread, ended ones too).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // After the command name (in parentheses): fields 14 and 15 are utime and stime, in
    // clock ticks (100 per second on Linux).
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Runs `f` `rounds` times (enough to outlast the CPU clock's 10 ms tick) and returns the
/// rate of one round.
fn rate(bytes: u64, rounds: u32, f: &mut dyn FnMut() -> u64) -> Rate {
    let (wall, cpu) = (Instant::now(), cpu_seconds());
    let mut records = 0;
    for _ in 0..rounds {
        records = f();
    }
    let n = f64::from(rounds);
    Rate {
        bytes,
        records,
        secs: wall.elapsed().as_secs_f64() / n,
        cpu: (cpu_seconds() - cpu) / n,
    }
}

/// One stream's files and records.
struct Stream {
    kind: RecordKind,
    files: Vec<PathBuf>,
    /// The files' contents.
    contents: Vec<Vec<u8>>,
    /// Every record, as decoded (kind, bytes).
    records: Vec<Decoded>,
}

/// Runs the comparison over the corpus files, printing a block per stream. `python`:
/// the interpreter for the seed handler (`None`: skipped).
pub fn compare(
    files: &[PathBuf],
    work: &Path,
    batch: u64,
    python: Option<&str>,
) -> anyhow::Result<()> {
    println!(
        "cores allowed: {} (pin with `taskset -c 0` for one core)",
        cores_allowed()
    );
    for stream in streams(files)? {
        measure(&stream, work, batch, python)?;
    }
    Ok(())
}

/// Groups the files by the stream of their records (the first record of each decides).
fn streams(files: &[PathBuf]) -> anyhow::Result<Vec<Stream>> {
    let mut out: Vec<Stream> = Vec::new();
    let decoder = Decoder::new(Format::Auto);
    for path in files {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let mut records = Vec::new();
        decoder.decode_slice(None, &bytes, &mut |item| {
            if let Ok(d) = item {
                records.push(d);
            }
            std::ops::ControlFlow::Continue(())
        });
        let Some(kind) = records.first().map(|d| d.kind) else {
            continue;
        };
        let i = match out.iter().position(|s| s.kind == kind) {
            Some(i) => i,
            None => {
                out.push(Stream {
                    kind,
                    files: Vec::new(),
                    contents: Vec::new(),
                    records: Vec::new(),
                });
                out.len() - 1
            }
        };
        out[i].files.push(path.clone());
        out[i].contents.push(bytes);
        out[i].records.extend(records);
    }
    out.sort_by_key(|s| s.kind);
    Ok(out)
}

fn measure(s: &Stream, work: &Path, batch: u64, python: Option<&str>) -> anyhow::Result<()> {
    let bytes: u64 = s.contents.iter().map(|c| c.len() as u64).sum();
    let n = s.records.len() as u64;
    // About a second of parsing per figure, whatever the corpus size.
    let rounds = (2_000_000_000 / bytes.max(1)).clamp(1, 1000) as u32;
    let timed = |f: &mut dyn FnMut() -> u64| rate(bytes, rounds, f);

    let ignored = timed(&mut || {
        s.records
            .iter()
            .filter(|d| serde_json::from_slice::<IgnoredAny>(&d.raw).is_ok())
            .count() as u64
    });
    let borrowed = timed(&mut || {
        s.records
            .iter()
            .filter(|d| RecordView::parse(d.kind, d.detail_only, &d.raw).is_ok())
            .count() as u64
    });
    let decoder = Decoder::new(Format::Auto);
    let decode = timed(&mut || {
        s.contents
            .iter()
            .map(|c| {
                decoder
                    .decode_slice(None, c, &mut |_| std::ops::ControlFlow::Continue(()))
                    .records
            })
            .sum()
    });

    let db = work.join(format!("bench-{}.db", s.kind));
    let url = switchboard_store::StoreUrl::Sqlite(db);
    let cpu = cpu_seconds();
    let summary = replay(&s.files, &url, &Options::new(Format::Auto, batch))?;
    let replayed = Rate {
        bytes,
        records: summary.record_count(),
        secs: summary.elapsed.as_secs_f64(),
        cpu: cpu_seconds() - cpu,
    };
    let python = match python {
        Some(python) => seed_handler(python, s, work, bytes)?,
        None => None,
    };

    println!(
        "{} ({} files, {n} records, {:.1} MB):",
        s.kind,
        s.files.len(),
        bytes as f64 / 1e6
    );
    println!("  serde_json, IgnoredAny             {}", ignored.show());
    println!("  serde_json, borrowed engine fields {}", borrowed.show());
    let share = |r: Rate| 100.0 * r.mbs() / borrowed.mbs().max(1e-9);
    println!(
        "  decode only                        {}  {:5.1}% of borrowed (target: at least {:.0}%) {}",
        decode.show(),
        share(decode),
        DECODE_TARGET * 100.0,
        verdict(share(decode) >= DECODE_TARGET * 100.0)
    );
    println!(
        "  replay into SQLite                 {}  {:5.1}% of borrowed (target: at least {:.0}%) {}",
        replayed.show(),
        share(replayed),
        REPLAY_TARGET * 100.0,
        verdict(share(replayed) >= REPLAY_TARGET * 100.0)
    );
    match python {
        Some(p) => {
            let times = replayed.mbs() / p.mbs().max(1e-9);
            println!("  seed-style Python handler          {}", p.show());
            println!(
                "  replay / Python                    {times:.1}x (target: at least {PYTHON_TARGET:.0}x) {}",
                verdict(times >= PYTHON_TARGET)
            );
        }
        None => println!("  seed-style Python handler          skipped (no python3)"),
    }
    Ok(())
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "NOT MET"
    }
}

/// Runs the seed handler over the stream's records as base64 payloads (one per line, as
/// Kinesis hands them to a Lambda). `None` if the interpreter does not run.
fn seed_handler(python: &str, s: &Stream, work: &Path, bytes: u64) -> anyhow::Result<Option<Rate>> {
    let script = work.join("seed_handler.py");
    std::fs::write(&script, SEED_HANDLER).context("cannot write the seed handler")?;
    let input = work.join(format!("{}.b64", s.kind));
    let mut lines = Vec::new();
    for d in &s.records {
        lines.extend_from_slice(switchboard_model::envelope::encode_base64(&d.raw).as_bytes());
        lines.push(b'\n');
    }
    std::fs::write(&input, lines).context("cannot write the handler's input")?;
    let out = match Command::new(python)
        .arg(&script)
        .arg(s.kind.as_str())
        .arg(&input)
        .output()
    {
        Ok(out) if out.status.success() => out,
        Ok(out) => anyhow::bail!(
            "the seed handler failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(_) => return Ok(None),
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| {
        text.split_whitespace()
            .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
            .map(str::to_owned)
    };
    let records = field("records").and_then(|v| v.parse().ok());
    let secs = field("seconds").and_then(|v| v.parse().ok());
    let cpu = field("cpu").and_then(|v| v.parse().ok());
    let (Some(records), Some(secs), Some(cpu)) = (records, secs, cpu) else {
        anyhow::bail!("the seed handler printed {text:?}, expected records=N seconds=S cpu=C");
    };
    Ok(Some(Rate {
        bytes,
        records,
        secs,
        cpu,
    }))
}

/// `Cpus_allowed_list` of this process.
fn cores_allowed() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}
