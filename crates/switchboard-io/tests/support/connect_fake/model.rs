//! A small validator of JSON against the Connect service model that botocore ships
//! (`botocore/data/connect/2017-08-08/service-2.json[.gz]`, read through botocore's own
//! loader at test time), so that the fake's requests and answers are checked against
//! published shapes, not against what its author believed.
//!
//! A request is rebuilt into the operation's input the way the restJson1 binding maps
//! it: URI labels from the path by the `requestUri` template, query parameters by their
//! `locationName`, the other members from the JSON body. Then every value is checked
//! against its shape: structure member names and `required`, list and map nesting with
//! `min`/`max` lengths, string enums and lengths, integer bounds, booleans, and
//! timestamps as epoch seconds (restJson1's default). Patterns are not checked.
//! Answers are checked against the output shape, errors against their error shape, its
//! `httpStatusCode`, and the operation's `errors` (or the throttling errors every Connect
//! call can answer).

use std::process::Command;

use serde_json::{Map, Value};

use super::state::Seen;

/// Errors any Connect operation may answer though the model lists them per operation.
const COMMON_ERRORS: [&str; 3] = [
    "ThrottlingException",
    "TooManyRequestsException",
    "AccessDeniedException",
];

pub struct Model {
    shapes: Map<String, Value>,
    operations: Map<String, Value>,
}

/// Python with botocore: `SWITCHBOARD_TEST_PYTHON` (scripts/servers.sh sets it), else
/// `.tools/venv/bin/python` of the workspace.
fn python() -> Option<String> {
    if let Ok(p) = std::env::var("SWITCHBOARD_TEST_PYTHON") {
        if !p.is_empty() {
            return Some(p);
        }
    }
    let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.tools/venv/bin/python");
    std::path::Path::new(venv)
        .exists()
        .then(|| venv.to_string())
}

impl Model {
    /// The Connect model, or `None` (after a note) when no Python with botocore is found
    /// and the run does not require it; with `CI` or `SWITCHBOARD_REQUIRE_SERVERS=1` a
    /// missing model fails here.
    pub fn load() -> Option<Model> {
        let required = std::env::var("SWITCHBOARD_REQUIRE_SERVERS").is_ok_and(|v| v == "1")
            || std::env::var_os("CI").is_some();
        let script = "import botocore.loaders, json, sys\n\
                      json.dump(botocore.loaders.Loader().load_service_model('connect', 'service-2'), sys.stdout)";
        let output = python().and_then(|p| Command::new(p).args(["-c", script]).output().ok());
        let Some(output) = output.filter(|o| o.status.success()) else {
            assert!(
                !required,
                "the Connect model could not be read: set SWITCHBOARD_TEST_PYTHON to a Python \
                 with botocore (bash scripts/test.sh does)"
            );
            eprintln!("skipped: no Python with botocore (SWITCHBOARD_TEST_PYTHON)");
            return None;
        };
        let model: Value = serde_json::from_slice(&output.stdout).expect("model is JSON");
        Some(Model {
            shapes: model["shapes"].as_object().unwrap().clone(),
            operations: model["operations"].as_object().unwrap().clone(),
        })
    }

    fn operation(&self, op: &str) -> &Value {
        self.operations
            .get(op)
            .unwrap_or_else(|| panic!("the Connect model has no operation {op}"))
    }

    /// The operation's HTTP method and URI template in the model.
    pub fn http(&self, op: &str) -> (String, String) {
        let http = &self.operation(op)["http"];
        (
            http["method"].as_str().unwrap().to_string(),
            http["requestUri"].as_str().unwrap().to_string(),
        )
    }

    /// Problems with one request the fake saw, rebuilt into the operation's input.
    pub fn check_request(&self, seen: &Seen) -> Vec<String> {
        let op = seen.op.name();
        let mut problems = Vec::new();
        let input_name = self.operation(op)["input"]["shape"].as_str().unwrap();
        let members = self.shapes[input_name]["members"].as_object().unwrap();
        let mut input = Map::new();
        // URI labels.
        let (_, template) = self.http(op);
        let template = template.split('?').next().unwrap();
        for (part, segment) in template
            .trim_start_matches('/')
            .split('/')
            .zip(seen.path.trim_start_matches('/').split('/'))
        {
            if let Some(label) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                let member = members
                    .iter()
                    .find(|(_, m)| m["location"] == "uri" && m["locationName"] == label);
                match member {
                    Some((name, _)) => {
                        input.insert(name.clone(), Value::String(segment.to_string()));
                    }
                    None => problems.push(format!("{op}: URI label {label} is no member")),
                }
            }
        }
        // Query parameters.
        for (key, value) in &seen.query {
            let member = members
                .iter()
                .find(|(_, m)| m["location"] == "querystring" && m["locationName"] == *key);
            let Some((name, m)) = member else {
                problems.push(format!("{op}: query parameter {key} is not in the model"));
                continue;
            };
            let shape = &self.shapes[m["shape"].as_str().unwrap()];
            let typed = match shape["type"].as_str() {
                Some("integer" | "long") => match value.parse::<i64>() {
                    Ok(n) => Value::from(n),
                    Err(_) => {
                        problems.push(format!("{op}: query {key}={value} is not an integer"));
                        continue;
                    }
                },
                _ => Value::String(value.clone()),
            };
            if shape["type"] == "list" {
                let list = input
                    .entry(name.clone())
                    .or_insert_with(|| Value::Array(Vec::new()));
                list.as_array_mut().unwrap().push(typed);
            } else if input.insert(name.clone(), typed).is_some() {
                problems.push(format!("{op}: query parameter {key} given twice"));
            }
        }
        // Body members.
        match &seen.body {
            Value::Null => {}
            Value::Object(body) => {
                for (key, value) in body {
                    match members.get(key) {
                        Some(m) if m.get("location").is_none() => {
                            input.insert(key.clone(), value.clone());
                        }
                        Some(_) => problems.push(format!(
                            "{op}: {key} is bound to the URI or query, not the body"
                        )),
                        None => {
                            problems.push(format!("{op}: body member {key} is not in the model"))
                        }
                    }
                }
            }
            other => problems.push(format!("{op}: the body is not an object: {other}")),
        }
        self.check(input_name, &Value::Object(input), op, &mut problems);
        problems
    }

    /// Problems with the answer to one request.
    pub fn check_response(&self, seen: &Seen) -> Vec<String> {
        let op = seen.op.name();
        let mut problems = Vec::new();
        let operation = self.operation(op);
        if let Some(error) = &seen.error_type {
            let listed = operation["errors"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e["shape"] == *error.as_str()));
            if !listed && !COMMON_ERRORS.contains(&error.as_str()) {
                problems.push(format!(
                    "{op}: error {error} is not one the model lists for it"
                ));
            }
            match self.shapes.get(error) {
                Some(shape) if shape["exception"] == true => {
                    if shape["error"]["httpStatusCode"] != seen.status {
                        problems.push(format!(
                            "{op}: {error} answered with {} but the model says {}",
                            seen.status, shape["error"]["httpStatusCode"]
                        ));
                    }
                    self.check(
                        error,
                        &seen.response,
                        &format!("{op}:{error}"),
                        &mut problems,
                    );
                }
                _ => problems.push(format!("{op}: {error} is no error shape of the model")),
            }
            return problems;
        }
        if seen.status != 200 {
            problems.push(format!(
                "{op}: status {} without an error type",
                seen.status
            ));
        }
        match operation["output"]["shape"].as_str() {
            Some(output) => {
                let body = if seen.response.is_null() {
                    Value::Object(Map::new())
                } else {
                    seen.response.clone()
                };
                self.check(output, &body, &format!("{op} output"), &mut problems);
            }
            None if seen.response.is_null() => {}
            None => problems.push(format!("{op}: a body where the model has no output")),
        }
        problems
    }

    /// Checks `value` against the shape named `shape`, appending problems at `path`.
    pub fn check(&self, shape: &str, value: &Value, path: &str, problems: &mut Vec<String>) {
        let s = &self.shapes[shape];
        let mut problem = |what: String| problems.push(format!("{path}: {what} ({shape})"));
        let len_ok = |n: usize| {
            s["min"].as_u64().is_none_or(|min| n as u64 >= min)
                && s["max"].as_u64().is_none_or(|max| n as u64 <= max)
        };
        match s["type"].as_str().unwrap() {
            "structure" => {
                let Some(object) = value.as_object() else {
                    return problem(format!("expected an object, got {value}"));
                };
                let members = s["members"].as_object().unwrap();
                for required in s["required"].as_array().into_iter().flatten() {
                    if !object.contains_key(required.as_str().unwrap()) {
                        problem(format!("required member {required} missing"));
                    }
                }
                for (key, v) in object {
                    match members.get(key) {
                        Some(m) => self.check(
                            m["shape"].as_str().unwrap(),
                            v,
                            &format!("{path}.{key}"),
                            problems,
                        ),
                        None => problems.push(format!("{path}: unknown member {key} ({shape})")),
                    }
                }
            }
            "list" => {
                let Some(items) = value.as_array() else {
                    return problem(format!("expected a list, got {value}"));
                };
                if !len_ok(items.len()) {
                    problem(format!("{} items is outside min/max", items.len()));
                }
                let member = s["member"]["shape"].as_str().unwrap();
                for (i, item) in items.iter().enumerate() {
                    self.check(member, item, &format!("{path}[{i}]"), problems);
                }
            }
            "map" => {
                let Some(object) = value.as_object() else {
                    return problem(format!("expected a map, got {value}"));
                };
                let key_shape = s["key"]["shape"].as_str().unwrap();
                let value_shape = s["value"]["shape"].as_str().unwrap();
                for (k, v) in object {
                    self.check(
                        key_shape,
                        &Value::String(k.clone()),
                        &format!("{path} key"),
                        problems,
                    );
                    self.check(value_shape, v, &format!("{path}.{k}"), problems);
                }
            }
            "string" => {
                let Some(text) = value.as_str() else {
                    return problem(format!("expected a string, got {value}"));
                };
                if let Some(allowed) = s["enum"].as_array() {
                    if !allowed.iter().any(|a| a == text) {
                        problem(format!("{text:?} is not one of the enum"));
                    }
                }
                if !len_ok(text.chars().count()) {
                    problem(format!(
                        "length {} is outside min/max",
                        text.chars().count()
                    ));
                }
            }
            "integer" | "long" => match value.as_i64() {
                Some(n) => {
                    if s["min"].as_i64().is_some_and(|min| n < min)
                        || s["max"].as_i64().is_some_and(|max| n > max)
                    {
                        problem(format!("{n} is outside min/max"));
                    }
                }
                None => problem(format!("expected an integer, got {value}")),
            },
            "boolean" => {
                if !value.is_boolean() {
                    problem(format!("expected a boolean, got {value}"));
                }
            }
            "timestamp" => {
                if !value.is_number() {
                    problem(format!("expected epoch seconds, got {value}"));
                }
            }
            "double" | "float" => {
                if !value.is_number() {
                    problem(format!("expected a number, got {value}"));
                }
            }
            "blob" => {
                if !value.is_string() {
                    problem(format!("expected base64 text, got {value}"));
                }
            }
            other => problem(format!(
                "shape type {other} is not handled by the validator"
            )),
        }
    }
}
