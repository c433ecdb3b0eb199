//! Routing: which waiting contact goes to which agent, as Connect routes.
//!
//! - A contact entering (or returning to) its queue goes to the routable agent serving
//!   that queue who has been idle longest; for chat, the agent with the fewest chats.
//! - An agent becoming routable takes the oldest contact of its highest-priority queue
//!   that has one; a chat agent keeps taking chats until its slots are full.
//! - Routable = logged in, `Available`, no next status pending, no missed or rejected
//!   contact left to close, and a free slot for the channel (voice needs no other
//!   contact at all; an ACW contact still holds its slot).
//!
//! A routed contact is reserved for the agent and offered (`CONNECTING`) 0.3–1.5 s later.

use crate::center::{Medium, Status};
use crate::sim::{Happening, Simulator};
use crate::state::{Key, Phase};

use switchboard_model::ContactState;

impl Simulator {
    /// Whether the agent can be offered a contact of this medium now.
    pub(crate) fn can_take(&self, agent: u32, medium: Medium) -> bool {
        let state = &self.agents[agent as usize];
        if !state.logged_in || state.status != Status::Available || state.next_status.is_some() {
            return false;
        }
        let blocked = state.slots.iter().any(|s| {
            matches!(
                s.entry.state,
                Some(ContactState::Missed | ContactState::Rejected)
            )
        });
        if blocked {
            return false;
        }
        let profile = &self.center.profiles[self.center.agents[agent as usize].profile];
        match medium {
            Medium::Voice => profile.voice_slots > 0 && state.is_free(),
            Medium::Chat => {
                let voice = state.slots.iter().any(|s| s.medium == Medium::Voice)
                    || state.reserved.iter().any(|r| r.1 == Medium::Voice);
                !voice && state.chats() < usize::from(profile.chat_slots)
            }
        }
    }

    /// Routes a waiting contact to the best routable agent, if any.
    pub(crate) fn route_contact(&mut self, key: Key, t: i64) {
        let Some(contact) = self.contacts.get(&key) else {
            return;
        };
        if contact.phase != Phase::Waiting {
            return;
        }
        let (queue, medium) = (contact.queue, contact.medium);
        let best = self.center.agents_by_queue[queue]
            .iter()
            .copied()
            .filter(|&a| self.can_take(a, medium))
            .min_by_key(|&a| {
                let state = &self.agents[a as usize];
                let load = if medium == Medium::Chat {
                    state.chats()
                } else {
                    0
                };
                (load, state.idle_since, a)
            });
        if let Some(agent) = best {
            self.assign(key, agent, t);
        }
    }

    /// Gives a newly routable agent the contacts it should take.
    pub(crate) fn route_agent(&mut self, agent: u32, t: i64) {
        let profile = self.center.agents[agent as usize].profile;
        loop {
            let mut best: Option<(u8, i64, Key)> = None;
            for &(queue, priority) in &self.center.profiles[profile].queues {
                let Some(&head) = self.waiting[queue].front() else {
                    continue;
                };
                if !self.can_take(agent, self.center.queues[queue].medium) {
                    continue;
                }
                let enqueued = self
                    .contacts
                    .get(&head)
                    .and_then(|c| c.enqueued)
                    .unwrap_or(i64::MAX);
                if best.is_none_or(|(p, e, _)| (priority, enqueued) < (p, e)) {
                    best = Some((priority, enqueued, head));
                }
            }
            match best {
                Some((_, _, key)) => self.assign(key, agent, t),
                None => break,
            }
        }
    }

    /// Reserves `agent` for the waiting contact and schedules the offer.
    fn assign(&mut self, key: Key, agent: u32, t: i64) {
        let Some(contact) = self.contacts.get_mut(&key) else {
            return;
        };
        contact.phase = Phase::Routed;
        let (queue, medium) = (contact.queue, contact.medium);
        self.waiting[queue].retain(|&k| k != key);
        self.agents[agent as usize].reserved.push((key, medium));
        let at = t + self.rng.between(300, 1500);
        self.at(at, Happening::Offer { key, agent });
    }

    /// Puts a contact back in its queue in arrival order (after a miss or rejection).
    pub(crate) fn requeue(&mut self, key: Key) {
        let Some(contact) = self.contacts.get_mut(&key) else {
            return;
        };
        contact.phase = Phase::Waiting;
        let enqueued = contact.enqueued;
        let queue = contact.queue;
        let contacts = &self.contacts;
        let pos = self.waiting[queue]
            .iter()
            .position(|k| contacts.get(k).and_then(|c| c.enqueued) > enqueued)
            .unwrap_or(self.waiting[queue].len());
        self.waiting[queue].insert(pos, key);
    }
}
