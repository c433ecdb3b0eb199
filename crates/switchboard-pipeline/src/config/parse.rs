//! TOML to config types, collecting every problem rather than stopping at the first.
//!
//! serde stops at the first error, and `deny_unknown_fields` names one unknown key at a
//! time. So the file is parsed as TOML first, then each section (and each source) is
//! deserialized on its own; when one fails on an unknown key, that key is reported with
//! its full path, taken out, and the section tried again, until it deserializes or fails
//! for another reason (a wrong type, a missing key), which is reported too. Each section
//! that deserializes is then checked by [`super::check`].

use std::path::Path;

use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;
use switchboard_engine::EngineConfig;
use switchboard_io::aws::connect::ConnectConfig;
use switchboard_io::aws::AwsConfig;

use switchboard_io::lookups::config::LookupConfig;
use switchboard_io::sinks::config::SinkConfig;
use switchboard_io::sinks::dead_letter::DeadLetterConfig;

use super::outputs;
use super::problems::{join, Problems};
use super::sources::{self, SourceConfig};
use super::{Config, PipelineConfig, ServerConfig, StoreConfig};
use crate::deliver::OutboxConfig;
use crate::lambda::LambdaConfig;
use crate::rules::RuleConfig;

/// The sections of `switchboard.toml`, for "unknown key" messages.
const SECTIONS: &[&str] = &[
    "store",
    "engine",
    "server",
    "pipeline",
    "dead_letter",
    "aws",
    "sources",
    "outbox",
    "sinks",
    "lookups",
    "rules",
    "connect",
    "lambda",
];

/// A config as parsed: `None` where a section failed to (its problems are reported).
#[derive(Debug, Clone)]
pub struct Parsed {
    pub store: Option<StoreConfig>,
    pub engine: Option<EngineConfig>,
    pub server: Option<ServerConfig>,
    pub pipeline: Option<PipelineConfig>,
    pub dead_letter: Option<Option<DeadLetterConfig>>,
    pub aws: Option<AwsConfig>,
    /// One per `[[sources]]` entry, in order.
    pub sources: Vec<Option<SourceConfig>>,
    pub outbox: Option<OutboxConfig>,
    pub sinks: Vec<Option<SinkConfig>>,
    pub lookups: Vec<Option<LookupConfig>>,
    pub rules: Vec<Option<RuleConfig>>,
    /// `Some(None)`: no `[connect]` section.
    pub connect: Option<Option<ConnectConfig>>,
    pub lambda: Option<LambdaConfig>,
}

impl Parsed {
    /// The config, if every section parsed.
    pub fn into_config(self) -> Option<Config> {
        Some(Config {
            store: self.store?,
            engine: self.engine?,
            server: self.server?,
            pipeline: self.pipeline?,
            dead_letter: self.dead_letter?,
            aws: self.aws?,
            sources: self.sources.into_iter().collect::<Option<_>>()?,
            outbox: self.outbox?,
            sinks: self.sinks.into_iter().collect::<Option<_>>()?,
            lookups: self.lookups.into_iter().collect::<Option<_>>()?,
            rules: self.rules.into_iter().collect::<Option<_>>()?,
            connect: self.connect?,
            lambda: self.lambda?,
        })
    }

    /// Fills each AWS source's unset `aws` fields from `[aws]`.
    pub fn inherit_aws(&mut self) {
        if let Some(defaults) = &self.aws {
            for source in self.sources.iter_mut().flatten() {
                sources::inherit_aws(source, defaults);
            }
            let dead = match &mut self.dead_letter {
                Some(Some(d)) => Some(d),
                _ => None,
            };
            outputs::inherit_aws(&mut self.sinks, &mut self.lookups, dead, defaults);
            if let Some(Some(connect)) = &mut self.connect {
                // An instance ARN names its region, which [aws] does not override.
                let has_arn = connect.arn().is_some();
                let aws = &mut connect.aws;
                if aws.region.is_none() && !has_arn {
                    aws.region.clone_from(&defaults.region);
                }
                if aws.profile.is_none() {
                    aws.profile.clone_from(&defaults.profile);
                }
                if aws.endpoint_url.is_none() {
                    aws.endpoint_url.clone_from(&defaults.endpoint_url);
                }
            }
        }
    }

    /// Takes relative paths from `base` (the config file's folder).
    pub fn resolve_paths(&mut self, base: &Path) {
        if let Some(store) = &mut self.store {
            store.url = super::check::resolve_store_url(&store.url, base);
        }
        let dead = match &mut self.dead_letter {
            Some(Some(d)) => Some(d),
            _ => None,
        };
        outputs::resolve_paths(&mut self.sinks, &mut self.lookups, dead, base);
        for source in self.sources.iter_mut().flatten() {
            if let SourceConfig::Files(files) = source {
                files.paths = files.paths.iter().map(|p| base.join(p)).collect();
            }
        }
    }
}

/// Parses `text`; `None` only when it is not TOML at all.
pub fn parse(text: &str, problems: &mut Problems) -> Option<Parsed> {
    let table = match text.parse::<toml::Table>() {
        Ok(t) => t,
        Err(e) => {
            problems.push("", syntax_message(text, &e));
            return None;
        }
    };
    let mut parsed = Parsed {
        store: None,
        engine: Some(EngineConfig::default()),
        server: Some(ServerConfig::default()),
        pipeline: Some(PipelineConfig::default()),
        dead_letter: Some(None),
        aws: Some(AwsConfig::default()),
        sources: Vec::new(),
        outbox: Some(OutboxConfig::default()),
        sinks: Vec::new(),
        lookups: Vec::new(),
        rules: Vec::new(),
        connect: Some(None),
        lambda: Some(LambdaConfig::default()),
    };
    if !table.contains_key("store") {
        problems.push(
            "store",
            "missing: every config needs a [store] section with url = \"sqlite:PATH\" or \
             \"postgres://...\"",
        );
    }
    for (key, value) in table {
        match key.as_str() {
            "store" => parsed.store = section(value, "store", problems),
            "engine" => parsed.engine = section(value, "engine", problems),
            "server" => parsed.server = section(value, "server", problems),
            "pipeline" => parsed.pipeline = section(value, "pipeline", problems),
            "dead_letter" => {
                parsed.dead_letter = outputs::parse_dead_letter(value, problems).map(Some)
            }
            "outbox" => parsed.outbox = section(value, "outbox", problems),
            "sinks" => parsed.sinks = outputs::parse_sinks(value, problems),
            "lookups" => parsed.lookups = outputs::parse_lookups(value, problems),
            "rules" => parsed.rules = outputs::parse_rules(value, problems),
            "aws" => parsed.aws = section(value, "aws", problems),
            "connect" => parsed.connect = section(value, "connect", problems).map(Some),
            "lambda" => parsed.lambda = section(value, "lambda", problems),
            "sources" => parsed.sources = parse_sources(value, problems),
            _ => problems.push(
                key.as_str(),
                format!("unknown key, expected one of {}", SECTIONS.join(", ")),
            ),
        }
    }
    Some(parsed)
}

fn parse_sources(value: toml::Value, problems: &mut Problems) -> Vec<Option<SourceConfig>> {
    let toml::Value::Array(entries) = value else {
        problems.push(
            "sources",
            "expected [[sources]] tables, one per source, each with a type",
        );
        return Vec::new();
    };
    entries
        .into_iter()
        .enumerate()
        .map(|(i, entry)| sources::parse_source(entry, &format!("sources[{i}]"), problems))
        .collect()
}

/// The most unknown keys reported in one section before giving up on it.
const MAX_UNKNOWN: usize = 100;

/// Deserializes one section (`path` names it), reporting every unknown key and the first
/// other error.
pub fn section<T: DeserializeOwned>(
    mut value: toml::Value,
    path: &str,
    problems: &mut Problems,
) -> Option<T> {
    let mut unknown = 0;
    loop {
        let error = match serde_path_to_error::deserialize::<_, T>(value.clone()) {
            Ok(v) => return Some(v),
            Err(e) => e,
        };
        let segments: Vec<Segment> = error.path().iter().cloned().collect();
        let at = path_string(&segments);
        let message = error.inner().message().to_owned();
        if let Some((field, expected)) = unknown_field(&message) {
            // The path ends with the unknown key itself.
            problems.push(join(path, &at), format!("unknown key{expected}"));
            unknown += 1;
            if unknown >= MAX_UNKNOWN || !remove(&mut value, &segments, field) {
                return None;
            }
            continue;
        }
        if let Some(field) = missing_field(&message) {
            // The path is the table the key is missing from.
            problems.push(join(path, &join(&at, field)), "missing key");
        } else {
            problems.push(join(path, &at), message);
        }
        return None;
    }
}

/// `a.b[2].c` from a serde path (`.` alone for the top is left out).
fn path_string(segments: &[Segment]) -> String {
    let mut out = String::new();
    for s in segments {
        match s {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Unknown => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push('?');
            }
        }
    }
    out
}

/// `("field", ", expected ...")` from serde's "unknown field `field`, expected ...".
fn unknown_field(message: &str) -> Option<(&str, &str)> {
    let rest = message.strip_prefix("unknown field `")?;
    let end = rest.find('`')?;
    Some((&rest[..end], &rest[end + 1..]))
}

/// `field` from serde's "missing field `field`".
fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    Some(&rest[..rest.find('`')?])
}

/// Removes the key at `segments` (ending with `field`) from `value`.
fn remove(value: &mut toml::Value, segments: &[Segment], field: &str) -> bool {
    let Some((_, parents)) = segments.split_last() else {
        return false;
    };
    let mut at = value;
    for s in parents {
        let next = match (s, at) {
            (Segment::Map { key }, toml::Value::Table(t)) => t.get_mut(key.as_str()),
            (Segment::Seq { index }, toml::Value::Array(a)) => a.get_mut(*index),
            _ => None,
        };
        match next {
            Some(n) => at = n,
            None => return false,
        }
    }
    match at {
        toml::Value::Table(t) => t.remove(field).is_some(),
        _ => false,
    }
}

/// "not valid TOML at line L, column C: ..." for a syntax error.
fn syntax_message(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim();
    match e.span() {
        Some(span) => {
            let mut start = span.start.min(text.len());
            while !text.is_char_boundary(start) {
                start -= 1;
            }
            let before = &text[..start];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("not valid TOML at line {line}, column {column}: {message}")
        }
        None => format!("not valid TOML: {message}"),
    }
}
