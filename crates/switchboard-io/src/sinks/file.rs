//! `type = "stdout"` and `type = "file"`: NDJSON for piping and debugging, each item's
//! payload on its own line.
//!
//! ```toml
//! [[sinks]]
//! name = "debug"
//! type = "stdout"
//!
//! [[sinks]]
//! name = "local"
//! type = "file"
//! path = "routed.ndjson"
//! max_bytes = 104857600   # then routed.ndjson.1, .2 ... (max_files kept)
//! ```
//!
//! A payload is written byte for byte, then `\n`; a raw line break inside it (a record
//! received pretty-printed, where a line break can only be whitespace between JSON
//! tokens) becomes a space, so each item stays one line and means the same (the S3 sink
//! does the same).
//!
//! The file sink appends a batch, then flushes and fsyncs it before it reports the batch
//! delivered: a delivered item survives a crash or power cut. An item may appear twice if
//! switchboard stops between the fsync and the outbox commit (at-least-once, like every
//! sink; the idempotency key is not in the line, so use a sink that carries it where that
//! matters). The file is opened for each batch, so a log rotator that moves it away is
//! followed at the next batch.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::s3::layout::one_line;
use super::{BatchHints, BuildError, Item, Outcome, Sink};
use crate::problems::{join, Problems};
use switchboard_telemetry::requests::outcome as outcome_label;

/// `type = "stdout"`: every item on standard output, one JSON per line. No settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdoutConfig {}

impl StdoutConfig {
    pub fn example() -> Self {
        StdoutConfig {}
    }

    /// Nothing to get wrong.
    pub fn check(&self, _key: &str, _problems: &mut Problems) {}

    pub async fn build(&self, name: &str) -> Result<StdoutSink, BuildError> {
        switchboard_telemetry::register_sink(name);
        Ok(StdoutSink {
            name: name.to_owned(),
            lock: Arc::new(Mutex::new(())),
        })
    }
}

/// `type = "file"`: every item appended to a local NDJSON file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The file (created if missing; its folder must exist). Relative paths are taken
    /// from the config file's folder.
    pub path: PathBuf,
    /// Rotate before the file would grow past this many bytes: it is renamed `PATH.1`
    /// (an older `PATH.1` becomes `PATH.2`, and so on) and a new file is started. A single
    /// item larger than this still gets a file of its own. Unset: the file only grows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
    /// Rotated files kept (`PATH.1` to `PATH.N`; the oldest is deleted). 1 to 1000;
    /// default 5. Only with `max_bytes`.
    #[serde(default = "default_max_files")]
    pub max_files: u32,
}

fn default_max_files() -> u32 {
    5
}

/// The most rotated files kept.
pub const MAX_FILES: u32 = 1000;

impl FileConfig {
    pub fn example() -> Self {
        FileConfig {
            path: PathBuf::from("routed.ndjson"),
            max_bytes: Some(100 * 1024 * 1024),
            max_files: default_max_files(),
        }
    }

    /// Reports every problem under `key` (e.g. `sinks[4]`).
    pub fn check(&self, key: &str, problems: &mut Problems) {
        let text = self.path.to_string_lossy();
        if text.trim().is_empty() {
            problems.push(
                join(key, "path"),
                "is empty: name the NDJSON file to append to",
            );
        } else if text.ends_with('/') || self.path.file_name().is_none() {
            problems.push(
                join(key, "path"),
                format!("{text:?} names a folder, not a file"),
            );
        }
        if self.max_bytes == Some(0) {
            problems.push(
                join(key, "max_bytes"),
                "must be above 0 (leave it out for no rotation)",
            );
        }
        if !(1..=MAX_FILES).contains(&self.max_files) {
            problems.push(
                join(key, "max_files"),
                format!("must be 1 to {MAX_FILES}, not {}", self.max_files),
            );
        }
    }

    /// Builds the sink, opening the file once to show now that it can be written.
    pub async fn build(&self, name: &str) -> Result<FileSink, BuildError> {
        super::retry::fail_on_problems(name, |p| self.check("", p))?;
        let path = self.path.clone();
        let opened = tokio::task::spawn_blocking(move || open_append(&path).map(|_| ()))
            .await
            .map_err(|e| BuildError::sink(name, format!("cannot open the file: {e}")))?;
        opened.map_err(|e| {
            BuildError::sink(
                name,
                format!(
                    "cannot open {} for appending: {e} (does its folder exist, and may \
                     switchboard write there?)",
                    self.path.display()
                ),
            )
        })?;
        switchboard_telemetry::register_sink(name);
        Ok(FileSink {
            name: name.to_owned(),
            path: self.path.clone(),
            writer: Arc::new(Mutex::new(FileWriter {
                path: self.path.clone(),
                max_bytes: self.max_bytes,
                max_files: self.max_files.clamp(1, MAX_FILES),
            })),
        })
    }
}

/// The lines of a batch: each payload on one line, then `\n`.
fn lines(items: &[Item]) -> Vec<Vec<u8>> {
    items
        .iter()
        .map(|item| {
            let mut line = one_line(&item.payload).into_owned();
            line.push(b'\n');
            line
        })
        .collect()
}

/// Runs `write` on the blocking pool and turns its result into the batch's outcomes,
/// recording the sink's request series.
async fn settle(
    sink: &str,
    items: usize,
    what: String,
    write: impl FnOnce() -> io::Result<()> + Send + 'static,
) -> Vec<Outcome> {
    let started = Instant::now();
    let result = match tokio::task::spawn_blocking(write).await {
        Ok(r) => r,
        Err(e) => Err(io::Error::other(e.to_string())),
    };
    let (outcome, label) = match result {
        Ok(()) => (Outcome::Delivered, outcome_label::DELIVERED),
        Err(e) => {
            tracing::warn!(sink, error = %e, "cannot write {what}");
            (
                Outcome::retry(format!("cannot write {what}: {e}")),
                outcome_label::RETRY,
            )
        }
    };
    switchboard_telemetry::sink_request(sink, label, started.elapsed().as_secs_f64());
    vec![outcome; items]
}

/// A running stdout sink.
#[derive(Debug)]
pub struct StdoutSink {
    name: String,
    /// Keeps the batches of concurrent deliveries whole.
    lock: Arc<Mutex<()>>,
}

#[async_trait::async_trait]
impl Sink for StdoutSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn hints(&self) -> BatchHints {
        BatchHints::default()
    }

    async fn deliver(&self, items: &[Item]) -> Vec<Outcome> {
        let lines = lines(items);
        let lock = Arc::clone(&self.lock);
        settle(
            &self.name,
            items.len(),
            "to standard output".into(),
            move || {
                let _whole = lock.lock().unwrap_or_else(|e| e.into_inner());
                let stdout = io::stdout();
                let mut out = stdout.lock();
                for line in &lines {
                    out.write_all(line)?;
                }
                out.flush()
            },
        )
        .await
    }
}

/// A running file sink.
#[derive(Debug)]
pub struct FileSink {
    name: String,
    path: PathBuf,
    writer: Arc<Mutex<FileWriter>>,
}

#[async_trait::async_trait]
impl Sink for FileSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn hints(&self) -> BatchHints {
        BatchHints::default()
    }

    async fn deliver(&self, items: &[Item]) -> Vec<Outcome> {
        if items.is_empty() {
            return Vec::new();
        }
        let lines = lines(items);
        let writer = Arc::clone(&self.writer);
        let what = self.path.display().to_string();
        settle(&self.name, items.len(), what, move || {
            writer
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .append(&lines)
        })
        .await
    }
}

/// Appends batches to a file, rotating by size.
#[derive(Debug)]
struct FileWriter {
    path: PathBuf,
    max_bytes: Option<u64>,
    max_files: u32,
}

impl FileWriter {
    /// Appends `lines` durably, rotating before a line that would take the file past
    /// `max_bytes`. On an error the current file is cut back to where the batch began in
    /// it, so a retry does not leave half a line or a partial batch behind.
    fn append(&self, lines: &[Vec<u8>]) -> io::Result<()> {
        let (mut file, mut size) = open_append(&self.path)?;
        let mut buf: Vec<u8> = Vec::new();
        let mut start = size;
        for line in lines {
            let len = line.len() as u64;
            if let Some(max) = self.max_bytes {
                if size > 0 && size + len > max {
                    flush(&mut file, &buf, start)?;
                    buf.clear();
                    drop(file);
                    rotate(&self.path, self.max_files)?;
                    (file, size) = open_append(&self.path)?;
                    start = size;
                }
            }
            buf.extend_from_slice(line);
            size += len;
        }
        flush(&mut file, &buf, start)
    }
}

/// Writes `buf` at the end of `file` and fsyncs it; on failure cuts the file back to
/// `start` (best effort) and returns the error.
fn flush(file: &mut File, buf: &[u8], start: u64) -> io::Result<()> {
    if buf.is_empty() {
        return Ok(());
    }
    let result = file
        .write_all(buf)
        .and_then(|()| file.flush())
        .and_then(|()| file.sync_data());
    if result.is_err() {
        let _ = file.set_len(start);
    }
    result
}

/// Opens `path` for appending (creating it, and syncing its folder so the new name is
/// durable too) and returns it with its length. A file whose last byte is not a newline
/// (a write cut short by a crash) first gets one, so the next line starts clean.
fn open_append(path: &Path) -> io::Result<(File, u64)> {
    let mut file = create_or_append(path)?;
    let mut len = file.metadata()?.len();
    if ends_mid_line(&mut file, len)? {
        file.write_all(b"\n")?;
        len += 1;
    }
    Ok((file, len))
}

/// Opens `path` for appending and reading, creating it if missing; a file it creates
/// gets its folder synced, so the new name survives a crash too. Shared with the
/// dead-letter file, which appends the same way.
pub(super) fn create_or_append(path: &Path) -> io::Result<File> {
    let existed = path.exists();
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)?;
    if !existed {
        sync_folder(path)?;
    }
    Ok(file)
}

/// Whether `file`, `len` bytes long, ends inside a line: it is not empty and its last
/// byte is not a newline (a write cut short by a crash or a full disk), so an append
/// must start with one.
pub(super) fn ends_mid_line(file: &mut File, len: u64) -> io::Result<bool> {
    if len == 0 {
        return Ok(false);
    }
    let mut last = [0u8; 1];
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut last)?;
    Ok(last[0] != b'\n')
}

/// `PATH.{n}`.
fn numbered(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// Shifts `PATH.1..PATH.{keep-1}` up by one (dropping `PATH.{keep}`), renames `PATH` to
/// `PATH.1`, and syncs the folder so the renames survive a crash.
fn rotate(path: &Path, keep: u32) -> io::Result<()> {
    match fs::remove_file(numbered(path, keep)) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    for n in (1..keep).rev() {
        match fs::rename(numbered(path, n), numbered(path, n + 1)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    fs::rename(path, numbered(path, 1))?;
    sync_folder(path)
}

#[cfg(unix)]
fn sync_folder(path: &Path) -> io::Result<()> {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(folder)?.sync_all()
}

#[cfg(not(unix))]
fn sync_folder(_path: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dir(PathBuf);

    impl Dir {
        fn new(name: &str) -> Dir {
            let dir =
                std::env::temp_dir().join(format!("sb-file-sink-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            Dir(dir)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn line(n: usize) -> Vec<u8> {
        format!("{{\"n\":{n}}}\n").into_bytes()
    }

    #[test]
    fn rotation_keeps_the_newest_files_and_never_splits_a_line() {
        let dir = Dir::new("rotate");
        let path = dir.0.join("out.ndjson");
        let writer = FileWriter {
            path: path.clone(),
            max_bytes: Some(20),
            max_files: 2,
        };
        // Each line is 8 bytes: two fit in 20, the third starts a new file.
        for n in 0..7 {
            writer.append(&[line(n)]).unwrap();
        }
        let read = |p: &Path| fs::read_to_string(p).unwrap();
        assert_eq!(read(&path), "{\"n\":6}\n");
        assert_eq!(read(&numbered(&path, 1)), "{\"n\":4}\n{\"n\":5}\n");
        assert_eq!(read(&numbered(&path, 2)), "{\"n\":2}\n{\"n\":3}\n");
        assert!(!numbered(&path, 3).exists());
    }

    #[test]
    fn a_cut_last_line_is_ended_before_appending() {
        let dir = Dir::new("cut");
        let path = dir.0.join("out.ndjson");
        fs::write(&path, b"{\"half\":").unwrap();
        let writer = FileWriter {
            path: path.clone(),
            max_bytes: None,
            max_files: 5,
        };
        writer.append(&[line(1)]).unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "{\"half\":\n{\"n\":1}\n"
        );
    }

    #[test]
    fn problems_are_named() {
        let mut p = Problems::new("t.toml");
        FileConfig::example().check("sinks[4]", &mut p);
        StdoutConfig::example().check("sinks[5]", &mut p);
        assert!(p.is_empty(), "{p}");
        FileConfig {
            path: PathBuf::from(""),
            max_bytes: Some(0),
            max_files: 0,
        }
        .check("sinks[4]", &mut p);
        let keys: Vec<&str> = p.list.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            ["sinks[4].path", "sinks[4].max_bytes", "sinks[4].max_files"]
        );
    }
}
