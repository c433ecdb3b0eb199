//! The endpoint in process (the router called directly), against a stand-in pipeline
//! that acknowledges, fails or holds deliveries as each test needs. The same cases over
//! real TCP, and moto's Firehose, are in `tests/firehose_http.rs`.

use std::io::Write;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use switchboard_model::envelope::encode_base64;
use switchboard_model::RecordKind;
use tokio::sync::watch;
use tower::ServiceExt;

use super::*;
use crate::delivery::{self, AckError, Delivery, DeliveryReceiver};
use crate::sources::http::tests_support::{next, sample};

const KEY: &str = "firehose-test-key";

struct Harness {
    router: Router,
    deliveries: DeliveryReceiver,
    stop: watch::Sender<bool>,
}

fn harness(config: FirehoseHttpConfig) -> Harness {
    let (tx, deliveries) = delivery::channel(8);
    let (stop, shutdown) = watch::channel(false);
    let router = config.router(SourceContext::new(tx, shutdown)).unwrap();
    Harness {
        router,
        deliveries,
        stop,
    }
}

fn keyed() -> FirehoseHttpConfig {
    FirehoseHttpConfig {
        access_key: Some(Secret(KEY.into())),
        ..FirehoseHttpConfig::default()
    }
}

fn request(id: &str) -> axum::http::request::Builder {
    Request::post("/firehose")
        .header("content-type", "application/json")
        .header(REQUEST_ID_HEADER, id)
        .header(ACCESS_KEY_HEADER, KEY)
        .header(PROTOCOL_VERSION_HEADER, "1.0")
        .header(
            SOURCE_ARN_HEADER,
            "arn:aws:firehose:us-east-1:123456789012:deliverystream/ctr",
        )
}

fn post(id: &str, body: Vec<u8>) -> Request<Body> {
    request(id).body(Body::from(body)).unwrap()
}

fn body_of(id: &str, payloads: &[&[u8]]) -> Vec<u8> {
    let records: Vec<Value> = payloads
        .iter()
        .map(|p| json!({ "data": encode_base64(p) }))
        .collect();
    serde_json::to_vec(&json!({"requestId": id, "timestamp": 1578090901599i64, "records": records}))
        .unwrap()
}

async fn call(router: &Router, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, headers, serde_json::from_slice(&bytes).unwrap())
}

fn ctr() -> Vec<u8> {
    std::fs::read(sample("ctr-voice-inbound-2022.json")).unwrap()
}

/// Acknowledges the next delivery as stored, and returns it.
async fn ack_next(h: &mut Harness) -> Delivery {
    let mut d = next(&mut h.deliveries).await;
    d.ack
        .take()
        .expect("deliveries are acknowledged")
        .send(Ok(()));
    d
}

#[tokio::test]
async fn published_sample_request_answers_the_exact_response() {
    let mut h = harness(keyed());
    let body = std::fs::read(sample("firehose-http-endpoint-request.json")).unwrap();
    let id = "ed4acda5-034f-9f42-bba1-f29aea6d7d8f";
    let call = tokio::spawn({
        let router = h.router.clone();
        async move { call(&router, post(id, body)).await }
    });
    let d = ack_next(&mut h).await;
    let (status, headers, json) = call.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(json["requestId"], id);
    assert!(json["timestamp"].is_i64(), "integer ms timestamp: {json}");
    assert!(json["timestamp"].as_i64().unwrap() > 1_600_000_000_000);
    assert_eq!(
        json.as_object().unwrap().len(),
        2,
        "no errorMessage: {json}"
    );
    // "hello" and "hello world" are not Connect records: both go to the dead letters,
    // and the request still succeeds.
    assert_eq!(d.source, "firehose-http");
    assert_eq!(d.items.len(), 2);
    for (i, item) in d.items.iter().enumerate() {
        let e = item.as_ref().unwrap_err();
        assert_eq!(e.source.index, Some(i));
        assert_eq!(e.source.envelope, Some("firehose-http"));
        assert_eq!(e.source.record_id.as_deref(), Some(id));
        assert!(e.reason.contains("not JSON"), "{}", e.reason);
    }
    assert_eq!(d.items[0].as_ref().unwrap_err().raw, b"hello");
}

#[tokio::test]
async fn connect_records_decode_with_their_position() {
    let mut h = harness(keyed());
    let event = std::fs::read(sample("eventbridge-contact-disconnected.json")).unwrap();
    let body = body_of("r1", &[&ctr(), &event, b"", b"{\"x\":1}"]);
    let call = tokio::spawn({
        let router = h.router.clone();
        async move { call(&router, post("r1", body)).await }
    });
    let d = ack_next(&mut h).await;
    assert_eq!(call.await.unwrap().0, StatusCode::OK);
    let kinds: Vec<_> = d
        .items
        .iter()
        .map(|i| i.as_ref().map(|d| d.kind).map_err(|e| e.source.index))
        .collect();
    assert_eq!(
        kinds,
        vec![
            Ok(RecordKind::ContactRecord),
            Ok(RecordKind::ContactEvent),
            Err(Some(2)),
            Err(Some(3))
        ]
    );
    let first = d.items[0].as_ref().unwrap();
    assert_eq!(first.source.index, Some(0));
    assert_eq!(first.source.record_id.as_deref(), Some("r1"));
}

#[tokio::test]
async fn gzip_body_is_decoded() {
    let mut h = harness(keyed());
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&body_of("gz-1", &[&ctr()])).unwrap();
    let req = request("gz-1")
        .header("content-encoding", "gzip")
        .body(Body::from(gz.finish().unwrap()))
        .unwrap();
    let call = tokio::spawn({
        let router = h.router.clone();
        async move { call(&router, req).await }
    });
    let d = ack_next(&mut h).await;
    assert_eq!(call.await.unwrap().0, StatusCode::OK);
    assert_eq!(d.items.len(), 1);
    assert!(d.items[0].is_ok());
}

#[tokio::test]
async fn keys_are_checked() {
    let mut h = harness(keyed());
    let body = body_of("k", &[&ctr()]);
    let missing = Request::post("/firehose")
        .header(REQUEST_ID_HEADER, "k")
        .body(Body::from(body.clone()))
        .unwrap();
    let (status, _, json) = call(&h.router, missing).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(json["requestId"], "k");
    assert!(json["errorMessage"]
        .as_str()
        .unwrap()
        .contains("Access-Key"));

    let (mut parts, body) = post("k", body).into_parts();
    parts
        .headers
        .insert(ACCESS_KEY_HEADER, "firehose-test-kez".parse().unwrap());
    let (status, _, json) = call(&h.router, Request::from_parts(parts, body)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(json["errorMessage"], "invalid access key");
    assert!(h.deliveries.try_recv().is_err(), "nothing delivered");
}

#[tokio::test]
async fn oversized_bodies_get_413_plain_and_gzip() {
    let mut h = harness(FirehoseHttpConfig {
        max_body_bytes: 4096,
        ..keyed()
    });
    let big = body_of("big", &[&vec![b' '; 8000]]);
    let (status, _, json) = call(&h.router, post("big", big.clone())).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(json["requestId"], "big");
    assert!(json["timestamp"].is_i64());

    // Small on the wire, too large once decompressed.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&big).unwrap();
    let gz = gz.finish().unwrap();
    assert!(gz.len() < 4096);
    let req = request("big")
        .header("content-encoding", "gzip")
        .body(Body::from(gz))
        .unwrap();
    assert_eq!(call(&h.router, req).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(h.deliveries.try_recv().is_err());
}

#[tokio::test]
async fn bad_requests_get_4xx() {
    let mut h = harness(keyed());
    let (status, _, json) = call(&h.router, post("m", b"{\"requestId\": ".to_vec())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json["requestId"], "m", "the header's id is echoed");

    let req = Request::post("/firehose")
        .header(ACCESS_KEY_HEADER, KEY)
        .body(Body::from(body_of("", &[&ctr()])))
        .unwrap();
    let (status, _, json) = call(&h.router, req).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "an empty request id would collide"
    );
    assert!(json["errorMessage"].as_str().unwrap().contains("empty"));

    let (status, _, json) = call(&h.router, post("header-id", body_of("body-id", &[]))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(json["errorMessage"].as_str().unwrap().contains("differ"));

    let req = request("e")
        .header("content-encoding", "br")
        .body(Body::from(body_of("e", &[])))
        .unwrap();
    assert_eq!(
        call(&h.router, req).await.0,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );

    let (mut parts, body) = post("v", body_of("v", &[])).into_parts();
    parts
        .headers
        .insert(PROTOCOL_VERSION_HEADER, "2.0".parse().unwrap());
    let (status, _, _) = call(&h.router, Request::from_parts(parts, body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(h.deliveries.try_recv().is_err());
}

#[tokio::test]
async fn retry_after_success_is_not_applied_again() {
    let mut h = harness(keyed());
    let body = body_of("same", &[&ctr()]);
    let first = tokio::spawn({
        let (router, body) = (h.router.clone(), body.clone());
        async move { call(&router, post("same", body)).await }
    });
    ack_next(&mut h).await;
    assert_eq!(first.await.unwrap().0, StatusCode::OK);

    let (status, _, json) = call(&h.router, post("same", body)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["requestId"], "same");
    assert!(
        h.deliveries.try_recv().is_err(),
        "the retry delivered nothing"
    );
}

#[tokio::test]
async fn retry_while_in_flight_waits_for_the_first_attempt() {
    let mut h = harness(keyed());
    let body = body_of("busy", &[&ctr()]);
    let first = tokio::spawn({
        let (router, body) = (h.router.clone(), body.clone());
        async move { call(&router, post("busy", body)).await }
    });
    let mut d = next(&mut h.deliveries).await;
    let second = tokio::spawn({
        let router = h.router.clone();
        async move { call(&router, post("busy", body)).await }
    });
    // Both wait for the one delivery's commit.
    tokio::task::yield_now().await;
    assert!(!first.is_finished() && !second.is_finished());
    d.ack.take().unwrap().send(Ok(()));
    assert_eq!(first.await.unwrap().0, StatusCode::OK);
    assert_eq!(second.await.unwrap().0, StatusCode::OK);
    assert!(h.deliveries.try_recv().is_err(), "one delivery only");
}

#[tokio::test(start_paused = true)]
async fn slow_commit_gets_503_and_the_retry_waits_on_the_same_delivery() {
    let mut h = harness(FirehoseHttpConfig {
        ack_timeout_secs: 5,
        ..keyed()
    });
    let body = body_of("slow", &[&ctr()]);
    let first = tokio::spawn({
        let (router, body) = (h.router.clone(), body.clone());
        async move { call(&router, post("slow", body)).await }
    });
    let mut d = next(&mut h.deliveries).await;
    // Paused time jumps to the deadline once everything is idle.
    let (status, _, json) = first.await.unwrap();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(json["errorMessage"].as_str().unwrap().contains("retry"));

    let retry = tokio::spawn({
        let router = h.router.clone();
        async move { call(&router, post("slow", body)).await }
    });
    tokio::task::yield_now().await;
    d.ack.take().unwrap().send(Ok(()));
    assert_eq!(retry.await.unwrap().0, StatusCode::OK);
    assert!(
        h.deliveries.try_recv().is_err(),
        "the retry delivered nothing"
    );
}

#[tokio::test]
async fn store_failure_gets_500_and_the_retry_delivers_again() {
    let mut h = harness(keyed());
    let body = body_of("fails", &[&ctr()]);
    let first = tokio::spawn({
        let (router, body) = (h.router.clone(), body.clone());
        async move { call(&router, post("fails", body)).await }
    });
    let mut d = next(&mut h.deliveries).await;
    d.ack
        .take()
        .unwrap()
        .send(Err(AckError("disk full".into())));
    let (status, _, json) = first.await.unwrap();
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(json["errorMessage"], "internal error", "internals hidden");

    let retry = tokio::spawn({
        let router = h.router.clone();
        async move { call(&router, post("fails", body)).await }
    });
    ack_next(&mut h).await;
    assert_eq!(retry.await.unwrap().0, StatusCode::OK);
}

#[tokio::test]
async fn shutting_down_gets_503_and_delivers_nothing() {
    let mut h = harness(keyed());
    h.stop.send(true).unwrap();
    let (status, _, _) = call(&h.router, post("late", body_of("late", &[&ctr()]))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(h.deliveries.try_recv().is_err());
}

#[tokio::test]
async fn stopped_pipeline_gets_503() {
    let h = harness(keyed());
    drop(h.deliveries);
    let (status, _, _) = call(&h.router, post("x", body_of("x", &[&ctr()]))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn moto_shaped_request_without_headers_is_accepted_when_unauthenticated() {
    // moto's Firehose sends no X-Amz-Firehose headers and a timestamp in seconds.
    let mut h = harness(FirehoseHttpConfig {
        allow_unauthenticated: true,
        ..FirehoseHttpConfig::default()
    });
    let mut body: Value = serde_json::from_slice(&body_of("moto", &[&ctr()])).unwrap();
    body["timestamp"] = json!(1_700_000_000);
    let req = Request::post("/firehose")
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(&body).unwrap()))
        .unwrap();
    let call = tokio::spawn({
        let router = h.router.clone();
        async move { call(&router, req).await }
    });
    ack_next(&mut h).await;
    let (status, _, json) = call.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["requestId"], "moto", "the body's id is echoed");
}

#[test]
fn config_example_and_validation() {
    let example = FirehoseHttpConfig::example();
    let text = serde_json::to_string(&example).unwrap();
    let back: FirehoseHttpConfig = serde_json::from_str(&text).unwrap();
    assert_eq!(back, example);
    // The example's key variable is unset here, and says so.
    let var = example.access_key_env.clone().unwrap();
    if std::env::var(&var).is_err() {
        assert!(example.validate().unwrap_err().0.contains(&var));
    }
    assert!(keyed().validate().is_ok());

    let unknown = serde_json::from_value::<FirehoseHttpConfig>(json!({"acces_key": "x"}));
    assert!(unknown.is_err(), "unknown fields are refused");
    let none = FirehoseHttpConfig::default();
    assert!(
        none.validate().is_err(),
        "no key and not explicitly unauthenticated"
    );
    for bad in [
        FirehoseHttpConfig {
            path: "firehose".into(),
            ..keyed()
        },
        FirehoseHttpConfig {
            record_format: "xml".into(),
            ..keyed()
        },
        FirehoseHttpConfig {
            ack_timeout_secs: 180,
            ..keyed()
        },
        FirehoseHttpConfig {
            allow_unauthenticated: true,
            ..keyed()
        },
    ] {
        assert!(bad.validate().is_err(), "{bad:?}");
    }
    let forced = FirehoseHttpConfig {
        record_format: "json".into(),
        ..keyed()
    };
    assert!(forced.validate().is_ok());
}

#[tokio::test]
async fn forced_record_format_applies_to_each_record() {
    let mut h = harness(FirehoseHttpConfig {
        record_format: "eventbridge".into(),
        ..keyed()
    });
    let event = std::fs::read(sample("eventbridge-contact-disconnected.json")).unwrap();
    let body = body_of("fmt", &[&event, &ctr()]);
    let call = tokio::spawn({
        let router = h.router.clone();
        async move { call(&router, post("fmt", body)).await }
    });
    let d = ack_next(&mut h).await;
    assert_eq!(call.await.unwrap().0, StatusCode::OK);
    assert!(d.items[0].is_ok());
    let e = d.items[1].as_ref().unwrap_err();
    assert!(e.reason.contains("eventbridge"), "{}", e.reason);
}
