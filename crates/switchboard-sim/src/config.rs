//! What to simulate: [`SimConfig`] (size, window, seed, occupancy target, identity of the
//! simulated instance) and [`ArtefactRates`] (how often delivery misbehaves the way real
//! Connect delivery does). Everything else — queues, routing profiles, shifts, the daily
//! arrival curve — is derived from these in `center` and `demand`, so
//! one number (the agent count) gives a plausible contact center.
//!
//! The configuration says nothing about pacing: the same config and seed produce the same
//! records whether they are written to files at full speed or replayed live.

use switchboard_model::Timestamp;

/// Largest agent count accepted. Routing scans the agents of a queue for each contact,
/// so run time grows faster than linearly; 1,000 agents simulate a day in seconds,
/// 20,000 would take minutes and write tens of gigabytes.
pub const MAX_AGENTS: u32 = 20_000;
/// Longest simulated window accepted (31 days).
pub const MAX_DURATION_SECS: u64 = 31 * 86_400;
/// `2026-01-05T00:00:00Z`, a Monday: the default start, fixed so output is reproducible.
pub const DEFAULT_START_MILLIS: i64 = 1_767_571_200_000;

/// How to simulate a contact center.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Number of agents on the payroll; shifts spread them over the day, so only part of
    /// them are logged in at any time.
    pub agents: u32,
    /// First instant of the simulated window.
    pub start: Timestamp,
    /// Length of the simulated window, in seconds. Nothing happens at or after
    /// `start + duration`; records of what happened before are still delivered (contact
    /// records arrive about a minute after a contact completes).
    pub duration_secs: u64,
    /// Seed of the one random stream behind every decision and id.
    pub seed: u64,
    /// Share of staffed capacity that inbound work takes at the busiest time of day.
    pub peak_occupancy: f64,
    /// Delivery artefacts: duplicates, re-deliveries, late events.
    pub artefacts: ArtefactRates,
    /// 12-digit AWS account id written into every record.
    pub account_id: String,
    /// AWS region of the simulated instance.
    pub region: String,
}

/// How often delivery misbehaves, each as a probability per record in `0.0..=1.0`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArtefactRates {
    /// An agent event delivered twice (same `EventId`), as a Kinesis producer retry does.
    pub duplicate_agent_event: f64,
    /// A contact event delivered twice (same envelope `id`): EventBridge is at-least-once.
    pub duplicate_contact_event: f64,
    /// A contact event delayed by 5–60 s, so it arrives after later events of its contact.
    pub late_contact_event: f64,
    /// A contact record delivered a second time, byte for byte.
    pub duplicate_contact_record: f64,
    /// A contact whose attributes are updated after it completed: a
    /// `CONTACT_DATA_UPDATED` event, then the record again with the new attribute and a
    /// later `LastUpdateTimestamp`.
    pub updated_contact_record: f64,
}

impl Default for ArtefactRates {
    fn default() -> Self {
        Self {
            duplicate_agent_event: 0.005,
            duplicate_contact_event: 0.01,
            late_contact_event: 0.02,
            duplicate_contact_record: 0.005,
            updated_contact_record: 0.02,
        }
    }
}

impl ArtefactRates {
    /// No artefacts at all: every record delivered once, promptly.
    pub fn none() -> Self {
        Self {
            duplicate_agent_event: 0.0,
            duplicate_contact_event: 0.0,
            late_contact_event: 0.0,
            duplicate_contact_record: 0.0,
            updated_contact_record: 0.0,
        }
    }

    fn named(&self) -> [(&'static str, f64); 5] {
        [
            ("duplicate_agent_event", self.duplicate_agent_event),
            ("duplicate_contact_event", self.duplicate_contact_event),
            ("late_contact_event", self.late_contact_event),
            ("duplicate_contact_record", self.duplicate_contact_record),
            ("updated_contact_record", self.updated_contact_record),
        ]
    }
}

impl SimConfig {
    /// A day of `agents` agents from the default start, seed 1, default artefact rates.
    pub fn new(agents: u32) -> Self {
        Self {
            agents,
            start: Timestamp::from_millis(DEFAULT_START_MILLIS),
            duration_secs: 86_400,
            seed: 1,
            peak_occupancy: 0.9,
            artefacts: ArtefactRates::default(),
            account_id: "123456789012".to_owned(),
            region: "us-east-1".to_owned(),
        }
    }

    /// Milliseconds of the window's end (exclusive).
    pub fn end_millis(&self) -> i64 {
        let span = i64::try_from(self.duration_secs)
            .unwrap_or(i64::MAX)
            .saturating_mul(1000);
        self.start.millis().saturating_add(span)
    }

    /// Checks every field; the simulator refuses a config that fails this.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.agents == 0 || self.agents > MAX_AGENTS {
            return Err(ConfigError::Agents(self.agents));
        }
        if self.duration_secs == 0 || self.duration_secs > MAX_DURATION_SECS {
            return Err(ConfigError::Duration(self.duration_secs));
        }
        // Years 2000..=9998 keep every derived timestamp four-digit and positive.
        const MIN: i64 = 946_684_800_000;
        const MAX: i64 = 253_370_764_800_000;
        if !(MIN..MAX).contains(&self.start.millis()) {
            return Err(ConfigError::Start(self.start));
        }
        if !(self.peak_occupancy > 0.0 && self.peak_occupancy <= 0.95) {
            return Err(ConfigError::Occupancy(self.peak_occupancy));
        }
        for (name, rate) in self.artefacts.named() {
            if !(0.0..=1.0).contains(&rate) {
                return Err(ConfigError::Rate { name, rate });
            }
        }
        if self.account_id.len() != 12 || !self.account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConfigError::Account(self.account_id.clone()));
        }
        let region_ok = !self.region.is_empty()
            && self.region.len() <= 32
            && self
                .region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !region_ok {
            return Err(ConfigError::Region(self.region.clone()));
        }
        Ok(())
    }
}

/// A configuration the simulator cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("agent count {0} is out of range: use 1 to {MAX_AGENTS}")]
    Agents(u32),
    #[error("duration of {0} s is out of range: use 1 s to 31 days")]
    Duration(u64),
    #[error("start {0} is out of range: use a time between 2000 and 9998")]
    Start(Timestamp),
    #[error("peak occupancy {0} is out of range: use a value above 0 and at most 0.95")]
    Occupancy(f64),
    #[error("artefact rate {name} = {rate} is not a probability: use 0.0 to 1.0")]
    Rate { name: &'static str, rate: f64 },
    #[error("account id {0:?} is not 12 digits")]
    Account(String),
    #[error("region {0:?} is not a region name such as us-east-1")]
    Region(String),
    #[error(
        "duration {0:?} is not valid: write a number and a unit, e.g. 90s, 30m, 2h, 1d or 1h30m"
    )]
    DurationSyntax(String),
}

/// Parses a duration such as `90s`, `30m`, `2h`, `1d` or `1h30m` into seconds.
pub fn parse_duration(text: &str) -> Result<u64, ConfigError> {
    let err = || ConfigError::DurationSyntax(text.to_owned());
    let mut total: u64 = 0;
    let mut number: Option<u64> = None;
    for c in text.trim().chars() {
        if let Some(d) = c.to_digit(10) {
            let n = number
                .unwrap_or(0)
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d)));
            number = Some(n.ok_or_else(err)?);
            continue;
        }
        let unit = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(err()),
        };
        let n = number.take().ok_or_else(err)?;
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(err)?;
    }
    if number.is_some() || total == 0 {
        return Err(err());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90s"), Ok(90));
        assert_eq!(parse_duration("30m"), Ok(1800));
        assert_eq!(parse_duration("2h"), Ok(7200));
        assert_eq!(parse_duration("1d"), Ok(86_400));
        assert_eq!(parse_duration("1h30m"), Ok(5400));
        for bad in ["", "10", "h", "0s", "5x", "99999999999999999999d", "-1h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn validation_rejects_bad_values() {
        assert!(SimConfig::new(50).validate().is_ok());
        let bad = [
            SimConfig {
                agents: 0,
                ..SimConfig::new(1)
            },
            SimConfig {
                duration_secs: 0,
                ..SimConfig::new(1)
            },
            SimConfig {
                peak_occupancy: f64::NAN,
                ..SimConfig::new(1)
            },
            SimConfig {
                start: Timestamp::from_millis(0),
                ..SimConfig::new(1)
            },
            SimConfig {
                account_id: "12".into(),
                ..SimConfig::new(1)
            },
            SimConfig {
                region: "US EAST".into(),
                ..SimConfig::new(1)
            },
            SimConfig {
                artefacts: ArtefactRates {
                    late_contact_event: 1.5,
                    ..ArtefactRates::default()
                },
                ..SimConfig::new(1)
            },
        ];
        for c in bad {
            assert!(c.validate().is_err(), "{c:?}");
        }
    }
}
