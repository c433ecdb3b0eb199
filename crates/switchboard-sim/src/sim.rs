//! The simulator: a discrete-event loop over `Happening`s (an arrival, an agent going
//! on break, a hold ending...) in time order, whose handlers (`agents`,
//! `contacts`, `routing`) change the state and emit records into the
//! `Outbox`. Consumers pull [`Emission`]s in delivery order, either as an iterator (to
//! write files as fast as possible) or with [`Simulator::next_batch`] up to a wall-clock
//! derived time (to replay live).
//!
//! Ordering guarantee: every delivery is at least 1 ms after the happening that made it,
//! so a record due at `t` is handed out only once every happening at or before `t` has
//! run, and the output is the same however it is pulled.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap, VecDeque};

use switchboard_model::Timestamp;

use crate::center::{Center, Status};
use crate::config::{ConfigError, SimConfig};
use crate::delivery::{Emission, Outbox};
use crate::demand::{Demand, PlannedStatus};
use crate::rng::SimRng;
use crate::state::{AgentState, Contact, Key};
use crate::summary::Totals;

/// Something that will happen at a given time.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Happening {
    /// Next inbound contact arrives.
    Arrival,
    /// Next outbound call attempt.
    OutboundAttempt,
    Login {
        agent: u32,
        shift_start: i64,
        shift_end: i64,
    },
    /// Logged-in agent sets Available.
    Ready(u32),
    PlannedStatus {
        agent: u32,
        status: Status,
        duration_ms: i64,
    },
    StatusEnd {
        agent: u32,
        epoch: u64,
    },
    ShiftEnd(u32),
    Logout(u32),
    Heartbeat(u32),
    FlowDataUpdate(Key),
    FlowEnd(Key),
    Enqueue(Key),
    Patience(Key),
    Offer {
        key: Key,
        agent: u32,
    },
    Accept(Key),
    Miss(Key),
    ClearSlot {
        key: Key,
        agent: u32,
    },
    OutboundAnswer(Key),
    /// Next step of the conversation plan (hold, resume, end).
    Step(Key),
    AcwEnd(Key),
}

struct Scheduled {
    at: i64,
    seq: u64,
    what: Happening,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// A running simulation. Create with [`Simulator::new`], then pull [`Emission`]s.
pub struct Simulator {
    pub(crate) config: SimConfig,
    pub(crate) center: Center,
    pub(crate) demand: Demand,
    pub(crate) rng: SimRng,
    pub(crate) agents: Vec<AgentState>,
    pub(crate) contacts: HashMap<Key, Contact>,
    /// Waiting contacts per queue, oldest first.
    pub(crate) waiting: Vec<VecDeque<Key>>,
    pub(crate) totals: Totals,
    pub(crate) outbox: Outbox,
    agenda: BinaryHeap<Scheduled>,
    seq: u64,
    next_key: Key,
    pub(crate) now: i64,
    end: i64,
}

impl Simulator {
    /// Validates the config and builds the center, its shifts and first arrivals.
    pub fn new(config: SimConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let mut rng = SimRng::new(config.seed);
        let center = Center::build(&config, &mut rng);
        let demand = Demand::new(&center, config.peak_occupancy, &mut rng);
        let start = config.start.millis();
        let end = config.end_millis();
        let mut sim = Simulator {
            agents: (0..center.agents.len())
                .map(|_| AgentState::new(start))
                .collect(),
            waiting: vec![VecDeque::new(); center.queues.len()],
            contacts: HashMap::new(),
            totals: Totals::default(),
            outbox: Outbox::default(),
            agenda: BinaryHeap::new(),
            seq: 0,
            next_key: 0,
            now: start,
            end,
            config,
            center,
            demand,
            rng,
        };
        sim.schedule_shifts(start, end);
        if let Some(t) = sim.demand.next_inbound(start, end, &mut sim.rng) {
            sim.at(t, Happening::Arrival);
        }
        if let Some(t) = sim.demand.next_outbound(start, end, &mut sim.rng) {
            sim.at(t, Happening::OutboundAttempt);
        }
        Ok(sim)
    }

    /// One login per agent per day whose shift overlaps the window. Agents whose shift
    /// is under way at the start log in during the first 90 seconds.
    fn schedule_shifts(&mut self, start: i64, end: i64) {
        const DAY: i64 = 86_400_000;
        let first_day = start.div_euclid(DAY) - 1;
        let last_day = (end - 1).div_euclid(DAY);
        for agent in 0..self.center.agents.len() {
            let shift = self.center.agents[agent].shift;
            for day in first_day..=last_day {
                let shift_start = day * DAY
                    + i64::from(shift.start_minute) * 60_000
                    + self.rng.between(-600_000, 600_000);
                let shift_end = shift_start
                    + i64::from(shift.length_minutes) * 60_000
                    + self.rng.between(0, 600_000);
                if shift_end <= start + 300_000 || shift_start >= end {
                    continue;
                }
                let login = shift_start.max(start + self.rng.between(0, 90_000));
                self.at(
                    login,
                    Happening::Login {
                        agent: agent as u32,
                        shift_start,
                        shift_end,
                    },
                );
            }
        }
    }

    /// Schedules a happening.
    pub(crate) fn at(&mut self, at: i64, what: Happening) {
        self.seq += 1;
        self.agenda.push(Scheduled {
            at,
            seq: self.seq,
            what,
        });
    }

    /// Schedules a planned status period (break, lunch, training) of a shift.
    pub(crate) fn schedule_plan(&mut self, agent: u32, shift_start: i64, plan: Vec<PlannedStatus>) {
        for (offset, status, duration_ms) in plan {
            let t = shift_start + offset;
            if t > self.now + 300_000 {
                self.at(
                    t,
                    Happening::PlannedStatus {
                        agent,
                        status,
                        duration_ms,
                    },
                );
            }
        }
    }

    pub(crate) fn new_key(&mut self) -> Key {
        self.next_key += 1;
        self.next_key
    }

    /// The config this simulation runs.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// Simulated time of the last processed happening (or of the last batch's `until`).
    pub fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.now)
    }

    /// End of the simulated window (exclusive).
    pub fn end(&self) -> Timestamp {
        Timestamp::from_millis(self.end)
    }

    /// True once nothing is left to happen or deliver.
    pub fn is_finished(&self) -> bool {
        self.next_happening_at().is_none() && self.outbox.next_at().is_none()
    }

    /// Every emission delivered at or before `until`, in delivery order. Simulated time
    /// advances to `until` (or to the window's end).
    pub fn next_batch(&mut self, until: Timestamp) -> Vec<Emission> {
        let until = until.millis();
        let mut out = Vec::new();
        loop {
            let delivery = self.outbox.next_at().filter(|&d| d <= until);
            let happening = self.next_happening_at().filter(|&h| h <= until);
            match (delivery, happening) {
                (Some(d), Some(h)) if d <= h => out.extend(self.outbox.pop()),
                (Some(_), None) => out.extend(self.outbox.pop()),
                (_, Some(_)) => self.step(),
                (None, None) => break,
            }
        }
        self.now = self.now.max(until.min(self.end));
        out
    }

    /// Time of the next happening inside the window.
    fn next_happening_at(&self) -> Option<i64> {
        self.agenda.peek().map(|s| s.at).filter(|&t| t < self.end)
    }

    /// Runs the next happening.
    fn step(&mut self) {
        let Some(Scheduled { at, what, .. }) = self.agenda.pop() else {
            return;
        };
        self.now = self.now.max(at);
        match what {
            Happening::Arrival => self.on_arrival(at),
            Happening::OutboundAttempt => self.on_outbound_attempt(at),
            Happening::Login {
                agent,
                shift_start,
                shift_end,
            } => self.on_login(agent, shift_start, shift_end, at),
            Happening::Ready(agent) => self.on_ready(agent, at),
            Happening::PlannedStatus {
                agent,
                status,
                duration_ms,
            } => self.on_planned_status(agent, status, duration_ms, at),
            Happening::StatusEnd { agent, epoch } => self.on_status_end(agent, epoch, at),
            Happening::ShiftEnd(agent) => self.on_shift_end(agent, at),
            Happening::Logout(agent) => self.on_logout(agent, at),
            Happening::Heartbeat(agent) => self.on_heartbeat(agent, at),
            Happening::FlowDataUpdate(key) => self.on_flow_data_update(key, at),
            Happening::FlowEnd(key) => self.on_flow_end(key, at),
            Happening::Enqueue(key) => self.on_enqueue(key, at),
            Happening::Patience(key) => self.on_patience(key, at),
            Happening::Offer { key, agent } => self.on_offer(key, agent, at),
            Happening::Accept(key) => self.on_accept(key, at),
            Happening::Miss(key) => self.on_miss(key, at),
            Happening::ClearSlot { key, agent } => self.on_clear_slot(key, agent, at),
            Happening::OutboundAnswer(key) => self.on_outbound_answer(key, at),
            Happening::Step(key) => self.on_step(key, at),
            Happening::AcwEnd(key) => self.on_acw_end(key, at),
        }
    }
}

impl Iterator for Simulator {
    type Item = Emission;

    /// The next emission in delivery order; `None` when the run is over.
    fn next(&mut self) -> Option<Emission> {
        loop {
            match (self.outbox.next_at(), self.next_happening_at()) {
                (Some(d), Some(h)) if d <= h => return self.outbox.pop(),
                (Some(_), None) => return self.outbox.pop(),
                (_, Some(_)) => self.step(),
                (None, None) => return None,
            }
        }
    }
}
