//! `Engine::adopt_contact_record`: a worker that takes over a Kinesis shard of contact
//! records learns from the shared store what another worker already applied, so the
//! replay from the lease checkpoint does not count a record's metrics twice.

use std::path::PathBuf;

use switchboard_engine::{Applied, Engine, EngineConfig};
use switchboard_model::Record;

fn sample_record() -> Record {
    let dir = std::env::var("SWITCHBOARD_SAMPLES").map_or_else(
        |_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/connect/samples"),
        PathBuf::from,
    );
    let bytes = std::fs::read(dir.join("ctr-voice-inbound-2022.json")).unwrap();
    Record::from_json_slice(&bytes).unwrap().unwrap()
}

fn offered(engine: &mut Engine) -> i64 {
    engine
        .take_changes()
        .metric_deltas
        .values()
        .map(|c| c.offered)
        .sum()
}

#[test]
fn a_record_another_worker_applied_is_not_counted_again() {
    let record = sample_record();
    let Record::ContactRecord(ctr) = &record else {
        panic!("not a contact record")
    };
    // Worker A applies the record; its timeline is what the store then holds.
    let mut a = Engine::new(EngineConfig::default());
    assert_eq!(a.apply(&record), Applied::Applied);
    assert!(offered(&mut a) > 0);
    let stored = a.contact(&ctr.contact_id).unwrap().clone();

    // Worker B replays it: without the store's view it would count it again...
    let mut naive = Engine::new(EngineConfig::default());
    assert_eq!(naive.apply(&record), Applied::Applied);
    assert!(offered(&mut naive) > 0);

    // ...with it, the replay is a duplicate and adds nothing.
    let mut b = Engine::new(EngineConfig::default());
    b.adopt_contact_record(&stored);
    assert_eq!(b.apply(&record), Applied::Duplicate);
    assert_eq!(offered(&mut b), 0);
}

#[test]
fn an_older_stored_view_changes_nothing_and_a_newer_one_replaces_the_record_state() {
    let record = sample_record();
    let Record::ContactRecord(ctr) = &record else {
        panic!("not a contact record")
    };
    let mut a = Engine::new(EngineConfig::default());
    a.apply(&record);
    let stored = a.contact(&ctr.contact_id).unwrap().clone();

    // B already holds a newer version of the record: the store's older view is ignored.
    let mut newer = (**ctr).clone();
    newer.last_update_timestamp =
        switchboard_model::Timestamp::from_millis(ctr.last_update_timestamp.millis() + 60_000);
    let newer = Record::ContactRecord(Box::new(newer));
    let mut b = Engine::new(EngineConfig::default());
    b.apply(&newer);
    let before = b.contact(&ctr.contact_id).unwrap().clone();
    b.adopt_contact_record(&stored);
    assert_eq!(b.contact(&ctr.contact_id).unwrap(), &before);

    // C saw only agent events of the contact (no record): it adopts the record state and
    // keeps its own entries.
    let mut c = Engine::new(EngineConfig::default());
    c.apply(&newer);
    let mut partial = c.contact(&ctr.contact_id).unwrap().clone();
    partial.record_updated_at = None;
    partial.record_summary = None;
    let mut d = Engine::restore(
        EngineConfig::default(),
        [],
        [partial.clone()],
        Default::default(),
    );
    d.adopt_contact_record(&stored);
    let adopted = d.contact(&ctr.contact_id).unwrap();
    assert_eq!(adopted.record_updated_at, stored.record_updated_at);
    assert_eq!(adopted.record_summary, stored.record_summary);
    assert_eq!(adopted.entries, partial.entries);
    // The newer record then replaces the adopted one's metrics (minus, then plus).
    assert_eq!(d.apply(&newer), Applied::Applied);
}
