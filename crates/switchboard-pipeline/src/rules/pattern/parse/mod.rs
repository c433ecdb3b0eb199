//! Compiling a pattern: the JSON is read once and every mistake is collected with its
//! path (what `switchboard validate` prints); the operators' arguments
//! ([`operators`]) are checked as EventBridge's `TestEventPattern` checks them, and the
//! messages say what to write instead. A valid pattern then becomes one tree per
//! combination of `$or` alternatives ([`expand`]).

mod expand;
mod operators;

use std::sync::Arc;

use serde_json::{Map, Value};

use super::cond::{Cond, Folded, IpRange};
use super::{Leaf, Pattern, PatternError};
use expand::{Object, Part};

const OR: &str = "$or";

/// The operators' names.
const OPERATOR_NAMES: &[&str] = &[
    "anything-but",
    "cidr",
    "equals-ignore-case",
    "exists",
    "numeric",
    "prefix",
    "suffix",
    "wildcard",
];

/// Names EventBridge refuses as field names inside an `$or` alternative (its engine's
/// `RESERVED_FIELD_NAMES_IN_OR_RELATIONSHIP`): the operators, the numeric comparisons and
/// names it keeps for future operators.
const RESERVED_IN_OR: &[&str] = &[
    "exactly",
    "equals-ignore-case",
    "prefix",
    "suffix",
    "anything-but",
    "exists",
    "wildcard",
    "numeric",
    "cidr",
    "=",
    "<",
    "<=",
    ">",
    ">=",
    "regex",
    "not-wildcard",
    "not-equals-ignore-case",
    "date-after",
    "date-on-or-after",
    "date-before",
    "date-on-or-before",
    "in-date-range",
    "ip-address-in-range",
    "ip-address-not-in-range",
];

/// Compiles `pattern`, or returns every problem found (never an empty list).
pub(super) fn compile(pattern: &Value) -> Result<Pattern, Vec<PatternError>> {
    let mut parser = Parser::default();
    let root = match pattern {
        Value::Object(map) => parser.object(map, &Path::default(), false),
        other => {
            parser.error(
                &Path::default(),
                format!(
                    "an event pattern is a JSON object (a table) of fields, like \
                     {{\"detail\": {{\"eventType\": [\"DISCONNECTED\"]}}}}; found {}",
                    describe(other)
                ),
            );
            None
        }
    };
    match root {
        Some(root) if parser.errors.is_empty() => Ok(Pattern {
            branches: expand::branches(&root)?,
        }),
        _ => Err(parser.errors),
    }
}

/// A key path being read, formatted for messages.
#[derive(Debug, Clone, Default)]
struct Path(String);

impl Path {
    fn key(&self, key: &str) -> Path {
        let key = quote(key);
        Path(if self.0.is_empty() {
            key
        } else {
            format!("{}.{key}", self.0)
        })
    }

    fn index(&self, i: usize) -> Path {
        Path(format!("{}[{i}]", self.0))
    }
}

/// A key as written in a path: bare when it is letters, digits, `-` and `_` (as TOML bare
/// keys are), quoted otherwise.
fn quote(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if bare {
        key.to_owned()
    } else {
        serde_json::to_string(key).unwrap_or_else(|_| format!("\"{key}\""))
    }
}

/// Reads a pattern, collecting every problem.
#[derive(Debug, Default)]
struct Parser {
    errors: Vec<PatternError>,
}

/// What one operator object compiles to.
enum Op {
    Cond(Cond),
    /// `{"exists": false}`.
    Absent,
}

impl Parser {
    fn error(&mut self, at: &Path, reason: impl Into<String>) {
        self.errors.push(PatternError {
            path: at.0.clone(),
            reason: reason.into(),
        });
    }

    /// Runs `read` and returns its result only if it reported no problem.
    fn clean<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        let before = self.errors.len();
        let out = read(self);
        out.filter(|_| self.errors.len() == before)
    }

    fn object(&mut self, map: &Map<String, Value>, at: &Path, in_or: bool) -> Option<Object> {
        if map.is_empty() {
            self.error(
                at,
                if at.0.is_empty() {
                    "the pattern is empty: give at least one field to match, like \
                     {\"detail-type\": [\"Amazon Connect Contact Event\"]}"
                } else {
                    "an empty object: EventBridge refuses it; give it at least one field, or \
                     remove it"
                },
            );
            return None;
        }
        self.clean(|p| {
            let mut out = Object::default();
            for (key, value) in map {
                let here = at.key(key);
                if key == OR {
                    if let Some(alternatives) = p.or(value, &here) {
                        out.or = alternatives;
                    }
                    continue;
                }
                if in_or && RESERVED_IN_OR.contains(&key.as_str()) {
                    p.error(
                        &here,
                        format!(
                            "`{key}` is an operator name, which EventBridge refuses as a field \
                             name inside $or; to use the operator, write \
                             \"field\": [{{\"{key}\": ...}}]"
                        ),
                    );
                    continue;
                }
                match value {
                    Value::Object(inner) => {
                        if let Some(o) = p.object(inner, &here, in_or) {
                            out.fields.push((key.clone(), Part::Object(o)));
                        }
                    }
                    Value::Array(items) => {
                        if let Some(leaf) = p.leaf(items, &here) {
                            out.fields.push((key.clone(), Part::Leaf(Arc::new(leaf))));
                        }
                    }
                    other => {
                        let hint = if OPERATOR_NAMES.contains(&key.as_str()) {
                            format!(
                                "; to use the `{key}` operator, put it in the field's array: \
                                 \"field\": [{{\"{key}\": {}}}]",
                                compact(other)
                            )
                        } else {
                            format!(" (write [{}] for one value)", compact(other))
                        };
                        p.error(
                            &here,
                            format!(
                                "must be an array of match conditions or an object of nested \
                                 fields; found {}{hint}",
                                describe(other)
                            ),
                        );
                    }
                }
            }
            Some(out)
        })
    }

    fn or(&mut self, value: &Value, at: &Path) -> Option<Vec<Object>> {
        let Value::Array(items) = value else {
            self.error(
                at,
                format!(
                    "$or takes an array of at least two objects, each an alternative set of \
                     fields; found {}",
                    describe(value)
                ),
            );
            return None;
        };
        self.clean(|p| {
            if items.len() < 2 {
                p.error(
                    at,
                    "$or needs at least two alternatives (EventBridge refuses fewer); with one, \
                     write its fields directly",
                );
            }
            let mut alternatives = Vec::new();
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::Object(map) => {
                        if let Some(o) = p.object(map, &at.index(i), true) {
                            alternatives.push(o);
                        }
                    }
                    other => p.error(
                        &at.index(i),
                        format!(
                            "an alternative of $or must be an object of fields; found {}",
                            describe(other)
                        ),
                    ),
                }
            }
            Some(alternatives)
        })
    }

    fn leaf(&mut self, items: &[Value], at: &Path) -> Option<Leaf> {
        if items.is_empty() {
            self.error(
                at,
                "an empty array matches nothing and EventBridge refuses it: list at least one \
                 value or condition",
            );
            return None;
        }
        self.clean(|p| {
            let mut leaf = Leaf {
                conds: Vec::with_capacity(items.len()),
                absent: false,
            };
            for (i, item) in items.iter().enumerate() {
                let here = at.index(i);
                match item {
                    Value::String(s) => leaf.conds.push(Cond::string(s)),
                    Value::Number(n) => leaf.conds.push(Cond::Num(n.clone())),
                    Value::Bool(b) => leaf.conds.push(Cond::Bool(*b)),
                    Value::Null => leaf.conds.push(Cond::Null),
                    Value::Array(_) => p.error(
                        &here,
                        "a match condition is a string, a number, true, false, null or an \
                         operator object like {\"prefix\": \"us-\"}; arrays do not nest here",
                    ),
                    Value::Object(op) => {
                        let before = p.errors.len();
                        match p.operator(op, &here) {
                            Some(Op::Cond(c)) => leaf.conds.push(c),
                            Some(Op::Absent) => leaf.absent = true,
                            // Every refusal is reported; never drop a condition silently.
                            None if p.errors.len() == before => p.error(
                                &here,
                                format!("not a valid condition: use one of {}", operators()),
                            ),
                            None => {}
                        }
                    }
                }
            }
            Some(leaf)
        })
    }

    fn operator(&mut self, op: &Map<String, Value>, at: &Path) -> Option<Op> {
        let mut entries = op.iter();
        let (name, arg) = match (entries.next(), op.len()) {
            (Some(entry), 1) => entry,
            (None, _) => {
                self.error(
                    at,
                    format!("an empty operator object: use one of {}", operators()),
                );
                return None;
            }
            _ => {
                let keys: Vec<&str> = op.keys().map(String::as_str).collect();
                self.error(
                    at,
                    format!(
                        "an operator object holds exactly one operator; found {} ({}): give \
                         each its own element of the array",
                        keys.len(),
                        keys.join(", ")
                    ),
                );
                return None;
            }
        };
        let here = at.key(name);
        let cond = match name.as_str() {
            "prefix" | "suffix" => self.affix(name, arg, &here)?,
            "equals-ignore-case" => Cond::EqualsFold(Folded::new(self.string(name, arg, &here)?)),
            "wildcard" => {
                let text = self.string(name, arg, &here)?;
                Cond::Wildcard(self.glob(text, &here)?)
            }
            "cidr" => {
                let text = self.string(name, arg, &here)?;
                match IpRange::parse(text) {
                    Ok(range) => Cond::Cidr(range),
                    Err(reason) => {
                        self.error(&here, reason);
                        return None;
                    }
                }
            }
            "exists" => match arg {
                Value::Bool(true) => Cond::Exists,
                Value::Bool(false) => return Some(Op::Absent),
                other => {
                    self.error(
                        &here,
                        format!("exists takes true or false; found {}", describe(other)),
                    );
                    return None;
                }
            },
            "numeric" => Cond::Numeric(self.numeric(arg, &here)?),
            "anything-but" => Cond::AnythingBut(self.anything_but(arg, &here)?),
            other => {
                self.error(
                    &here,
                    format!(
                        "unknown operator `{other}`: EventBridge knows {}",
                        operators()
                    ),
                );
                return None;
            }
        };
        Some(Op::Cond(cond))
    }
}

/// The operators, as listed in messages.
fn operators() -> String {
    OPERATOR_NAMES.join(", ")
}

fn inexact(n: &serde_json::Number) -> String {
    format!(
        "{n} cannot be compared exactly: EventBridge compares numbers as 64-bit floating point, \
         which cannot hold this one; use fewer significant digits, or match it as a string"
    )
}

/// What a JSON value is, for messages.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {}", compact(&Value::String(s.clone()))),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// A value as JSON, shortened for messages.
fn compact(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 {
        let cut: String = text.chars().take(57).collect();
        format!("{cut}...")
    } else {
        text
    }
}
