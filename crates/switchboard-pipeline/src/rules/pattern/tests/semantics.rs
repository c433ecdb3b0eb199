//! Behaviour the User Guide states only in passing, checked against EventBridge's engine
//! (`aws/event-ruler`: its README and its `JsonRuleCompiler` / `ByteMachine`): how values
//! of each type meet each operator, arrays, `$or`, and events of any shape.

use serde_json::{json, Value};

use super::{matches_all, matches_none, pattern};

// Numbers are compared by value: event-ruler's JsonRuleCompiler adds a numeric-equality
// matcher for every number in a pattern, so 300 matches 300.0 and 3e2. (An older revision
// of eb-event-patterns.html said they were not equal; the engine is what runs.)
#[test]
fn numbers_match_by_value_not_by_spelling() {
    let p = json!({"x": [300]});
    let events: Vec<Value> = ["300", "300.0", "3e2", "3.0e2", "300.000"]
        .iter()
        .map(|n| serde_json::from_str(&format!("{{\"x\": {n}}}")).unwrap())
        .collect();
    matches_all(&p, &events);
    matches_none(
        &p,
        &[
            json!({"x": "300"}),
            json!({"x": 300.5}),
            json!({"x": [301, 299]}),
        ],
    );
    // Integers beyond 2^53 compare exactly, not after rounding to a double.
    let big = json!({"account": [12345678901234567890u64]});
    matches_all(&big, &[json!({"account": 12345678901234567890u64})]);
    matches_none(&big, &[json!({"account": 12345678901234567891u64})]);
    let negative = json!({"x": [-5]});
    matches_all(&negative, &[json!({"x": -5.0})]);
    matches_none(&negative, &[json!({"x": 5})]);
}

// Exact strings, booleans and null match only their own type.
#[test]
fn exact_values_are_typed() {
    matches_none(&json!({"x": ["true"]}), &[json!({"x": true})]);
    matches_none(
        &json!({"x": [true]}),
        &[json!({"x": "true"}), json!({"x": 1})],
    );
    matches_all(
        &json!({"x": [false]}),
        &[json!({"x": false}), json!({"x": [true, false]})],
    );
    matches_none(&json!({"x": ["null"]}), &[json!({"x": null})]);
    matches_none(
        &json!({"x": [null]}),
        &[json!({"x": "null"}), json!({"x": false})],
    );
}

// event-ruler turns a pattern string that is an IP address into an address match, so any
// spelling of the same address matches (CIDR.ipToRangeIfPossible).
#[test]
fn ip_address_strings_match_any_spelling() {
    let p = json!({"ip": ["2001:db8::1"]});
    matches_all(
        &p,
        &[
            json!({"ip": "2001:db8::1"}),
            json!({"ip": "2001:DB8:0:0:0:0:0:1"}),
        ],
    );
    matches_none(&p, &[json!({"ip": "2001:db8::2"})]);
    // An IPv4-mapped IPv6 address is the IPv4 address.
    matches_all(
        &json!({"ip": [{"cidr": "10.0.0.0/8"}]}),
        &[json!({"ip": "::ffff:a00:1"})],
    );
    // Strings that are not addresses compare as strings.
    matches_all(
        &json!({"ip": ["10.0.0.256"]}),
        &[json!({"ip": "10.0.0.256"})],
    );
}

// anything-but excludes only what it names: values of other types match it, an absent
// field does not (there is no value to test), and an array matches when any element is
// not excluded (ByteMachine tries each value).
#[test]
fn anything_but_and_types_arrays_absence() {
    let not_a = json!({"x": [{"anything-but": "a"}]});
    matches_all(
        &not_a,
        &[
            json!({"x": 5}),
            json!({"x": null}),
            json!({"x": true}),
            json!({"x": ["a", "b"]}),
        ],
    );
    matches_none(
        &not_a,
        &[
            json!({}),
            json!({"x": ["a"]}),
            json!({"x": {"y": "b"}}),
            json!({"x": []}),
        ],
    );
    let not_5 = json!({"x": [{"anything-but": [5, 6]}]});
    matches_all(&not_5, &[json!({"x": "5"}), json!({"x": 7})]);
    matches_none(&not_5, &[json!({"x": 5.0}), json!({"x": [6, 5]})]);
    let not_prefix = json!({"x": [{"anything-but": {"prefix": ["in", "ex"]}}]});
    matches_all(&not_prefix, &[json!({"x": 12}), json!({"x": "out"})]);
    matches_none(
        &not_prefix,
        &[json!({"x": "inside"}), json!({"x": "extra"})],
    );
}

// String operators test strings only; numeric tests numbers only.
#[test]
fn operators_see_only_their_type() {
    for p in [
        json!({"x": [{"prefix": "1"}]}),
        json!({"x": [{"suffix": "1"}]}),
        json!({"x": [{"equals-ignore-case": "1"}]}),
        json!({"x": [{"wildcard": "*"}]}),
    ] {
        matches_none(
            &p,
            &[json!({"x": 1}), json!({"x": null}), json!({"x": true})],
        );
    }
    matches_all(
        &json!({"x": [{"wildcard": "*"}]}),
        &[json!({"x": ""}), json!({"x": "any"})],
    );
    matches_all(&json!({"x": [{"prefix": ""}]}), &[json!({"x": ""})]);
    matches_none(
        &json!({"x": [{"numeric": [">=", 0]}]}),
        &[json!({"x": "1"}), json!({"x": null})],
    );
}

// exists: any leaf value counts, null included; objects and empty arrays are not values.
#[test]
fn exists_on_each_kind_of_value() {
    let present = json!({"x": [{"exists": true}]});
    matches_all(
        &present,
        &[json!({"x": null}), json!({"x": ""}), json!({"x": [0]})],
    );
    matches_none(
        &present,
        &[
            json!({}),
            json!({"x": {}}),
            json!({"x": []}),
            json!({"x": [{"y": 1}]}),
        ],
    );
    let absent = json!({"x": [{"exists": false}]});
    matches_all(
        &absent,
        &[json!({}), json!({"x": {"y": 1}}), json!({"x": []})],
    );
    matches_none(&absent, &[json!({"x": null}), json!({"x": [1]})]);
    // Absent or a given value.
    let either = json!({"x": [{"exists": false}, "v"]});
    matches_all(&either, &[json!({}), json!({"x": "v"})]);
    matches_none(&either, &[json!({"x": "w"})]);
    // A missing parent leaves the child absent.
    matches_all(
        &json!({"a": {"b": [{"exists": false}]}}),
        &[json!({}), json!({"a": 1}), json!({"a": []})],
    );
    matches_none(
        &json!({"a": {"b": [{"exists": true}]}}),
        &[json!({}), json!({"a": 1})],
    );
}

// Arrays of objects are matched element by element: the fields of one nested pattern
// object must come from one element (event-ruler README, "JSON Array Matching"; and its
// correctness cases "exists-false: absent / present").
#[test]
fn arrays_of_objects_match_one_element_at_a_time() {
    let employees = json!({
        "employees": [
            {"firstName": "John", "lastName": "Doe"},
            {"firstName": "Anna", "lastName": "Smith"},
            {"firstName": "Peter", "lastName": "Jones"}
        ]
    });
    matches_all(
        &json!({"employees": {"firstName": ["Anna"]}}),
        std::slice::from_ref(&employees),
    );
    matches_all(
        &json!({"employees": {"firstName": ["Anna"], "lastName": ["Smith"]}}),
        std::slice::from_ref(&employees),
    );
    matches_none(
        &json!({"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}}),
        &[employees],
    );
    let nested = json!({
        "employees": [
            [{"firstName": "John", "lastName": "Doe"}, {"firstName": "Anna", "lastName": "Smith"}],
            [{"firstName": "Peter", "lastName": "Jones"}]
        ]
    });
    matches_all(
        &json!({"employees": {"firstName": ["Peter"]}}),
        std::slice::from_ref(&nested),
    );
    matches_none(
        &json!({"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}}),
        &[nested],
    );

    let p = json!({"d": {"a": [{"exists": true}], "b": [{"exists": false}]}});
    matches_all(
        &p,
        &[
            json!({"d": [{"a": 1}]}),
            json!({"d": [{"a": 1, "b": 2}, {"a": 3}]}),
        ],
    );
    matches_none(
        &p,
        &[
            json!({"d": [{"a": 1, "b": 2}]}),
            json!({"d": [{"a": 1, "b": 2}, {"b": 3}]}),
        ],
    );
}

// $or expands into sub-patterns that keep the fields around them (event-ruler README,
// "The $or Primitive": normal, parallel, with an And inside, nested).
#[test]
fn or_combinations() {
    let normal = json!({
        "source": ["aws.cloudwatch"],
        "$or": [{"metricName": ["CPUUtilization", "ReadLatency"]}, {"namespace": ["AWS/EC2", "AWS/ES"]}]
    });
    matches_all(
        &normal,
        &[
            json!({"source": "aws.cloudwatch", "metricName": "ReadLatency"}),
            json!({"source": "aws.cloudwatch", "namespace": "AWS/ES"}),
        ],
    );
    matches_none(
        &normal,
        &[
            json!({"source": "aws.ec2", "metricName": "ReadLatency"}),
            json!({"source": "aws.cloudwatch", "namespace": "AWS/S3"}),
        ],
    );
    let parallel = json!({
        "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}],
        "detail": {"$or": [{"source": ["aws.cloudwatch"]}, {"detail-type": ["CloudWatch Alarm State Change"]}]}
    });
    matches_all(
        &parallel,
        &[
            json!({"namespace": "AWS/EC2", "detail": {"detail-type": "CloudWatch Alarm State Change"}}),
        ],
    );
    matches_none(
        &parallel,
        &[json!({"namespace": "AWS/EC2", "detail": {"source": "aws.ec2"}})],
    );
    let nested = json!({
        "source": ["aws.cloudwatch"],
        "$or": [
            {"metricName": ["CPUUtilization"]},
            {"metricType": ["MetricType"], "namespace": ["AWS/EC2"], "$or": [{"metricId": [1234]}, {"spaceId": [1000]}]},
            {"scope": ["Service"]}
        ]
    });
    matches_all(
        &nested,
        &[
            json!({"source": "aws.cloudwatch", "metricType": "MetricType", "namespace": "AWS/EC2", "spaceId": 1000}),
            json!({"source": "aws.cloudwatch", "scope": "Service"}),
        ],
    );
    matches_none(
        &nested,
        &[
            json!({"source": "aws.cloudwatch", "metricType": "MetricType", "namespace": "AWS/EC2", "spaceId": 1}),
        ],
    );
}

// The fields an $or alternative adds under a key join that key's other fields: in an
// array of objects they must all come from the same element, as in EventBridge (which
// compiles each alternative into one sub-rule with the fields around it).
#[test]
fn or_alternatives_share_array_elements_with_their_surroundings() {
    let p = json!({"a": {"x": [1]}, "$or": [{"a": {"y": [2]}}, {"b": ["z"]}]});
    matches_all(
        &p,
        &[
            json!({"a": [{"x": 1, "y": 2}]}),
            json!({"a": [{"x": 1}], "b": "z"}),
        ],
    );
    matches_none(&p, &[json!({"a": [{"x": 1}, {"y": 2}]})]);
    // One alternative may give a key values, another nested fields.
    let both = json!({"$or": [{"a": ["v"]}, {"a": {"b": ["w"]}}]});
    matches_all(
        &both,
        &[
            json!({"a": "v"}),
            json!({"a": {"b": "w"}}),
            json!({"a": ["v", {"b": "x"}]}),
        ],
    );
    matches_none(&both, &[json!({"a": "u"}), json!({"a": {"b": "u"}})]);
}

// Case-insensitive comparison follows each character's lower and upper case, which may
// differ in length.
#[test]
fn ignore_case_handles_unicode() {
    let p = json!({"street": [{"equals-ignore-case": "straße"}]});
    matches_all(
        &p,
        &[json!({"street": "STRASSE"}), json!({"street": "Straße"})],
    );
    matches_none(
        &p,
        &[json!({"street": "strasse "}), json!({"street": "STRAS"})],
    );
    matches_all(
        &json!({"s": [{"prefix": {"equals-ignore-case": "ÉT"}}]}),
        &[json!({"s": "été"})],
    );
    matches_all(
        &json!({"s": [{"suffix": {"equals-ignore-case": "ß"}}]}),
        &[json!({"s": "GROSS"})],
    );
    matches_none(
        &json!({"s": [{"suffix": {"equals-ignore-case": "ß"}}]}),
        &[json!({"s": "S"})],
    );
}

// Wildcards: `*` matches any run (also empty), `\*` a star, `\\` a backslash.
#[test]
fn wildcards() {
    let p = json!({"arn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]});
    matches_all(
        &p,
        &[json!({"arn": "arn:aws:events:us-east-1:123456789012:event-bus/default"})],
    );
    matches_none(
        &p,
        &[json!({"arn": "arn:aws:events:us-west-2:123456789012:event-bus/default"})],
    );
    let star = json!({"x": [{"wildcard": "a\\*b"}]});
    matches_all(&star, &[json!({"x": "a*b"})]);
    matches_none(&star, &[json!({"x": "axb"}), json!({"x": "ab"})]);
    matches_all(
        &json!({"x": [{"wildcard": "c:\\\\*"}]}),
        &[json!({"x": "c:\\dir"})],
    );
    let overlap = json!({"x": [{"wildcard": "ab*ba"}]});
    matches_all(&overlap, &[json!({"x": "abba"}), json!({"x": "abxba"})]);
    matches_none(&overlap, &[json!({"x": "aba"}), json!({"x": "ab"})]);
    let parts = json!({"x": [{"wildcard": "*a*b*c*"}]});
    matches_all(
        &parts,
        &[
            json!({"x": "abc"}),
            json!({"x": "xaxxbxcx"}),
            json!({"x": "aabbcc"}),
        ],
    );
    matches_none(&parts, &[json!({"x": "acb"}), json!({"x": "cba"})]);
    matches_all(
        &json!({"x": [{"wildcard": "é*ü"}]}),
        &[json!({"x": "éü"}), json!({"x": "é-ü"})],
    );
}

// Keys are names: a dot in a key is part of it. Patterns reach into nested arrays.
#[test]
fn keys_and_nested_arrays() {
    matches_all(&json!({"a.b": ["x"]}), &[json!({"a.b": "x"})]);
    matches_none(&json!({"a.b": ["x"]}), &[json!({"a": {"b": "x"}})]);
    matches_all(&json!({"x": [3]}), &[json!({"x": [[1, [2, [3]]]]})]);
}

// Whatever the event, matching returns an answer and never panics.
#[test]
fn any_event_is_answered() {
    let p = pattern(&json!({
        "a": [{"exists": false}],
        "b": {"c": [{"anything-but": "x"}, {"numeric": [">", 1]}, {"cidr": "10.0.0.0/8"}]},
        "$or": [{"d": [{"wildcard": "*x*"}]}, {"e": [{"exists": false}]}]
    }));
    for event in [
        json!(null),
        json!(1),
        json!("b"),
        json!([{"b": {"c": "y"}}]),
        json!({}),
        json!({"b": null}),
        json!({"b": [[[]]]}),
        json!({"b": {"c": [null, [], {}, [[2]]]}}),
        json!({"b": {"c": "10.1.2.3"}, "d": ["x", 1]}),
        json!({"b": {"c": 1.5e308}, "e": {"f": 1}}),
    ] {
        let _ = p.matches(&event);
    }
    assert!(!p.matches(&json!(null)));
    assert!(!p.matches(&json!([{"b": {"c": "y"}}])));
    assert!(p.matches(&json!({"b": {"c": "y"}})));
    // Arrays nested deeper than serde_json parses (128 levels) are not followed.
    let mut deep = json!(["y"]);
    for _ in 0..1_000 {
        deep = json!([deep]);
    }
    assert!(!p.matches(&json!({"b": {"c": deep}})));
}
