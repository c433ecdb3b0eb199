//! The arguments of each operator: what EventBridge accepts after `prefix`, `suffix`,
//! `equals-ignore-case`, `wildcard`, `cidr`, `numeric` and `anything-but`, and the
//! message when something else is written.

use serde_json::Value;

use super::super::cond::{exact_f64, AnythingBut, Cond, Folded, Glob, Range};
use super::{describe, inexact, Parser, Path};

impl Parser {
    pub(super) fn string<'v>(&mut self, op: &str, arg: &'v Value, at: &Path) -> Option<&'v str> {
        match arg {
            Value::String(s) => Some(s),
            other => {
                self.error(
                    at,
                    format!("{op} takes a string; found {}", describe(other)),
                );
                None
            }
        }
    }

    pub(super) fn glob(&mut self, text: &str, at: &Path) -> Option<Glob> {
        match Glob::parse(text) {
            Ok(glob) => Some(glob),
            Err(reason) => {
                self.error(at, reason);
                None
            }
        }
    }

    /// `prefix` or `suffix`: a string, or `{"equals-ignore-case": string}`.
    pub(super) fn affix(&mut self, op: &str, arg: &Value, at: &Path) -> Option<Cond> {
        let prefix = op == "prefix";
        match arg {
            Value::String(s) => Some(if prefix {
                Cond::Prefix(s.as_str().into())
            } else {
                Cond::Suffix(s.as_str().into())
            }),
            Value::Object(inner) if inner.len() == 1 => {
                let (key, value) = inner.iter().next()?;
                let here = at.key(key);
                if key != "equals-ignore-case" {
                    self.error(
                        &here,
                        format!(
                            "{op} takes a string, or {{\"equals-ignore-case\": string}}; \
                             `{key}` cannot be used inside it"
                        ),
                    );
                    return None;
                }
                let folded = Folded::new(self.string(key, value, &here)?);
                Some(if prefix {
                    Cond::PrefixFold(folded)
                } else {
                    Cond::SuffixFold(folded)
                })
            }
            other => {
                self.error(
                    at,
                    format!(
                        "{op} takes a string, like {{\"{op}\": \"us-\"}}, or \
                         {{\"equals-ignore-case\": string}} inside; found {}",
                        describe(other)
                    ),
                );
                None
            }
        }
    }

    /// `numeric`: `[op, n]` with op one of `=`, `<`, `<=`, `>`, `>=`, or a range
    /// `[">" | ">=", low, "<" | "<=", high]` with low below high.
    pub(super) fn numeric(&mut self, arg: &Value, at: &Path) -> Option<Range> {
        const SHAPE: &str = "an operator and a number, like [\">\", 0], or a range, like \
                             [\">\", 0, \"<=\", 5]";
        let items = match arg {
            Value::Array(items) if !items.is_empty() => items,
            other => {
                self.error(
                    at,
                    format!("numeric takes {SHAPE}; found {}", describe(other)),
                );
                return None;
            }
        };
        let first = self.numeric_op(items, 0, at, &["=", "<", "<=", ">", ">="])?;
        let value = self.numeric_value(items, 1, first, at)?;
        let one = |open| Some((value, open));
        let range = match first {
            "=" => Range {
                low: one(false),
                high: one(false),
            },
            "<" => Range {
                low: None,
                high: one(true),
            },
            "<=" => Range {
                low: None,
                high: one(false),
            },
            _ => {
                let low = one(first == ">");
                if items.len() == 2 {
                    return Some(Range { low, high: None });
                }
                let second = self.numeric_op(items, 2, at, &["<", "<="])?;
                let top = self.numeric_value(items, 3, second, at)?;
                if items.len() > 4 {
                    self.error(
                        &at.index(4),
                        "a numeric range has at most four elements: [\">\", low, \"<=\", high]",
                    );
                    return None;
                }
                if value >= top {
                    self.error(
                        at,
                        format!("the lower bound {value} must be less than the upper bound {top}"),
                    );
                    return None;
                }
                return Some(Range {
                    low,
                    high: Some((top, second == "<")),
                });
            }
        };
        if items.len() > 2 {
            self.error(
                &at.index(2),
                format!(
                    "nothing may follow `{first}` and its number; a range starts with its \
                     lower bound: [\">\", low, \"<=\", high]"
                ),
            );
            return None;
        }
        Some(range)
    }

    /// The operator at `items[i]`, one of `allowed`.
    fn numeric_op<'v>(
        &mut self,
        items: &'v [Value],
        i: usize,
        at: &Path,
        allowed: &[&str],
    ) -> Option<&'v str> {
        let expected = allowed.join(", ");
        match items.get(i) {
            Some(Value::String(op)) if allowed.contains(&op.as_str()) => Some(op),
            Some(Value::String(op)) if i == 2 => {
                self.error(
                    &at.index(i),
                    format!(
                        "the upper bound of a numeric range takes {expected}; found `{op}` \
                         (the lower bound comes first)"
                    ),
                );
                None
            }
            Some(other) => {
                self.error(
                    &at.index(i),
                    format!(
                        "expected a numeric operator ({expected}); found {}",
                        describe(other)
                    ),
                );
                None
            }
            None => {
                self.error(
                    at,
                    format!("expected a numeric operator ({expected}) at [{i}]"),
                );
                None
            }
        }
    }

    /// The number at `items[i]`, which follows operator `op`.
    fn numeric_value(&mut self, items: &[Value], i: usize, op: &str, at: &Path) -> Option<f64> {
        match items.get(i) {
            Some(Value::Number(n)) => match exact_f64(n) {
                Some(x) => Some(x),
                None => {
                    self.error(&at.index(i), inexact(n));
                    None
                }
            },
            Some(Value::String(s)) if s.parse::<f64>().is_ok() => {
                self.error(
                    &at.index(i),
                    format!("the value after `{op}` must be a number: write {s} without quotes"),
                );
                None
            }
            Some(other) => {
                self.error(
                    &at.index(i),
                    format!(
                        "the value after `{op}` must be a number; found {}",
                        describe(other)
                    ),
                );
                None
            }
            None => {
                self.error(at, format!("`{op}` needs a number after it"));
                None
            }
        }
    }

    /// `anything-but`: a string, a number, a list of strings or of numbers, or
    /// `{"prefix" | "suffix" | "equals-ignore-case" | "wildcard": string or strings}`.
    pub(super) fn anything_but(&mut self, arg: &Value, at: &Path) -> Option<AnythingBut> {
        match arg {
            Value::String(s) => Some(AnythingBut::Strings(vec![s.as_str().into()])),
            Value::Number(n) => match exact_f64(n) {
                Some(_) => Some(AnythingBut::Numbers(vec![n.clone()])),
                None => {
                    self.error(at, inexact(n));
                    None
                }
            },
            Value::Array(items) => self.anything_but_list(items, at),
            Value::Object(inner) if inner.len() == 1 => {
                let (key, value) = inner.iter().next()?;
                self.anything_but_of(key, value, &at.key(key))
            }
            Value::Object(inner) => {
                self.error(
                    at,
                    format!(
                        "anything-but takes one of prefix, suffix, equals-ignore-case or \
                         wildcard inside; found {} keys",
                        inner.len()
                    ),
                );
                None
            }
            other => {
                self.error(
                    at,
                    format!(
                        "anything-but takes a string, a number, a list of strings or of \
                         numbers, or {{\"prefix\" | \"suffix\" | \"equals-ignore-case\" | \
                         \"wildcard\": ...}}; found {}",
                        describe(other)
                    ),
                );
                None
            }
        }
    }

    fn anything_but_list(&mut self, items: &[Value], at: &Path) -> Option<AnythingBut> {
        if items.is_empty() {
            self.error(
                at,
                "an empty anything-but list excludes nothing and EventBridge refuses it: list \
                 at least one value",
            );
            return None;
        }
        self.clean(|p| {
            let mut strings = Vec::new();
            let mut numbers = Vec::new();
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(s) => strings.push(s.as_str().into()),
                    Value::Number(n) if exact_f64(n).is_some() => numbers.push(n.clone()),
                    Value::Number(n) => p.error(&at.index(i), inexact(n)),
                    other => p.error(
                        &at.index(i),
                        format!(
                            "an anything-but list holds only strings or only numbers; found {}",
                            describe(other)
                        ),
                    ),
                }
            }
            match (strings.is_empty(), numbers.is_empty()) {
                (false, false) => {
                    p.error(
                        at,
                        "the anything-but list mixes strings and numbers; EventBridge needs all \
                         strings or all numbers (use two conditions in the field's array)",
                    );
                    None
                }
                (false, true) => Some(AnythingBut::Strings(strings)),
                _ => Some(AnythingBut::Numbers(numbers)),
            }
        })
    }

    /// `{"anything-but": {op: value}}`.
    fn anything_but_of(&mut self, op: &str, value: &Value, at: &Path) -> Option<AnythingBut> {
        if !matches!(op, "prefix" | "suffix" | "equals-ignore-case" | "wildcard") {
            self.error(
                at,
                format!(
                    "anything-but cannot hold `{op}`; it takes prefix, suffix, \
                     equals-ignore-case or wildcard inside"
                ),
            );
            return None;
        }
        let texts: Vec<(&str, Path)> = match value {
            Value::String(s) => vec![(s.as_str(), at.clone())],
            Value::Array(items) if !items.is_empty() => {
                let texts = self.clean(|p| {
                    let mut texts = Vec::with_capacity(items.len());
                    for (i, item) in items.iter().enumerate() {
                        match item {
                            Value::String(s) => texts.push((s.as_str(), at.index(i))),
                            other => p.error(
                                &at.index(i),
                                format!("{op} takes strings here; found {}", describe(other)),
                            ),
                        }
                    }
                    Some(texts)
                });
                texts?
            }
            Value::Array(_) => {
                self.error(
                    at,
                    "an empty list excludes nothing: list at least one string",
                );
                return None;
            }
            other => {
                self.error(
                    at,
                    format!(
                        "{op} inside anything-but takes a string or a list of strings; found {}",
                        describe(other)
                    ),
                );
                return None;
            }
        };
        self.clean(|p| {
            if matches!(op, "prefix" | "suffix") {
                for (text, here) in &texts {
                    if text.is_empty() {
                        p.error(
                            here,
                            format!(
                                "an empty {op} would exclude every string; EventBridge refuses it"
                            ),
                        );
                    }
                }
            }
            let boxed = || texts.iter().map(|(t, _)| Box::<str>::from(*t)).collect();
            Some(match op {
                "prefix" => AnythingBut::Prefixes(boxed()),
                "suffix" => AnythingBut::Suffixes(boxed()),
                "equals-ignore-case" => {
                    AnythingBut::EqualsFold(texts.iter().map(|(t, _)| Folded::new(t)).collect())
                }
                _ => {
                    let mut globs = Vec::with_capacity(texts.len());
                    for (text, here) in &texts {
                        if let Some(g) = p.glob(text, here) {
                            globs.push(g);
                        }
                    }
                    AnythingBut::Wildcards(globs)
                }
            })
        })
    }
}
