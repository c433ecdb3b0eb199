//! The Amazon Connect API in `switchboard run` (`[connect]`, Cargo feature `connect`).
//!
//! At start-up, before any source starts: the instance's users, queues and routing
//! profiles are listed (queue names go into the engine; usernames and routing profile
//! names onto the agents' events), then every user's current state is asked with
//! GetCurrentUserData (100 agents a filter, each filter paged) and turned into agent
//! events (`switchboard_io::aws::connect::agents`) that go through the one pipeline loop
//! like any delivery, acknowledged after their commit, so the seat map is right before
//! the first event and before the API answers. A user the API does not report is not
//! logged in: one the engine holds as logged in is moved to Offline now; one it never
//! saw is added as Offline (so the seat map has the name) as of the user's last change.
//!
//! While running, agents of the instance that are not offline and sent no event for
//! `recheck_silent_after_secs` are asked again every `recheck_interval_secs` (each agent
//! at most once per that time), and what changed goes through the same channel. A
//! failing call is logged and tried again at the next round; it never stops the run.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use switchboard_engine::{AgentState, EffectiveState, Engine};
use switchboard_io::aws::connect::agents::{self, NameIndex};
use switchboard_io::aws::connect::{ApiError, ConnectApi, ConnectConfig, Names};
use switchboard_io::delivery::{Delivery, DeliverySender};
use switchboard_model::decode::Decoded;
use tokio::sync::watch;

use crate::pipeline::lock;

/// The source name of the deliveries made here.
pub const SOURCE: &str = "connect-api";

/// What start-up learnt: the names, and the events that seed the engine.
#[derive(Debug, Default)]
pub struct Startup {
    pub names: NameIndex,
    pub events: Vec<Decoded>,
    /// Users listed, agents reported by GetCurrentUserData.
    pub users: usize,
    pub reported: usize,
}

fn is_offline(agent: &AgentState) -> bool {
    agent.logged_out || agent.effective == EffectiveState::Offline
}

/// Lists the names and loads every agent's state (as `config` asks); queue names are set
/// in the engine at once, the agents' states are returned as events to apply.
pub async fn startup(
    api: &ConnectApi,
    config: &ConnectConfig,
    engine: &Arc<Mutex<Engine>>,
) -> Result<Startup, ApiError> {
    let mut names = Names::default();
    if config.list_names || config.load_agent_states {
        names.users = api.users().await?;
    }
    if config.list_names {
        names.queues = api.queues().await?;
        names.routing_profiles = api.routing_profiles().await?;
        let mut engine = lock(engine);
        for q in &names.queues {
            engine.set_queue_name(&q.arn, &q.name);
        }
    }
    let index = NameIndex::new(&names);
    let mut startup = Startup {
        users: names.users.len(),
        ..Startup::default()
    };
    let mut reported = HashSet::new();
    if config.load_agent_states {
        let ids: Vec<String> = names.users.iter().map(|u| u.id.clone()).collect();
        let data = api.current_user_data(&ids).await?;
        for d in &data {
            if let Some(arn) = d.user().and_then(|u| u.arn()) {
                reported.insert(arn.to_owned());
            }
            startup.events.extend(agents::event_of(d, &index));
        }
        startup.reported = reported.len();
    }
    let now = agents::now_ms();
    let engine = lock(engine);
    for user in &names.users {
        if reported.contains(&user.arn) {
            continue;
        }
        match engine.agent(&user.arn) {
            Some(a) if is_offline(a) || !config.load_agent_states => {}
            Some(_) => {
                startup
                    .events
                    .extend(agents::offline_event(&user.arn, Some(&user.username), now))
            }
            None => startup.events.extend(agents::offline_user(user)),
        }
    }
    startup.names = index;
    Ok(startup)
}

/// Applies `events` through the pipeline (one delivery) and waits for their commit.
pub async fn seed(deliveries: &DeliverySender, events: Vec<Decoded>) -> anyhow::Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let (delivery, stored) = Delivery::acked(SOURCE, events.into_iter().map(Ok).collect());
    deliveries
        .send(delivery)
        .await
        .ok()
        .context("the pipeline stopped before the agents' states were applied")?;
    stored
        .await
        .context("the pipeline stopped before the agents' states were committed")?
        .context("the agents' states were not stored")?;
    Ok(())
}

/// The agents of the instance that are not offline and silent since `silent_before_ms`
/// (and not asked about since then), with their usernames.
fn silent_agents(
    engine: &Engine,
    instance: &str,
    silent_before_ms: i64,
    asked: &HashMap<String, i64>,
) -> Vec<(String, Option<String>)> {
    let marker = format!("instance/{instance}/agent/");
    engine
        .agents()
        .filter(|a| a.agent_arn.contains(&marker) && !is_offline(a))
        .filter(|a| a.last_event_at.millis() <= silent_before_ms)
        .filter(|a| {
            asked
                .get(&a.agent_arn)
                .is_none_or(|&t| t <= silent_before_ms)
        })
        .map(|a| (a.agent_arn.clone(), a.username.clone()))
        .collect()
}

/// One round of re-checks: asks about the silent agents and returns their events.
pub async fn recheck_once(
    api: &ConnectApi,
    names: &NameIndex,
    engine: &Arc<Mutex<Engine>>,
    silent_after: Duration,
    asked: &mut HashMap<String, i64>,
) -> Result<Vec<Decoded>, ApiError> {
    let now = agents::now_ms();
    let silent_before = now - silent_after.as_millis() as i64;
    let silent = silent_agents(&lock(engine), api.instance(), silent_before, asked);
    if silent.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = silent
        .iter()
        .filter_map(|(arn, _)| agents::user_id(arn).map(String::from))
        .collect();
    let data = api.current_user_data(&ids).await?;
    let mut events = Vec::new();
    let mut reported = HashSet::new();
    for d in &data {
        if let Some(arn) = d.user().and_then(|u| u.arn()) {
            reported.insert(arn.to_owned());
        }
        events.extend(agents::event_of(d, names));
    }
    for (arn, username) in &silent {
        asked.insert(arn.clone(), now);
        if !reported.contains(arn) {
            events.extend(agents::offline_event(arn, username.as_deref(), now));
        }
    }
    tracing::info!(
        asked = silent.len(),
        not_logged_in = silent.len() - reported.len().min(silent.len()),
        "silent agents re-checked with the Connect API"
    );
    Ok(events)
}

/// Re-checks silent agents until shutdown; what changed goes to `deliveries`.
pub async fn recheck(
    api: ConnectApi,
    config: ConnectConfig,
    names: NameIndex,
    engine: Arc<Mutex<Engine>>,
    deliveries: DeliverySender,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    if config.recheck_silent_after_secs == 0 {
        return Ok(());
    }
    let silent_after = Duration::from_secs(config.recheck_silent_after_secs);
    let mut every = tokio::time::interval(Duration::from_secs(config.recheck_interval_secs));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    every.tick().await;
    let mut asked = HashMap::new();
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.changed() => return Ok(()),
        }
        if *shutdown.borrow() {
            return Ok(());
        }
        match recheck_once(&api, &names, &engine, silent_after, &mut asked).await {
            Ok(events) if events.is_empty() => {}
            Ok(events) => {
                let delivery = Delivery::new(SOURCE, events.into_iter().map(Ok).collect());
                if deliveries.send(delivery).await.is_err() {
                    return Ok(());
                }
            }
            Err(e) => tracing::warn!(
                error = %e,
                "cannot re-check silent agents; trying again at the next round"
            ),
        }
    }
}
