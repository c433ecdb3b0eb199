//! The `files` source: Connect data files read once through the pipeline, resumably.
//! `switchboard replay` is this source feeding the pipeline thread; `run` uses it to load
//! history before going live.
//!
//! It hands the pipeline deliveries of `batch` items, each carrying the file's position
//! after its last item ([`read::read_from`] resumes a file from such a position). The pipeline commits the position with the
//! records, so a `run` stopped at any point resumes after its last commit, and a file
//! read to its end (`done`) is skipped. It runs on a blocking thread and stops between
//! two deliveries when shutdown is signalled.

use std::ops::ControlFlow;
use std::path::Path;
use std::str::FromStr;

pub mod inputs;
pub mod position;
pub mod read;
pub mod replay;

use anyhow::{bail, Context};
use indicatif::ProgressBar;
use switchboard_io::{Delivery, SourceContext};
use switchboard_model::decode::{Decoder, Format};
use switchboard_store::Positions;

use crate::config::FilesConfig;
use inputs::expand;
use position::Position;
use read::{position_key, read_from};

/// What the source read.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    /// Files read in this run.
    pub files: u64,
    /// Files skipped because an earlier run finished them.
    pub already_done: u64,
    pub items: u64,
    /// Items skipped because an earlier run applied them.
    pub resumed_past: u64,
    /// Bytes read (compressed size for gzip files).
    pub bytes: u64,
}

/// Reads every file of `config` not finished according to `saved` (the store's positions
/// at start). Returns early, without error, on shutdown.
pub fn run(
    config: &FilesConfig,
    saved: &Positions,
    ctx: &SourceContext,
) -> anyhow::Result<Summary> {
    run_with_progress(config, saved, ctx, false)
}

/// [`run`], drawing a progress bar on stderr when `progress` and stderr is a terminal.
pub fn run_with_progress(
    config: &FilesConfig,
    saved: &Positions,
    ctx: &SourceContext,
    progress: bool,
) -> anyhow::Result<Summary> {
    let format = Format::from_str(&config.format).map_err(anyhow::Error::msg)?;
    // The pipeline thread parses each record's view (once) and dead-letters what does
    // not parse; this thread only splits and tells the kinds apart.
    let decoder = Decoder::new(format).without_validation();
    let mut files = Vec::new();
    for path in &config.paths {
        if path.as_os_str() == "-" {
            bail!("files are read by path (standard input could not be resumed)");
        }
        files.extend(expand(path).with_context(|| format!("cannot read {}", path.display()))?);
    }
    let mut plan = Vec::with_capacity(files.len());
    let mut total = 0;
    let mut summary = Summary::default();
    for path in files {
        let key = position_key(&path)?;
        let from = match saved.get(&key) {
            Some(p) => p
                .parse::<Position>()
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("stored position of {key}"))?,
            None => Position::START,
        };
        if from == Position::Done {
            summary.already_done += 1;
            continue;
        }
        total += std::fs::metadata(&path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .len();
        plan.push((path, key, from));
    }
    let bar = read::progress_bar(progress, total);
    for (path, key, from) in plan {
        match read_file(
            &path,
            &key,
            from,
            &decoder,
            config.batch.max(1),
            ctx,
            &bar,
            &mut summary,
        )? {
            ControlFlow::Continue(items) => {
                summary.files += 1;
                summary.items += items;
            }
            ControlFlow::Break(()) => {
                bar.finish_and_clear();
                return Ok(summary);
            }
        }
        tracing::debug!(file = %path.display(), "file read to its end");
    }
    bar.finish_and_clear();
    Ok(summary)
}

/// Delivers one file; `Break` if shutdown came first.
#[allow(clippy::too_many_arguments)]
fn read_file(
    path: &Path,
    key: &str,
    from: Position,
    decoder: &Decoder,
    batch: usize,
    ctx: &SourceContext,
    bar: &ProgressBar,
    summary: &mut Summary,
) -> anyhow::Result<ControlFlow<(), u64>> {
    let source = format!("files:{}", path.display());
    let mut chunk = Vec::with_capacity(batch);
    let mut items = 0;
    let mut stopped = false;
    let send = |chunk: Vec<_>, position: Position| -> anyhow::Result<bool> {
        if ctx.is_shutting_down() {
            return Ok(false);
        }
        let mut delivery = Delivery::new(source.clone(), chunk);
        delivery.position = Some((key.to_owned(), position.to_string()));
        if ctx.deliveries.blocking_send(delivery).is_err() {
            bail!("the pipeline stopped");
        }
        Ok(true)
    };
    let read = read_from(path, from, decoder, bar, |item, position| {
        chunk.push(item);
        items += 1;
        if chunk.len() >= batch && !send(std::mem::take(&mut chunk), position)? {
            stopped = true;
            return Ok(ControlFlow::Break(()));
        }
        Ok(ControlFlow::Continue(()))
    })?;
    summary.resumed_past += read.resumed_past;
    summary.bytes += read.bytes;
    if stopped {
        return Ok(ControlFlow::Break(()));
    }
    // The rest, and the mark that the file is finished.
    if !send(chunk, Position::Done)? {
        return Ok(ControlFlow::Break(()));
    }
    Ok(ControlFlow::Continue(items))
}
