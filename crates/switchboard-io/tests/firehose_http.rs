//! The Firehose HTTP endpoint over real TCP: fed the published sample request, a gzipped
//! request, a bad key, an oversized body and a retried request id by a raw HTTP/1.1
//! client (so the exact response bytes are checked), and fed by moto's Firehose as a
//! smoke test (moto sends no X-Amz-Firehose headers and a timestamp in seconds).

mod support;

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{json, Value};
use switchboard_io::sources::firehose_http::FirehoseHttpConfig;
use switchboard_io::sources::http::Secret;
use switchboard_io::SourceContext;
use switchboard_model::envelope::encode_base64;
use switchboard_model::RecordKind;
use tokio::sync::watch;

use support::{eventually, http_post, pipeline, sample, unique, Moto};

const KEY: &str = "integration-access-key";

/// Serves the endpoint on 127.0.0.1:0; returns its address and the shutdown sender
/// (dropping it stops the server).
async fn serve(
    config: FirehoseHttpConfig,
    ctx: SourceContext,
) -> (SocketAddr, watch::Sender<bool>) {
    let router = config.router(ctx).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, mut stopped) = watch::channel(false);
    tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await
            .unwrap();
    });
    (addr, stop)
}

fn headers(id: &str) -> Vec<(&'static str, String)> {
    vec![
        ("Content-Type", "application/json".into()),
        ("X-Amz-Firehose-Protocol-Version", "1.0".into()),
        ("X-Amz-Firehose-Request-Id", id.into()),
        (
            "X-Amz-Firehose-Source-Arn",
            "arn:aws:firehose:us-east-1:123456789012:deliverystream/connect-ctr".into(),
        ),
        ("X-Amz-Firehose-Access-Key", KEY.into()),
        (
            "X-Amz-Firehose-Common-Attributes",
            std::fs::read_to_string(sample(
                "firehose-http-endpoint-common-attributes-header.json",
            ))
            .unwrap()
            .replace('\n', ""),
        ),
    ]
}

fn as_refs<'a>(h: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    h.iter().map(|(n, v)| (*n, v.as_str())).collect()
}

fn body_of(id: &str, payloads: &[&[u8]]) -> Vec<u8> {
    let records: Vec<Value> = payloads
        .iter()
        .map(|p| json!({ "data": encode_base64(p) }))
        .collect();
    serde_json::to_vec(&json!({"requestId": id, "timestamp": 1578090901599i64, "records": records}))
        .unwrap()
}

fn ctr() -> Vec<u8> {
    std::fs::read(sample("ctr-voice-inbound-2022.json")).unwrap()
}

/// The response Firehose requires: JSON, `Content-Length` matching, the request id echoed
/// and an integer millisecond timestamp; `errorMessage` only on failure.
fn assert_firehose_response(res: &support::HttpResponse, id: &str, success: bool) {
    assert_eq!(res.header("content-type"), Some("application/json"));
    assert_eq!(res.header("content-encoding"), None);
    let length: usize = res
        .header("content-length")
        .expect("Content-Length")
        .parse()
        .unwrap();
    assert_eq!(length, res.body.len());
    let json = res.json();
    assert_eq!(json["requestId"], id, "{json}");
    let ts = json["timestamp"].as_i64().expect("integer timestamp");
    assert!(ts > 1_600_000_000_000, "milliseconds, not seconds: {ts}");
    assert_eq!(json.get("errorMessage").is_some(), !success, "{json}");
}

fn keyed() -> FirehoseHttpConfig {
    FirehoseHttpConfig {
        access_key: Some(Secret(KEY.into())),
        max_body_bytes: 16 * 1024,
        ..FirehoseHttpConfig::default()
    }
}

#[tokio::test]
async fn endpoint_over_tcp_sample_gzip_key_size_and_retry() {
    let (tx, received, _pipeline) = pipeline(|_| Ok(()));
    let (_stop_sources, shutdown) = watch::channel(false);
    let (addr, _stop) = serve(keyed(), SourceContext::new(tx, shutdown)).await;

    // The published sample request: 200, both records ("hello", "hello world") to the
    // dead letters, since they are not Connect records.
    let id = "ed4acda5-034f-9f42-bba1-f29aea6d7d8f";
    let sample_body = std::fs::read(sample("firehose-http-endpoint-request.json")).unwrap();
    let h = headers(id);
    let res = http_post(addr, "/firehose", &as_refs(&h), &sample_body).await;
    assert_eq!(res.status, 200, "{:?}", String::from_utf8_lossy(&res.body));
    assert_firehose_response(&res, id, true);
    {
        let r = received.lock().unwrap();
        assert_eq!(r.deliveries.len(), 1);
        let (source, items) = &r.deliveries[0];
        assert_eq!(source, "firehose-http");
        assert_eq!(items.len(), 2);
        assert!(items.iter().all(|i| i.is_err()));
    }

    // Gzipped, with a CTR: decoded and delivered.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&body_of("gz", &[&ctr()])).unwrap();
    let mut h = headers("gz");
    h.push(("Content-Encoding", "gzip".into()));
    let res = http_post(addr, "/firehose", &as_refs(&h), &gz.finish().unwrap()).await;
    assert_eq!(res.status, 200);
    assert_firehose_response(&res, "gz", true);
    {
        let r = received.lock().unwrap();
        assert_eq!(r.deliveries.len(), 2);
        let records = r.records();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].kind, RecordKind::ContactRecord);
    }

    // A bad key, and no key.
    let mut h = headers("bad-key");
    h.retain(|(n, _)| *n != "X-Amz-Firehose-Access-Key");
    let res = http_post(
        addr,
        "/firehose",
        &as_refs(&h),
        &body_of("bad-key", &[&ctr()]),
    )
    .await;
    assert_eq!(res.status, 401);
    assert_firehose_response(&res, "bad-key", false);
    h.push(("X-Amz-Firehose-Access-Key", "integration-access-kez".into()));
    let res = http_post(
        addr,
        "/firehose",
        &as_refs(&h),
        &body_of("bad-key", &[&ctr()]),
    )
    .await;
    assert_eq!(res.status, 403);
    assert_firehose_response(&res, "bad-key", false);

    // Over the configured 16 KiB.
    let big = body_of("big", &[&vec![b' '; 32 * 1024]]);
    let res = http_post(addr, "/firehose", &as_refs(&headers("big")), &big).await;
    assert_eq!(res.status, 413);
    assert_firehose_response(&res, "big", false);

    // A retried request id: 200 both times, applied once.
    let before = received.lock().unwrap().deliveries.len();
    let body = body_of("retried", &[&ctr()]);
    for _ in 0..2 {
        let res = http_post(addr, "/firehose", &as_refs(&headers("retried")), &body).await;
        assert_eq!(res.status, 200);
        assert_firehose_response(&res, "retried", true);
    }
    assert_eq!(
        received.lock().unwrap().deliveries.len(),
        before + 1,
        "bad key and oversized bodies delivered nothing; the retry was not applied again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_firehose_delivers_to_the_endpoint() {
    let moto = Moto::start();
    let (tx, received, _pipeline) = pipeline(|_| Ok(()));
    let (_stop_sources, shutdown) = watch::channel(false);
    let config = FirehoseHttpConfig {
        allow_unauthenticated: true,
        ..FirehoseHttpConfig::default()
    };
    let (addr, _stop) = serve(config, SourceContext::new(tx, shutdown)).await;
    let url = format!("http://{addr}/firehose");
    let ctr_path = sample("ctr-voice-inbound-2022.json");
    // moto POSTs to the endpoint inside put_record, and waits for the answer.
    let script = r#"
url, ctr_path, name = sys.argv[1], sys.argv[2], sys.argv[3]
s3 = client('s3')
s3.create_bucket(Bucket=name)
fh = client('firehose')
fh.create_delivery_stream(
    DeliveryStreamName=name,
    DeliveryStreamType='DirectPut',
    HttpEndpointDestinationConfiguration={
        'EndpointConfiguration': {'Url': url, 'Name': 'switchboard'},
        'S3Configuration': {
            'RoleARN': 'arn:aws:iam::123456789012:role/firehose',
            'BucketARN': 'arn:aws:s3:::' + name,
        },
    },
)
with open(ctr_path, 'rb') as f:
    fh.put_record(DeliveryStreamName=name, Record={'Data': f.read()})
print('ok')
"#;
    let out = tokio::task::spawn_blocking({
        let ctr_path = ctr_path.to_str().unwrap().to_owned();
        move || {
            let name = unique("connect-ctr");
            let out = moto.python(script, &[&url, &ctr_path, &name]);
            (moto, out)
        }
    })
    .await
    .unwrap();
    assert_eq!(out.1.trim(), "ok");
    eventually(Duration::from_secs(30), "moto's delivery", || {
        !received.lock().unwrap().deliveries.is_empty()
    })
    .await;
    let r = received.lock().unwrap();
    let records = r.records();
    assert_eq!(records.len(), 1, "{:?}", r.deliveries);
    assert_eq!(records[0].kind, RecordKind::ContactRecord);
    assert_eq!(records[0].source.envelope, Some("firehose-http"));
}
