//! Contact records through Firehose to S3: the bucket, the IAM role Firehose assumes
//! (with an inline policy to write to that bucket only), and the delivery stream
//! (newline after each record, buffering hints, an error prefix).

use std::time::Duration;

use aws_sdk_firehose::types::{
    BufferingHints, CompressionFormat, DeliveryStreamType, ExtendedS3DestinationConfiguration,
    ProcessingConfiguration, Processor, ProcessorParameter, ProcessorParameterName, ProcessorType,
};

use super::{err, is_missing};
use crate::aws::setup::error::SetupError;
use crate::aws::setup::plan::FirehoseTarget;

/// IAM path of the roles setup makes (teardown lists roles under it only).
pub const ROLE_PATH: &str = "/switchboard/";
/// Name of the inline policy on the role.
pub const POLICY_NAME: &str = "switchboard-firehose-to-s3";

fn build<E: std::error::Error + 'static>(what: &str) -> impl FnOnce(E) -> SetupError + '_ {
    move |e| SetupError::aws(what, e)
}

// --------------------------------------------------------------------------- S3 bucket

/// The bucket's tags, or `None` when it does not exist.
pub async fn bucket_tags(
    c: &aws_sdk_s3::Client,
    bucket: &str,
) -> Result<Option<Vec<(String, String)>>, SetupError> {
    match c.head_bucket().bucket(bucket).send().await {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => return Ok(None),
        Err(e) => return Err(err(format!("HeadBucket {bucket}"))(e)),
    }
    Ok(Some(bucket_tag_set(c, bucket).await?))
}

async fn bucket_tag_set(
    c: &aws_sdk_s3::Client,
    bucket: &str,
) -> Result<Vec<(String, String)>, SetupError> {
    use aws_sdk_s3::error::ProvideErrorMetadata;
    match c.get_bucket_tagging().bucket(bucket).send().await {
        Ok(out) => Ok(out.tag_set.into_iter().map(|t| (t.key, t.value)).collect()),
        Err(e) if e.code() == Some("NoSuchTagSet") => Ok(Vec::new()),
        Err(e) if is_missing(&e) => Ok(Vec::new()),
        Err(e) => Err(err(format!("GetBucketTagging {bucket}"))(e)),
    }
}

/// Creates the bucket in `region` and tags it.
pub async fn create_bucket(
    c: &aws_sdk_s3::Client,
    bucket: &str,
    region: &str,
    tags: &[(String, String)],
) -> Result<(), SetupError> {
    let mut req = c.create_bucket().bucket(bucket);
    if region != "us-east-1" {
        req = req.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(region))
                .build(),
        );
    }
    req.send()
        .await
        .map_err(err(format!("CreateBucket {bucket}")))?;
    let mut tagging = aws_sdk_s3::types::Tagging::builder();
    for (k, v) in tags {
        tagging = tagging.tag_set(
            aws_sdk_s3::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(build("PutBucketTagging"))?,
        );
    }
    c.put_bucket_tagging()
        .bucket(bucket)
        .tagging(tagging.build().map_err(build("PutBucketTagging"))?)
        .send()
        .await
        .map_err(err(format!("PutBucketTagging {bucket}")))?;
    Ok(())
}

/// Every bucket name.
pub async fn list_buckets(c: &aws_sdk_s3::Client) -> Result<Vec<String>, SetupError> {
    let out = c.list_buckets().send().await.map_err(err("ListBuckets"))?;
    Ok(out
        .buckets
        .unwrap_or_default()
        .into_iter()
        .filter_map(|b| b.name)
        .collect())
}

/// Tags of bucket `name` (empty when it has none or is gone).
pub async fn tags_of_bucket(
    c: &aws_sdk_s3::Client,
    bucket: &str,
) -> Result<Vec<(String, String)>, SetupError> {
    bucket_tag_set(c, bucket).await
}

/// The newest object under `prefix`: its key and age in seconds (at most 10 pages read).
pub async fn newest_object(
    c: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Result<Option<(String, f64)>, SetupError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let mut newest: Option<(String, f64)> = None;
    let mut token = None;
    for _ in 0..10 {
        let out = c
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token)
            .send()
            .await
            .map_err(err(format!("ListObjectsV2 {bucket}/{prefix}")))?;
        for o in out.contents.unwrap_or_default() {
            if let (Some(key), Some(t)) = (o.key, o.last_modified) {
                let t = t.as_secs_f64();
                if newest.as_ref().is_none_or(|(_, n)| t > *n) {
                    newest = Some((key, t));
                }
            }
        }
        token = out.next_continuation_token;
        if token.is_none() {
            break;
        }
    }
    Ok(newest.map(|(k, t)| (k, (now - t).max(0.0))))
}

/// Deletes the bucket if it is empty (or after emptying it when `delete_data`); returns
/// `false` when it was kept because it holds objects.
pub async fn delete_bucket(
    c: &aws_sdk_s3::Client,
    bucket: &str,
    delete_data: bool,
) -> Result<bool, SetupError> {
    loop {
        let out = match c.list_objects_v2().bucket(bucket).send().await {
            Ok(out) => out,
            Err(e) if is_missing(&e) => return Ok(true),
            Err(e) => return Err(err(format!("ListObjectsV2 {bucket}"))(e)),
        };
        let keys: Vec<String> = out
            .contents
            .unwrap_or_default()
            .into_iter()
            .filter_map(|o| o.key)
            .collect();
        if keys.is_empty() {
            break;
        }
        if !delete_data {
            return Ok(false);
        }
        for key in keys {
            c.delete_object()
                .bucket(bucket)
                .key(&key)
                .send()
                .await
                .map_err(err(format!("DeleteObject {bucket}/{key}")))?;
        }
    }
    match c.delete_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(true),
        Err(e) if is_missing(&e) => Ok(true),
        Err(e) => Err(err(format!("DeleteBucket {bucket}"))(e)),
    }
}

// --------------------------------------------------------------------------- IAM role

/// The role's ARN and tags, or `None`.
pub async fn role(
    c: &aws_sdk_iam::Client,
    name: &str,
) -> Result<Option<(String, Vec<(String, String)>)>, SetupError> {
    let role = match c.get_role().role_name(name).send().await {
        Ok(out) => out.role,
        Err(e) if is_missing(&e) => return Ok(None),
        Err(e) => return Err(err(format!("GetRole {name}"))(e)),
    };
    let Some(role) = role else { return Ok(None) };
    let tags = c
        .list_role_tags()
        .role_name(name)
        .send()
        .await
        .map_err(err(format!("ListRoleTags {name}")))?
        .tags
        .into_iter()
        .map(|t| (t.key, t.value))
        .collect();
    Ok(Some((role.arn, tags)))
}

/// Creates the role Firehose assumes, with a policy to write to `bucket` only; returns
/// its ARN.
pub async fn create_role(
    c: &aws_sdk_iam::Client,
    name: &str,
    bucket: &str,
    tags: &[(String, String)],
) -> Result<String, SetupError> {
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "firehose.amazonaws.com"},
                        "Action": "sts:AssumeRole"}]
    });
    let mut req = c
        .create_role()
        .role_name(name)
        .path(ROLE_PATH)
        .description("Lets Firehose write Connect contact records to S3 (switchboard aws setup)")
        .assume_role_policy_document(trust.to_string());
    for (k, v) in tags {
        req = req.tags(
            aws_sdk_iam::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(build("CreateRole"))?,
        );
    }
    let arn = req
        .send()
        .await
        .map_err(err(format!("CreateRole {name}")))?
        .role
        .map(|r| r.arn)
        .unwrap_or_default();
    put_policy(c, name, bucket).await?;
    Ok(arn)
}

/// Puts the role's inline policy (idempotent).
pub async fn put_policy(
    c: &aws_sdk_iam::Client,
    name: &str,
    bucket: &str,
) -> Result<(), SetupError> {
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": ["s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:GetObject",
                       "s3:ListBucket", "s3:ListBucketMultipartUploads", "s3:PutObject"],
            "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")]
        }]
    });
    c.put_role_policy()
        .role_name(name)
        .policy_name(POLICY_NAME)
        .policy_document(policy.to_string())
        .send()
        .await
        .map_err(err(format!("PutRolePolicy {name}")))?;
    Ok(())
}

/// Every role name under [`ROLE_PATH`].
pub async fn list_roles(c: &aws_sdk_iam::Client) -> Result<Vec<String>, SetupError> {
    let mut names = Vec::new();
    let mut marker = None;
    loop {
        let out = c
            .list_roles()
            .path_prefix(ROLE_PATH)
            .set_marker(marker)
            .send()
            .await
            .map_err(err("ListRoles"))?;
        names.extend(out.roles.into_iter().map(|r| r.role_name));
        if !out.is_truncated {
            return Ok(names);
        }
        marker = out.marker;
    }
}

/// Deletes the role and its inline policies (gone already is fine).
pub async fn delete_role(c: &aws_sdk_iam::Client, name: &str) -> Result<(), SetupError> {
    let policies = match c.list_role_policies().role_name(name).send().await {
        Ok(out) => out.policy_names,
        Err(e) if is_missing(&e) => return Ok(()),
        Err(e) => return Err(err(format!("ListRolePolicies {name}"))(e)),
    };
    for p in policies {
        c.delete_role_policy()
            .role_name(name)
            .policy_name(&p)
            .send()
            .await
            .map_err(err(format!("DeleteRolePolicy {name}/{p}")))?;
    }
    match c.delete_role().role_name(name).send().await {
        Ok(_) => Ok(()),
        Err(e) if is_missing(&e) => Ok(()),
        Err(e) => Err(err(format!("DeleteRole {name}"))(e)),
    }
}

// --------------------------------------------------------------------------- delivery stream

/// A delivery stream that exists: ARN, tags, bucket and prefix of its S3 destination.
#[derive(Debug, Clone)]
pub struct Found {
    pub arn: String,
    pub tags: Vec<(String, String)>,
    pub bucket: Option<String>,
    pub prefix: String,
    pub buffer_secs: u32,
}

/// The tags of the delivery stream `name`. Read before describing it, so that teardown
/// never depends on how someone else's stream describes itself.
pub async fn tags(
    c: &aws_sdk_firehose::Client,
    name: &str,
) -> Result<Vec<(String, String)>, SetupError> {
    Ok(c.list_tags_for_delivery_stream()
        .delivery_stream_name(name)
        .send()
        .await
        .map_err(err(format!("ListTagsForDeliveryStream {name}")))?
        .tags
        .into_iter()
        .map(|t| (t.key, t.value.unwrap_or_default()))
        .collect())
}

/// The delivery stream `name`, or `None`.
pub async fn find(c: &aws_sdk_firehose::Client, name: &str) -> Result<Option<Found>, SetupError> {
    let d = match c
        .describe_delivery_stream()
        .delivery_stream_name(name)
        .send()
        .await
    {
        Ok(out) => out.delivery_stream_description,
        Err(e) if is_missing(&e) => return Ok(None),
        Err(e) => return Err(err(format!("DescribeDeliveryStream {name}"))(e)),
    };
    let Some(d) = d else { return Ok(None) };
    let s3 = d
        .destinations
        .first()
        .and_then(|dest| dest.extended_s3_destination_description.clone());
    let tags = tags(c, name).await?;
    Ok(Some(Found {
        arn: d.delivery_stream_arn,
        tags,
        bucket: s3
            .as_ref()
            .map(|s| s.bucket_arn.trim_start_matches("arn:aws:s3:::").to_owned()),
        prefix: s3
            .as_ref()
            .and_then(|s| s.prefix.clone())
            .unwrap_or_default(),
        buffer_secs: s3
            .as_ref()
            .and_then(|s| s.buffering_hints.as_ref())
            .and_then(|b| b.interval_in_seconds)
            .map_or(300, |i| u32::try_from(i).unwrap_or(300)),
    }))
}

/// Creates the delivery stream (Direct PUT, so Connect writes into it) and returns its
/// ARN once ACTIVE. A role just made may not be assumable for some seconds: creation is
/// retried while Firehose says so.
pub async fn create(
    c: &aws_sdk_firehose::Client,
    t: &FirehoseTarget,
    role_arn: &str,
    tags: &[(String, String)],
) -> Result<String, SetupError> {
    let what = "CreateDeliveryStream";
    let newline = Processor::builder()
        .r#type(ProcessorType::AppendDelimiterToRecord)
        .parameters(
            ProcessorParameter::builder()
                .parameter_name(ProcessorParameterName::Delimiter)
                .parameter_value("\\n")
                .build()
                .map_err(build(what))?,
        )
        .build()
        .map_err(build(what))?;
    let destination = ExtendedS3DestinationConfiguration::builder()
        .role_arn(role_arn)
        .bucket_arn(format!("arn:aws:s3:::{}", t.bucket))
        .prefix(&t.prefix)
        .error_output_prefix(&t.error_prefix)
        // Explicit, as the console's default: Connect's records are small JSON lines that
        // Athena reads as they are. (Describe answers require the field, so say it.)
        .compression_format(CompressionFormat::Uncompressed)
        .buffering_hints(
            BufferingHints::builder()
                .size_in_mbs(i32::try_from(t.buffer_mb).unwrap_or(5))
                .interval_in_seconds(i32::try_from(t.buffer_secs).unwrap_or(300))
                .build(),
        )
        .processing_configuration(
            ProcessingConfiguration::builder()
                .enabled(true)
                .processors(newline)
                .build(),
        )
        .build()
        .map_err(build(what))?;
    let mut tag_list = Vec::new();
    for (k, v) in tags {
        tag_list.push(
            aws_sdk_firehose::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(build(what))?,
        );
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        let sent = c
            .create_delivery_stream()
            .delivery_stream_name(&t.name)
            .delivery_stream_type(DeliveryStreamType::DirectPut)
            .extended_s3_destination_configuration(destination.clone())
            .set_tags(Some(tag_list.clone()))
            .send()
            .await;
        match sent {
            Ok(_) => break,
            Err(e)
                if attempt < 20
                    && e.as_service_error()
                        .is_some_and(|s| s.is_invalid_argument_exception())
                    && e.to_string().to_lowercase().contains("role") =>
            {
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
            Err(e) => return Err(err(format!("{what} {}", t.name))(e)),
        }
    }
    for _ in 0..240 {
        let d = c
            .describe_delivery_stream()
            .delivery_stream_name(&t.name)
            .send()
            .await
            .map_err(err(format!("DescribeDeliveryStream {}", t.name)))?;
        if let Some(d) = d.delivery_stream_description {
            if d.delivery_stream_status == aws_sdk_firehose::types::DeliveryStreamStatus::Active {
                return Ok(d.delivery_stream_arn);
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(SetupError::Aws {
        action: format!("{what} {}", t.name),
        message: "the delivery stream did not become ACTIVE within two minutes".into(),
    })
}

/// Every delivery stream name.
pub async fn list(c: &aws_sdk_firehose::Client) -> Result<Vec<String>, SetupError> {
    let mut names: Vec<String> = Vec::new();
    loop {
        let out = c
            .list_delivery_streams()
            .limit(100)
            .set_exclusive_start_delivery_stream_name(names.last().cloned())
            .send()
            .await
            .map_err(err("ListDeliveryStreams"))?;
        let more = out.has_more_delivery_streams && !out.delivery_stream_names.is_empty();
        names.extend(out.delivery_stream_names);
        if !more {
            return Ok(names);
        }
    }
}

/// Deletes the delivery stream (gone already is fine).
pub async fn delete(c: &aws_sdk_firehose::Client, name: &str) -> Result<(), SetupError> {
    match c
        .delete_delivery_stream()
        .delivery_stream_name(name)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_missing(&e) => Ok(()),
        Err(e) => Err(err(format!("DeleteDeliveryStream {name}"))(e)),
    }
}
