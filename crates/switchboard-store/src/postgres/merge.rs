//! Merging a contact timeline a worker commits into the one already stored.
//!
//! With several workers, each engine sees only part of a contact: the worker reading
//! agent events knows when it was connected and how long it was on hold, the one reading
//! contact records knows its attributes. Each commits its own view. Overwriting would
//! keep whichever committed last, so the scalar fields are merged here (the entries are
//! rows of their own and simply add up):
//!
//! - text and times: the incoming value when it has one, else the stored one;
//! - phase, hold time, ACW time, last activity: the larger;
//! - attributes and the record summary: from whichever side saw the newer contact record;
//! - triggers fired: fired on either side;
//! - contact-event ids seen: the union.
//!
//! Every field of the incoming timeline only ever grows from one commit of a worker to
//! its next, so with one worker the merge gives back exactly the incoming timeline, and
//! a store written by one worker loads back into the engine that wrote it.

use switchboard_engine::ContactTimeline;

/// `stored` with `incoming` merged in. Entries are left empty: they are stored as rows.
pub fn merge(stored: ContactTimeline, incoming: &ContactTimeline) -> ContactTimeline {
    // Destructured so that a new field cannot be forgotten here.
    let ContactTimeline {
        contact_id,
        initial_contact_id,
        previous_contact_id,
        next_contact_id,
        channel,
        initiation_method,
        queue,
        queue_arn,
        agent_arn,
        agent_username,
        phase,
        initiated_at,
        queued_at,
        connected_at,
        disconnected_at,
        hold_ms,
        acw_ms,
        attributes,
        record_updated_at,
        entries: _,
        completed_fired,
        record_ready_fired,
        record_summary,
        mut seen_events,
        last_activity,
        fresh: _,
    } = stored;
    let newer_record = incoming.record_updated_at >= record_updated_at;
    for id in &incoming.seen_events {
        if !seen_events.contains(id) {
            seen_events.push(*id);
        }
    }
    ContactTimeline {
        contact_id,
        initial_contact_id: incoming.initial_contact_id.clone().or(initial_contact_id),
        previous_contact_id: incoming.previous_contact_id.clone().or(previous_contact_id),
        next_contact_id: incoming.next_contact_id.clone().or(next_contact_id),
        channel: incoming.channel.clone().or(channel),
        initiation_method: incoming.initiation_method.clone().or(initiation_method),
        queue: incoming.queue.clone().or(queue),
        queue_arn: incoming.queue_arn.clone().or(queue_arn),
        agent_arn: incoming.agent_arn.clone().or(agent_arn),
        agent_username: incoming.agent_username.clone().or(agent_username),
        phase: phase.max(incoming.phase),
        initiated_at: incoming.initiated_at.or(initiated_at),
        queued_at: incoming.queued_at.or(queued_at),
        connected_at: incoming.connected_at.or(connected_at),
        disconnected_at: incoming.disconnected_at.or(disconnected_at),
        hold_ms: hold_ms.max(incoming.hold_ms),
        acw_ms: acw_ms.max(incoming.acw_ms),
        attributes: if newer_record {
            incoming.attributes.clone()
        } else {
            attributes
        },
        record_updated_at: record_updated_at.max(incoming.record_updated_at),
        record_summary: if newer_record {
            incoming.record_summary.clone()
        } else {
            record_summary
        },
        entries: Vec::new(),
        completed_fired: completed_fired || incoming.completed_fired,
        record_ready_fired: record_ready_fired || incoming.record_ready_fired,
        seen_events,
        last_activity: last_activity.max(incoming.last_activity),
        fresh: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use switchboard_engine::contact::ContactPhase;
    use switchboard_model::Timestamp;

    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    /// What the worker reading agent events knows of contact c-1.
    fn from_agent_events() -> ContactTimeline {
        let mut c = ContactTimeline::new("c-1", ts("2026-01-05T09:00:05Z"));
        c.agent_arn = Some("arn:agent".into());
        c.queue = Some("Sales".into());
        c.connected_at = Some(ts("2026-01-05T09:00:05Z"));
        c.phase = ContactPhase::Disconnected;
        c.hold_ms = 10_000;
        c.completed_fired = true;
        c.last_activity = ts("2026-01-05T09:05:00Z");
        c
    }

    /// What the worker reading contact records knows of it.
    fn from_records() -> ContactTimeline {
        let mut c = ContactTimeline::new("c-1", ts("2026-01-05T09:06:00Z"));
        c.agent_arn = Some("arn:agent".into());
        c.channel = Some("VOICE".into());
        c.phase = ContactPhase::Completed;
        c.attributes = BTreeMap::from([("intent".to_owned(), "sales".to_owned())]);
        c.record_updated_at = Some(ts("2026-01-05T09:06:00Z"));
        c.completed_fired = true;
        c.record_ready_fired = true;
        c.seen_events = vec![7];
        c.last_activity = ts("2026-01-05T09:06:00Z");
        c
    }

    #[test]
    fn two_partial_views_merge_whatever_the_order() {
        let a = merge(from_agent_events(), &from_records());
        let b = merge(from_records(), &from_agent_events());
        assert_eq!(a, b);
        assert_eq!(a.hold_ms, 10_000, "from the agent events");
        assert_eq!(a.attributes["intent"], "sales", "from the record");
        assert_eq!(a.channel.as_deref(), Some("VOICE"));
        assert_eq!(a.queue.as_deref(), Some("Sales"));
        assert_eq!(a.phase, ContactPhase::Completed);
        assert!(a.completed_fired && a.record_ready_fired);
        assert_eq!(a.last_activity, ts("2026-01-05T09:06:00Z"));
        assert_eq!(a.seen_events, [7]);
    }

    #[test]
    fn an_older_record_does_not_replace_the_attributes() {
        let mut stored = from_records();
        stored.record_updated_at = Some(ts("2026-01-05T10:00:00Z"));
        stored.attributes.insert("intent".into(), "newer".into());
        let merged = merge(stored, &from_records());
        assert_eq!(merged.attributes["intent"], "newer");
        assert_eq!(merged.record_updated_at, Some(ts("2026-01-05T10:00:00Z")));
    }

    #[test]
    fn one_worker_gets_back_exactly_what_it_wrote() {
        // The same worker, one commit later: everything only grew.
        let before = from_agent_events();
        let mut after = before.clone();
        after.hold_ms += 5_000;
        after.acw_ms = Some(30_000);
        after.phase = ContactPhase::Completed;
        after.agent_username = Some("jdoe".into());
        after.seen_events = vec![1, 2];
        let mut stored = before;
        stored.seen_events = vec![1];
        assert_eq!(merge(stored, &after), after);
    }
}
