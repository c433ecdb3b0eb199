//! The replay loop: files → decoder → engine → store, committing every `batch` items.
//!
//! Each commit carries the engine's changes, the states they touched, the engine meta and
//! the position reached in the file being read, in one store transaction. On start the
//! engine is restored from the store and every file resumes after its saved position, so
//! a replay killed at any point and started again ends with the same store as one that
//! never stopped: nothing applied twice, nothing skipped.
//!
//! Bad records are counted, the first few reported on stderr, and written to the
//! dead-letter file (flushed before each commit, so a dead letter is never lost behind a
//! committed position; after a crash the letters since the last commit may appear twice).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use switchboard_engine::{Applied, Engine, EngineConfig};
use switchboard_model::decode::{DecodeError, Decoded, Decoder, Format};
use switchboard_model::RecordKind;
use switchboard_store::{Batch, Positions, Store};

use super::position::{Position, Tracker};
use crate::inputs::expand;

/// Bad records reported one by one on stderr; the rest are only counted.
pub const REPORTED_BAD: u64 = 10;

/// How to replay.
#[derive(Debug, Clone)]
pub struct Options {
    pub format: Format,
    /// Items (records and bad records) per commit.
    pub batch: u64,
    pub dead_letter: Option<PathBuf>,
    /// Show a progress bar on stderr (only drawn when stderr is a terminal).
    pub progress: bool,
}

/// What a replay did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Files read in this run.
    pub files: u64,
    /// Files skipped because an earlier run finished them.
    pub files_already_done: u64,
    /// Records applied in this run, by kind.
    pub records: BTreeMap<RecordKind, u64>,
    /// Items skipped because an earlier run applied them.
    pub resumed_past: u64,
    pub duplicates: u64,
    /// Agent events older than one already applied for the agent.
    pub stale: u64,
    pub bad: u64,
    pub transitions: u64,
    pub alerts: u64,
    /// Bytes read (compressed size for gzip files).
    pub bytes: u64,
    pub commits: u64,
    /// Time spent writing to the store (included in `elapsed`).
    pub commit_time: Duration,
    pub elapsed: Duration,
}

impl Summary {
    pub fn record_count(&self) -> u64 {
        self.records.values().sum()
    }
}

/// Replays `inputs` (files or folders) into `store`, resuming where it stopped.
pub fn replay(
    inputs: &[PathBuf],
    store: &mut dyn Store,
    options: &Options,
) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let mut files = Vec::new();
    for input in inputs {
        if input.as_os_str() == "-" {
            bail!("replay reads files (standard input could not be resumed)");
        }
        files.extend(expand(input).with_context(|| format!("cannot read {}", input.display()))?);
    }
    let loaded = store.load().context("cannot load the store")?;
    let saved = loaded.positions;
    let engine = Engine::restore(
        EngineConfig::default(),
        loaded.agents,
        loaded.contacts,
        loaded.meta.unwrap_or_default(),
    );

    // Plan: each file with its key in the positions table and where to start.
    let mut plan = Vec::with_capacity(files.len());
    let mut total_bytes = 0;
    for path in files {
        let key = position_key(&path)?;
        let position = match saved.get(&key) {
            Some(p) => p
                .parse::<Position>()
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("store position of {key}"))?,
            None => Position::START,
        };
        if position != Position::Done {
            let len = std::fs::metadata(&path)
                .with_context(|| format!("cannot read {}", path.display()))?
                .len();
            total_bytes += len;
        }
        plan.push((path, key, position));
    }

    let dead_letter = match &options.dead_letter {
        Some(path) => Some(BufWriter::new(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open dead-letter file {}", path.display()))?,
        )),
        None => None,
    };
    let mut r = Replayer {
        engine,
        store,
        decoder: Decoder::new(options.format),
        batch: options.batch.max(1),
        pending: Positions::new(),
        since_commit: 0,
        dead_letter,
        bar: progress_bar(options.progress, total_bytes),
        summary: Summary::default(),
    };
    for (path, key, position) in &plan {
        if *position == Position::Done {
            r.summary.files_already_done += 1;
            continue;
        }
        r.replay_file(path, key, *position)?;
    }
    r.commit()?;
    r.bar.finish_and_clear();
    r.summary.elapsed = started.elapsed();
    Ok(r.summary)
}

/// The name a file's position is saved under: its canonical path, so a resume finds it
/// whatever spelling of the path it is given.
pub(crate) fn position_key(path: &Path) -> anyhow::Result<String> {
    let canonical =
        std::fs::canonicalize(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(canonical.display().to_string())
}

/// What [`read_from`] read.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FileRead {
    /// Bytes read (compressed size for gzip files).
    pub bytes: u64,
    /// Items skipped because `from` covers them.
    pub resumed_past: u64,
}

/// Reads the file at `path` from position `from`: every item `from` does not cover goes
/// to `on_item`, its source offset and line made absolute, with the position the file is
/// at once that item is applied. `on_item` can stop the reading early with `Break`.
///
/// Shared by `replay` and the `files` source of `switchboard run`, so both resume a file
/// the same way.
pub(crate) fn read_from(
    path: &Path,
    from: Position,
    decoder: &Decoder,
    bar: &ProgressBar,
    mut on_item: impl FnMut(Result<Decoded, DecodeError>, Position) -> anyhow::Result<ControlFlow<()>>,
) -> anyhow::Result<FileRead> {
    let name = path.display().to_string();
    let mut file = File::open(path).with_context(|| format!("cannot open {name}"))?;
    // A plain file is read from the saved value on; offsets and lines the decoder
    // reports are then relative to it. A gzip stream cannot be entered midway.
    let (base_offset, base_line) = match from {
        Position::At { offset, line, .. } if offset > 0 && !is_gzip(&mut file)? => {
            let len = file.metadata().map_or(u64::MAX, |m| m.len());
            if offset > len {
                bail!(
                    "{name} is shorter ({len} bytes) than its saved position ({from}): \
                     was it rewritten? Replay it into a new store"
                );
            }
            file.seek(SeekFrom::Start(offset))
                .with_context(|| format!("cannot seek in {name}"))?;
            // Those bytes will not be read: take them off the bar.
            let total = bar.length().unwrap_or(0);
            bar.set_length(total.saturating_sub(offset));
            (offset, line - 1)
        }
        _ => (0, 0),
    };
    let reader = ProgressReader {
        inner: file,
        bar: bar.clone(),
    };
    let mut tracker = Tracker::new();
    let mut failure = None;
    let mut read = FileRead::default();
    let stats = decoder.decode_reader(Some(&name), reader, &mut |item| {
        let source = match &item {
            Ok(d) => &d.source,
            Err(e) => &e.source,
        };
        let offset = source.offset.map(|o| o + base_offset);
        let line = source.line.map(|l| l + base_line);
        let (value, index) = tracker.next(offset, line);
        if from.covers(value, index) {
            read.resumed_past += 1;
            return ControlFlow::Continue(());
        }
        let item = match item {
            Ok(mut d) => {
                d.source.offset = offset;
                d.source.line = line;
                Ok(d)
            }
            Err(mut e) => {
                e.source.offset = offset;
                e.source.line = line;
                Err(e)
            }
        };
        match on_item(item, tracker.position()) {
            Ok(flow) => flow,
            Err(e) => {
                failure = Some(e);
                ControlFlow::Break(())
            }
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    read.bytes = stats.bytes;
    Ok(read)
}

fn progress_bar(wanted: bool, total: u64) -> ProgressBar {
    use std::io::IsTerminal;
    if !wanted || !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

struct Replayer<'s> {
    engine: Engine,
    store: &'s mut dyn Store,
    decoder: Decoder,
    batch: u64,
    /// Positions reached since the last commit.
    pending: Positions,
    since_commit: u64,
    dead_letter: Option<BufWriter<File>>,
    bar: ProgressBar,
    summary: Summary,
}

impl Replayer<'_> {
    fn replay_file(&mut self, path: &Path, key: &str, from: Position) -> anyhow::Result<()> {
        let bar = self.bar.clone();
        let decoder = self.decoder.clone();
        let read = read_from(path, from, &decoder, &bar, |item, position| {
            match item {
                Ok(decoded) => self.apply(&decoded),
                Err(e) => self.bad(&e)?,
            }
            self.since_commit += 1;
            if self.since_commit >= self.batch {
                self.pending.insert(key.to_owned(), position.to_string());
                self.commit()?;
            }
            Ok(ControlFlow::Continue(()))
        })?;
        self.summary.resumed_past += read.resumed_past;
        self.pending
            .insert(key.to_owned(), Position::Done.to_string());
        self.summary.files += 1;
        self.summary.bytes += read.bytes;
        Ok(())
    }

    fn apply(&mut self, decoded: &Decoded) {
        *self.summary.records.entry(decoded.kind).or_default() += 1;
        match self.engine.apply(&decoded.record) {
            Applied::Applied => {}
            Applied::Duplicate => self.summary.duplicates += 1,
            Applied::Stale => self.summary.stale += 1,
        }
    }

    fn bad(&mut self, e: &DecodeError) -> anyhow::Result<()> {
        self.summary.bad += 1;
        if self.summary.bad <= REPORTED_BAD {
            self.bar.suspend(|| eprintln!("bad record: {e}"));
        }
        if let Some(out) = &mut self.dead_letter {
            let now_ms = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
            serde_json::to_writer(&mut *out, &e.to_dead_letter(now_ms))
                .map_err(io::Error::from)
                .and_then(|()| out.write_all(b"\n"))
                .context("cannot write to the dead-letter file")?;
        }
        Ok(())
    }

    /// Writes what changed since the last commit, with the positions reached.
    fn commit(&mut self) -> anyhow::Result<()> {
        let changes = self.engine.take_changes();
        self.since_commit = 0;
        if changes.is_empty() && self.pending.is_empty() {
            return Ok(());
        }
        if let Some(out) = &mut self.dead_letter {
            out.flush()
                .context("cannot write to the dead-letter file")?;
        }
        self.summary.transitions += changes.transitions.len() as u64;
        self.summary.alerts += changes.alerts.len() as u64;
        let started = Instant::now();
        let batch = Batch::new(&self.engine, &changes, &self.pending);
        self.store
            .commit(&batch)
            .context("cannot commit to the store")?;
        self.summary.commit_time += started.elapsed();
        self.pending.clear();
        self.summary.commits += 1;
        Ok(())
    }
}

/// Whether the file starts with the gzip magic bytes (leaves the file at its start).
fn is_gzip(file: &mut File) -> anyhow::Result<bool> {
    let mut magic = [0u8; 2];
    let mut n = 0;
    while n < magic.len() {
        match file.read(&mut magic[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e).context("cannot read the file"),
        }
    }
    file.seek(SeekFrom::Start(0))
        .context("cannot seek in the file")?;
    Ok(n == 2 && magic == [0x1f, 0x8b])
}

/// Moves the progress bar as bytes are read.
struct ProgressReader<R> {
    inner: R,
    bar: ProgressBar,
}

impl<R: Read> Read for ProgressReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}
