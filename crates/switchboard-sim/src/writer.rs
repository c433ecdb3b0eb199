//! Writes emissions to files, one output per stream, in one of two layouts:
//!
//! - [`OutputFormat::Ndjson`]: `agent-events.ndjson`, `contact-events.ndjson`,
//!   `contact-records.ndjson`, one compact JSON record per line.
//! - [`OutputFormat::Firehose`]: what a Firehose delivery stream with an S3 destination
//!   and default settings leaves in the bucket: records concatenated with no separator,
//!   one object per 5 minutes of arrival time, under
//!   `<stream>/YYYY/MM/dd/HH/<stream>-1-YYYY-MM-dd-HH-mm-ss-<uuid>` (UTC time of the
//!   object's oldest record).
//!
//! Records are serialized once into a reused buffer and written through buffered files.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use switchboard_model::{RecordKind, Timestamp};

use crate::delivery::Emission;
use crate::rng::SimRng;

/// Firehose's default buffering interval.
const OBJECT_SPAN_MS: i64 = 300_000;

/// File layout of the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Ndjson,
    Firehose,
}

/// Name of a stream's output (file stem, folder and Firehose stream name).
pub fn stream_name(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::AgentEvent => "agent-events",
        RecordKind::ContactEvent => "contact-events",
        RecordKind::ContactRecord => "contact-records",
    }
}

/// What was written to one stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamStats {
    pub records: u64,
    pub bytes: u64,
    /// Files written (1 for NDJSON, one per object for Firehose).
    pub files: u64,
}

/// What was written, per stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteStats {
    pub agent_events: StreamStats,
    pub contact_events: StreamStats,
    pub contact_records: StreamStats,
}

impl WriteStats {
    pub fn get(&self, kind: RecordKind) -> &StreamStats {
        match kind {
            RecordKind::AgentEvent => &self.agent_events,
            RecordKind::ContactEvent => &self.contact_events,
            RecordKind::ContactRecord => &self.contact_records,
        }
    }

    fn get_mut(&mut self, kind: RecordKind) -> &mut StreamStats {
        match kind {
            RecordKind::AgentEvent => &mut self.agent_events,
            RecordKind::ContactEvent => &mut self.contact_events,
            RecordKind::ContactRecord => &mut self.contact_records,
        }
    }

    pub fn records(&self) -> u64 {
        self.agent_events.records + self.contact_events.records + self.contact_records.records
    }

    pub fn bytes(&self) -> u64 {
        self.agent_events.bytes + self.contact_events.bytes + self.contact_records.bytes
    }
}

/// A file that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {source}")]
pub struct WriteError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

struct Open {
    path: PathBuf,
    file: BufWriter<File>,
    opened_at: i64,
}

/// Writes emissions of the three streams under one directory.
pub struct OutputWriter {
    dir: PathBuf,
    format: OutputFormat,
    open: [Option<Open>; 3],
    stats: WriteStats,
    buf: Vec<u8>,
    rng: SimRng,
}

const KINDS: [RecordKind; 3] = [
    RecordKind::AgentEvent,
    RecordKind::ContactEvent,
    RecordKind::ContactRecord,
];

fn slot(kind: RecordKind) -> usize {
    match kind {
        RecordKind::AgentEvent => 0,
        RecordKind::ContactEvent => 1,
        RecordKind::ContactRecord => 2,
    }
}

impl OutputWriter {
    /// Creates `dir` if needed. `seed` makes Firehose object names reproducible. NDJSON
    /// files are created at once (empty streams still get their file).
    pub fn create(dir: &Path, format: OutputFormat, seed: u64) -> Result<Self, WriteError> {
        fs::create_dir_all(dir).map_err(|source| WriteError {
            path: dir.to_owned(),
            source,
        })?;
        let mut writer = OutputWriter {
            dir: dir.to_owned(),
            format,
            open: [None, None, None],
            stats: WriteStats::default(),
            buf: Vec::with_capacity(16 * 1024),
            rng: SimRng::new(seed ^ 0x5eed_f11e),
        };
        if format == OutputFormat::Ndjson {
            for kind in KINDS {
                let path = dir.join(format!("{}.ndjson", stream_name(kind)));
                writer.open[slot(kind)] = Some(writer.open_file(path, 0)?);
                writer.stats.get_mut(kind).files += 1;
            }
        }
        Ok(writer)
    }

    fn open_file(&self, path: PathBuf, opened_at: i64) -> Result<Open, WriteError> {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|source| WriteError {
                path: parent.to_owned(),
                source,
            })?;
        }
        let file = File::create(&path).map_err(|source| WriteError {
            path: path.clone(),
            source,
        })?;
        Ok(Open {
            path,
            file: BufWriter::with_capacity(256 * 1024, file),
            opened_at,
        })
    }

    /// Path of a new Firehose object whose oldest record arrived at `at`.
    fn object_path(&mut self, kind: RecordKind, at: i64) -> PathBuf {
        let t = Timestamp::from_millis(at).to_second_precision().to_string(); // 2026-01-05T08:12:03Z
        let (y, mo, d, h, mi, s) = (
            &t[0..4],
            &t[5..7],
            &t[8..10],
            &t[11..13],
            &t[14..16],
            &t[17..19],
        );
        let name = stream_name(kind);
        let file = format!("{name}-1-{y}-{mo}-{d}-{h}-{mi}-{s}-{}", self.rng.uuid());
        self.dir
            .join(name)
            .join(y)
            .join(mo)
            .join(d)
            .join(h)
            .join(file)
    }

    /// Appends one emission to its stream.
    pub fn write(&mut self, emission: &Emission) -> Result<(), WriteError> {
        let kind = emission.kind();
        let at = emission.at.millis();
        self.buf.clear();
        serde_json::to_writer(&mut self.buf, &emission.record).map_err(|e| WriteError {
            path: self.dir.join(stream_name(kind)),
            source: std::io::Error::other(e),
        })?;
        if self.format == OutputFormat::Ndjson {
            self.buf.push(b'\n');
        } else {
            let stale = self.open[slot(kind)]
                .as_ref()
                .is_none_or(|o| at >= o.opened_at + OBJECT_SPAN_MS);
            if stale {
                self.close(kind)?;
                let path = self.object_path(kind, at);
                self.open[slot(kind)] = Some(self.open_file(path, at)?);
                self.stats.get_mut(kind).files += 1;
            }
        }
        let open = self.open[slot(kind)].as_mut().expect("opened above");
        open.file
            .write_all(&self.buf)
            .map_err(|source| WriteError {
                path: open.path.clone(),
                source,
            })?;
        let stats = self.stats.get_mut(kind);
        stats.records += 1;
        stats.bytes += self.buf.len() as u64;
        Ok(())
    }

    fn close(&mut self, kind: RecordKind) -> Result<(), WriteError> {
        if let Some(mut open) = self.open[slot(kind)].take() {
            open.file.flush().map_err(|source| WriteError {
                path: open.path.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// Totals so far.
    pub fn stats(&self) -> WriteStats {
        self.stats
    }

    /// Flushes and closes every file.
    pub fn finish(mut self) -> Result<WriteStats, WriteError> {
        for kind in KINDS {
            self.close(kind)?;
        }
        Ok(self.stats)
    }
}
