//! Input files: what `PATH...` arguments and a `files` source's paths stand for.

use std::io;
use std::path::{Path, PathBuf};

/// A file, `-`, or every file under a folder (recursively, sorted by name, hidden files
/// skipped).
pub fn expand(input: &Path) -> io::Result<Vec<PathBuf>> {
    if input.as_os_str() == "-" || !input.is_dir() {
        return Ok(vec![input.to_path_buf()]);
    }
    let mut files = Vec::new();
    let mut stack = vec![input.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)?
            .map(|e| e.map(|e| e.path()))
            .collect::<io::Result<_>>()?;
        entries.sort();
        for path in entries.into_iter().rev() {
            let hidden = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'));
            if hidden {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    // The stack visits folders last-first; restore name order.
    files.sort();
    Ok(files)
}
