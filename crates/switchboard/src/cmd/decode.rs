//! `switchboard decode`: prints every Connect record found in files, folders or stdin as
//! NDJSON (`{"kind", "source", "record"}`), whatever envelope the records came in.
//!
//! Exit status: 0 when everything decoded; 1 at the first bad record (without
//! `--keep-going`) or when an input cannot be read; 2 with `--keep-going` when some
//! records were bad (each is reported on stderr, the good ones are printed).

use std::io::{self, BufWriter, Write};
use std::ops::ControlFlow;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;

use crate::inputs::{decode_inputs, InputArgs, OnOpenError};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    input: InputArgs,
    /// Report each bad record on stderr and go on; exit with status 2 if any were bad.
    #[arg(long)]
    keep_going: bool,
    /// Do not print records; only count them (for measuring decode throughput).
    #[arg(long)]
    count_only: bool,
    /// Print a summary (records, errors, bytes, throughput) on stderr at the end.
    #[arg(long)]
    summary: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let started = Instant::now();
    let mut bad = false;
    let mut write_error: Option<io::Error> = None;
    let on_open_error = if args.keep_going {
        OnOpenError::Continue
    } else {
        OnOpenError::Stop
    };
    let (total, open_failed) = decode_inputs(&args.input, on_open_error, &mut |item| match item {
        Ok(decoded) => {
            if !args.count_only {
                let written = serde_json::to_writer(&mut out, &decoded)
                    .map_err(io::Error::from)
                    .and_then(|()| out.write_all(b"\n"));
                if let Err(e) = written {
                    write_error = Some(e);
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        }
        Err(e) => {
            bad = true;
            if args.keep_going {
                eprintln!("bad record: {e}");
                ControlFlow::Continue(())
            } else {
                eprintln!("error: {e}");
                ControlFlow::Break(())
            }
        }
    })?;
    let failed = bad || open_failed;

    match write_error {
        // `switchboard decode ... | head` is normal use: stop quietly.
        Some(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        Some(e) => return Err(e).context("cannot write to standard output"),
        None => {}
    }
    match out.flush() {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        other => other.context("cannot write to standard output")?,
    }

    if args.summary {
        let secs = started.elapsed().as_secs_f64().max(1e-9);
        eprintln!(
            "decoded {} records ({} bad) from {:.1} MB in {:.2} s: {:.1} MB/s, {:.0} records/s",
            total.records,
            total.errors,
            total.bytes as f64 / 1e6,
            secs,
            total.bytes as f64 / 1e6 / secs,
            total.records as f64 / secs
        );
    }
    Ok(match (failed, args.keep_going) {
        (false, _) => ExitCode::SUCCESS,
        (true, true) => ExitCode::from(2),
        (true, false) => ExitCode::from(1),
    })
}
