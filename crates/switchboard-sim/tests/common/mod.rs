//! Helpers shared by the simulator's integration tests: small runs, records re-parsed
//! from their JSON, and per-agent / per-contact views of the output.

#![allow(dead_code)] // each test file uses a different part

use std::collections::{BTreeMap, HashSet};

use switchboard_model::{AgentEvent, ContactEvent, ContactRecord, Record, RecordKind, Timestamp};
use switchboard_sim::{ArtefactRates, SimConfig, Simulator};

/// 2026-01-05T08:00:00Z: the morning ramp-up, so short runs are busy.
pub const MORNING: i64 = 1_767_571_200_000 + 8 * 3_600_000;

/// A small, busy configuration: `agents` agents for `hours` hours from 08:00 UTC.
pub fn config(agents: u32, hours: u64, seed: u64) -> SimConfig {
    let mut c = SimConfig::new(agents);
    c.start = Timestamp::from_millis(MORNING);
    c.duration_secs = hours * 3600;
    c.seed = seed;
    c
}

/// One delivered record: delivery time, its JSON, and the record parsed back from it.
pub struct Delivered {
    pub at: i64,
    pub json: Vec<u8>,
    pub record: Record,
}

/// Runs the simulation to the end; every record is serialized and parsed back with
/// `Record::from_json_slice`, and must come back as the kind it was emitted as.
pub fn run(config: SimConfig) -> Vec<Delivered> {
    let sim = Simulator::new(config).expect("valid config");
    sim.map(|e| {
        let json = serde_json::to_vec(&e.record).expect("serializes");
        let parsed = Record::from_json_slice(&json)
            .expect("parses")
            .expect("is a Connect record");
        assert_eq!(
            parsed.kind(),
            e.kind(),
            "{}",
            String::from_utf8_lossy(&json)
        );
        Delivered {
            at: e.at.millis(),
            json,
            record: parsed,
        }
    })
    .collect()
}

/// The output of a run split by stream (with duplicates, in delivery order).
pub struct Output {
    pub agent_events: Vec<(i64, AgentEvent)>,
    pub contact_events: Vec<(i64, ContactEvent)>,
    pub records: Vec<(i64, ContactRecord)>,
}

pub fn split(delivered: &[Delivered]) -> Output {
    let mut out = Output {
        agent_events: Vec::new(),
        contact_events: Vec::new(),
        records: Vec::new(),
    };
    for d in delivered {
        match &d.record {
            Record::AgentEvent(e) => out.agent_events.push((d.at, (**e).clone())),
            Record::ContactEvent(e) => out.contact_events.push((d.at, (**e).clone())),
            Record::ContactRecord(r) => out.records.push((d.at, (**r).clone())),
        }
    }
    out
}

impl Output {
    /// Agent events without duplicates (first copy kept), grouped per agent in event order.
    pub fn agent_timelines(&self) -> BTreeMap<String, Vec<AgentEvent>> {
        let mut seen = HashSet::new();
        let mut by_agent: BTreeMap<String, Vec<AgentEvent>> = BTreeMap::new();
        for (_, e) in &self.agent_events {
            if seen.insert(e.event_id.clone()) {
                by_agent
                    .entry(e.agent_arn.clone())
                    .or_default()
                    .push(e.clone());
            }
        }
        for events in by_agent.values_mut() {
            events.sort_by_key(|e| e.event_timestamp);
        }
        by_agent
    }

    /// The newest copy of each contact record.
    pub fn latest_records(&self) -> BTreeMap<String, ContactRecord> {
        let mut latest: BTreeMap<String, ContactRecord> = BTreeMap::new();
        for (_, r) in &self.records {
            let newer = latest
                .get(&r.contact_id)
                .is_none_or(|l| r.last_update_timestamp > l.last_update_timestamp);
            if newer {
                latest.insert(r.contact_id.clone(), r.clone());
            }
        }
        latest
    }

    /// Contact events without duplicates, per contact id.
    pub fn contact_events_by_contact(&self) -> BTreeMap<String, Vec<ContactEvent>> {
        let mut seen = HashSet::new();
        let mut by_contact: BTreeMap<String, Vec<ContactEvent>> = BTreeMap::new();
        for (_, e) in &self.contact_events {
            if seen.insert(e.id.clone().expect("envelope id")) {
                by_contact
                    .entry(e.detail.contact_id.clone())
                    .or_default()
                    .push(e.clone());
            }
        }
        by_contact
    }
}

/// No delivery artefacts, for exact accounting.
pub fn without_artefacts(mut c: SimConfig) -> SimConfig {
    c.artefacts = ArtefactRates::none();
    c
}

pub fn kinds(delivered: &[Delivered]) -> [usize; 3] {
    let mut n = [0; 3];
    for d in delivered {
        n[match d.record.kind() {
            RecordKind::AgentEvent => 0,
            RecordKind::ContactEvent => 1,
            RecordKind::ContactRecord => 2,
        }] += 1;
    }
    n
}
