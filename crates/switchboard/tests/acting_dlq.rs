//! `switchboard dlq list | show | replay`, black box: a webhook that refuses items (400)
//! sends them to the dead letters with a line that did not decode; `dlq list` shows them
//! by stage, `dlq replay` sends the refused items back to that sink only, with their
//! original idempotency keys, once it accepts them. Dead letters kept in the store (no
//! writer configured) are listed and replayed the same way.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::receiver::Receiver;
use support::run::bin;

fn switchboard(args: &[&str], config: &Path) -> Output {
    Command::new(bin())
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The example agent events, the fourth line replaced by one that does not decode.
fn input(dir: &Path) -> (std::path::PathBuf, usize) {
    let data =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/data/agent-events.ndjson");
    let good = std::fs::read(data).unwrap();
    let lines: Vec<&[u8]> = good
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if i == 3 {
            out.extend_from_slice(b"{\"AgentARN\": 7}\n");
        }
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    let path = dir.join("in.ndjson");
    std::fs::write(&path, out).unwrap();
    (path, lines.len())
}

fn config(dir: &Path, hook: &str, dead_letter: bool) -> std::path::PathBuf {
    let dead = if dead_letter {
        "[dead_letter]\ntype = \"file\"\npath = \"dead.ndjson\"\n"
    } else {
        ""
    };
    let text = format!(
        r#"
[store]
url = "sqlite:sb.db"

[outbox]
retry_initial_ms = 10
retry_max_ms = 50
poll_ms = 20

{dead}
[[sinks]]
name = "crm"
type = "webhook"
url = "{hook}"

[[rules]]
name = "agent-events"
kinds = ["record"]
streams = ["agent_event"]
sinks = ["crm"]
"#
    );
    let path = dir.join("switchboard.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn refused_then_replayed(dead_letter: bool) {
    let dir = tempfile::tempdir().unwrap();
    let crm = Receiver::start();
    let (input, records) = input(dir.path());
    crm.seen.lock().unwrap().fail_first = vec![400; records];
    let config = config(dir.path(), &crm.url("/hook"), dead_letter);

    let out = Command::new(bin())
        .args(["replay", "--config"])
        .arg(&config)
        .arg(&input)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "bad records: exit 2\n{}",
        text(&out)
    );
    let refused: Vec<String> = crm
        .seen
        .lock()
        .unwrap()
        .calls
        .iter()
        .map(|c| c.1.clone().unwrap())
        .collect();
    assert_eq!(refused.len(), records, "each record tried once and refused");

    let out = switchboard(&["dlq", "list"], &config);
    assert!(out.status.success(), "{}", text(&out));
    let listed = text(&out);
    assert!(
        listed.contains(&format!("{} dead letter(s)", records + 1)),
        "{listed}"
    );
    let out = switchboard(&["dlq", "list", "--stage", "sink", "--json"], &config);
    let sink_letters: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(sink_letters.len(), records);
    for letter in &sink_letters {
        assert_eq!(letter["sink"], "crm");
        assert_eq!(letter["rule"], "agent-events");
        assert!(
            letter["errorMessage"].as_str().unwrap().contains("400"),
            "{letter}"
        );
    }
    let out = switchboard(&["dlq", "show", "--stage", "decode"], &config);
    assert!(text(&out).contains("{\"AgentARN\": 7}"), "{}", text(&out));

    // The CRM accepts now: the refused items go back to it, same keys, once each.
    let out = switchboard(&["dlq", "replay", "--stage", "sink"], &config);
    assert!(out.status.success(), "{}", text(&out));
    let applied = crm.applied();
    assert_eq!(applied.len(), records);
    for key in &refused {
        assert!(
            applied.contains_key(key),
            "{key} replayed under its own key"
        );
    }
    if !dead_letter {
        // Kept in the store, and taken out of it by the replay.
        let out = switchboard(&["dlq", "list", "--stage", "sink"], &config);
        assert!(text(&out).contains("0 dead letter(s)"), "{}", text(&out));
    }
}

#[test]
fn refused_items_are_dead_lettered_to_a_file_and_replayed_to_their_sink() {
    refused_then_replayed(true);
}

#[test]
fn without_a_writer_dead_letters_stay_in_the_store_and_replay_from_there() {
    refused_then_replayed(false);
}
