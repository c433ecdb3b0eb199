//! Contact events: an SQS queue whose policy lets EventBridge send to it (from this rule
//! only), and an EventBridge rule on the default bus matching the instance's "Amazon
//! Connect Contact Event"s, targeting the queue.

use super::{err, is_missing};
use crate::aws::setup::error::SetupError;

/// The target id setup gives the queue on the rule.
pub const TARGET_ID: &str = "switchboard-sqs";

// --------------------------------------------------------------------------- SQS

/// The queue's URL, ARN and tags, or `None`.
pub async fn queue(
    c: &aws_sdk_sqs::Client,
    name: &str,
) -> Result<Option<(String, String, Vec<(String, String)>)>, SetupError> {
    let url = match c.get_queue_url().queue_name(name).send().await {
        Ok(out) => out.queue_url.unwrap_or_default(),
        Err(e) if is_missing(&e) => return Ok(None),
        Err(e) => return Err(err(format!("GetQueueUrl {name}"))(e)),
    };
    let arn = queue_arn(c, &url).await?;
    let tags = queue_tags(c, &url).await?;
    Ok(Some((url, arn, tags)))
}

async fn queue_arn(c: &aws_sdk_sqs::Client, url: &str) -> Result<String, SetupError> {
    let out = c
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(err(format!("GetQueueAttributes {url}")))?;
    Ok(out
        .attributes
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .cloned()
        })
        .unwrap_or_default())
}

/// The queue's tags.
pub async fn queue_tags(
    c: &aws_sdk_sqs::Client,
    url: &str,
) -> Result<Vec<(String, String)>, SetupError> {
    let out = c
        .list_queue_tags()
        .queue_url(url)
        .send()
        .await
        .map_err(err(format!("ListQueueTags {url}")))?;
    Ok(out.tags.unwrap_or_default().into_iter().collect())
}

/// Creates the queue tagged; returns its URL and ARN.
pub async fn create_queue(
    c: &aws_sdk_sqs::Client,
    name: &str,
    tags: &[(String, String)],
) -> Result<(String, String), SetupError> {
    let mut req = c.create_queue().queue_name(name);
    for (k, v) in tags {
        req = req.tags(k, v);
    }
    let url = req
        .send()
        .await
        .map_err(err(format!("CreateQueue {name}")))?
        .queue_url
        .unwrap_or_default();
    let arn = queue_arn(c, &url).await?;
    Ok((url, arn))
}

/// Sets the queue policy: events.amazonaws.com may send, from `rule_arn` only.
pub async fn allow_rule(
    c: &aws_sdk_sqs::Client,
    url: &str,
    queue_arn: &str,
    rule_arn: &str,
) -> Result<(), SetupError> {
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "switchboard-eventbridge",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}
        }]
    });
    c.set_queue_attributes()
        .queue_url(url)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::Policy,
            policy.to_string(),
        )
        .send()
        .await
        .map_err(err(format!("SetQueueAttributes {url}")))?;
    Ok(())
}

/// Every queue URL (up to 1,000 per page, all pages).
pub async fn list_queues(c: &aws_sdk_sqs::Client) -> Result<Vec<String>, SetupError> {
    let mut urls = Vec::new();
    let mut token = None;
    loop {
        let out = c
            .list_queues()
            .max_results(1000)
            .set_next_token(token)
            .send()
            .await
            .map_err(err("ListQueues"))?;
        urls.extend(out.queue_urls.unwrap_or_default());
        token = out.next_token;
        if token.is_none() {
            return Ok(urls);
        }
    }
}

/// Deletes the queue (gone already is fine).
pub async fn delete_queue(c: &aws_sdk_sqs::Client, url: &str) -> Result<(), SetupError> {
    match c.delete_queue().queue_url(url).send().await {
        Ok(_) => Ok(()),
        Err(e) if is_missing(&e) => Ok(()),
        Err(e) => Err(err(format!("DeleteQueue {url}"))(e)),
    }
}

/// Messages waiting in the queue (approximate).
pub async fn depth(c: &aws_sdk_sqs::Client, url: &str) -> Result<Option<u64>, SetupError> {
    let key = aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages;
    let out = c
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(key.clone())
        .send()
        .await
        .map_err(err(format!("GetQueueAttributes {url}")))?;
    Ok(out
        .attributes
        .and_then(|a| a.get(&key).and_then(|v| v.parse().ok())))
}

// --------------------------------------------------------------------------- EventBridge

/// The event pattern: Connect contact events of `instance_arn`, less `exclude`d types.
pub fn pattern(instance_arn: &str, exclude: &[String]) -> serde_json::Value {
    let mut p = serde_json::json!({
        "source": ["aws.connect"],
        "detail-type": ["Amazon Connect Contact Event"],
        "resources": [instance_arn],
    });
    if !exclude.is_empty() {
        p["detail"] = serde_json::json!({"eventType": [{"anything-but": exclude}]});
    }
    p
}

/// The rule's ARN and tags, or `None`.
pub async fn rule(
    c: &aws_sdk_eventbridge::Client,
    name: &str,
) -> Result<Option<(String, Vec<(String, String)>)>, SetupError> {
    let arn = match c.describe_rule().name(name).send().await {
        Ok(out) => out.arn.unwrap_or_default(),
        Err(e) if is_missing(&e) => return Ok(None),
        Err(e) => return Err(err(format!("DescribeRule {name}"))(e)),
    };
    let tags = rule_tags(c, &arn).await?;
    Ok(Some((arn, tags)))
}

/// The rule's tags.
pub async fn rule_tags(
    c: &aws_sdk_eventbridge::Client,
    arn: &str,
) -> Result<Vec<(String, String)>, SetupError> {
    let out = c
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(err(format!("ListTagsForResource {arn}")))?;
    Ok(out
        .tags
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t.key, t.value))
        .collect())
}

/// Creates (or updates) the rule, tagged; returns its ARN.
pub async fn put_rule(
    c: &aws_sdk_eventbridge::Client,
    name: &str,
    pattern: &serde_json::Value,
    tags: &[(String, String)],
) -> Result<String, SetupError> {
    let mut req = c
        .put_rule()
        .name(name)
        .event_pattern(pattern.to_string())
        .state(aws_sdk_eventbridge::types::RuleState::Enabled)
        .description(
            "Amazon Connect contact events to SQS for switchboard (switchboard aws setup)",
        );
    for (k, v) in tags {
        req = req.tags(
            aws_sdk_eventbridge::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| SetupError::aws("PutRule", e))?,
        );
    }
    Ok(req
        .send()
        .await
        .map_err(err(format!("PutRule {name}")))?
        .rule_arn
        .unwrap_or_default())
}

/// Points the rule at the queue.
pub async fn target_queue(
    c: &aws_sdk_eventbridge::Client,
    rule: &str,
    queue_arn: &str,
) -> Result<(), SetupError> {
    let out = c
        .put_targets()
        .rule(rule)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id(TARGET_ID)
                .arn(queue_arn)
                .build()
                .map_err(|e| SetupError::aws("PutTargets", e))?,
        )
        .send()
        .await
        .map_err(err(format!("PutTargets {rule}")))?;
    if out.failed_entry_count > 0 {
        let why = out
            .failed_entries
            .unwrap_or_default()
            .into_iter()
            .filter_map(|f| f.error_message)
            .collect::<Vec<_>>()
            .join("; ");
        return Err(SetupError::Aws {
            action: format!("PutTargets {rule}"),
            message: why,
        });
    }
    Ok(())
}

/// Every rule on the default bus: name and ARN.
pub async fn list_rules(
    c: &aws_sdk_eventbridge::Client,
) -> Result<Vec<(String, String)>, SetupError> {
    let mut rules = Vec::new();
    let mut token = None;
    loop {
        let out = c
            .list_rules()
            .set_next_token(token)
            .send()
            .await
            .map_err(err("ListRules"))?;
        rules.extend(
            out.rules
                .unwrap_or_default()
                .into_iter()
                .filter_map(|r| Some((r.name?, r.arn?))),
        );
        token = out.next_token;
        if token.is_none() {
            return Ok(rules);
        }
    }
}

/// The rule's target ARNs.
pub async fn targets(
    c: &aws_sdk_eventbridge::Client,
    rule: &str,
) -> Result<Vec<String>, SetupError> {
    match c.list_targets_by_rule().rule(rule).send().await {
        Ok(out) => Ok(out
            .targets
            .unwrap_or_default()
            .into_iter()
            .map(|t| t.arn)
            .collect()),
        Err(e) if is_missing(&e) => Ok(Vec::new()),
        Err(e) => Err(err(format!("ListTargetsByRule {rule}"))(e)),
    }
}

/// Removes every target and deletes the rule (gone already is fine).
pub async fn delete_rule(c: &aws_sdk_eventbridge::Client, name: &str) -> Result<(), SetupError> {
    let ids: Vec<String> = match c.list_targets_by_rule().rule(name).send().await {
        Ok(out) => out
            .targets
            .unwrap_or_default()
            .into_iter()
            .map(|t| t.id)
            .collect(),
        Err(e) if is_missing(&e) => return Ok(()),
        Err(e) => return Err(err(format!("ListTargetsByRule {name}"))(e)),
    };
    if !ids.is_empty() {
        c.remove_targets()
            .rule(name)
            .set_ids(Some(ids))
            .send()
            .await
            .map_err(err(format!("RemoveTargets {name}")))?;
    }
    match c.delete_rule().name(name).send().await {
        Ok(_) => Ok(()),
        Err(e) if is_missing(&e) => Ok(()),
        Err(e) => Err(err(format!("DeleteRule {name}"))(e)),
    }
}
