//! The fake's HTTP side: Connect's restJson1 binding. A request is matched to an
//! operation by method and URI template (`Op::http`), its query and JSON body decoded,
//! recorded, answered by an injected fault or by `ops`, and errors are sent as Connect
//! sends them: the status of the error shape, `x-amzn-ErrorType: <Name>` and a JSON body
//! `{"Message": ...}`.

use std::collections::BTreeMap;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

use super::ops;
use super::state::{Op, Seen};
use super::Shared;

/// An error answer, named as the Connect model names its error shapes.
#[derive(Debug)]
pub struct ConnectError {
    pub status: u16,
    pub name: String,
    pub message: String,
}

impl ConnectError {
    pub fn new(status: u16, name: &str, message: impl Into<String>) -> ConnectError {
        ConnectError {
            status,
            name: name.into(),
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> ConnectError {
        ConnectError::new(404, "ResourceNotFoundException", message)
    }

    pub fn invalid_parameter(message: impl Into<String>) -> ConnectError {
        ConnectError::new(400, "InvalidParameterException", message)
    }

    pub fn invalid_request(message: impl Into<String>) -> ConnectError {
        ConnectError::new(400, "InvalidRequestException", message)
    }

    pub fn conflict(message: impl Into<String>) -> ConnectError {
        ConnectError::new(409, "ResourceConflictException", message)
    }
}

/// The fake's router: everything goes through one handler that routes by `Op::http`.
pub fn router(state: Shared) -> Router {
    Router::new().fallback(handle).with_state(state)
}

/// Percent-decoding of one path segment or query component (`+` is a space in queries).
fn decode(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The operation whose method and URI template match, with the template's labels.
fn route(method: &str, path: &str) -> Option<(Op, BTreeMap<String, String>)> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    Op::ALL.into_iter().find_map(|op| {
        let (m, template) = op.http();
        if m != method {
            return None;
        }
        let parts: Vec<&str> = template.trim_start_matches('/').split('/').collect();
        if parts.len() != segments.len() {
            return None;
        }
        let mut labels = BTreeMap::new();
        for (part, segment) in parts.iter().zip(&segments) {
            if let Some(label) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                if segment.is_empty() {
                    return None;
                }
                labels.insert(label.to_string(), decode(segment, false));
            } else if part != segment {
                return None;
            }
        }
        Some((op, labels))
    })
}

fn parse_query(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k, true), decode(v, true))
        })
        .collect()
}

fn error_response(error: &ConnectError) -> (u16, Value, Response) {
    let body = json!({"Message": error.message});
    let response = (
        StatusCode::from_u16(error.status).unwrap(),
        [
            ("content-type", "application/json"),
            ("x-amzn-errortype", error.name.as_str()),
        ],
        body.to_string(),
    )
        .into_response();
    (error.status, body, response)
}

async fn handle(State(shared): State<Shared>, request: Request) -> Response {
    let method = request.method().as_str().to_string();
    let path = request.uri().path().to_string();
    let query = parse_query(request.uri().query());
    let Some((op, labels)) = route(&method, &path) else {
        let error = ConnectError::new(
            404,
            "UnknownOperationException",
            format!("the fake Connect serves no {method} {path}"),
        );
        return error_response(&error).2;
    };
    let bytes = to_bytes(request.into_body(), 16 << 20)
        .await
        .unwrap_or_default();
    let body: Result<Value, _> = if bytes.is_empty() {
        Ok(Value::Null)
    } else {
        serde_json::from_slice(&bytes)
    };
    let mut state = shared.lock().unwrap();
    let fault = state
        .faults
        .iter()
        .position(|f| f.op.is_none_or(|o| o == op))
        .and_then(|i| state.faults.remove(i));
    let result = match (fault, &body) {
        (Some(f), _) => Err(ConnectError::new(f.status, &f.error, f.message)),
        (None, Err(e)) => Err(ConnectError::new(
            400,
            "SerializationException",
            format!("the body is not JSON: {e}"),
        )),
        (None, Ok(body)) => ops::answer(&mut state, op, &labels, &query, body),
    };
    let (status, error_type, response_body, response) = match result {
        Ok(value) => {
            let text = if value.is_null() {
                String::new()
            } else {
                value.to_string()
            };
            let response = (
                StatusCode::OK,
                [("content-type", "application/json")],
                Body::from(text),
            )
                .into_response();
            (200, None, value, response)
        }
        Err(error) => {
            let (status, body, response) = error_response(&error);
            (status, Some(error.name), body, response)
        }
    };
    state.seen.push(Seen {
        op,
        method,
        path,
        query,
        body: body.unwrap_or(Value::Null),
        status,
        error_type,
        response: response_body,
    });
    response
}
