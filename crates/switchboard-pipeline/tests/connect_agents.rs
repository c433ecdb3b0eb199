//! `[connect]` in the pipeline, against the FAKE Connect API of switchboard-io's tests
//! (`tests/support/connect_fake`: no server for these calls runs here; its shapes are
//! checked against botocore's Connect model there): the start-up load seeds the engine
//! with every agent's state and the instance's names, and a silent agent is re-checked
//! and moved to Offline when Connect no longer reports it logged in.

#[path = "../../switchboard-io/tests/support/connect_fake/mod.rs"]
mod connect_fake;

use std::collections::HashMap;
use std::time::Duration;

use connect_fake::{Agent, AgentContact, ConnectFake, Op, Queue, RoutingProfile};
use switchboard_engine::{EffectiveState, EngineConfig};
use switchboard_io::aws::connect::{ConnectApi, ConnectConfig};
use switchboard_pipeline::connect;
use switchboard_pipeline::{lock, Pipeline};
use switchboard_store::SqliteStore;

const INSTANCE: &str = "inst-pipe-1";

fn agent_arn(user: &str) -> String {
    format!("{}/agent/{user}", connect_fake::instance_arn(INSTANCE))
}

/// 230 users: the first 120 Available (every 20th on a call), the others not logged in.
fn seed(fake: &ConnectFake) {
    fake.with(|s| {
        let i = s.add_instance(INSTANCE);
        i.queues.push(Queue::standard("q-sales", "Sales"));
        i.routing_profiles
            .push(RoutingProfile::new("rp-1", "Sales agents", &["q-sales"]));
        for n in 0..230 {
            let status = if n < 120 { "Available" } else { "Offline" };
            let mut a = Agent::new(
                &format!("u-{n:03}"),
                &format!("agent{n:03}"),
                "rp-1",
                status,
            );
            if n % 20 == 0 && n < 120 {
                a.contacts.push(AgentContact::voice(
                    &format!("c-{n}"),
                    "q-sales",
                    1_767_229_200.0,
                ));
            }
            i.agents.push(a);
        }
        s.max_page = Some(40);
    });
}

fn config(fake: &ConnectFake) -> ConnectConfig {
    let mut c = ConnectConfig::new(INSTANCE);
    c.aws = fake.aws();
    c.api_rate.per_second = 1000.0;
    c.api_rate.burst = 1000;
    c
}

fn open_pipeline(dir: &tempfile::TempDir) -> Pipeline {
    let store = SqliteStore::open(&dir.path().join("sb.db")).unwrap();
    Pipeline::open(Box::new(store), EngineConfig::default()).unwrap()
}

/// The fake seeded, and a pipeline on a fresh store seeded from it through
/// `connect::startup`, as `run` seeds its engine.
async fn seeded(
    fake: &ConnectFake,
    dir: &tempfile::TempDir,
) -> (Pipeline, ConnectApi, connect::Startup) {
    seed(fake);
    let mut pipeline = open_pipeline(dir);
    let c = config(fake);
    let api = ConnectApi::new(&c).await;
    let startup = connect::startup(&api, &c, &pipeline.engine())
        .await
        .unwrap();
    for event in &startup.events {
        pipeline.apply_decoded(event).unwrap();
    }
    (pipeline, api, startup)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_seeds_every_agent_and_the_names() {
    let fake = ConnectFake::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (mut pipeline, _, startup) = seeded(&fake, &dir).await;
    assert_eq!((startup.users, startup.reported), (230, 120));
    assert_eq!(startup.events.len(), 230, "one event per user");
    // GetCurrentUserData: filters of 100, 100, 30 agents; 100, 20, 0 logged in; pages of 40.
    assert_eq!(fake.count(Op::GetCurrentUserData), 3 + 1 + 1);
    pipeline.commit().unwrap();

    let engine = pipeline.engine();
    let engine = lock(&engine);
    assert_eq!(engine.agents().count(), 230);
    let alice = engine.agent(&agent_arn("u-001")).unwrap();
    assert_eq!(alice.effective, EffectiveState::Available);
    assert_eq!(alice.username.as_deref(), Some("agent001"));
    assert_eq!(alice.routing_profile.as_deref(), Some("Sales agents"));
    let on_call = engine.agent(&agent_arn("u-020")).unwrap();
    assert_eq!(on_call.effective, EffectiveState::OnContact);
    assert_eq!(on_call.contacts[0].queue.as_deref(), Some("Sales"));
    let offline = engine.agent(&agent_arn("u-200")).unwrap();
    assert_eq!(offline.effective, EffectiveState::Offline);
    assert_eq!(offline.username.as_deref(), Some("agent200"));
    let sales_arn = format!("{}/queue/q-sales", connect_fake::instance_arn(INSTANCE));
    assert_eq!(
        engine
            .meta()
            .queue_names
            .get(&sales_arn)
            .map(String::as_str),
        Some("Sales")
    );
    drop(engine);

    // Restarted: the store holds them.
    drop(pipeline);
    let again = open_pipeline(&dir);
    let engine = again.engine();
    assert_eq!(lock(&engine).agents().count(), 230);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_agent_who_logged_out_is_moved_to_offline_and_asked_once_per_period() {
    let fake = ConnectFake::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (mut pipeline, api, startup) = seeded(&fake, &dir).await;
    // u-005 closed the softphone: Connect no longer reports the agent (no event came).
    fake.with(|s| s.instance_mut(INSTANCE).agent_mut("u-005").status = "Offline".into());
    let before = fake.count(Op::GetCurrentUserData);

    let mut asked = HashMap::new();
    let silent_after = Duration::from_secs(3600);
    let events = connect::recheck_once(
        &api,
        &startup.names,
        &pipeline.engine(),
        silent_after,
        &mut asked,
    )
    .await
    .unwrap();
    // The 120 logged-in agents are silent since their status began (2026-01-01).
    assert_eq!(asked.len(), 120);
    // Filters of 100 and 20 agents, of them 99 and 20 logged in, in pages of 40.
    assert_eq!(fake.count(Op::GetCurrentUserData) - before, 3 + 1);
    let mut changed = 0;
    for event in &events {
        if pipeline.apply_decoded(event).ok() == Some(switchboard_engine::Applied::Applied) {
            changed += 1;
        }
    }
    assert_eq!(changed, 1, "only the agent who logged out changes");
    let engine = pipeline.engine();
    let agent = lock(&engine).agent(&agent_arn("u-005")).cloned().unwrap();
    assert_eq!(agent.effective, EffectiveState::Offline);
    assert_eq!(
        lock(&engine).agent(&agent_arn("u-006")).unwrap().effective,
        EffectiveState::Available
    );

    // Asked once per period: the next round asks nobody.
    let events = connect::recheck_once(&api, &startup.names, &engine, silent_after, &mut asked)
        .await
        .unwrap();
    assert!(events.is_empty());
    assert_eq!(fake.count(Op::GetCurrentUserData) - before, 3 + 1);
}
