//! The life of a contact, step by step:
//!
//! inbound: arrival (`INITIATED`, `CONNECTED_TO_SYSTEM`) → contact flow, where attributes
//! may be set (`CONTACT_DATA_UPDATED`) or the customer may finish unqueued → `QUEUED` →
//! abandoned when patience runs out, or offered to an agent (`CONNECTING`) → missed
//! (voice, `MISSED`) or rejected (chat, `REJECTED`) and back in the queue, or accepted
//! (`CONNECTED`, `CONNECTED_TO_AGENT`) → talk with holds (`CONNECTED_ONHOLD`) → end
//! (`ENDED`, `DISCONNECTED`), possibly transferring the customer to another queue as a
//! new contact → after-contact work → cleared (contact leaves the snapshot, `COMPLETED`)
//! → contact record.
//!
//! outbound: an idle Sales agent dials (`INITIATED`, agent `CONNECTING`, no queue info) →
//! the customer answers (`CONNECTED_TO_SYSTEM`, `CONNECTED_TO_AGENT`) → as above.

use switchboard_model::agent_event::AgentContact;
use switchboard_model::{
    AgentEventType, ContactEventType, ContactState, DisconnectReason, InitiationMethod,
};

use crate::center::Medium;
use crate::emit::{ms, nulls};
use crate::sim::{Happening, Simulator};
use crate::state::{Contact, Key, Phase, Slot};

/// Share of voice offers the agent fails to answer.
const MISS_P: f64 = 0.015;
/// Share of chat offers the agent rejects.
const REJECT_P: f64 = 0.01;
/// How long a voice contact rings before it counts as missed.
const RING_TIMEOUT_MS: i64 = 20_000;

const INTENTS: &[&str] = &[
    "new_order",
    "order_status",
    "technical_issue",
    "billing_question",
    "cancel",
    "upgrade",
];
const TIERS: &[&str] = &["standard", "standard", "standard", "gold", "platinum"];

impl Simulator {
    fn customer_number(&mut self) -> String {
        let area = self.rng.between(201, 989);
        let exchange = self.rng.between(200, 999);
        format!("+1{area}{exchange}{}", self.rng.digits(4))
    }

    fn pick(&mut self, options: &[&'static str]) -> &'static str {
        options[self.rng.index(options.len())]
    }

    pub(crate) fn on_arrival(&mut self, t: i64) {
        if let Some(next) = self
            .demand
            .next_inbound(t, self.config.end_millis(), &mut self.rng)
        {
            self.at(next, Happening::Arrival);
        }
        let queue = self.rng.weighted(&self.demand.queue_shares);
        let q = &self.center.queues[queue];
        let (medium, handling, number) = (q.medium, q.handling, q.phone_number.clone());
        let method = if medium == Medium::Voice {
            InitiationMethod::Inbound
        } else {
            InitiationMethod::Api
        };
        let mut c = Contact::new(self.rng.uuid(), medium, method, queue, t);
        c.connected_to_system = Some(t);
        let language = self.pick(&["en-US", "en-US", "en-US", "es-US"]);
        c.attributes
            .insert("language".to_owned(), language.to_owned());
        if medium == Medium::Voice {
            c.customer_number = Some(self.customer_number());
            c.system_number = Some(number);
            c.attributes
                .insert("greetingPlayed".to_owned(), "true".to_owned());
        } else {
            let source = self.pick(&["website", "website", "mobile-app"]);
            c.attributes
                .insert("chatSource".to_owned(), source.to_owned());
        }
        let key = self.new_key();
        self.totals.initiated += 1;
        self.contacts.insert(key, c);
        self.emit_contact_event_for(key, ContactEventType::Initiated, t);
        self.emit_contact_event_for(key, ContactEventType::ConnectedToSystem, t);

        let flow = self.rng.duration_ms(handling.ivr_s, 0.5, 2.0, 180.0);
        if medium == Medium::Voice && self.rng.chance(0.3) {
            self.at(t + flow / 2, Happening::FlowDataUpdate(key));
        }
        if self.rng.chance(handling.self_service_p) {
            self.at(t + flow, Happening::FlowEnd(key));
        } else {
            self.at(t + flow, Happening::Enqueue(key));
        }
    }

    pub(crate) fn on_flow_data_update(&mut self, key: Key, t: i64) {
        let intent = self.pick(INTENTS);
        let tier = self.pick(TIERS);
        let account = self.rng.digits(8);
        let Some(c) = self.contacts.get_mut(&key) else {
            return;
        };
        c.attributes.insert("intent".to_owned(), intent.to_owned());
        c.attributes
            .insert("customerTier".to_owned(), tier.to_owned());
        c.attributes.insert("accountNumber".to_owned(), account);
        self.emit_contact_event_for(key, ContactEventType::ContactDataUpdated, t);
    }

    /// The customer finished in the contact flow (self service, or hung up).
    pub(crate) fn on_flow_end(&mut self, key: Key, t: i64) {
        let reason = if self.rng.chance(0.5) {
            DisconnectReason::CustomerDisconnect
        } else {
            DisconnectReason::ContactFlowDisconnect
        };
        self.disconnect_unhandled(key, reason, t);
    }

    /// Ends a contact no agent took: `DISCONNECTED`, then at once `COMPLETED`.
    fn disconnect_unhandled(&mut self, key: Key, reason: DisconnectReason, t: i64) {
        let Some(c) = self.contacts.get_mut(&key) else {
            return;
        };
        c.disconnected = Some(t);
        c.disconnect_reason = Some(reason);
        self.emit_contact_event_for(key, ContactEventType::Disconnected, t);
        self.emit_contact_event_for(key, ContactEventType::Completed, t);
        self.finish_contact(key);
    }

    pub(crate) fn on_enqueue(&mut self, key: Key, t: i64) {
        let patience = {
            let Some(c) = self.contacts.get(&key) else {
                return;
            };
            self.center.queues[c.queue].handling.patience_s
        };
        let deadline = t + (self.rng.exp(patience) * 1000.0).max(5_000.0) as i64;
        let Some(c) = self.contacts.get_mut(&key) else {
            return;
        };
        c.enqueued = Some(t);
        c.phase = Phase::Waiting;
        c.patience_deadline = deadline;
        let queue = c.queue;
        self.waiting[queue].push_back(key);
        self.totals.queued += 1;
        self.emit_contact_event_for(key, ContactEventType::Queued, t);
        self.at(deadline, Happening::Patience(key));
        self.route_contact(key, t);
    }

    pub(crate) fn on_patience(&mut self, key: Key, t: i64) {
        if self
            .contacts
            .get(&key)
            .is_some_and(|c| c.phase == Phase::Waiting)
        {
            self.abandon(key, t);
        }
    }

    fn abandon(&mut self, key: Key, t: i64) {
        let Some(c) = self.contacts.get_mut(&key) else {
            return;
        };
        c.dequeued = Some(t);
        let queue = c.queue;
        self.waiting[queue].retain(|&k| k != key);
        self.totals.abandoned += 1;
        self.disconnect_unhandled(key, DisconnectReason::CustomerDisconnect, t);
    }

    /// The snapshot entry of a contact being offered (or dialed).
    fn agent_contact(&self, c: &Contact, t: i64) -> AgentContact {
        let mut extra = nulls(&["ConnectedToAgentTimestamp"]);
        if c.initial_id.is_none() {
            extra.insert("InitialContactId".to_owned(), serde_json::Value::Null);
        }
        if c.enqueued.is_none() {
            extra.insert("QueueTimestamp".to_owned(), serde_json::Value::Null);
        }
        AgentContact {
            channel: Some(c.medium.channel()),
            connected_to_agent_timestamp: None,
            contact_id: c.id.clone(),
            initial_contact_id: c.initial_id.clone(),
            initiation_method: Some(c.method.clone()),
            queue: Some(self.center.queues[c.queue].contact_ref.clone()),
            queue_timestamp: c.enqueued.map(ms),
            state: Some(ContactState::Connecting),
            state_start_timestamp: Some(ms(t)),
            extra,
        }
    }

    /// Adds the contact to the agent's snapshot in `CONNECTING` and publishes it.
    fn present(&mut self, key: Key, agent: u32, t: i64) {
        let Some(c) = self.contacts.get_mut(&key) else {
            return;
        };
        c.phase = Phase::Offered;
        c.agent = Some(agent);
        c.offers += 1;
        let medium = c.medium;
        let entry = self.agent_contact(&self.contacts[&key], t);
        self.agents[agent as usize]
            .slots
            .push(Slot { key, medium, entry });
        self.emit_agent_event(agent, AgentEventType::StateChange, t);
    }

    /// Changes the state of a contact in its agent's snapshot and publishes it.
    fn set_slot_state(&mut self, agent: u32, key: Key, state: ContactState, t: i64) {
        if let Some(slot) = self.agents[agent as usize]
            .slots
            .iter_mut()
            .find(|s| s.key == key)
        {
            if state == ContactState::Connected && slot.entry.connected_to_agent_timestamp.is_none()
            {
                slot.entry.connected_to_agent_timestamp = Some(ms(t));
                slot.entry.extra.remove("ConnectedToAgentTimestamp");
            }
            slot.entry.state = Some(state);
            slot.entry.state_start_timestamp = Some(ms(t));
        }
        self.emit_agent_event(agent, AgentEventType::StateChange, t);
    }

    pub(crate) fn on_offer(&mut self, key: Key, agent: u32, t: i64) {
        self.agents[agent as usize].reserved.retain(|r| r.0 != key);
        let Some(c) = self.contacts.get(&key) else {
            return;
        };
        if c.phase != Phase::Routed {
            return;
        }
        let medium = c.medium;
        self.present(key, agent, t);
        let (refuse, refuse_at, accept_at) = match medium {
            Medium::Voice => (
                self.rng.chance(MISS_P),
                t + RING_TIMEOUT_MS,
                t + self.rng.duration_ms(5.0, 0.5, 1.0, 18.0),
            ),
            Medium::Chat => (
                self.rng.chance(REJECT_P),
                t + self.rng.between(2_000, 8_000),
                t + self.rng.between(800, 5_000),
            ),
        };
        if refuse {
            self.at(refuse_at, Happening::Miss(key));
        } else {
            self.at(accept_at, Happening::Accept(key));
        }
    }

    /// The agent did not answer (voice) or rejected (chat): the contact goes back to its
    /// queue; the agent closes the missed contact a little later.
    pub(crate) fn on_miss(&mut self, key: Key, t: i64) {
        let Some(c) = self.contacts.get_mut(&key) else {
            return;
        };
        let Some(agent) = c.agent.take() else { return };
        let medium = c.medium;
        let deadline = c.patience_deadline;
        let (state, close) = match medium {
            Medium::Voice => (ContactState::Missed, self.rng.between(3_000, 40_000)),
            Medium::Chat => (ContactState::Rejected, self.rng.between(1_000, 4_000)),
        };
        self.totals.missed += 1;
        self.set_slot_state(agent, key, state, t);
        self.at(t + close, Happening::ClearSlot { key, agent });
        self.requeue(key);
        if t >= deadline {
            self.abandon(key, t);
        } else {
            self.route_contact(key, t);
        }
    }

    pub(crate) fn on_clear_slot(&mut self, key: Key, agent: u32, t: i64) {
        self.remove_slot(agent, key, t);
    }

    pub(crate) fn on_accept(&mut self, key: Key, t: i64) {
        self.connect(key, t, false);
    }

    pub(crate) fn on_outbound_answer(&mut self, key: Key, t: i64) {
        self.connect(key, t, true);
    }

    /// The conversation starts: `CONNECTED` for the agent, `CONNECTED_TO_AGENT` for the
    /// contact, and the plan of talk and holds is drawn.
    fn connect(&mut self, key: Key, t: i64, outbound: bool) {
        let Some(c) = self.contacts.get_mut(&key) else {
            return;
        };
        let Some(agent) = c.agent else { return };
        if c.phase != Phase::Offered {
            return;
        }
        c.phase = Phase::Connected;
        c.connected = Some(t);
        if outbound {
            c.connected_to_system = Some(t);
        } else {
            c.dequeued = Some(t);
        }
        let (queue, medium) = (c.queue, c.medium);
        self.totals.handled += 1;
        self.set_slot_state(agent, key, ContactState::Connected, t);
        if outbound {
            self.emit_contact_event_for(key, ContactEventType::ConnectedToSystem, t);
        }
        self.emit_contact_event_for(key, ContactEventType::ConnectedToAgent, t);

        let h = self.center.queues[queue].handling;
        let (min_talk, max_talk) = if medium == Medium::Voice {
            (20.0, 3600.0)
        } else {
            (60.0, 5400.0)
        };
        let talk = self
            .rng
            .duration_ms(h.talk_s, h.talk_sigma, min_talk, max_talk);
        let mut holds = 0;
        if medium == Medium::Voice && self.rng.chance(h.hold_p) {
            holds = 1;
            while holds < 4 && self.rng.chance(0.3) {
                holds += 1;
            }
        }
        let weights: Vec<f64> = (0..=holds).map(|_| 0.2 + self.rng.unit()).collect();
        let total: f64 = weights.iter().sum();
        let mut plan = Vec::with_capacity(2 * holds + 1);
        for (i, w) in weights.iter().enumerate() {
            if i > 0 {
                plan.push(self.rng.duration_ms(h.hold_s, 0.7, 5.0, 600.0));
            }
            plan.push(((talk as f64 * w / total) as i64).max(1_000));
        }
        let transfer = self.rng.chance(h.transfer_p);
        let transfer_to = if transfer {
            let targets: Vec<usize> = self
                .center
                .inbound_queues()
                .filter(|&q| q != queue && self.center.queues[q].medium == Medium::Voice)
                .collect();
            (!targets.is_empty()).then(|| targets[self.rng.index(targets.len())])
        } else {
            None
        };
        let Some(c) = self.contacts.get_mut(&key) else {
            return;
        };
        let first = plan[0];
        c.plan = plan;
        c.step = 0;
        c.transfer_to = transfer_to;
        self.at(t + first, Happening::Step(key));
    }

    /// Next step of the conversation: hold, resume, or the end.
    pub(crate) fn on_step(&mut self, key: Key, t: i64) {
        let Some(c) = self.contacts.get_mut(&key) else {
            return;
        };
        let Some(agent) = c.agent else { return };
        c.step += 1;
        if c.step >= c.plan.len() {
            self.end_conversation(key, agent, t);
            return;
        }
        let next = t + c.plan[c.step];
        let state = if c.step % 2 == 1 {
            c.holds += 1;
            c.hold_started = Some(t);
            ContactState::ConnectedOnHold
        } else {
            let span = t - c.hold_started.take().unwrap_or(t);
            c.hold_total_ms += span;
            c.hold_longest_ms = c.hold_longest_ms.max(span);
            ContactState::Connected
        };
        self.set_slot_state(agent, key, state, t);
        self.at(next, Happening::Step(key));
    }

    fn end_conversation(&mut self, key: Key, agent: u32, t: i64) {
        let Some(c) = self.contacts.get(&key) else {
            return;
        };
        let (queue, medium, transfer_to) = (c.queue, c.medium, c.transfer_to);
        let reason = if transfer_to.is_some() {
            DisconnectReason::AgentDisconnect
        } else {
            let x = self.rng.unit();
            match medium {
                Medium::Voice if x < 0.62 => DisconnectReason::CustomerDisconnect,
                Medium::Voice if x < 0.98 => DisconnectReason::AgentDisconnect,
                Medium::Voice => DisconnectReason::TelecomProblem,
                Medium::Chat if x < 0.55 => DisconnectReason::CustomerDisconnect,
                Medium::Chat => DisconnectReason::AgentDisconnect,
            }
        };
        let Some(c) = self.contacts.get_mut(&key) else {
            return;
        };
        c.phase = Phase::AfterWork;
        c.disconnected = Some(t);
        c.disconnect_reason = Some(reason);
        self.set_slot_state(agent, key, ContactState::Ended, t);
        self.emit_contact_event_for(key, ContactEventType::Disconnected, t);
        let acw_s = self.center.queues[queue].handling.acw_s;
        let acw = self.rng.duration_ms(acw_s, 0.7, 2.0, 900.0);
        self.at(t + acw, Happening::AcwEnd(key));
        if let Some(target) = transfer_to {
            self.transfer(key, target, t);
        }
    }

    /// A new contact for the same customer in another queue, chained to this one.
    fn transfer(&mut self, from: Key, target: usize, t: i64) {
        let id = self.rng.uuid();
        let reason = self.pick(&["specialist_needed", "billing_dispute", "escalation"]);
        let Some(prev) = self.contacts.get_mut(&from) else {
            return;
        };
        prev.next_id = Some(id.clone());
        let mut c = Contact::new(id, Medium::Voice, InitiationMethod::Transfer, target, t);
        c.initial_id = Some(prev.initial_id.clone().unwrap_or_else(|| prev.id.clone()));
        c.previous_id = Some(prev.id.clone());
        c.customer_number = prev.customer_number.clone();
        c.system_number = prev.system_number.clone();
        c.connected_to_system = Some(t);
        c.attributes = prev.attributes.clone();
        c.attributes
            .insert("transferReason".to_owned(), reason.to_owned());
        let key = self.new_key();
        self.contacts.insert(key, c);
        self.totals.initiated += 1;
        self.totals.transferred += 1;
        self.emit_contact_event_for(key, ContactEventType::Initiated, t);
        self.emit_contact_event_for(key, ContactEventType::ConnectedToSystem, t);
        let enqueue = t + self.rng.between(1_000, 4_000);
        self.at(enqueue, Happening::Enqueue(key));
    }

    pub(crate) fn on_acw_end(&mut self, key: Key, t: i64) {
        let Some(c) = self.contacts.get_mut(&key) else {
            return;
        };
        let Some(agent) = c.agent else { return };
        c.acw_end = Some(t);
        self.remove_slot(agent, key, t);
        self.emit_contact_event_for(key, ContactEventType::Completed, t);
        self.finish_contact(key);
    }

    /// An idle agent of an outbound-calling profile dials a customer.
    pub(crate) fn on_outbound_attempt(&mut self, t: i64) {
        if let Some(next) = self
            .demand
            .next_outbound(t, self.config.end_millis(), &mut self.rng)
        {
            self.at(next, Happening::OutboundAttempt);
        }
        let caller = (0..self.center.agents.len() as u32)
            .filter(|&a| self.center.profiles[self.center.agents[a as usize].profile].outbound)
            .filter(|&a| {
                self.agents[a as usize].idle_since <= t - 30_000 && self.can_take(a, Medium::Voice)
            })
            .min_by_key(|&a| (self.agents[a as usize].idle_since, a));
        let Some(agent) = caller else { return };
        let queue = self.center.outbound_queue;
        let mut c = Contact::new(
            self.rng.uuid(),
            Medium::Voice,
            InitiationMethod::Outbound,
            queue,
            t,
        );
        c.customer_number = Some(self.customer_number());
        c.system_number = Some(self.center.queues[queue].phone_number.clone());
        let purpose = self.pick(&["follow_up", "renewal", "callback_request"]);
        c.attributes
            .insert("outboundPurpose".to_owned(), purpose.to_owned());
        c.phase = Phase::Routed;
        let key = self.new_key();
        self.contacts.insert(key, c);
        self.totals.initiated += 1;
        self.totals.outbound += 1;
        self.emit_contact_event_for(key, ContactEventType::Initiated, t);
        self.present(key, agent, t);
        let answer = t + self.rng.between(4_000, 25_000);
        self.at(answer, Happening::OutboundAnswer(key));
    }
}
