//! `OpenSearchConfig`: the cluster, the index names, how to authenticate, whether to
//! install the index template, and the bulk request size.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::auth::Signer;
use super::OpenSearchSink;
use crate::problems::{first_problem, join, Problems};
use crate::sinks::{BatchHints, BuildError};

/// Default of `index_prefix`.
pub const DEFAULT_INDEX_PREFIX: &str = "switchboard";
/// Default of `max_items`: documents per `_bulk` request.
pub const DEFAULT_MAX_ITEMS: usize = 500;
/// Default of `max_bytes`: 5 MiB per `_bulk` request (Amazon OpenSearch Service accepts
/// 10 MiB on its smallest instances, 100 MiB on most).
pub const DEFAULT_MAX_BYTES: usize = 5 * 1024 * 1024;
/// Default of `timeout_secs`.
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;
/// The longest index name OpenSearch and Elasticsearch accept, in bytes.
pub const MAX_INDEX_NAME_BYTES: usize = 255;
/// The longest suffix the sink adds to `index_prefix`: `-contact_record_ready-YYYY.MM.DD`.
const LONGEST_SUFFIX: usize = "-contact_record_ready-2000.01.01".len();

/// OpenSearch or Elasticsearch (`type = "opensearch"`): documents indexed with `_bulk`
/// into one index per item kind and day, `<index_prefix>-<kind>-YYYY.MM.DD`, with an index
/// template whose mappings let Kibana and OpenSearch Dashboards aggregate.
///
/// ```toml
/// [[sinks]]
/// name = "kibana"
/// type = "opensearch"
/// url = "https://search-acme-abc123.us-east-1.es.amazonaws.com"
/// auth = { type = "aws_sigv4", region = "us-east-1", service = "es" }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenSearchConfig {
    /// The cluster's URL, e.g. `https://search-acme-abc123.us-east-1.es.amazonaws.com` or
    /// `http://127.0.0.1:9200`. A path is kept (a cluster behind a proxy at
    /// `https://proxy/es`); requests go to `<url>/_bulk` and `<url>/_index_template/...`.
    pub url: String,
    /// Index names start with it: `<index_prefix>-<kind>-YYYY.MM.DD`, e.g.
    /// `switchboard-contact_record-2025.01.31`. Lower-case letters, digits, `-`, `_`
    /// and `.`; the template covers `<index_prefix>-*`.
    #[serde(default = "default_index_prefix")]
    pub index_prefix: String,
    /// How to authenticate: `{ type = "none" }` (default), `{ type = "basic", username
    /// = "...", password_env = "..." }`, or `{ type = "aws_sigv4", region = "...",
    /// service = "es" }` for Amazon OpenSearch Service (`aoss` for Serverless).
    #[serde(default)]
    pub auth: OpenSearchAuth,
    /// Install the index template `<index_prefix>` (PUT `_index_template`) before the
    /// first documents, so new daily indexes get dates, numbers and keywords right.
    /// Turn it off when you manage the template yourself, or for clusters older than
    /// Elasticsearch 7.8 (no composable templates).
    #[serde(default = "default_true")]
    pub template: bool,
    /// Documents per `_bulk` request, 1 to 10000.
    #[serde(default = "default_max_items")]
    pub max_items: usize,
    /// Bytes of documents per `_bulk` request (about), 64 KiB to 100 MiB. A request the
    /// cluster finds too large (HTTP 413) is split in halves and sent again.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: usize,
    /// Seconds a request may take before it is given up and its documents retried later,
    /// 1 to 600.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
}

/// How requests are authenticated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum OpenSearchAuth {
    /// No `Authorization` header (a cluster on a private network, a proxy that signs).
    #[default]
    None,
    /// HTTP basic authentication (the `elastic` user, OpenSearch's internal users).
    Basic {
        /// The user name.
        username: String,
        /// The environment variable holding the password (read when the sink starts).
        password_env: String,
    },
    /// AWS Signature Version 4, with credentials from the default chain (environment,
    /// profile, SSO, container and instance roles), for Amazon OpenSearch Service.
    AwsSigv4 {
        /// The domain's region, e.g. `us-east-1`. Unset: the default chain's
        /// (`AWS_REGION`, the profile).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        region: Option<String>,
        /// `es` for an OpenSearch Service domain, `aoss` for OpenSearch Serverless.
        service: SigV4Service,
        /// A named profile from `~/.aws/config` for the credentials.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        profile: Option<String>,
    },
}

/// The service name requests are signed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SigV4Service {
    /// Amazon OpenSearch Service (managed domains).
    Es,
    /// Amazon OpenSearch Serverless.
    Aoss,
}

impl SigV4Service {
    pub fn as_str(self) -> &'static str {
        match self {
            SigV4Service::Es => "es",
            SigV4Service::Aoss => "aoss",
        }
    }
}

fn default_index_prefix() -> String {
    DEFAULT_INDEX_PREFIX.into()
}
fn default_true() -> bool {
    true
}
fn default_max_items() -> usize {
    DEFAULT_MAX_ITEMS
}
fn default_max_bytes() -> usize {
    DEFAULT_MAX_BYTES
}
fn default_timeout_secs() -> u64 {
    DEFAULT_TIMEOUT_SECS
}

impl OpenSearchConfig {
    /// An Amazon OpenSearch Service domain, signed with the default credentials.
    pub fn example() -> Self {
        OpenSearchConfig {
            url: "https://search-acme-abc123.us-east-1.es.amazonaws.com".into(),
            index_prefix: DEFAULT_INDEX_PREFIX.into(),
            auth: OpenSearchAuth::AwsSigv4 {
                region: Some("us-east-1".into()),
                service: SigV4Service::Es,
                profile: None,
            },
            template: true,
            max_items: DEFAULT_MAX_ITEMS,
            max_bytes: DEFAULT_MAX_BYTES,
            timeout_secs: DEFAULT_TIMEOUT_SECS,
        }
    }

    /// Reports every problem under `key` (`sinks[1]`): the URL, the index prefix, the
    /// authentication settings, the bounds.
    pub fn check(&self, key: &str, problems: &mut Problems) {
        if let Err(why) = parse_url(&self.url) {
            problems.push(join(key, "url"), why);
        }
        if let Err(why) = check_index_prefix(&self.index_prefix) {
            problems.push(join(key, "index_prefix"), why);
        }
        let auth = join(key, "auth");
        match &self.auth {
            OpenSearchAuth::None => {}
            OpenSearchAuth::Basic {
                username,
                password_env,
            } => {
                if username.is_empty() || username.contains(':') {
                    problems.push(
                        join(&auth, "username"),
                        "must be set and hold no ':' (basic authentication cannot carry one)",
                    );
                }
                if password_env.trim().is_empty() {
                    problems.push(
                        join(&auth, "password_env"),
                        "is empty: name the environment variable that holds the password",
                    );
                }
                if self.url.starts_with("http://")
                    && !parse_url(&self.url).is_ok_and(|u| is_loopback(&u))
                {
                    problems.push(
                        join(key, "url"),
                        "sends a password in the clear: use https:// (or a cluster on this \
                         machine)",
                    );
                }
            }
            OpenSearchAuth::AwsSigv4 {
                region, profile, ..
            } => {
                for (field, value) in [("region", region), ("profile", profile)] {
                    if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                        problems.push(join(&auth, field), "is empty");
                    }
                }
            }
        }
        let max_items = join(key, "max_items");
        problems.check_range(max_items, self.max_items, 1..=10_000, "1 to 10000");
        problems.check_range(
            join(key, "max_bytes"),
            self.max_bytes,
            64 * 1024..=100 * 1024 * 1024,
            "65536 (64 KiB) to 104857600 (100 MiB)",
        );
        let timeout = join(key, "timeout_secs");
        problems.check_range(timeout, self.timeout_secs, 1..=600, "1 to 600");
    }

    /// Bulk requests of `max_items` and `max_bytes`, sent as soon as items wait.
    pub fn hints(&self) -> BatchHints {
        BatchHints {
            max_items: self.max_items,
            max_bytes: self.max_bytes,
            max_wait: Duration::ZERO,
        }
    }

    /// Builds the sink: reads the password's environment variable or loads the AWS
    /// credential chain. Nothing is sent yet: the template is installed before the first
    /// batch, so a cluster that is down delays delivery, not startup.
    pub async fn build(&self, name: &str) -> Result<OpenSearchSink, BuildError> {
        if let Some(reason) = first_problem(|p| self.check("", p)) {
            return Err(BuildError::sink(name, reason));
        }
        let url = parse_url(&self.url).map_err(|e| BuildError::sink(name, format!("url: {e}")))?;
        let signer = Signer::new(name, &self.auth).await?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(self.timeout_secs))
            .connect_timeout(Duration::from_secs(self.timeout_secs.min(10)))
            .build()
            .map_err(|e| BuildError::sink(name, format!("cannot start an HTTP client: {e}")))?;
        switchboard_telemetry::register_sink(name);
        Ok(OpenSearchSink::new(name, self.clone(), url, signer, client))
    }
}

/// The base URL: http(s), a host, no query or fragment, no trailing `/`.
pub(crate) fn parse_url(url: &str) -> Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err("must be an http:// or https:// URL with a host".into());
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err("must not have a query (?...) or fragment (#...)".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not hold credentials: use `auth`".into());
    }
    Ok(parsed)
}

fn is_loopback(url: &reqwest::Url) -> bool {
    let host = url.host_str().unwrap_or("");
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Index names: lower case, none of `\/*?"<>|,# :`, not starting with `-`, `_`, `+`,
/// short enough for the longest daily index.
fn check_index_prefix(prefix: &str) -> Result<(), String> {
    let ok_chars = prefix
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'));
    if prefix.is_empty() || !ok_chars {
        return Err(format!(
            "{prefix:?} cannot start an index name: lower-case letters, digits, '-', '_' and '.'"
        ));
    }
    if prefix.starts_with(['-', '_', '.']) {
        return Err("must not start with '-', '_' or '.' (hidden or invalid index names)".into());
    }
    if prefix.len() + LONGEST_SUFFIX > MAX_INDEX_NAME_BYTES {
        return Err(format!(
            "is too long: index names are at most {MAX_INDEX_NAME_BYTES} bytes, and the sink \
             adds up to {LONGEST_SUFFIX}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_checks_clean_and_round_trips() {
        let example = OpenSearchConfig::example();
        let mut problems = Problems::new("t.toml");
        example.check("sinks[0]", &mut problems);
        assert!(problems.is_empty(), "{problems}");
        let json = serde_json::to_string(&example).unwrap();
        assert_eq!(
            serde_json::from_str::<OpenSearchConfig>(&json).unwrap(),
            example
        );
    }

    #[test]
    fn defaults_and_auth_shapes() {
        let c: OpenSearchConfig =
            serde_json::from_str(r#"{"url": "http://127.0.0.1:9200"}"#).unwrap();
        assert_eq!(c.index_prefix, "switchboard");
        assert_eq!(c.auth, OpenSearchAuth::None);
        assert!(c.template);
        assert_eq!(c.hints().max_items, 500);
        let basic: OpenSearchConfig = serde_json::from_str(
            r#"{"url": "https://es", "auth": {"type": "basic", "username": "elastic",
                "password_env": "ES_PASSWORD"}}"#,
        )
        .unwrap();
        assert!(matches!(basic.auth, OpenSearchAuth::Basic { .. }));
        let bad = [
            r#"{"url": "https://es", "auth": {"type": "basic", "username": "u", "password": "p"}}"#,
            r#"{"url": "https://es", "auth": {"type": "aws_sigv4", "service": "lambda"}}"#,
            r#"{"url": "https://es", "auth": {"type": "kerberos"}}"#,
            r#"{"url": "https://es", "index": "x"}"#,
        ];
        for text in bad {
            assert!(
                serde_json::from_str::<OpenSearchConfig>(text).is_err(),
                "{text}"
            );
        }
    }

    #[test]
    fn reports_every_problem_with_its_key() {
        let c = OpenSearchConfig {
            url: "http://es.example.com:9200/?x=1".into(),
            index_prefix: "Switchboard".into(),
            auth: OpenSearchAuth::Basic {
                username: String::new(),
                password_env: " ".into(),
            },
            max_items: 0,
            max_bytes: 10,
            timeout_secs: 0,
            template: true,
        };
        let mut problems = Problems::new("t.toml");
        c.check("sinks[1]", &mut problems);
        let keys: Vec<&str> = problems.list.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "sinks[1].url",
                "sinks[1].index_prefix",
                "sinks[1].auth.username",
                "sinks[1].auth.password_env",
                "sinks[1].url",
                "sinks[1].max_items",
                "sinks[1].max_bytes",
                "sinks[1].timeout_secs",
            ],
            "{problems}"
        );
        for bad in ["", "-x", "_x", "a b", "a*b", &"x".repeat(240)] {
            assert!(check_index_prefix(bad).is_err(), "{bad:?}");
        }
        assert!(check_index_prefix("switchboard.prod_1").is_ok());
    }
}
