//! Notification sinks: alerts (and anything else a rule routes) as text people read.
//!
//! - [`slack`]: a Slack-compatible incoming webhook (`type = "slack"`; Mattermost and
//!   Rocket.Chat accept the same `{"text": ...}`), one message per item;
//! - [`sns`]: an Amazon SNS topic (`type = "sns"`), one Publish per item, with the item's
//!   kind and rule as message attributes so subscriptions can filter on them;
//! - [`text`]: the readable text both send ("Long hold — agent Jane Doe (jdoe) on hold
//!   for 6m 12s, queue Sales").
//!
//! Both send the items of a batch one by one, in order, and stop at the first that must
//! be retried (a throttle or an outage would refuse the rest too): the rest are retried
//! with it, so a "cleared" message is not sent before the "raised" one it follows.

pub mod slack;
pub mod sns;
pub mod text;

pub use slack::{SlackConfig, SlackSink};
pub use sns::{SnsConfig, SnsSink};

use serde_json::Value;

use super::webhook::template::{Context, TextTemplate};
use super::{Item, Outcome};
use text::Style;

/// The text of one item: the template rendered (with `{{$text}}` the readable text), or
/// the readable text alone.
fn message(item: &Item, template: Option<&TextTemplate>, style: Style) -> String {
    let payload = item.json().ok();
    let readable = text::readable(item, payload.as_ref(), style);
    match template {
        None => readable,
        Some(t) => t.render(&Context {
            payload: payload.as_ref().unwrap_or(&Value::Null),
            item,
            text: Some(&readable),
        }),
    }
}

/// Outcomes of sending `items` one at a time with `send`, stopping at the first retry:
/// the items after it are retried with the same wait, unsent.
async fn one_by_one<'a, F, Fut>(items: &'a [Item], mut send: F) -> Vec<Outcome>
where
    F: FnMut(&'a Item) -> Fut,
    Fut: std::future::Future<Output = Outcome>,
{
    let mut outcomes = Vec::with_capacity(items.len());
    for item in items {
        let outcome = send(item).await;
        let stop = match &outcome {
            Outcome::Retry { reason, after } => Some(Outcome::Retry {
                reason: format!("not sent: an earlier item of the batch is retried ({reason})"),
                after: *after,
            }),
            _ => None,
        };
        outcomes.push(outcome);
        if let Some(rest) = stop {
            outcomes.resize(items.len(), rest);
            break;
        }
    }
    outcomes
}
