//! Input files: what a command's `PATH...` arguments stand for. Shared by every command
//! that reads Connect data from files (`decode`, `transitions`, `replay`, `bench`).

use std::fs::File;
use std::io;
use std::ops::ControlFlow;
use std::path::PathBuf;

use anyhow::Context;
use switchboard_model::decode::{DecodeError, DecodeStats, Decoded, Decoder, Format};

pub(crate) use switchboard_pipeline::files::inputs::expand;

/// The input arguments of commands that read Connect data files.
#[derive(clap::Args)]
pub(crate) struct InputArgs {
    /// Files or folders to read (folders recursively, in name order; gzip is detected);
    /// `-` reads standard input.
    #[arg(required = true, value_name = "FILE|DIR|-")]
    pub inputs: Vec<PathBuf>,
    /// Layout of the input, instead of detecting it from each value's keys: auto, json,
    /// kinesis, kinesis-lambda, firehose-transform, firehose-http, firehose-error,
    /// eventbridge, sqs.
    #[arg(long, default_value = "auto", value_name = "FORMAT")]
    pub format: Format,
}

/// What to do about an input that cannot be opened.
pub(crate) enum OnOpenError {
    /// Report it and stop (exit status 1).
    Stop,
    /// Report it and go on with the next input.
    Continue,
}

/// Decodes every input in order, calling `on_item` with each record or bad record; it
/// may stop everything by returning `Break`. Returns the totals, or `None` when an input
/// could not be opened and `on_open_error` said to stop.
pub(crate) fn decode_inputs(
    args: &InputArgs,
    on_open_error: OnOpenError,
    on_item: &mut dyn FnMut(Result<Decoded, DecodeError>) -> ControlFlow<()>,
) -> anyhow::Result<(DecodeStats, bool)> {
    let decoder = Decoder::new(args.format);
    let mut total = DecodeStats::default();
    let mut open_failed = false;
    for input in &args.inputs {
        for path in expand(input).with_context(|| format!("cannot read {}", input.display()))? {
            let mut stopped = false;
            let mut watch = |item: Result<Decoded, DecodeError>| {
                let flow = on_item(item);
                stopped |= flow.is_break();
                flow
            };
            let stats = if path.as_os_str() == "-" {
                decoder.decode_reader(Some("<stdin>"), io::stdin().lock(), &mut watch)
            } else {
                match File::open(&path) {
                    Ok(file) => {
                        decoder.decode_reader(Some(&path.display().to_string()), file, &mut watch)
                    }
                    Err(e) => {
                        eprintln!("error: {}: cannot open: {e}", path.display());
                        open_failed = true;
                        match on_open_error {
                            OnOpenError::Stop => return Ok((total, true)),
                            OnOpenError::Continue => continue,
                        }
                    }
                }
            };
            total.records += stats.records;
            total.errors += stats.errors;
            total.bytes += stats.bytes;
            if stopped {
                return Ok((total, open_failed));
            }
        }
    }
    Ok((total, open_failed))
}
