//! `switchboard transitions`: runs agent events through the agent state machine and
//! prints each derived transition as NDJSON (`type`, `agent_arn`, `username`,
//! `contact_id`, `channel`, `queue`, `at`, and `from`/`to` or `duration_ms`).
//!
//! Every record kind is accepted (contact events and records feed the timelines the
//! transitions join), so a whole export folder can be given. Bad input is reported on
//! stderr with its position and skipped; the exit status is then 2.

use std::io::{self, BufWriter, Write};
use std::ops::ControlFlow;
use std::process::ExitCode;

use anyhow::Context;
use switchboard_engine::{Engine, EngineConfig};

use crate::inputs::{decode_inputs, InputArgs, OnOpenError};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    input: InputArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut engine = Engine::new(EngineConfig::default());
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut bad = 0u64;
    let mut write_error = None;
    let (_, open_failed) = decode_inputs(&args.input, OnOpenError::Stop, &mut |item| {
        match item {
            Ok(decoded) => {
                match decoded.view() {
                    Ok(view) => {
                        engine.apply_view(&view, &decoded.raw);
                    }
                    Err(e) => {
                        bad += 1;
                        eprintln!("bad record: {}: {e}", decoded.source);
                        return ControlFlow::Continue(());
                    }
                }
                for t in engine.take_changes().transitions {
                    let written = serde_json::to_writer(&mut out, &t)
                        .map_err(io::Error::from)
                        .and_then(|()| out.write_all(b"\n"));
                    if let Err(e) = written {
                        write_error = Some(e);
                        return ControlFlow::Break(());
                    }
                }
            }
            Err(e) => {
                bad += 1;
                eprintln!("bad record: {e}");
            }
        }
        ControlFlow::Continue(())
    })?;
    if open_failed {
        return Ok(ExitCode::from(1));
    }
    match write_error.map_or_else(|| out.flush(), Err) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        other => other.context("cannot write to standard output")?,
    }
    let c = engine.counters();
    eprintln!(
        "{} agent events ({} duplicates, {} out of order), {} transitions, {} bad records",
        c.agent_events, c.duplicates, c.stale, c.transitions, bad
    );
    Ok(if bad > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
