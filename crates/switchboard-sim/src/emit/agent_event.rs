//! Agent events (the Kinesis agent event stream): full current and previous snapshots.
//!
//! Conventions where Connect's documentation is silent (no public LOGIN/LOGOUT sample):
//! - `LOGIN`: `PreviousAgentSnapshot` is `null`; the current snapshot has status
//!   `Offline` (the agent picks `Available` in a separate `STATE_CHANGE` seconds later).
//! - `LOGOUT`: both snapshots have status `Offline` (the agent went Offline in a
//!   `STATE_CHANGE` just before) and no contacts.
//! - `HEART_BEAT`: previous snapshot = current snapshot = the last published one.
//! - The previous snapshot of every other event is exactly the current snapshot of the
//!   agent's previous event.

use switchboard_model::agent_event::{AgentStatus, NextAgentStatus};
use switchboard_model::{AgentEvent, AgentEventType, AgentSnapshot, Channel, Extra, Record};

use super::{ms, nulls};
use crate::center::Medium;
use crate::sim::Simulator;

/// `Version` of agent events written by the simulator (the newer of the two in samples).
const VERSION: &str = "2019-05-25";

impl Simulator {
    /// The agent's snapshot as of now.
    fn snapshot(&self, agent: u32) -> AgentSnapshot {
        let state = &self.agents[agent as usize];
        let def = &self.center.agents[agent as usize];
        let mut configuration = def.configuration.clone();
        let on_voice = state.slots.iter().any(|s| s.medium == Medium::Voice);
        let chats = state
            .slots
            .iter()
            .filter(|s| s.medium == Medium::Chat)
            .count() as i64;
        if let Some(slots) = configuration
            .routing_profile
            .as_mut()
            .and_then(|p| p.concurrency.as_mut())
        {
            for c in slots {
                let max = c.maximum_slots.unwrap_or(0);
                c.available_slots = Some(match c.channel {
                    Some(Channel::Voice) if !state.slots.is_empty() => 0,
                    Some(Channel::Chat) if on_voice => 0,
                    Some(Channel::Chat) => (max - chats).max(0),
                    _ => max,
                });
            }
        }
        let center = &self.center;
        AgentSnapshot {
            agent_status: Some(AgentStatus {
                arn: Some(center.status_arn(state.status).to_owned()),
                name: Some(state.status.name().to_owned()),
                start_timestamp: Some(ms(state.status_since)),
                kind: None,
                extra: Extra::new(),
            }),
            configuration: Some(configuration),
            contacts: Some(state.slots.iter().map(|s| s.entry.clone()).collect()),
            next_agent_status: state.next_status.map(|n| NextAgentStatus {
                arn: Some(center.status_arn(n.status).to_owned()),
                name: Some(n.status.name().to_owned()),
                enqueued_timestamp: Some(ms(n.since)),
                extra: Extra::new(),
            }),
            extra: Extra::new(),
        }
    }

    /// Publishes an agent event at `t` with the agent's current state.
    pub(crate) fn emit_agent_event(&mut self, agent: u32, kind: AgentEventType, t: i64) {
        let current = self.snapshot(agent);
        let state = &mut self.agents[agent as usize];
        let (previous, extra) = match kind {
            AgentEventType::Login => {
                state.last_snapshot = None;
                (None, nulls(&["PreviousAgentSnapshot"]))
            }
            _ => (state.last_snapshot.take(), Extra::new()),
        };
        state.last_snapshot = Some(current.clone());
        state.last_event = t;
        let event = AgentEvent {
            aws_account_id: Some(self.center.account_id.clone()),
            agent_arn: self.center.agents[agent as usize].arn.clone(),
            current: Some(current),
            event_id: self.rng.uuid(),
            event_timestamp: ms(t),
            event_type: kind,
            instance_arn: Some(self.center.instance_arn.clone()),
            previous,
            version: Some(VERSION.to_owned()),
            extra,
        };
        // Kinesis keeps one partition key's records in order: never deliver an agent's
        // event before its previous one.
        let latency = self.rng.between(150, 1200);
        let state = &mut self.agents[agent as usize];
        let at = (t + latency).max(state.delivery_floor + 1);
        state.delivery_floor = at;
        let record = Record::AgentEvent(Box::new(event));
        if self.rng.chance(self.config.artefacts.duplicate_agent_event) {
            let again = at + self.rng.between(100, 5000);
            self.outbox.push(again, record.clone());
        }
        self.outbox.push(at, record);
    }
}
