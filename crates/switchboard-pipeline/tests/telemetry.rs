//! Every component records its own series: a replay with a rule that enriches from a file
//! lookup and delivers to a webhook that fails its first calls, and a line that does not
//! decode, moves the pipeline's, the outbox's, the sink's and the lookup's counters, as a
//! Prometheus scrape of this process shows them.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use switchboard_model::decode::Format;
use switchboard_pipeline::files::replay::{replay, Options};
use switchboard_pipeline::outputs::Outputs;
use switchboard_store::StoreUrl;

/// `name{labels} value` lines of a Prometheus text exposition, by name and labels.
fn scrape(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn value(scraped: &BTreeMap<String, f64>, name: &str, label: &str) -> f64 {
    scraped
        .iter()
        .filter(|(k, _)| k.starts_with(name) && k.contains(label))
        .map(|(_, v)| *v)
        .sum()
}

#[test]
fn sources_pipeline_outbox_sinks_and_lookups_emit_their_series() {
    let handle = switchboard_server::telemetry::install();
    let dir = tempfile::tempdir().unwrap();

    // A webhook that refuses its first two calls.
    let failures = Arc::new(Mutex::new(2u32));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    {
        let failures = Arc::clone(&failures);
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let app = Router::new().route(
                    "/hook",
                    post(move || {
                        let failures = Arc::clone(&failures);
                        async move {
                            let mut f = failures.lock().unwrap();
                            if *f > 0 {
                                *f -= 1;
                                StatusCode::SERVICE_UNAVAILABLE
                            } else {
                                StatusCode::OK
                            }
                        }
                    }),
                );
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
    }

    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/data");
    let mut input = std::fs::read(data.join("contact-records.ndjson")).unwrap();
    input.extend_from_slice(b"not json at all\n");
    std::fs::write(dir.path().join("in.ndjson"), &input).unwrap();
    let ctr: serde_json::Value =
        serde_json::from_slice(input.split(|b| *b == b'\n').next().unwrap()).unwrap();
    let caller = ctr["CustomerEndpoint"]["Address"]
        .as_str()
        .unwrap()
        .to_owned();
    std::fs::write(
        dir.path().join("customers.csv"),
        format!("phone,company\n{caller},Acme Corp\n"),
    )
    .unwrap();

    let text = format!(
        r#"
[store]
url = "sqlite:sb.db"

[outbox]
retry_initial_ms = 10
retry_max_ms = 20
poll_ms = 20

[[lookups]]
name = "customers"
type = "file"
path = "customers.csv"
key = "phone"

[[sinks]]
name = "crm"
type = "webhook"
url = "http://{addr}/hook"

[[rules]]
name = "records"
kinds = ["record"]
enrich = [{{ lookup = "customers", key = "CustomerEndpoint.Address", into = "Customer" }}]
sinks = ["crm"]
"#
    );
    let config = switchboard_pipeline::config::load_str(&text, "t.toml", dir.path())
        .unwrap_or_else(|p| panic!("{p}"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let outputs = rt.block_on(Outputs::build(&config)).unwrap();
    drop(rt);
    let before = scrape(&handle.render());
    let url: StoreUrl = config.store.url.parse().unwrap();
    let mut options = Options::new(Format::Auto, 100);
    options.outputs = outputs;
    options.outbox = config.outbox.clone();
    options.drain = Duration::from_secs(60);
    let summary = replay(&[dir.path().join("in.ndjson")], &url, &options).unwrap();
    assert_eq!(summary.bad, 1);
    assert_eq!(summary.undelivered, 0);
    let after = scrape(&handle.render());

    let moved = |name: &str, label: &str| value(&after, name, label) - value(&before, name, label);
    assert!(moved("switchboard_events_in_total", "contact_records") >= 1.0);
    assert!(moved("switchboard_errors_total", "decode") >= 1.0);
    assert!(moved("switchboard_dead_letters_total", "stage=\"decode\"") >= 1.0);
    assert!(moved("switchboard_routed_total", "sink=\"crm\"") >= 1.0);
    assert!(moved("switchboard_delivered_total", "sink=\"crm\"") >= 1.0);
    assert!(moved("switchboard_sink_retries_total", "sink=\"crm\"") >= 2.0);
    assert!(moved("switchboard_sink_requests_total", "sink=\"crm\"") >= 3.0);
    assert!(moved("switchboard_lookup_requests_total", "lookup=\"customers\"") >= 1.0);
    assert!(moved("switchboard_lookup_hits_total", "lookup=\"customers\"") >= 1.0);
    assert!(moved("switchboard_store_commit_seconds_count", "") >= 1.0);
}
