//! Reading a file from a saved position: what `replay` and the `files` source of `run`
//! share, so both resume a file the same way.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::path::Path;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use switchboard_model::decode::{DecodeError, Decoded, Decoder};

use super::position::{Position, Tracker};

/// The name a file's position is saved under: its canonical path, so a resume finds it
/// whatever spelling of the path it is given.
pub fn position_key(path: &Path) -> anyhow::Result<String> {
    let canonical =
        std::fs::canonicalize(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(canonical.display().to_string())
}

/// What [`read_from`] read.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileRead {
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
pub fn read_from(
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

pub fn progress_bar(wanted: bool, total: u64) -> ProgressBar {
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
