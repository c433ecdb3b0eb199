//! `[connect]`: which Amazon Connect instance `switchboard run` asks for what the data
//! streams do not carry (current agent states, contact attributes, names), and how
//! gently. Always compiled, so `switchboard validate` can explain a `[connect]` section
//! to a build without the `connect` feature.

use serde::{Deserialize, Serialize};

use crate::aws::AwsConfig;
use crate::lookups::config::CacheSettings;
use crate::problems::{join, Problems};

/// The name of the lookup that answers contact attributes (GetContactAttributes) in the
/// delivery workers' lookup map.
pub const CONTACT_ATTRIBUTES_LOOKUP: &str = "connect_contact_attributes";

/// `[connect]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectConfig {
    /// The instance: its id (`12345678-aaaa-bbbb-cccc-123456789012`) or its ARN
    /// (`arn:aws:connect:REGION:ACCOUNT:instance/ID`; the region is then taken from it
    /// unless `aws.region` is set).
    pub instance_id: String,
    /// At start-up, load every agent's current state (GetCurrentUserData), so the seat
    /// map is right before the first event arrives.
    #[serde(default = "default_true")]
    pub load_agent_states: bool,
    /// At start-up, list the instance's users, queues and routing profiles, so the
    /// dashboard shows names before events carry them.
    #[serde(default = "default_true")]
    pub list_names: bool,
    /// Re-check (GetCurrentUserData) an agent who is not offline and sent no event for
    /// this many seconds: an agent who closed the softphone would otherwise stay
    /// "Available" forever. 0 turns re-checks off; else 30 to 604800.
    #[serde(default = "default_recheck_silent_after_secs")]
    pub recheck_silent_after_secs: u64,
    /// How often to look for silent agents, in seconds (1 to 86400).
    #[serde(default = "default_recheck_interval_secs")]
    pub recheck_interval_secs: u64,
    /// Request rate of GetCurrentUserData and the List calls.
    #[serde(default = "RateConfig::api_default")]
    pub api_rate: RateConfig,
    /// Request rate of GetContactAttributes (rules with `contact_attributes = true`).
    /// Default 2 a second with a burst of 5, Connect's default quota; raise it if your
    /// account's quota was raised.
    #[serde(default = "RateConfig::attributes_default")]
    pub contact_attributes_rate: RateConfig,
    /// How long contact attributes are kept (`ttl_secs`, `miss_ttl_secs`, `max_entries`).
    #[serde(default)]
    pub contact_attributes_cache: CacheSettings,
    /// Attempts of one throttled (or failed for a reason worth retrying) call before it
    /// fails (1 to 20).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Ceiling of the first retry's wait, in milliseconds; the ceiling doubles with each
    /// retry up to `backoff_max_ms`, and the wait is random below it (full jitter).
    #[serde(default = "default_backoff_base_ms")]
    pub backoff_base_ms: u64,
    /// The largest retry wait, in milliseconds.
    #[serde(default = "default_backoff_max_ms")]
    pub backoff_max_ms: u64,
    /// Region, profile and endpoint (unset fields come from `[aws]`).
    #[serde(default)]
    pub aws: AwsConfig,
}

/// A token bucket: `per_second` requests a second on average, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateConfig {
    /// Requests a second (0.01 to 1000; fractions allowed).
    pub per_second: f64,
    /// Requests allowed at once after a quiet spell (1 to 1000).
    pub burst: u32,
}

impl RateConfig {
    pub fn api_default() -> RateConfig {
        RateConfig {
            per_second: 2.0,
            burst: 5,
        }
    }

    pub fn attributes_default() -> RateConfig {
        RateConfig {
            per_second: 2.0,
            burst: 5,
        }
    }

    pub fn check(&self, key: &str, problems: &mut Problems) {
        if !(self.per_second.is_finite() && (0.01..=1000.0).contains(&self.per_second)) {
            problems.push(
                join(key, "per_second"),
                format!("{} is out of range: 0.01 to 1000", self.per_second),
            );
        }
        if !(1..=1000).contains(&self.burst) {
            problems.push(
                join(key, "burst"),
                format!("{} is out of range: 1 to 1000", self.burst),
            );
        }
    }
}

fn default_true() -> bool {
    true
}
fn default_recheck_silent_after_secs() -> u64 {
    900
}
fn default_recheck_interval_secs() -> u64 {
    60
}
fn default_max_attempts() -> u32 {
    5
}
fn default_backoff_base_ms() -> u64 {
    200
}
fn default_backoff_max_ms() -> u64 {
    10_000
}

impl ConnectConfig {
    /// A config for `instance_id` with every default.
    pub fn new(instance_id: impl Into<String>) -> Self {
        ConnectConfig {
            instance_id: instance_id.into(),
            load_agent_states: true,
            list_names: true,
            recheck_silent_after_secs: default_recheck_silent_after_secs(),
            recheck_interval_secs: default_recheck_interval_secs(),
            api_rate: RateConfig::api_default(),
            contact_attributes_rate: RateConfig::attributes_default(),
            contact_attributes_cache: CacheSettings::default(),
            max_attempts: default_max_attempts(),
            backoff_base_ms: default_backoff_base_ms(),
            backoff_max_ms: default_backoff_max_ms(),
            aws: AwsConfig::default(),
        }
    }

    pub fn example() -> Self {
        ConnectConfig::new(
            "arn:aws:connect:us-east-1:123456789012:instance/12345678-aaaa-bbbb-cccc-123456789012",
        )
    }

    /// The instance id (the ARN's last part when an ARN is given).
    pub fn id(&self) -> &str {
        match self.instance_id.split_once(":instance/") {
            Some((_, id)) => id,
            None => &self.instance_id,
        }
    }

    /// The instance's ARN when it was given as one.
    pub fn arn(&self) -> Option<&str> {
        self.instance_id
            .starts_with("arn:")
            .then_some(self.instance_id.as_str())
    }

    /// The AWS settings, with the region of the instance's ARN when none is set.
    pub fn aws_settings(&self) -> AwsConfig {
        let mut aws = self.aws.clone();
        if aws.region.is_none() {
            aws.region = self
                .arn()
                .and_then(|arn| arn.split(':').nth(3))
                .filter(|r| !r.is_empty())
                .map(String::from);
        }
        aws
    }

    /// Reports every problem; `key` is the section's path (`connect`).
    pub fn check(&self, key: &str, problems: &mut Problems) {
        let at = join(key, "instance_id");
        let id = self.id();
        if let Some(arn) = self.arn() {
            let parts: Vec<&str> = arn.splitn(6, ':').collect();
            if parts.len() != 6 || parts[2] != "connect" || !parts[5].starts_with("instance/") {
                problems.push(
                    &at,
                    format!(
                        "{arn:?} is not an instance ARN: expected \
                         arn:aws:connect:REGION:ACCOUNT:instance/ID (the console's instance \
                         page shows it)"
                    ),
                );
            }
        }
        if id.is_empty()
            || id.len() > 100
            || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            problems.push(
                &at,
                format!(
                    "{id:?} is not an instance id: expected the id (letters, digits and \
                     dashes, such as 12345678-aaaa-bbbb-cccc-123456789012) or the ARN"
                ),
            );
        }
        let silent = self.recheck_silent_after_secs;
        if silent != 0 && !(30..=604_800).contains(&silent) {
            problems.push(
                join(key, "recheck_silent_after_secs"),
                format!("{silent} is out of range: 0 (off), or 30 to 604800 seconds"),
            );
        }
        if !(1..=86_400).contains(&self.recheck_interval_secs) {
            problems.push(
                join(key, "recheck_interval_secs"),
                format!(
                    "{} is out of range: 1 to 86400 seconds",
                    self.recheck_interval_secs
                ),
            );
        }
        self.api_rate.check(&join(key, "api_rate"), problems);
        self.contact_attributes_rate
            .check(&join(key, "contact_attributes_rate"), problems);
        self.contact_attributes_cache
            .check(&join(key, "contact_attributes_cache"), problems);
        if !(1..=20).contains(&self.max_attempts) {
            problems.push(
                join(key, "max_attempts"),
                format!("{} is out of range: 1 to 20", self.max_attempts),
            );
        }
        if !(1..=60_000).contains(&self.backoff_base_ms) {
            problems.push(
                join(key, "backoff_base_ms"),
                format!("{} is out of range: 1 to 60000", self.backoff_base_ms),
            );
        }
        if self.backoff_max_ms < self.backoff_base_ms || self.backoff_max_ms > 600_000 {
            problems.push(
                join(key, "backoff_max_ms"),
                format!(
                    "{} is out of range: backoff_base_ms to 600000",
                    self.backoff_max_ms
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_and_region_come_from_an_arn() {
        let c = ConnectConfig::example();
        assert_eq!(c.id(), "12345678-aaaa-bbbb-cccc-123456789012");
        assert_eq!(c.aws_settings().region.as_deref(), Some("us-east-1"));
        let mut problems = Problems::new("f");
        c.check("connect", &mut problems);
        assert!(problems.is_empty(), "{problems}");
        let plain = ConnectConfig::new("inst-1");
        assert_eq!(plain.id(), "inst-1");
        assert_eq!(plain.aws_settings().region, None);
    }

    #[test]
    fn every_problem_is_reported_with_its_key() {
        let mut c = ConnectConfig::new("arn:aws:s3:::bucket");
        c.recheck_silent_after_secs = 5;
        c.contact_attributes_rate.per_second = 0.0;
        c.api_rate.burst = 0;
        c.max_attempts = 0;
        c.backoff_max_ms = 1;
        let mut problems = Problems::new("f");
        c.check("connect", &mut problems);
        let text = problems.to_string();
        for key in [
            "connect.instance_id",
            "connect.recheck_silent_after_secs",
            "connect.contact_attributes_rate.per_second",
            "connect.api_rate.burst",
            "connect.max_attempts",
            "connect.backoff_max_ms",
        ] {
            assert!(text.contains(key), "{key} missing from {text}");
        }
    }
}
