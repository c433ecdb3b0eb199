//! `switchboard aws setup | status | teardown`, the real command, against moto (Kinesis,
//! SQS, EventBridge: SWITCHBOARD_TEST_MOTO_URL) and the FAKE Connect API of
//! switchboard-io's tests (moto has no Connect storage-config calls; the fake's shapes
//! are checked against botocore's Connect model there).

#![cfg(feature = "connect")]

mod support;

#[path = "../../switchboard-io/tests/support/connect_fake/mod.rs"]
mod connect_fake;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use connect_fake::{ConnectFake, Op};
use support::run::{bin, with_timeout};
use support::servers::moto_url;

fn token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{:08x}",
        (nanos as u64 ^ u64::from(std::process::id()) << 20) as u32
    )
}

fn aws(fake: &ConnectFake, dir: &std::path::Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(bin());
    cmd.arg("aws")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .env("SWITCHBOARD_AWS_ENDPOINT_URL", moto_url())
        .env("SWITCHBOARD_CONNECT_ENDPOINT_URL", fake.url())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test");
    with_timeout(&mut cmd, Duration::from_secs(120))
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn stream_exists(name: &str) -> bool {
    let out = support::servers::python(&format!(
        "import boto3, os\nk = boto3.client('kinesis', endpoint_url=os.environ['SWITCHBOARD_TEST_MOTO_URL'], region_name='us-east-1')\nprint({name:?} in k.list_streams(Limit=10000)['StreamNames'])"
    ));
    out.trim() == "True"
}

#[test]
fn dry_run_prints_plan_and_cost_and_changes_nothing() {
    let fake = ConnectFake::start_blocking();
    let t = token();
    let instance = format!("{t}-dry");
    fake.with(|s| {
        s.add_instance(&instance);
    });
    let dir = tempfile::tempdir().unwrap();
    let out = aws(
        &fake,
        dir.path(),
        &["setup", "--instance-id", &instance, "--dry-run"],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // Shown with --nocapture: the README example output comes from here.
    println!("{stdout}");
    assert!(
        stdout.contains(&format!(
            "create     Kinesis stream switchboard-{t}-contact-records (provisioned, 1 shard(s))"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("associate AGENT_EVENTS"), "{stdout}");
    // 1 shard x 730 h x $0.015 per stream (prices.toml).
    assert!(stdout.contains("10.95 USD"), "{stdout}");
    assert!(stdout.contains("Dry run: nothing was changed."), "{stdout}");
    assert!(!stream_exists(&format!("switchboard-{t}-contact-records")));
    assert_eq!(fake.count(Op::AssociateInstanceStorageConfig), 0);
    assert!(!dir.path().join("switchboard.toml").exists());
}

#[test]
fn firehose_for_agent_events_is_refused_before_any_call() {
    let fake = ConnectFake::start_blocking();
    let dir = tempfile::tempdir().unwrap();
    let out = aws(
        &fake,
        dir.path(),
        &[
            "setup",
            "--instance-id",
            "any",
            "--agent-events",
            "firehose",
        ],
    );
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("Kinesis data stream only"), "{stderr}");
    assert!(fake.seen().is_empty());
}

#[test]
fn setup_writes_a_config_that_validates_then_teardown_asks_and_removes_it_all() {
    let fake = ConnectFake::start_blocking();
    let t = token();
    let instance = format!("{t}-cli");
    fake.with(|s| {
        s.add_instance(&instance);
    });
    let dir = tempfile::tempdir().unwrap();
    let out = aws(&fake, dir.path(), &["setup", "--instance-id", &instance]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("USD/month"), "{stdout}");
    assert!(stream_exists(&format!("switchboard-{t}-agent-events")));
    assert_eq!(fake.storage(&instance, "AGENT_EVENTS").len(), 1);

    let config = dir.path().join("switchboard.toml");
    let written = std::fs::read_to_string(&config).unwrap();
    assert!(
        written.contains(&format!("stream = \"switchboard-{t}-contact-records\"")),
        "{written}"
    );
    let validate = with_timeout(
        Command::new(bin())
            .args(["validate", "--config"])
            .arg(&config),
        Duration::from_secs(60),
    );
    let (vout, verr) = text(&validate);
    assert!(validate.status.success(), "{written}\n{vout}\n{verr}");
    assert_eq!(vout.matches("sources[").count(), 3, "{vout}");

    let status = aws(&fake, dir.path(), &["status", "--instance-id", &instance]);
    let (sout, serr) = text(&status);
    assert!(status.status.success(), "{sout}\n{serr}");
    assert!(
        sout.contains("(made by switchboard)") && sout.contains("USD/month"),
        "{sout}"
    );

    // No answer to the prompt (no terminal): nothing changes.
    let refused = aws(&fake, dir.path(), &["teardown", "--instance-id", &instance]);
    assert!(!refused.status.success());
    assert!(stream_exists(&format!("switchboard-{t}-agent-events")));

    let down = aws(
        &fake,
        dir.path(),
        &["teardown", "--instance-id", &instance, "--yes"],
    );
    let (dout, derr) = text(&down);
    assert!(down.status.success(), "{dout}\n{derr}");
    assert!(dout.contains("disassociate"), "{dout}");
    assert!(!stream_exists(&format!("switchboard-{t}-agent-events")));
    assert!(fake.storage(&instance, "AGENT_EVENTS").is_empty());

    let again = aws(
        &fake,
        dir.path(),
        &["teardown", "--instance-id", &instance, "--yes"],
    );
    let (aout, _) = text(&again);
    assert!(
        again.status.success() && aout.contains("Nothing made by switchboard"),
        "{aout}"
    );
}
