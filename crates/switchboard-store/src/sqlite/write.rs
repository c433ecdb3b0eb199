//! [`Store::commit`](crate::Store::commit) for SQLite: one transaction per batch.
//!
//! Current states (agents, contacts without their entries, engine meta, positions) are
//! upserted whole; history (transitions, new timeline entries) is appended, in the
//! compact layout of [`super::compact`]; contact records keep the newest
//! `LastUpdateTimestamp`;
//! triggers are kept once per contact and kind; alerts are upserted by id so a `cleared`
//! event overwrites its `raised` row; metric deltas are *added* to the stored cells in
//! SQL, so the same totals come out whatever the batch boundaries were; outbox entries
//! are inserted unless their sink and key are already queued.
//!
//! The transaction is `IMMEDIATE`: it takes the write lock at once, waiting (up to the
//! busy timeout) for a sink worker's claim on another connection to finish.

use rusqlite::{params, Transaction, TransactionBehavior};
use serde::Serialize;
use switchboard_engine::{MetricCell, MetricKey};

use super::compact::{at_text, deflate_bytes, deflate_json, source_code, Names};
use super::SqliteStore;
use crate::columns::{phase_str, trigger_kind_str};
use crate::{Batch, StoreError};

pub(super) fn commit(store: &mut SqliteStore, batch: &Batch<'_>) -> Result<(), StoreError> {
    let path = store.path.as_str();
    let tx = store
        .conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_err(path, "starting a commit"))?;
    let mut names = Names::new(&store.names);
    write_agents(&tx, path, batch)?;
    write_contacts(&tx, path, batch, &mut names)?;
    write_entries(&tx, path, batch, &mut names)?;
    write_records(&tx, path, batch)?;
    write_transitions(&tx, path, batch, &mut names)?;
    write_triggers(&tx, path, batch)?;
    write_metrics(&tx, path, batch)?;
    write_alerts(&tx, path, batch)?;
    write_meta_and_positions(&tx, path, batch)?;
    super::outbox::insert_entries(&tx, path, batch.outbox)?;
    tx.commit().map_err(sql_err(path, "committing"))?;
    let added = names.added;
    store.names.learn(added);
    Ok(())
}

pub(super) fn sql_err<'a>(
    path: &'a str,
    context: &'static str,
) -> impl Fn(rusqlite::Error) -> StoreError + 'a {
    move |source| StoreError::Sqlite {
        path: path.to_owned(),
        context,
        source,
    }
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

fn write_agents(tx: &Transaction<'_>, path: &str, batch: &Batch<'_>) -> Result<(), StoreError> {
    let err = sql_err(path, "writing agents");
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO agents (agent_arn, username, effective, routing_profile, json)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (agent_arn) DO UPDATE SET
                username = excluded.username, effective = excluded.effective,
                routing_profile = excluded.routing_profile, json = excluded.json",
        )
        .map_err(&err)?;
    for a in &batch.agents {
        let json = to_json("agent", &a.agent_arn, a)?;
        stmt.execute(params![
            a.agent_arn,
            a.username,
            a.effective.as_str(),
            a.routing_profile,
            json
        ])
        .map_err(&err)?;
    }
    Ok(())
}

fn write_contacts(
    tx: &Transaction<'_>,
    path: &str,
    batch: &Batch<'_>,
    names: &mut Names<'_>,
) -> Result<(), StoreError> {
    let err = sql_err(path, "writing contacts");
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO contacts (contact_id, queue, agent, phase, active, initiated_at_ms, json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (contact_id) DO UPDATE SET
                queue = excluded.queue, agent = excluded.agent, phase = excluded.phase,
                active = excluded.active, initiated_at_ms = excluded.initiated_at_ms,
                json = excluded.json",
        )
        .map_err(&err)?;
    for c in &batch.contacts {
        // The entries are rows of their own (`write_entries`).
        let json = deflate_json("contact", &c.contact_id, &WithoutEntries(c))?;
        let agent = names.opt(tx, path, c.agent_arn.as_deref())?;
        stmt.execute(params![
            c.contact_id,
            c.queue,
            agent,
            phase_str(c.phase),
            c.is_active(),
            c.initiated_at.map(|t| t.millis()),
            json
        ])
        .map_err(&err)?;
    }
    Ok(())
}

/// A timeline serialised as it is but with an empty list of entries.
struct WithoutEntries<'a>(&'a switchboard_engine::ContactTimeline);

impl Serialize for WithoutEntries<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize_without_entries(s)
    }
}

/// The entries added since the last commit, each once: an entry already stored (the
/// same contact and arrival number) is kept as it is.
fn write_entries(
    tx: &Transaction<'_>,
    path: &str,
    batch: &Batch<'_>,
    names: &mut Names<'_>,
) -> Result<(), StoreError> {
    let err = sql_err(path, "writing timeline entries");
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO contact_entries (contact_id, n, at_ms, at, event, source, agent, queue,
                                          duration_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (contact_id, n) DO NOTHING",
        )
        .map_err(&err)?;
    for new in &batch.changes.entries {
        let e = &new.entry;
        let agent = names.opt(tx, path, e.agent_arn.as_deref())?;
        stmt.execute(params![
            new.contact_id,
            new.n,
            e.at.millis(),
            at_text(e.at),
            e.event.as_ref(),
            source_code(e.source),
            agent,
            e.queue,
            e.duration_ms
        ])
        .map_err(&err)?;
    }
    Ok(())
}

fn write_records(tx: &Transaction<'_>, path: &str, batch: &Batch<'_>) -> Result<(), StoreError> {
    let err = sql_err(path, "writing contact records");
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO contact_records (contact_id, last_update_ms, json) VALUES (?1, ?2, ?3)
             ON CONFLICT (contact_id) DO UPDATE SET
                last_update_ms = excluded.last_update_ms, json = excluded.json
             WHERE excluded.last_update_ms > contact_records.last_update_ms",
        )
        .map_err(&err)?;
    for r in &batch.changes.records {
        // The record as it arrived, not re-encoded: nulls and unknown fields included.
        let json = deflate_bytes(&r.raw);
        stmt.execute(params![
            r.contact_id,
            r.last_update_timestamp.millis(),
            json
        ])
        .map_err(&err)?;
    }
    Ok(())
}

fn write_transitions(
    tx: &Transaction<'_>,
    path: &str,
    batch: &Batch<'_>,
    names: &mut Names<'_>,
) -> Result<(), StoreError> {
    let err = sql_err(path, "writing transitions");
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO transitions (at_ms, at, kind, agent, username, contact_id, channel,
                                      queue, from_status, to_status, duration_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )
        .map_err(&err)?;
    for t in &batch.changes.transitions {
        let agent = names.id(tx, path, &t.agent_arn)?;
        let username = names.opt(tx, path, t.username.as_deref())?;
        stmt.execute(params![
            t.at.millis(),
            at_text(t.at),
            t.kind.as_str(),
            agent,
            username,
            t.contact_id,
            t.channel,
            t.queue,
            t.from,
            t.to,
            t.duration_ms
        ])
        .map_err(&err)?;
    }
    Ok(())
}

fn write_triggers(tx: &Transaction<'_>, path: &str, batch: &Batch<'_>) -> Result<(), StoreError> {
    let err = sql_err(path, "writing triggers");
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO triggers (contact_id, kind, initial_contact_id, at_ms, at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (contact_id, kind) DO NOTHING",
        )
        .map_err(&err)?;
    for t in &batch.changes.triggers {
        // The initial contact only where it is another one.
        let initial = Some(&t.initial_contact_id).filter(|i| **i != t.contact_id);
        stmt.execute(params![
            t.contact_id,
            trigger_kind_str(t.kind),
            initial,
            t.at.millis(),
            at_text(t.at)
        ])
        .map_err(&err)?;
    }
    Ok(())
}

/// Adds the deltas to the cells. SQLite turns an integer sum that overflows into a REAL
/// (which the column would then keep for good); the CAST saturates it at the integer's
/// bounds instead, and takes a REAL an older version stored back to an integer.
fn write_metrics(tx: &Transaction<'_>, path: &str, batch: &Batch<'_>) -> Result<(), StoreError> {
    let err = sql_err(path, "adding metric deltas");
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO metric_cells (start_ms, kind, id, offered, handled, abandoned,
                answered_in_sl, handle_s, talk_s, hold_s, holds, acw_s, answer_wait_s,
                abandon_wait_s, longest_wait_s)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
             ON CONFLICT (start_ms, kind, id) DO UPDATE SET
                offered = CAST(offered + excluded.offered AS INTEGER),
                handled = CAST(handled + excluded.handled AS INTEGER),
                abandoned = CAST(abandoned + excluded.abandoned AS INTEGER),
                answered_in_sl = CAST(answered_in_sl + excluded.answered_in_sl AS INTEGER),
                handle_s = CAST(handle_s + excluded.handle_s AS INTEGER),
                talk_s = CAST(talk_s + excluded.talk_s AS INTEGER),
                hold_s = CAST(hold_s + excluded.hold_s AS INTEGER),
                holds = CAST(holds + excluded.holds AS INTEGER),
                acw_s = CAST(acw_s + excluded.acw_s AS INTEGER),
                answer_wait_s = CAST(answer_wait_s + excluded.answer_wait_s AS INTEGER),
                abandon_wait_s = CAST(abandon_wait_s + excluded.abandon_wait_s AS INTEGER),
                longest_wait_s = max(longest_wait_s, excluded.longest_wait_s)",
        )
        .map_err(&err)?;
    for (k, c) in &batch.changes.metric_deltas {
        let MetricKey { start_ms, kind, id } = k;
        let MetricCell {
            offered,
            handled,
            abandoned,
            answered_in_sl,
            handle_s,
            talk_s,
            hold_s,
            holds,
            acw_s,
            answer_wait_s,
            abandon_wait_s,
            longest_wait_s,
        } = c;
        stmt.execute(params![
            start_ms,
            kind.as_str(),
            id,
            offered,
            handled,
            abandoned,
            answered_in_sl,
            handle_s,
            talk_s,
            hold_s,
            holds,
            acw_s,
            answer_wait_s,
            abandon_wait_s,
            longest_wait_s
        ])
        .map_err(&err)?;
    }
    Ok(())
}

fn write_alerts(tx: &Transaction<'_>, path: &str, batch: &Batch<'_>) -> Result<(), StoreError> {
    let err = sql_err(path, "writing alerts");
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO alerts (id, kind, subject, raised_at_ms, cleared_at_ms, json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (id) DO UPDATE SET
                kind = excluded.kind, subject = excluded.subject,
                raised_at_ms = excluded.raised_at_ms, cleared_at_ms = excluded.cleared_at_ms,
                json = excluded.json",
        )
        .map_err(&err)?;
    for ev in &batch.changes.alerts {
        let a = &ev.alert;
        let json = to_json("alert", &a.id, a)?;
        stmt.execute(params![
            a.id,
            a.kind.as_str(),
            a.subject,
            a.raised_at.millis(),
            a.cleared_at.map(|t| t.millis()),
            json
        ])
        .map_err(&err)?;
    }
    Ok(())
}

fn write_meta_and_positions(
    tx: &Transaction<'_>,
    path: &str,
    batch: &Batch<'_>,
) -> Result<(), StoreError> {
    let err = sql_err(path, "writing engine meta and positions");
    let json = to_json("engine meta", "", batch.meta)?;
    tx.prepare_cached(
        "INSERT INTO engine_meta (id, json) VALUES (1, ?1)
         ON CONFLICT (id) DO UPDATE SET json = excluded.json",
    )
    .and_then(|mut s| s.execute([json]))
    .map_err(&err)?;
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO positions (source, position) VALUES (?1, ?2)
             ON CONFLICT (source) DO UPDATE SET position = excluded.position",
        )
        .map_err(&err)?;
    for (source, position) in batch.positions {
        stmt.execute([source, position]).map_err(&err)?;
    }
    Ok(())
}
