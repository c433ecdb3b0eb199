//! Config loading: what parses, what every problem is reported as, inheritance and
//! relative paths. Each test loads text with [`load_str`], in a fresh folder where paths
//! matter.

use std::path::Path;

use super::*;

fn load(text: &str) -> Result<Config, Problems> {
    load_str(text, "test.toml", Path::new("."))
}

fn problems(text: &str) -> Problems {
    match load(text) {
        Ok(c) => panic!("expected problems, got {c:?}"),
        Err(p) => p,
    }
}

/// (key, message) pairs, for readable assertions.
fn keys(p: &Problems) -> Vec<&str> {
    p.list.iter().map(|p| p.key.as_str()).collect()
}

const MINIMAL: &str = "[store]\nurl = \"sqlite:sb.db\"\n";

#[test]
fn a_minimal_config_takes_every_default() {
    let c = load(MINIMAL).unwrap();
    assert_eq!(c.store.url, "sqlite:./sb.db");
    assert_eq!(c.engine, switchboard_engine::EngineConfig::default());
    assert_eq!(c.server, ServerConfig::default());
    assert_eq!(c.pipeline, PipelineConfig::default());
    assert!(c.sources.is_empty() && c.dead_letter.is_none());
    assert_eq!(c.worker(), "default");
}

/// The example as TOML parses back to itself. (Its checks read secrets from the
/// environment and folders of this machine: `tests/config_cli.rs` runs them.)
#[test]
fn example_round_trips_through_toml() {
    let example = Config::example();
    let text = example.to_toml().unwrap();
    let mut problems = Problems::new("example.toml");
    let mut parsed = parse::parse(&text, &mut problems).unwrap();
    assert!(problems.is_empty(), "{problems}");
    parsed.inherit_aws();
    let mut expected = example.clone();
    for source in &mut expected.sources {
        sources::inherit_aws(source, &example.aws);
    }
    assert_eq!(parsed.into_config().unwrap(), expected, "{text}");
}

#[test]
fn the_example_sources_have_examples_of_their_own() {
    let files = FilesConfig::example();
    let text = format!("type = \"files\"\n{}", toml::to_string(&files).unwrap());
    let mut problems = Problems::new("x");
    let value = toml::Value::Table(text.parse().unwrap());
    let parsed = sources::parse_source(value, "sources[0]", &mut problems);
    assert_eq!(parsed, Some(SourceConfig::Files(files)), "{problems}");
}

#[test]
fn every_unknown_key_is_named_with_its_path() {
    let p = problems(
        r#"
        colour = "blue"
        [store]
        url = "sqlite:sb.db"
        urll = "x"
        [engine]
        service_levl_s = 20
        [engine.alerts]
        long_hold = 60
        long_acw = 60
        [[sources]]
        type = "files"
        paths = ["."]
        path = "x"
        [[sources]]
        type = "kinesis"
        stream = "s"
        application = "app"
        shards = 2
        [sources.aws]
        regoin = "eu-west-1"
        "#,
    );
    let mut k = keys(&p);
    k.sort();
    assert_eq!(
        k,
        [
            "colour",
            "engine.alerts.long_acw",
            "engine.alerts.long_hold",
            "engine.service_levl_s",
            "sources[0].path",
            "sources[1].aws.regoin",
            "sources[1].shards",
            "store.urll",
        ],
        "{p}"
    );
    assert!(
        p.list.iter().all(|p| p.message.starts_with("unknown key")),
        "{p}"
    );
    // The message says what is expected instead.
    let urll = p.list.iter().find(|p| p.key == "store.urll").unwrap();
    assert!(urll.message.contains("url"), "{}", urll.message);
}

#[test]
fn missing_keys_and_wrong_types_are_reported_per_section() {
    let p = problems(
        r#"
        [server]
        listen = "not an address"
        [pipeline]
        channel_capacity = "many"
        [[sources]]
        type = "kinesis"
        stream = "s"
        [[sources]]
        paths = ["."]
        [[sources]]
        type = "carrier-pigeon"
        "#,
    );
    assert_eq!(
        keys(&p),
        [
            "store",
            "server.listen",
            "pipeline.channel_capacity",
            "sources[0].application",
            "sources[1].type",
            "sources[2].type",
        ],
        "{p}"
    );
    assert!(p.to_string().contains("carrier-pigeon"));
    assert!(p.list[3].message.contains("missing"), "{p}");
}

#[test]
fn values_out_of_range_and_bad_urls_are_problems() {
    let p = problems(
        r#"
        [store]
        url = "mysql://db/sb"
        worker = ""
        [engine]
        service_level_s = 0
        service_level_by_queue = { "Sales EU" = -5 }
        [engine.alerts]
        long_hold_s = 999999999
        [pipeline]
        commit_interval_ms = 1
        max_batch_records = 0
        [aws]
        endpoint_url = "localhost:4566"
        "#,
    );
    assert_eq!(
        keys(&p),
        [
            "store.url",
            "store.worker",
            "engine.service_level_s",
            "engine.service_level_by_queue.\"Sales EU\"",
            "engine.alerts.long_hold_s",
            "pipeline.commit_interval_ms",
            "pipeline.max_batch_records",
            "aws.endpoint_url",
        ],
        "{p}"
    );
}

#[test]
fn http_sources_need_distinct_paths_clear_of_the_dashboard() {
    let p = problems(
        r#"
        [store]
        url = "sqlite:sb.db"
        [[sources]]
        type = "firehose_http"
        path = "/ingest"
        allow_unauthenticated = true
        [[sources]]
        type = "eventbridge_http"
        path = "/ingest"
        allow_unauthenticated = true
        [[sources]]
        type = "eventbridge_http"
        path = "/api/events"
        allow_unauthenticated = true
        [[sources]]
        type = "firehose_http"
        path = "/{id}"
        allow_unauthenticated = true
        "#,
    );
    assert_eq!(
        keys(&p),
        ["sources[1].path", "sources[2].path", "sources[3].path"],
        "{p}"
    );
    assert!(p.list[0].message.contains("sources[0]"), "{p}");
}

#[test]
fn the_sources_own_checks_are_reported_under_their_key() {
    let p = problems(
        r#"
        [store]
        url = "sqlite:sb.db"
        [[sources]]
        type = "firehose_http"
        [[sources]]
        type = "sqs"
        queue_url = "https://sqs.us-east-1.amazonaws.com/1/q"
        dead_letter_queue_url = "arn:aws:sqs:us-east-1:1:dlq"
        batch_size = 11
        [[sources]]
        type = "kinesis"
        stream = "agents"
        application = "ab"
        [[sources]]
        type = "kinesis"
        stream = "agents"
        application = "ab"
        "#,
    );
    assert_eq!(
        keys(&p),
        [
            "sources[0]",
            "sources[1]",
            "sources[1].dead_letter_queue_url",
            "sources[2]",
            "sources[3]",
            "sources[3].application",
        ],
        "{p}"
    );
    let text = p.to_string();
    assert!(
        text.contains("test.toml: sources[1]: batch_size must be 1 to 10"),
        "{text}"
    );
    assert!(text.contains("allow_unauthenticated"), "{text}");
}

#[test]
fn aws_defaults_are_inherited_field_by_field() {
    let c = load(
        r#"
        [store]
        url = "sqlite:sb.db"
        [aws]
        region = "eu-west-1"
        endpoint_url = "http://127.0.0.1:4566"
        [[sources]]
        type = "sqs"
        queue_url = "http://127.0.0.1:4566/000000000000/events"
        [sources.aws]
        region = "us-east-1"
        "#,
    )
    .unwrap();
    let SourceConfig::Sqs(sqs) = &c.sources[0] else {
        panic!("{c:?}")
    };
    assert_eq!(sqs.aws.region.as_deref(), Some("us-east-1"), "its own wins");
    assert_eq!(
        sqs.aws.endpoint_url.as_deref(),
        Some("http://127.0.0.1:4566"),
        "inherited"
    );
}

#[test]
fn relative_paths_are_taken_from_the_config_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("exports")).unwrap();
    let text = r#"
        [store]
        url = "sqlite:state/sb.db"
        [dead_letter]
        path = "bad.ndjson"
        [[sources]]
        type = "files"
        paths = ["exports"]
    "#;
    // The store's folder is missing: a problem, found before anything starts.
    let p = load_str(text, "sb.toml", dir.path()).unwrap_err();
    assert_eq!(keys(&p), ["store.url"], "{p}");
    std::fs::create_dir(dir.path().join("state")).unwrap();
    let c = load_str(text, "sb.toml", dir.path()).unwrap();
    assert_eq!(
        c.store.url,
        format!("sqlite:{}", dir.path().join("state/sb.db").display())
    );
    assert_eq!(
        c.dead_letter.unwrap(),
        switchboard_io::sinks::dead_letter::DeadLetterConfig::from_legacy_path(
            dir.path().join("bad.ndjson")
        )
    );
    let SourceConfig::Files(files) = &c.sources[0] else {
        panic!()
    };
    assert_eq!(files.paths, [dir.path().join("exports")]);
}

#[test]
fn a_file_that_is_not_toml_says_where() {
    let p = problems("[store]\nurl = \"sqlite:x\"\n[server\nlisten = 1\n");
    assert_eq!(p.len(), 1);
    assert!(
        p.list[0].message.contains("line 3"),
        "{}",
        p.list[0].message
    );
    // Not UTF-8 boundaries: no panic on any input.
    let _ = load("é = \u{1}");
}

#[test]
fn problems_print_one_per_line_with_file_and_key() {
    let p = problems("[store]\nurl = \"nope\"\nextra = 1\n");
    let text = p.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines.iter().all(|l| l.starts_with("test.toml: store.")),
        "{text}"
    );
}

#[test]
fn postgres_store_urls_are_checked_and_their_passwords_kept_out_of_problems() {
    let c = load("[store]\nurl = \"postgres://sb:pw@db/sb\"\nworker = \"w1\"\n").unwrap();
    assert_eq!(c.worker(), "w1");
    let p = problems("[store]\nurl = \"postgres://sb:s3cret@db/sb?bogus=1\"\n");
    assert_eq!(keys(&p), ["store.url"]);
    assert!(!p.to_string().contains("s3cret"), "{p}");
}

#[test]
fn a_server_open_beyond_loopback_needs_auth() {
    let p = problems(
        "[store]\nurl = \"sqlite:sb.db\"\n[server]\nlisten = \"0.0.0.0:8080\"\n\
         auth_token_env = \"SWITCHBOARD_TEST_UNSET_TOKEN_VARIABLE\"\n",
    );
    assert_eq!(keys(&p), ["server.auth_token_env"], "{p}");
    // No variable named, none of the default ones set (no test sets them): refused.
    let p = problems("[store]\nurl = \"sqlite:sb.db\"\n[server]\nlisten = \"0.0.0.0:8080\"\n");
    assert_eq!(keys(&p), ["server.listen"], "{p}");
    assert!(p.list[0].message.contains("without authentication"), "{p}");
}

#[test]
fn eviction_and_retention_are_read_and_checked_with_their_paths() {
    let text = r#"
        [store]
        url = "sqlite:sb.db"
        [store.retention]
        transitions_days = 7
        contacts_days = 0
        [engine]
        evict_after_s = 0
        evict_idle_s = 7200
        [[sources]]
        type = "files"
        paths = ["."]
        "#;
    let c = load(text).unwrap();
    assert_eq!(c.store.retention.transitions_days, 7);
    assert_eq!(c.store.retention.contacts_days, 0);
    assert_eq!(c.store.retention.metric_cells_days, 400);
    assert_eq!((c.engine.evict_after_s, c.engine.evict_idle_s), (0, 7200));

    let p = problems(
        r#"
        [store]
        url = "sqlite:sb.db"
        [store.retention]
        transition_days = 7
        [engine]
        evict_after_s = -1
        [[sources]]
        type = "files"
        paths = ["."]
        "#,
    );
    let mut k = keys(&p);
    k.sort();
    assert_eq!(
        k,
        ["engine.evict_after_s", "store.retention.transition_days"],
        "{p}"
    );
}
