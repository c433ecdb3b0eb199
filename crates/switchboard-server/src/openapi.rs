//! The OpenAPI 3 document of the server (`GET /api/openapi.json`) and a validator for
//! the JSON-Schema subset it uses, with which the tests check every route's answers
//! against the document.
//!
//! The document is hand-written JSON (`openapi.json` beside this file), embedded in the
//! binary. The subset: `type`, `properties`, `required`, `items`, `enum`, `nullable`,
//! `$ref` (to `#/components/schemas/...`), `additionalProperties` and
//! `format: date-time`; `description`, `example` and `title` are ignored. Any other
//! keyword is an error rather than silently passing, so the document cannot drift into
//! constructs nothing checks.
//!
//! Objects are *closed* unless they say `additionalProperties`: a field the server sends
//! that the document does not list fails validation (stricter than JSON Schema, which
//! allows it), so the document lists everything the API says.

use axum::http::header;
use axum::response::IntoResponse;
use serde_json::Value;
use switchboard_model::Timestamp;

/// The document's text.
pub const DOCUMENT: &str = include_str!("openapi.json");

/// `GET /api/openapi.json`.
pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}

/// The document, parsed.
pub fn parsed() -> Value {
    // The document is a constant checked by the tests: it parses.
    serde_json::from_str(DOCUMENT).unwrap_or(Value::Null)
}

/// Keywords the validator understands (or ignores on purpose).
const KNOWN: &[&str] = &[
    "type",
    "properties",
    "required",
    "items",
    "enum",
    "nullable",
    "$ref",
    "additionalProperties",
    "format",
    "description",
    "example",
    "title",
];

/// Checks `value` against `schema`, resolving `$ref`s in `doc`. Returns every problem,
/// each with the JSON path where it is (`$.agents[3].state`).
pub fn validate(doc: &Value, schema: &Value, value: &Value) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    check(doc, schema, value, "$", &mut errors, 0);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// `#/components/schemas/Name` → the schema.
pub fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    doc.pointer(pointer)
}

fn check(
    doc: &Value,
    schema: &Value,
    value: &Value,
    at: &str,
    errors: &mut Vec<String>,
    depth: u32,
) {
    if depth > 64 {
        errors.push(format!("{at}: schema nesting too deep (a $ref cycle?)"));
        return;
    }
    let Some(obj) = schema.as_object() else {
        errors.push(format!("{at}: schema is not an object: {schema}"));
        return;
    };
    for key in obj.keys() {
        if !KNOWN.contains(&key.as_str()) {
            errors.push(format!("{at}: unsupported schema keyword {key:?}"));
        }
    }
    let nullable = obj.get("nullable").and_then(Value::as_bool) == Some(true);
    if value.is_null() && nullable {
        return;
    }
    if let Some(r) = obj.get("$ref") {
        let target = r.as_str().and_then(|r| resolve(doc, r));
        match target {
            Some(t) => check(doc, t, value, at, errors, depth + 1),
            None => errors.push(format!("{at}: unresolved $ref {r}")),
        }
        return;
    }
    if let Some(allowed) = obj.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            errors.push(format!(
                "{at}: {value} is not one of {}",
                Value::from(allowed.clone())
            ));
        }
    }
    let Some(ty) = obj.get("type").and_then(Value::as_str) else {
        if obj.get("enum").is_none() {
            errors.push(format!("{at}: schema has neither type, enum nor $ref"));
        }
        return;
    };
    let type_ok = match ty {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        other => {
            errors.push(format!("{at}: unknown type {other:?}"));
            return;
        }
    };
    if !type_ok {
        let what = if value.is_null() {
            "null (not nullable)".to_owned()
        } else {
            value.to_string()
        };
        errors.push(format!("{at}: expected {ty}, got {what}"));
        return;
    }
    if obj.get("format").and_then(Value::as_str) == Some("date-time") {
        if let Some(s) = value.as_str() {
            if Timestamp::parse(s).is_err() {
                errors.push(format!("{at}: {s:?} is not an RFC 3339 date-time"));
            }
        }
    }
    match ty {
        "object" => check_object(doc, obj, value, at, errors, depth),
        "array" => {
            let Some(items) = obj.get("items") else {
                errors.push(format!("{at}: array schema without items"));
                return;
            };
            for (i, v) in value.as_array().into_iter().flatten().enumerate() {
                check(doc, items, v, &format!("{at}[{i}]"), errors, depth + 1);
            }
        }
        _ => {}
    }
}

fn check_object(
    doc: &Value,
    schema: &serde_json::Map<String, Value>,
    value: &Value,
    at: &str,
    errors: &mut Vec<String>,
    depth: u32,
) {
    let Some(fields) = value.as_object() else {
        return;
    };
    let properties = schema.get("properties").and_then(Value::as_object);
    for name in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !fields.contains_key(name) {
            errors.push(format!("{at}: missing required property {name:?}"));
        }
    }
    let additional = schema.get("additionalProperties");
    for (name, v) in fields {
        let here = format!("{at}.{name}");
        match (properties.and_then(|p| p.get(name)), additional) {
            (Some(s), _) => check(doc, s, v, &here, errors, depth + 1),
            (None, Some(Value::Bool(true))) => {}
            (None, Some(s @ Value::Object(_))) => check(doc, s, v, &here, errors, depth + 1),
            (None, _) => errors.push(format!("{here}: property not in the document")),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn doc() -> Value {
        json!({"components": {"schemas": {
            "Tile": {
                "type": "object",
                "required": ["name", "state"],
                "properties": {
                    "name": {"type": "string"},
                    "state": {"type": "string", "enum": ["available", "offline"]},
                    "since": {"type": "string", "format": "date-time", "nullable": true},
                    "count": {"type": "integer"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "extra": {"type": "object", "additionalProperties": {"type": "number"}}
                }
            }
        }}})
    }

    fn tile() -> Value {
        json!({"$ref": "#/components/schemas/Tile"})
    }

    #[test]
    fn accepts_a_matching_value() {
        let v = json!({"name": "a", "state": "offline", "since": null, "count": 3,
                       "tags": ["x"], "extra": {"k": 1.5}});
        assert_eq!(validate(&doc(), &tile(), &v), Ok(()));
        let v = json!({"name": "a", "state": "available", "since": "2026-01-05T09:00:00.123Z"});
        assert_eq!(validate(&doc(), &tile(), &v), Ok(()));
    }

    #[test]
    fn reports_every_mismatch_with_its_path() {
        let v = json!({"state": "busy", "since": "yesterday", "count": 1.5,
                       "tags": ["x", 2], "extra": {"k": "no"}, "surprise": true});
        let errors = validate(&doc(), &tile(), &v).unwrap_err();
        let text = errors.join("\n");
        for expected in [
            "$: missing required property \"name\"",
            "$.state: \"busy\" is not one of",
            "$.since: \"yesterday\" is not an RFC 3339 date-time",
            "$.count: expected integer, got 1.5",
            "$.tags[1]: expected string, got 2",
            "$.extra.k: expected number",
            "$.surprise: property not in the document",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
        }
        assert_eq!(errors.len(), 7, "{text}");
    }

    #[test]
    fn null_only_where_nullable() {
        let v = json!({"name": null, "state": "offline"});
        let errors = validate(&doc(), &tile(), &v).unwrap_err();
        assert_eq!(
            errors,
            vec!["$.name: expected string, got null (not nullable)"]
        );
    }

    #[test]
    fn unknown_keywords_and_refs_are_errors() {
        let errors = validate(&doc(), &json!({"oneOf": []}), &json!(1)).unwrap_err();
        assert!(
            errors[0].contains("unsupported schema keyword \"oneOf\""),
            "{errors:?}"
        );
        let errors = validate(
            &doc(),
            &json!({"$ref": "#/components/schemas/Nope"}),
            &json!(1),
        )
        .unwrap_err();
        assert!(errors[0].contains("unresolved $ref"), "{errors:?}");
    }

    #[test]
    fn the_document_parses_and_every_ref_resolves() {
        let doc: Value = serde_json::from_str(DOCUMENT).expect("openapi.json is JSON");
        assert_eq!(doc["openapi"].as_str().map(|v| &v[..2]), Some("3."));
        let mut refs = Vec::new();
        collect_refs(&doc, &mut refs);
        assert!(refs.len() > 10);
        for r in refs {
            assert!(resolve(&doc, &r).is_some(), "unresolved {r}");
        }
    }

    fn collect_refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|v| collect_refs(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| collect_refs(v, out)),
            _ => {}
        }
    }
}
