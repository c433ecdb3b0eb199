//! The problems found in a config file, each with the key it is about, printed one per
//! line as `FILE: KEY: MESSAGE` (the form compilers use, so editors can jump to them).

use std::fmt;
use std::ops::RangeInclusive;

/// One problem: the dotted path of the key (`sources[1].stream`, empty for the file as a
/// whole) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub message: String,
}

impl Problem {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// Every problem found in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems {
    /// The file, as given on the command line.
    pub file: String,
    pub list: Vec<Problem>,
}

impl Problems {
    pub fn new(file: &str) -> Self {
        Problems {
            file: file.to_owned(),
            list: Vec::new(),
        }
    }

    pub fn one(file: &str, problem: Problem) -> Self {
        Problems {
            file: file.to_owned(),
            list: vec![problem],
        }
    }

    pub fn push(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.list.push(Problem::new(key, message));
    }

    /// Reports `value` under `key` unless it lies in `range`, as `VALUE is out of range:
    /// BOUNDS`; `bounds` says the range for a person (`1 to 600`, `65536 (64 KiB) to
    /// 104857600 (100 MiB)`).
    pub(crate) fn check_range<T: PartialOrd + fmt::Display>(
        &mut self,
        key: String,
        value: T,
        range: RangeInclusive<T>,
        bounds: &str,
    ) {
        if !range.contains(&value) {
            self.push(key, format!("{value} is out of range: {bounds}"));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.list {
            if p.key.is_empty() {
                writeln!(f, "{}: {}", self.file, p.message)?;
            } else {
                writeln!(f, "{}: {}: {}", self.file, p.key, p.message)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

/// `prefix.key`, or `key` alone at the top.
pub fn join(prefix: &str, key: &str) -> String {
    match (prefix.is_empty(), key.is_empty()) {
        (true, _) => key.to_owned(),
        (_, true) => prefix.to_owned(),
        _ => format!("{prefix}.{key}"),
    }
}

/// Runs a config's `check` at the top (key `""`) and returns its first problem as one
/// line, `key: message` (the message alone for the config as a whole), or `None` when it
/// found none: what a component's `build` fails with when handed a config nobody checked.
pub(crate) fn first_problem(check: impl FnOnce(&mut Problems)) -> Option<String> {
    let mut problems = Problems::new("");
    check(&mut problems);
    problems.list.into_iter().next().map(|p| {
        if p.key.is_empty() {
            p.message
        } else {
            format!("{}: {}", p.key, p.message)
        }
    })
}
