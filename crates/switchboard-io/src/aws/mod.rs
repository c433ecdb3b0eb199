//! AWS client configuration shared by every AWS source: the default credential chain
//! (environment, profile, SSO, container and instance roles), with the region, profile
//! and endpoint overridable per source (an endpoint URL points the SDK at a local server
//! in tests).

pub mod connect;

use serde::{Deserialize, Serialize};

/// Where and as whom to reach AWS. Every field is optional; unset means the SDK's default
/// chain decides (`AWS_REGION`, `AWS_PROFILE`, `~/.aws/config`...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsConfig {
    /// Region, e.g. `us-east-1`.
    #[serde(default)]
    pub region: Option<String>,
    /// Named profile from `~/.aws/config`.
    #[serde(default)]
    pub profile: Option<String>,
    /// Endpoint URL for every service, e.g. `http://127.0.0.1:4566` for a local server.
    #[serde(default)]
    pub endpoint_url: Option<String>,
}

impl AwsConfig {
    /// Loads the SDK configuration.
    pub async fn load(&self) -> aws_config::SdkConfig {
        let mut loader = aws_config::from_env();
        if let Some(region) = &self.region {
            loader = loader.region(aws_types::region::Region::new(region.clone()));
        }
        if let Some(profile) = &self.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &self.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        loader.load().await
    }
}

pub mod setup;
