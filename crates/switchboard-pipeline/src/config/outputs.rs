//! The sections that make switchboard act: `[[rules]]`, `[[sinks]]`, `[[lookups]]`,
//! `[outbox]` and `[dead_letter]`: parsing (every problem with its key) and the checks
//! across them (unique names, rules naming sinks and lookups that exist).

use std::collections::BTreeSet;
use std::path::Path;

use switchboard_io::aws::AwsConfig;
use switchboard_io::lookups::config::LookupConfig;
use switchboard_io::problems::{join, Problems};
use switchboard_io::sinks::config::{SinkConfig, SinkKind, TYPES};
use switchboard_io::sinks::dead_letter::DeadLetterConfig;

use super::parse::section;
use crate::deliver::DEAD_LETTER_SINK;
use crate::rules::{valid_name, RuleConfig};

/// Parses `[[sinks]]`.
pub fn parse_sinks(value: toml::Value, problems: &mut Problems) -> Vec<Option<SinkConfig>> {
    let toml::Value::Array(entries) = value else {
        problems.push(
            "sinks",
            "expected [[sinks]] tables, each with a name and a type",
        );
        return Vec::new();
    };
    entries
        .into_iter()
        .enumerate()
        .map(|(i, entry)| parse_sink(entry, &format!("sinks[{i}]"), problems))
        .collect()
}

fn parse_sink(value: toml::Value, path: &str, problems: &mut Problems) -> Option<SinkConfig> {
    let toml::Value::Table(mut table) = value else {
        problems.push(path, "expected a table");
        return None;
    };
    let name = match table.remove("name") {
        Some(toml::Value::String(n)) => Some(n),
        Some(_) => {
            problems.push(join(path, "name"), "expected a string");
            None
        }
        None => {
            problems.push(
                join(path, "name"),
                "missing key (rules name the sink by it)",
            );
            None
        }
    };
    match table.get("type") {
        Some(toml::Value::String(t)) if TYPES.contains(&t.as_str()) => {}
        Some(toml::Value::String(t)) => {
            problems.push(
                join(path, "type"),
                format!(
                    "unknown sink type {t:?}, expected one of {}",
                    TYPES.join(", ")
                ),
            );
            return None;
        }
        Some(_) => {
            problems.push(join(path, "type"), "expected a string");
            return None;
        }
        None => {
            problems.push(
                join(path, "type"),
                format!("missing key (one of {})", TYPES.join(", ")),
            );
            return None;
        }
    }
    let kind: SinkKind = section(toml::Value::Table(table), path, problems)?;
    Some(SinkConfig { name: name?, kind })
}

/// Parses `[[rules]]`.
pub fn parse_rules(value: toml::Value, problems: &mut Problems) -> Vec<Option<RuleConfig>> {
    let toml::Value::Array(entries) = value else {
        problems.push("rules", "expected [[rules]] tables");
        return Vec::new();
    };
    entries
        .into_iter()
        .enumerate()
        .map(|(i, entry)| section(entry, &format!("rules[{i}]"), problems))
        .collect()
}

/// Parses `[[lookups]]`.
pub fn parse_lookups(value: toml::Value, problems: &mut Problems) -> Vec<Option<LookupConfig>> {
    let toml::Value::Array(entries) = value else {
        problems.push(
            "lookups",
            "expected [[lookups]] tables, each with a name and a type",
        );
        return Vec::new();
    };
    entries
        .into_iter()
        .enumerate()
        .map(|(i, entry)| section(entry, &format!("lookups[{i}]"), problems))
        .collect()
}

/// Parses `[dead_letter]`: a table with a `type` (`file`, `s3`, `sqs`), or the older
/// form with only `path` (a file).
pub fn parse_dead_letter(value: toml::Value, problems: &mut Problems) -> Option<DeadLetterConfig> {
    if let toml::Value::Table(t) = &value {
        if !t.contains_key("type") && t.contains_key("path") {
            if t.len() > 1 {
                for key in t.keys().filter(|k| *k != "path") {
                    problems.push(
                        join("dead_letter", key),
                        "unknown key, expected path (or set type)",
                    );
                }
                return None;
            }
            return match t.get("path") {
                Some(toml::Value::String(p)) => Some(DeadLetterConfig::from_legacy_path(p.into())),
                _ => {
                    problems.push("dead_letter.path", "expected a string");
                    None
                }
            };
        }
    }
    section(value, "dead_letter", problems)
}

/// Takes relative paths of sinks, lookups and the dead-letter file from `base`.
pub fn resolve_paths(
    sinks: &mut [Option<SinkConfig>],
    lookups: &mut [Option<LookupConfig>],
    dead_letter: Option<&mut DeadLetterConfig>,
    base: &Path,
) {
    for sink in sinks.iter_mut().flatten() {
        if let SinkKind::File(f) = &mut sink.kind {
            f.path = base.join(&f.path);
        }
    }
    for lookup in lookups.iter_mut().flatten() {
        if let LookupConfig::File(f) = lookup {
            f.path = base.join(&f.path);
        }
    }
    if let Some(dead) = dead_letter {
        dead.resolve_paths(base);
    }
}

/// Fills unset AWS fields of AWS sinks, lookups and the dead-letter writer from `[aws]`.
pub fn inherit_aws(
    sinks: &mut [Option<SinkConfig>],
    lookups: &mut [Option<LookupConfig>],
    dead_letter: Option<&mut DeadLetterConfig>,
    defaults: &AwsConfig,
) {
    let fill = |aws: &mut AwsConfig| {
        if aws.region.is_none() {
            aws.region.clone_from(&defaults.region);
        }
        if aws.profile.is_none() {
            aws.profile.clone_from(&defaults.profile);
        }
        if aws.endpoint_url.is_none() {
            aws.endpoint_url.clone_from(&defaults.endpoint_url);
        }
    };
    for sink in sinks.iter_mut().flatten() {
        if let Some(aws) = sink.kind.aws_mut() {
            fill(aws);
        }
    }
    for lookup in lookups.iter_mut().flatten() {
        if let LookupConfig::Dynamodb(d) = lookup {
            fill(&mut d.aws);
        }
    }
    if let Some(aws) = dead_letter.and_then(|d| d.aws_mut()) {
        fill(aws);
    }
}

/// Checks the sections against each other and each on its own.
pub fn check(
    rules: &[Option<RuleConfig>],
    sinks: &[Option<SinkConfig>],
    lookups: &[Option<LookupConfig>],
    dead_letter: Option<&DeadLetterConfig>,
    problems: &mut Problems,
) {
    let mut sink_names = BTreeSet::new();
    for (i, sink) in sinks.iter().enumerate() {
        let Some(sink) = sink else { continue };
        let key = format!("sinks[{i}]");
        if !valid_name(&sink.name) {
            problems.push(
                join(&key, "name"),
                "must be 1 to 100 characters of letters, digits, '-', '_' or '.'",
            );
        } else if sink.name == DEAD_LETTER_SINK {
            problems.push(
                join(&key, "name"),
                "dead_letter is the dead-letter writer's own name: configure it in [dead_letter]",
            );
        } else if !sink_names.insert(sink.name.clone()) {
            problems.push(
                join(&key, "name"),
                format!("another sink is named {:?}", sink.name),
            );
        }
        sink.kind.check(&key, problems);
    }
    let mut lookup_names = BTreeSet::new();
    for (i, lookup) in lookups.iter().enumerate() {
        let Some(lookup) = lookup else { continue };
        let key = format!("lookups[{i}]");
        if !valid_name(lookup.name()) {
            problems.push(
                join(&key, "name"),
                "must be 1 to 100 characters of letters, digits, '-', '_' or '.'",
            );
        } else if !lookup_names.insert(lookup.name().to_owned()) {
            problems.push(
                join(&key, "name"),
                format!("another lookup is named {:?}", lookup.name()),
            );
        }
        lookup.check(&key, problems);
    }
    let mut rule_names = BTreeSet::new();
    for (i, rule) in rules.iter().enumerate() {
        let Some(rule) = rule else { continue };
        let key = format!("rules[{i}]");
        if !rule_names.insert(rule.name.clone()) {
            problems.push(
                join(&key, "name"),
                format!("another rule is named {:?}", rule.name),
            );
        }
        rule.check(&key, &sink_names, &lookup_names, problems);
    }
    if let Some(dead) = dead_letter {
        dead.check("dead_letter", problems);
    }
}
