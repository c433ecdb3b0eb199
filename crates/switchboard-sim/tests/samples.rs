//! Golden shape test: simulated records carry every field of the published Connect
//! samples (`shared/connect/samples`), with the same timestamp precision.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use common::{config, run};
use serde_json::Value;
use switchboard_model::{ContactEventType, Record};

fn sample(name: &str) -> Value {
    // `SWITCHBOARD_SAMPLES`, or `shared/` beside the repository.
    let dir = std::env::var("SWITCHBOARD_SAMPLES")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/connect/samples")
        });
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Every key path of a JSON value (`a.b`, `a[].c`); nulls end a path.
fn paths(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.insert(p.clone());
                paths(v, &p, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                paths(item, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

fn path_set(value: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    paths(value, "", &mut out);
    out
}

/// Checks every string that looks like a timestamp under `value` has `frac` digits.
fn timestamps_have_precision(value: &Value, frac: usize, what: &str) {
    match value {
        Value::String(s)
            if s.len() >= 20 && s.as_bytes()[4] == b'-' && s.as_bytes()[10] == b'T' =>
        {
            let digits = s.find('.').map_or(0, |dot| s.len() - dot - 2);
            assert_eq!(digits, frac, "{what}: {s}");
        }
        Value::Object(map) => map
            .values()
            .for_each(|v| timestamps_have_precision(v, frac, what)),
        Value::Array(items) => items
            .iter()
            .for_each(|v| timestamps_have_precision(v, frac, what)),
        _ => {}
    }
}

#[test]
fn records_have_every_field_of_the_samples() {
    let delivered = run(config(20, 2, 21));
    let ours = |pick: &dyn Fn(&Record) -> bool| -> Vec<Value> {
        delivered
            .iter()
            .filter(|d| pick(&d.record))
            .map(|d| serde_json::from_slice(&d.json).unwrap())
            .collect()
    };

    // A recorded inbound voice CTR with ACW, as in the 2022 sample.
    let ctrs = ours(
        &|r| matches!(r, Record::ContactRecord(c) if c.agent.is_some() && c.recording.is_some()),
    );
    let want = path_set(&sample("ctr-voice-inbound-2022.json"));
    let ctr = ctrs.first().expect("a handled voice contact record");
    let missing: Vec<_> = want.difference(&path_set(ctr)).cloned().collect();
    assert!(missing.is_empty(), "contact record lacks {missing:?}");
    for c in &ctrs {
        timestamps_have_precision(c, 0, "contact record");
    }

    // A STATE_CHANGE with a contact in the snapshot, as in the ACW samples.
    let with_contacts = ours(&|r| {
        matches!(r, Record::AgentEvent(e) if e.current.as_ref().is_some_and(|c| !c.contacts().is_empty())
            && e.previous.as_ref().is_some_and(|c| !c.contacts().is_empty()))
    });
    let event = with_contacts.first().expect("an agent event with contacts");
    for name in [
        "agent-event-state-change-contact-ended.json",
        "agent-event-state-change-acw-cleared.json",
    ] {
        let missing: Vec<_> = path_set(&sample(name))
            .difference(&path_set(event))
            .cloned()
            .collect();
        assert!(
            missing.is_empty(),
            "agent event lacks fields of {name}: {missing:?}"
        );
    }
    for e in ours(&|r| matches!(r, Record::AgentEvent(_)))
        .iter()
        .take(2000)
    {
        timestamps_have_precision(e, 3, "agent event");
    }

    // CONNECTED_TO_AGENT detail as in the doc sample, inside a full envelope.
    let connected = ours(&|r| {
        matches!(r, Record::ContactEvent(e) if e.detail.event_type == ContactEventType::ConnectedToAgent
            && e.detail.queue_info.is_some())
    });
    let envelope = connected.first().expect("a CONNECTED_TO_AGENT event");
    let detail = &envelope["detail"];
    let missing: Vec<_> = path_set(&sample(
        "eventbridge-contact-connected-to-agent-detail-only.json",
    ))
    .difference(&path_set(detail))
    .cloned()
    .collect();
    assert!(missing.is_empty(), "contact event detail lacks {missing:?}");
    for key in [
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    ] {
        assert!(envelope.get(key).is_some(), "envelope lacks {key}");
    }
    assert_eq!(envelope["resources"].as_array().unwrap().len(), 2);
    timestamps_have_precision(&envelope["time"], 0, "envelope time");
    timestamps_have_precision(detail, 3, "contact event detail");
}
