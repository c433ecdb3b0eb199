//! The static contact center: instance, queues, routing profiles, hierarchy groups, agent
//! statuses and agents (names, usernames, profiles, shift templates). Built once from a
//! [`SimConfig`] and never changed during a run.
//!
//! Everything that is the same in every event of an agent is prebuilt here — the
//! `Configuration` block of agent snapshots, the CTR `HierarchyGroups` and
//! `RoutingProfile`, queue references — so that emitting an event clones a template
//! instead of assembling it.

use std::collections::HashSet;

use serde_json::{json, Value};
use switchboard_model::agent_event::{
    AgentConfiguration, AgentHierarchyGroups, Concurrency, HierarchyGroup, QueueRef, RoutingProfile,
};
use switchboard_model::ctr::{ArnName, CtrHierarchyGroup, CtrHierarchyGroups};
use switchboard_model::{Channel, Extra};

use crate::config::SimConfig;
use crate::demand::{self, ShiftTemplate};
use crate::names::{FIRST_NAMES, LAST_NAMES, SITES};
use crate::rng::SimRng;

/// Channel of a simulated contact (the simulator models voice and chat).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Medium {
    Voice,
    Chat,
}

impl Medium {
    pub fn channel(self) -> Channel {
        match self {
            Medium::Voice => Channel::Voice,
            Medium::Chat => Channel::Chat,
        }
    }
}

/// How contacts of one queue behave: means (seconds) of log-normal durations and rates.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Handling {
    /// Time in the contact flow before the contact is queued.
    pub ivr_s: f64,
    /// Conversation length, holds excluded.
    pub talk_s: f64,
    pub talk_sigma: f64,
    /// Probability of at least one hold; further holds are less likely.
    pub hold_p: f64,
    pub hold_s: f64,
    pub acw_s: f64,
    /// Mean customer patience in queue (exponential).
    pub patience_s: f64,
    /// Probability that a handled contact is transferred to another queue.
    pub transfer_p: f64,
    /// Probability that an inbound contact ends in the flow without being queued.
    pub self_service_p: f64,
}

/// A queue of the instance.
#[derive(Debug, Clone)]
pub(crate) struct QueueDef {
    pub name: &'static str,
    pub arn: String,
    pub medium: Medium,
    /// False for the outbound queue, which no contact waits in.
    pub inbound: bool,
    pub handling: Handling,
    /// The number customers dial (voice queues).
    pub phone_number: String,
    /// `{ARN, Name}` as written in a snapshot's contact.
    pub contact_ref: QueueRef,
}

/// A routing profile: the queues its agents serve, by priority, and channel slots.
#[derive(Debug, Clone)]
pub(crate) struct ProfileDef {
    pub name: &'static str,
    pub arn: String,
    /// Queue indices with their priority (1 = first).
    pub queues: Vec<(usize, u8)>,
    pub voice_slots: u8,
    pub chat_slots: u8,
    /// Whether agents of this profile place outbound calls when idle.
    pub outbound: bool,
    /// Share of agents on this profile.
    pub share: f64,
}

/// Agent statuses of the instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Status {
    Available,
    Offline,
    Break,
    Lunch,
    Training,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Available,
        Status::Offline,
        Status::Break,
        Status::Lunch,
        Status::Training,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Status::Available => "Available",
            Status::Offline => "Offline",
            Status::Break => "Break",
            Status::Lunch => "Lunch",
            Status::Training => "Training",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One agent of the payroll.
#[derive(Debug, Clone)]
pub(crate) struct AgentDef {
    pub arn: String,
    pub username: String,
    pub profile: usize,
    pub shift: ShiftTemplate,
    /// The snapshot `Configuration`, with every `AvailableSlots` at its maximum.
    pub configuration: AgentConfiguration,
    /// CTR `Agent.HierarchyGroups`.
    pub ctr_groups: CtrHierarchyGroups,
    /// Contact event `agentInfo.hierarchyGroups`.
    pub event_groups: Value,
}

/// The whole static contact center.
#[derive(Debug, Clone)]
pub(crate) struct Center {
    pub account_id: String,
    pub region: String,
    pub instance_id: String,
    pub instance_arn: String,
    /// `bucket/connect/alias/CallRecordings` prefix of call recordings.
    pub recording_prefix: String,
    pub queues: Vec<QueueDef>,
    /// Index of the outbound queue.
    pub outbound_queue: usize,
    pub profiles: Vec<ProfileDef>,
    /// `{ARN, Name}` of each profile for CTRs.
    pub profile_refs: Vec<ArnName>,
    status_arns: Vec<String>,
    pub agents: Vec<AgentDef>,
    /// Agent indices serving each queue.
    pub agents_by_queue: Vec<Vec<u32>>,
}

const fn handling(talk_s: f64, acw_s: f64, patience_s: f64, transfer_p: f64) -> Handling {
    Handling {
        ivr_s: 18.0,
        talk_s,
        talk_sigma: 0.6,
        hold_p: 0.3,
        hold_s: 40.0,
        acw_s,
        patience_s,
        transfer_p,
        self_service_p: 0.05,
    }
}

impl Center {
    pub fn build(config: &SimConfig, rng: &mut SimRng) -> Self {
        let instance_id = rng.uuid();
        let instance_arn = format!(
            "arn:aws:connect:{}:{}:instance/{instance_id}",
            config.region, config.account_id
        );
        let arn = |kind: &str, rng: &mut SimRng| format!("{instance_arn}/{kind}/{}", rng.uuid());
        let recording_prefix = format!(
            "amazon-connect-{}/connect/switchboard-sim/CallRecordings",
            rng.hex(12)
        );

        let chat = Handling {
            ivr_s: 6.0,
            talk_s: 720.0,
            talk_sigma: 0.5,
            hold_p: 0.0,
            acw_s: 25.0,
            patience_s: 420.0,
            transfer_p: 0.0,
            self_service_p: 0.0,
            ..handling(0.0, 0.0, 0.0, 0.0)
        };
        let specs: [(&'static str, Medium, bool, Handling); 6] = [
            (
                "Sales",
                Medium::Voice,
                true,
                handling(330.0, 45.0, 150.0, 0.04),
            ),
            (
                "Support",
                Medium::Voice,
                true,
                handling(420.0, 60.0, 210.0, 0.06),
            ),
            (
                "Billing",
                Medium::Voice,
                true,
                handling(300.0, 50.0, 180.0, 0.05),
            ),
            (
                "VIP",
                Medium::Voice,
                true,
                handling(480.0, 90.0, 300.0, 0.03),
            ),
            ("Web Chat", Medium::Chat, true, chat),
            (
                "Outbound",
                Medium::Voice,
                false,
                handling(240.0, 40.0, 0.0, 0.0),
            ),
        ];
        let queues: Vec<QueueDef> = specs
            .iter()
            .enumerate()
            .map(|(i, &(name, medium, inbound, handling))| {
                let arn = arn("queue", rng);
                QueueDef {
                    name,
                    contact_ref: queue_ref(&arn, Some(name), None),
                    arn,
                    medium,
                    inbound,
                    handling,
                    phone_number: format!("+1888555{:04}", 100 + i),
                }
            })
            .collect();
        let (sales, support, billing, vip, web_chat, outbound) = (0, 1, 2, 3, 4, 5);

        let mut profile = |name, queues, voice_slots, chat_slots, outbound, share| ProfileDef {
            name,
            arn: arn("routing-profile", rng),
            queues,
            voice_slots,
            chat_slots,
            outbound,
            share,
        };
        let profiles = vec![
            profile("Sales", vec![(vip, 1), (sales, 2)], 1, 0, true, 0.30),
            profile(
                "Support",
                vec![(support, 1), (billing, 2)],
                1,
                0,
                false,
                0.28,
            ),
            profile(
                "Billing and VIP",
                vec![(billing, 1), (vip, 1), (support, 2)],
                1,
                0,
                false,
                0.12,
            ),
            profile(
                "Omnichannel",
                vec![(web_chat, 1), (support, 2)],
                1,
                2,
                false,
                0.18,
            ),
            profile("Chat Specialists", vec![(web_chat, 1)], 0, 3, false, 0.12),
        ];
        let profile_refs = profiles
            .iter()
            .map(|p| ArnName {
                arn: Some(p.arn.clone()),
                name: Some(p.name.to_owned()),
                extra: Extra::new(),
            })
            .collect();
        let status_arns = Status::ALL
            .iter()
            .map(|_| arn("agent-state", rng))
            .collect();

        let n_sites = (1 + config.agents as usize / 250).min(SITES.len());
        let sites: Vec<(String, &str)> = SITES[..n_sites]
            .iter()
            .map(|s| (arn("agent-group", rng), *s))
            .collect();

        let mut center = Center {
            account_id: config.account_id.clone(),
            region: config.region.clone(),
            instance_id,
            instance_arn: instance_arn.clone(),
            recording_prefix,
            queues,
            outbound_queue: outbound,
            profiles,
            profile_refs,
            status_arns,
            agents: Vec::with_capacity(config.agents as usize),
            agents_by_queue: Vec::new(),
        };

        // Profiles in contiguous blocks of the payroll, teams of 12 within a profile block,
        // teams spread over sites: a team shares skills, as real teams do.
        let n = config.agents as usize;
        let mut cumulative = 0.0;
        let bounds: Vec<usize> = center
            .profiles
            .iter()
            .map(|p| {
                cumulative += p.share;
                ((cumulative * n as f64).round() as usize).min(n)
            })
            .collect();
        let mut usernames = HashSet::new();
        let mut team: Option<(usize, usize, String)> = None; // (profile, members, arn)
        let mut team_no = 0;
        for i in 0..n {
            let profile = bounds
                .iter()
                .position(|&b| i < b)
                .unwrap_or(center.profiles.len() - 1);
            let new_team = match &team {
                Some((p, members, _)) => *p != profile || *members >= 12,
                None => true,
            };
            if new_team {
                team_no += 1;
                team = Some((profile, 0, arn("agent-group", rng)));
            }
            let (_, members, team_arn) = team.as_mut().expect("team set above");
            *members += 1;
            let site = &sites[(team_no - 1) % sites.len()];
            let team_name = format!("{} Team {team_no:02}", center.profiles[profile].name);
            let shift = demand::sample_shift(rng);
            let agent = center.agent(
                profile,
                shift,
                site,
                (team_arn.as_str(), &team_name),
                &mut usernames,
                rng,
            );
            center.agents.push(agent);
        }
        center.agents_by_queue = (0..center.queues.len())
            .map(|q| {
                (0..n as u32)
                    .filter(|&a| {
                        let p = &center.profiles[center.agents[a as usize].profile];
                        p.queues.iter().any(|&(pq, _)| pq == q)
                    })
                    .collect()
            })
            .collect();
        center
    }

    fn agent(
        &self,
        profile: usize,
        shift: ShiftTemplate,
        site: &(String, &str),
        team: (&str, &str),
        usernames: &mut HashSet<String>,
        rng: &mut SimRng,
    ) -> AgentDef {
        let agent_id = rng.uuid();
        let arn = format!("{}/agent/{agent_id}", self.instance_arn);
        let first = FIRST_NAMES[rng.index(FIRST_NAMES.len())];
        let last = LAST_NAMES[rng.index(LAST_NAMES.len())];
        let base = format!(
            "{}{}",
            first[..1].to_ascii_lowercase(),
            last.to_ascii_lowercase()
        );
        let mut username = base.clone();
        let mut k = 1;
        while !usernames.insert(username.clone()) {
            k += 1;
            username = format!("{base}{k}");
        }
        let p = &self.profiles[profile];

        let mut channels = Vec::new();
        if p.chat_slots > 0 {
            channels.push(Channel::Chat);
        }
        if p.voice_slots > 0 {
            channels.push(Channel::Voice);
        }
        let agent_queue_arn = format!("{}/queue/agent/{agent_id}", self.instance_arn);
        let mut inbound = vec![queue_ref(&agent_queue_arn, None, Some(channels.clone()))];
        for &(q, _) in &p.queues {
            let q = &self.queues[q];
            inbound.push(queue_ref(
                &q.arn,
                Some(q.name),
                Some(vec![q.medium.channel()]),
            ));
        }
        let out = &self.queues[self.outbound_queue];
        let concurrency = channels
            .iter()
            .map(|c| {
                let max = i64::from(if *c == Channel::Chat {
                    p.chat_slots
                } else {
                    p.voice_slots
                });
                Concurrency {
                    available_slots: Some(max),
                    channel: Some(c.clone()),
                    maximum_slots: Some(max),
                    extra: Extra::new(),
                }
            })
            .collect();
        let group = |arn: &str, name: &str| HierarchyGroup {
            arn: Some(arn.to_owned()),
            name: Some(name.to_owned()),
            extra: Extra::new(),
        };
        let configuration = AgentConfiguration {
            hierarchy_groups: Some(AgentHierarchyGroups {
                level1: Some(group(&site.0, site.1)),
                level2: Some(group(team.0, team.1)),
                level3: None,
                level4: None,
                level5: None,
                extra: Extra::new(),
            }),
            first_name: Some(first.to_owned()),
            last_name: Some(last.to_owned()),
            routing_profile: Some(RoutingProfile {
                arn: Some(p.arn.clone()),
                concurrency: Some(concurrency),
                default_outbound_queue: Some(queue_ref(
                    &out.arn,
                    Some(out.name),
                    Some(vec![Channel::Voice]),
                )),
                inbound_queues: Some(inbound),
                name: Some(p.name.to_owned()),
                extra: Extra::new(),
            }),
            username: Some(username.clone()),
            extra: Extra::new(),
        };
        let ctr_group = |arn: &str, name: &str| CtrHierarchyGroup {
            arn: Some(arn.to_owned()),
            group_name: Some(name.to_owned()),
            extra: Extra::new(),
        };
        let ctr_groups = CtrHierarchyGroups {
            level1: Some(ctr_group(&site.0, site.1)),
            level2: Some(ctr_group(team.0, team.1)),
            level3: None,
            level4: None,
            level5: None,
            extra: Extra::new(),
        };
        let event_groups = json!({ "level1": { "arn": site.0 }, "level2": { "arn": team.0 } });
        AgentDef {
            arn,
            username,
            profile,
            shift,
            configuration,
            ctr_groups,
            event_groups,
        }
    }

    pub fn status_arn(&self, status: Status) -> &str {
        &self.status_arns[status.index()]
    }

    pub fn contact_arn(&self, contact_id: &str) -> String {
        format!("{}/contact/{contact_id}", self.instance_arn)
    }

    /// Inbound queues, by index.
    pub fn inbound_queues(&self) -> impl Iterator<Item = usize> + '_ {
        self.queues
            .iter()
            .enumerate()
            .filter(|(_, q)| q.inbound)
            .map(|(i, _)| i)
    }
}

/// A queue reference; `name: None` writes an explicit `"Name": null` (agent queues).
fn queue_ref(arn: &str, name: Option<&str>, channels: Option<Vec<Channel>>) -> QueueRef {
    let mut extra = Extra::new();
    if name.is_none() {
        extra.insert("Name".to_owned(), Value::Null);
    }
    QueueRef {
        arn: Some(arn.to_owned()),
        name: name.map(str::to_owned),
        channels,
        extra,
    }
}
