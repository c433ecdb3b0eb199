//! The monthly cost estimate: what streams carry what (a [`Footprint`]), the traffic
//! assumed ([`Traffic`], every figure overridable from the command line) and the price
//! table give one line per charge. Pure arithmetic, unit-tested against a hand
//! computation from the table.

use std::fmt;

use super::prices::Prices;

const GB: f64 = 1_073_741_824.0;

/// The traffic the estimate assumes.
#[derive(Debug, Clone, PartialEq)]
pub struct Traffic {
    /// Agents (each logged in `agent_hours_per_day`).
    pub agents: u32,
    /// Hours a day an agent produces events (events go on for an hour after logout).
    pub agent_hours_per_day: f64,
    /// Contacts a day (one contact record each; Connect may send a record again when
    /// it is updated, which this ignores).
    pub contacts_per_day: u32,
    /// Bytes of one contact record (the published samples are 2.3–2.6 KB compact).
    pub ctr_bytes: u64,
    /// Agent events per agent per logged-in hour (a heartbeat every 120 s when nothing
    /// else happens is 30 an hour).
    pub agent_events_per_agent_hour: f64,
    /// Bytes of one agent event (2.7–4.4 KB in the samples).
    pub agent_event_bytes: u64,
    /// Contact events a contact produces after the filter (INITIATED, CONNECTED_TO_SYSTEM,
    /// QUEUED, CONNECTED_TO_AGENT, DISCONNECTED, COMPLETED).
    pub contact_events_per_contact: f64,
}

impl Default for Traffic {
    fn default() -> Self {
        Traffic {
            agents: 100,
            agent_hours_per_day: 9.0,
            contacts_per_day: 2000,
            ctr_bytes: 3000,
            agent_events_per_agent_hour: 45.0,
            agent_event_bytes: 3500,
            contact_events_per_contact: 6.0,
        }
    }
}

/// Kinesis capacity mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamMode {
    /// A fixed number of shards.
    Provisioned { shards: u32 },
    /// Capacity follows traffic; billed per stream-hour and per GB.
    OnDemand,
}

impl fmt::Display for StreamMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamMode::Provisioned { shards } => write!(f, "provisioned, {shards} shard(s)"),
            StreamMode::OnDemand => f.write_str("on-demand"),
        }
    }
}

/// What carries contact records.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Carrier {
    /// A Kinesis data stream.
    Kinesis(StreamMode),
    /// A Firehose delivery stream to S3 that flushes at least every `buffer_secs`.
    Firehose { buffer_secs: u32 },
}

/// What is streaming, for the estimate.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Footprint {
    /// Contact records' carrier, if any.
    pub contact_records: Option<Carrier>,
    /// The agent event stream's mode, if any.
    pub agent_events: Option<StreamMode>,
    /// Contact events through an EventBridge rule to an SQS queue.
    pub contact_events: bool,
}

/// One charge.
#[derive(Debug, Clone, PartialEq)]
pub struct CostLine {
    /// What is charged, e.g. `contact records stream: shard-hours`.
    pub item: String,
    /// How much of it, in words, e.g. `1 shard x 730 h = 730 shard-hours`.
    pub quantity: String,
    /// Dollars a month.
    pub monthly: f64,
}

/// The estimate: its lines, the traffic assumed and the table's date and region.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    pub lines: Vec<CostLine>,
    pub traffic: Traffic,
    pub region: String,
    pub date: String,
    pub currency: String,
}

impl Estimate {
    /// Sum of the lines.
    pub fn total(&self) -> f64 {
        self.lines.iter().map(|l| l.monthly).sum()
    }
}

/// Records of `bytes` each counted in `unit`-byte chunks (at least one).
fn units(bytes: u64, unit: u64) -> u64 {
    bytes.div_ceil(unit.max(1)).max(1)
}

/// Estimates a month of `footprint` carrying `traffic` at `prices`.
pub fn estimate(footprint: &Footprint, traffic: &Traffic, prices: &Prices) -> Estimate {
    let hours = prices.hours_per_month;
    let days = hours / 24.0;
    let ctrs = f64::from(traffic.contacts_per_day) * days;
    let agent_events = f64::from(traffic.agents)
        * traffic.agent_hours_per_day
        * traffic.agent_events_per_agent_hour
        * days;
    let mut lines = Vec::new();
    match footprint.contact_records {
        Some(Carrier::Kinesis(mode)) => kinesis_lines(
            &mut lines,
            "contact records stream",
            mode,
            ctrs,
            traffic.ctr_bytes,
            prices,
        ),
        Some(Carrier::Firehose { buffer_secs }) => {
            let p = &prices.firehose;
            let billed =
                units(traffic.ctr_bytes, p.record_rounding_bytes) * p.record_rounding_bytes;
            let gb = ctrs * billed as f64 / GB;
            lines.push(CostLine {
                item: "contact records Firehose: ingestion".into(),
                quantity: format!(
                    "{ctrs:.0} records x {billed} B (rounded up to {} B) = {gb:.3} GB x ${}/GB",
                    p.record_rounding_bytes, p.ingest_per_gb
                ),
                monthly: gb * p.ingest_per_gb,
            });
            let stored = ctrs * traffic.ctr_bytes as f64 / GB;
            lines.push(CostLine {
                item: "contact records in S3: storage (first month)".into(),
                quantity: format!(
                    "{stored:.3} GB x ${}/GB-month",
                    prices.s3.storage_per_gb_month
                ),
                monthly: stored * prices.s3.storage_per_gb_month,
            });
            let objects = (hours * 3600.0 / f64::from(buffer_secs.max(60))).min(ctrs.max(1.0));
            lines.push(CostLine {
                item: "contact records in S3: PUT requests".into(),
                quantity: format!(
                    "at most {objects:.0} objects (one per {buffer_secs} s buffer) x ${}/1000",
                    prices.s3.put_per_thousand
                ),
                monthly: objects / 1000.0 * prices.s3.put_per_thousand,
            });
        }
        None => {}
    }
    if let Some(mode) = footprint.agent_events {
        kinesis_lines(
            &mut lines,
            "agent events stream",
            mode,
            agent_events,
            traffic.agent_event_bytes,
            prices,
        );
    }
    if footprint.contact_events {
        let events = ctrs * traffic.contact_events_per_contact;
        lines.push(CostLine {
            item: "contact events: EventBridge rule".into(),
            quantity: format!(
                "{events:.0} events from aws.connect x ${}/million",
                prices.eventbridge.aws_service_events_per_million
            ),
            monthly: events / 1e6 * prices.eventbridge.aws_service_events_per_million,
        });
        // Each event is sent, received and deleted (three requests at most); one
        // consumer long-polling 20 s makes 180 empty receives an hour besides.
        let requests = events * 3.0 + hours * 180.0;
        lines.push(CostLine {
            item: "contact events: SQS requests".into(),
            quantity: format!(
                "{requests:.0} requests (send, receive, delete + 20 s long polls) x ${}/million",
                prices.sqs.requests_per_million
            ),
            monthly: requests / 1e6 * prices.sqs.requests_per_million,
        });
    }
    Estimate {
        lines,
        traffic: traffic.clone(),
        region: prices.region.clone(),
        date: prices.date.clone(),
        currency: prices.currency.clone(),
    }
}

fn kinesis_lines(
    lines: &mut Vec<CostLine>,
    what: &str,
    mode: StreamMode,
    records: f64,
    record_bytes: u64,
    prices: &Prices,
) {
    let hours = prices.hours_per_month;
    match mode {
        StreamMode::Provisioned { shards } => {
            let p = &prices.kinesis_provisioned;
            let shard_hours = f64::from(shards) * hours;
            lines.push(CostLine {
                item: format!("{what}: shard-hours"),
                quantity: format!(
                    "{shards} shard(s) x {hours} h = {shard_hours} shard-hours x ${}",
                    p.shard_hour
                ),
                monthly: shard_hours * p.shard_hour,
            });
            let per_record = units(record_bytes, p.put_unit_bytes);
            let put_units = records * per_record as f64;
            lines.push(CostLine {
                item: format!("{what}: PUT payload units"),
                quantity: format!(
                    "{records:.0} records x {per_record} unit(s) of {} B = {put_units:.0} units x ${}/million",
                    p.put_unit_bytes, p.put_units_per_million
                ),
                monthly: put_units / 1e6 * p.put_units_per_million,
            });
        }
        StreamMode::OnDemand => {
            let p = &prices.kinesis_on_demand;
            lines.push(CostLine {
                item: format!("{what}: on-demand stream-hours"),
                quantity: format!("{hours} h x ${}", p.stream_hour),
                monthly: hours * p.stream_hour,
            });
            let billed = units(record_bytes, p.record_rounding_bytes) * p.record_rounding_bytes;
            let gb = records * billed as f64 / GB;
            lines.push(CostLine {
                item: format!("{what}: data in"),
                quantity: format!(
                    "{records:.0} records x {billed} B (rounded up to {} B) = {gb:.3} GB x ${}/GB",
                    p.record_rounding_bytes, p.ingress_per_gb
                ),
                monthly: gb * p.ingress_per_gb,
            });
            lines.push(CostLine {
                item: format!("{what}: data out (one consumer)"),
                quantity: format!("{gb:.3} GB x ${}/GB", p.egress_per_gb),
                monthly: gb * p.egress_per_gb,
            });
        }
    }
}

impl fmt::Display for Estimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.traffic;
        writeln!(
            f,
            "Monthly cost estimate ({}, list prices of {} from the price table; check them):",
            self.region, self.date
        )?;
        for line in &self.lines {
            writeln!(
                f,
                "  {:<52} {:>9.2} {}",
                line.item, line.monthly, self.currency
            )?;
            writeln!(f, "      {}", line.quantity)?;
        }
        writeln!(
            f,
            "  {:<52} {:>9.2} {}/month",
            "total",
            self.total(),
            self.currency
        )?;
        writeln!(
            f,
            "Assumed traffic (override with the flags in brackets): {} agents [--agents] \
             logged in {} h/day [--agent-hours-per-day], {} agent events per agent-hour \
             [--agent-events-per-hour] of {} B [--agent-event-bytes]; {} contacts/day \
             [--contacts-per-day], contact records of {} B [--ctr-bytes], {} contact events \
             per contact [--contact-events-per-contact].",
            t.agents,
            t.agent_hours_per_day,
            t.agent_events_per_agent_hour,
            t.agent_event_bytes,
            t.contacts_per_day,
            t.ctr_bytes,
            t.contact_events_per_contact
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cost of a 1-shard provisioned stream pair, by hand from the table's figures:
    /// 2 x 730 shard-hours x $0.015 = $21.90, plus the PUT payload units (every record
    /// of the default traffic is under 25 KB, so one unit each).
    #[test]
    fn one_shard_provisioned_pair_equals_hand_computation() {
        let prices = Prices::built_in();
        let traffic = Traffic::default();
        let footprint = Footprint {
            contact_records: Some(Carrier::Kinesis(StreamMode::Provisioned { shards: 1 })),
            agent_events: Some(StreamMode::Provisioned { shards: 1 }),
            contact_events: false,
        };
        let e = estimate(&footprint, &traffic, &prices);
        let days = 730.0 / 24.0;
        let ctr_units = 2000.0 * days; // 60,833.3
        let agent_units = 100.0 * 9.0 * 45.0 * days; // 1,231,875
        let by_hand = 2.0 * 730.0 * 0.015 + (ctr_units + agent_units) / 1e6 * 0.014;
        assert!(
            (e.total() - by_hand).abs() < 1e-9,
            "{} vs {by_hand}",
            e.total()
        );
        assert!((by_hand - 21.918098).abs() < 1e-6, "{by_hand}");
        assert_eq!(e.lines.len(), 4);
        assert!((e.lines[0].monthly - 10.95).abs() < 1e-9);
        let shown = e.to_string();
        assert!(shown.contains("21.92 USD/month"), "{shown}");
    }

    #[test]
    fn put_units_count_25_kb_chunks() {
        let prices = Prices::built_in();
        let traffic = Traffic {
            ctr_bytes: 40_000, // two 25,600-byte units
            ..Traffic::default()
        };
        let footprint = Footprint {
            contact_records: Some(Carrier::Kinesis(StreamMode::Provisioned { shards: 1 })),
            ..Footprint::default()
        };
        let e = estimate(&footprint, &traffic, &prices);
        let units = 2000.0 * 730.0 / 24.0 * 2.0;
        assert!((e.lines[1].monthly - units / 1e6 * 0.014).abs() < 1e-12);
    }

    #[test]
    fn firehose_rounds_each_record_up_to_5_kb() {
        let prices = Prices::built_in();
        let footprint = Footprint {
            contact_records: Some(Carrier::Firehose { buffer_secs: 300 }),
            ..Footprint::default()
        };
        let e = estimate(&footprint, &Traffic::default(), &prices);
        // 3,000-byte records are billed as 5,120 bytes.
        let gb = 2000.0 * 730.0 / 24.0 * 5120.0 / GB;
        assert!((e.lines[0].monthly - gb * 0.029).abs() < 1e-12);
    }

    #[test]
    fn on_demand_bills_stream_hours_and_gb_at_1_kb_rounding() {
        let prices = Prices::built_in();
        let footprint = Footprint {
            agent_events: Some(StreamMode::OnDemand),
            ..Footprint::default()
        };
        let e = estimate(&footprint, &Traffic::default(), &prices);
        assert!((e.lines[0].monthly - 730.0 * 0.04).abs() < 1e-9);
        let gb = 100.0 * 9.0 * 45.0 * 730.0 / 24.0 * 4096.0 / GB;
        assert!((e.lines[1].monthly - gb * 0.08).abs() < 1e-12);
        assert!((e.lines[2].monthly - gb * 0.04).abs() < 1e-12);
    }
}
