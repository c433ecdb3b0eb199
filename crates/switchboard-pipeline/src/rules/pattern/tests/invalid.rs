//! Patterns EventBridge refuses (its `TestEventPattern` answers
//! InvalidEventPatternException; the checks are those of its engine's
//! `JsonRuleCompiler`), each reported at its path with what to write instead.

use serde_json::json;

use super::{pattern, problems, refused_at, Pattern, PatternError};

#[test]
fn structure() {
    refused_at(&json!(["source"]), "", "JSON object");
    refused_at(&json!("aws.connect"), "", "JSON object");
    refused_at(&json!({}), "", "pattern is empty");
    refused_at(&json!({"detail": {}}), "detail", "empty object");
    refused_at(
        &json!({"source": "aws.connect"}),
        "source",
        "[\"aws.connect\"]",
    );
    refused_at(&json!({"count": 5}), "count", "write [5]");
    refused_at(&json!({"source": []}), "source", "empty array");
    refused_at(&json!({"a": [["x"]]}), "a[0]", "do not nest");
    // An operator written where a field's array belongs.
    refused_at(
        &json!({"detail": {"state": {"prefix": "init"}}}),
        "detail.state.prefix",
        "\"field\": [{\"prefix\": \"init\"}]",
    );
}

#[test]
fn operator_objects() {
    refused_at(&json!({"a": [{}]}), "a[0]", "empty operator object");
    refused_at(
        &json!({"a": [{"prefix": "x", "suffix": "y"}]}),
        "a[0]",
        "exactly one operator",
    );
    refused_at(
        &json!({"a": [{"regex": "x.*"}]}),
        "a[0].regex",
        "unknown operator `regex`",
    );
    refused_at(
        &json!({"a": [{"exactly": "x"}]}),
        "a[0].exactly",
        "unknown operator",
    );
    refused_at(
        &json!({"a": [{"prefix": 5}]}),
        "a[0].prefix",
        "takes a string",
    );
    refused_at(
        &json!({"a": [{"prefix": {"wildcard": "x*"}}]}),
        "a[0].prefix.wildcard",
        "cannot be used inside",
    );
    refused_at(
        &json!({"a": [{"suffix": {"equals-ignore-case": 1}}]}),
        "a[0].suffix.equals-ignore-case",
        "takes a string",
    );
    refused_at(
        &json!({"a": [{"suffix": {}}]}),
        "a[0].suffix",
        "takes a string",
    );
    refused_at(
        &json!({"a": [{"equals-ignore-case": ["x"]}]}),
        "a[0].equals-ignore-case",
        "takes a string",
    );
    refused_at(
        &json!({"a": [{"exists": "yes"}]}),
        "a[0].exists",
        "true or false",
    );
    refused_at(
        &json!({"a": [{"exists": 1}]}),
        "a[0].exists",
        "true or false",
    );
}

#[test]
fn numeric_ranges() {
    let at = "detail.c-count[0].numeric";
    let with = |args: serde_json::Value| json!({"detail": {"c-count": [{"numeric": args}]}});
    refused_at(&with(json!(">")), at, "takes an operator and a number");
    refused_at(&with(json!([])), at, "takes an operator and a number");
    refused_at(&with(json!(["<"])), at, "`<` needs a number");
    refused_at(
        &with(json!(["!=", 5])),
        &format!("{at}[0]"),
        "found the string \"!=\"",
    );
    refused_at(
        &with(json!([5, ">"])),
        &format!("{at}[0]"),
        "expected a numeric operator",
    );
    refused_at(
        &with(json!(["<", "5"])),
        &format!("{at}[1]"),
        "without quotes",
    );
    refused_at(
        &with(json!(["<", null])),
        &format!("{at}[1]"),
        "must be a number",
    );
    refused_at(
        &with(json!(["=", 5, "<", 6])),
        &format!("{at}[2]"),
        "nothing may follow",
    );
    refused_at(
        &with(json!(["<", 5, ">", 1])),
        &format!("{at}[2]"),
        "lower bound",
    );
    refused_at(
        &with(json!([">", 0, ">", 5])),
        &format!("{at}[2]"),
        "upper bound of a numeric range takes <, <=",
    );
    refused_at(&with(json!([">", 0, "<"])), at, "`<` needs a number");
    refused_at(
        &with(json!([">", 0, "<", 5, 6])),
        &format!("{at}[4]"),
        "at most four",
    );
    refused_at(
        &with(json!([">", 5, "<", 5])),
        at,
        "must be less than the upper bound",
    );
    refused_at(
        &with(json!([">=", 6, "<=", 5])),
        at,
        "must be less than the upper bound",
    );
    refused_at(
        &with(json!(["=", 9007199254740993u64])),
        &format!("{at}[1]"),
        "cannot be compared exactly",
    );
    // The forms EventBridge accepts.
    for ok in [
        json!(["=", 5]),
        json!(["<", 5]),
        json!(["<=", 5]),
        json!([">", 5]),
        json!([">=", -5.5]),
        json!([">", 0, "<", 1]),
        json!([">=", 0, "<=", 1e9]),
        json!(["=", 9007199254740992u64]),
    ] {
        pattern(&with(ok));
    }
}

#[test]
fn wildcard_and_cidr() {
    refused_at(
        &json!({"a": [{"wildcard": "a**b"}]}),
        "a[0].wildcard",
        "consecutive `*` at byte 1",
    );
    refused_at(
        &json!({"a": [{"wildcard": "a\\b"}]}),
        "a[0].wildcard",
        "escapes only",
    );
    refused_at(
        &json!({"a": [{"wildcard": "ab\\"}]}),
        "a[0].wildcard",
        "escapes only",
    );
    pattern(&json!({"a": [{"wildcard": "\\**"}]}));
    refused_at(
        &json!({"a": [{"cidr": "10.0.0.0"}]}),
        "a[0].cidr",
        "not a CIDR block",
    );
    refused_at(
        &json!({"a": [{"cidr": "10.0.0.0/8/8"}]}),
        "a[0].cidr",
        "not a CIDR block",
    );
    refused_at(
        &json!({"a": [{"cidr": "10.0.0.0/x"}]}),
        "a[0].cidr",
        "whole number of bits",
    );
    refused_at(
        &json!({"a": [{"cidr": "10.0.0.0/-1"}]}),
        "a[0].cidr",
        "whole number of bits",
    );
    refused_at(
        &json!({"a": [{"cidr": "10.0.0.0/32"}]}),
        "a[0].cidr",
        "[\"10.0.0.0\"]",
    );
    refused_at(
        &json!({"a": [{"cidr": "2001:db8::/128"}]}),
        "a[0].cidr",
        "below 128 bits",
    );
    refused_at(
        &json!({"a": [{"cidr": "example.com/24"}]}),
        "a[0].cidr",
        "not an IPv4 or IPv6 address",
    );
    refused_at(
        &json!({"a": [{"cidr": "10.0.0.300/24"}]}),
        "a[0].cidr",
        "not an IPv4 or IPv6 address",
    );
    refused_at(&json!({"a": [{"cidr": 10}]}), "a[0].cidr", "takes a string");
}

#[test]
fn anything_but_arguments() {
    let at = "a[0].anything-but";
    refused_at(&json!({"a": [{"anything-but": null}]}), at, "found null");
    refused_at(&json!({"a": [{"anything-but": true}]}), at, "found true");
    refused_at(
        &json!({"a": [{"anything-but": []}]}),
        at,
        "empty anything-but list",
    );
    refused_at(
        &json!({"a": [{"anything-but": ["x", 1]}]}),
        at,
        "mixes strings and numbers",
    );
    refused_at(
        &json!({"a": [{"anything-but": ["x", null]}]}),
        &format!("{at}[1]"),
        "only strings or only numbers",
    );
    refused_at(
        &json!({"a": [{"anything-but": 18446744073709551615u64}]}),
        at,
        "cannot be compared exactly",
    );
    refused_at(
        &json!({"a": [{"anything-but": {"numeric": [">", 1]}}]}),
        &format!("{at}.numeric"),
        "cannot hold `numeric`",
    );
    refused_at(
        &json!({"a": [{"anything-but": {"exists": false}}]}),
        &format!("{at}.exists"),
        "cannot hold `exists`",
    );
    refused_at(
        &json!({"a": [{"anything-but": {"prefix": "x", "suffix": "y"}}]}),
        at,
        "found 2 keys",
    );
    refused_at(&json!({"a": [{"anything-but": {}}]}), at, "found 0 keys");
    refused_at(
        &json!({"a": [{"anything-but": {"prefix": ""}}]}),
        &format!("{at}.prefix"),
        "empty prefix",
    );
    refused_at(
        &json!({"a": [{"anything-but": {"suffix": ["x", ""]}}]}),
        &format!("{at}.suffix[1]"),
        "empty suffix",
    );
    refused_at(
        &json!({"a": [{"anything-but": {"prefix": []}}]}),
        &format!("{at}.prefix"),
        "empty list",
    );
    refused_at(
        &json!({"a": [{"anything-but": {"prefix": 5}}]}),
        &format!("{at}.prefix"),
        "string or a list of strings",
    );
    refused_at(
        &json!({"a": [{"anything-but": {"equals-ignore-case": ["x", 5]}}]}),
        &format!("{at}.equals-ignore-case[1]"),
        "takes strings",
    );
    refused_at(
        &json!({"a": [{"anything-but": {"wildcard": ["*.png", "a**"]}}]}),
        &format!("{at}.wildcard[1]"),
        "consecutive `*`",
    );
    // The forms EventBridge accepts.
    for ok in [
        json!("x"),
        json!(5),
        json!(["x", "y"]),
        json!([1, 2.5]),
        json!({"prefix": "x"}),
        json!({"prefix": ["x", "y"]}),
        json!({"suffix": "x"}),
        json!({"equals-ignore-case": ["X", "y"]}),
        json!({"wildcard": "*/lib/*"}),
    ] {
        pattern(&json!({"a": [{"anything-but": ok}]}));
    }
}

#[test]
fn or_structure() {
    refused_at(
        &json!({"$or": {"a": ["x"]}}),
        "\"$or\"",
        "array of at least two objects",
    );
    refused_at(
        &json!({"$or": [{"a": ["x"]}]}),
        "\"$or\"",
        "at least two alternatives",
    );
    refused_at(
        &json!({"$or": [{"a": ["x"]}, "b"]}),
        "\"$or\"[1]",
        "must be an object",
    );
    refused_at(
        &json!({"$or": [{"a": ["x"]}, {}]}),
        "\"$or\"[1]",
        "empty object",
    );
    refused_at(
        &json!({"detail": {"$or": [{"a": []}, {"b": ["y"]}]}}),
        "detail.\"$or\"[0].a",
        "empty array",
    );
    // Operator names are reserved as field names inside $or, at any depth.
    refused_at(
        &json!({"$or": [{"prefix": ["x"]}, {"b": ["y"]}]}),
        "\"$or\"[0].prefix",
        "operator name",
    );
    refused_at(
        &json!({"$or": [{"a": {"numeric": ["x"]}}, {"b": ["y"]}]}),
        "\"$or\"[0].a.numeric",
        "operator name",
    );
    // ... but not outside it.
    pattern(&json!({"prefix": ["x"], "numeric": {"exists": ["y"]}}));
    // A path matched inside and outside an alternative is ambiguous.
    refused_at(
        &json!({"a": ["x"], "$or": [{"a": ["y"]}, {"b": ["z"]}]}),
        "a",
        "both inside and outside",
    );
    refused_at(
        &json!({"d": {"s": ["x"]}, "$or": [{"d": {"s": ["y"]}}, {"d": {"t": ["z"]}}]}),
        "d.s",
        "both inside and outside",
    );
}

#[test]
fn or_combinations_are_bounded() {
    let or_of = |n: usize, key: &str| {
        serde_json::Value::Array(
            (0..n)
                .map(|i| json!({ format!("{key}{i}"): [i] }))
                .collect(),
        )
    };
    // 10 x 10 x 10 = 1000: the most EventBridge allows.
    pattern(
        &json!({"a": {"$or": or_of(10, "a")}, "b": {"$or": or_of(10, "b")}, "c": {"$or": or_of(10, "c")}}),
    );
    let p = json!({"a": {"$or": or_of(10, "a")}, "b": {"$or": or_of(10, "b")}, "c": {"$or": or_of(11, "c")}});
    refused_at(&p, "", "1100 sub-patterns");
    // Nested: an alternative holding its own $or counts its alternatives.
    let nested = json!({"$or": [{"x": ["1"], "$or": or_of(600, "y")}, {"$or": or_of(401, "z")}]});
    refused_at(&nested, "", "1001 sub-patterns");
}

#[test]
fn check_reports_every_problem() {
    let found = problems(&json!({
        "a": [],
        "b": "x",
        "c": [{"numeric": ["<"]}, {"wildcard": "**"}],
        "d": {"e": [{"cidr": "1.2.3.4"}], "f": ["ok"]}
    }));
    let paths: Vec<&str> = found.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        ["a", "b", "c[0].numeric", "c[1].wildcard", "d.e[0].cidr"],
        "{found:#?}"
    );
    assert!(Pattern::check(&json!({"a": ["x"]})).is_empty());
}

#[test]
fn paths_quote_unusual_keys_and_errors_display() {
    refused_at(
        &json!({"my key": {"x.y": []}}),
        "\"my key\".\"x.y\"",
        "empty array",
    );
    let e = PatternError {
        path: "detail.state[1].prefix".into(),
        reason: "prefix takes a string".into(),
    };
    assert_eq!(
        e.to_string(),
        "detail.state[1].prefix: prefix takes a string"
    );
    let whole = PatternError {
        path: String::new(),
        reason: "the pattern is empty".into(),
    };
    assert_eq!(whole.to_string(), "the pattern is empty");
}
