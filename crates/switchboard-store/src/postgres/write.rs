//! [`Store::commit`](crate::Store::commit) for PostgreSQL: one transaction per batch,
//! safe with several workers committing at once (the module docs of [`super`] say how
//! each table is written).
//!
//! Outbox entries go in routing order (their ids follow it), after the other tables and
//! before the transitions' table lock; two workers queueing the same key at once wait on
//! each other's unique-index entry, and a deadlock between them is retried like any other.
//!
//! Each table takes one statement whatever the batch size: rows go in as arrays and come
//! out of `UNNEST`, so a commit costs a handful of round trips, not one per row.

use std::collections::{BTreeMap, HashMap, HashSet};

use postgres::error::SqlState;
use postgres::Transaction;
use serde::Serialize;
use switchboard_engine::{ContactTimeline, MetricKey};

use super::merge::merge;
use super::PostgresStore;
use crate::columns::{phase_str, trigger_kind_str};
use crate::{Batch, StoreError};

/// How many times a commit is tried when PostgreSQL reports a deadlock or a
/// serialization failure (another worker's commit got in the way).
pub(super) const ATTEMPTS: u32 = 5;

pub(super) fn commit(store: &mut PostgresStore, batch: &Batch<'_>) -> Result<(), StoreError> {
    let rows = Rows::of(batch)?;
    let mut attempt = 1;
    loop {
        match try_commit(store, batch, &rows) {
            Err(StoreError::Postgres { source, .. })
                if attempt < ATTEMPTS && is_transient(&source) =>
            {
                tracing::info!(store = %store.url, attempt, error = %source,
                    "commit collided with another worker's, retrying");
                attempt += 1;
            }
            other => return other,
        }
    }
}

pub(super) fn is_transient(e: &postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE
    )
}

fn try_commit(store: &PostgresStore, batch: &Batch<'_>, rows: &Rows<'_>) -> Result<(), StoreError> {
    let mut client = store.client()?;
    let mut tx = client
        .transaction()
        .map_err(store.err("starting a commit"))?;
    // Fixed table order, key order within each: see the module docs.
    write_agents(store, &mut tx, rows)?;
    write_contacts(store, &mut tx, batch)?;
    write_records(store, &mut tx, rows)?;
    write_triggers(store, &mut tx, rows)?;
    write_metrics(store, &mut tx, batch)?;
    write_alerts(store, &mut tx, rows)?;
    write_meta_and_positions(store, &mut tx, batch)?;
    super::outbox::insert_entries(store, &mut tx, batch.outbox)?;
    // Last, because it takes a table lock that is held until the commit.
    write_transitions(store, &mut tx, rows)?;
    tx.commit().map_err(store.err("committing"))
}

fn to_json<T: Serialize + ?Sized>(
    what: &'static str,
    key: &str,
    value: &T,
) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|source| StoreError::Encode {
        what,
        key: key.to_owned(),
        source,
    })
}

/// An agent row: ARN, username, effective state, routing profile, JSON.
type AgentRow<'a> = (&'a str, Option<&'a str>, &'a str, Option<&'a str>, String);
/// An alert row: id, kind, subject, raised at, cleared at, JSON.
type AlertRow<'a> = (&'a str, &'static str, &'a str, i64, Option<i64>, String);
/// A transition row: at, kind, agent ARN, contact id, JSON.
type TransitionRow<'a> = (i64, &'static str, &'a str, Option<&'a str>, String);

/// The batch as rows in key order, computed once (a retried commit reuses them).
struct Rows<'a> {
    /// Sorted by ARN.
    agents: Vec<AgentRow<'a>>,
    /// The newest copy of each record in the batch, by contact id: (last update, JSON).
    records: BTreeMap<&'a str, (i64, String)>,
    /// (contact id, kind) → (initial contact id, at, JSON), the first of each key.
    triggers: BTreeMap<(&'a str, &'static str), (&'a str, i64, String)>,
    /// The last event of each alert, by id.
    alerts: BTreeMap<&'a str, AlertRow<'a>>,
    /// In derivation order.
    transitions: Vec<TransitionRow<'a>>,
}

impl<'a> Rows<'a> {
    fn of(batch: &Batch<'a>) -> Result<Self, StoreError> {
        let mut agents = batch
            .agents
            .iter()
            .map(|a| {
                Ok((
                    a.agent_arn.as_str(),
                    a.username.as_deref(),
                    a.effective.as_str(),
                    a.routing_profile.as_deref(),
                    to_json("agent", &a.agent_arn, a)?,
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        agents.sort_by(|a, b| a.0.cmp(b.0));
        agents.dedup_by(|a, b| a.0 == b.0);

        let mut records = BTreeMap::new();
        for r in &batch.changes.records {
            let at = r.last_update_timestamp.millis();
            let newer = records
                .get(r.contact_id.as_str())
                .is_none_or(|(held, _): &(i64, String)| at > *held);
            if newer {
                // The record as it arrived, not re-encoded.
                let json = String::from_utf8_lossy(&r.raw).into_owned();
                records.insert(r.contact_id.as_str(), (at, json));
            }
        }

        let mut triggers = BTreeMap::new();
        for t in &batch.changes.triggers {
            let key = (t.contact_id.as_str(), trigger_kind_str(t.kind));
            if let std::collections::btree_map::Entry::Vacant(slot) = triggers.entry(key) {
                let json = to_json("trigger for", &t.contact_id, t)?;
                slot.insert((t.initial_contact_id.as_str(), t.at.millis(), json));
            }
        }

        let mut alerts = BTreeMap::new();
        for ev in &batch.changes.alerts {
            let a = &ev.alert;
            let row = (
                a.id.as_str(),
                a.kind.as_str(),
                a.subject.as_str(),
                a.raised_at.millis(),
                a.cleared_at.map(|t| t.millis()),
                to_json("alert", &a.id, a)?,
            );
            alerts.insert(a.id.as_str(), row);
        }

        let transitions = batch
            .changes
            .transitions
            .iter()
            .map(|t| {
                Ok((
                    t.at.millis(),
                    t.kind.as_str(),
                    t.agent_arn.as_str(),
                    t.contact_id.as_deref(),
                    to_json("transition of", &t.agent_arn, t)?,
                ))
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(Rows {
            agents,
            records,
            triggers,
            alerts,
            transitions,
        })
    }
}

fn write_agents(
    store: &PostgresStore,
    tx: &mut Transaction<'_>,
    rows: &Rows<'_>,
) -> Result<(), StoreError> {
    if rows.agents.is_empty() {
        return Ok(());
    }
    let r = &rows.agents;
    let arn: Vec<&str> = r.iter().map(|a| a.0).collect();
    let username: Vec<Option<&str>> = r.iter().map(|a| a.1).collect();
    let effective: Vec<&str> = r.iter().map(|a| a.2).collect();
    let profile: Vec<Option<&str>> = r.iter().map(|a| a.3).collect();
    let json: Vec<&str> = r.iter().map(|a| a.4.as_str()).collect();
    tx.execute(
        "INSERT INTO agents (agent_arn, username, effective, routing_profile, json)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
         ON CONFLICT (agent_arn) DO UPDATE SET
            username = excluded.username, effective = excluded.effective,
            routing_profile = excluded.routing_profile, json = excluded.json",
        &[&arn, &username, &effective, &profile, &json],
    )
    .map_err(store.err("writing agents"))?;
    Ok(())
}

/// The stored timelines of `ids` (sorted), locked until the commit.
fn lock_contacts(
    store: &PostgresStore,
    tx: &mut Transaction<'_>,
    ids: &[&str],
) -> Result<HashMap<String, ContactTimeline>, StoreError> {
    let rows = tx
        .query(
            "SELECT contact_id, json FROM contacts WHERE contact_id = ANY($1)
             ORDER BY contact_id FOR UPDATE",
            &[&ids],
        )
        .map_err(store.err("locking contacts"))?;
    rows.iter()
        .map(|r| {
            let id: String = r.get(0);
            let json: &str = r.get(1);
            let timeline =
                serde_json::from_str(json).map_err(|e| store.corrupt("contacts", &id, e))?;
            Ok((id, timeline))
        })
        .collect()
}

/// The columns of a contacts row, from a timeline.
struct ContactRow {
    id: String,
    initial: String,
    queue: Option<String>,
    agent_arn: Option<String>,
    phase: &'static str,
    active: bool,
    initiated_at_ms: Option<i64>,
    json: String,
}

impl ContactRow {
    fn of(c: &ContactTimeline) -> Result<Self, StoreError> {
        // Entries are rows of their own: the JSON keeps an empty list in their place.
        let json = if c.entries.is_empty() {
            to_json("contact", &c.contact_id, c)?
        } else {
            let bare = ContactTimeline {
                entries: Vec::new(),
                ..c.clone()
            };
            to_json("contact", &c.contact_id, &bare)?
        };
        Ok(ContactRow {
            id: c.contact_id.clone(),
            initial: c.initial_contact_id().to_owned(),
            queue: c.queue.clone(),
            agent_arn: c.agent_arn.clone(),
            phase: phase_str(c.phase),
            active: c.is_active(),
            initiated_at_ms: c.initiated_at.map(|t| t.millis()),
            json,
        })
    }
}

fn write_contacts(
    store: &PostgresStore,
    tx: &mut Transaction<'_>,
    batch: &Batch<'_>,
) -> Result<(), StoreError> {
    if batch.contacts.is_empty() {
        return Ok(());
    }
    let mut incoming: Vec<&ContactTimeline> = batch.contacts.clone();
    incoming.sort_by(|a, b| a.contact_id.cmp(&b.contact_id));
    incoming.dedup_by(|a, b| a.contact_id == b.contact_id);
    let ids: Vec<&str> = incoming.iter().map(|c| c.contact_id.as_str()).collect();

    // Rows another worker already wrote are merged with ours under a row lock; new ones
    // are inserted, and the few a concurrent commit inserted first are merged after all.
    let mut stored = lock_contacts(store, tx, &ids)?;
    let mut updates = Vec::new();
    let mut inserts = Vec::new();
    for c in &incoming {
        match stored.remove(&c.contact_id) {
            Some(s) => updates.push(ContactRow::of(&merge(s, c))?),
            None => inserts.push(ContactRow::of(c)?),
        }
    }
    let inserted = insert_contacts(store, tx, &inserts)?;
    let raced: Vec<&str> = inserts
        .iter()
        .filter(|r| !inserted.contains(&r.id))
        .map(|r| r.id.as_str())
        .collect();
    if !raced.is_empty() {
        let mut stored = lock_contacts(store, tx, &raced)?;
        for c in &incoming {
            if let Some(s) = stored.remove(&c.contact_id) {
                updates.push(ContactRow::of(&merge(s, c))?);
            }
        }
    }
    update_contacts(store, tx, &updates)?;
    write_entries(store, tx, &incoming)
}

/// Column arrays of contact rows, for `UNNEST`.
struct ContactColumns<'a> {
    id: Vec<&'a str>,
    initial: Vec<&'a str>,
    queue: Vec<Option<&'a str>>,
    agent: Vec<Option<&'a str>>,
    phase: Vec<&'a str>,
    active: Vec<bool>,
    initiated: Vec<Option<i64>>,
    json: Vec<&'a str>,
}

impl<'a> ContactColumns<'a> {
    fn of(rows: &'a [ContactRow]) -> Self {
        ContactColumns {
            id: rows.iter().map(|r| r.id.as_str()).collect(),
            initial: rows.iter().map(|r| r.initial.as_str()).collect(),
            queue: rows.iter().map(|r| r.queue.as_deref()).collect(),
            agent: rows.iter().map(|r| r.agent_arn.as_deref()).collect(),
            phase: rows.iter().map(|r| r.phase).collect(),
            active: rows.iter().map(|r| r.active).collect(),
            initiated: rows.iter().map(|r| r.initiated_at_ms).collect(),
            json: rows.iter().map(|r| r.json.as_str()).collect(),
        }
    }
}

const CONTACT_UNNEST: &str = "UNNEST($1::text[], $2::text[], $3::text[], $4::text[], \
     $5::text[], $6::bool[], $7::int8[], $8::text[]) \
     AS u(contact_id, initial_contact_id, queue, agent_arn, phase, active, initiated_at_ms, json)";

/// Inserts rows that were not stored; returns the ids actually inserted (a concurrent
/// commit may have inserted some of them first).
fn insert_contacts(
    store: &PostgresStore,
    tx: &mut Transaction<'_>,
    rows: &[ContactRow],
) -> Result<HashSet<String>, StoreError> {
    if rows.is_empty() {
        return Ok(HashSet::new());
    }
    let c = ContactColumns::of(rows);
    let inserted = tx
        .query(
            &format!(
                "INSERT INTO contacts (contact_id, initial_contact_id, queue, agent_arn, phase,
                                       active, initiated_at_ms, json)
                 SELECT * FROM {CONTACT_UNNEST}
                 ON CONFLICT (contact_id) DO NOTHING
                 RETURNING contact_id"
            ),
            &[
                &c.id,
                &c.initial,
                &c.queue,
                &c.agent,
                &c.phase,
                &c.active,
                &c.initiated,
                &c.json,
            ],
        )
        .map_err(store.err("writing contacts"))?;
    Ok(inserted.iter().map(|r| r.get(0)).collect())
}

fn update_contacts(
    store: &PostgresStore,
    tx: &mut Transaction<'_>,
    rows: &[ContactRow],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let c = ContactColumns::of(rows);
    tx.execute(
        &format!(
            "UPDATE contacts AS c SET
                initial_contact_id = u.initial_contact_id, queue = u.queue,
                agent_arn = u.agent_arn, phase = u.phase, active = u.active,
                initiated_at_ms = u.initiated_at_ms, json = u.json
             FROM {CONTACT_UNNEST}
             WHERE c.contact_id = u.contact_id"
        ),
        &[
            &c.id,
            &c.initial,
            &c.queue,
            &c.agent,
            &c.phase,
            &c.active,
            &c.initiated,
            &c.json,
        ],
    )
    .map_err(store.err("writing contacts"))?;
    Ok(())
}

/// Timeline entries, keyed by their content and how many equal entries come before them
/// in the timeline: what a worker stored before is left alone, what it adds is appended,
/// and another worker's entries stay.
fn write_entries(
    store: &PostgresStore,
    tx: &mut Transaction<'_>,
    contacts: &[&ContactTimeline],
) -> Result<(), StoreError> {
    let mut ids = Vec::new();
    let mut entries = Vec::new();
    let mut occurrences = Vec::new();
    let mut ats = Vec::new();
    for c in contacts {
        let mut seen: HashMap<String, i32> = HashMap::new();
        for e in &c.entries {
            let json = to_json("timeline entry of", &c.contact_id, e)?;
            let n = seen.entry(json.clone()).or_insert(0);
            ids.push(c.contact_id.as_str());
            entries.push(json);
            occurrences.push(*n);
            ats.push(e.at.millis());
            *n += 1;
        }
    }
    if ids.is_empty() {
        return Ok(());
    }
    // WITH ORDINALITY keeps the timeline's order for the new rows' insertion numbers.
    tx.execute(
        "INSERT INTO contact_entries (contact_id, entry, occurrence, at_ms)
         SELECT c, e, o, a
         FROM UNNEST($1::text[], $2::text[], $3::int4[], $4::int8[]) WITH ORDINALITY
              AS u(c, e, o, a, n)
         ORDER BY n
         ON CONFLICT (contact_id, entry, occurrence) DO NOTHING",
        &[&ids, &entries, &occurrences, &ats],
    )
    .map_err(store.err("writing timeline entries"))?;
    Ok(())
}

fn write_records(
    store: &PostgresStore,
    tx: &mut Transaction<'_>,
    rows: &Rows<'_>,
) -> Result<(), StoreError> {
    if rows.records.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = rows.records.keys().copied().collect();
    let at: Vec<i64> = rows.records.values().map(|(t, _)| *t).collect();
    let json: Vec<&str> = rows.records.values().map(|(_, j)| j.as_str()).collect();
    tx.execute(
        "INSERT INTO contact_records (contact_id, last_update_ms, json)
         SELECT * FROM UNNEST($1::text[], $2::int8[], $3::text[])
         ON CONFLICT (contact_id) DO UPDATE SET
            last_update_ms = excluded.last_update_ms, json = excluded.json
         WHERE excluded.last_update_ms > contact_records.last_update_ms",
        &[&ids, &at, &json],
    )
    .map_err(store.err("writing contact records"))?;
    Ok(())
}

fn write_triggers(
    store: &PostgresStore,
    tx: &mut Transaction<'_>,
    rows: &Rows<'_>,
) -> Result<(), StoreError> {
    if rows.triggers.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = rows.triggers.keys().map(|(c, _)| *c).collect();
    let kinds: Vec<&str> = rows.triggers.keys().map(|(_, k)| *k).collect();
    let initial: Vec<&str> = rows.triggers.values().map(|(i, _, _)| *i).collect();
    let at: Vec<i64> = rows.triggers.values().map(|(_, t, _)| *t).collect();
    let json: Vec<&str> = rows.triggers.values().map(|(_, _, j)| j.as_str()).collect();
    tx.execute(
        "INSERT INTO triggers (contact_id, kind, initial_contact_id, at_ms, json)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int8[], $5::text[])
         ON CONFLICT (contact_id, kind) DO NOTHING",
        &[&ids, &kinds, &initial, &at, &json],
    )
    .map_err(store.err("writing triggers"))?;
    Ok(())
}

fn write_metrics(
    store: &PostgresStore,
    tx: &mut Transaction<'_>,
    batch: &Batch<'_>,
) -> Result<(), StoreError> {
    let deltas = &batch.changes.metric_deltas;
    if deltas.is_empty() {
        return Ok(());
    }
    // A BTreeMap: already in key order.
    let start: Vec<i64> = deltas.keys().map(|k| k.start_ms).collect();
    let kind: Vec<&str> = deltas.keys().map(|k| k.kind.as_str()).collect();
    let id: Vec<&str> = deltas.keys().map(|k: &MetricKey| k.id.as_str()).collect();
    let col = |f: fn(&switchboard_engine::MetricCell) -> i64| -> Vec<i64> {
        deltas.values().map(f).collect()
    };
    let offered = col(|c| c.offered);
    let handled = col(|c| c.handled);
    let abandoned = col(|c| c.abandoned);
    let answered_in_sl = col(|c| c.answered_in_sl);
    let handle_s = col(|c| c.handle_s);
    let talk_s = col(|c| c.talk_s);
    let hold_s = col(|c| c.hold_s);
    let holds = col(|c| c.holds);
    let acw_s = col(|c| c.acw_s);
    let answer_wait_s = col(|c| c.answer_wait_s);
    let abandon_wait_s = col(|c| c.abandon_wait_s);
    let longest_wait_s = col(|c| c.longest_wait_s);
    // BIGINT + BIGINT past the type's bounds is an error that would fail every commit
    // from then on: the sum is taken as NUMERIC and clamped to BIGINT's range instead.
    tx.execute(
        "INSERT INTO metric_cells AS m (start_ms, kind, id, offered, handled, abandoned,
            answered_in_sl, handle_s, talk_s, hold_s, holds, acw_s, answer_wait_s,
            abandon_wait_s, longest_wait_s)
         SELECT * FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::int8[], $5::int8[],
            $6::int8[], $7::int8[], $8::int8[], $9::int8[], $10::int8[], $11::int8[],
            $12::int8[], $13::int8[], $14::int8[], $15::int8[])
         ON CONFLICT (start_ms, kind, id) DO UPDATE SET
            offered = LEAST(GREATEST(m.offered::numeric + excluded.offered,
                -9223372036854775808), 9223372036854775807)::int8,
            handled = LEAST(GREATEST(m.handled::numeric + excluded.handled,
                -9223372036854775808), 9223372036854775807)::int8,
            abandoned = LEAST(GREATEST(m.abandoned::numeric + excluded.abandoned,
                -9223372036854775808), 9223372036854775807)::int8,
            answered_in_sl = LEAST(GREATEST(m.answered_in_sl::numeric + excluded.answered_in_sl,
                -9223372036854775808), 9223372036854775807)::int8,
            handle_s = LEAST(GREATEST(m.handle_s::numeric + excluded.handle_s,
                -9223372036854775808), 9223372036854775807)::int8,
            talk_s = LEAST(GREATEST(m.talk_s::numeric + excluded.talk_s,
                -9223372036854775808), 9223372036854775807)::int8,
            hold_s = LEAST(GREATEST(m.hold_s::numeric + excluded.hold_s,
                -9223372036854775808), 9223372036854775807)::int8,
            holds = LEAST(GREATEST(m.holds::numeric + excluded.holds,
                -9223372036854775808), 9223372036854775807)::int8,
            acw_s = LEAST(GREATEST(m.acw_s::numeric + excluded.acw_s,
                -9223372036854775808), 9223372036854775807)::int8,
            answer_wait_s = LEAST(GREATEST(m.answer_wait_s::numeric + excluded.answer_wait_s,
                -9223372036854775808), 9223372036854775807)::int8,
            abandon_wait_s = LEAST(GREATEST(m.abandon_wait_s::numeric + excluded.abandon_wait_s,
                -9223372036854775808), 9223372036854775807)::int8,
            longest_wait_s = GREATEST(m.longest_wait_s, excluded.longest_wait_s)",
        &[
            &start,
            &kind,
            &id,
            &offered,
            &handled,
            &abandoned,
            &answered_in_sl,
            &handle_s,
            &talk_s,
            &hold_s,
            &holds,
            &acw_s,
            &answer_wait_s,
            &abandon_wait_s,
            &longest_wait_s,
        ],
    )
    .map_err(store.err("adding metric deltas"))?;
    Ok(())
}

fn write_alerts(
    store: &PostgresStore,
    tx: &mut Transaction<'_>,
    rows: &Rows<'_>,
) -> Result<(), StoreError> {
    if rows.alerts.is_empty() {
        return Ok(());
    }
    let r: Vec<&AlertRow<'_>> = rows.alerts.values().collect();
    let id: Vec<&str> = r.iter().map(|a| a.0).collect();
    let kind: Vec<&str> = r.iter().map(|a| a.1).collect();
    let subject: Vec<&str> = r.iter().map(|a| a.2).collect();
    let raised: Vec<i64> = r.iter().map(|a| a.3).collect();
    let cleared: Vec<Option<i64>> = r.iter().map(|a| a.4).collect();
    let json: Vec<&str> = r.iter().map(|a| a.5.as_str()).collect();
    tx.execute(
        "INSERT INTO alerts (id, kind, subject, raised_at_ms, cleared_at_ms, json)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int8[], $5::int8[],
                              $6::text[])
         ON CONFLICT (id) DO UPDATE SET
            kind = excluded.kind, subject = excluded.subject,
            raised_at_ms = excluded.raised_at_ms, cleared_at_ms = excluded.cleared_at_ms,
            json = excluded.json",
        &[&id, &kind, &subject, &raised, &cleared, &json],
    )
    .map_err(store.err("writing alerts"))?;
    Ok(())
}

fn write_meta_and_positions(
    store: &PostgresStore,
    tx: &mut Transaction<'_>,
    batch: &Batch<'_>,
) -> Result<(), StoreError> {
    let err = store.err("writing engine meta and positions");
    let json = to_json("engine meta", &store.worker, batch.meta)?;
    tx.execute(
        "INSERT INTO engine_meta (worker, json) VALUES ($1, $2)
         ON CONFLICT (worker) DO UPDATE SET json = excluded.json",
        &[&store.worker, &json],
    )
    .map_err(&err)?;
    if batch.positions.is_empty() {
        return Ok(());
    }
    let sources: Vec<&str> = batch.positions.keys().map(String::as_str).collect();
    let positions: Vec<&str> = batch.positions.values().map(String::as_str).collect();
    tx.execute(
        "INSERT INTO positions (source, position)
         SELECT * FROM UNNEST($1::text[], $2::text[])
         ON CONFLICT (source) DO UPDATE SET position = excluded.position",
        &[&sources, &positions],
    )
    .map_err(&err)?;
    Ok(())
}

fn write_transitions(
    store: &PostgresStore,
    tx: &mut Transaction<'_>,
    rows: &Rows<'_>,
) -> Result<(), StoreError> {
    if rows.transitions.is_empty() {
        return Ok(());
    }
    let err = store.err("writing transitions");
    // EXCLUSIVE blocks other writers of this table until we commit, not its readers:
    // sequence numbers are then taken in commit order.
    tx.batch_execute("LOCK TABLE transitions IN EXCLUSIVE MODE")
        .map_err(&err)?;
    let r = &rows.transitions;
    let at: Vec<i64> = r.iter().map(|t| t.0).collect();
    let kind: Vec<&str> = r.iter().map(|t| t.1).collect();
    let agent: Vec<&str> = r.iter().map(|t| t.2).collect();
    let contact: Vec<Option<&str>> = r.iter().map(|t| t.3).collect();
    let json: Vec<&str> = r.iter().map(|t| t.4.as_str()).collect();
    tx.execute(
        "INSERT INTO transitions (seq, at_ms, kind, agent_arn, contact_id, json)
         SELECT base.n + u.n, u.at_ms, u.kind, u.agent_arn, u.contact_id, u.json
         FROM (SELECT coalesce(max(seq), 0) AS n FROM transitions) AS base,
              UNNEST($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[])
                  WITH ORDINALITY AS u(at_ms, kind, agent_arn, contact_id, json, n)",
        &[&at, &kind, &agent, &contact, &json],
    )
    .map_err(&err)?;
    Ok(())
}
