//! Every envelope carries a record through unchanged, with its position.

use std::io::Write;

use super::*;
use crate::envelope::encode_base64;

const AGENT_EVENT: &str = r#"{"AWSAccountId":"012345678901","AgentARN":"arn:aws:connect:us-east-1:012345678901:instance/i-1/agent/a-1","CurrentAgentSnapshot":null,"EventId":"e-1","EventTimestamp":"2019-05-25T18:55:27.017Z","EventType":"HEART_BEAT","InstanceARN":"arn:aws:connect:us-east-1:012345678901:instance/i-1","PreviousAgentSnapshot":null,"Version":"2019-05-25"}"#;
const CTR: &str = r#"{"AWSAccountId":"1","AWSContactTraceRecordFormatVersion":"2017-03-10","Agent":null,"Channel":"VOICE","ContactId":"c-1","InitiationMethod":"INBOUND","InitiationTimestamp":"2022-04-08T15:00:49Z","InstanceARN":"arn:aws:connect:us-east-1:1:instance/i-1","LastUpdateTimestamp":"2022-04-08T15:02:49Z","NewField":{"x":[1,2]}}"#;
const EVENT: &str = r#"{"version":"0","id":"ev-1","detail-type":"Amazon Connect Contact Event","source":"aws.connect","account":"1","time":"2021-08-04T17:43:48Z","region":"us-west-2","resources":[],"detail":{"eventType":"QUEUED","contactId":"c-1","channel":"CHAT","queueInfo":{"queueArn":"q","queueType":"STANDARD"}}}"#;

fn run(format: Format, bytes: &[u8]) -> (Vec<Decoded>, Vec<DecodeError>) {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    Decoder::new(format).decode_slice(Some("t"), bytes, &mut |r| {
        match r {
            Ok(d) => ok.push(d),
            Err(e) => bad.push(e),
        }
        ControlFlow::Continue(())
    });
    (ok, bad)
}

fn kinds(ok: &[Decoded]) -> Vec<RecordKind> {
    ok.iter().map(|d| d.kind).collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[test]
fn bare_layouts() {
    let ndjson = format!("{AGENT_EVENT}\n{CTR}\n{EVENT}\n");
    let concatenated = format!("{AGENT_EVENT}{CTR}{EVENT}");
    let array = format!("[{AGENT_EVENT},\n{CTR},\n{EVENT}]");
    let want = vec![
        RecordKind::AgentEvent,
        RecordKind::ContactRecord,
        RecordKind::ContactEvent,
    ];
    for input in [
        ndjson.as_bytes().to_vec(),
        concatenated.into_bytes(),
        array.into_bytes(),
        gzip(ndjson.as_bytes()),
    ] {
        for format in [Format::Auto, Format::Json] {
            let (ok, bad) = run(format, &input);
            assert!(bad.is_empty(), "{bad:?}");
            assert_eq!(kinds(&ok), want);
        }
    }
    let (ok, _) = run(Format::Auto, ndjson.as_bytes());
    assert_eq!(ok[1].source.line, Some(2));
    assert_eq!(
        ok[2].source.offset,
        Some((AGENT_EVENT.len() + CTR.len() + 2) as u64)
    );
}

#[test]
fn unknown_fields_survive() {
    let (ok, _) = run(Format::Auto, CTR.as_bytes());
    let back: serde_json::Value = serde_json::to_value(ok[0].record().unwrap()).unwrap();
    assert_eq!(back["NewField"]["x"][1], 2);
    // And the bytes are the input's, exactly.
    assert_eq!(&ok[0].raw[..], CTR.trim().as_bytes());
}

#[test]
fn kinesis_envelopes() {
    let data = encode_base64(AGENT_EVENT.as_bytes());
    let lambda = format!(
        r#"{{"Records":[{{"kinesis":{{"kinesisSchemaVersion":"1.0","partitionKey":"pk","sequenceNumber":"4956","data":"{data}","approximateArrivalTimestamp":1480641523.477}},"eventSource":"aws:kinesis","eventID":"shardId-000000000003:4956"}}]}}"#
    );
    let (ok, bad) = run(Format::Auto, lambda.as_bytes());
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(kinds(&ok), vec![RecordKind::AgentEvent]);
    assert_eq!(
        ok[0].source.shard_id.as_deref(),
        Some("shardId-000000000003")
    );
    assert_eq!(ok[0].source.envelope, Some("kinesis-lambda"));
    let (ok2, _) = run(Format::KinesisLambda, lambda.as_bytes());
    assert_eq!(ok2[0].record().unwrap(), ok[0].record().unwrap());
    assert_eq!(ok2[0].raw, ok[0].raw);

    let api = format!(
        r#"{{"Records":[{{"SequenceNumber":"1","Data":"{data}","PartitionKey":"pk"}},{{"SequenceNumber":"2","Data":"{}","PartitionKey":"pk"}}],"MillisBehindLatest":0}}"#,
        encode_base64(&gzip(CTR.as_bytes()))
    );
    let (ok, bad) = run(Format::Auto, api.as_bytes());
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(
        kinds(&ok),
        vec![RecordKind::AgentEvent, RecordKind::ContactRecord]
    );
    assert_eq!(ok[1].source.sequence_number.as_deref(), Some("2"));
}

#[test]
fn firehose_envelopes() {
    // A transformation request whose payload is NDJSON of two records.
    let two = encode_base64(format!("{CTR}\n{CTR}\n").as_bytes());
    let transform = format!(
        r#"{{"invocationId":"inv","deliveryStreamArn":"arn","region":"us-east-1","records":[{{"recordId":"r1","approximateArrivalTimestamp":1507217624302,"data":"{two}"}}]}}"#
    );
    let (ok, bad) = run(Format::Auto, transform.as_bytes());
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(ok.len(), 2);
    assert_eq!(ok[1].source.part, Some(1));
    assert_eq!(ok[1].source.record_id.as_deref(), Some("r1"));

    let http = format!(
        r#"{{"requestId":"req-1","timestamp":1578090901599,"records":[{{"data":"{}"}},{{"data":""}}]}}"#,
        encode_base64(CTR.as_bytes())
    );
    let (ok, bad) = run(Format::Auto, http.as_bytes());
    assert_eq!(kinds(&ok), vec![RecordKind::ContactRecord]);
    assert_eq!(bad.len(), 1);
    assert!(bad[0].reason.contains("empty payload"), "{}", bad[0]);
    assert_eq!(bad[0].source.index, Some(1));
    assert_eq!(bad[0].source.record_id.as_deref(), Some("req-1"));

    let err = format!(
        r#"{{"attemptsMade":5,"arrivalTimestamp":1594265943615,"errorCode":"HttpEndpoint.DestinationException","rawData":"{}","dataId":"d-1"}}"#,
        encode_base64(EVENT.as_bytes())
    );
    let (ok, bad) = run(Format::FirehoseError, err.as_bytes());
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(kinds(&ok), vec![RecordKind::ContactEvent]);
}

#[test]
fn sqs_envelopes_carry_eventbridge_events() {
    let body = serde_json::to_string(EVENT).unwrap();
    let lambda = format!(
        r#"{{"Records":[{{"messageId":"m-1","receiptHandle":"h","body":{body},"eventSource":"aws:sqs"}}]}}"#
    );
    let receive = format!(
        r#"{{"Messages":[{{"MessageId":"m-2","ReceiptHandle":"h","MD5OfBody":"x","Body":{body}}}]}}"#
    );
    for (input, id) in [(lambda, "m-1"), (receive, "m-2")] {
        let (ok, bad) = run(Format::Auto, input.as_bytes());
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(kinds(&ok), vec![RecordKind::ContactEvent]);
        assert_eq!(ok[0].source.record_id.as_deref(), Some(id));
        let (ok2, _) = run(Format::Sqs, input.as_bytes());
        assert_eq!(ok2.len(), 1);
    }
}

#[test]
fn forced_formats_refuse_other_layouts() {
    let (ok, bad) = run(Format::FirehoseHttp, CTR.as_bytes());
    assert!(ok.is_empty());
    assert!(
        bad[0]
            .reason
            .contains("invalid Firehose HTTP endpoint request"),
        "{}",
        bad[0]
    );
    let (ok, bad) = run(Format::EventBridge, AGENT_EVENT.as_bytes());
    assert!(ok.is_empty());
    assert!(bad[0].reason.contains("eventbridge"));
    let (ok, _) = run(Format::EventBridge, EVENT.as_bytes());
    assert_eq!(ok.len(), 1);
}

#[test]
fn invalid_records_name_line_and_field() {
    let bad_ctr = CTR.replace(
        r#""InitiationTimestamp":"2022-04-08T15:00:49Z""#,
        r#""InitiationTimestamp":"yesterday""#,
    );
    let input = format!("{AGENT_EVENT}\n{bad_ctr}\n{EVENT}");
    let (ok, bad) = run(Format::Auto, input.as_bytes());
    assert_eq!(
        kinds(&ok),
        vec![RecordKind::AgentEvent, RecordKind::ContactEvent]
    );
    assert_eq!(bad.len(), 1);
    let msg = bad[0].to_string();
    assert!(msg.starts_with("t:2 (byte "), "{msg}");
    assert!(
        msg.contains("invalid contact_record") && msg.contains("yesterday"),
        "{msg}"
    );
}

#[test]
fn garbage_and_truncation() {
    let truncated = &CTR[..CTR.len() / 2];
    let input = format!("{AGENT_EVENT}\n\u{0}\u{1}binary\n{truncated}");
    let (ok, bad) = run(Format::Auto, input.as_bytes());
    assert_eq!(ok.len(), 1);
    assert_eq!(bad.len(), 2);
    assert!(bad[0].reason.contains("not JSON"));
    assert!(bad[1].reason.contains("truncated"));
    assert_eq!(bad[1].source.line, Some(3));

    let (ok, bad) = run(Format::Auto, &gzip(AGENT_EVENT.as_bytes())[..20]);
    assert!(ok.is_empty());
    assert!(!bad.is_empty());
}

#[test]
fn dead_letters_keep_the_bytes_and_decode_again() {
    let bad_ctr = CTR.replace("2022-04-08T15:00:49Z", "not a time");
    let truncated = &CTR[..40];
    let input = format!("{bad_ctr}\n{AGENT_EVENT}\n{truncated}");
    let (ok, bad) = run(Format::Auto, input.as_bytes());
    assert_eq!(ok.len(), 1);
    assert_eq!(bad.len(), 2);
    assert_eq!(bad[0].raw, bad_ctr.as_bytes());
    assert_eq!(bad[1].raw, truncated.as_bytes());

    // The dead-letter file decodes as Firehose error records and fails the same way.
    let letters: String = bad
        .iter()
        .map(|e| serde_json::to_string(&e.to_dead_letter(0)).unwrap() + "\n")
        .collect();
    let (ok, again) = run(Format::Auto, letters.as_bytes());
    assert!(ok.is_empty());
    assert_eq!(again.len(), 2);
    assert!(
        again[0].reason.contains("invalid contact_record"),
        "{}",
        again[0]
    );
    assert_eq!(again[0].source.envelope, Some("firehose-error"));
    assert_eq!(again[0].raw, bad_ctr.as_bytes());

    // Once fixed, the same envelope yields the record.
    let fixed = bad[0].to_dead_letter(0);
    let fixed = crate::envelope::FirehoseErrorRecord {
        raw_data: encode_base64(CTR.as_bytes()),
        ..fixed
    };
    let (ok, _) = run(
        Format::Auto,
        serde_json::to_string(&fixed).unwrap().as_bytes(),
    );
    assert_eq!(kinds(&ok), vec![RecordKind::ContactRecord]);
}
