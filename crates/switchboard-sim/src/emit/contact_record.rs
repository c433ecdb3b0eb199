//! Contact records (CTRs), written when a contact is over (after ACW, or at disconnect
//! when no agent was involved) and delivered 45–90 s later, as Connect does. Timestamps
//! have second precision; durations are whole seconds rounded from the exact millisecond
//! spans the agent events show, so both agree to within half a second.
//!
//! Fields Connect writes as `null` (see the 2022 sample) are written as `null`, through
//! the model's `extra` map where the model would omit a `None`.

use serde_json::{json, Value};
use switchboard_model::ctr::{
    CtrAgent, CtrQueue, Endpoint, EndpointType, MediaStream, Recording, Recordings,
};
use switchboard_model::{ContactEventType, ContactRecord, Extra, Record};

use super::{nulls, round_secs, secs};
use crate::center::Medium;
use crate::sim::Simulator;
use crate::state::{Contact, Key};

/// `AWSContactTraceRecordFormatVersion` of every public sample.
const FORMAT_VERSION: &str = "2017-03-10";

fn phone(number: &Option<String>) -> Option<Endpoint> {
    number.as_ref().map(|n| Endpoint {
        address: Some(n.clone()),
        kind: Some(EndpointType::TelephoneNumber),
        extra: Extra::new(),
    })
}

impl Simulator {
    /// The contact record of a finished contact.
    fn contact_record(&self, c: &Contact, last_update: i64) -> ContactRecord {
        let center = &self.center;
        let queue = &center.queues[c.queue];
        let mut extra = nulls(&[
            "AnsweringMachineDetectionStatus",
            "ScheduledTimestamp",
            "TransferCompletedTimestamp",
        ]);
        extra.insert("TransferredToEndpoint".to_owned(), Value::Null);
        let mut null_if_none = |name: &str, present: bool| {
            if !present {
                extra.insert(name.to_owned(), Value::Null);
            }
        };
        null_if_none("InitialContactId", c.initial_id.is_some());
        null_if_none("PreviousContactId", c.previous_id.is_some());
        null_if_none("NextContactId", c.next_id.is_some());
        null_if_none(
            "ConnectedToSystemTimestamp",
            c.connected_to_system.is_some(),
        );
        null_if_none("CustomerEndpoint", c.customer_number.is_some());
        null_if_none("SystemEndpoint", c.system_number.is_some());

        let agent = match (c.agent, c.connected, c.disconnected) {
            (Some(a), Some(connected), Some(ended)) => {
                let def = &center.agents[a as usize];
                let acw_end = c.acw_end.unwrap_or(ended);
                Some(CtrAgent {
                    arn: Some(def.arn.clone()),
                    after_contact_work_duration: Some(round_secs(acw_end - ended)),
                    after_contact_work_end_timestamp: Some(secs(acw_end)),
                    after_contact_work_start_timestamp: Some(secs(ended)),
                    agent_interaction_duration: Some(
                        round_secs(ended - connected - c.hold_total_ms).max(0),
                    ),
                    connected_to_agent_timestamp: Some(secs(connected)),
                    customer_hold_duration: Some(round_secs(c.hold_total_ms)),
                    hierarchy_groups: Some(def.ctr_groups.clone()),
                    longest_hold_duration: Some(round_secs(c.hold_longest_ms)),
                    number_of_holds: Some(i64::from(c.holds)),
                    routing_profile: Some(center.profile_refs[def.profile].clone()),
                    username: Some(def.username.clone()),
                    state_transitions: None,
                    extra: Extra::new(),
                })
            }
            _ => None,
        };
        null_if_none("Agent", agent.is_some());

        let ctr_queue = if queue.inbound {
            c.enqueued.map(|enqueued| {
                let dequeued = c.dequeued.or(c.disconnected).unwrap_or(enqueued);
                CtrQueue {
                    arn: Some(queue.arn.clone()),
                    dequeue_timestamp: Some(secs(dequeued)),
                    duration: Some(round_secs(dequeued - enqueued)),
                    enqueue_timestamp: Some(secs(enqueued)),
                    name: Some(queue.name.to_owned()),
                    extra: Extra::new(),
                }
            })
        } else {
            // Outbound: the agent's outbound queue, never waited in.
            Some(CtrQueue {
                arn: Some(queue.arn.clone()),
                dequeue_timestamp: None,
                duration: Some(0),
                enqueue_timestamp: None,
                name: Some(queue.name.to_owned()),
                extra: nulls(&["DequeueTimestamp", "EnqueueTimestamp"]),
            })
        };
        null_if_none("Queue", ctr_queue.is_some());

        let recorded = c.medium == Medium::Voice && agent.is_some();
        let (recording, recordings) = if recorded {
            let (location, r) = self.recording(c);
            (Some(location), Some(vec![r]))
        } else {
            (None, None)
        };
        null_if_none("Recording", recording.is_some());
        null_if_none("Recordings", recordings.is_some());
        null_if_none("DisconnectReason", c.disconnect_reason.is_some());

        let media = if c.medium == Medium::Voice {
            "AUDIO"
        } else {
            "CHAT"
        };
        ContactRecord {
            aws_account_id: Some(center.account_id.clone()),
            format_version: Some(FORMAT_VERSION.to_owned()),
            agent,
            agent_connection_attempts: Some(c.offers),
            answering_machine_detection_status: None,
            attributes: Some(c.attributes.clone()),
            campaign: Some(json!({ "CampaignId": null })),
            channel: c.medium.channel(),
            connected_to_system_timestamp: c.connected_to_system.map(secs),
            contact_details: Some(json!({})),
            contact_id: c.id.clone(),
            customer_endpoint: phone(&c.customer_number),
            disconnect_reason: c.disconnect_reason.clone(),
            disconnect_timestamp: c.disconnected.map(secs),
            initial_contact_id: c.initial_id.clone(),
            initiation_method: c.method.clone(),
            initiation_timestamp: secs(c.initiated),
            instance_arn: Some(center.instance_arn.clone()),
            last_update_timestamp: secs(last_update),
            media_streams: Some(vec![MediaStream {
                kind: Some(media.to_owned()),
                extra: Extra::new(),
            }]),
            next_contact_id: c.next_id.clone(),
            previous_contact_id: c.previous_id.clone(),
            queue: ctr_queue,
            recording,
            recordings,
            references: Some(Vec::new()),
            related_contact_id: None,
            scheduled_timestamp: None,
            system_endpoint: phone(&c.system_number),
            transfer_completed_timestamp: None,
            transferred_to_endpoint: None,
            voice_id_result: Some(Value::Null),
            extra,
        }
    }

    /// `Recording` and `Recordings[0]` of a recorded call (same file, as Connect writes).
    fn recording(&self, c: &Contact) -> (Recording, Recordings) {
        let started = secs(c.connected.unwrap_or(c.initiated)).to_string(); // 2026-01-05T08:12:03Z
        let (date, time) = (&started[..10], &started[11..16]);
        let location = format!(
            "{}/{}/{}_{}T{}_UTC.wav",
            self.center.recording_prefix,
            date.replace('-', "/"),
            c.id,
            date.replace('-', ""),
            time
        );
        let recording = Recording {
            deletion_reason: None,
            location: Some(location.clone()),
            status: Some("AVAILABLE".to_owned()),
            kind: Some("AUDIO".to_owned()),
            extra: nulls(&["DeletionReason"]),
        };
        let recordings = Recordings {
            deletion_reason: None,
            fragment_start_number: Some(Value::Null),
            fragment_stop_number: Some(Value::Null),
            location: Some(location),
            media_stream_type: Some("AUDIO".to_owned()),
            participant_type: None,
            start_timestamp: None,
            status: Some("AVAILABLE".to_owned()),
            stop_timestamp: None,
            storage_type: Some("S3".to_owned()),
            extra: nulls(&[
                "DeletionReason",
                "ParticipantType",
                "StartTimestamp",
                "StopTimestamp",
            ]),
        };
        (recording, recordings)
    }

    /// Takes a finished contact out of flight and schedules its record(s): the record
    /// about a minute later, sometimes a duplicate, sometimes an attribute update
    /// (`CONTACT_DATA_UPDATED` plus the record again with a later `LastUpdateTimestamp`).
    pub(crate) fn finish_contact(&mut self, key: Key) {
        let Some(mut c) = self.contacts.remove(&key) else {
            return;
        };
        self.totals.completed += 1;
        let done = c.acw_end.or(c.disconnected).unwrap_or(self.now);
        let at = done + self.rng.between(45_000, 90_000);
        let last_update = at - self.rng.between(500, 3000);
        let record = self.contact_record(&c, last_update);
        let artefacts = self.config.artefacts;
        if self.rng.chance(artefacts.duplicate_contact_record) {
            let again = at + self.rng.between(2_000, 60_000);
            self.outbox
                .push(again, Record::ContactRecord(Box::new(record.clone())));
        }
        self.outbox
            .push(at, Record::ContactRecord(Box::new(record)));

        if self.rng.chance(artefacts.updated_contact_record) {
            let updated = at + self.rng.between(60_000, 20 * 60_000);
            let score = self.rng.between(1, 5).to_string();
            c.attributes
                .insert("postContactSurveyScore".to_owned(), score);
            self.emit_contact_event(&c, ContactEventType::ContactDataUpdated, updated);
            let last_update = updated + self.rng.between(30_000, 90_000);
            let record = self.contact_record(&c, last_update);
            let at = last_update + self.rng.between(500, 3000);
            self.outbox
                .push(at, Record::ContactRecord(Box::new(record)));
        }
    }
}
