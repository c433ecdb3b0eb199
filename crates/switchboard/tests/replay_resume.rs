//! Checkpoint equivalence for `switchboard replay`: a replay killed (SIGKILL) at random
//! moments and started again until it finishes must leave exactly the store that one
//! uninterrupted replay leaves — no record applied twice, none skipped.
//!
//! The corpus comes from the simulator with delivery artefacts turned up (duplicate agent
//! and contact events, late events, re-delivered and updated contact records) and is
//! written in several layouts, so resuming is tested inside multi-record envelopes, in
//! gzip files (decoded from the start and skipped) and in plain files (entered by seeking):
//! agent events in Kinesis-Lambda envelopes of 25 records (every other file gzipped),
//! contact events as NDJSON, contact records in Firehose HTTP-endpoint requests of 10
//! records, concatenated with no separator, and a file with bad records between good ones.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use switchboard_model::envelope::encode_base64;
use switchboard_model::{RecordKind, Timestamp};
use switchboard_sim::{ArtefactRates, SimConfig, Simulator};
use switchboard_store::{SqliteStore, Store};

const AGENT_RECORDS_PER_ENVELOPE: usize = 25;
const ENVELOPES_PER_FILE: usize = 4;
const LINES_PER_FILE: usize = 400;
const RECORDS_PER_REQUEST: usize = 10;
const REQUESTS_PER_FILE: usize = 10;

fn write_file(path: &Path, bytes: &[u8], gzip: bool) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    if gzip {
        let file = fs::File::create(path.with_extension("json.gz")).unwrap();
        let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        gz.write_all(bytes).unwrap();
        gz.finish().unwrap();
    } else {
        fs::write(path, bytes).unwrap();
    }
}

fn kinesis_envelope(records: &[Vec<u8>], first_seq: usize) -> serde_json::Value {
    let items: Vec<_> = records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let seq = format!("4956816737333333333333333333{:028}", first_seq + i);
            serde_json::json!({
                "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "agent",
                            "sequenceNumber": seq, "data": encode_base64(r),
                            "approximateArrivalTimestamp": 1767600000.0},
                "eventSource": "aws:kinesis", "eventVersion": "1.0",
                "eventID": format!("shardId-000000000000:{seq}"),
                "eventName": "aws:kinesis:record", "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/agent-events",
            })
        })
        .collect();
    serde_json::json!({ "Records": items })
}

/// Writes the corpus; returns how many records it holds.
fn write_corpus(dir: &Path) -> usize {
    let mut config = SimConfig::new(40);
    config.start = Timestamp::parse("2026-01-05T08:00:00Z").unwrap();
    config.duration_secs = 2 * 3600;
    config.seed = 7;
    config.artefacts = ArtefactRates {
        duplicate_agent_event: 0.03,
        duplicate_contact_event: 0.05,
        late_contact_event: 0.05,
        duplicate_contact_record: 0.1,
        updated_contact_record: 0.2,
    };
    let mut streams: [Vec<Vec<u8>>; 3] = Default::default();
    for e in Simulator::new(config).unwrap() {
        let slot = match e.kind() {
            RecordKind::AgentEvent => 0,
            RecordKind::ContactEvent => 1,
            RecordKind::ContactRecord => 2,
        };
        streams[slot].push(serde_json::to_vec(&e.record).unwrap());
    }
    let total = streams.iter().map(Vec::len).sum();

    let per_file = AGENT_RECORDS_PER_ENVELOPE * ENVELOPES_PER_FILE;
    for (n, chunk) in streams[0].chunks(per_file).enumerate() {
        let mut text = Vec::new();
        for (k, env) in chunk.chunks(AGENT_RECORDS_PER_ENVELOPE).enumerate() {
            let seq = n * per_file + k * AGENT_RECORDS_PER_ENVELOPE;
            serde_json::to_writer(&mut text, &kinesis_envelope(env, seq)).unwrap();
            text.push(b'\n');
        }
        let path = dir.join(format!("agent-events/kinesis-{n:04}.json"));
        write_file(&path, &text, n % 2 == 1);
    }
    for (n, chunk) in streams[1].chunks(LINES_PER_FILE).enumerate() {
        let text = chunk.join(&b'\n');
        write_file(
            &dir.join(format!("contact-events/{n:04}.ndjson")),
            &text,
            false,
        );
    }
    for (n, chunk) in streams[2]
        .chunks(RECORDS_PER_REQUEST * REQUESTS_PER_FILE)
        .enumerate()
    {
        let mut text = Vec::new();
        for (k, request) in chunk.chunks(RECORDS_PER_REQUEST).enumerate() {
            let records: Vec<_> = request
                .iter()
                .map(|r| serde_json::json!({ "data": encode_base64(r) }))
                .collect();
            let body = serde_json::json!({
                "requestId": format!("req-{n}-{k}"),
                "timestamp": 1767600000000_i64,
                "records": records,
            });
            // Requests stored back to back with no separator, like Firehose objects.
            serde_json::to_writer(&mut text, &body).unwrap();
        }
        write_file(
            &dir.join(format!("contact-records/fh-{n:04}")),
            &text,
            false,
        );
    }
    // Bad records between good ones, and a copy of a contact record (read before the
    // original, which then comes as a duplicate).
    let mut bad = b"{\"ContactId\": \"broken\", \"Channel\": 5}\nnot json at all\n".to_vec();
    bad.extend_from_slice(&streams[2][0]);
    bad.extend_from_slice(b"\n{\"truncated\": ");
    write_file(&dir.join("bad/bad.ndjson"), &bad, false);
    total
}

fn replay_cmd(corpus: &Path, db: &Path, batch: u32, dead_letter: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    cmd.arg("replay")
        .arg(corpus)
        .arg("--store")
        .arg(format!("sqlite:{}", db.display()))
        .arg("--batch")
        .arg(batch.to_string())
        .arg("--dead-letter")
        .arg(dead_letter)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// Finished = exit 0 (all good) or 2 (bad records were reported): anything else fails.
fn assert_finished(status: ExitStatus, stderr: &[u8]) {
    assert!(
        matches!(status.code(), Some(0 | 2)),
        "replay failed ({status}): {}",
        String::from_utf8_lossy(stderr)
    );
}

/// A small deterministic generator (xorshift) for delays and batch sizes.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn first_difference(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            // Show where in the line they part, not just its (long, shared) start.
            let at = x.bytes().zip(y.bytes()).take_while(|(p, q)| p == q).count();
            let from = at.saturating_sub(120);
            let cut = |s: &str| s.get(from..(at + 120).min(s.len())).unwrap_or(s).to_owned();
            return format!(
                "line {}, byte {at}:\n  A: ...{}\n  B: ...{}",
                i + 1,
                cut(x),
                cut(y)
            );
        }
    }
    format!(
        "one dump is a prefix of the other ({} vs {} lines)",
        a.lines().count(),
        b.lines().count()
    )
}

#[test]
fn killed_and_resumed_replay_equals_uninterrupted_replay() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("corpus");
    let records = write_corpus(&corpus);
    assert!(
        records > 2000,
        "corpus too small to mean anything: {records}"
    );

    // A: one uninterrupted run.
    let db_a = tmp.path().join("a.db");
    let started = Instant::now();
    let out = replay_cmd(&corpus, &db_a, 7, &tmp.path().join("a.dead"))
        .output()
        .unwrap();
    assert_finished(out.status, &out.stderr);
    let full_run = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad records: 3"), "{stderr}");
    // Dead letters: one per bad record, each a Firehose error record naming its position.
    let letters = fs::read_to_string(tmp.path().join("a.dead")).unwrap();
    let letters: Vec<serde_json::Value> = letters
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(letters.len(), 3);
    for l in &letters {
        assert_eq!(l["errorCode"], "Switchboard.DecodeError", "{l}");
        assert!(
            l["source"]["file"]
                .as_str()
                .unwrap()
                .ends_with("bad.ndjson"),
            "{l}"
        );
        assert!(l["source"]["line"].as_u64().is_some(), "{l}");
    }

    // B: killed at random moments, with varying batch sizes, until a run finishes.
    let db_b = tmp.path().join("b.db");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64
        | 1;
    let mut rng = Rng(seed);
    let window_ms = (full_run.as_millis() as u64).max(20);
    let (mut kills, mut kills_mid_run, mut runs) = (0, 0, 0);
    loop {
        runs += 1;
        let batch = [3, 7, 13, 50][rng.below(4) as usize];
        let mut child = replay_cmd(&corpus, &db_b, batch, &tmp.path().join("b.dead"))
            .spawn()
            .unwrap();
        // Short delays so that most runs are killed; after 40 runs, let one finish.
        let delay = (runs <= 40).then(|| Duration::from_millis(5 + rng.below(window_ms * 3 / 10)));
        let finished = match delay {
            Some(d) => {
                std::thread::sleep(d);
                child.try_wait().unwrap().is_some()
            }
            None => true,
        };
        if finished {
            let out = child.wait_with_output().unwrap();
            assert_finished(out.status, &out.stderr);
            break;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        let positions = SqliteStore::open(&db_b).unwrap().positions().unwrap();
        let partial = !positions.is_empty() && positions.values().any(|p| p != "done");
        if partial {
            kills_mid_run += 1;
        }
    }
    eprintln!(
        "{records} records; seed {seed}: {runs} runs, {kills} kills, {kills_mid_run} with a partial position saved; \
         uninterrupted run took {full_run:?}"
    );
    assert!(
        kills_mid_run >= 1,
        "no kill landed after a commit and before the end (seed {seed}, {kills} kills): \
         the test proved nothing"
    );

    let a = SqliteStore::open(&db_a).unwrap().dump().unwrap();
    let b = SqliteStore::open(&db_b).unwrap().dump().unwrap();
    assert!(
        a.matches("\n").count() > records / 2,
        "store A is nearly empty"
    );
    assert!(a.contains("## transitions") && a.contains("contact_record_ready"));
    assert!(
        a == b,
        "interrupted replay differs from uninterrupted (seed {seed}): {}",
        first_difference(&a, &b)
    );
}

/// A second replay of the same input is a no-op: every file is done.
#[test]
fn replaying_finished_input_again_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("corpus");
    fs::create_dir_all(&corpus).unwrap();
    let samples = std::env::var("SWITCHBOARD_SAMPLES")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/connect/samples")
        });
    let sample = samples.join("agent-event-state-change-contact-ended.json");
    fs::copy(&sample, corpus.join("a.json")).unwrap();
    let db = tmp.path().join("s.db");
    let dead = tmp.path().join("dead");
    for _ in 0..2 {
        let out = replay_cmd(&corpus, &db, 5000, &dead).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let store = SqliteStore::open(&db).unwrap();
    let positions = store.positions().unwrap();
    assert_eq!(positions.values().collect::<Vec<_>>(), ["done"]);
    let loaded = store.load().unwrap();
    assert_eq!(loaded.meta.unwrap().counters.agent_events, 1);
}
