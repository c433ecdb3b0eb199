//! The three streams tell one story: what the agent events show for each contact (hold,
//! after-contact work, interaction time) is what its contact record says, contact events
//! agree with both, transfers are chained, and every record re-parses as its kind.

mod common;

use std::collections::{BTreeMap, HashMap};

use common::{config, run, split};
use switchboard_model::{
    AgentEventType, Channel, ContactEventType, ContactState, InitiationMethod, Record,
};

/// What the agent events show about one contact.
#[derive(Default, Debug)]
struct Seen {
    connected: Option<i64>,
    hold_ms: i64,
    hold_start: Option<i64>,
    holds: i64,
    ended: Option<i64>,
    acw_end: Option<i64>,
    missed: bool,
}

fn ms(t: Option<switchboard_model::Timestamp>) -> i64 {
    t.expect("timestamp present").millis()
}

fn within_a_second(what: &str, id: &str, record: i64, seen_ms: i64) -> Result<(), String> {
    if (record * 1000 - seen_ms).abs() <= 1000 {
        Ok(())
    } else {
        Err(format!(
            "{id}: {what} is {record} s in the record, {seen_ms} ms in the agent events"
        ))
    }
}

#[test]
fn streams_agree_for_every_contact() {
    let config = config(40, 4, 11);
    let end = config.end_millis();
    let delivered = run(config);
    let out = split(&delivered);

    // Per-contact view from the agent events.
    let mut seen: HashMap<String, Seen> = HashMap::new();
    let mut max_chats = 0;
    for events in out.agent_timelines().values() {
        for e in events {
            let current = e.current.as_ref().expect("current snapshot");
            let previous = e.previous.as_ref();
            let chats = current
                .contacts()
                .iter()
                .filter(|c| c.channel == Some(Channel::Chat))
                .count();
            max_chats = max_chats.max(chats);
            for c in current.contacts() {
                let before = previous
                    .and_then(|p| p.contacts().iter().find(|x| x.contact_id == c.contact_id));
                if before.and_then(|b| b.state.clone()) == c.state {
                    continue;
                }
                let s = seen.entry(c.contact_id.clone()).or_default();
                let at = ms(c.state_start_timestamp);
                match c.state.clone().expect("state") {
                    ContactState::Connected => {
                        s.connected.get_or_insert(at);
                        if let Some(start) = s.hold_start.take() {
                            s.hold_ms += at - start;
                        }
                    }
                    ContactState::ConnectedOnHold => {
                        s.hold_start = Some(at);
                        s.holds += 1;
                    }
                    ContactState::Ended => s.ended = Some(at),
                    ContactState::Missed | ContactState::Rejected => s.missed = true,
                    _ => {}
                }
            }
            for p in previous.map(|p| p.contacts()).unwrap_or_default() {
                let gone = !current
                    .contacts()
                    .iter()
                    .any(|c| c.contact_id == p.contact_id);
                if gone && p.state == Some(ContactState::Ended) {
                    seen.entry(p.contact_id.clone()).or_default().acw_end =
                        Some(e.event_timestamp.millis());
                }
            }
        }
    }
    assert!(max_chats >= 2, "no agent ever held two chats at once");
    assert!(
        seen.values().any(|s| s.missed),
        "no missed or rejected contact"
    );

    let records = out.latest_records();
    let events = out.contact_events_by_contact();
    let mut errors = Vec::new();
    let mut handled = 0;
    let (mut holds, mut transfers, mut outbound, mut abandoned, mut chats) = (0, 0, 0, 0, 0);
    for (id, r) in &records {
        let evs = events.get(id).map(Vec::as_slice).unwrap_or_default();
        let has = |t: ContactEventType| evs.iter().find(|e| e.detail.event_type == t);
        for t in [
            ContactEventType::Initiated,
            ContactEventType::Disconnected,
            ContactEventType::Completed,
        ] {
            if has(t.clone()).is_none() {
                errors.push(format!("{id}: no {t} contact event"));
            }
        }
        if let Some(init) = has(ContactEventType::Initiated) {
            if init.detail.initiation_timestamp.map(|t| t.secs())
                != Some(r.initiation_timestamp.secs())
            {
                errors.push(format!("{id}: INITIATED time differs from the record"));
            }
        }
        if r.channel == Channel::Chat {
            chats += 1;
        }
        if r.initiation_method == InitiationMethod::Outbound {
            outbound += 1;
            if evs.iter().any(|e| e.detail.queue_info.is_some()) {
                errors.push(format!("{id}: outbound contact event with queueInfo"));
            }
        }
        if let Some(q) = r.queue.as_ref().filter(|q| q.enqueue_timestamp.is_some()) {
            let span = ms(q.dequeue_timestamp) - ms(q.enqueue_timestamp);
            if (q.duration.expect("duration") * 1000 - span).abs() > 1000 {
                errors.push(format!(
                    "{id}: queue duration {:?} vs {span} ms",
                    q.duration
                ));
            }
            let queued = has(ContactEventType::Queued).and_then(|e| e.detail.queue_info.clone());
            match queued.and_then(|qi| qi.enqueue_timestamp) {
                Some(t) if t.secs() == ms(q.enqueue_timestamp) / 1000 => {}
                other => errors.push(format!("{id}: QUEUED enqueueTimestamp {other:?} vs record")),
            }
        }
        let Some(agent) = &r.agent else {
            if r.abandoned_in_queue() {
                abandoned += 1;
            }
            continue;
        };
        handled += 1;
        let Some(s) = seen.get(id) else {
            errors.push(format!("{id}: handled but absent from agent events"));
            continue;
        };
        let (Some(connected), Some(ended), Some(acw_end)) = (s.connected, s.ended, s.acw_end)
        else {
            errors.push(format!("{id}: incomplete agent-event timeline {s:?}"));
            continue;
        };
        let hold = agent.customer_hold_duration.expect("hold");
        holds += i64::from(hold > 0);
        let checks = [
            within_a_second("CustomerHoldDuration", id, hold, s.hold_ms),
            within_a_second(
                "AfterContactWorkDuration",
                id,
                agent.after_contact_work_duration.expect("acw"),
                acw_end - ended,
            ),
            within_a_second(
                "AgentInteractionDuration",
                id,
                agent.agent_interaction_duration.expect("interaction"),
                ended - connected - s.hold_ms,
            ),
            within_a_second(
                "ConnectedToAgentTimestamp",
                id,
                ms(agent.connected_to_agent_timestamp) / 1000,
                connected,
            ),
        ];
        errors.extend(checks.into_iter().filter_map(Result::err));
        if agent.number_of_holds != Some(s.holds) {
            errors.push(format!(
                "{id}: {:?} holds in the record, {} seen",
                agent.number_of_holds, s.holds
            ));
        }
        let to_agent =
            has(ContactEventType::ConnectedToAgent).and_then(|e| e.detail.agent_info.clone());
        match to_agent.and_then(|a| a.connected_to_agent_timestamp) {
            Some(t) if t.millis() == connected => {}
            other => errors.push(format!(
                "{id}: CONNECTED_TO_AGENT at {other:?}, agent events say {connected}"
            )),
        }
        let completed = has(ContactEventType::Completed).and_then(|e| e.detail.agent_info.clone());
        if completed
            .and_then(|a| a.after_contact_work_end_timestamp)
            .map(|t| t.millis())
            != Some(acw_end)
        {
            errors.push(format!(
                "{id}: COMPLETED afterContactWorkEndTimestamp differs from the agent events"
            ));
        }

        if r.initiation_method == InitiationMethod::Transfer {
            transfers += 1;
            let previous = r
                .previous_contact_id
                .as_deref()
                .and_then(|p| records.get(p));
            match previous {
                Some(p) if p.next_contact_id.as_deref() != Some(id) => {
                    errors.push(format!("{id}: previous contact does not name it as next"))
                }
                Some(p) if r.initial_contact_id.as_deref() != Some(p.initial_contact_id()) => {
                    errors.push(format!("{id}: InitialContactId does not match its chain"))
                }
                Some(_) => {}
                // The previous segment's ACW may outlast the run; allowed near the end only.
                None if r.initiation_timestamp.millis() + 900_000 < end => errors.push(format!(
                    "{id}: transfer without a record of its previous contact"
                )),
                None => {}
            }
        }
    }
    assert!(
        errors.is_empty(),
        "{} inconsistencies, first ones: {:#?}",
        errors.len(),
        &errors[..errors.len().min(10)]
    );
    assert!(handled > 300, "only {handled} handled contacts");
    for (what, n) in [
        ("holds", holds),
        ("transfers", transfers),
        ("outbound", outbound),
        ("chats", chats),
    ] {
        assert!(n > 0, "no {what} in {} records", records.len());
    }
    let _ = abandoned; // abandons are rare in a small morning run; their shape is checked below
}

#[test]
fn abandoned_and_unqueued_contacts_have_no_agent() {
    let delivered = run(config(30, 6, 5));
    let mut abandoned = 0;
    let mut unqueued = 0;
    for d in &delivered {
        let Record::ContactRecord(r) = &d.record else {
            continue;
        };
        if r.agent.is_some() {
            continue;
        }
        // As written (the model reads an explicit null and an absent field alike).
        let json: serde_json::Value = serde_json::from_slice(&d.json).unwrap();
        assert!(
            json["Agent"].is_null() && json.get("Agent").is_some(),
            "Agent should be an explicit null"
        );
        assert!(json["Recording"].is_null());
        if r.abandoned_in_queue() {
            abandoned += 1;
            assert!(r.queue.as_ref().unwrap().dequeue_timestamp.is_some());
        } else {
            unqueued += 1;
            assert!(json["Queue"].is_null(), "{json}");
        }
    }
    assert!(
        abandoned > 0 && unqueued > 0,
        "{abandoned} abandoned, {unqueued} ended in the flow"
    );
}

#[test]
fn login_and_logout_events_have_the_documented_shape() {
    let out = split(&run(config(20, 12, 9)));
    let mut logins = 0;
    let mut logouts = 0;
    let mut by_type: BTreeMap<String, usize> = BTreeMap::new();
    for (_, e) in &out.agent_events {
        *by_type.entry(e.event_type.to_string()).or_default() += 1;
        let current = e.current.as_ref().unwrap();
        match e.event_type {
            AgentEventType::Login => {
                logins += 1;
                assert!(e.previous.is_none());
                assert_eq!(current.status_name(), Some("Offline"));
            }
            AgentEventType::Logout => {
                logouts += 1;
                assert_eq!(current.status_name(), Some("Offline"));
                assert!(current.contacts().is_empty());
                assert_eq!(e.previous.as_ref().unwrap().status_name(), Some("Offline"));
            }
            _ => assert!(
                e.previous.is_some(),
                "{} without a previous snapshot",
                e.event_type
            ),
        }
        let config = current.configuration.as_ref().unwrap();
        let queues = config
            .routing_profile
            .as_ref()
            .unwrap()
            .inbound_queues
            .as_ref()
            .unwrap();
        let agent_queue = queues
            .iter()
            .find(|q| q.is_agent_queue())
            .expect("agent queue listed");
        assert!(agent_queue.name.is_none());
        assert!(agent_queue
            .arn
            .as_deref()
            .unwrap()
            .ends_with(switchboard_model::common::arn_tail(&e.agent_arn)));
    }
    assert!(logins > 0 && logouts > 0, "{by_type:?}");
}
