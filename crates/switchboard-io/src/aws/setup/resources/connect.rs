//! The Connect instance and its storage configs: DescribeInstance (its ARN),
//! ListInstanceStorageConfigs, AssociateInstanceStorageConfig and
//! DisassociateInstanceStorageConfig for contact records and agent events.

use aws_sdk_connect::types::{
    InstanceStorageConfig, InstanceStorageResourceType, KinesisFirehoseConfig, KinesisStreamConfig,
    StorageType,
};

use super::{err, is_missing};
use crate::aws::setup::error::SetupError;
use crate::aws::setup::plan::{Existing, Kind, StorageResource};

fn api(r: StorageResource) -> InstanceStorageResourceType {
    match r {
        StorageResource::ContactRecords => InstanceStorageResourceType::ContactTraceRecords,
        StorageResource::AgentEvents => InstanceStorageResourceType::AgentEvents,
    }
}

/// The instance's ARN; a clear error when there is no such instance.
pub async fn instance_arn(c: &aws_sdk_connect::Client, id: &str) -> Result<String, SetupError> {
    match c.describe_instance().instance_id(id).send().await {
        Ok(out) => Ok(out.instance.and_then(|i| i.arn).unwrap_or_default()),
        Err(e) if is_missing(&e) => Err(SetupError::Refused(format!(
            "no Connect instance {id} in this region: check --instance-id (the id, not the \
             alias: the last part of the instance ARN) and --region"
        ))),
        Err(e) => Err(err(format!("DescribeInstance {id}"))(e)),
    }
}

/// The instance's storage configs of `resource` (every page).
pub async fn associations(
    c: &aws_sdk_connect::Client,
    instance_id: &str,
    resource: StorageResource,
) -> Result<Vec<Existing>, SetupError> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = c
            .list_instance_storage_configs()
            .instance_id(instance_id)
            .resource_type(api(resource))
            .max_results(10)
            .set_next_token(token)
            .send()
            .await
            .map_err(err(format!(
                "ListInstanceStorageConfigs {}",
                resource.api_name()
            )))?;
        for s in page.storage_configs.unwrap_or_default() {
            let (kind, arn) = match (&s.kinesis_stream_config, &s.kinesis_firehose_config) {
                (Some(k), _) => (Some(Kind::KinesisStream), k.stream_arn.clone()),
                (_, Some(f)) => (Some(Kind::DeliveryStream), f.firehose_arn.clone()),
                _ => (None, s.storage_type.as_str().to_owned()),
            };
            out.push(Existing {
                resource_type: resource,
                association_id: s.association_id.unwrap_or_default(),
                kind,
                arn,
            });
        }
        token = page.next_token;
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// Associates `arn` (a Kinesis stream or a delivery stream) with the instance for
/// `resource`; returns the association id.
pub async fn associate(
    c: &aws_sdk_connect::Client,
    instance_id: &str,
    resource: StorageResource,
    kind: Kind,
    arn: &str,
) -> Result<String, SetupError> {
    let what = format!(
        "AssociateInstanceStorageConfig {} -> {arn}",
        resource.api_name()
    );
    let config = match kind {
        Kind::DeliveryStream => InstanceStorageConfig::builder()
            .storage_type(StorageType::KinesisFirehose)
            .kinesis_firehose_config(
                KinesisFirehoseConfig::builder()
                    .firehose_arn(arn)
                    .build()
                    .map_err(|e| SetupError::aws(&what, e))?,
            ),
        _ => InstanceStorageConfig::builder()
            .storage_type(StorageType::KinesisStream)
            .kinesis_stream_config(
                KinesisStreamConfig::builder()
                    .stream_arn(arn)
                    .build()
                    .map_err(|e| SetupError::aws(&what, e))?,
            ),
    }
    .build()
    .map_err(|e| SetupError::aws(&what, e))?;
    let out = c
        .associate_instance_storage_config()
        .instance_id(instance_id)
        .resource_type(api(resource))
        .storage_config(config)
        .send()
        .await
        .map_err(err(what))?;
    Ok(out.association_id.unwrap_or_default())
}

/// Removes an association (gone already is fine).
pub async fn disassociate(
    c: &aws_sdk_connect::Client,
    instance_id: &str,
    existing: &Existing,
) -> Result<(), SetupError> {
    match c
        .disassociate_instance_storage_config()
        .instance_id(instance_id)
        .association_id(&existing.association_id)
        .resource_type(api(existing.resource_type))
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_missing(&e) => Ok(()),
        Err(e) => Err(err(format!(
            "DisassociateInstanceStorageConfig {}",
            existing.association_id
        ))(e)),
    }
}
