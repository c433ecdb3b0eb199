//! The `files` source: Connect data files read once through the pipeline, resumably.
//!
//! It reads the way `switchboard replay` does (the same [`read_from`]), but instead of
//! committing itself it hands the pipeline deliveries of `batch` items, each carrying the
//! file's position after its last item. The pipeline commits the position with the
//! records, so a `run` stopped at any point resumes after its last commit, and a file
//! read to its end (`done`) is skipped. It runs on a blocking thread and stops between
//! two deliveries when shutdown is signalled.

use std::ops::ControlFlow;
use std::path::Path;
use std::str::FromStr;

use anyhow::{bail, Context};
use indicatif::ProgressBar;
use switchboard_io::{Delivery, SourceContext};
use switchboard_model::decode::{Decoder, Format};
use switchboard_store::Positions;

use crate::cmd::replay::position::Position;
use crate::cmd::replay::replayer::{position_key, read_from};
use crate::config::FilesConfig;
use crate::inputs::expand;

/// What the source read.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    pub files: u64,
    pub already_done: u64,
    pub items: u64,
}

/// Reads every file of `config` not finished according to `saved` (the store's positions
/// at start). Returns early, without error, on shutdown.
pub fn run(
    config: &FilesConfig,
    saved: &Positions,
    ctx: &SourceContext,
) -> anyhow::Result<Summary> {
    let format = Format::from_str(&config.format).map_err(anyhow::Error::msg)?;
    let decoder = Decoder::new(format);
    let mut files = Vec::new();
    for path in &config.paths {
        files.extend(expand(path).with_context(|| format!("cannot read {}", path.display()))?);
    }
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
        match read_file(&path, &key, from, &decoder, config.batch.max(1), ctx)? {
            ControlFlow::Continue(items) => {
                summary.files += 1;
                summary.items += items;
            }
            ControlFlow::Break(()) => return Ok(summary),
        }
        tracing::info!(file = %path.display(), "file read to its end");
    }
    Ok(summary)
}

/// Delivers one file; `Break` if shutdown came first.
fn read_file(
    path: &Path,
    key: &str,
    from: Position,
    decoder: &Decoder,
    batch: usize,
    ctx: &SourceContext,
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
    read_from(
        path,
        from,
        decoder,
        &ProgressBar::hidden(),
        |item, position| {
            chunk.push(item);
            items += 1;
            if chunk.len() >= batch && !send(std::mem::take(&mut chunk), position)? {
                stopped = true;
                return Ok(ControlFlow::Break(()));
            }
            Ok(ControlFlow::Continue(()))
        },
    )?;
    if stopped {
        return Ok(ControlFlow::Break(()));
    }
    // The rest, and the mark that the file is finished.
    if !send(chunk, Position::Done)? {
        return Ok(ControlFlow::Break(()));
    }
    Ok(ControlFlow::Continue(items))
}
