//! The readable text of an item, for people: what a supervisor reads in Slack or in an
//! SNS email.
//!
//! Alerts read like `:warning: Long hold — agent Jane Doe (jdoe) on hold for 6m 12s, queue
//! Sales` and `:white_check_mark: Cleared: long hold — agent Jane Doe (jdoe) was on hold
//! for 7m 3s, queue Sales` (the payload of an alert item is the engine's `AlertEvent`:
//! `{"event": "raised"|"cleared", "alert": {"kind", "subject", "username", "queue",
//! "status", "since", "raised_at", "cleared_at", ...}}`). The agent's display name shows
//! when an enrichment added one: a top-level `agent_name`, or an `agent` object with
//! `name`, or with `FirstName` and `LastName` (the shape of Connect's user identity).
//! Other kinds get one compact line (`transition hold_started — agent jdoe, contact c-1`).
//!
//! [`Style::Slack`] adds emoji and escapes `&`, `<` and `>` as Slack's message format asks;
//! [`Style::Plain`] (SNS) has neither.

use serde_json::Value;
use switchboard_model::Timestamp;

use crate::sinks::retry::snippet;
use crate::sinks::webhook::template::lookup;
use crate::sinks::{Item, ItemKind};

/// How the text is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Slack's `mrkdwn`: emoji shortcodes, `&<>` escaped.
    Slack,
    /// Plain text (SNS messages and subjects, email).
    Plain,
}

/// The longest summary of a non-alert item, in characters.
const SUMMARY_CHARS: usize = 300;

/// The readable text of `item` (its payload parsed as `payload`, `None` when it is not
/// JSON).
pub fn readable(item: &Item, payload: Option<&Value>, style: Style) -> String {
    let Some(doc) = payload else {
        return format!("{} item {} (its payload is not JSON)", item.kind, item.key);
    };
    let w = Writer { style };
    match item.kind {
        ItemKind::AlertRaised | ItemKind::AlertCleared => w.alert(item.kind, doc),
        ItemKind::Transition => w.transition(doc),
        ItemKind::ContactCompleted => w.contact(doc, "completed"),
        ItemKind::ContactRecordReady => w.contact(doc, "record ready"),
        ItemKind::Record => w.record(doc),
        ItemKind::DeadLetter => w.dead_letter(doc),
        ItemKind::MetricInterval => w.fallback("metric interval closed", doc),
    }
}

struct Writer {
    style: Style,
}

fn text<'a>(doc: &'a Value, path: &[&str]) -> Option<&'a str> {
    lookup(doc, path)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn time(doc: &Value, path: &[&str]) -> Option<i64> {
    text(doc, path)
        .and_then(|s| Timestamp::parse(s).ok())
        .map(Timestamp::millis)
}

/// `6m 12s`, `45s`, `1h 2m`, `2d 3h`.
pub fn duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (d, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{sec}s"),
        (0, 0, _) if sec == 0 => format!("{m}m"),
        (0, 0, _) => format!("{m}m {sec}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

impl Writer {
    /// A value from the data: escaped for Slack.
    fn v(&self, s: &str) -> String {
        match self.style {
            Style::Plain => s.to_owned(),
            Style::Slack => s
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;"),
        }
    }

    fn emoji(&self, code: &str) -> String {
        match self.style {
            Style::Slack => format!("{code} "),
            Style::Plain => String::new(),
        }
    }

    /// `Jane Doe (jdoe)`, `jdoe`, or the agent's ARN.
    fn agent(&self, doc: &Value, username: Option<&str>, arn: Option<&str>) -> String {
        let name = text(doc, &["agent_name"])
            .map(str::to_owned)
            .or_else(|| text(doc, &["agent", "name"]).map(str::to_owned))
            .or_else(|| {
                let first = text(doc, &["agent", "FirstName"]);
                let last = text(doc, &["agent", "LastName"]);
                match (first, last) {
                    (Some(f), Some(l)) => Some(format!("{f} {l}")),
                    (Some(n), None) | (None, Some(n)) => Some(n.to_owned()),
                    (None, None) => None,
                }
            });
        match (name, username) {
            (Some(n), Some(u)) if n != u => format!("{} ({})", self.v(&n), self.v(u)),
            (_, Some(u)) => self.v(u),
            (Some(n), None) => self.v(&n),
            (None, None) => self.v(arn.unwrap_or("unknown")),
        }
    }

    fn alert(&self, kind: ItemKind, doc: &Value) -> String {
        let cleared = kind == ItemKind::AlertCleared || text(doc, &["event"]) == Some("cleared");
        let a = lookup(doc, &["alert"]).unwrap_or(doc);
        let alert_kind = text(a, &["kind"]).unwrap_or("alert");
        let subject = text(a, &["subject"]);
        let since = time(a, &["since"]);
        let until = if cleared {
            time(a, &["cleared_at"]).or_else(|| time(a, &["raised_at"]))
        } else {
            time(a, &["raised_at"])
        };
        let lasted = match (since, until) {
            (Some(s), Some(u)) => Some(duration(u - s)),
            _ => None,
        };
        let queue = text(a, &["queue"]).map(|q| format!(", queue {}", self.v(q)));
        let queue = queue.unwrap_or_default();
        let who = || format!("agent {}", self.agent(doc, text(a, &["username"]), subject));
        let (title, body) = match alert_kind {
            "long_hold" => (
                "Long hold",
                match (&lasted, cleared) {
                    (Some(d), false) => format!("{} on hold for {d}{queue}", who()),
                    (Some(d), true) => format!("{} was on hold for {d}{queue}", who()),
                    (None, _) => format!("{}{queue}", who()),
                },
            ),
            "long_acw" => (
                "Long after-contact work",
                match (&lasted, cleared) {
                    (Some(d), false) => format!("{} in ACW for {d}{queue}", who()),
                    (Some(d), true) => format!("{} was in ACW for {d}{queue}", who()),
                    (None, _) => format!("{}{queue}", who()),
                },
            ),
            "long_status" => {
                let status = self.v(text(a, &["status"]).unwrap_or("a custom status"));
                (
                    "Long status",
                    match (&lasted, cleared) {
                        (Some(d), false) => format!("{} in {status} for {d}", who()),
                        (Some(d), true) => format!("{} was in {status} for {d}", who()),
                        (None, _) => format!("{} in {status}", who()),
                    },
                )
            }
            "long_queue_wait" => {
                let q = self.v(text(a, &["queue"]).or(subject).unwrap_or("unknown"));
                (
                    "Long queue wait",
                    match (&lasted, cleared) {
                        (Some(d), false) => format!("queue {q}: oldest contact waiting {d}"),
                        (Some(d), true) => format!("queue {q}: a contact waited {d}"),
                        (None, _) => format!("queue {q}"),
                    },
                )
            }
            other => {
                let what = subject.map_or_else(|| "unknown".to_owned(), |s| self.v(s));
                let body = match &lasted {
                    Some(d) => format!("{what} for {d}{queue}"),
                    None => format!("{what}{queue}"),
                };
                return if cleared {
                    format!(
                        "{}Cleared: {} — {body}",
                        self.emoji(":white_check_mark:"),
                        self.v(other)
                    )
                } else {
                    format!(
                        "{}Alert {} — {body}",
                        self.emoji(":warning:"),
                        self.v(other)
                    )
                };
            }
        };
        if cleared {
            format!(
                "{}Cleared: {} — {body}",
                self.emoji(":white_check_mark:"),
                title.to_lowercase()
            )
        } else {
            format!("{}{title} — {body}", self.emoji(":warning:"))
        }
    }

    fn transition(&self, doc: &Value) -> String {
        let kind = text(doc, &["type"]).unwrap_or("transition");
        let mut out = format!(
            "transition {} — agent {}",
            self.v(kind),
            self.agent(doc, text(doc, &["username"]), text(doc, &["agent_arn"]))
        );
        match (text(doc, &["from"]), text(doc, &["to"])) {
            (Some(f), Some(t)) => out.push_str(&format!(": {} → {}", self.v(f), self.v(t))),
            (None, Some(t)) => out.push_str(&format!(": {}", self.v(t))),
            _ => {}
        }
        if let Some(c) = text(doc, &["contact_id"]) {
            out.push_str(&format!(", contact {}", self.v(c)));
        }
        if let Some(q) = text(doc, &["queue"]) {
            out.push_str(&format!(", queue {}", self.v(q)));
        }
        if let Some(ms) = lookup(doc, &["duration_ms"]).and_then(Value::as_i64) {
            out.push_str(&format!(" after {}", duration(ms)));
        }
        out
    }

    fn contact(&self, doc: &Value, what: &str) -> String {
        let id = text(doc, &["contact_id"]).unwrap_or("unknown");
        let mut out = format!("contact {} {what}", self.v(id));
        let details: Vec<String> = [
            text(doc, &["timeline", "channel"]).map(|c| self.v(c)),
            text(doc, &["timeline", "queue"]).map(|q| format!("queue {}", self.v(q))),
            text(doc, &["timeline", "agent_username"]).map(|a| format!("agent {}", self.v(a))),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !details.is_empty() {
            out.push_str(" — ");
            out.push_str(&details.join(", "));
        }
        out
    }

    fn record(&self, doc: &Value) -> String {
        if let (Some(event), Some(arn)) = (text(doc, &["EventType"]), text(doc, &["AgentARN"])) {
            let username = text(doc, &["CurrentAgentSnapshot", "Configuration", "Username"]);
            let mut out = format!(
                "agent event {} — agent {}",
                self.v(event),
                self.agent(doc, username, Some(arn))
            );
            if let Some(s) = text(doc, &["CurrentAgentSnapshot", "AgentStatus", "Name"]) {
                out.push_str(&format!(", status {}", self.v(s)));
            }
            return out;
        }
        if let Some(detail) =
            lookup(doc, &["detail"]).filter(|_| text(doc, &["detail-type"]).is_some())
        {
            let event = text(detail, &["eventType"]).unwrap_or("event");
            let mut out = format!("contact event {}", self.v(event));
            if let Some(c) = text(detail, &["contactId"]) {
                out.push_str(&format!(" — contact {}", self.v(c)));
            }
            if let Some(ch) = text(detail, &["channel"]) {
                out.push_str(&format!(", {}", self.v(ch)));
            }
            return out;
        }
        if let Some(id) = text(doc, &["ContactId"]) {
            let details: Vec<String> = [
                text(doc, &["Channel"]).map(|c| self.v(c)),
                text(doc, &["InitiationMethod"]).map(|m| self.v(m)),
                text(doc, &["Queue", "Name"]).map(|q| format!("queue {}", self.v(q))),
                text(doc, &["Agent", "Username"]).map(|a| format!("agent {}", self.v(a))),
            ]
            .into_iter()
            .flatten()
            .collect();
            let mut out = format!("contact record {}", self.v(id));
            if !details.is_empty() {
                out.push_str(" — ");
                out.push_str(&details.join(", "));
            }
            return out;
        }
        self.fallback("record", doc)
    }

    fn dead_letter(&self, doc: &Value) -> String {
        let mut out = format!(
            "{}dead letter ({}",
            self.emoji(":x:"),
            self.v(text(doc, &["stage"]).unwrap_or("unknown stage"))
        );
        if let Some(s) = text(doc, &["sink"]) {
            out.push_str(&format!(", sink {}", self.v(s)));
        }
        if let Some(r) = text(doc, &["rule"]) {
            out.push_str(&format!(", rule {}", self.v(r)));
        }
        out.push(')');
        if let Some(m) = text(doc, &["errorMessage"]) {
            out.push_str(&format!(
                ": {}",
                self.v(&snippet(m.as_bytes(), SUMMARY_CHARS))
            ));
        }
        out
    }

    fn fallback(&self, what: &str, doc: &Value) -> String {
        let json = doc.to_string();
        format!(
            "{what}: {}",
            self.v(&snippet(json.as_bytes(), SUMMARY_CHARS))
        )
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use serde_json::json;

    use super::*;

    fn item(kind: ItemKind, payload: &Value) -> Item {
        Item {
            id: 1,
            rule: "long-hold".into(),
            sink: "supervisors".into(),
            key: "sb1-k".into(),
            kind,
            payload: Bytes::from(serde_json::to_vec(payload).unwrap()),
            event_ms: 0,
            created_ms: 0,
            attempts: 0,
        }
    }

    fn say(kind: ItemKind, payload: Value, style: Style) -> String {
        readable(&item(kind, &payload), Some(&payload), style)
    }

    /// An `AlertEvent` as the engine serializes it.
    fn long_hold(event: &str) -> Value {
        let mut alert = json!({
            "id": "long_hold:arn:aws:connect:us-east-1:1:instance/i/agent/a-1:c-1:1700000000000",
            "kind": "long_hold",
            "subject": "arn:aws:connect:us-east-1:1:instance/i/agent/a-1",
            "username": "jdoe",
            "contact_id": "c-1",
            "queue": "Sales",
            "since": "2023-11-14T22:13:20.000Z",
            "threshold_s": 300,
            "raised_at": "2023-11-14T22:19:32.000Z"
        });
        if event == "cleared" {
            alert["cleared_at"] = json!("2023-11-14T22:20:23.000Z");
        }
        json!({"event": event, "alert": alert})
    }

    #[test]
    fn alerts_read_like_a_sentence() {
        assert_eq!(
            say(ItemKind::AlertRaised, long_hold("raised"), Style::Slack),
            ":warning: Long hold — agent jdoe on hold for 6m 12s, queue Sales"
        );
        assert_eq!(
            say(ItemKind::AlertCleared, long_hold("cleared"), Style::Slack),
            ":white_check_mark: Cleared: long hold — agent jdoe was on hold for 7m 3s, queue Sales"
        );
        let mut named = long_hold("raised");
        named["agent_name"] = json!("Jane Doe");
        assert_eq!(
            say(ItemKind::AlertRaised, named, Style::Plain),
            "Long hold — agent Jane Doe (jdoe) on hold for 6m 12s, queue Sales"
        );
        let mut identity = long_hold("raised");
        identity["agent"] = json!({"FirstName": "Jane", "LastName": "Doe"});
        assert!(
            say(ItemKind::AlertRaised, identity, Style::Plain).contains("agent Jane Doe (jdoe)")
        );
    }

    #[test]
    fn other_alert_kinds_and_missing_fields() {
        let acw = json!({"event": "raised", "alert": {
            "kind": "long_acw", "subject": "arn:aws:connect:::agent/a-2",
            "since": "2024-01-01T00:00:00Z", "raised_at": "2024-01-01T00:03:05Z"}});
        assert_eq!(
            say(ItemKind::AlertRaised, acw, Style::Plain),
            "Long after-contact work — agent arn:aws:connect:::agent/a-2 in ACW for 3m 5s"
        );
        let status = json!({"event": "raised", "alert": {
            "kind": "long_status", "subject": "arn:x", "username": "amy", "status": "Lunch",
            "since": "2024-01-01T00:00:00Z", "raised_at": "2024-01-01T01:00:01Z"}});
        assert_eq!(
            say(ItemKind::AlertRaised, status, Style::Plain),
            "Long status — agent amy in Lunch for 1h 0m"
        );
        let queue = json!({"event": "raised", "alert": {
            "kind": "long_queue_wait", "subject": "Support", "queue": "Support",
            "since": "2024-01-01T00:00:00Z", "raised_at": "2024-01-01T00:02:00Z"}});
        assert_eq!(
            say(ItemKind::AlertRaised, queue, Style::Slack),
            ":warning: Long queue wait — queue Support: oldest contact waiting 2m"
        );
        assert_eq!(
            say(ItemKind::AlertRaised, json!({}), Style::Plain),
            "Alert alert — unknown"
        );
    }

    #[test]
    fn slack_text_escapes_what_the_data_holds() {
        let mut alert = long_hold("raised");
        alert["alert"]["queue"] = json!("<Sales & Co>");
        assert!(say(ItemKind::AlertRaised, alert, Style::Slack)
            .ends_with("queue &lt;Sales &amp; Co&gt;"));
    }

    #[test]
    fn other_kinds_get_one_compact_line() {
        assert_eq!(
            say(
                ItemKind::Transition,
                json!({"type": "hold_ended", "agent_arn": "arn:a", "username": "jdoe",
                       "contact_id": "c-1", "queue": "Sales", "at": "2024-01-01T00:00:00Z",
                       "duration_ms": 95000}),
                Style::Plain
            ),
            "transition hold_ended — agent jdoe, contact c-1, queue Sales after 1m 35s"
        );
        assert_eq!(
            say(
                ItemKind::ContactCompleted,
                json!({"type": "contact_completed", "contact_id": "c-9",
                       "timeline": {"channel": "VOICE", "queue": "Sales", "agent_username": "jdoe"}}),
                Style::Plain
            ),
            "contact c-9 completed — VOICE, queue Sales, agent jdoe"
        );
        assert_eq!(
            say(
                ItemKind::Record,
                json!({"ContactId": "c-3", "Channel": "CHAT", "InitiationMethod": "API",
                       "Queue": {"Name": "Help"}, "Agent": null}),
                Style::Plain
            ),
            "contact record c-3 — CHAT, API, queue Help"
        );
        assert_eq!(
            say(
                ItemKind::Record,
                json!({"EventType": "STATE_CHANGE", "AgentARN": "arn:a",
                       "CurrentAgentSnapshot": {"Configuration": {"Username": "jdoe"},
                                                "AgentStatus": {"Name": "Available"}}}),
                Style::Plain
            ),
            "agent event STATE_CHANGE — agent jdoe, status Available"
        );
        assert_eq!(
            say(
                ItemKind::DeadLetter,
                json!({"stage": "sink", "sink": "crm", "rule": "r", "errorMessage": "HTTP 400: bad"}),
                Style::Slack
            ),
            ":x: dead letter (sink, sink crm, rule r): HTTP 400: bad"
        );
        assert_eq!(
            say(ItemKind::MetricInterval, json!({"start": 1}), Style::Plain),
            "metric interval closed: {\"start\":1}"
        );
        let not_json = item(ItemKind::Record, &json!(1));
        assert_eq!(
            readable(&not_json, None, Style::Plain),
            "record item sb1-k (its payload is not JSON)"
        );
    }

    #[test]
    fn durations_are_short() {
        assert_eq!(duration(45_000), "45s");
        assert_eq!(duration(372_000), "6m 12s");
        assert_eq!(duration(300_000), "5m");
        assert_eq!(duration(3_720_000), "1h 2m");
        assert_eq!(duration(97_200_000), "1d 3h");
        assert_eq!(duration(-5), "0s");
    }
}
