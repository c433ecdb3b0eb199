//! A FAKE OpenSearch / Elasticsearch cluster for the OpenSearch sink's tests (see
//! `sink_opensearch.rs` for why a fake): the `_bulk` and `_index_template` endpoints,
//! written from their API documentation, on 127.0.0.1:0.
//!
//! `_bulk` parses the NDJSON action/source pairs (refusing a body without its closing
//! newline or of another content type, as Elasticsearch does), keeps documents per index
//! by id, honours `version_type = external` (a version not above the stored one is a
//! `409 version_conflict_engine_exception`), refuses a keyword field given an object
//! (`400 mapper_parsing_exception`, from the template it was given), and answers in
//! Elasticsearch's shapes. Tests can make it refuse the next items with `429
//! es_rejected_execution_exception`, answer whole requests with a status (and
//! `Retry-After`), refuse bodies above a size with 413, or answer late. Every request is
//! recorded with its headers, body and answers.

#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use axum::Router;
use serde_json::{json, Value};

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: &'static str,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The status of the whole answer.
    pub status: u16,
    /// The per-item statuses it answered (bulk requests).
    pub statuses: Vec<u16>,
}

#[derive(Default)]
pub struct Cluster {
    /// index -> id -> (version, source)
    pub indexes: BTreeMap<String, BTreeMap<String, (i64, Value)>>,
    /// Template name -> body.
    pub templates: BTreeMap<String, Value>,
    pub seen: Vec<Seen>,
    /// Whole-request answers for the next requests (status, Retry-After), either endpoint.
    pub next_status: VecDeque<(u16, Option<&'static str>)>,
    /// How many of the next index operations are refused with 429.
    pub reject_items: usize,
    /// Bodies larger than this are refused with 413.
    pub max_body: Option<usize>,
    /// Answer this late.
    pub delay: Option<Duration>,
}

pub type Shared = Arc<Mutex<Cluster>>;

pub struct Fake {
    pub addr: SocketAddr,
    pub cluster: Shared,
}

impl Fake {
    pub async fn start() -> Fake {
        let cluster = Shared::default();
        let router = Router::new()
            .route("/_bulk", post(bulk))
            .route("/_index_template/{name}", put(template))
            .with_state(Arc::clone(&cluster));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Fake { addr, cluster }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut Cluster) -> T) -> T {
        f(&mut self.cluster.lock().unwrap())
    }

    pub fn doc(&self, index: &str, id: &str) -> Option<(i64, Value)> {
        self.with(|c| c.indexes.get(index)?.get(id).cloned())
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.with(|c| c.seen.clone())
    }
}

/// An Elasticsearch-shaped whole-request error.
fn error_response(status: u16, kind: &str, reason: &str, retry_after: Option<&str>) -> Response {
    let body = json!({"error": {"root_cause": [{"type": kind, "reason": reason}],
                                "type": kind, "reason": reason},
                      "status": status});
    let mut response = (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response();
    if let Some(after) = retry_after {
        response
            .headers_mut()
            .insert("retry-after", after.parse().unwrap());
    }
    response
}

/// The canned answer for a whole request, if one is queued or the body is too large.
fn whole_request(cluster: &mut Cluster, body: &Bytes) -> Option<Response> {
    if let Some((status, after)) = cluster.next_status.pop_front() {
        let kind = match status {
            401 => "security_exception",
            400 => "illegal_argument_exception",
            _ => "cluster_block_exception",
        };
        return Some(error_response(status, kind, "canned by the test", after));
    }
    if cluster.max_body.is_some_and(|max| body.len() > max) {
        return Some(error_response(
            413,
            "content_too_long_exception",
            "request body is too large",
            None,
        ));
    }
    None
}

async fn template(
    State(cluster): State<Shared>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut c = cluster.lock().unwrap();
    c.seen.push(Seen {
        method: "PUT",
        path: format!("/_index_template/{name}"),
        headers,
        body: body.clone(),
        status: 200,
        statuses: vec![],
    });
    if let Some(response) = whole_request(&mut c, &body) {
        if let Some(seen) = c.seen.last_mut() {
            seen.status = response.status().as_u16();
        }
        return response;
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(t) if t["index_patterns"].is_array() && t["template"]["mappings"].is_object() => {
            c.templates.insert(name, t);
            axum::Json(json!({"acknowledged": true})).into_response()
        }
        _ => error_response(400, "x_content_parse_exception", "bad template", None),
    }
}

/// The keyword fields of a mapping's `properties`, as dotted paths.
fn keyword_paths(properties: &Value, prefix: &str, out: &mut Vec<String>) {
    let Some(map) = properties.as_object() else {
        return;
    };
    for (name, mapping) in map {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        if mapping["type"] == "keyword" {
            out.push(path.clone());
        }
        keyword_paths(&mapping["properties"], &path, out);
    }
}

/// A mapper_parsing_exception if a keyword field of the matching template holds an
/// object, as Elasticsearch answers.
fn mapping_error(cluster: &Cluster, index: &str, id: &str, source: &Value) -> Option<Value> {
    for t in cluster.templates.values() {
        let patterns = t["index_patterns"].as_array()?;
        let matches = patterns.iter().filter_map(Value::as_str).any(|p| {
            p.strip_suffix('*')
                .is_some_and(|start| index.starts_with(start))
        });
        if !matches {
            continue;
        }
        let mut keywords = Vec::new();
        keyword_paths(&t["template"]["mappings"]["properties"], "", &mut keywords);
        for path in keywords {
            let value = path.split('.').try_fold(source, |v, part| v.get(part));
            if let Some(v @ Value::Object(_)) = value {
                return Some(json!({
                    "type": "mapper_parsing_exception",
                    "reason": format!("failed to parse field [{path}] of type [keyword] in \
                        document with id '{id}'. Preview of field's value: '{v}'"),
                    "caused_by": {"type": "illegal_state_exception",
                                  "reason": "Can't get text on a START_OBJECT at 1:12"}
                }));
            }
        }
    }
    None
}

async fn bulk(State(cluster): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let delay = cluster.lock().unwrap().delay;
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let mut c = cluster.lock().unwrap();
    let mut seen = Seen {
        method: "POST",
        path: "/_bulk".into(),
        headers: headers.clone(),
        body: body.clone(),
        status: 200,
        statuses: vec![],
    };
    if let Some(response) = whole_request(&mut c, &body) {
        seen.status = response.status().as_u16();
        c.seen.push(seen);
        return response;
    }
    if headers.get("content-type").and_then(|v| v.to_str().ok()) != Some("application/x-ndjson") {
        seen.status = 406;
        c.seen.push(seen);
        return error_response(406, "media_type", "use application/x-ndjson", None);
    }
    if body.last() != Some(&b'\n') {
        seen.status = 400;
        c.seen.push(seen);
        return error_response(
            400,
            "illegal_argument_exception",
            "The bulk request must be terminated by a newline [\\n]",
            None,
        );
    }
    let lines: Vec<&[u8]> = body[..body.len() - 1].split(|&b| b == b'\n').collect();
    let mut items = Vec::new();
    for pair in lines.chunks(2) {
        let (Ok(action), Some(Ok(source))) = (
            serde_json::from_slice::<Value>(pair[0]),
            pair.get(1).map(|s| serde_json::from_slice::<Value>(s)),
        ) else {
            seen.status = 400;
            c.seen.push(seen);
            return error_response(
                400,
                "illegal_argument_exception",
                "Malformed action/metadata line",
                None,
            );
        };
        let meta = &action["index"];
        let index = meta["_index"].as_str().unwrap_or_default().to_owned();
        let id = meta["_id"].as_str().unwrap_or_default().to_owned();
        let external = meta["version_type"] == "external";
        let version = meta["version"].as_i64();
        let head = json!({"_index": index, "_id": id});
        let item = if c.reject_items > 0 {
            c.reject_items -= 1;
            json!({"status": 429, "error": {"type": "es_rejected_execution_exception",
                "reason": "rejected execution of coordinating operation [coordinating_and_primary_bytes=0, max_coordinating_and_primary_bytes=1]"}})
        } else if let Some(error) = mapping_error(&c, &index, &id, &source) {
            json!({"status": 400, "error": error})
        } else {
            let docs = c.indexes.entry(index.clone()).or_default();
            let current = docs.get(&id).map(|(v, _)| *v);
            match (external, version, current) {
                (true, Some(v), Some(cur)) if v <= cur => json!({"status": 409, "error": {
                    "type": "version_conflict_engine_exception",
                    "reason": format!("[{id}]: version conflict, current version [{cur}] is higher or equal to the one provided [{v}]"),
                    "index": index, "shard": "0"}}),
                _ => {
                    let new_version = match (external, version) {
                        (true, Some(v)) => v,
                        _ => current.unwrap_or(0) + 1,
                    };
                    docs.insert(id.clone(), (new_version, source));
                    let (status, result) = if current.is_some() {
                        (200, "updated")
                    } else {
                        (201, "created")
                    };
                    json!({"status": status, "result": result, "_version": new_version,
                           "_shards": {"total": 2, "successful": 1, "failed": 0},
                           "_seq_no": 0, "_primary_term": 1})
                }
            }
        };
        let mut item = item;
        if let (Some(item), Some(head)) = (item.as_object_mut(), head.as_object()) {
            item.extend(head.clone());
        }
        seen.statuses
            .push(item["status"].as_u64().unwrap_or(0) as u16);
        items.push(json!({ "index": item }));
    }
    let errors = seen.statuses.iter().any(|s| *s >= 300);
    c.seen.push(seen);
    axum::Json(json!({"took": 3, "errors": errors, "items": items})).into_response()
}
