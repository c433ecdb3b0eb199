//! Routing rules: which items leave the box, to which sinks, through which enrichment.
//!
//! ```toml
//! [[rules]]
//! name = "crm-on-disconnect"
//! kinds = ["record"]                 # what to look at (default: every kind)
//! streams = ["contact_event"]        # for records: which Connect stream
//! match = { detail = { eventType = ["DISCONNECTED"] } }   # EventBridge event pattern
//! sinks = ["crm"]
//! ```
//!
//! The pipeline thread offers every [`Routable`] item (a record as received, a transition,
//! a trigger, an alert, a closed metric interval) to every rule; each rule that matches
//! emits one outbox entry per sink it names, written in the same store transaction as the
//! engine's changes. Matching is an EventBridge event pattern ([`pattern`]) over the item's
//! JSON, plus a virtual top-level `switchboard` object with fields every kind shares
//! (`kind`, `stream`, `channel`, `queue`, `dialled_number`, `contact_id`, `agent`), so
//! one rule can say "voice contacts of the Sales queue" whatever kind it looks at.
//! The shortcuts `kinds`, `streams`, `queues`, `channels` and `dialled_numbers` are the
//! same as a pattern on those fields.
//!
//! Enrichment steps are carried with the entry and run by the delivery worker, so a slow
//! lookup never holds the pipeline thread (see [`crate::enrich`]).

pub mod pattern;
mod route;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use switchboard_io::problems::{join, Problems};
use switchboard_io::sinks::ItemKind;

pub use pattern::Pattern;
pub use route::{idempotency_key, Routable, Routed};

use crate::enrich::EnrichStep;

/// `[[rules]]`: one routing rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Unique name, used in the outbox, metrics, dead letters and idempotency keys: keep
    /// it stable (renaming a rule re-sends what its items' keys covered).
    pub name: String,
    /// Item kinds the rule looks at: `record` (a Connect record exactly as received),
    /// `transition`, `contact_completed`, `contact_record_ready`, `alert_raised`,
    /// `alert_cleared`, `metric_interval`. Default: all of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<String>,
    /// For `record` items: which streams (`contact_record`, `agent_event`,
    /// `contact_event`). Default: all three.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub streams: Vec<String>,
    /// Only items of these queues (by name).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queues: Vec<String>,
    /// Only items of these channels (`VOICE`, `CHAT`, `TASK`, `EMAIL`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<String>,
    /// Only contacts to these dialled numbers (the contact record's
    /// `SystemEndpoint.Address`), to tell business lines apart.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dialled_numbers: Vec<String>,
    /// An EventBridge event pattern over the item's JSON (and the virtual `switchboard`
    /// object): exact values, `prefix`, `suffix`, `anything-but`, `exists`, `numeric`,
    /// `equals-ignore-case`, `wildcard`, `cidr`, `$or`.
    #[serde(default, rename = "match", skip_serializing_if = "Option::is_none")]
    pub pattern: Option<serde_json::Value>,
    /// Enrichment steps run before delivery, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enrich: Vec<EnrichStep>,
    /// Before delivery (and before `enrich`), add the contact's attributes under
    /// `ContactAttributes`, asked of Amazon Connect (GetContactAttributes; needs a
    /// `[connect]` section), for items that do not carry them: contact events above all.
    /// Skipped for an item that already has attributes (a contact record, or a trigger
    /// with its record) and answered from the store when the contact's record has
    /// arrived; answers are cached, the calls rate-limited (see `[connect]`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub contact_attributes: bool,
    /// Sinks (by name) every matching item goes to.
    pub sinks: Vec<String>,
}

impl RuleConfig {
    /// The seed's post-contact rule: disconnected voice contacts to a CRM webhook.
    pub fn example() -> Self {
        RuleConfig {
            name: "crm-on-disconnect".into(),
            kinds: vec!["record".into()],
            streams: vec!["contact_event".into()],
            queues: Vec::new(),
            channels: vec!["VOICE".into()],
            dialled_numbers: Vec::new(),
            pattern: Some(serde_json::json!({"detail": {"eventType": ["DISCONNECTED"]}})),
            enrich: Vec::new(),
            contact_attributes: false,
            sinks: vec!["crm".into()],
        }
    }

    /// Checks what a parsed rule can still get wrong; `sinks` and `lookups` are the
    /// configured names.
    pub fn check(
        &self,
        key: &str,
        sinks: &BTreeSet<String>,
        lookups: &BTreeSet<String>,
        problems: &mut Problems,
    ) {
        if !valid_name(&self.name) {
            problems.push(
                join(key, "name"),
                "must be 1 to 100 characters of letters, digits, '-', '_' or '.'",
            );
        }
        for (i, kind) in self.kinds.iter().enumerate() {
            if ItemKind::parse(kind).is_none_or(|k| k == ItemKind::DeadLetter) {
                problems.push(
                    format!("{key}.kinds[{i}]"),
                    format!("unknown kind {kind:?}, expected one of {}", kind_names()),
                );
            }
        }
        for (i, stream) in self.streams.iter().enumerate() {
            if !STREAMS.contains(&stream.as_str()) {
                problems.push(
                    format!("{key}.streams[{i}]"),
                    format!(
                        "unknown stream {stream:?}, expected one of {}",
                        STREAMS.join(", ")
                    ),
                );
            }
        }
        if !self.streams.is_empty()
            && !self.kinds.is_empty()
            && !self.kinds.iter().any(|k| k == "record")
        {
            problems.push(
                join(key, "streams"),
                "only records have a stream: add \"record\" to kinds, or drop streams",
            );
        }
        if let Some(pattern) = &self.pattern {
            for e in Pattern::check(pattern) {
                let at = if e.path.is_empty() {
                    join(key, "match")
                } else {
                    format!("{key}.match.{}", e.path)
                };
                problems.push(at, e.reason);
            }
        }
        if self.sinks.is_empty() {
            problems.push(join(key, "sinks"), "name at least one sink");
        }
        for (i, sink) in self.sinks.iter().enumerate() {
            if !sinks.contains(sink) {
                problems.push(
                    format!("{key}.sinks[{i}]"),
                    format!("no [[sinks]] entry is named {sink:?}"),
                );
            }
        }
        for (i, step) in self.enrich.iter().enumerate() {
            step.check(&format!("{key}.enrich[{i}]"), lookups, problems);
        }
    }
}

/// The streams a `record` item can come from.
pub const STREAMS: &[&str] = &["contact_record", "agent_event", "contact_event"];

fn kind_names() -> String {
    ItemKind::ALL
        .iter()
        .filter(|k| **k != ItemKind::DeadLetter)
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Names of rules, sinks and lookups.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A rule ready to match.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    /// `None`: every kind.
    kinds: Option<BTreeSet<ItemKind>>,
    pattern: Option<Pattern>,
    pub enrich: Vec<EnrichStep>,
    /// Add the contact's attributes before delivery (see [`RuleConfig`]).
    pub contact_attributes: bool,
    pub sinks: Vec<String>,
}

impl Rule {
    /// Compiles a checked rule (the shortcuts become one pattern with the `match`).
    pub fn compile(config: &RuleConfig) -> Result<Rule, String> {
        let kinds = if config.kinds.is_empty() {
            None
        } else {
            let mut set = BTreeSet::new();
            for k in &config.kinds {
                set.insert(ItemKind::parse(k).ok_or_else(|| format!("unknown kind {k:?}"))?);
            }
            Some(set)
        };
        let mut pattern = match &config.pattern {
            Some(serde_json::Value::Object(map)) => map.clone(),
            Some(_) => return Err("match must be a table".into()),
            None => serde_json::Map::new(),
        };
        let mut meta = match pattern.remove("switchboard") {
            Some(serde_json::Value::Object(m)) => m,
            Some(_) => return Err("match.switchboard must be a table".into()),
            None => serde_json::Map::new(),
        };
        for (field, values) in [
            ("stream", &config.streams),
            ("queue", &config.queues),
            ("channel", &config.channels),
            ("dialled_number", &config.dialled_numbers),
        ] {
            if values.is_empty() {
                continue;
            }
            let list = serde_json::Value::from(values.clone());
            if meta.contains_key(field) {
                return Err(format!(
                    "{field} is given both as a shortcut and in match.switchboard: keep one"
                ));
            }
            let combined = list;
            meta.insert(field.to_owned(), combined);
        }
        if !meta.is_empty() {
            pattern.insert("switchboard".into(), serde_json::Value::Object(meta));
        }
        let pattern = if pattern.is_empty() {
            None
        } else {
            Some(
                Pattern::compile(&serde_json::Value::Object(pattern))
                    .map_err(|e| format!("match: {e}"))?,
            )
        };
        Ok(Rule {
            name: config.name.clone(),
            kinds,
            pattern,
            enrich: config.enrich.clone(),
            contact_attributes: config.contact_attributes,
            sinks: config.sinks.clone(),
        })
    }

    /// Whether the rule looks at items of `kind` at all.
    pub fn wants(&self, kind: ItemKind) -> bool {
        self.kinds.as_ref().is_none_or(|k| k.contains(&kind))
    }

    /// Whether the rule takes the item whose match document is `doc`.
    pub fn matches(&self, doc: &serde_json::Value) -> bool {
        self.pattern.as_ref().is_none_or(|p| p.matches(doc))
    }

    /// Whether matching needs the item's JSON parsed (a rule without a pattern takes
    /// every item of its kinds).
    pub fn needs_document(&self) -> bool {
        self.pattern.is_some()
    }
}

/// Every rule, compiled.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    rules: Vec<Rule>,
}

impl Rules {
    pub fn compile(configs: &[RuleConfig]) -> Result<Rules, String> {
        let rules = configs
            .iter()
            .map(|c| Rule::compile(c).map_err(|e| format!("rule {}: {e}", c.name)))
            .collect::<Result<_, _>>()?;
        Ok(Rules { rules })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter()
    }

    pub fn get(&self, name: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.name == name)
    }

    /// Whether any rule looks at items of `kind` (so the pipeline builds them only then).
    pub fn wants(&self, kind: ItemKind) -> bool {
        self.rules.iter().any(|r| r.wants(kind))
    }
}
