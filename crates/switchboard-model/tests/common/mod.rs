//! Helpers shared by the model crate's integration tests.

#![allow(dead_code)]

use std::ops::ControlFlow;
use std::path::PathBuf;

use switchboard_model::decode::{DecodeError, Decoded, Decoder, Format};

/// The published Connect samples (`../shared/connect/samples` beside the repository), or
/// `SWITCHBOARD_SAMPLES`.
pub fn samples_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("SWITCHBOARD_SAMPLES") {
        return dir.into();
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/connect/samples");
    assert!(
        dir.is_dir(),
        "samples not found at {}: set SWITCHBOARD_SAMPLES",
        dir.display()
    );
    dir
}

/// Every `.json` sample file, sorted.
pub fn sample_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(samples_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

/// Decodes bytes, collecting records and errors.
pub fn decode(format: Format, bytes: &[u8]) -> (Vec<Decoded>, Vec<DecodeError>) {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    Decoder::new(format).decode_slice(Some("input"), bytes, &mut |r| {
        match r {
            Ok(d) => ok.push(d),
            Err(e) => bad.push(e),
        }
        ControlFlow::Continue(())
    });
    (ok, bad)
}
