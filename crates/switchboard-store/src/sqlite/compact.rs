//! The pieces of the compact layout (schema version 3): deflated JSON, timestamps as
//! milliseconds with their written form only when it differs from the usual one, and
//! names (agent ARNs, usernames) as numbers.

use std::collections::HashMap;
use std::io::{Read, Write};

use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use flate2::Compression;
use rusqlite::{OptionalExtension, Transaction};
use serde::de::DeserializeOwned;
use serde::Serialize;
use switchboard_engine::EntrySource;
use switchboard_model::Timestamp;

use super::write::sql_err;
use crate::StoreError;

/// `value` as deflated JSON.
pub(super) fn deflate_json<T: Serialize + ?Sized>(
    what: &'static str,
    key: &str,
    value: &T,
) -> Result<Vec<u8>, StoreError> {
    let json = serde_json::to_vec(value).map_err(|source| StoreError::Encode {
        what,
        key: key.to_owned(),
        source,
    })?;
    Ok(deflate_bytes(&json))
}

/// Bytes deflated as they are (a record's original bytes).
pub(super) fn deflate_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut enc = DeflateEncoder::new(Vec::with_capacity(bytes.len() / 3), Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

/// Reads back what [`deflate_json`] wrote.
pub(super) fn inflate_json<T: DeserializeOwned>(
    path: &str,
    table: &'static str,
    key: &str,
    blob: &[u8],
) -> Result<T, StoreError> {
    let mut json = Vec::with_capacity(blob.len() * 4);
    DeflateDecoder::new(blob)
        .read_to_end(&mut json)
        .map_err(|e| StoreError::Damaged {
            path: path.to_owned(),
            table,
            key: key.to_owned(),
            reason: format!("stored JSON does not inflate: {e}"),
        })?;
    serde_json::from_slice(&json).map_err(|source| StoreError::Corrupt {
        path: path.to_owned(),
        table,
        key: key.to_owned(),
        source,
    })
}

/// The written form of `at`, if it is not the usual `...:SS.mmmZ` (stored beside the
/// milliseconds so the timestamp comes back exactly as it was).
pub(super) fn at_text(at: Timestamp) -> Option<String> {
    let text = at.to_string();
    (text != Timestamp::from_millis(at.millis()).to_string()).then_some(text)
}

/// The timestamp from its milliseconds and [`at_text`].
pub(super) fn at_from(
    path: &str,
    table: &'static str,
    key: &str,
    ms: i64,
    text: Option<String>,
) -> Result<Timestamp, StoreError> {
    match text {
        None => Ok(Timestamp::from_millis(ms)),
        Some(t) => Timestamp::parse(&t).map_err(|e| StoreError::Damaged {
            path: path.to_owned(),
            table,
            key: key.to_owned(),
            reason: e.to_string(),
        }),
    }
}

pub(super) fn source_code(s: EntrySource) -> i64 {
    match s {
        EntrySource::ContactEvent => 0,
        EntrySource::AgentEvent => 1,
        EntrySource::ContactRecord => 2,
    }
}

pub(super) fn source_of(code: i64) -> EntrySource {
    match code {
        0 => EntrySource::ContactEvent,
        1 => EntrySource::AgentEvent,
        _ => EntrySource::ContactRecord,
    }
}

/// Numbers for names within one commit: each name is looked up (or added) once.
#[derive(Default)]
pub(super) struct Names {
    ids: HashMap<String, i64>,
}

impl Names {
    pub(super) fn id(
        &mut self,
        tx: &Transaction<'_>,
        path: &str,
        name: &str,
    ) -> Result<i64, StoreError> {
        if let Some(id) = self.ids.get(name) {
            return Ok(*id);
        }
        let err = sql_err(path, "numbering names");
        let found: Option<i64> = tx
            .prepare_cached("SELECT id FROM names WHERE name = ?1")
            .and_then(|mut s| s.query_row([name], |r| r.get(0)).optional())
            .map_err(&err)?;
        let id = match found {
            Some(id) => id,
            None => {
                tx.prepare_cached("INSERT INTO names (name) VALUES (?1)")
                    .and_then(|mut s| s.execute([name]))
                    .map_err(&err)?;
                tx.last_insert_rowid()
            }
        };
        self.ids.insert(name.to_owned(), id);
        Ok(id)
    }

    pub(super) fn opt(
        &mut self,
        tx: &Transaction<'_>,
        path: &str,
        name: Option<&str>,
    ) -> Result<Option<i64>, StoreError> {
        name.map(|n| self.id(tx, path, n)).transpose()
    }
}
