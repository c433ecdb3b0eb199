//! EventBridge event patterns: the `match` of a routing rule ([`crate::rules`]).
//!
//! A rule's pattern is checked when the config is validated ([`Pattern::check`], every
//! problem with its key path), compiled once when the rules are built
//! ([`Pattern::compile`]), and then tried on the pipeline thread against the JSON
//! document of every item the rule looks at ([`Pattern::matches`]: no allocation, no
//! cloning of the event, never a panic).
//!
//! The semantics are Amazon EventBridge's, as its documentation describes them and as its
//! open-source engine (`aws/event-ruler`) implements them:
//!
//! - a pattern is an object of fields; a nested object matches the nested fields of the
//!   event; every field must match (AND); a field's array lists conditions, any of which
//!   may match (OR); when the event's value is an array, a condition matches if it
//!   matches any element;
//! - conditions: exact strings, numbers (by value: `300` matches `300.0` and `3e2`),
//!   `true`, `false`, `null`; `prefix` and `suffix` (also with `equals-ignore-case`);
//!   `equals-ignore-case`; `wildcard` (`*`, with `\*` for a literal star); `anything-but`
//!   a value, a list, or a `prefix`/`suffix`/`equals-ignore-case`/`wildcard`; `numeric`
//!   ranges; `cidr` (IPv4 and IPv6); `exists`;
//! - `"$or": [{...}, {...}]` at any level: any alternative, each with the fields around
//!   it, may match (at most 1000 combinations in one pattern, as in EventBridge);
//! - operators apply to leaf values only: a field whose value is an object has no value,
//!   so `{"exists": false}` matches it and `{"exists": true}` does not;
//! - arrays of objects are matched element by element: the fields of one nested object
//!   of the pattern must all be found in the same element (EventBridge's "array
//!   consistent" matching), `{"exists": false}` included.
//!
//! Where EventBridge's behaviour depends on the order of keys in the pattern's text, which
//! a parsed JSON value no longer has, the pattern is refused instead of guessed: a field
//! matched both inside and outside an `$or` alternative is an error here (EventBridge
//! keeps whichever was written last). Keys are matched literally: a dot is part of a
//! key's name, not a separator. An event that is not a JSON object matches nothing.

mod cond;
mod parse;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use serde_json::{Map, Value};

use cond::Cond;

/// A compiled event pattern: compile once, match many.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// One tree per combination of `$or` alternatives; the pattern matches if any does.
    branches: Vec<Node>,
}

/// A mistake in a pattern: where (`detail.state[1].prefix`, empty for the pattern as a
/// whole) and what is wrong, with what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{reason}", if path.is_empty() { String::new() } else { format!("{path}: ") })]
pub struct PatternError {
    /// Dotted key path inside the pattern; array elements as `[i]`; keys that are not
    /// plain names (letters, digits, `-`, `_`) are quoted, like `"$or"[1]`.
    pub path: String,
    pub reason: String,
}

impl Pattern {
    /// Compiles an EventBridge event pattern given as JSON. Every mistake is reported with
    /// its path; this returns the first one (see [`Pattern::check`] for all of them).
    pub fn compile(pattern: &Value) -> Result<Pattern, PatternError> {
        parse::compile(pattern).map_err(|mut errors| errors.swap_remove(0))
    }

    /// Like [`Pattern::compile`], but collects every problem instead of the first; empty
    /// when the pattern is valid.
    pub fn check(pattern: &Value) -> Vec<PatternError> {
        parse::compile(pattern).err().unwrap_or_default()
    }

    /// Whether the event matches. An event that is not a JSON object matches nothing.
    pub fn matches(&self, event: &Value) -> bool {
        match event {
            Value::Object(map) => self.branches.iter().any(|b| b.matches(Some(map))),
            _ => false,
        }
    }
}

/// The fields of one object level of a pattern (after `$or` expansion), sorted by key.
#[derive(Debug, Clone)]
struct Node {
    fields: Vec<Field>,
    /// Whether the node matches where the event has no object at all (every field
    /// then absent): true when every field accepts absence.
    absent_ok: bool,
}

/// One key of a node: conditions on its leaf values, nested fields, or both (both when
/// `$or` alternatives give the same key a leaf and an object).
#[derive(Debug, Clone)]
struct Field {
    key: Box<str>,
    leaf: Option<Arc<Leaf>>,
    child: Option<Node>,
}

/// A field's array of conditions.
#[derive(Debug)]
struct Leaf {
    conds: Vec<Cond>,
    /// The array holds `{"exists": false}`: absence matches too.
    absent: bool,
}

/// How deep nested arrays (`[[1, [2]]]`) are followed; serde_json's own parser stops at
/// 128 levels, so only a hand-built value gets here, and it is not walked further.
const MAX_ARRAY_DEPTH: usize = 128;

impl Node {
    fn matches(&self, object: Option<&Map<String, Value>>) -> bool {
        let Some(object) = object else {
            return self.absent_ok;
        };
        self.fields.iter().all(|f| f.matches(object.get(&*f.key)))
    }
}

impl Field {
    fn matches(&self, value: Option<&Value>) -> bool {
        if let Some(leaf) = &self.leaf {
            if !leaf.matches(value) {
                return false;
            }
        }
        match &self.child {
            Some(child) => child_matches(child, value),
            None => true,
        }
    }
}

impl Leaf {
    fn matches(&self, value: Option<&Value>) -> bool {
        let mut present = false;
        let hit = any_leaf(value, 0, &mut |v| {
            present = true;
            self.conds.iter().any(|c| c.matches(v))
        });
        hit || (self.absent && !present)
    }
}

/// Nested fields: some object at this place (the value, or an element of it if it is an
/// array) must match them all; where there is no object at all, they must all accept
/// absence.
fn child_matches(child: &Node, value: Option<&Value>) -> bool {
    let mut seen = false;
    let hit = any_object(value, 0, &mut |object| {
        seen = true;
        child.matches(Some(object))
    });
    hit || (!seen && child.absent_ok)
}

/// Calls `f` on each leaf value (not an object or array) at this place, flattening
/// nested arrays, until it returns true.
fn any_leaf(value: Option<&Value>, depth: usize, f: &mut impl FnMut(&Value) -> bool) -> bool {
    match value {
        None | Some(Value::Object(_)) => false,
        Some(Value::Array(items)) => {
            depth < MAX_ARRAY_DEPTH
                && items.iter().any(|item| match item {
                    Value::Object(_) => false,
                    Value::Array(_) => any_leaf(Some(item), depth + 1, f),
                    leaf => f(leaf),
                })
        }
        Some(leaf) => f(leaf),
    }
}

/// Calls `f` on each object at this place (the value, or the objects in it if it is an
/// array, flattening nested arrays) until it returns true.
fn any_object(
    value: Option<&Value>,
    depth: usize,
    f: &mut impl FnMut(&Map<String, Value>) -> bool,
) -> bool {
    match value {
        Some(Value::Object(object)) => f(object),
        Some(Value::Array(items)) => {
            depth < MAX_ARRAY_DEPTH
                && items.iter().any(|item| match item {
                    Value::Object(object) => f(object),
                    Value::Array(_) => any_object(Some(item), depth + 1, f),
                    _ => false,
                })
        }
        _ => false,
    }
}
