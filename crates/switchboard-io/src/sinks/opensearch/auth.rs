//! Authenticating requests to the cluster: nothing, an HTTP basic `Authorization` header
//! (the password read from its environment variable when the sink starts), or an AWS
//! Signature Version 4 over the method, URL, headers and body (Amazon OpenSearch Service
//! `es`, OpenSearch Serverless `aoss`), with credentials from the default chain, kept
//! until shortly before they expire.

use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings,
};
use aws_sigv4::sign::v4;
use base64::Engine as _;
use tokio::sync::Mutex;

use super::config::{OpenSearchAuth, SigV4Service};
use crate::aws::AwsConfig;
use crate::sinks::retry::with_causes;
use crate::sinks::BuildError;

/// Credentials without an expiry (keys in the environment or a profile) are read again
/// after this long, so a rotated key is picked up.
const REREAD_AFTER: Duration = Duration::from_secs(15 * 60);
/// Credentials with an expiry are renewed this long before it.
const RENEW_BEFORE: Duration = Duration::from_secs(5 * 60);

/// Adds the authentication of one request.
pub enum Signer {
    None,
    /// The whole `Authorization` header value, `Basic <base64>`.
    Basic(String),
    SigV4(SigV4),
}

/// AWS Signature Version 4 signing.
pub struct SigV4 {
    region: String,
    service: SigV4Service,
    provider: SharedCredentialsProvider,
    /// The credentials in use, and when to ask the chain again.
    cached: Mutex<Option<(Credentials, Instant)>>,
}

impl Signer {
    /// The signer `auth` asks for: reads the password's variable, or loads the AWS
    /// default chain (region and credential source; credentials themselves are fetched
    /// at the first request).
    pub async fn new(sink: &str, auth: &OpenSearchAuth) -> Result<Signer, BuildError> {
        match auth {
            OpenSearchAuth::None => Ok(Signer::None),
            OpenSearchAuth::Basic {
                username,
                password_env,
            } => {
                let password = std::env::var(password_env).map_err(|_| {
                    BuildError::sink(
                        sink,
                        format!(
                            "auth.password_env names {password_env}, which is not set (or not \
                             UTF-8): set it to the password of {username:?}"
                        ),
                    )
                })?;
                Ok(Signer::Basic(basic_header(username, &password)))
            }
            OpenSearchAuth::AwsSigv4 {
                region,
                service,
                profile,
            } => {
                let sdk = AwsConfig {
                    region: region.clone(),
                    profile: profile.clone(),
                    endpoint_url: None,
                }
                .load()
                .await;
                let region = match (region, sdk.region()) {
                    (Some(r), _) => r.clone(),
                    (None, Some(r)) => r.to_string(),
                    (None, None) => {
                        return Err(BuildError::sink(
                            sink,
                            "auth.region is not set and the AWS default chain has no region \
                             (AWS_REGION, the profile): set auth.region to the domain's region",
                        ))
                    }
                };
                let provider = sdk.credentials_provider().ok_or_else(|| {
                    BuildError::sink(
                        sink,
                        "the AWS default chain has no credential source: set AWS_ACCESS_KEY_ID \
                         and AWS_SECRET_ACCESS_KEY, a profile, or run with a role",
                    )
                })?;
                Ok(Signer::SigV4(SigV4 {
                    region,
                    service: *service,
                    provider,
                    cached: Mutex::new(None),
                }))
            }
        }
    }

    /// The headers that authenticate a request of `method` to `url` with `body`
    /// (lower-case names). `Err` says why they cannot be made (no credentials).
    pub async fn headers(
        &self,
        method: &str,
        url: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<Vec<(String, String)>, String> {
        match self {
            Signer::None => Ok(Vec::new()),
            Signer::Basic(value) => Ok(vec![("authorization".into(), value.clone())]),
            Signer::SigV4(signer) => signer.headers(method, url, content_type, body).await,
        }
    }
}

/// `Basic base64(username:password)`.
pub fn basic_header(username: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    format!("Basic {token}")
}

impl SigV4 {
    async fn credentials(&self) -> Result<Credentials, String> {
        let mut cached = self.cached.lock().await;
        if let Some((credentials, until)) = cached.as_ref() {
            if Instant::now() < *until {
                return Ok(credentials.clone());
            }
        }
        let credentials = self.provider.provide_credentials().await.map_err(|e| {
            let text = format!("no AWS credentials to sign with: {e}");
            with_causes(text, std::error::Error::source(&e))
        })?;
        let keep = match credentials.expiry() {
            Some(expiry) => expiry
                .duration_since(SystemTime::now())
                .unwrap_or_default()
                .saturating_sub(RENEW_BEFORE)
                .min(REREAD_AFTER),
            None => REREAD_AFTER,
        };
        *cached = Some((credentials.clone(), Instant::now() + keep));
        Ok(credentials)
    }

    async fn headers(
        &self,
        method: &str,
        url: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<Vec<(String, String)>, String> {
        let identity = self.credentials().await?.into();
        let mut settings = SigningSettings::default();
        // OpenSearch Serverless requires the body's hash as a header; the managed
        // service accepts it too.
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(self.service.as_str())
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| format!("cannot sign the request: {e}"))?
            .into();
        let request = SignableRequest::new(
            method,
            url,
            [("content-type", content_type)].into_iter(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| format!("cannot sign the request: {e}"))?;
        let (instructions, _signature) = sign(request, &params)
            .map_err(|e| format!("cannot sign the request: {e}"))?
            .into_parts();
        let (headers, _params) = instructions.into_parts();
        Ok(headers
            .into_iter()
            .map(|h| (h.name().to_owned(), h.value().to_owned()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header_is_rfc7617() {
        // RFC 7617's own example.
        assert_eq!(
            basic_header("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }

    #[tokio::test]
    async fn sigv4_signs_with_static_credentials() {
        let provider = SharedCredentialsProvider::new(Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            Some("token".into()),
            None,
            "test",
        ));
        let signer = Signer::SigV4(SigV4 {
            region: "eu-west-1".into(),
            service: SigV4Service::Aoss,
            provider,
            cached: Mutex::new(None),
        });
        let headers = signer
            .headers(
                "POST",
                "https://x.aoss.amazonaws.com/_bulk",
                "application/x-ndjson",
                b"{}\n",
            )
            .await
            .unwrap();
        let get = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.as_str())
                .unwrap_or_else(|| panic!("no {n} in {headers:?}"))
        };
        let auth = get("authorization");
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"),
            "{auth}"
        );
        assert!(auth.contains("/eu-west-1/aoss/aws4_request"), "{auth}");
        assert!(auth.contains("x-amz-content-sha256"), "{auth}");
        assert_eq!(get("x-amz-security-token"), "token");
        // SHA-256 of "{}\n".
        assert_eq!(
            get("x-amz-content-sha256"),
            "ca3d163bab055381827226140568f3bef7eaac187cebd76878e0b63e9e442356"
        );
    }
}
