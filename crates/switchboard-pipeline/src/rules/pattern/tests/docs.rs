//! Test vectors from the Amazon EventBridge User Guide: each group names its page, uses
//! the page's patterns and events (the "matches" and "does not match" cases), and adds
//! the obvious counter-example where the page gives only a matching event.

use serde_json::json;

use super::{matches_all, matches_none};

/// The EC2 event of "Amazon EventBridge event patterns"
/// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html).
fn ec2_terminated() -> serde_json::Value {
    json!({
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2",
        "account": "111122223333",
        "time": "2017-12-22T18:43:48Z",
        "region": "us-west-1",
        "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
        "detail": {"instance-id": "i-1234567890abcdef0", "state": "terminated"}
    })
}

// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html
#[test]
fn event_patterns_page_ec2_termination() {
    let p = json!({
        "source": ["aws.ec2"],
        "detail-type": ["EC2 Instance State-change Notification"],
        "detail": {"state": ["terminated"]}
    });
    matches_all(&p, &[ec2_terminated()]);
    let mut running = ec2_terminated();
    running["detail"]["state"] = json!("running");
    let mut other_source = ec2_terminated();
    other_source["source"] = json!("aws.fargate");
    let mut no_detail = ec2_terminated();
    no_detail.as_object_mut().unwrap().remove("detail");
    matches_none(&p, &[running, other_source, no_detail]);
    // "Match values": any of the listed values.
    let either = json!({"source": ["aws.ec2", "aws.fargate"]});
    let mut fargate = ec2_terminated();
    fargate["source"] = json!("aws.fargate");
    matches_all(&either, &[ec2_terminated(), fargate]);
}

/// The Auto Scaling event of the "Field matching" example and of "Matching null values
/// and empty strings" (eb-event-patterns-null-values.html).
fn autoscaling_launch() -> serde_json::Value {
    json!({
        "version": "0",
        "id": "3e3c153a-8339-4e30-8c35-687ebef853fe",
        "detail-type": "EC2 Instance Launch Successful",
        "source": "aws.autoscaling",
        "account": "123456789012",
        "time": "2015-11-11T21:31:47Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"eventVersion": "", "responseElements": null}
    })
}

// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html (field
// matching) and https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-null-values.html
#[test]
fn null_values_and_empty_strings_page() {
    matches_all(
        &json!({
            "source": ["aws.autoscaling"],
            "detail-type": ["EC2 Instance Launch Successful"],
            "detail": {"responseElements": [null]}
        }),
        &[autoscaling_launch()],
    );
    matches_all(
        &json!({"detail": {"eventVersion": [""]}}),
        &[autoscaling_launch()],
    );
    matches_all(
        &json!({"detail": {"responseElements": [null]}}),
        &[autoscaling_launch()],
    );
    // "Null values and empty strings are not interchangeable in pattern matching."
    matches_none(
        &json!({"detail": {"responseElements": [""]}}),
        &[autoscaling_launch()],
    );
    matches_none(
        &json!({"detail": {"eventVersion": [null]}}),
        &[autoscaling_launch()],
    );
    // A missing field is neither null nor empty.
    matches_none(
        &json!({"detail": {"missing": [null]}}),
        &[autoscaling_launch()],
    );
    matches_none(
        &json!({"detail": {"missing": [""]}}),
        &[autoscaling_launch()],
    );
}

// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html (value
// matching, the Macie finding)
#[test]
fn event_patterns_page_macie_value_matching() {
    let finding = json!({
        "version": "0",
        "id": "0948ba87-d3b8-c6d4-f2da-732a1example",
        "detail-type": "Macie Finding",
        "source": "aws.macie",
        "account": "123456789012",
        "time": "2021-04-29T23:12:15Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "schemaVersion": "1.0",
            "id": "64b917aa-3843-014c-91d8-937ffexample",
            "type": "Policy:IAMUser/S3BucketEncryptionDisabled",
            "severity": {"score": 1, "description": "Low"},
            "createdAt": "2021-04-29T15:46:02Z",
            "count": 2
        }
    });
    let p = json!({
        "source": ["aws.macie"],
        "detail-type": ["Macie Finding"],
        "detail": {"severity": {"score": [1]}, "count": [2]}
    });
    matches_all(&p, std::slice::from_ref(&finding));
    let mut three = finding.clone();
    three["detail"]["count"] = json!(3);
    let mut as_string = finding;
    as_string["detail"]["severity"]["score"] = json!("1");
    matches_none(&p, &[three, as_string]);
}

// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-arrays.html
#[test]
fn arrays_page_intersection() {
    let p = json!({
        "resources": [
            "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
            "arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f",
            "arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f"
        ]
    });
    let event = json!({
        "resources": [
            "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b-bbf0-401d-b893-d5978ed4a025:autoScalingGroupName/ASGTerminate",
            "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"
        ]
    });
    matches_all(&p, &[event]);
    matches_none(
        &p,
        &[
            json!({"resources": ["arn:aws:ec2:us-east-1:999999999999:instance/i-b188560f"]}),
            json!({"resources": []}),
        ],
    );
}

// The content filtering page, CONTENT_FILTERING below, is
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html

// CONTENT_FILTERING: prefix matching, and prefix matching while ignoring case.
#[test]
fn content_filtering_prefix() {
    let p = json!({"time": [{"prefix": "2017-10-02"}]});
    matches_all(&p, &[json!({"time": "2017-10-02T18:43:48Z"})]);
    matches_none(
        &p,
        &[
            json!({"time": "2017-10-03T18:43:48Z"}),
            json!({"time": 20171002}),
            json!({}),
        ],
    );
    let p = json!({"detail": {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}});
    matches_all(
        &p,
        &[
            json!({"detail": {"service": "EventBridge"}}),
            json!({"detail": {"service": "EVENTBRIDGE"}}),
            json!({"detail": {"service": "eventb"}}),
        ],
    );
    matches_none(&p, &[json!({"detail": {"service": "Event Bus"}})]);
}

// CONTENT_FILTERING: suffix matching, and suffix matching while ignoring case.
#[test]
fn content_filtering_suffix() {
    let p = json!({"FileName": [{"suffix": ".png"}]});
    matches_all(&p, &[json!({"FileName": "image.png"})]);
    matches_none(
        &p,
        &[
            json!({"FileName": "image.jpg"}),
            json!({"FileName": "image.PNG"}),
        ],
    );
    let p = json!({"detail": {"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}});
    matches_all(
        &p,
        &[
            json!({"detail": {"FileName": "image.png"}}),
            json!({"detail": {"FileName": "IMAGE.PNG"}}),
            json!({"detail": {"FileName": "x.Png"}}),
        ],
    );
    matches_none(&p, &[json!({"detail": {"FileName": "image.png.txt"}})]);
}

// CONTENT_FILTERING: anything-but with a string, a number, lists of each, a prefix, a
// suffix, equals-ignore-case and a wildcard (the last three also in the comparison
// operators table, eb-create-pattern-operators.html).
#[test]
fn content_filtering_anything_but() {
    let p = json!({"detail": {"state": [{"anything-but": "initializing"}]}});
    matches_all(&p, &[json!({"detail": {"state": "running"}})]);
    matches_none(&p, &[json!({"detail": {"state": "initializing"}})]);

    let p = json!({"detail": {"x-limit": [{"anything-but": 123}]}});
    matches_all(&p, &[json!({"detail": {"x-limit": 124}})]);
    matches_none(
        &p,
        &[
            json!({"detail": {"x-limit": 123}}),
            json!({"detail": {"x-limit": 123.0}}),
        ],
    );

    let p = json!({"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}});
    matches_all(&p, &[json!({"detail": {"state": "running"}})]);
    matches_none(
        &p,
        &[
            json!({"detail": {"state": "stopped"}}),
            json!({"detail": {"state": "overloaded"}}),
        ],
    );

    let p = json!({"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}});
    matches_all(&p, &[json!({"detail": {"x-limit": 150}})]);
    matches_none(
        &p,
        &[
            json!({"detail": {"x-limit": 200}}),
            json!({"detail": {"x-limit": 3e2}}),
        ],
    );

    let p = json!({"detail": {"state": [{"anything-but": {"prefix": "init"}}]}});
    matches_all(&p, &[json!({"detail": {"state": "running"}})]);
    matches_none(&p, &[json!({"detail": {"state": "initializing"}})]);

    let p = json!({"FileName": [{"anything-but": {"suffix": ".png"}}]});
    matches_all(&p, &[json!({"FileName": "notes.txt"})]);
    matches_none(&p, &[json!({"FileName": "image.png"})]);

    let p = json!({"state": [{"anything-but": {"equals-ignore-case": "initializing"}}]});
    matches_all(&p, &[json!({"state": "running"})]);
    matches_none(
        &p,
        &[
            json!({"state": "INITIALIZING"}),
            json!({"state": "Initializing"}),
        ],
    );

    let p = json!({"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]});
    matches_all(&p, &[json!({"FilePath": "/usr/bin/tool"})]);
    matches_none(&p, &[json!({"FilePath": "/usr/lib/libc.so"})]);
}

// CONTENT_FILTERING: numeric matching (event values from the engine's README, whose
// example event these patterns were written for).
#[test]
fn content_filtering_numeric() {
    let p = json!({
        "detail": {
            "c-count": [{"numeric": [">", 0, "<=", 5]}],
            "d-count": [{"numeric": ["<", 10]}],
            "x-limit": [{"numeric": ["=", 3.018e2]}]
        }
    });
    let event = json!({"detail": {"c-count": 5, "d-count": 3, "x-limit": 301.8}});
    matches_all(&p, std::slice::from_ref(&event));
    let mut c_zero = event.clone();
    c_zero["detail"]["c-count"] = json!(0);
    let mut d_ten = event.clone();
    d_ten["detail"]["d-count"] = json!(10);
    let mut x_other = event.clone();
    x_other["detail"]["x-limit"] = json!(301.81);
    let mut c_string = event;
    c_string["detail"]["c-count"] = json!("5");
    matches_none(&p, &[c_zero, d_ten, x_other, c_string]);
}

// CONTENT_FILTERING: IP address matching ("This also works with IPv6 addresses").
#[test]
fn content_filtering_ip_address() {
    let p = json!({"detail": {"sourceIPAddress": [{"cidr": "10.0.0.0/24"}]}});
    matches_all(
        &p,
        &[
            json!({"detail": {"sourceIPAddress": "10.0.0.0"}}),
            json!({"detail": {"sourceIPAddress": "10.0.0.33"}}),
            json!({"detail": {"sourceIPAddress": "10.0.0.255"}}),
        ],
    );
    matches_none(
        &p,
        &[
            json!({"detail": {"sourceIPAddress": "10.0.1.0"}}),
            json!({"detail": {"sourceIPAddress": "9.255.255.255"}}),
            json!({"detail": {"sourceIPAddress": "not an address"}}),
            json!({"detail": {"sourceIPAddress": "::ffff:10.0.0.1x"}}),
        ],
    );
    let p = json!({"detail": {"sourceIPAddress": [{"cidr": "2001:db8::/32"}]}});
    matches_all(
        &p,
        &[json!({"detail": {"sourceIPAddress": "2001:DB8:0:0:0:0:0:1"}})],
    );
    matches_none(
        &p,
        &[
            json!({"detail": {"sourceIPAddress": "2001:db9::1"}}),
            json!({"detail": {"sourceIPAddress": "10.0.0.1"}}),
        ],
    );
}

// CONTENT_FILTERING: exists matching, with the page's matching and non-matching events.
#[test]
fn content_filtering_exists() {
    let p = json!({"detail": {"state": [{"exists": true}]}});
    let pending = json!({
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2",
        "account": "123456789012",
        "time": "2015-11-11T21:29:54Z",
        "region": "us-east-1",
        "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
        "detail": {"instance-id": "i-abcd1111", "state": "pending"}
    });
    let no_state = json!({
        "detail-type": ["EC2 Instance State-change Notification"],
        "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-02ebd4584a2ebd341"],
        "detail": {"c-count": {"c1": 100}}
    });
    matches_all(&p, std::slice::from_ref(&pending));
    matches_none(&p, std::slice::from_ref(&no_state));
    let absent = json!({"detail": {"state": [{"exists": false}]}});
    matches_all(&absent, std::slice::from_ref(&no_state));
    matches_none(&absent, &[pending]);
    // "Exists matching only works on leaf nodes": an object-valued field has no value.
    matches_none(
        &json!({"detail": {"c-count": [{"exists": true}]}}),
        std::slice::from_ref(&no_state),
    );
    matches_all(
        &json!({"detail": {"c-count": [{"exists": false}]}}),
        &[no_state],
    );
}

// CONTENT_FILTERING: equals-ignore-case matching, with the page's event (whose
// detail-type is an array: a value in it matches).
#[test]
fn content_filtering_equals_ignore_case() {
    let p =
        json!({"detail-type": [{"equals-ignore-case": "ec2 instance state-change notification"}]});
    let event = json!({
        "detail-type": ["EC2 Instance State-change Notification"],
        "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-02ebd4584a2ebd341"],
        "detail": {"c-count": {"c1": 100}}
    });
    matches_all(&p, &[event, ec2_terminated()]);
    matches_none(
        &p,
        &[json!({"detail-type": "EC2 Instance State-change Notification!"})],
    );
}

// CONTENT_FILTERING: the complex example combining prefix, anything-but and numeric.
#[test]
fn content_filtering_complex_example() {
    let p = json!({
        "time": [{"prefix": "2017-10-02"}],
        "detail": {
            "state": [{"anything-but": "initializing"}],
            "c-count": [{"numeric": [">", 0, "<=", 5]}],
            "d-count": [{"numeric": ["<", 10]}],
            "x-limit": [{"anything-but": [100, 200, 300]}]
        }
    });
    let event = json!({
        "time": "2017-10-02T16:24:49Z",
        "detail": {"c-count": 5, "d-count": 3, "x-limit": 301.8, "state": "running"}
    });
    matches_all(&p, std::slice::from_ref(&event));
    let mut initializing = event.clone();
    initializing["detail"]["state"] = json!("initializing");
    let mut limit = event;
    limit["detail"]["x-limit"] = json!(200);
    matches_none(&p, &[initializing, limit]);
}

// CONTENT_FILTERING: the complex example with $or.
#[test]
fn content_filtering_or_example() {
    let p = json!({
        "detail": {
            "$or": [
                {"c-count": [{"numeric": [">", 0, "<=", 5]}]},
                {"d-count": [{"numeric": ["<", 10]}]},
                {"x-limit": [{"numeric": ["=", 3.018e2]}]}
            ]
        }
    });
    matches_all(
        &p,
        &[
            json!({"detail": {"c-count": 3}}),
            json!({"detail": {"d-count": 9}}),
            json!({"detail": {"x-limit": 301.8}}),
            json!({"detail": {"c-count": 0, "d-count": 5}}),
        ],
    );
    matches_none(
        &p,
        &[
            json!({"detail": {"c-count": 6, "d-count": 10, "x-limit": 300}}),
            json!({"detail": {}}),
        ],
    );
}

// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html:
// the rule syntax of every row of the comparison operators table.
#[test]
fn comparison_operators_table() {
    let and = json!({"Location": ["New York"], "Day": ["Monday"]});
    matches_all(&and, &[json!({"Location": "New York", "Day": "Monday"})]);
    matches_none(&and, &[json!({"Location": "New York", "Day": "Tuesday"})]);

    let empty = json!({"LastName": [""]});
    matches_all(&empty, &[json!({"LastName": ""})]);
    matches_none(
        &empty,
        &[json!({"LastName": "Doe"}), json!({"LastName": null})],
    );

    matches_all(&json!({"Name": ["Alice"]}), &[json!({"Name": "Alice"})]);
    matches_none(&json!({"Name": ["Alice"]}), &[json!({"Name": "alice"})]);

    let ignore_case = json!({"Name": [{"equals-ignore-case": "alice"}]});
    matches_all(
        &ignore_case,
        &[json!({"Name": "Alice"}), json!({"Name": "ALICE"})],
    );
    matches_none(&ignore_case, &[json!({"Name": "Alicia"})]);

    matches_all(&json!({"UserID": [null]}), &[json!({"UserID": null})]);
    matches_none(
        &json!({"UserID": [null]}),
        &[json!({}), json!({"UserID": "u1"})],
    );

    let price = json!({"Price": [{"numeric": ["=", 100]}]});
    matches_all(&price, &[json!({"Price": 100}), json!({"Price": 100.0})]);
    matches_none(&price, &[json!({"Price": 100.5}), json!({"Price": "100"})]);

    let range = json!({"Price": [{"numeric": [">", 10, "<=", 20]}]});
    matches_all(&range, &[json!({"Price": 10.01}), json!({"Price": 20})]);
    matches_none(&range, &[json!({"Price": 10}), json!({"Price": 20.01})]);

    let or = json!({"PaymentType": ["Credit", "Debit"]});
    matches_all(
        &or,
        &[
            json!({"PaymentType": "Credit"}),
            json!({"PaymentType": "Debit"}),
        ],
    );
    matches_none(&or, &[json!({"PaymentType": "Cash"})]);

    let or_fields = json!({"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]});
    matches_all(
        &or_fields,
        &[
            json!({"Location": "New York", "Day": "Sunday"}),
            json!({"Day": "Monday"}),
        ],
    );
    matches_none(
        &or_fields,
        &[json!({"Location": "Boston", "Day": "Sunday"})],
    );

    let not = json!({"Weather": [{"anything-but": ["Raining"]}]});
    matches_all(&not, &[json!({"Weather": "Sunny"})]);
    matches_none(&not, &[json!({"Weather": "Raining"}), json!({})]);

    let exists = json!({"ProductName": [{"exists": true}]});
    matches_all(&exists, &[json!({"ProductName": "Widget"})]);
    matches_none(&exists, &[json!({})]);
    let missing = json!({"ProductName": [{"exists": false}]});
    matches_all(&missing, &[json!({})]);
    matches_none(&missing, &[json!({"ProductName": "Widget"})]);

    let us = json!({"Region": [{"prefix": "us-"}]});
    matches_all(&us, &[json!({"Region": "us-east-1"})]);
    matches_none(&us, &[json!({"Region": "eu-west-1"})]);
    let not_us = json!({"Region": [{"anything-but": {"prefix": "us-"}}]});
    matches_all(&not_us, &[json!({"Region": "eu-west-1"})]);
    matches_none(&not_us, &[json!({"Region": "us-east-1"})]);

    let service = json!({"service": [{"suffix": {"equals-ignore-case": "tBridge"}}]});
    matches_all(
        &service,
        &[
            json!({"service": "EventBridge"}),
            json!({"service": "EVENTBRIDGE"}),
        ],
    );
    matches_none(&service, &[json!({"service": "EventBus"})]);

    // Wildcard: "Any file with a .png extension, located within the folder dir".
    let wildcard = json!({"FileName": [{"wildcard": "dir/*.png"}]});
    matches_all(
        &wildcard,
        &[
            json!({"FileName": "dir/image.png"}),
            json!({"FileName": "dir/.png"}),
            json!({"FileName": "dir/sub/image.png"}),
        ],
    );
    matches_none(
        &wildcard,
        &[
            json!({"FileName": "other/image.png"}),
            json!({"FileName": "dir/image.jpg"}),
            json!({"FileName": "dir/image.png.bak"}),
        ],
    );
}
