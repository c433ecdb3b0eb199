//! Records keep their bytes: every record decoded from a published sample (bare, pretty
//! printed, or inside an envelope) carries exactly the bytes it arrived as, and the decode
//! output re-emits them; explicit nulls the models drop (an abandoned call's
//! `"Agent": null`, a LOGIN's null previous snapshot) survive. And the engine's view reads
//! the same values as the full model from every sample.

mod common;

use serde_json::Value;
use switchboard_model::decode::{one_line, Format};
use switchboard_model::envelope::decode_base64;
use switchboard_model::RecordKind;

use common::{decode, sample_files};

/// Every base64 payload in an envelope (`data`, `Data`, `rawData`), decoded.
fn payloads(v: &Value, out: &mut Vec<Vec<u8>>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("data" | "Data" | "rawData", Value::String(s)) => {
                        if let Ok(bytes) = decode_base64(s) {
                            out.push(bytes);
                        }
                    }
                    ("body" | "Body", Value::String(s)) => out.push(s.as_bytes().to_vec()),
                    _ => payloads(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| payloads(i, out)),
        _ => {}
    }
}

#[test]
fn every_sample_record_keeps_its_exact_bytes() {
    let mut checked = 0;
    for path in sample_files() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        let (ok, _) = decode(Format::Auto, &bytes);
        if ok.is_empty() {
            continue;
        }
        let whole = std::str::from_utf8(&bytes).unwrap().trim().as_bytes();
        let mut inner = Vec::new();
        payloads(&serde_json::from_slice(&bytes).unwrap(), &mut inner);
        for d in &ok {
            let exact = d.raw == whole || inner.iter().any(|p| d.raw == p.trim_ascii());
            assert!(
                exact,
                "{name}: a record's bytes are not the input's:\n{}",
                String::from_utf8_lossy(&d.raw)
            );
            // The decode output's `record` is those bytes (on one line).
            let line = serde_json::to_string(d).unwrap();
            let printed: Value = serde_json::from_str(&line).unwrap();
            assert_eq!(
                serde_json::to_vec(&printed["record"]).unwrap(),
                serde_json::to_vec(&serde_json::from_slice::<Value>(&d.raw).unwrap()).unwrap(),
                "{name}"
            );
            assert!(
                line.contains(std::str::from_utf8(&one_line(&d.raw)).unwrap()),
                "{name}: decode output does not hold the record's bytes"
            );
            // The view reads what the full model reads (via the model's own encoding).
            if let Ok(record) = d.record() {
                let again = serde_json::to_vec(&record).unwrap();
                let (back, bad) = decode(Format::Auto, &again);
                assert!(bad.is_empty(), "{name}");
                assert_eq!(d.view().unwrap(), back[0].view().unwrap(), "{name}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} sample records checked");
}

/// An abandoned call's contact record (`"Agent": null`, as real records have it) and a
/// LOGIN with a null previous snapshot, pretty-printed with an unknown field and numbers
/// written in ways a re-encoding would change.
const ABANDONED: &str = r#"{
  "AWSAccountId": "123456789012",
  "AWSContactTraceRecordFormatVersion": "2017-03-10",
  "Agent": null,
  "AgentConnectionAttempts": 0,
  "Attributes": {},
  "Channel": "VOICE",
  "ContactId": "5ca32fbd-8f92-46af-92a5-6b0f970f0efe",
  "CustomerEndpoint": {"Address": "+15555550100", "Type": "TELEPHONE_NUMBER"},
  "DisconnectTimestamp": "2022-04-08T15:01:10Z",
  "InitialContactId": null,
  "InitiationMethod": "INBOUND",
  "InitiationTimestamp": "2022-04-08T15:00:49Z",
  "LastUpdateTimestamp": "2022-04-08T15:02:00Z",
  "NextContactId": null,
  "Queue": {"ARN": "arn:aws:connect:us-east-1:123456789012:instance/i/queue/q", "Name": "Sales",
            "EnqueueTimestamp": "2022-04-08T15:00:52Z", "DequeueTimestamp": "2022-04-08T15:01:10Z",
            "Duration": 18},
  "Recording": null,
  "SomethingNew": {"nested": [1, 2.50, null]}
}"#;

const LOGIN: &str = r#"{"AWSAccountId":"123456789012","AgentARN":"arn:aws:connect:us-east-1:123456789012:instance/i/agent/a","CurrentAgentSnapshot":{"AgentStatus":{"ARN":"arn:s","Name":"Available","StartTimestamp":"2019-05-25T18:43:59.051Z"},"Configuration":{"AgentHierarchyGroups":null,"FirstName":"A","LastName":"B","RoutingProfile":null,"Username":"ab"},"Contacts":[]},"EventId":"e-1","EventTimestamp":"2019-05-25T18:43:59.051Z","EventType":"LOGIN","InstanceARN":"arn:i","PreviousAgentSnapshot":null,"Version":"2019-05-25"}"#;

#[test]
fn nulls_unknown_fields_and_number_spellings_survive() {
    for (text, kind) in [
        (ABANDONED, RecordKind::ContactRecord),
        (LOGIN, RecordKind::AgentEvent),
    ] {
        let (ok, bad) = decode(Format::Auto, text.as_bytes());
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(ok[0].kind, kind);
        assert_eq!(&ok[0].raw[..], text.as_bytes());
        let line = serde_json::to_string(&ok[0]).unwrap();
        assert!(!line.contains('\n'));
        for kept in [
            "\"Agent\":null",
            "\"Recording\":null",
            "\"Duration\":18",
            "2.50",
            "\"PreviousAgentSnapshot\":null",
            "\"RoutingProfile\":null",
        ] {
            if text.replace([' ', '\n'], "").contains(kept) {
                assert!(line.contains(kept), "{kept} lost in {line}");
            }
        }
        // Through envelopes too: a Kinesis Lambda event carries the same bytes.
        let data = switchboard_model::envelope::encode_base64(text.as_bytes());
        let lambda = format!(
            r#"{{"Records":[{{"kinesis":{{"partitionKey":"pk","sequenceNumber":"1","data":"{data}"}},"eventSource":"aws:kinesis","eventID":"shardId-000000000000:1"}}]}}"#
        );
        let (ok, bad) = decode(Format::Auto, lambda.as_bytes());
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(&ok[0].raw[..], text.as_bytes());
    }
}

#[test]
fn one_line_drops_only_whitespace_between_tokens() {
    let pretty = b"{\n  \"a\" : [1, 2.50],\n  \"b\": \"x \\\" y\\n\",\n  \"c\": null\n}";
    assert_eq!(
        &one_line(pretty)[..],
        b"{\"a\":[1,2.50],\"b\":\"x \\\" y\\n\",\"c\":null}"
    );
    let flat = b"{\"a\": 1}";
    assert_eq!(&one_line(flat)[..], flat);
}
