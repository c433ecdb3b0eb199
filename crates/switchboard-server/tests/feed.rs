//! The live feed over a real socket: every message matches the schema the OpenAPI
//! document gives its event type; a client that loads snapshots after `hello` and
//! applies the later frames ends up with exactly the server's state; shutdown ends open
//! streams.

mod common;

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::Center;
use serde_json::Value;
use switchboard_engine::{Changes, Engine, EngineConfig};
use switchboard_server::client::{self, Event, EventStream};
use switchboard_server::openapi::{self, validate};
use switchboard_server::{views, AppState, Hub, ServerHandle, ServerOptions};

/// Generous: only a broken server gets near it (a healthy one answers in milliseconds).
const STUCK: Duration = Duration::from_secs(60);

fn connect(center: &Center) -> EventStream {
    let stream = EventStream::connect(center.addr(), "/api/events", &[]).unwrap();
    stream.set_timeout(Some(STUCK)).unwrap();
    stream
}

/// Reads events until one with `id >= seq`, skipping clocks.
fn read_until(stream: &mut EventStream, seq: u64, out: &mut Vec<Event>) {
    loop {
        let e = stream.next_event().unwrap().expect("stream still open");
        let id = e.id;
        if e.event != "clock" {
            out.push(e);
        }
        if id.is_some_and(|id| id >= seq) {
            return;
        }
    }
}

#[test]
fn every_feed_message_matches_its_documented_schema() {
    let mut center = Center::start(ServerOptions::default(), 30);
    let doc = openapi::parsed();
    let schemas = doc["paths"]["/api/events"]["get"]["x-events"].clone();
    let mut stream = connect(&center);
    let hello = stream.next_event().unwrap().unwrap();
    assert_eq!(hello.event, "hello");
    let hello_seq = serde_json::from_str::<Value>(&hello.data).unwrap()["seq"]
        .as_u64()
        .unwrap();
    assert_eq!(hello_seq, center.hub.seq());

    let applied = center.feed_minutes(50);
    assert!(applied > 100, "{applied} records");
    let mut events = Vec::new();
    read_until(&mut stream, center.hub.seq(), &mut events);

    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut last_id = hello_seq;
    for e in std::iter::once(&hello).chain(&events) {
        let schema = &schemas[&e.event];
        assert!(schema.is_object(), "event {:?} is not documented", e.event);
        let data: Value = serde_json::from_str(&e.data).unwrap();
        if let Err(errors) = validate(&doc, schema, &data) {
            panic!("{} event does not match:\n{}", e.event, errors.join("\n"));
        }
        if let Some(id) = e.id {
            assert!(id >= last_id, "ids go forward: {id} after {last_id}");
            last_id = id;
        }
        *seen.entry(e.event.clone()).or_default() += 1;
    }
    for kind in ["agent", "queue", "transition", "contact", "metric"] {
        assert!(seen.contains_key(kind), "no {kind} event in {seen:?}");
    }
}

/// Applies one feed event to a client's copy of the seat map and queue board.
fn apply(
    event: &Event,
    agents: &mut BTreeMap<String, Value>,
    queues: &mut BTreeMap<String, Value>,
) {
    let data: Value = serde_json::from_str(&event.data).unwrap();
    match event.event.as_str() {
        "agent" => {
            agents.insert(data["agent_arn"].as_str().unwrap().to_owned(), data);
        }
        "queue" => {
            queues.insert(data["name"].as_str().unwrap().to_owned(), data);
        }
        _ => {}
    }
}

fn keyed(list: &Value, key: &str) -> BTreeMap<String, Value> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| (v[key].as_str().unwrap().to_owned(), v.clone()))
        .collect()
}

/// The wait in seconds depends on when a tile was drawn; everything else must agree.
fn without_wait(mut queues: BTreeMap<String, Value>) -> BTreeMap<String, Value> {
    for q in queues.values_mut() {
        q.as_object_mut().unwrap().remove("oldest_wait_s");
    }
    queues
}

#[test]
fn snapshot_plus_later_frames_equals_the_live_state() {
    let mut center = Center::start(ServerOptions::default(), 30);
    let mut stream = connect(&center);
    assert_eq!(stream.next_event().unwrap().unwrap().event, "hello");

    // Frames published before the snapshot are in it; the client must skip them.
    center.feed_minutes(45);
    let snapshot = center.get_json("/api/agents");
    let board = center.get_json("/api/queues");
    let seq = snapshot["seq"].as_u64().unwrap();
    assert_eq!(board["seq"].as_u64(), Some(seq));
    let mut agents = keyed(&snapshot["agents"], "agent_arn");
    let mut queues = keyed(&board["queues"], "name");

    center.feed_minutes(75);
    let end = center.hub.seq();
    assert!(end > seq);
    let mut events = Vec::new();
    read_until(&mut stream, end, &mut events);
    let mut skipped = 0;
    for e in &events {
        match e.id {
            Some(id) if id <= seq => skipped += 1,
            _ => apply(e, &mut agents, &mut queues),
        }
    }
    assert!(
        skipped > 0,
        "frames from before the snapshot arrived and were skipped"
    );

    let live_agents = keyed(&center.get_json("/api/agents")["agents"], "agent_arn");
    let live_queues = keyed(&center.get_json("/api/queues")["queues"], "name");
    assert_eq!(agents, live_agents);
    assert_eq!(without_wait(queues), without_wait(live_queues));
}

#[test]
fn the_hubs_running_seat_counts_equal_a_recount() {
    let center = Center::start(ServerOptions::default(), 120);
    let engine = center.engine.lock().unwrap();
    let recount = views::seat_counts(&engine);
    assert!(recount.values().any(|c| c.on_contact > 0), "{recount:?}");
    assert_eq!(center.hub.seat_counts(), recount);
}

#[test]
fn publishing_counts_even_without_listeners() {
    let hub = Hub::default();
    let engine = Engine::new(EngineConfig::default());
    assert_eq!(hub.publish(&engine, &Changes::default()), None);
    let mut changes = Changes::default();
    changes.dirty_agents.insert("arn:nobody".into());
    assert_eq!(hub.publish(&engine, &changes), Some(1));
    assert_eq!(hub.publish(&engine, &changes), Some(2));
    assert_eq!(hub.seq(), 2);
}

#[test]
fn shutdown_ends_open_feeds() {
    let engine = Arc::new(Mutex::new(Engine::new(EngineConfig::default())));
    let state = AppState::new(engine, Hub::default(), ServerOptions::default());
    let server = ServerHandle::start("127.0.0.1:0".parse().unwrap(), state).unwrap();
    let addr = server.local_addr();
    let mut stream = EventStream::connect(addr, "/api/events", &[]).unwrap();
    stream.set_timeout(Some(STUCK)).unwrap();
    assert_eq!(stream.next_event().unwrap().unwrap().event, "hello");

    let (done, finished) = mpsc::channel();
    let stopper = thread::spawn(move || {
        let result = server.shutdown();
        let _ = done.send(());
        result
    });
    // Clocks may still come, then the end of the stream.
    while let Some(e) = stream.next_event().unwrap() {
        assert_eq!(e.event, "clock");
    }
    finished
        .recv_timeout(STUCK)
        .expect("shutdown finished while a feed was open");
    stopper.join().unwrap().unwrap();
    assert!(
        client::get(addr, "/healthz", &[]).is_err(),
        "nothing listens any more"
    );
}
