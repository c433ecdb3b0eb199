//! The Connect calls switchboard makes, each through a token bucket (governor) and
//! retried when throttled: exponential backoff with full jitter, up to `max_attempts`.
//! The SDK's own retries are turned off so that these are the only ones (and a test can
//! count requests).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_connect::config::retry::RetryConfig;
use aws_sdk_connect::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_connect::types::{UserData, UserDataFilters};
use aws_sdk_connect::Client;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use super::config::{ConnectConfig, RateConfig};
use crate::sinks::retry::Backoff;

/// GetCurrentUserData takes at most this many agents in one filter.
pub const MAX_FILTER_IDS: usize = 100;

/// Why a Connect call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Connect {operation} on instance {instance} failed: {reason}")]
pub struct ApiError {
    pub operation: &'static str,
    pub instance: String,
    pub reason: String,
    /// Throttling, a 5xx or the network: worth trying again later.
    pub retryable: bool,
    /// The error code Connect answered (`ResourceNotFoundException`...).
    pub code: Option<String>,
}

/// What one failed attempt means.
enum Attempt {
    Throttled,
    Retryable,
    Final,
}

fn classify<E, R>(error: &SdkError<E, R>) -> (Attempt, Option<String>)
where
    E: ProvideErrorMetadata,
{
    match error {
        SdkError::ServiceError(e) => {
            let code = e.err().code().map(String::from);
            let attempt = match code.as_deref() {
                Some(
                    "ThrottlingException"
                    | "TooManyRequestsException"
                    | "LimitExceededException"
                    | "ServiceQuotaExceededException",
                ) => Attempt::Throttled,
                Some("InternalServiceException") => Attempt::Retryable,
                _ => Attempt::Final,
            };
            (attempt, code)
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            (Attempt::Retryable, None)
        }
        _ => (Attempt::Final, None),
    }
}

/// The token bucket of `rate`: `burst` requests at once, refilled at `per_second`.
fn quota(rate: &RateConfig) -> Quota {
    let burst = NonZeroU32::new(rate.burst.max(1)).unwrap_or(NonZeroU32::MIN);
    let per_second = if rate.per_second.is_finite() && rate.per_second > 0.0 {
        rate.per_second
    } else {
        1.0
    };
    Quota::with_period(Duration::from_secs_f64(1.0 / per_second))
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst)
}

fn limiter(rate: &RateConfig) -> DefaultDirectRateLimiter {
    RateLimiter::direct(quota(rate))
}

/// A user of the instance (ListUsers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub arn: String,
    pub username: String,
    /// When the user was last changed (milliseconds since the epoch).
    pub modified_ms: Option<i64>,
}

/// A queue or routing profile (ListQueues, ListRoutingProfiles).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub id: String,
    pub arn: String,
    pub name: String,
}

impl Named {
    fn of(id: Option<&str>, arn: Option<&str>, name: Option<&str>) -> Option<Named> {
        Some(Named {
            id: id?.into(),
            arn: arn?.into(),
            name: name?.into(),
        })
    }
}

/// What the instance calls its users, queues and routing profiles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    pub users: Vec<User>,
    /// Standard queues (agent queues have no name).
    pub queues: Vec<Named>,
    pub routing_profiles: Vec<Named>,
}

/// A client of one instance's API.
#[derive(Clone)]
pub struct ConnectApi {
    client: Client,
    instance: String,
    instance_arn: Option<String>,
    api_rate: Arc<DefaultDirectRateLimiter>,
    attributes_rate: Arc<DefaultDirectRateLimiter>,
    max_attempts: u32,
    backoff: Backoff,
}

impl ConnectApi {
    /// A client for the instance of `config` (its AWS settings already merged with
    /// `[aws]`).
    pub async fn new(config: &ConnectConfig) -> ConnectApi {
        let sdk = config.aws_settings().load().await;
        let sdk_config = aws_sdk_connect::config::Builder::from(&sdk)
            .retry_config(RetryConfig::disabled())
            .build();
        ConnectApi {
            client: Client::from_conf(sdk_config),
            instance: config.id().to_string(),
            instance_arn: config.arn().map(String::from),
            api_rate: Arc::new(limiter(&config.api_rate)),
            attributes_rate: Arc::new(limiter(&config.contact_attributes_rate)),
            max_attempts: config.max_attempts.max(1),
            backoff: Backoff {
                initial: Duration::from_millis(config.backoff_base_ms),
                max: Duration::from_millis(config.backoff_max_ms),
                multiplier: 2.0,
            },
        }
    }

    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The instance's ARN, as configured (or `None` when only the id was given).
    pub fn instance_arn(&self) -> Option<&str> {
        self.instance_arn.as_deref()
    }

    /// Runs `call` under `limiter`, retrying throttles and transient failures.
    async fn call<T, E, R, F, Fut>(
        &self,
        operation: &'static str,
        limiter: &DefaultDirectRateLimiter,
        mut call: F,
    ) -> Result<T, ApiError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, SdkError<E, R>>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            limiter.until_ready().await;
            let error = match call().await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let (kind, code) = classify(&error);
            let retryable = !matches!(kind, Attempt::Final);
            if matches!(kind, Attempt::Throttled) {
                switchboard_telemetry::error(switchboard_telemetry::error_kind::CONNECT_THROTTLED);
            }
            if !retryable || attempt >= self.max_attempts {
                let reason = match &error {
                    SdkError::ServiceError(e) => format!(
                        "{}: {}",
                        e.err().code().unwrap_or("error"),
                        e.err().message().unwrap_or("no message")
                    ),
                    other => aws_smithy_error(other),
                };
                return Err(ApiError {
                    operation,
                    instance: self.instance.clone(),
                    reason: if retryable {
                        format!("{reason} (gave up after {attempt} attempts)")
                    } else {
                        reason
                    },
                    retryable,
                    code,
                });
            }
            let wait = self.backoff.delay(attempt);
            tracing::debug!(operation, attempt, ?wait, code = ?code, "Connect call retried");
            tokio::time::sleep(wait).await;
        }
    }

    /// The current data of these agents (user ids), by GetCurrentUserData with filters
    /// of at most 100 agents, each followed through its pages.
    pub async fn current_user_data(&self, user_ids: &[String]) -> Result<Vec<UserData>, ApiError> {
        let mut out = Vec::new();
        for chunk in user_ids.chunks(MAX_FILTER_IDS) {
            let filters = UserDataFilters::builder()
                .set_agents(Some(chunk.to_vec()))
                .build();
            let mut token: Option<String> = None;
            loop {
                let page = self
                    .call("GetCurrentUserData", &self.api_rate, || {
                        self.client
                            .get_current_user_data()
                            .instance_id(&self.instance)
                            .filters(filters.clone())
                            .max_results(100)
                            .set_next_token(token.clone())
                            .send()
                    })
                    .await?;
                out.extend(page.user_data_list().iter().cloned());
                token = page.next_token().map(String::from);
                if token.is_none() {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Every page of a List call: `request` sends one page's request (with the token),
    /// `read` takes its items and returns the next token.
    async fn paged<T, O, E, R, F, Fut>(
        &self,
        operation: &'static str,
        mut request: F,
        mut read: impl FnMut(O, &mut Vec<T>) -> Option<String>,
    ) -> Result<Vec<T>, ApiError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
        F: FnMut(Option<String>) -> Fut,
        Fut: std::future::Future<Output = Result<O, SdkError<E, R>>>,
    {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .call(operation, &self.api_rate, || request(token.clone()))
                .await?;
            token = read(page, &mut out);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    /// Every user of the instance (ListUsers, paged).
    pub async fn users(&self) -> Result<Vec<User>, ApiError> {
        let request = |token| {
            self.client
                .list_users()
                .instance_id(&self.instance)
                .max_results(1000)
                .set_next_token(token)
                .send()
        };
        self.paged("ListUsers", request, |page, out| {
            for u in page.user_summary_list() {
                if let (Some(id), Some(arn)) = (u.id(), u.arn()) {
                    out.push(User {
                        id: id.into(),
                        arn: arn.into(),
                        username: u.username().unwrap_or(id).into(),
                        modified_ms: u.last_modified_time().and_then(|t| t.to_millis().ok()),
                    });
                }
            }
            page.next_token().map(String::from)
        })
        .await
    }

    /// Every standard queue (ListQueues, paged).
    pub async fn queues(&self) -> Result<Vec<Named>, ApiError> {
        let request = |token| {
            self.client
                .list_queues()
                .instance_id(&self.instance)
                .queue_types(aws_sdk_connect::types::QueueType::Standard)
                .max_results(1000)
                .set_next_token(token)
                .send()
        };
        self.paged("ListQueues", request, |page, out| {
            let items = page.queue_summary_list().iter();
            out.extend(items.filter_map(|q| Named::of(q.id(), q.arn(), q.name())));
            page.next_token().map(String::from)
        })
        .await
    }

    /// Every routing profile (ListRoutingProfiles, paged).
    pub async fn routing_profiles(&self) -> Result<Vec<Named>, ApiError> {
        let request = |token| {
            self.client
                .list_routing_profiles()
                .instance_id(&self.instance)
                .max_results(1000)
                .set_next_token(token)
                .send()
        };
        self.paged("ListRoutingProfiles", request, |page, out| {
            let items = page.routing_profile_summary_list().iter();
            out.extend(items.filter_map(|p| Named::of(p.id(), p.arn(), p.name())));
            page.next_token().map(String::from)
        })
        .await
    }

    /// Users, queues and routing profiles.
    pub async fn names(&self) -> Result<Names, ApiError> {
        Ok(Names {
            users: self.users().await?,
            queues: self.queues().await?,
            routing_profiles: self.routing_profiles().await?,
        })
    }

    /// The attributes of a contact (by its initial contact id), or `None` when Connect
    /// does not know the contact.
    pub async fn contact_attributes(
        &self,
        initial_contact_id: &str,
    ) -> Result<Option<HashMap<String, String>>, ApiError> {
        let result = self
            .call("GetContactAttributes", &self.attributes_rate, || {
                self.client
                    .get_contact_attributes()
                    .instance_id(&self.instance)
                    .initial_contact_id(initial_contact_id)
                    .send()
            })
            .await;
        match result {
            Ok(out) => Ok(Some(out.attributes().cloned().unwrap_or_default())),
            Err(e) if e.code.as_deref() == Some("ResourceNotFoundException") => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The innermost cause of a transport error, for the message.
fn aws_smithy_error<E, R>(error: &SdkError<E, R>) -> String
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    #[test]
    fn the_default_bucket_lets_five_through_then_two_a_second() {
        let clock = FakeRelativeClock::default();
        let bucket =
            RateLimiter::direct_with_clock(quota(&RateConfig::attributes_default()), clock.clone());
        for _ in 0..5 {
            assert!(bucket.check().is_ok());
        }
        assert!(bucket.check().is_err(), "the burst is 5");
        clock.advance(Duration::from_millis(499));
        assert!(bucket.check().is_err());
        clock.advance(Duration::from_millis(1));
        assert!(bucket.check().is_ok(), "one more each 500 ms");
        assert!(bucket.check().is_err());
        clock.advance(Duration::from_secs(10));
        for _ in 0..5 {
            assert!(bucket.check().is_ok());
        }
        assert!(
            bucket.check().is_err(),
            "a quiet spell refills the burst, no more"
        );
    }

    #[test]
    fn fractional_rates_space_requests() {
        let clock = FakeRelativeClock::default();
        let rate = RateConfig {
            per_second: 0.5,
            burst: 1,
        };
        let bucket = RateLimiter::direct_with_clock(quota(&rate), clock.clone());
        assert!(bucket.check().is_ok());
        clock.advance(Duration::from_millis(1999));
        assert!(bucket.check().is_err());
        clock.advance(Duration::from_millis(1));
        assert!(bucket.check().is_ok());
    }
}
