//! Templates that shape what a sink sends from an item: the webhook's JSON `body`, the
//! Slack `text`, the SNS `subject`.
//!
//! A JSON template is any JSON value. In it, a string that is exactly one placeholder,
//! `"{{path.to.field}}"`, becomes the payload's value at that path with its type kept (a
//! number stays a number, an object an object; a missing path is `null`). A string with
//! placeholders amid text, `"Contact {{ContactId}} ended"`, becomes a string with each
//! value written as text (strings as they are, `null` and missing paths as nothing,
//! numbers, booleans, objects and arrays as compact JSON). Object keys are kept as
//! written.
//!
//! Placeholders:
//!
//! | placeholder | value |
//! |---|---|
//! | `{{a.b.0.c}}` | the payload's field at the dotted path (a number indexes an array) |
//! | `{{$}}` | the whole payload |
//! | `{{$key}}` | the item's idempotency key |
//! | `{{$kind}}` | the item's kind (`record`, `alert_raised`...) |
//! | `{{$rule}}` | the rule that routed it |
//! | `{{$sink}}` | the sink's name |
//! | `{{$text}}` | notification sinks only: the readable text switchboard writes |
//!
//! Spaces inside the braces are ignored (`{{ ContactId }}`). Templates are compiled once,
//! when the config is checked and the sink is built, so a syntax error is reported with
//! its key path before anything runs.

use serde_json::Value;

use crate::problems::join;
use crate::sinks::Item;

/// What a placeholder refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ref {
    Payload,
    Key,
    Kind,
    Rule,
    Sink,
    Text,
    Path(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Ref(Ref),
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    /// Copied as it is (no placeholder inside).
    Literal(Value),
    /// A string that is exactly one placeholder: the value with its type.
    Whole(Ref),
    /// A string with placeholders amid text.
    Text(Vec<Part>),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

/// What a template is rendered from.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The item's payload, parsed (`Value::Null` when the template does not need it:
    /// see [`Template::needs_payload`]).
    pub payload: &'a Value,
    pub item: &'a Item,
    /// The readable text of a notification (`{{$text}}`), if the sink writes one.
    pub text: Option<&'a str>,
}

/// A compiled JSON template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    root: Node,
}

/// A compiled text template (one string with placeholders).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextTemplate {
    parts: Vec<Part>,
}

/// A template problem: where in the template (a key path relative to it, empty for the
/// top) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub at: String,
    pub message: String,
}

impl Template {
    /// Compiles a JSON template, reporting every bad placeholder with its path.
    pub fn compile(value: &Value) -> Result<Template, Vec<TemplateError>> {
        let mut errors = Vec::new();
        let root = compile_node(value, "", &mut errors);
        if errors.is_empty() {
            Ok(Template { root })
        } else {
            Err(errors)
        }
    }

    /// Whether rendering reads the payload (else the payload need not be parsed).
    pub fn needs_payload(&self) -> bool {
        fn walk(node: &Node) -> bool {
            match node {
                Node::Literal(_) => false,
                Node::Whole(r) => r.needs_payload(),
                Node::Text(parts) => parts_need_payload(parts),
                Node::Array(nodes) => nodes.iter().any(walk),
                Node::Object(entries) => entries.iter().any(|(_, n)| walk(n)),
            }
        }
        walk(&self.root)
    }

    /// Whether the template uses `{{$text}}`.
    pub fn uses_text(&self) -> bool {
        fn walk(node: &Node) -> bool {
            match node {
                Node::Literal(_) => false,
                Node::Whole(r) => *r == Ref::Text,
                Node::Text(parts) => parts.contains(&Part::Ref(Ref::Text)),
                Node::Array(nodes) => nodes.iter().any(walk),
                Node::Object(entries) => entries.iter().any(|(_, n)| walk(n)),
            }
        }
        walk(&self.root)
    }

    pub fn render(&self, cx: &Context<'_>) -> Value {
        render_node(&self.root, cx)
    }
}

impl TextTemplate {
    /// Compiles a text template.
    pub fn compile(text: &str) -> Result<TextTemplate, String> {
        parse_text(text).map(|parts| TextTemplate { parts })
    }

    pub fn needs_payload(&self) -> bool {
        parts_need_payload(&self.parts)
    }

    pub fn render(&self, cx: &Context<'_>) -> String {
        render_text(&self.parts, cx)
    }
}

impl Ref {
    fn needs_payload(&self) -> bool {
        matches!(self, Ref::Payload | Ref::Path(_))
    }

    fn value(&self, cx: &Context<'_>) -> Value {
        match self {
            Ref::Payload => cx.payload.clone(),
            Ref::Key => Value::String(cx.item.key.clone()),
            Ref::Kind => Value::String(cx.item.kind.as_str().to_owned()),
            Ref::Rule => Value::String(cx.item.rule.clone()),
            Ref::Sink => Value::String(cx.item.sink.clone()),
            Ref::Text => cx.text.map_or(Value::Null, |t| Value::String(t.to_owned())),
            Ref::Path(path) => lookup(cx.payload, path).cloned().unwrap_or(Value::Null),
        }
    }

    fn write(&self, cx: &Context<'_>, out: &mut String) {
        match self {
            Ref::Key => out.push_str(&cx.item.key),
            Ref::Kind => out.push_str(cx.item.kind.as_str()),
            Ref::Rule => out.push_str(&cx.item.rule),
            Ref::Sink => out.push_str(&cx.item.sink),
            Ref::Text => out.push_str(cx.text.unwrap_or("")),
            Ref::Payload => write_value(cx.payload, out),
            Ref::Path(path) => {
                if let Some(v) = lookup(cx.payload, path) {
                    write_value(v, out);
                }
            }
        }
    }
}

fn parts_need_payload(parts: &[Part]) -> bool {
    parts
        .iter()
        .any(|p| matches!(p, Part::Ref(r) if r.needs_payload()))
}

/// The value at `path` in `doc`: object keys by name, array elements by index.
pub fn lookup<'a, S: AsRef<str>>(doc: &'a Value, path: &[S]) -> Option<&'a Value> {
    let mut at = doc;
    for part in path {
        let part = part.as_ref();
        at = match at {
            Value::Object(m) => m.get(part)?,
            Value::Array(a) => a.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(at)
}

/// A value as text: strings as they are, null as nothing, the rest as compact JSON.
fn write_value(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => out.push_str(s),
        Value::Null => {}
        other => out.push_str(&other.to_string()),
    }
}

fn compile_node(value: &Value, at: &str, errors: &mut Vec<TemplateError>) -> Node {
    match value {
        Value::String(s) if s.contains("{{") || s.contains("}}") => match parse_text(s) {
            Ok(parts) => match parts.as_slice() {
                [Part::Ref(r)] => Node::Whole(r.clone()),
                _ if parts.iter().all(|p| matches!(p, Part::Literal(_))) => {
                    Node::Literal(value.clone())
                }
                _ => Node::Text(parts),
            },
            Err(message) => {
                errors.push(TemplateError {
                    at: at.to_owned(),
                    message,
                });
                Node::Literal(Value::Null)
            }
        },
        Value::Array(items) => Node::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| compile_node(v, &format!("{at}[{i}]"), errors))
                .collect(),
        ),
        Value::Object(map) => Node::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), compile_node(v, &join(at, k), errors)))
                .collect(),
        ),
        other => Node::Literal(other.clone()),
    }
}

fn parse_text(s: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut rest = s;
    let mut offset = 0;
    while let Some(open) = rest.find("{{") {
        if let Some(close) = rest[..open].find("}}") {
            return Err(format!(
                "`}}}}` at character {} closes nothing (placeholders are {{{{path}}}})",
                char_pos(s, offset + close)
            ));
        }
        if open > 0 {
            parts.push(Part::Literal(rest[..open].to_owned()));
        }
        let inner_start = open + 2;
        let close = rest[inner_start..].find("}}").ok_or_else(|| {
            format!(
                "`{{{{` at character {} is not closed with `}}}}`",
                char_pos(s, offset + open)
            )
        })?;
        let inner = &rest[inner_start..inner_start + close];
        if inner.contains("{{") {
            return Err(format!(
                "`{{{{` at character {} is not closed before the next `{{{{`",
                char_pos(s, offset + open)
            ));
        }
        parts.push(Part::Ref(parse_ref(inner.trim())?));
        let consumed = inner_start + close + 2;
        rest = &rest[consumed..];
        offset += consumed;
    }
    if let Some(close) = rest.find("}}") {
        return Err(format!(
            "`}}}}` at character {} closes nothing (placeholders are {{{{path}}}})",
            char_pos(s, offset + close)
        ));
    }
    if !rest.is_empty() {
        parts.push(Part::Literal(rest.to_owned()));
    }
    Ok(parts)
}

/// 1-based character position of byte `at` (for messages).
fn char_pos(s: &str, at: usize) -> usize {
    s[..at].chars().count() + 1
}

fn parse_ref(inner: &str) -> Result<Ref, String> {
    match inner {
        "" => Err(
            "empty placeholder {{}}: put a field path inside, or $ for the whole payload".into(),
        ),
        "$" => Ok(Ref::Payload),
        "$key" => Ok(Ref::Key),
        "$kind" => Ok(Ref::Kind),
        "$rule" => Ok(Ref::Rule),
        "$sink" => Ok(Ref::Sink),
        "$text" => Ok(Ref::Text),
        s if s.starts_with('$') => Err(format!(
            "unknown placeholder {{{{{s}}}}}: expected $, $key, $kind, $rule, $sink or $text, \
             or a field path"
        )),
        path => {
            let segments: Vec<String> = path.split('.').map(str::to_owned).collect();
            if segments
                .iter()
                .any(|s| s.is_empty() || s.chars().any(char::is_whitespace))
            {
                return Err(format!(
                    "{{{{{path}}}}} is not a field path (dotted names, e.g. \
                     {{{{CustomerEndpoint.Address}}}})"
                ));
            }
            Ok(Ref::Path(segments))
        }
    }
}

fn render_node(node: &Node, cx: &Context<'_>) -> Value {
    match node {
        Node::Literal(v) => v.clone(),
        Node::Whole(r) => r.value(cx),
        Node::Text(parts) => Value::String(render_text(parts, cx)),
        Node::Array(nodes) => Value::Array(nodes.iter().map(|n| render_node(n, cx)).collect()),
        Node::Object(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, n)| (k.clone(), render_node(n, cx)))
                .collect(),
        ),
    }
}

fn render_text(parts: &[Part], cx: &Context<'_>) -> String {
    let mut out = String::new();
    for part in parts {
        match part {
            Part::Literal(s) => out.push_str(s),
            Part::Ref(r) => r.write(cx, &mut out),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use serde_json::json;

    use super::*;
    use crate::sinks::ItemKind;

    fn item() -> Item {
        Item {
            id: 7,
            rule: "crm-on-disconnect".into(),
            sink: "crm".into(),
            key: "sb1-abc".into(),
            kind: ItemKind::ContactCompleted,
            payload: Bytes::new(),
            event_ms: 0,
            created_ms: 0,
            attempts: 0,
        }
    }

    fn render(template: Value, payload: Value) -> Value {
        let t = Template::compile(&template).unwrap();
        let item = item();
        t.render(&Context {
            payload: &payload,
            item: &item,
            text: None,
        })
    }

    #[test]
    fn whole_placeholders_keep_their_type_and_missing_ones_are_null() {
        let payload = json!({
            "contact_id": "c-1", "n": 42, "ok": true,
            "timeline": {"queue": "Sales", "tags": ["a", "b"]},
            "attrs": {"x": "1"}
        });
        let out = render(
            json!({
                "id": "{{contact_id}}", "n": "{{ n }}", "ok": "{{ok}}",
                "queue": "{{timeline.queue}}", "second": "{{timeline.tags.1}}",
                "attrs": "{{attrs}}", "missing": "{{no.such.path}}", "past_end": "{{timeline.tags.9}}",
                "all": "{{$}}", "key": "{{$key}}", "kind": "{{$kind}}", "rule": "{{$rule}}",
                "fixed": 3, "list": ["{{n}}", "lit"], "nested": {"deep": "{{timeline.queue}}"}
            }),
            payload.clone(),
        );
        assert_eq!(
            out,
            json!({
                "id": "c-1", "n": 42, "ok": true, "queue": "Sales", "second": "b",
                "attrs": {"x": "1"}, "missing": null, "past_end": null, "all": payload,
                "key": "sb1-abc", "kind": "contact_completed", "rule": "crm-on-disconnect",
                "fixed": 3, "list": [42, "lit"], "nested": {"deep": "Sales"}
            })
        );
    }

    #[test]
    fn placeholders_amid_text_interpolate() {
        let out = render(
            json!("Contact {{id}} ({{n}}) in {{q}} {{missing}}by {{$sink}}: {{obj}}"),
            json!({"id": "c-1", "n": 1.5, "q": null, "obj": {"a": [1]}}),
        );
        assert_eq!(out, json!("Contact c-1 (1.5) in  by crm: {\"a\":[1]}"));
    }

    #[test]
    fn strings_without_placeholders_are_literal() {
        assert_eq!(
            render(json!("plain } { text"), json!({})),
            json!("plain } { text")
        );
    }

    #[test]
    fn syntax_errors_name_their_place() {
        let errors = Template::compile(&json!({
            "a": "{{open", "b": ["ok", "{{}}"], "c": {"d": "{{$nope}}"}, "e": "x }} y",
            "f": "{{a {{b}}", "g": "{{a b}}", "h": "{{a..b}}"
        }))
        .unwrap_err();
        let at: Vec<&str> = errors.iter().map(|e| e.at.as_str()).collect();
        assert_eq!(at, ["a", "b[1]", "c.d", "e", "f", "g", "h"], "{errors:?}");
        assert!(errors[0].message.contains("not closed"), "{errors:?}");
        assert!(
            errors[2].message.contains("unknown placeholder"),
            "{errors:?}"
        );
        assert!(errors[3].message.contains("closes nothing"), "{errors:?}");
    }

    #[test]
    fn text_templates_render_and_report_needs() {
        let t = TextTemplate::compile("{{$text}} <!here> {{$kind}}").unwrap();
        assert!(!t.needs_payload());
        let item = item();
        let out = t.render(&Context {
            payload: &Value::Null,
            item: &item,
            text: Some("Long hold"),
        });
        assert_eq!(out, "Long hold <!here> contact_completed");
        assert!(TextTemplate::compile("{{a}}").unwrap().needs_payload());
        assert!(Template::compile(&json!({"t": "{{$text}}"}))
            .unwrap()
            .uses_text());
        assert!(!Template::compile(&json!({"k": "{{$key}}"}))
            .unwrap()
            .needs_payload());
    }
}
