//! The checks a config of the right shape can still fail: URLs that do not parse, values
//! out of range, secrets named but not set, two sources on one HTTP path or one lease
//! table, a source path the dashboard already uses, input files that are not there. The
//! checks make no connection and start nothing: a store or stream that is unreachable is
//! found by `run`.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

use switchboard_engine::EngineConfig;
use switchboard_io::aws::AwsConfig;
use switchboard_model::decode::Format;
use switchboard_server::auth::{check_bind, BASIC_ENV, TOKEN_ENV};
use switchboard_server::Auth;
use switchboard_store::StoreUrl;

use super::parse::Parsed;
use super::problems::{join, Problems};
use super::sources::{FilesConfig, SourceConfig};
use super::{PipelineConfig, ServerConfig, StoreConfig};

/// The longest threshold that makes sense: a week, in seconds.
const MAX_THRESHOLD_S: i64 = 7 * 24 * 3600;

/// Routes of the dashboard and API that an HTTP source may not take.
const SERVER_PATHS: &[&str] = &["/", "/metrics", "/healthz", "/readyz"];
const SERVER_PREFIXES: &[&str] = &["/api/", "/assets/"];

/// Checks every section that parsed.
pub fn check(parsed: &Parsed, problems: &mut Problems) {
    if let Some(store) = &parsed.store {
        check_store(store, problems);
    }
    if let Some(engine) = &parsed.engine {
        check_engine(engine, problems);
    }
    if let Some(server) = &parsed.server {
        check_server(server, problems);
    }
    if let Some(pipeline) = &parsed.pipeline {
        check_pipeline(pipeline, problems);
    }
    if let Some(outbox) = &parsed.outbox {
        outbox.check("outbox", problems);
    }
    let dead = match &parsed.dead_letter {
        Some(Some(d)) => Some(d),
        _ => None,
    };
    super::outputs::check(
        &parsed.rules,
        &parsed.sinks,
        &parsed.lookups,
        dead,
        problems,
    );
    if let Some(aws) = &parsed.aws {
        check_aws(aws, "aws", problems);
    }
    check_sources(&parsed.sources, problems);
    check_connect(parsed, problems);
    check_lambda(parsed, problems);
}

/// `[connect]`, and the rules that need it.
fn check_connect(parsed: &Parsed, problems: &mut Problems) {
    let connect = match &parsed.connect {
        Some(Some(c)) => Some(c),
        _ => None,
    };
    if let Some(c) = connect {
        if !cfg!(feature = "connect") {
            problems.push(
                "connect",
                "this switchboard was built without the Amazon Connect API: rebuild it with \
                 `cargo build --release --features connect` (or remove [connect])",
            );
        }
        c.check("connect", problems);
        check_aws(&c.aws, "connect.aws", problems);
    }
    for (i, rule) in parsed.rules.iter().enumerate() {
        if let Some(rule) = rule {
            if rule.contact_attributes && connect.is_none() {
                problems.push(
                    format!("rules[{i}].contact_attributes"),
                    "needs a [connect] section naming the instance (instance_id = ...)",
                );
            }
        }
    }
}

/// `[lambda]`: the handlers' own settings, whose lookups must exist.
fn check_lambda(parsed: &Parsed, problems: &mut Problems) {
    if let Some(lambda) = &parsed.lambda {
        let lookups = parsed
            .lookups
            .iter()
            .flatten()
            .map(|l| l.name().to_owned())
            .collect();
        lambda.check("lambda", &lookups, problems);
    }
}

/// A relative `sqlite:` path taken from `base`; other URLs unchanged.
pub fn resolve_store_url(url: &str, base: &Path) -> String {
    match StoreUrl::from_str(url) {
        Ok(StoreUrl::Sqlite(path)) if path.is_relative() => {
            format!("sqlite:{}", base.join(path).display())
        }
        _ => url.to_owned(),
    }
}

fn check_store(store: &StoreConfig, problems: &mut Problems) {
    match StoreUrl::from_str(&store.url) {
        Ok(StoreUrl::Sqlite(path)) => check_parent_folder(&path, "store.url", problems),
        Ok(StoreUrl::Postgres(_)) => {}
        Err(e) => problems.push("store.url", e.to_string()),
    }
    if let Some(worker) = &store.worker {
        if worker.trim().is_empty() || worker.len() > 200 {
            problems.push("store.worker", "must be 1 to 200 characters");
        }
    }
}

/// A file to be created needs its folder.
fn check_parent_folder(path: &Path, key: &str, problems: &mut Problems) {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        problems.push(
            key,
            format!(
                "folder {} does not exist (create it first)",
                parent.display()
            ),
        );
    }
}

fn check_threshold(value: i64, key: &str, problems: &mut Problems) {
    if !(1..=MAX_THRESHOLD_S).contains(&value) {
        problems.push(
            key,
            format!("{value} is out of range: seconds, 1 to {MAX_THRESHOLD_S} (a week)"),
        );
    }
}

/// The longest a contact may be kept in memory after it ended or went idle.
const MAX_KEEP_S: i64 = 366 * 24 * 3600;

fn check_engine(engine: &EngineConfig, problems: &mut Problems) {
    check_threshold(engine.service_level_s, "engine.service_level_s", problems);
    for (queue, s) in &engine.service_level_by_queue {
        check_threshold(
            *s,
            &format!("engine.service_level_by_queue.{}", toml_key(queue)),
            problems,
        );
    }
    for (name, value) in [
        ("evict_after_s", engine.evict_after_s),
        ("evict_idle_s", engine.evict_idle_s),
    ] {
        if !(0..=MAX_KEEP_S).contains(&value) {
            problems.push(
                format!("engine.{name}"),
                format!("{value} is out of range: seconds, 0 to {MAX_KEEP_S} (a year)"),
            );
        }
    }
    let a = &engine.alerts;
    for (name, value) in [
        ("long_hold_s", a.long_hold_s),
        ("long_acw_s", a.long_acw_s),
        ("long_custom_status_s", a.long_custom_status_s),
        ("queue_wait_s", a.queue_wait_s),
    ] {
        if let Some(v) = value {
            check_threshold(v, &format!("engine.alerts.{name}"), problems);
        }
    }
    for (status, s) in &a.custom_status_s {
        check_threshold(
            *s,
            &format!("engine.alerts.custom_status_s.{}", toml_key(status)),
            problems,
        );
    }
}

/// A map key as TOML writes it in a dotted path.
fn toml_key(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        key.to_owned()
    } else {
        format!("{key:?}")
    }
}

/// The server's authentication, from the variables the config names (or the default
/// ones). `Err` with the key at fault.
pub fn server_auth(server: &ServerConfig) -> Result<Auth, (String, String)> {
    let read = |configured: &Option<String>, default: &str, key: &str| {
        match configured {
            // A variable named in the config must be set.
            Some(var) => match std::env::var(var) {
                Ok(v) => Ok(Some(v)),
                Err(_) => Err((
                    format!("server.{key}"),
                    format!("names {var}, which is not set (or not UTF-8)"),
                )),
            },
            None => Ok(std::env::var(default).ok().filter(|v| !v.is_empty())),
        }
    };
    let token = read(&server.auth_token_env, TOKEN_ENV, "auth_token_env")?;
    let basic = read(&server.basic_auth_env, BASIC_ENV, "basic_auth_env")?;
    if token.is_some() && basic.is_some() {
        return Err((
            "server".into(),
            "both a bearer token and basic auth are set: choose one".into(),
        ));
    }
    let key = if basic.is_some() {
        "server.basic_auth_env"
    } else {
        "server.auth_token_env"
    };
    Auth::from_options(token.as_deref(), basic.as_deref())
        .map_err(|e| (key.to_owned(), e.to_string()))
}

fn check_server(server: &ServerConfig, problems: &mut Problems) {
    match server_auth(server) {
        Ok(auth) => {
            if let Err(e) = check_bind(server.listen, &auth) {
                problems.push("server.listen", e.to_string());
            }
        }
        Err((key, message)) => problems.push(key, message),
    }
}

fn check_pipeline(p: &PipelineConfig, problems: &mut Problems) {
    let mut range = |key: &str, value: u64, lo: u64, hi: u64| {
        if !(lo..=hi).contains(&value) {
            problems.push(
                format!("pipeline.{key}"),
                format!("{value} is out of range: {lo} to {hi}"),
            );
        }
    };
    range("channel_capacity", p.channel_capacity as u64, 1, 100_000);
    range("commit_interval_ms", p.commit_interval_ms, 10, 60_000);
    range(
        "max_batch_records",
        p.max_batch_records as u64,
        1,
        1_000_000,
    );
    range("shutdown_timeout_secs", p.shutdown_timeout_secs, 1, 600);
}

/// `http://` or `https://` followed by something.
fn is_http_url(url: &str) -> bool {
    ["http://", "https://"].iter().any(|scheme| {
        url.strip_prefix(scheme)
            .is_some_and(|rest| !rest.is_empty())
    })
}

fn check_aws(aws: &AwsConfig, key: &str, problems: &mut Problems) {
    if let Some(url) = &aws.endpoint_url {
        if !is_http_url(url) {
            problems.push(
                join(key, "endpoint_url"),
                format!("{url:?} is not an http:// or https:// URL"),
            );
        }
    }
    for (field, value) in [("region", &aws.region), ("profile", &aws.profile)] {
        if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
            problems.push(join(key, field), "is empty");
        }
    }
}

fn check_sources(sources: &[Option<SourceConfig>], problems: &mut Problems) {
    // Paths and lease tables claimed so far, by the source that claimed them.
    let mut paths: BTreeMap<&str, usize> = BTreeMap::new();
    let mut leases: BTreeMap<(String, &str), usize> = BTreeMap::new();
    let mut queues: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, source) in sources.iter().enumerate() {
        let Some(source) = source else { continue };
        let at = format!("sources[{i}]");
        match source {
            SourceConfig::Kinesis(k) => {
                if let Err(e) = k.validate() {
                    problems.push(&at, strip_prefix(&e.to_string()));
                }
                check_aws(&k.aws, &join(&at, "aws"), problems);
                let key = (k.stream_name().to_owned(), k.application.as_str());
                if let Some(first) = leases.insert(key, i) {
                    problems.push(
                        join(&at, "application"),
                        format!(
                            "sources[{first}] reads the same stream with the same application \
                             (lease table): give each its own application"
                        ),
                    );
                }
            }
            SourceConfig::Sqs(s) => {
                if let Err(e) = s.validate() {
                    problems.push(&at, strip_prefix(&e.to_string()));
                }
                check_aws(&s.aws, &join(&at, "aws"), problems);
                let urls = [
                    ("queue_url", Some(&s.queue_url)),
                    ("dead_letter_queue_url", s.dead_letter_queue_url.as_ref()),
                ];
                for (field, url) in urls {
                    if url.is_some_and(|u| !is_http_url(u)) {
                        problems.push(
                            join(&at, field),
                            "is not an http:// or https:// URL (the queue's URL, not its ARN \
                             or name)",
                        );
                    }
                }
                if let Some(first) = queues.insert(s.queue_url.as_str(), i) {
                    problems.push(
                        join(&at, "queue_url"),
                        format!("sources[{first}] already reads this queue"),
                    );
                }
            }
            SourceConfig::FirehoseHttp(f) => {
                if let Err(e) = f.validate() {
                    problems.push(&at, strip_prefix(&e.to_string()));
                }
            }
            SourceConfig::EventbridgeHttp(e) => {
                if let Err(e) = e.validate() {
                    problems.push(&at, strip_prefix(&e.to_string()));
                }
            }
            SourceConfig::Files(f) => check_files(f, &at, problems),
        }
        if let Some(path) = source.http_path() {
            let key = join(&at, "path");
            if let Some(why) = bad_route(path) {
                problems.push(&key, why);
            } else if let Some(first) = paths.insert(path, i) {
                problems.push(
                    &key,
                    format!("sources[{first}] is already served at {path}"),
                );
            }
        }
    }
}

/// The source configs' own messages start with their type ("sqs source: ..."); the key
/// already says which source it is.
fn strip_prefix(message: &str) -> String {
    for prefix in [
        "sqs source: ",
        "kinesis source: ",
        "firehose_http source: ",
        "eventbridge_http source: ",
    ] {
        if let Some(rest) = message.strip_prefix(prefix) {
            return rest.to_owned();
        }
    }
    message.to_owned()
}

/// Why `path` cannot be an HTTP source's route, if it cannot.
fn bad_route(path: &str) -> Option<String> {
    if !path.starts_with('/') || path.len() < 2 {
        return Some(format!("{path:?} must start with '/' and name a path"));
    }
    if !path
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.' | '~'))
    {
        return Some(format!(
            "{path:?} may only hold letters, digits and / - _ . ~"
        ));
    }
    if SERVER_PATHS.contains(&path)
        || SERVER_PREFIXES
            .iter()
            .any(|p| path.starts_with(p) || path == p.trim_end_matches('/'))
    {
        return Some(format!(
            "{path} belongs to the dashboard and API (/, /api/..., /assets/..., /metrics, \
             /healthz, /readyz): choose another path"
        ));
    }
    None
}

fn check_files(f: &FilesConfig, at: &str, problems: &mut Problems) {
    if f.paths.is_empty() {
        problems.push(join(at, "paths"), "lists no file or folder");
    }
    for (j, path) in f.paths.iter().enumerate() {
        if !path.exists() {
            problems.push(
                format!("{at}.paths[{j}]"),
                format!("{} does not exist", path.display()),
            );
        }
    }
    if let Err(e) = Format::from_str(&f.format) {
        problems.push(join(at, "format"), e);
    }
    if !(1..=100_000).contains(&f.batch) {
        problems.push(
            join(at, "batch"),
            format!("{} is out of range: 1 to 100000", f.batch),
        );
    }
}
