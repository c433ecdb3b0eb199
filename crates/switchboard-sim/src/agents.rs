//! What agents do on their own: log in, go Available, take breaks, lunch and training
//! as planned, go Offline and log out at the end of the shift, and publish heartbeats.
//!
//! A status chosen while the agent still has contacts becomes `NextAgentStatus`; it takes
//! effect in the same event that clears the agent's last contact, and no contact is
//! routed to the agent meanwhile (Connect's "next status").

use switchboard_model::AgentEventType;

use crate::center::Status;
use crate::demand::plan_shift;
use crate::sim::{Happening, Simulator};
use crate::state::{Key, NextStatus};

/// Heartbeats come after 120 s without any other event.
const HEARTBEAT_MS: i64 = 120_000;
/// Heartbeats go on this long after logout.
const AFTER_LOGOUT_MS: i64 = 3_600_000;

impl Simulator {
    pub(crate) fn on_login(&mut self, agent: u32, shift_start: i64, shift_end: i64, t: i64) {
        let state = &mut self.agents[agent as usize];
        if state.logged_in {
            return;
        }
        state.logged_in = true;
        state.shift_end = shift_end;
        if state.last_snapshot.is_none() {
            state.status_since = t; // first login of the run: Offline since unknown
        }
        state.status = Status::Offline;
        state.status_epoch += 1;
        state.heartbeat_until = i64::MAX;
        let start_heartbeats = !state.heartbeat_pending;
        state.heartbeat_pending = true;
        self.emit_agent_event(agent, AgentEventType::Login, t);
        self.totals.logins += 1;
        if start_heartbeats {
            self.at(t + HEARTBEAT_MS, Happening::Heartbeat(agent));
        }
        let ready = t + self.rng.between(5_000, 60_000);
        self.at(ready, Happening::Ready(agent));
        self.at(shift_end.max(ready + 60_000), Happening::ShiftEnd(agent));
        let plan = plan_shift(shift_end - shift_start, &mut self.rng);
        self.schedule_plan(agent, shift_start, plan);
    }

    pub(crate) fn on_ready(&mut self, agent: u32, t: i64) {
        let state = &self.agents[agent as usize];
        if state.logged_in && state.status == Status::Offline && state.next_status.is_none() {
            self.set_status(agent, Status::Available, t);
            self.emit_agent_event(agent, AgentEventType::StateChange, t);
            self.route_agent(agent, t);
        }
    }

    pub(crate) fn on_planned_status(
        &mut self,
        agent: u32,
        status: Status,
        duration_ms: i64,
        t: i64,
    ) {
        let state = &self.agents[agent as usize];
        if !state.logged_in || state.status != Status::Available || state.next_status.is_some() {
            return; // already away, or about to leave: skip this break
        }
        self.request_status(
            agent,
            NextStatus {
                status,
                since: t,
                duration_ms,
            },
            t,
        );
    }

    pub(crate) fn on_status_end(&mut self, agent: u32, epoch: u64, t: i64) {
        let state = &self.agents[agent as usize];
        if !state.logged_in || state.status_epoch != epoch {
            return;
        }
        if t >= state.shift_end {
            self.request_status(
                agent,
                NextStatus {
                    status: Status::Offline,
                    since: t,
                    duration_ms: 0,
                },
                t,
            );
        } else {
            self.set_status(agent, Status::Available, t);
            self.emit_agent_event(agent, AgentEventType::StateChange, t);
            self.route_agent(agent, t);
        }
    }

    pub(crate) fn on_shift_end(&mut self, agent: u32, t: i64) {
        let state = &self.agents[agent as usize];
        if !state.logged_in || matches!(state.next_status, Some(n) if n.status == Status::Offline) {
            return;
        }
        if state.status == Status::Offline {
            // Never got ready (or already offline): just leave.
            let at = t + self.rng.between(2_000, 20_000);
            self.at(at, Happening::Logout(agent));
            return;
        }
        self.request_status(
            agent,
            NextStatus {
                status: Status::Offline,
                since: t,
                duration_ms: 0,
            },
            t,
        );
    }

    pub(crate) fn on_logout(&mut self, agent: u32, t: i64) {
        let state = &mut self.agents[agent as usize];
        if !state.logged_in {
            return;
        }
        state.logged_in = false;
        state.heartbeat_until = t + AFTER_LOGOUT_MS;
        self.emit_agent_event(agent, AgentEventType::Logout, t);
    }

    /// Publishes a heartbeat if the agent has been silent for 120 s; otherwise waits
    /// until it will have been.
    pub(crate) fn on_heartbeat(&mut self, agent: u32, t: i64) {
        let state = &mut self.agents[agent as usize];
        if t >= state.heartbeat_until {
            state.heartbeat_pending = false;
            return;
        }
        let due = state.last_event + HEARTBEAT_MS;
        if t + 500 >= due {
            self.emit_agent_event(agent, AgentEventType::HeartBeat, t);
        }
        let next = self.agents[agent as usize].last_event + HEARTBEAT_MS - self.rng.between(0, 500);
        self.at(next.max(t + 1), Happening::Heartbeat(agent));
    }

    /// The agent asks for a status: applied now if the agent is free, otherwise queued
    /// as the next status.
    fn request_status(&mut self, agent: u32, next: NextStatus, t: i64) {
        if self.agents[agent as usize].is_free() {
            self.set_status(agent, next.status, t);
            self.emit_agent_event(agent, AgentEventType::StateChange, t);
            self.after_status(agent, next, t);
        } else {
            self.agents[agent as usize].next_status = Some(next);
            self.emit_agent_event(agent, AgentEventType::StateChange, t);
        }
    }

    pub(crate) fn set_status(&mut self, agent: u32, status: Status, t: i64) {
        let state = &mut self.agents[agent as usize];
        state.status = status;
        state.status_since = t;
        state.status_epoch += 1;
        state.next_status = None;
        if status == Status::Available {
            state.idle_since = t;
        }
    }

    /// What follows a status change once published.
    fn after_status(&mut self, agent: u32, next: NextStatus, t: i64) {
        match next.status {
            Status::Available => self.route_agent(agent, t),
            Status::Offline => {
                let at = t + self.rng.between(2_000, 20_000);
                self.at(at, Happening::Logout(agent));
            }
            Status::Break | Status::Lunch | Status::Training => {
                let epoch = self.agents[agent as usize].status_epoch;
                self.at(t + next.duration_ms, Happening::StatusEnd { agent, epoch });
            }
        }
    }

    /// Removes a contact from the agent's snapshot (ACW cleared, missed contact closed)
    /// and publishes the change, applying a pending next status if the agent is now free.
    pub(crate) fn remove_slot(&mut self, agent: u32, key: Key, t: i64) {
        let state = &mut self.agents[agent as usize];
        let before = state.slots.len();
        state.slots.retain(|s| s.key != key);
        if state.slots.len() == before {
            return;
        }
        let pending = if state.is_free() {
            state.idle_since = t;
            state.next_status
        } else {
            None
        };
        match pending {
            Some(next) => {
                self.set_status(agent, next.status, t);
                self.emit_agent_event(agent, AgentEventType::StateChange, t);
                self.after_status(agent, next, t);
            }
            None => {
                self.emit_agent_event(agent, AgentEventType::StateChange, t);
                self.route_agent(agent, t);
            }
        }
    }
}
