//! Property tests: decoders never panic, whatever the bytes; records round-trip.

mod common;

use proptest::prelude::*;
use serde_json::Value;
use switchboard_model::decode::Format;
use switchboard_model::{RecordKind, RecordView, SequenceNumber, Timestamp};

use common::{decode, sample_files};

const FORMATS: [Format; 9] = [
    Format::Auto,
    Format::Json,
    Format::Kinesis,
    Format::KinesisLambda,
    Format::FirehoseTransform,
    Format::FirehoseHttp,
    Format::FirehoseError,
    Format::EventBridge,
    Format::Sqs,
];

fn samples() -> Vec<Vec<u8>> {
    sample_files()
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect()
}

/// A byte-level edit: flip, insert, delete, or cut the input short.
#[derive(Debug, Clone)]
enum Edit {
    Set(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        if bytes.is_empty() {
            break;
        }
        let n = bytes.len();
        match *e {
            Edit::Set(i, b) => bytes[i % n] = b,
            Edit::Insert(i, b) => bytes.insert(i % (n + 1), b),
            Edit::Delete(i) => {
                bytes.remove(i % n);
            }
            Edit::Truncate(i) => bytes.truncate(i % n),
        }
    }
    bytes
}

fn edit() -> impl Strategy<Value = Edit> {
    let byte = prop_oneof![
        any::<u8>(),
        prop::sample::select(b"{}[]\":,\\\n 0aZ".to_vec())
    ];
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<usize>(), byte).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Delete),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

/// Changes one JSON value somewhere in the tree, keeping the document valid JSON.
fn mutate_json(v: &mut Value, path: &[usize], replacement: &Value) {
    let Some((&first, rest)) = path.split_first() else {
        *v = replacement.clone();
        return;
    };
    match v {
        Value::Object(m) if !m.is_empty() => {
            let key = m.keys().nth(first % m.len()).unwrap().clone();
            if rest.is_empty() && first % 3 == 0 {
                m.remove(&key);
            } else if rest.is_empty() && first % 3 == 1 {
                m.insert(format!("Unknown{first}"), replacement.clone());
            } else {
                mutate_json(m.get_mut(&key).unwrap(), rest, replacement);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            let n = a.len();
            mutate_json(&mut a[first % n], rest, replacement);
        }
        other => *other = replacement.clone(),
    }
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        Just(Value::String("2024-02-29T12:00:00.123Z".into())),
        Just(Value::String("VOICE".into())),
        Just(serde_json::json!({"ARN": "x", "Name": null})),
        Just(serde_json::json!([])),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512), f in 0usize..9) {
        let _ = decode(FORMATS[f], &bytes);
    }

    #[test]
    fn views_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512), detail_only in any::<bool>()) {
        for kind in [RecordKind::AgentEvent, RecordKind::ContactRecord, RecordKind::ContactEvent] {
            let _ = RecordView::parse(kind, detail_only, &bytes);
        }
    }

    #[test]
    fn views_of_damaged_samples_never_panic(s in any::<prop::sample::Index>(), edits in prop::collection::vec(edit(), 1..6), detail_only in any::<bool>()) {
        let all = samples();
        let bytes = apply(all[s.index(all.len())].clone(), &edits);
        for kind in [RecordKind::AgentEvent, RecordKind::ContactRecord, RecordKind::ContactEvent] {
            let _ = RecordView::parse(kind, detail_only, &bytes);
        }
    }

    #[test]
    fn damaged_samples_never_panic(s in any::<prop::sample::Index>(), edits in prop::collection::vec(edit(), 1..6), f in 0usize..9) {
        let all = samples();
        let bytes = apply(all[s.index(all.len())].clone(), &edits);
        let _ = decode(FORMATS[f], &bytes);
        // Also the same damage inside an envelope and under gzip.
        let wrapped = format!(r#"{{"requestId":"r","records":[{{"data":"{}"}}]}}"#, switchboard_model::envelope::encode_base64(&bytes));
        let _ = decode(Format::Auto, wrapped.as_bytes());
    }

    #[test]
    fn records_round_trip_through_their_models(
        s in any::<prop::sample::Index>(),
        path in prop::collection::vec(any::<usize>(), 1..5),
        leaf in json_leaf(),
    ) {
        let all = samples();
        let Ok(mut v) = serde_json::from_slice::<Value>(&all[s.index(all.len())]) else { return Ok(()) };
        mutate_json(&mut v, &path, &leaf);
        let bytes = serde_json::to_vec(&v).unwrap();
        let (ok, _) = decode(Format::Auto, &bytes);
        for d in ok {
            // The view validated; the full model reads more fields and may refuse.
            let Ok(record) = d.record() else { continue };
            let again = serde_json::to_vec(&record).unwrap();
            let (back, bad) = decode(Format::Auto, &again);
            prop_assert!(bad.is_empty(), "{:?}", bad);
            let back_record = back[0].record().unwrap();
            prop_assert_eq!(&back_record, &record);
            prop_assert_eq!(serde_json::to_vec(&back_record).unwrap(), again);
            // The view and the model read the same values: the view of the original bytes
            // equals the view of the model's encoding.
            prop_assert_eq!(d.view().unwrap(), back[0].view().unwrap());
        }
    }

    #[test]
    fn timestamps_round_trip(ms in -62_135_596_800_000i64..253_402_300_799_999, secs in any::<bool>()) {
        let t = if secs { Timestamp::from_millis(ms).to_second_precision() } else { Timestamp::from_millis(ms) };
        let s = t.to_string();
        let back = Timestamp::parse(&s).unwrap();
        prop_assert_eq!(back, t);
        prop_assert_eq!(back.to_string(), s);
    }

    #[test]
    fn timestamp_parser_never_panics(s in ".{0,40}") {
        let _ = Timestamp::parse(&s);
    }

    #[test]
    fn sequence_numbers_order_as_integers(a in any::<u128>(), b in any::<u128>(), za in 0usize..3, zb in 0usize..3) {
        let sa = SequenceNumber::new(format!("{}{a}", "0".repeat(za))).unwrap();
        let sb = SequenceNumber::new(format!("{}{b}", "0".repeat(zb))).unwrap();
        prop_assert_eq!(sa.cmp(&sb), a.cmp(&b));
    }
}
