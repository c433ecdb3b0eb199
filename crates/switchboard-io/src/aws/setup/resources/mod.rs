//! The AWS calls, one file per service: find a resource (and its owner, from its
//! tags), create it tagged, list what carries setup's tags, delete it.

pub mod connect;
pub mod events;
pub mod firehose;
pub mod kinesis;

use aws_sdk_kinesis::error::ProvideErrorMetadata;

use super::error::SetupError;

/// Whether an SDK error says the resource does not exist.
pub(crate) fn is_missing<E: ProvideErrorMetadata>(e: &E) -> bool {
    matches!(
        e.code(),
        Some(
            "ResourceNotFoundException"
                | "NoSuchEntity"
                | "NoSuchBucket"
                | "NotFound"
                | "QueueDoesNotExist"
                | "AWS.SimpleQueueService.NonExistentQueue"
        )
    )
}

/// An SDK error as a [`SetupError`], with the service's code and message.
pub(crate) fn err<E: ProvideErrorMetadata + std::error::Error>(
    action: impl Into<String>,
) -> impl FnOnce(E) -> SetupError {
    let action = action.into();
    move |e| match (e.code(), e.message()) {
        (Some(code), Some(message)) => SetupError::Aws {
            action,
            message: format!("{code}: {message}"),
        },
        _ => SetupError::aws(action, e),
    }
}

/// The value of tag `key` among `tags`.
pub(crate) fn pairs(tags: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> {
    tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}
