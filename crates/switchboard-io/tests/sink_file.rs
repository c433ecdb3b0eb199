//! The stdout and file sinks on a real file system (a fresh temporary folder per test)
//! and a real standard output (this test binary run again as a child process, its output
//! read through a pipe).

mod sink_support;

use std::process::Command;

use serde_json::json;
use switchboard_io::sinks::file::{FileConfig, StdoutConfig};
use switchboard_io::sinks::{ItemKind, Outcome, Sink};

use sink_support::{item, TempDir};

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[tokio::test]
async fn the_file_gets_each_payload_on_its_own_line_byte_for_byte() {
    let dir = TempDir::new("file-sink");
    let path = dir.path("routed.ndjson");
    let config: FileConfig = serde_json::from_value(json!({"path": path})).unwrap();
    let sink = config.build("local").await.unwrap();

    let first = [
        item(
            1,
            ItemKind::Record,
            br#"{"ContactId":"c-1","Queue":null,"n":1.50}"#,
        ),
        item(2, ItemKind::Transition, br#"{"type":"hold_started"}"#),
    ];
    assert_eq!(
        sink.deliver(&first).await,
        [Outcome::Delivered, Outcome::Delivered]
    );
    // A pretty-printed payload stays one line: its line breaks become spaces.
    let second = [item(3, ItemKind::Record, b"{\n  \"a\": [1,\r\n 2]\n}")];
    assert_eq!(sink.deliver(&second).await, [Outcome::Delivered]);

    assert_eq!(
        read(&path),
        "{\"ContactId\":\"c-1\",\"Queue\":null,\"n\":1.50}\n\
         {\"type\":\"hold_started\"}\n\
         {   \"a\": [1,   2] }\n"
    );
    // Appends: a new sink on the same file keeps what is there.
    let again = config.build("local").await.unwrap();
    assert_eq!(again.deliver(&first[..1]).await, [Outcome::Delivered]);
    assert_eq!(read(&path).lines().count(), 4);
}

#[tokio::test]
async fn the_file_rotates_by_size_and_keeps_max_files() {
    let dir = TempDir::new("file-rotate");
    let path = dir.path("out.ndjson");
    let config = FileConfig {
        path: path.clone(),
        max_bytes: Some(33),
        max_files: 2,
    };
    let sink = config.build("local").await.unwrap();
    // 11-byte lines ({"n":1234} and a newline): three fill a file.
    for batch in 0..4 {
        let items: Vec<_> = (0..2)
            .map(|i| {
                let n = 1000 + batch * 2 + i;
                item(n, ItemKind::Record, format!("{{\"n\":{n}}}").as_bytes())
            })
            .collect();
        assert_eq!(sink.deliver(&items).await, vec![Outcome::Delivered; 2]);
    }
    let file = |suffix: &str| {
        let mut p = path.clone().into_os_string();
        p.push(suffix);
        std::path::PathBuf::from(p)
    };
    assert_eq!(read(&path), "{\"n\":1006}\n{\"n\":1007}\n");
    assert_eq!(
        read(&file(".1")),
        "{\"n\":1003}\n{\"n\":1004}\n{\"n\":1005}\n"
    );
    assert_eq!(
        read(&file(".2")),
        "{\"n\":1000}\n{\"n\":1001}\n{\"n\":1002}\n"
    );
    assert!(!file(".3").exists());

    // An item larger than max_bytes gets a file of its own, whole.
    let big = format!("{{\"big\":\"{}\"}}", "x".repeat(50));
    assert_eq!(
        sink.deliver(&[item(9, ItemKind::Record, big.as_bytes())])
            .await,
        [Outcome::Delivered]
    );
    assert_eq!(read(&path), format!("{big}\n"));
    assert_eq!(read(&file(".1")), "{\"n\":1006}\n{\"n\":1007}\n");
}

#[tokio::test]
async fn a_missing_folder_fails_the_build_and_a_vanished_one_is_retried() {
    let dir = TempDir::new("file-missing");
    let config = FileConfig {
        path: dir.path("no-such-folder/out.ndjson"),
        max_bytes: None,
        max_files: 5,
    };
    let err = config.build("local").await.unwrap_err();
    assert_eq!(err.name, "local");
    assert!(err.reason.contains("no-such-folder"), "{err}");

    let folder = dir.path("goes-away");
    std::fs::create_dir(&folder).unwrap();
    let config = FileConfig {
        path: folder.join("out.ndjson"),
        ..config
    };
    let sink = config.build("local").await.unwrap();
    std::fs::remove_dir_all(&folder).unwrap();
    let outcomes = sink.deliver(&[item(1, ItemKind::Record, b"{}")]).await;
    match &outcomes[..] {
        [Outcome::Retry {
            reason,
            after: None,
        }] => {
            assert!(reason.contains("out.ndjson"), "{reason}")
        }
        other => panic!("expected a retry: {other:?}"),
    }
    std::fs::create_dir(&folder).unwrap();
    assert_eq!(
        sink.deliver(&[item(1, ItemKind::Record, b"{}")]).await,
        [Outcome::Delivered]
    );
}

#[tokio::test]
async fn concurrent_batches_are_not_interleaved() {
    let dir = TempDir::new("file-concurrent");
    let path = dir.path("out.ndjson");
    let config = FileConfig {
        path: path.clone(),
        max_bytes: None,
        max_files: 5,
    };
    let sink = std::sync::Arc::new(config.build("local").await.unwrap());
    let mut tasks = Vec::new();
    for batch in 0..8 {
        let sink = std::sync::Arc::clone(&sink);
        tasks.push(tokio::spawn(async move {
            let items: Vec<_> = (0..50)
                .map(|i| {
                    item(
                        i,
                        ItemKind::Record,
                        format!("{{\"batch\":{batch},\"i\":{i}}}").as_bytes(),
                    )
                })
                .collect();
            sink.deliver(&items).await
        }));
    }
    for task in tasks {
        assert!(task.await.unwrap().iter().all(|o| *o == Outcome::Delivered));
    }
    let lines: Vec<serde_json::Value> = read(&path)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 400);
    for chunk in lines.chunks(50) {
        let batch = &chunk[0]["batch"];
        for (i, line) in chunk.iter().enumerate() {
            assert_eq!(
                (&line["batch"], line["i"].as_u64()),
                (batch, Some(i as u64))
            );
        }
    }
}

/// Run as a child by `stdout_gets_ndjson`: delivers three items to a stdout sink.
#[tokio::test]
async fn stdout_child() {
    if std::env::var_os("SB_STDOUT_SINK_CHILD").is_none() {
        return;
    }
    let sink = StdoutConfig::example().build("debug").await.unwrap();
    let items = [
        item(1, ItemKind::Record, br#"{"sb_stdout_test":1,"x":null}"#),
        item(2, ItemKind::AlertRaised, br#"{"sb_stdout_test":2}"#),
        item(3, ItemKind::Record, b"{\"sb_stdout_test\":3,\n\"y\":1.0}"),
    ];
    assert_eq!(sink.deliver(&items).await, vec![Outcome::Delivered; 3]);
}

#[test]
fn stdout_gets_ndjson() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "stdout_child",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("SB_STDOUT_SINK_CHILD", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    // The child's stdout also carries the test harness's words ("test stdout_child ...",
    // which the first line follows); ours are the JSON ones.
    let ours: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.find("{\"sb_stdout_test\"").map(|at| &l[at..]))
        .collect();
    assert_eq!(
        ours,
        [
            "{\"sb_stdout_test\":1,\"x\":null}",
            "{\"sb_stdout_test\":2}",
            "{\"sb_stdout_test\":3, \"y\":1.0}"
        ],
        "{stdout}"
    );
}
