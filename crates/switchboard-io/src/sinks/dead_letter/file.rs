//! The dead-letter file: one entry a line, appended, and fsynced before a batch counts as
//! delivered.
//!
//! The file is opened for each batch (so a file moved away by log rotation is recreated,
//! not written behind the rotator's back), the whole batch is appended in one write, then
//! `fsync`ed; a file just created also gets its folder fsynced, so the new name survives a
//! crash. A write cut short (a full disk) may leave a partial last line: the next batch
//! starts on a fresh line, so the damage stays one unreadable line that the reader
//! reports, and the batch is retried whole.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Collect, FileDeadLetterConfig, Line, ReadError};
use crate::sinks::file::{create_or_append, ends_mid_line};
use crate::sinks::Outcome;

pub(super) struct FileWriter {
    path: Arc<PathBuf>,
    /// One batch at a time: a large append is several `write` calls, which must not
    /// interleave with another batch's.
    lock: tokio::sync::Mutex<()>,
}

impl FileWriter {
    /// Creates the file if needed, so a folder that cannot be written is found at start.
    pub(super) async fn open(path: &Path) -> Result<FileWriter, String> {
        let path = Arc::new(path.to_path_buf());
        let p = Arc::clone(&path);
        blocking(move || append(&p, &[]))
            .await
            .map_err(|e| format!("cannot open dead-letter file {}: {e}", path.display()))?;
        Ok(FileWriter {
            path,
            lock: tokio::sync::Mutex::new(()),
        })
    }

    pub(super) async fn write(&self, lines: &[Line]) -> Vec<Outcome> {
        let mut buf = Vec::with_capacity(lines.iter().map(|l| l.json.len() + 1).sum());
        for line in lines {
            buf.extend_from_slice(&line.json);
            buf.push(b'\n');
        }
        let _guard = self.lock.lock().await;
        let path = Arc::clone(&self.path);
        match blocking(move || append(&path, &buf)).await {
            Ok(()) => all_delivered(lines.len()),
            Err(e) => {
                let reason = format!("cannot write dead-letter file {}: {e}", self.path.display());
                tracing::error!(%reason, entries = lines.len(), "dead letters not written; retrying");
                vec![Outcome::retry(reason); lines.len()]
            }
        }
    }
}

fn all_delivered(n: usize) -> Vec<Outcome> {
    vec![Outcome::Delivered; n]
}

/// Appends `buf` durably (after a newline if the file does not end with one).
fn append(path: &Path, buf: &[u8]) -> io::Result<()> {
    let mut file = create_or_append(path)?;
    if buf.is_empty() {
        return Ok(());
    }
    let len = file.metadata()?.len();
    let mut out = Vec::with_capacity(buf.len() + 1);
    if ends_mid_line(&mut file, len)? {
        out.push(b'\n');
    }
    out.extend_from_slice(buf);
    file.write_all(&out)?;
    file.sync_data()
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(io::Error::other(format!("file task failed: {e}"))))
}

/// Reads the file line by line into `out`, until its end or the limit.
pub(super) async fn read(
    config: &FileDeadLetterConfig,
    out: &mut Collect<'_>,
) -> Result<(), ReadError> {
    let path = config.path.clone();
    let location = path.display().to_string();
    let error = |e: io::Error| ReadError {
        location: location.clone(),
        reason: match e.kind() {
            io::ErrorKind::NotFound => {
                "no such file (nothing was dead-lettered yet, or another path is configured)".into()
            }
            _ => format!("cannot read: {e}"),
        },
    };
    // Lines are read on the blocking pool in chunks, and parsed here.
    let file = blocking({
        let path = path.clone();
        move || File::open(path)
    })
    .await
    .map_err(error)?;
    let mut reader = Some(BufReader::with_capacity(256 * 1024, file));
    let mut number = 0u64;
    loop {
        let Some(r) = reader.take() else { break };
        let (r, chunk) = tokio::task::spawn_blocking(move || read_lines(r, 1000))
            .await
            .map_err(|e| error(io::Error::other(format!("file task failed: {e}"))))?;
        let chunk = chunk.map_err(error)?;
        let at_end = chunk.len() < 1000;
        for line in chunk {
            number += 1;
            out.entry(|| format!("{location}:{number}"), &line, None);
        }
        if out.full() {
            // One more non-blank line means there is more.
            if !at_end && !out.done.truncated {
                mark_more(r, out).await;
            }
            break;
        }
        if at_end {
            break;
        }
        reader = Some(r);
    }
    Ok(())
}

/// Marks the result truncated when a non-blank line follows.
async fn mark_more(r: BufReader<File>, out: &mut Collect<'_>) {
    if let Ok((_, Ok(lines))) = tokio::task::spawn_blocking(move || read_lines(r, 1000)).await {
        if lines.iter().any(|l| !l.trim_ascii().is_empty()) {
            out.done.truncated = true;
        }
    }
}

/// Up to `n` lines (without their newline).
fn read_lines(mut r: BufReader<File>, n: usize) -> (BufReader<File>, io::Result<Vec<Vec<u8>>>) {
    let mut lines = Vec::new();
    while lines.len() < n {
        let mut line = Vec::new();
        match r.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {
                if line.last() == Some(&b'\n') {
                    line.pop();
                }
                lines.push(line);
            }
            Err(e) => return (r, Err(e)),
        }
    }
    (r, Ok(lines))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sb-dl-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn appends_start_on_a_fresh_line_after_a_cut_short_write() {
        let dir = temp("cut");
        let path = dir.join("dl.ndjson");
        append(&path, b"{\"a\":1}\n").unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"half")
            .unwrap();
        append(&path, b"{\"b\":2}\n").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "{\"a\":1}\n{\"half\n{\"b\":2}\n");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
