//! Delivery behaves like Connect's: duplicates, late contact events and re-sent contact
//! records at the configured rates (and none when disabled), heartbeats after 120 s of
//! silence until an hour after logout, one agent's events delivered in order.

mod common;

use std::collections::{HashMap, HashSet};

use common::{config, run, split, without_artefacts};
use switchboard_model::AgentEventType;
use switchboard_sim::ArtefactRates;

/// Count within `tolerance` (relative) of `expected`, or within 4 standard deviations
/// for small counts.
fn near(count: usize, expected: f64) -> bool {
    let slack = (4.0 * expected.sqrt()).max(expected * 0.3);
    (count as f64 - expected).abs() <= slack
}

#[test]
fn artefacts_appear_at_their_rates() {
    let rate = 0.05;
    let mut c = config(30, 4, 3);
    c.artefacts = ArtefactRates {
        duplicate_agent_event: rate,
        duplicate_contact_event: rate,
        late_contact_event: rate,
        duplicate_contact_record: rate,
        updated_contact_record: rate,
    };
    let out = split(&run(c));

    let unique_agent: HashSet<_> = out
        .agent_events
        .iter()
        .map(|(_, e)| e.event_id.clone())
        .collect();
    let dup_agent = out.agent_events.len() - unique_agent.len();
    assert!(
        near(dup_agent, unique_agent.len() as f64 * rate),
        "{dup_agent} duplicate agent events of {}",
        unique_agent.len()
    );

    let unique_contact: HashSet<_> = out
        .contact_events
        .iter()
        .map(|(_, e)| e.id.clone().unwrap())
        .collect();
    let dup_contact = out.contact_events.len() - unique_contact.len();
    assert!(
        near(dup_contact, unique_contact.len() as f64 * rate),
        "{dup_contact} duplicate contact events"
    );

    // Late: delivered more than 4 s after the event (normal latency is at most 2 s).
    let mut first_delivery: HashMap<String, i64> = HashMap::new();
    for (at, e) in &out.contact_events {
        first_delivery.entry(e.id.clone().unwrap()).or_insert(*at);
    }
    let late = out
        .contact_events
        .iter()
        .filter(|(at, e)| first_delivery[e.id.as_ref().unwrap()] == *at)
        .filter(|(at, e)| {
            e.detail
                .event_time()
                .is_some_and(|t| at - t.millis() > 4_000)
        })
        .count();
    assert!(
        late > 0 && (late as f64) < unique_contact.len() as f64 * rate * 1.5,
        "{late} late contact events"
    );

    // Out of order: some contact's events arrive in an order their times contradict.
    let mut last_time: HashMap<String, i64> = HashMap::new();
    let mut inversions = 0;
    for (_, e) in &out.contact_events {
        if let Some(t) = e.detail.event_time() {
            let last = last_time
                .entry(e.detail.contact_id.clone())
                .or_insert(i64::MIN);
            if t.millis() < *last {
                inversions += 1;
            }
            *last = (*last).max(t.millis());
        }
    }
    assert!(inversions > 0, "no contact events out of order");

    let contacts = out.latest_records().len();
    let mut copies: HashMap<(String, i64), usize> = HashMap::new();
    for (_, r) in &out.records {
        *copies
            .entry((r.contact_id.clone(), r.last_update_timestamp.millis()))
            .or_default() += 1;
    }
    let duplicates = copies.values().filter(|n| **n > 1).count();
    let updated = copies.len() - contacts;
    assert!(
        near(duplicates, contacts as f64 * rate),
        "{duplicates} duplicate records of {contacts}"
    );
    assert!(
        near(updated, contacts as f64 * rate),
        "{updated} updated records of {contacts}"
    );
}

#[test]
fn no_artefacts_when_disabled() {
    let out = split(&run(without_artefacts(config(20, 2, 4))));
    let ids: HashSet<_> = out
        .agent_events
        .iter()
        .map(|(_, e)| e.event_id.clone())
        .collect();
    assert_eq!(ids.len(), out.agent_events.len());
    let ids: HashSet<_> = out
        .contact_events
        .iter()
        .map(|(_, e)| e.id.clone())
        .collect();
    assert_eq!(ids.len(), out.contact_events.len());
    let ids: HashSet<_> = out
        .records
        .iter()
        .map(|(_, r)| r.contact_id.clone())
        .collect();
    assert_eq!(ids.len(), out.records.len());
}

#[test]
fn heartbeats_fill_every_silence_until_an_hour_after_logout() {
    let c = config(20, 12, 8);
    let end = c.end_millis();
    let out = split(&run(c));
    let mut heartbeats = 0;
    for (agent, events) in out.agent_timelines() {
        let mut logged_out_at: Option<i64> = None;
        for pair in events.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            match a.event_type {
                AgentEventType::Login => logged_out_at = None,
                AgentEventType::Logout => logged_out_at = Some(a.event_timestamp.millis()),
                AgentEventType::HeartBeat => heartbeats += 1,
                _ => {}
            }
            let t = a.event_timestamp.millis();
            let gap = b.event_timestamp.millis() - t;
            let publishing = logged_out_at.is_none_or(|out| t + 120_000 < out + 3_600_000);
            if publishing {
                assert!(
                    gap <= 120_000,
                    "{agent}: {gap} ms without an event after {}",
                    a.event_timestamp
                );
            } else if b.event_type == AgentEventType::HeartBeat {
                panic!(
                    "{agent}: heartbeat at {} more than an hour after logout",
                    b.event_timestamp
                );
            }
        }
        // The last event is followed by silence only at the end of the run or after the
        // post-logout hour.
        let last = events.last().unwrap();
        let t = last.event_timestamp.millis();
        let quiet_ok =
            t + 120_000 >= end || logged_out_at.is_some_and(|out| t + 120_000 >= out + 3_600_000);
        assert!(
            quiet_ok,
            "{agent}: events stop at {} while still due",
            last.event_timestamp
        );
    }
    assert!(heartbeats > 100);
}

#[test]
fn one_agents_events_are_delivered_in_event_order() {
    let out = split(&run(without_artefacts(config(20, 2, 6))));
    let mut last: HashMap<&str, i64> = HashMap::new();
    for (_, e) in &out.agent_events {
        let t = e.event_timestamp.millis();
        let prev = last.insert(&e.agent_arn, t).unwrap_or(i64::MIN);
        assert!(t >= prev, "{} delivered out of order", e.event_id);
    }
}
