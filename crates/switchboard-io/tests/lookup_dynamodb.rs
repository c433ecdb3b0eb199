//! The DynamoDB lookup against two real implementations of DynamoDB's API: dynalite
//! (`SWITCHBOARD_TEST_DYNALITE_URL`, strict about request shapes and limits) and moto
//! (`SWITCHBOARD_TEST_MOTO_URL`). Both refuse a BatchGetItem of more than 100 keys, so a
//! lookup of 280 keys passing shows the requests are split.
//!
//! Neither server ever leaves keys unprocessed or throttles, so those paths run against
//! a small fake at the end of this file: an HTTP server answering BatchGetItem in
//! DynamoDB's JSON protocol (the shapes of botocore's `dynamodb/2012-08-10` model), and
//! nothing else. It is a fake, and says so here.
//!
//! A test whose server variable is missing fails when `SWITCHBOARD_REQUIRE_SERVERS=1` or
//! `CI` is set, and is skipped with a note otherwise (`bash scripts/test.sh` starts the
//! servers and sets the variables).

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType as SchemaKeyType,
    PutRequest, ScalarAttributeType, TableStatus, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use serde_json::{json, Value};
use switchboard_io::lookups::config::LookupConfig;
use switchboard_io::lookups::dynamodb::{
    DynamoDbLookup, DynamoDbLookupConfig, KeyType, KEYS_PER_REQUEST, MAX_ATTEMPTS,
};
use switchboard_io::lookups::Lookup;

use support::{aws_at, server_url, unique_name};

async fn client(url: &str) -> Client {
    Client::new(&aws_at(url).load().await)
}

/// Creates a table keyed by `key` of `key_type` and waits until it is ACTIVE.
async fn create_table(client: &Client, table: &str, key: &str, key_type: ScalarAttributeType) {
    client
        .create_table()
        .table_name(table)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(key)
                .attribute_type(key_type)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(key)
                .key_type(SchemaKeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("CreateTable");
    for _ in 0..200 {
        let described = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .expect("DescribeTable");
        if described.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("table {table} did not become ACTIVE");
}

async fn put_all(client: &Client, table: &str, items: Vec<HashMap<String, AttributeValue>>) {
    for chunk in items.chunks(25) {
        let mut writes: Vec<WriteRequest> = chunk
            .iter()
            .map(|item| {
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(item.clone()))
                            .build()
                            .unwrap(),
                    )
                    .build()
            })
            .collect();
        while !writes.is_empty() {
            let out = client
                .batch_write_item()
                .request_items(table, writes)
                .send()
                .await
                .expect("BatchWriteItem");
            writes = out
                .unprocessed_items
                .and_then(|mut u| u.remove(table))
                .unwrap_or_default();
        }
    }
}

fn phone(i: usize) -> String {
    format!("+1555000{i:04}")
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: &str) -> AttributeValue {
    AttributeValue::N(v.into())
}

/// Customer `i`: every attribute type the lookup converts.
fn customer(i: usize) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("phone".into(), s(&phone(i))),
        ("company".into(), s(&format!("Company {i}"))),
        ("tier".into(), n(&(i % 3).to_string())),
        ("vip".into(), AttributeValue::Bool(i & 1 == 0)),
        ("note".into(), AttributeValue::Null(true)),
        (
            "address".into(),
            AttributeValue::M(HashMap::from([
                ("city".into(), s("Oslo")),
                ("floor".into(), n("3")),
            ])),
        ),
        (
            "history".into(),
            AttributeValue::L(vec![s("call"), n("1.5"), AttributeValue::Bool(false)]),
        ),
        ("account".into(), n("12345678901234567890123")),
        ("ratio".into(), n("0.25")),
        (
            "labels".into(),
            AttributeValue::Ss(vec!["gold".into(), "eu".into()]),
        ),
        (
            "scores".into(),
            AttributeValue::Ns(vec!["10".into(), "2.5".into()]),
        ),
    ])
}

/// Sets come back in any order: sort them for comparing.
fn sort_sets(mut value: Value) -> Value {
    for set in ["labels", "scores"] {
        if let Some(Value::Array(items)) = value.get_mut(set) {
            items.sort_by_key(|v| v.to_string());
        }
    }
    value
}

fn config(url: &str, table: &str) -> DynamoDbLookupConfig {
    DynamoDbLookupConfig {
        name: "customers".into(),
        table: table.into(),
        key_attribute: "phone".into(),
        key_type: KeyType::S,
        projection: None,
        consistent_read: false,
        timeout_ms: 30_000,
        cache: Default::default(),
        aws: aws_at(url),
    }
}

/// 250 customers, looked up with 30 unknown numbers through the built lookup (cache and
/// timeout included): every value converted, every unknown number a miss.
async fn customers_are_found_and_converted(url: &str) {
    let client = client(url).await;
    let table = unique_name("customers");
    create_table(&client, &table, "phone", ScalarAttributeType::S).await;
    put_all(&client, &table, (0..250).map(customer).collect()).await;

    let lookup = LookupConfig::Dynamodb(config(url, &table))
        .build()
        .await
        .expect("build");
    let mut keys: Vec<String> = (0..280).map(phone).collect();
    // No item can have these keys: misses, not a refused request.
    keys.push(String::new());
    keys.push("9".repeat(2049));
    let found = lookup.get_many(&keys).await.expect("lookup");
    assert_eq!(found.len(), 250);
    for i in 250..280 {
        assert!(
            !found.contains_key(&phone(i)),
            "{} is not in the table",
            phone(i)
        );
    }
    assert_eq!(
        sort_sets(found[&phone(7)].clone()),
        json!({
            "phone": phone(7),
            "company": "Company 7",
            "tier": 1,
            "vip": false,
            "note": null,
            "address": {"city": "Oslo", "floor": 3},
            "history": ["call", 1.5, false],
            "account": "12345678901234567890123",
            "ratio": 0.25,
            "labels": ["eu", "gold"],
            "scores": [10, 2.5],
        })
    );
    for i in 0..250 {
        assert_eq!(found[&phone(i)]["company"], json!(format!("Company {i}")));
    }
    // Again: all from the cache, same answer.
    let again = lookup.get_many(&keys).await.expect("cached lookup");
    assert_eq!(again, found);
}

/// A projection reads only the listed attributes; the key, added to match items, is
/// left out of the answer.
async fn projection_reads_only_what_is_asked(url: &str) {
    let client = client(url).await;
    let table = unique_name("customers-projected");
    create_table(&client, &table, "phone", ScalarAttributeType::S).await;
    put_all(&client, &table, (0..5).map(customer).collect()).await;
    let config = DynamoDbLookupConfig {
        projection: Some(vec!["company".into(), "tier".into()]),
        consistent_read: true,
        ..config(url, &table)
    };
    let lookup = DynamoDbLookup::new(&config).await.expect("client");
    let found = lookup
        .get_many(&[phone(2), phone(9)])
        .await
        .expect("lookup");
    assert_eq!(found.len(), 1);
    assert_eq!(found[&phone(2)], json!({"company": "Company 2", "tier": 2}));
}

/// A number key: `042` and `42.0` find the item `42`; a key that is not a number is a
/// miss, not an error.
async fn number_keys_match_by_value(url: &str) {
    let client = client(url).await;
    let table = unique_name("accounts");
    create_table(&client, &table, "id", ScalarAttributeType::N).await;
    let items = [("42", "Acme"), ("7", "Globex"), ("0.5", "Half")]
        .into_iter()
        .map(|(id, name)| HashMap::from([("id".into(), n(id)), ("name".into(), s(name))]))
        .collect();
    put_all(&client, &table, items).await;
    let config = DynamoDbLookupConfig {
        key_attribute: "id".into(),
        key_type: KeyType::N,
        ..config(url, &table)
    };
    let lookup = DynamoDbLookup::new(&config).await.expect("client");
    let keys: Vec<String> = ["42", "042", "42.0", "7", ".5", "abc", "99", "1e999"]
        .map(String::from)
        .to_vec();
    let found = lookup.get_many(&keys).await.expect("lookup");
    let mut hits: Vec<&str> = found.keys().map(String::as_str).collect();
    hits.sort();
    assert_eq!(hits, [".5", "042", "42", "42.0", "7"]);
    assert_eq!(found["042"], json!({"id": 42, "name": "Acme"}));
    assert_eq!(found[".5"], json!({"id": 0.5, "name": "Half"}));
}

/// A table that does not exist: an error naming it, not worth retrying.
async fn a_missing_table_is_not_retryable(url: &str) {
    let table = unique_name("no-such-table");
    let lookup = DynamoDbLookup::new(&config(url, &table))
        .await
        .expect("client");
    let err = lookup
        .get_many(&[phone(1)])
        .await
        .expect_err("no such table");
    assert!(!err.retryable, "{err}");
    assert_eq!(err.lookup, "customers");
    assert!(err.reason.contains(&table), "{err}");
    assert!(err.reason.contains("does not exist"), "{err}");
}

/// A key attribute that is not the table's key: DynamoDB refuses the request, and that
/// is a config mistake, not worth retrying.
async fn a_wrong_key_attribute_is_not_retryable(url: &str) {
    let client = client(url).await;
    let table = unique_name("customers-wrong-key");
    create_table(&client, &table, "phone", ScalarAttributeType::S).await;
    let config = DynamoDbLookupConfig {
        key_attribute: "number".into(),
        ..config(url, &table)
    };
    let lookup = DynamoDbLookup::new(&config).await.expect("client");
    let err = lookup.get_many(&[phone(1)]).await.expect_err("wrong key");
    assert!(!err.retryable, "{err}");
    assert!(err.reason.contains("ValidationException"), "{err}");
}

/// DynamoDB unreachable: retryable.
async fn an_unreachable_endpoint_is_retryable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let lookup = DynamoDbLookup::new(&config(&url, "customers"))
        .await
        .expect("client");
    let err = lookup
        .get_many(&[phone(1)])
        .await
        .expect_err("nothing listens");
    assert!(err.retryable, "{err}");
}

macro_rules! against {
    ($server:ident, $var:literal) => {
        mod $server {
            use super::*;

            fn url() -> Option<String> {
                server_url($var)
            }

            #[tokio::test]
            async fn customers_are_found_and_converted() {
                if let Some(url) = url() {
                    super::customers_are_found_and_converted(&url).await;
                }
            }

            #[tokio::test]
            async fn projection_reads_only_what_is_asked() {
                if let Some(url) = url() {
                    super::projection_reads_only_what_is_asked(&url).await;
                }
            }

            #[tokio::test]
            async fn number_keys_match_by_value() {
                if let Some(url) = url() {
                    super::number_keys_match_by_value(&url).await;
                }
            }

            #[tokio::test]
            async fn a_missing_table_is_not_retryable() {
                if let Some(url) = url() {
                    super::a_missing_table_is_not_retryable(&url).await;
                }
            }

            #[tokio::test]
            async fn a_wrong_key_attribute_is_not_retryable() {
                if let Some(url) = url() {
                    super::a_wrong_key_attribute_is_not_retryable(&url).await;
                }
            }
        }
    };
}

against!(dynalite, "SWITCHBOARD_TEST_DYNALITE_URL");
against!(moto, "SWITCHBOARD_TEST_MOTO_URL");

#[tokio::test]
async fn unreachable_dynamodb_is_retryable() {
    an_unreachable_endpoint_is_retryable().await;
}

// ---------------------------------------------------------------------------------------
// A fake BatchGetItem, for what the real servers never do

/// What the fake received: the keys of each request.
type Requests = Arc<Mutex<Vec<Vec<String>>>>;

/// Serves BatchGetItem on a free port: `answer` gets the request's index and its keys
/// (the `phone` values) and returns the HTTP status and JSON body. Returns the URL and
/// the log of requests.
async fn fake_dynamodb(
    answer: impl Fn(usize, &[String]) -> (u16, Value) + Send + Sync + 'static,
) -> (String, Requests) {
    let requests: Requests = Arc::default();
    let answer = Arc::new(answer);
    let log = Arc::clone(&requests);
    let router = axum::Router::new().route(
        "/",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let (answer, log) = (Arc::clone(&answer), Arc::clone(&log));
                async move {
                    let target = headers
                        .get("x-amz-target")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    assert_eq!(target, "DynamoDB_20120810.BatchGetItem");
                    let request: Value = serde_json::from_slice(&body).unwrap();
                    let items = request["RequestItems"].as_object().unwrap();
                    assert_eq!(items.len(), 1, "one table per request");
                    let keys: Vec<String> = items.values().next().unwrap()["Keys"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|k| k["phone"]["S"].as_str().unwrap().to_owned())
                        .collect();
                    let index = {
                        let mut log = log.lock().unwrap();
                        log.push(keys.clone());
                        log.len() - 1
                    };
                    let (status, body) = answer(index, &keys);
                    axum::response::Response::builder()
                        .status(status)
                        .header("content-type", "application/x-amz-json-1.0")
                        .body(axum::body::Body::from(body.to_string()))
                        .unwrap()
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, requests)
}

/// A lookup of table `customers` at `url`, the SDK's own retries off (so what is
/// retried is the lookup's doing).
async fn fake_lookup(url: &str) -> DynamoDbLookup {
    let sdk = aws_at(url).load().await;
    let client = Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
            .build(),
    );
    DynamoDbLookup::with_client(&config(url, "customers"), client)
}

fn items(keys: &[String]) -> Value {
    Value::Array(
        keys.iter()
            .map(|k| json!({"phone": {"S": k}, "company": {"S": format!("Company of {k}")}}))
            .collect(),
    )
}

fn unprocessed(keys: &[String]) -> Value {
    let keys: Vec<Value> = keys.iter().map(|k| json!({"phone": {"S": k}})).collect();
    json!({"customers": {"Keys": keys}})
}

#[tokio::test]
async fn unprocessed_keys_are_asked_again_until_answered() {
    // Each request answers its first half and leaves the rest unprocessed; a request of
    // one key is answered.
    let (url, requests) = fake_dynamodb(|_, keys| {
        let half = keys.len().div_ceil(2);
        let (now, later) = keys.split_at(half);
        (
            200,
            json!({"Responses": {"customers": items(now)}, "UnprocessedKeys": unprocessed(later)}),
        )
    })
    .await;
    let lookup = fake_lookup(&url).await;
    let keys: Vec<String> = (0..150).map(phone).collect();
    let found = lookup.get_many(&keys).await.expect("lookup");
    assert_eq!(found.len(), 150);
    assert_eq!(
        found[&phone(149)]["company"],
        json!(format!("Company of {}", phone(149)))
    );
    let requests = requests.lock().unwrap().clone();
    assert!(requests.iter().all(|r| r.len() <= KEYS_PER_REQUEST));
    // The two chunks go out first, together; retries follow their answers.
    let mut first: Vec<usize> = requests[..2].iter().map(Vec::len).collect();
    first.sort();
    assert_eq!(first, [50, 100], "150 keys go out as two requests");
    let asked: usize = requests.iter().map(Vec::len).sum();
    assert!(asked > 150, "unprocessed keys were asked again");
}

#[tokio::test]
async fn keys_never_processed_fail_as_retryable_after_the_last_attempt() {
    let (url, requests) = fake_dynamodb(|_, keys| {
        (
            200,
            json!({"Responses": {"customers": []}, "UnprocessedKeys": unprocessed(keys)}),
        )
    })
    .await;
    let lookup = fake_lookup(&url).await;
    let err = lookup
        .get_many(&[phone(1), phone(2)])
        .await
        .expect_err("never processed");
    assert!(err.retryable, "{err}");
    assert!(
        err.reason.contains("2 of 2 keys still unprocessed"),
        "{err}"
    );
    assert_eq!(requests.lock().unwrap().len(), MAX_ATTEMPTS as usize);
}

#[tokio::test]
async fn throttling_and_server_errors_are_retryable_and_bad_requests_are_not() {
    for (kind, status, retryable) in [
        ("ProvisionedThroughputExceededException", 400, true),
        ("ThrottlingException", 400, true),
        ("RequestLimitExceeded", 400, true),
        ("InternalServerError", 500, true),
        ("ServiceUnavailable", 503, true),
        ("AccessDeniedException", 400, false),
    ] {
        let (url, _) = fake_dynamodb(move |_, _| {
            (
                status,
                json!({"__type": format!("com.amazonaws.dynamodb.v20120810#{kind}"),
                       "message": "from the fake"}),
            )
        })
        .await;
        let err = fake_lookup(&url)
            .await
            .get_many(&[phone(1)])
            .await
            .expect_err(kind);
        assert_eq!(err.retryable, retryable, "{kind}: {err}");
        assert!(err.reason.contains("from the fake"), "{kind}: {err}");
    }
}
