//! Tests of the pattern matcher: the EventBridge documentation's own examples
//! ([`docs`]), the engine's documented behaviour beyond them ([`semantics`]),
//! Connect-shaped events ([`connect`]) and refused patterns ([`invalid`]).

mod connect;
mod docs;
mod invalid;
mod semantics;

use serde_json::Value;

use super::{Pattern, PatternError};

/// Compiles a pattern the test expects to be valid.
fn pattern(p: &Value) -> Pattern {
    match Pattern::compile(p) {
        Ok(p) => p,
        Err(e) => panic!("pattern {p} was refused: {e}"),
    }
}

/// Asserts that `p` matches each of `events`.
fn matches_all(p: &Value, events: &[Value]) {
    let compiled = pattern(p);
    for e in events {
        assert!(compiled.matches(e), "pattern {p}\nshould match {e}");
    }
}

/// Asserts that `p` matches none of `events`.
fn matches_none(p: &Value, events: &[Value]) {
    let compiled = pattern(p);
    for e in events {
        assert!(!compiled.matches(e), "pattern {p}\nshould not match {e}");
    }
}

/// The problems found in a pattern the test expects to be refused.
fn problems(p: &Value) -> Vec<PatternError> {
    let found = Pattern::check(p);
    assert!(!found.is_empty(), "pattern {p} should be refused");
    // compile reports the first of them.
    match Pattern::compile(p) {
        Ok(_) => panic!("check refused {p} but compile accepted it"),
        Err(first) => assert_eq!(first, found[0]),
    }
    found
}

/// Asserts that `p` is refused with a problem at `path` whose reason contains `words`.
fn refused_at(p: &Value, path: &str, words: &str) {
    let found = problems(p);
    assert!(
        found
            .iter()
            .any(|e| e.path == path && e.reason.contains(words)),
        "pattern {p}: expected a problem at {path:?} mentioning {words:?}, got {found:#?}"
    );
}
