//! Enrichment: a rule's lookups, run by the delivery worker just before a batch goes to
//! its sink.
//!
//! ```toml
//! [[rules]]
//! enrich = [{ lookup = "customers", key = "CustomerEndpoint.Address", into = "Customer", on_miss = "tag" }]
//! ```
//!
//! Each step takes a key from the item's JSON (a dotted field path), asks the lookup for
//! the keys of the whole batch at once (DynamoDB answers 100 a request; the lookup's cache
//! answers most), and adds the answer under a new top-level key. It never overwrites: if
//! the item already has the key, the item goes on unchanged and the conflict is logged
//! and counted (the seed's Lambda replaced the caller's number with the company name and
//! lost it). The answer is spliced in before the object's closing brace, so everything
//! else keeps its original bytes.
//!
//! Running here, not on the pipeline thread, is deliberate: the item is already durable
//! in the outbox, so a slow or failing lookup delays delivery but never ingest. A lookup
//! that fails is retried with the batch (backoff as for a sink); once the rule's attempts
//! are used up the item is dead-lettered with the reason. A miss follows the step's
//! `on_miss` policy.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchboard_io::lookups::Lookup;
use switchboard_io::problems::{join, Problems};
use switchboard_io::sinks::Item;

/// What to do with an item whose key the lookup does not have.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissPolicy {
    /// Deliver it as it is.
    #[default]
    Pass,
    /// Deliver it with `into` set to `{"miss": true, "key": KEY}` so the destination can
    /// tell "not a customer" from "not looked up".
    Tag,
    /// Do not deliver it (counted).
    Drop,
    /// Send it to the dead letters with the reason.
    DeadLetter,
}

/// One enrichment step of a rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrichStep {
    /// The `[[lookups]]` entry to ask.
    pub lookup: String,
    /// Dotted path of the key in the item's JSON, e.g. `CustomerEndpoint.Address` for a
    /// contact record, `record.CustomerEndpoint.Address` for a `contact_record_ready`
    /// trigger. Numbers and booleans are looked up as their JSON text.
    pub key: String,
    /// The new top-level key the answer is added under. An item that already has it is
    /// left alone: enrichment adds, it never overwrites.
    pub into: String,
    /// `pass` (default), `tag`, `drop` or `dead_letter`.
    #[serde(default)]
    pub on_miss: MissPolicy,
}

impl EnrichStep {
    pub fn check(&self, key: &str, lookups: &BTreeSet<String>, problems: &mut Problems) {
        if !lookups.contains(&self.lookup) {
            problems.push(
                join(key, "lookup"),
                format!("no [[lookups]] entry is named {:?}", self.lookup),
            );
        }
        if self.key.is_empty() || self.key.split('.').any(str::is_empty) {
            problems.push(
                join(key, "key"),
                "must be a dotted field path such as CustomerEndpoint.Address",
            );
        }
        if self.into.is_empty() || self.into.contains('"') || self.into.contains('\\') {
            problems.push(
                join(key, "into"),
                "must be a plain key name (no quotes or backslashes)",
            );
        }
    }
}

/// What enrichment made of one item.
#[derive(Debug, Clone, PartialEq)]
pub enum Enriched {
    /// Deliver these bytes.
    Ready(Bytes),
    /// Do not deliver (a miss with policy `drop`).
    Drop,
    /// Dead-letter with this reason.
    DeadLetter(String),
    /// A lookup failed in a way worth trying again.
    Retry(String),
}

/// Runs `steps` over `items` (one batch of one rule), asking each lookup once per step
/// for every key the batch holds. Returns one outcome per item, in order.
pub async fn enrich(
    steps: &[EnrichStep],
    lookups: &HashMap<String, Arc<dyn Lookup>>,
    items: &[Item],
) -> Vec<Enriched> {
    let mut out: Vec<Enriched> = items
        .iter()
        .map(|i| Enriched::Ready(i.payload.clone()))
        .collect();
    for step in steps {
        let Some(lookup) = lookups.get(&step.lookup) else {
            // The config check names every lookup a rule uses; this is a bug, not input.
            let reason = format!("lookup {:?} is not configured", step.lookup);
            return items
                .iter()
                .map(|_| Enriched::DeadLetter(reason.clone()))
                .collect();
        };
        // The key of every item still going, and whether it already has `into`.
        let mut keys: Vec<Option<String>> = Vec::with_capacity(items.len());
        for state in &mut out {
            let key = match state {
                Enriched::Ready(payload) => match serde_json::from_slice::<Value>(payload) {
                    Ok(Value::Object(map)) => {
                        if map.contains_key(&step.into) {
                            tracing::warn!(
                                into = %step.into,
                                "enrichment skipped: the item already has this key, and enrichment never overwrites"
                            );
                            switchboard_telemetry::enrich_conflict(&step.lookup);
                            None
                        } else {
                            Some(field(&Value::Object(map), &step.key))
                        }
                    }
                    Ok(_) => {
                        *state = Enriched::DeadLetter(format!(
                            "cannot enrich with {}: the item is not a JSON object",
                            step.lookup
                        ));
                        None
                    }
                    Err(e) => {
                        *state = Enriched::DeadLetter(format!(
                            "cannot enrich with {}: the item is not valid JSON ({e})",
                            step.lookup
                        ));
                        None
                    }
                },
                _ => None,
            };
            keys.push(key.map(|k| k.unwrap_or_default()));
        }
        let wanted: Vec<String> = keys
            .iter()
            .flatten()
            .filter(|k| !k.is_empty())
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let answers = if wanted.is_empty() {
            HashMap::new()
        } else {
            match lookup.get_many(&wanted).await {
                Ok(a) => a,
                Err(e) => {
                    let outcome = failed(&e);
                    return out
                        .into_iter()
                        .map(|s| match s {
                            Enriched::Ready(_) => outcome.clone(),
                            other => other,
                        })
                        .collect();
                }
            }
        };
        for (state, key) in out.iter_mut().zip(keys) {
            let (Enriched::Ready(payload), Some(key)) = (&*state, key) else {
                continue;
            };
            let value = match answers.get(&key) {
                Some(v) => v.clone(),
                None => match step.on_miss {
                    MissPolicy::Pass => continue,
                    MissPolicy::Tag => serde_json::json!({"miss": true, "key": key}),
                    MissPolicy::Drop => {
                        *state = Enriched::Drop;
                        continue;
                    }
                    MissPolicy::DeadLetter => {
                        let shown = if key.is_empty() {
                            "(no key in the item)".into()
                        } else {
                            key
                        };
                        *state = Enriched::DeadLetter(format!(
                            "{} has no entry for {} = {}",
                            step.lookup,
                            step.key,
                            switchboard_telemetry::mask::mask_phone(&shown)
                        ));
                        continue;
                    }
                },
            };
            *state = match splice(payload, &step.into, &value) {
                Some(bytes) => Enriched::Ready(bytes),
                None => Enriched::DeadLetter("cannot enrich: the item is not a JSON object".into()),
            };
        }
    }
    out
}

pub use switchboard_io::aws::connect::CONTACT_ATTRIBUTES_LOOKUP;

/// What a failed lookup makes of the items that needed it: retried later when that can
/// help, else dead-lettered.
fn failed(e: &switchboard_io::lookups::LookupError) -> Enriched {
    if e.retryable {
        Enriched::Retry(e.to_string())
    } else {
        Enriched::DeadLetter(e.to_string())
    }
}

/// The key a rule with `contact_attributes = true` adds.
pub const CONTACT_ATTRIBUTES_KEY: &str = "ContactAttributes";

/// What a rule's contact-attributes step needs of one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributesNeed {
    /// The item already has attributes (a contact record, a trigger with its record) or
    /// `ContactAttributes`, has no contact id, or is not a JSON object: leave it as it is.
    Skip,
    /// Look up the contact: its own id (the store keeps its record by it) and its
    /// initial contact id (what GetContactAttributes is keyed by).
    Contact { id: String, initial: String },
}

fn text_at<'a>(doc: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut at = doc;
    for part in path {
        at = at.get(part)?;
    }
    at.as_str().filter(|s| !s.is_empty())
}

/// What the contact-attributes step needs for `payload`: contact events (whole or bare
/// `detail`), contact records, transitions and triggers all name their contact.
pub fn attributes_need(payload: &[u8]) -> AttributesNeed {
    let Ok(doc @ Value::Object(_)) = serde_json::from_slice::<Value>(payload) else {
        return AttributesNeed::Skip;
    };
    let has_attributes = doc.get(CONTACT_ATTRIBUTES_KEY).is_some()
        || doc.get("Attributes").is_some_and(Value::is_object)
        || doc
            .get("record")
            .and_then(|r| r.get("Attributes"))
            .is_some_and(Value::is_object);
    if has_attributes {
        return AttributesNeed::Skip;
    }
    let first = |paths: &[&[&str]]| paths.iter().find_map(|p| text_at(&doc, p));
    let id = first(&[
        &["detail", "contactId"],
        &["contactId"],
        &["ContactId"],
        &["record", "ContactId"],
        &["contact_id"],
    ]);
    let Some(id) = id else {
        return AttributesNeed::Skip;
    };
    let initial = first(&[
        &["detail", "initialContactId"],
        &["initialContactId"],
        &["InitialContactId"],
        &["record", "InitialContactId"],
        &["initial_contact_id"],
    ])
    .unwrap_or(id);
    AttributesNeed::Contact {
        id: id.to_owned(),
        initial: initial.to_owned(),
    }
}

/// The contact-attributes step over a batch: each item that needs them gets its
/// contact's attributes under [`CONTACT_ATTRIBUTES_KEY`], from `stored` (attributes of
/// contact records already stored, by contact id) or else from `lookup` (by initial
/// contact id; cached and rate-limited by the lookup). A contact Connect does not know
/// leaves the item as it is; a failing lookup retries the batch (or dead-letters it when
/// retrying cannot help).
pub async fn contact_attributes(
    lookup: &dyn Lookup,
    stored: &HashMap<String, Value>,
    items: &[Item],
) -> Vec<Enriched> {
    let needs: Vec<AttributesNeed> = items.iter().map(|i| attributes_need(&i.payload)).collect();
    let wanted: Vec<String> = needs
        .iter()
        .filter_map(|n| match n {
            AttributesNeed::Contact { id, initial } if !stored.contains_key(id) => {
                Some(initial.clone())
            }
            _ => None,
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let answers = if wanted.is_empty() {
        HashMap::new()
    } else {
        match lookup.get_many(&wanted).await {
            Ok(a) => a,
            Err(e) => {
                let outcome = failed(&e);
                return items
                    .iter()
                    .zip(&needs)
                    .map(|(i, n)| match n {
                        AttributesNeed::Skip => Enriched::Ready(i.payload.clone()),
                        _ => outcome.clone(),
                    })
                    .collect();
            }
        }
    };
    items
        .iter()
        .zip(needs)
        .map(|(item, need)| {
            let AttributesNeed::Contact { id, initial } = need else {
                switchboard_telemetry::enrich_skipped(CONTACT_ATTRIBUTES_LOOKUP);
                return Enriched::Ready(item.payload.clone());
            };
            let value = match stored.get(&id) {
                Some(v) => {
                    switchboard_telemetry::enrich_skipped(CONTACT_ATTRIBUTES_LOOKUP);
                    v
                }
                None => match answers.get(&initial) {
                    Some(v) => v,
                    None => return Enriched::Ready(item.payload.clone()),
                },
            };
            match splice(&item.payload, CONTACT_ATTRIBUTES_KEY, value) {
                Some(bytes) => Enriched::Ready(bytes),
                None => Enriched::DeadLetter("cannot enrich: the item is not a JSON object".into()),
            }
        })
        .collect()
}

/// The value at a dotted path, as the text a lookup is keyed by (`Some("")`: absent).
fn field(doc: &Value, path: &str) -> Option<String> {
    let mut at = doc;
    for part in path.split('.') {
        at = match at {
            Value::Object(m) => match m.get(part) {
                Some(v) => v,
                None => return Some(String::new()),
            },
            Value::Array(a) => match part.parse::<usize>().ok().and_then(|i| a.get(i)) {
                Some(v) => v,
                None => return Some(String::new()),
            },
            _ => return Some(String::new()),
        };
    }
    Some(match at {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    })
}

/// `payload` (a JSON object) with `"into": value` added before its closing brace; every
/// other byte stays as it was. `None` if the payload does not end like an object.
pub fn splice(payload: &[u8], into: &str, value: &Value) -> Option<Bytes> {
    let end = payload.iter().rposition(|b| !b.is_ascii_whitespace())?;
    if payload[end] != b'}' {
        return None;
    }
    let start = payload.iter().position(|b| !b.is_ascii_whitespace())?;
    if payload[start] != b'{' {
        return None;
    }
    let empty = payload[start + 1..end].iter().all(u8::is_ascii_whitespace);
    let mut out = Vec::with_capacity(payload.len() + into.len() + 64);
    out.extend_from_slice(&payload[..end]);
    if !empty {
        out.push(b',');
    }
    serde_json::to_writer(&mut out, into).ok()?;
    out.push(b':');
    serde_json::to_writer(&mut out, value).ok()?;
    out.extend_from_slice(&payload[end..]);
    Some(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_adds_a_key_and_keeps_every_other_byte() {
        let raw = br#"{"B": null, "A":1.50,"x":{"y":[1,2]}}"#;
        let out = splice(raw, "Customer", &serde_json::json!({"company": "Acme"})).unwrap();
        assert_eq!(
            &out[..],
            br#"{"B": null, "A":1.50,"x":{"y":[1,2]},"Customer":{"company":"Acme"}}"#
        );
        assert_eq!(
            &splice(b" {} \n", "k", &Value::Null).unwrap()[..],
            b" {\"k\":null} \n"
        );
        assert!(splice(b"[1]", "k", &Value::Null).is_none());
    }

    use switchboard_io::lookups::LookupError;

    /// A table in memory (a stand-in for a lookup: what is tested here is the policy
    /// around it, not a table).
    struct Table(HashMap<String, Value>, Option<LookupError>);

    #[async_trait::async_trait]
    impl Lookup for Table {
        fn name(&self) -> &str {
            "customers"
        }
        async fn get_many(&self, keys: &[String]) -> Result<HashMap<String, Value>, LookupError> {
            if let Some(e) = &self.1 {
                return Err(e.clone());
            }
            Ok(keys
                .iter()
                .filter_map(|k| self.0.get(k).map(|v| (k.clone(), v.clone())))
                .collect())
        }
    }

    fn item(payload: &str) -> Item {
        Item {
            id: 1,
            rule: "r".into(),
            sink: "s".into(),
            key: "k".into(),
            kind: switchboard_io::sinks::ItemKind::Record,
            payload: Bytes::copy_from_slice(payload.as_bytes()),
            event_ms: 0,
            created_ms: 0,
            attempts: 0,
        }
    }

    fn run(on_miss: MissPolicy, error: Option<LookupError>, payloads: &[&str]) -> Vec<Enriched> {
        let table = Table(
            HashMap::from([("+1555".to_owned(), serde_json::json!({"company": "Acme"}))]),
            error,
        );
        let lookups: HashMap<String, Arc<dyn Lookup>> =
            HashMap::from([("customers".to_owned(), Arc::new(table) as Arc<dyn Lookup>)]);
        let step = EnrichStep {
            lookup: "customers".into(),
            key: "CustomerEndpoint.Address".into(),
            into: "Customer".into(),
            on_miss,
        };
        let items: Vec<Item> = payloads.iter().map(|p| item(p)).collect();
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(enrich(&[step], &lookups, &items))
    }

    const HIT: &str = r#"{"CustomerEndpoint": {"Address": "+1555"}, "x": null}"#;
    const MISS: &str = r#"{"CustomerEndpoint": {"Address": "+1999"}}"#;

    #[test]
    fn hits_are_added_and_misses_follow_their_policy() {
        let out = run(MissPolicy::Pass, None, &[HIT, MISS]);
        assert_eq!(
            out[0],
            Enriched::Ready(Bytes::from_static(
                br#"{"CustomerEndpoint": {"Address": "+1555"}, "x": null,"Customer":{"company":"Acme"}}"#
            ))
        );
        assert_eq!(out[1], Enriched::Ready(Bytes::from_static(MISS.as_bytes())));
        let tagged = run(MissPolicy::Tag, None, &[MISS]);
        assert_eq!(
            tagged[0],
            Enriched::Ready(Bytes::from_static(
                br#"{"CustomerEndpoint": {"Address": "+1999"},"Customer":{"key":"+1999","miss":true}}"#
            ))
        );
        assert_eq!(run(MissPolicy::Drop, None, &[MISS])[0], Enriched::Drop);
        let Enriched::DeadLetter(reason) = &run(MissPolicy::DeadLetter, None, &[MISS])[0] else {
            panic!("a miss with dead_letter is dead-lettered")
        };
        assert!(reason.contains("customers has no entry"), "{reason}");
        assert!(!reason.contains("+1999"), "the number is masked: {reason}");
    }

    #[test]
    fn an_existing_key_is_never_overwritten() {
        let has = r#"{"CustomerEndpoint": {"Address": "+1555"}, "Customer": "mine"}"#;
        assert_eq!(
            run(MissPolicy::Pass, None, &[has])[0],
            Enriched::Ready(Bytes::copy_from_slice(has.as_bytes()))
        );
    }

    #[test]
    fn failed_lookups_retry_or_dead_letter_by_kind_and_bad_items_dead_letter() {
        let failure = |retryable| LookupError {
            lookup: "customers".into(),
            reason: "throttled".into(),
            retryable,
        };
        assert!(matches!(
            run(MissPolicy::Pass, Some(failure(true)), &[HIT])[0],
            Enriched::Retry(_)
        ));
        assert!(matches!(
            run(MissPolicy::Pass, Some(failure(false)), &[HIT])[0],
            Enriched::DeadLetter(_)
        ));
        assert!(matches!(
            run(MissPolicy::Pass, None, &["not json"])[0],
            Enriched::DeadLetter(_)
        ));
    }

    #[test]
    fn field_paths() {
        let doc = serde_json::json!({"CustomerEndpoint": {"Address": "+14155550123"}, "n": 5, "a": [{"b": true}]});
        assert_eq!(
            field(&doc, "CustomerEndpoint.Address").unwrap(),
            "+14155550123"
        );
        assert_eq!(field(&doc, "n").unwrap(), "5");
        assert_eq!(field(&doc, "a.0.b").unwrap(), "true");
        assert_eq!(field(&doc, "missing.x").unwrap(), "");
    }

    /// A lookup that records the keys it was asked.
    struct Asked(HashMap<String, Value>, std::sync::Mutex<Vec<String>>);

    #[async_trait::async_trait]
    impl Lookup for Asked {
        fn name(&self) -> &str {
            CONTACT_ATTRIBUTES_LOOKUP
        }
        async fn get_many(&self, keys: &[String]) -> Result<HashMap<String, Value>, LookupError> {
            self.1.lock().unwrap().extend(keys.iter().cloned());
            Ok(keys
                .iter()
                .filter_map(|k| self.0.get(k).map(|v| (k.clone(), v.clone())))
                .collect())
        }
    }

    #[tokio::test]
    async fn contact_attributes_are_asked_only_for_items_without_them() {
        let lookup = Asked(
            [
                ("init-1".to_string(), serde_json::json!({"tier": "gold"})),
                ("c-3".to_string(), serde_json::json!({"tier": "bronze"})),
            ]
            .into(),
            Default::default(),
        );
        let stored: HashMap<String, Value> =
            [("c-5".to_string(), serde_json::json!({"from": "record"}))].into();
        let payloads = [
            // A contact event of a transferred contact: asked by its initial contact id.
            r#"{"detail":{"contactId":"c-1","initialContactId":"init-1","eventType":"DISCONNECTED"}}"#,
            // A contact record brought its attributes: not asked.
            r#"{"ContactId":"c-2","Attributes":{"tier":"silver"}}"#,
            // A bare detail, no transfer: asked by its own id.
            r#"{"contactId":"c-3","eventType":"CONNECTED_TO_AGENT"}"#,
            // A trigger carrying its record with attributes: not asked.
            r#"{"contact_id":"c-4","record":{"ContactId":"c-4","Attributes":{}}}"#,
            // The contact's record is stored already: answered from it, not asked.
            r#"{"detail":{"contactId":"c-5"}}"#,
            // Never overwritten.
            r#"{"contactId":"c-6","ContactAttributes":{"mine":"1"}}"#,
            // Connect does not know it: delivered as it is.
            r#"{"contactId":"c-7"}"#,
        ];
        let items: Vec<Item> = payloads.iter().map(|p| item(p)).collect();
        let out = contact_attributes(&lookup, &stored, &items).await;
        let asked = lookup.1.lock().unwrap().clone();
        assert_eq!(asked, ["c-3", "c-7", "init-1"]);
        let text = |e: &Enriched| match e {
            Enriched::Ready(b) => String::from_utf8(b.to_vec()).unwrap(),
            other => panic!("{other:?}"),
        };
        assert!(text(&out[0]).ends_with(r#","ContactAttributes":{"tier":"gold"}}"#));
        assert_eq!(text(&out[1]), payloads[1]);
        assert!(text(&out[2]).ends_with(r#","ContactAttributes":{"tier":"bronze"}}"#));
        assert_eq!(text(&out[3]), payloads[3]);
        assert!(text(&out[4]).ends_with(r#","ContactAttributes":{"from":"record"}}"#));
        assert_eq!(text(&out[5]), payloads[5]);
        assert_eq!(text(&out[6]), payloads[6]);
    }

    #[tokio::test]
    async fn a_failing_attributes_lookup_retries_only_the_items_that_needed_it() {
        let table = Table(
            HashMap::new(),
            Some(LookupError {
                lookup: CONTACT_ATTRIBUTES_LOOKUP.into(),
                reason: "throttled".into(),
                retryable: true,
            }),
        );
        let items = [
            item(r#"{"contactId":"c-1"}"#),
            item(r#"{"ContactId":"c-2","Attributes":{}}"#),
        ];
        let out = contact_attributes(&table, &HashMap::new(), &items).await;
        assert!(matches!(out[0], Enriched::Retry(_)), "{out:?}");
        assert!(matches!(out[1], Enriched::Ready(_)), "{out:?}");
    }
}
