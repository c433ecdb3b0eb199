//! On simulator output, what the engine derives from agent events agrees with the
//! contact records: hold and ACW time within 1 s for at least 99.9% of handled contacts;
//! triggers fire once; metrics count every queued contact once despite re-deliveries.

use std::collections::{BTreeMap, HashMap};

use switchboard_engine::{Engine, EngineConfig, MetricCell, TriggerKind};
use switchboard_model::{ContactRecord, Record, Timestamp};
use switchboard_sim::{SimConfig, Simulator};

fn run(
    agents: u32,
    hours: u64,
    seed: u64,
) -> (
    Engine,
    HashMap<String, ContactRecord>,
    Vec<switchboard_engine::Trigger>,
    BTreeMap<switchboard_engine::MetricKey, MetricCell>,
) {
    let mut config = SimConfig::new(agents);
    // A working day: 08:00 to 08:00 + hours.
    config.start = Timestamp::from_millis(config.start.millis() + 8 * 3_600_000);
    config.duration_secs = hours * 3600;
    config.seed = seed;
    let mut engine = Engine::new(EngineConfig::default());
    let mut records: HashMap<String, ContactRecord> = HashMap::new();
    let mut triggers = Vec::new();
    let mut metrics: BTreeMap<_, MetricCell> = BTreeMap::new();
    for emission in Simulator::new(config).unwrap() {
        if let Record::ContactRecord(r) = &emission.record {
            let newer = records
                .get(&r.contact_id)
                .is_none_or(|old| r.last_update_timestamp > old.last_update_timestamp);
            if newer {
                records.insert(r.contact_id.clone(), (**r).clone());
            }
        }
        engine.apply(&emission.record);
        let changes = engine.take_changes();
        triggers.extend(changes.triggers);
        for (k, c) in changes.metric_deltas {
            metrics.entry(k).or_default().add(&c, 1);
        }
    }
    (engine, records, triggers, metrics)
}

#[test]
fn hold_and_acw_from_agent_events_match_contact_records() {
    let (engine, records, _, _) = run(40, 6, 7);
    let mut compared = 0;
    let mut matched = 0;
    let mut with_hold = 0;
    let mut mismatches = Vec::new();
    for r in records.values() {
        let Some(agent) = &r.agent else { continue };
        if agent.connected_to_agent_timestamp.is_none() {
            continue;
        }
        let timeline = engine
            .contact(&r.contact_id)
            .expect("every handled contact has a timeline");
        let hold_ctr = agent.customer_hold_duration.unwrap_or(0) * 1000;
        let acw_ctr = agent.after_contact_work_duration.unwrap_or(0) * 1000;
        let acw_engine = timeline.acw_ms.unwrap_or(0);
        compared += 1;
        if hold_ctr > 0 {
            with_hold += 1;
        }
        if (timeline.hold_ms - hold_ctr).abs() <= 1000 && (acw_engine - acw_ctr).abs() <= 1000 {
            matched += 1;
        } else if mismatches.len() < 5 {
            mismatches.push((
                r.contact_id.clone(),
                timeline.hold_ms,
                hold_ctr,
                acw_engine,
                acw_ctr,
            ));
        }
    }
    assert!(
        compared >= 300,
        "only {compared} handled contacts: the test would prove little"
    );
    assert!(with_hold >= 20, "only {with_hold} contacts with hold");
    let share = matched as f64 / compared as f64;
    assert!(share >= 0.999, "{matched}/{compared} match; first mismatches (id, hold engine, hold ctr, acw engine, acw ctr): {mismatches:?}");
}

#[test]
fn triggers_fire_once_and_metrics_count_each_contact_once() {
    let (engine, records, triggers, metrics) = run(30, 4, 11);
    let mut per_contact: HashMap<(&str, TriggerKind), usize> = HashMap::new();
    for t in &triggers {
        *per_contact
            .entry((t.contact_id.as_str(), t.kind))
            .or_default() += 1;
    }
    assert!(
        per_contact.values().all(|n| *n == 1),
        "a trigger fired twice"
    );
    let ready = triggers
        .iter()
        .filter(|t| t.kind == TriggerKind::ContactRecordReady)
        .count();
    assert_eq!(
        ready,
        records.len(),
        "one record-ready trigger per contact with a record"
    );
    assert!(
        engine.counters().duplicates > 0,
        "the simulator's duplicates reached the engine"
    );

    // Offered in the metrics = contacts whose final record was queued.
    let queued = records
        .values()
        .filter(|r| {
            r.queue
                .as_ref()
                .is_some_and(|q| q.enqueue_timestamp.is_some())
        })
        .count() as i64;
    let offered: i64 = metrics
        .iter()
        .filter(|(k, _)| k.kind == switchboard_engine::metrics::DimensionKind::Queue)
        .map(|(_, c)| c.offered)
        .sum();
    assert_eq!(offered, queued);
    let abandoned: i64 = metrics
        .values()
        .filter(|c| c.offered > 0)
        .map(|c| c.abandoned)
        .sum();
    assert!(abandoned > 0, "some contacts abandon");
}
