//! EventBridge "Amazon Connect Contact Event" envelopes. Each detail carries everything
//! known about the contact at the event (as current Connect does): timestamps in ms,
//! `queueInfo` once queued (never for outbound contacts), `agentInfo` once connected,
//! ACW fields on `COMPLETED`. Delivery adds 0.1–2 s latency, sometimes 5–60 s more (late
//! events), sometimes a second copy with the same `id`.

use std::collections::BTreeMap;

use switchboard_model::contact_event::{AgentInfo, QueueInfo, CONTACT_EVENT_DETAIL_TYPE};
use switchboard_model::{ContactEvent, ContactEventDetail, ContactEventType, Extra, Record};

use super::{ms, round_secs, secs};
use crate::center::Medium;
use crate::sim::Simulator;
use crate::state::{Contact, Key};

impl Simulator {
    /// Builds the contact event of `kind` at `t` for `contact`.
    fn contact_event(
        &self,
        contact: &Contact,
        kind: ContactEventType,
        t: i64,
        id: String,
    ) -> ContactEvent {
        let center = &self.center;
        let queue = &center.queues[contact.queue];
        let ended = contact.disconnected.filter(|&d| d <= t);
        let queue_info = match (queue.inbound, contact.enqueued) {
            (true, Some(enqueued)) if enqueued <= t => Some(QueueInfo {
                queue_arn: Some(queue.arn.clone()),
                queue_type: Some("STANDARD".to_owned()),
                enqueue_timestamp: Some(ms(enqueued)),
                extra: Extra::new(),
            }),
            _ => None,
        };
        let agent_info = match (contact.agent, contact.connected) {
            (Some(agent), Some(connected)) if connected <= t => {
                let def = &center.agents[agent as usize];
                let acw = contact
                    .acw_end
                    .filter(|_| kind == ContactEventType::Completed);
                Some(AgentInfo {
                    agent_arn: Some(def.arn.clone()),
                    connected_to_agent_timestamp: Some(ms(connected)),
                    accepted_by_agent_timestamp: None,
                    agent_initiated_hold_duration: None,
                    after_contact_work_start_timestamp: acw.and(ended).map(ms),
                    after_contact_work_end_timestamp: acw.map(ms),
                    after_contact_work_duration: acw
                        .zip(ended)
                        .map(|(end, start)| round_secs(end - start)),
                    hierarchy_groups: Some(def.event_groups.clone()),
                    extra: Extra::new(),
                })
            }
            _ => None,
        };
        let mut tags = BTreeMap::new();
        tags.insert(
            "aws:connect:instanceId".to_owned(),
            center.instance_id.clone(),
        );
        if let (Medium::Voice, Some(number)) = (contact.medium, &contact.system_number) {
            tags.insert("aws:connect:systemEndpoint".to_owned(), number.clone());
        }
        let detail = ContactEventDetail {
            event_type: kind.clone(),
            contact_id: contact.id.clone(),
            initial_contact_id: contact.initial_id.clone(),
            previous_contact_id: contact.previous_id.clone(),
            related_contact_id: None,
            channel: Some(contact.medium.channel()),
            instance_arn: Some(center.instance_arn.clone()),
            initiation_method: Some(contact.method.clone()),
            initiation_timestamp: Some(ms(contact.initiated)),
            connected_to_system_timestamp: contact.connected_to_system.filter(|&c| c <= t).map(ms),
            disconnect_timestamp: ended.map(ms),
            scheduled_timestamp: None,
            queue_info,
            agent_info,
            disconnect_reason: ended.and(contact.disconnect_reason.clone()),
            answering_machine_detection_status: None,
            updated_properties: (kind == ContactEventType::ContactDataUpdated)
                .then(|| vec!["UserDefinedAttributes".to_owned()]),
            tags: Some(tags),
            extra: Extra::new(),
        };
        ContactEvent {
            version: Some("0".to_owned()),
            id: Some(id),
            detail_type: Some(CONTACT_EVENT_DETAIL_TYPE.to_owned()),
            source: Some("aws.connect".to_owned()),
            account: Some(center.account_id.clone()),
            time: Some(secs(t)),
            region: Some(center.region.clone()),
            resources: Some(vec![
                center.instance_arn.clone(),
                center.contact_arn(&contact.id),
            ]),
            detail,
            extra: Extra::new(),
            detail_only: false,
        }
    }

    /// Builds and delivers a contact event that happens at `t` (which may be later than
    /// now, for updates after a contact completed).
    pub(crate) fn emit_contact_event(&mut self, contact: &Contact, kind: ContactEventType, t: i64) {
        let id = self.rng.uuid();
        let event = self.contact_event(contact, kind, t, id);
        self.deliver_contact_event(event, t);
    }

    /// [`Self::emit_contact_event`] for the contact in flight under `key`.
    pub(crate) fn emit_contact_event_for(&mut self, key: Key, kind: ContactEventType, t: i64) {
        let id = self.rng.uuid();
        if let Some(contact) = self.contacts.get(&key) {
            let event = self.contact_event(contact, kind, t, id);
            self.deliver_contact_event(event, t);
        }
    }

    fn deliver_contact_event(&mut self, event: ContactEvent, t: i64) {
        let artefacts = self.config.artefacts;
        let mut at = t + self.rng.between(100, 2000);
        if self.rng.chance(artefacts.late_contact_event) {
            at += self.rng.between(5_000, 60_000);
        }
        let record = Record::ContactEvent(Box::new(event));
        if self.rng.chance(artefacts.duplicate_contact_event) {
            let again = at + self.rng.between(200, 10_000);
            self.outbox.push(again, record.clone());
        }
        self.outbox.push(at, record);
    }
}
