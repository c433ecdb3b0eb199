//! The batch calls on received messages that the SQS source and the SQS dead-letter
//! reader both make: deleting messages and changing how long they stay hidden, by
//! receipt handle, [`BATCH`] to a call. Each entry's id is its place in the batch
//! (`m0` to `m9`), which is what a failed entry of the answer names.

use aws_sdk_sqs::error::SdkError;
use aws_sdk_sqs::operation::change_message_visibility_batch::{
    ChangeMessageVisibilityBatchError, ChangeMessageVisibilityBatchOutput,
};
use aws_sdk_sqs::operation::delete_message_batch::{
    DeleteMessageBatchError, DeleteMessageBatchOutput,
};
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry,
};
use aws_sdk_sqs::Client;

/// Most entries in one batch call, and most messages one receive returns (SQS's limit).
pub(crate) const BATCH: usize = 10;

/// Deletes the messages of up to [`BATCH`] receipt handles in one call.
pub(crate) async fn delete_batch(
    client: &Client,
    queue: &str,
    receipts: &[String],
) -> Result<DeleteMessageBatchOutput, SdkError<DeleteMessageBatchError>> {
    let entries = receipts
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(format!("m{i}"))
                .receipt_handle(r)
                .build()
                .ok()
        })
        .collect();
    client
        .delete_message_batch()
        .queue_url(queue)
        .set_entries(Some(entries))
        .send()
        .await
}

/// Hides the messages of up to [`BATCH`] receipt handles for `seconds` from now (0 makes
/// them visible again at once) in one call.
pub(crate) async fn change_visibility_batch(
    client: &Client,
    queue: &str,
    receipts: &[String],
    seconds: i32,
) -> Result<ChangeMessageVisibilityBatchOutput, SdkError<ChangeMessageVisibilityBatchError>> {
    let entries = receipts
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            ChangeMessageVisibilityBatchRequestEntry::builder()
                .id(format!("m{i}"))
                .receipt_handle(r)
                .visibility_timeout(seconds)
                .build()
                .ok()
        })
        .collect();
    client
        .change_message_visibility_batch()
        .queue_url(queue)
        .set_entries(Some(entries))
        .send()
        .await
}
