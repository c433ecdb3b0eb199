//! Plausibility checks a record passes before it touches any state.
//!
//! A record that decodes can still be poison: a negative `CustomerHoldDuration` gives
//! negative handle times, a duration near `i64::MAX` wraps the metric sums, an empty or
//! 5,000-character `ContactId` keys a contact nobody can name, and a
//! `LastUpdateTimestamp` of 9999-12-31 pins the contact against every later update. The
//! pipeline calls [`check`] on the borrowed view it already parsed (one place:
//! `switchboard_pipeline::ingest`), before the engine sees the record; a record that fails
//! goes to the dead letters with the field and the reason, and the rest of its batch
//! flows on.
//!
//! The checks only compare numbers and string lengths the view already holds: no
//! allocation, no parsing. The limits are documented in the README ("What bad input
//! gets"):
//!
//! | what | limit |
//! |---|---|
//! | durations (`Queue.Duration`, `Agent.AgentInteractionDuration`, `CustomerHoldDuration`, `AfterContactWorkDuration`) | 0 ..= [`MAX_DURATION_S`] (30 days) |
//! | counts (`Agent.NumberOfHolds`) | 0 ..= [`MAX_COUNT`] |
//! | ids (`ContactId`, `EventId`, `InitialContactId`, `PreviousContactId`, `NextContactId`, a contact event's `id`) | required ones non-empty; at most [`MAX_ID_LEN`] bytes |
//! | ARNs (agent, queue) | required ones non-empty; at most [`MAX_ARN_LEN`] bytes |
//! | names (queue, username) | at most [`MAX_NAME_LEN`] bytes |
//! | every timestamp | not before [`EARLIEST_MS`] (2000-01-01), not more than [`MAX_AHEAD_MS`] (1 day) after arrival |
//! | a contact record's other timestamps | within [`MAX_SKEW_MS`] before and [`MAX_SPAN_MS`] after its `InitiationTimestamp` |
//!
//! Connect's placeholder for an unset timestamp (`1970-01-01T00:00:00.001Z`) counts as
//! absent, as everywhere else.

use std::fmt;

use switchboard_model::view::{
    AgentContactView, AgentEventView, AgentSnapshotView, ContactEventView, ContactRecordView,
    NamedView, Str,
};
use switchboard_model::{RecordView, Timestamp};

/// The longest duration a contact record may carry, in seconds (30 days: Connect's
/// longest contacts, chats and tasks, last at most 7).
pub const MAX_DURATION_S: i64 = 30 * 86_400;
/// The largest count (`NumberOfHolds`) a contact record may carry.
pub const MAX_COUNT: i64 = 10_000;
/// The longest id, in bytes (Connect's are 36-character UUIDs).
pub const MAX_ID_LEN: usize = 256;
/// The longest ARN, in bytes (AWS's limit for ARNs).
pub const MAX_ARN_LEN: usize = 2048;
/// The longest name (queue, username), in bytes.
pub const MAX_NAME_LEN: usize = 1024;
/// No timestamp before 2000-01-01T00:00:00Z.
pub const EARLIEST_MS: i64 = 946_684_800_000;
/// How far after its arrival a record's timestamps may lie (clocks disagree; a day is
/// far more than they do).
pub const MAX_AHEAD_MS: i64 = 86_400_000;
/// How far a contact record's timestamps may lie before its `InitiationTimestamp`.
pub const MAX_SKEW_MS: i64 = 60_000;
/// How far a contact record's timestamps may lie after its `InitiationTimestamp`.
pub const MAX_SPAN_MS: i64 = 30 * 86_400_000;

/// What was wrong with a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A required id or ARN is empty.
    Empty,
    /// A string longer than its limit (`len` bytes, `max` allowed).
    TooLong { len: usize, max: usize },
    /// A duration or count below zero.
    Negative(i64),
    /// A duration or count above its limit.
    TooLarge { value: i64, max: i64 },
    /// A timestamp outside its plausible window.
    Timestamp { at: Timestamp, why: &'static str },
}

/// Why a record was refused: the field (its path in Connect's JSON) and the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: &'static str,
    pub problem: Problem,
}

impl Invalid {
    /// A short, fixed label for metrics: `empty_id`, `long_id`, `negative`, `too_large`,
    /// `timestamp`.
    pub fn reason(&self) -> &'static str {
        match self.problem {
            Problem::Empty => "empty_id",
            Problem::TooLong { .. } => "long_id",
            Problem::Negative(_) => "negative",
            Problem::TooLarge { .. } => "too_large",
            Problem::Timestamp { .. } => "timestamp",
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid record: {}: ", self.field)?;
        match &self.problem {
            Problem::Empty => f.write_str("is empty"),
            Problem::TooLong { len, max } => {
                write!(f, "is {len} bytes long (at most {max} allowed)")
            }
            Problem::Negative(v) => write!(f, "{v} is negative"),
            Problem::TooLarge { value, max } => write!(f, "{value} is above the maximum of {max}"),
            Problem::Timestamp { at, why } => write!(f, "{at} is {why}"),
        }
    }
}

impl std::error::Error for Invalid {}

/// Checks `record`, which arrived at `arrival` (the wall clock when live, the simulated
/// clock of a demo; `None`: no upper bound from arrival, only from the record itself).
pub fn check(record: &RecordView<'_>, arrival: Option<Timestamp>) -> Result<(), Invalid> {
    let window = Window::new(arrival);
    match record {
        RecordView::AgentEvent(e) => agent_event(e, &window),
        RecordView::ContactEvent(e) => contact_event(e, &window),
        RecordView::ContactRecord(r) => contact_record(r, &window),
    }
}

/// The absolute window every timestamp must fall in.
struct Window {
    latest: i64,
}

impl Window {
    fn new(arrival: Option<Timestamp>) -> Self {
        Window {
            latest: arrival.map_or(i64::MAX, |a| a.millis().saturating_add(MAX_AHEAD_MS)),
        }
    }

    fn at(&self, field: &'static str, at: Timestamp) -> Result<(), Invalid> {
        if at.is_unset() {
            return Ok(());
        }
        let why = if at.millis() < EARLIEST_MS {
            "before 2000-01-01"
        } else if at.millis() > self.latest {
            "more than a day after the record arrived"
        } else {
            return Ok(());
        };
        Err(Invalid {
            field,
            problem: Problem::Timestamp { at, why },
        })
    }

    fn opt(&self, field: &'static str, at: Option<Timestamp>) -> Result<(), Invalid> {
        at.map_or(Ok(()), |at| self.at(field, at))
    }
}

fn required(field: &'static str, s: &Str<'_>, max: usize) -> Result<(), Invalid> {
    if s.is_empty() {
        return Err(Invalid {
            field,
            problem: Problem::Empty,
        });
    }
    bounded(field, Some(s), max)
}

fn bounded(field: &'static str, s: Option<&Str<'_>>, max: usize) -> Result<(), Invalid> {
    match s {
        Some(s) if s.len() > max => Err(Invalid {
            field,
            problem: Problem::TooLong { len: s.len(), max },
        }),
        _ => Ok(()),
    }
}

fn amount(field: &'static str, v: Option<i64>, max: i64) -> Result<(), Invalid> {
    let problem = match v {
        Some(v) if v < 0 => Problem::Negative(v),
        Some(v) if v > max => Problem::TooLarge { value: v, max },
        _ => return Ok(()),
    };
    Err(Invalid { field, problem })
}

fn named(
    arn_field: &'static str,
    name_field: &'static str,
    n: Option<&NamedView<'_>>,
) -> Result<(), Invalid> {
    let Some(n) = n else { return Ok(()) };
    bounded(arn_field, n.arn.as_ref(), MAX_ARN_LEN)?;
    bounded(name_field, n.name.as_ref(), MAX_NAME_LEN)
}

fn agent_event(e: &AgentEventView<'_>, w: &Window) -> Result<(), Invalid> {
    required("AgentARN", &e.agent_arn, MAX_ARN_LEN)?;
    required("EventId", &e.event_id, MAX_ID_LEN)?;
    w.at("EventTimestamp", e.event_timestamp)?;
    for (current, snapshot) in [(true, &e.current), (false, &e.previous)] {
        if let Some(s) = snapshot {
            snapshot_ok(current, s, w)?;
        }
    }
    Ok(())
}

fn snapshot_ok(current: bool, s: &AgentSnapshotView<'_>, w: &Window) -> Result<(), Invalid> {
    // One static path per snapshot, so the field names stay `&'static str`.
    let pick = |c: &'static str, p: &'static str| if current { c } else { p };
    if let Some(status) = &s.agent_status {
        w.opt(
            pick(
                "CurrentAgentSnapshot.AgentStatus.StartTimestamp",
                "PreviousAgentSnapshot.AgentStatus.StartTimestamp",
            ),
            status.start_timestamp,
        )?;
        bounded(
            pick(
                "CurrentAgentSnapshot.AgentStatus.Name",
                "PreviousAgentSnapshot.AgentStatus.Name",
            ),
            status.name.as_ref(),
            MAX_NAME_LEN,
        )?;
    }
    if let Some(c) = &s.configuration {
        bounded(
            pick(
                "CurrentAgentSnapshot.Configuration.Username",
                "PreviousAgentSnapshot.Configuration.Username",
            ),
            c.username.as_ref(),
            MAX_NAME_LEN,
        )?;
    }
    for contact in s.contacts() {
        snapshot_contact(current, contact, w)?;
    }
    Ok(())
}

fn snapshot_contact(current: bool, c: &AgentContactView<'_>, w: &Window) -> Result<(), Invalid> {
    let pick = |cur: &'static str, prev: &'static str| if current { cur } else { prev };
    required(
        pick(
            "CurrentAgentSnapshot.Contacts.ContactId",
            "PreviousAgentSnapshot.Contacts.ContactId",
        ),
        &c.contact_id,
        MAX_ID_LEN,
    )?;
    bounded(
        pick(
            "CurrentAgentSnapshot.Contacts.InitialContactId",
            "PreviousAgentSnapshot.Contacts.InitialContactId",
        ),
        c.initial_contact_id.as_ref(),
        MAX_ID_LEN,
    )?;
    named(
        pick(
            "CurrentAgentSnapshot.Contacts.Queue.ARN",
            "PreviousAgentSnapshot.Contacts.Queue.ARN",
        ),
        pick(
            "CurrentAgentSnapshot.Contacts.Queue.Name",
            "PreviousAgentSnapshot.Contacts.Queue.Name",
        ),
        c.queue.as_ref(),
    )?;
    w.opt(
        pick(
            "CurrentAgentSnapshot.Contacts.StateStartTimestamp",
            "PreviousAgentSnapshot.Contacts.StateStartTimestamp",
        ),
        c.state_start_timestamp,
    )?;
    w.opt(
        pick(
            "CurrentAgentSnapshot.Contacts.ConnectedToAgentTimestamp",
            "PreviousAgentSnapshot.Contacts.ConnectedToAgentTimestamp",
        ),
        c.connected_to_agent_timestamp,
    )
}

fn contact_event(e: &ContactEventView<'_>, w: &Window) -> Result<(), Invalid> {
    bounded("id", e.id.as_ref(), MAX_ID_LEN)?;
    w.opt("time", e.time)?;
    let d = &e.detail;
    required("detail.contactId", &d.contact_id, MAX_ID_LEN)?;
    bounded(
        "detail.initialContactId",
        d.initial_contact_id.as_ref(),
        MAX_ID_LEN,
    )?;
    bounded(
        "detail.previousContactId",
        d.previous_contact_id.as_ref(),
        MAX_ID_LEN,
    )?;
    w.opt("detail.initiationTimestamp", d.initiation_timestamp)?;
    w.opt(
        "detail.connectedToSystemTimestamp",
        d.connected_to_system_timestamp,
    )?;
    w.opt("detail.disconnectTimestamp", d.disconnect_timestamp)?;
    if let Some(q) = &d.queue_info {
        bounded(
            "detail.queueInfo.queueArn",
            q.queue_arn.as_ref(),
            MAX_ARN_LEN,
        )?;
        w.opt("detail.queueInfo.enqueueTimestamp", q.enqueue_timestamp)?;
    }
    if let Some(a) = &d.agent_info {
        bounded(
            "detail.agentInfo.agentArn",
            a.agent_arn.as_ref(),
            MAX_ARN_LEN,
        )?;
        w.opt(
            "detail.agentInfo.connectedToAgentTimestamp",
            a.connected_to_agent_timestamp,
        )?;
        w.opt(
            "detail.agentInfo.afterContactWorkEndTimestamp",
            a.after_contact_work_end_timestamp,
        )?;
    }
    Ok(())
}

fn contact_record(r: &ContactRecordView<'_>, w: &Window) -> Result<(), Invalid> {
    required("ContactId", &r.contact_id, MAX_ID_LEN)?;
    bounded(
        "InitialContactId",
        r.initial_contact_id.as_ref(),
        MAX_ID_LEN,
    )?;
    bounded(
        "PreviousContactId",
        r.previous_contact_id.as_ref(),
        MAX_ID_LEN,
    )?;
    bounded("NextContactId", r.next_contact_id.as_ref(), MAX_ID_LEN)?;
    w.at("InitiationTimestamp", r.initiation_timestamp)?;
    // The record's other times lie around its initiation: a LastUpdateTimestamp of
    // 9999-12-31 would otherwise pin the contact against every later copy.
    let start = (!r.initiation_timestamp.is_unset()).then(|| r.initiation_timestamp.millis());
    let near = |field: &'static str, at: Option<Timestamp>| -> Result<(), Invalid> {
        let Some(at) = at.filter(|t| !t.is_unset()) else {
            return Ok(());
        };
        w.at(field, at)?;
        let Some(start) = start else { return Ok(()) };
        let why = if at.millis() < start.saturating_sub(MAX_SKEW_MS) {
            "before the record's InitiationTimestamp"
        } else if at.millis() > start.saturating_add(MAX_SPAN_MS) {
            "more than 30 days after the record's InitiationTimestamp"
        } else {
            return Ok(());
        };
        Err(Invalid {
            field,
            problem: Problem::Timestamp { at, why },
        })
    };
    near("LastUpdateTimestamp", Some(r.last_update_timestamp))?;
    near("DisconnectTimestamp", r.disconnect_timestamp)?;
    if let Some(q) = &r.queue {
        bounded("Queue.ARN", q.arn.as_ref(), MAX_ARN_LEN)?;
        bounded("Queue.Name", q.name.as_ref(), MAX_NAME_LEN)?;
        near("Queue.EnqueueTimestamp", q.enqueue_timestamp)?;
        near("Queue.DequeueTimestamp", q.dequeue_timestamp)?;
        amount("Queue.Duration", q.duration, MAX_DURATION_S)?;
    }
    if let Some(a) = &r.agent {
        bounded("Agent.ARN", a.arn.as_ref(), MAX_ARN_LEN)?;
        bounded("Agent.Username", a.username.as_ref(), MAX_NAME_LEN)?;
        near(
            "Agent.ConnectedToAgentTimestamp",
            a.connected_to_agent_timestamp,
        )?;
        amount(
            "Agent.AgentInteractionDuration",
            a.agent_interaction_duration,
            MAX_DURATION_S,
        )?;
        amount(
            "Agent.CustomerHoldDuration",
            a.customer_hold_duration,
            MAX_DURATION_S,
        )?;
        amount(
            "Agent.AfterContactWorkDuration",
            a.after_contact_work_duration,
            MAX_DURATION_S,
        )?;
        amount("Agent.NumberOfHolds", a.number_of_holds, MAX_COUNT)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_model::RecordKind;

    const CTR: &str = r#"{"ContactId":"c-1","Channel":"VOICE","InitiationMethod":"INBOUND",
        "InitiationTimestamp":"2026-01-05T09:00:00Z","LastUpdateTimestamp":"2026-01-05T09:10:00Z",
        "DisconnectTimestamp":"2026-01-05T09:09:00Z",
        "Queue":{"Name":"Sales","EnqueueTimestamp":"2026-01-05T09:00:10Z","Duration":20},
        "Agent":{"ARN":"arn:aws:connect:agent/a","ConnectedToAgentTimestamp":"2026-01-05T09:00:30Z",
          "AgentInteractionDuration":300,"CustomerHoldDuration":20,"NumberOfHolds":1,
          "AfterContactWorkDuration":30}}"#;

    fn arrival() -> Option<Timestamp> {
        Some(Timestamp::parse("2026-01-05T09:11:00Z").unwrap())
    }

    fn ctr(replace: (&str, &str)) -> Result<(), Invalid> {
        let text = CTR.replace(replace.0, replace.1);
        let view = RecordView::parse(RecordKind::ContactRecord, false, text.as_bytes())
            .unwrap_or_else(|e| panic!("{e}: {text}"));
        check(&view, arrival())
    }

    #[test]
    fn a_plausible_record_passes() {
        assert_eq!(ctr(("", "")), Ok(()));
        // Connect's placeholder for an unset time is not a 1970 date.
        assert_eq!(
            ctr((
                r#""DisconnectTimestamp":"2026-01-05T09:09:00Z""#,
                r#""DisconnectTimestamp":"1970-01-01T00:00:00.001Z""#
            )),
            Ok(())
        );
    }

    #[test]
    fn durations_counts_ids_and_times_are_refused_with_their_field() {
        let cases: [((&str, &str), &str, &str); 9] = [
            (
                (
                    r#""CustomerHoldDuration":20"#,
                    r#""CustomerHoldDuration":-5"#,
                ),
                "Agent.CustomerHoldDuration",
                "negative",
            ),
            (
                (
                    r#""AgentInteractionDuration":300"#,
                    r#""AgentInteractionDuration":9223372036854775807"#,
                ),
                "Agent.AgentInteractionDuration",
                "too_large",
            ),
            (
                (r#""NumberOfHolds":1"#, r#""NumberOfHolds":100000"#),
                "Agent.NumberOfHolds",
                "too_large",
            ),
            (
                (r#""Duration":20"#, r#""Duration":-1"#),
                "Queue.Duration",
                "negative",
            ),
            (
                (r#""ContactId":"c-1""#, r#""ContactId":"""#),
                "ContactId",
                "empty_id",
            ),
            (
                (
                    r#""ContactId":"c-1""#,
                    &format!(r#""ContactId":"{}""#, "x".repeat(5000)),
                ),
                "ContactId",
                "long_id",
            ),
            (
                (
                    r#""LastUpdateTimestamp":"2026-01-05T09:10:00Z""#,
                    r#""LastUpdateTimestamp":"9999-12-31T23:59:59Z""#,
                ),
                "LastUpdateTimestamp",
                "timestamp",
            ),
            (
                (
                    r#""InitiationTimestamp":"2026-01-05T09:00:00Z""#,
                    r#""InitiationTimestamp":"1999-01-01T00:00:00Z""#,
                ),
                "InitiationTimestamp",
                "timestamp",
            ),
            (
                (
                    r#""DisconnectTimestamp":"2026-01-05T09:09:00Z""#,
                    r#""DisconnectTimestamp":"2026-01-05T08:00:00Z""#,
                ),
                "DisconnectTimestamp",
                "timestamp",
            ),
        ];
        for (replace, field, reason) in cases {
            let e = ctr(replace).expect_err(field);
            assert_eq!((e.field, e.reason()), (field, reason), "{e}");
            assert!(e.to_string().contains(field), "{e}");
        }
    }

    #[test]
    fn a_future_record_is_refused_only_against_its_arrival() {
        let text = CTR.replace("2026-01-05", "2026-03-05");
        let view = RecordView::parse(RecordKind::ContactRecord, false, text.as_bytes()).unwrap();
        assert_eq!(check(&view, None), Ok(()));
        let e = check(&view, arrival()).unwrap_err();
        assert_eq!((e.field, e.reason()), ("InitiationTimestamp", "timestamp"));
    }

    #[test]
    fn agent_and_contact_events_are_checked() {
        let agent = r#"{"AgentARN":"","EventId":"e","EventTimestamp":"2026-01-05T09:00:00Z",
            "EventType":"HEART_BEAT"}"#;
        let view = RecordView::parse(RecordKind::AgentEvent, false, agent.as_bytes()).unwrap();
        assert_eq!(check(&view, arrival()).unwrap_err().field, "AgentARN");
        let agent = agent
            .replace(r#""AgentARN":"""#, r#""AgentARN":"a""#)
            .replace("2026-01-05T09:00:00Z", "9999-12-31T00:00:00Z");
        let view = RecordView::parse(RecordKind::AgentEvent, false, agent.as_bytes()).unwrap();
        assert_eq!(check(&view, arrival()).unwrap_err().field, "EventTimestamp");

        let event = format!(
            r#"{{"id":"{}","time":"2026-01-05T09:00:00Z",
            "detail":{{"eventType":"INITIATED","contactId":"c"}}}}"#,
            "i".repeat(300)
        );
        let view = RecordView::parse(RecordKind::ContactEvent, false, event.as_bytes()).unwrap();
        assert_eq!(check(&view, arrival()).unwrap_err().field, "id");
    }
}
