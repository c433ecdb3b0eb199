//! The pieces of the compact layout (schema version 3): deflated JSON, timestamps as
//! milliseconds with their written form only when it differs from the usual one, and
//! names (agent ARNs, usernames) as numbers.

use std::collections::HashMap;
use std::io::{Read, Write};

use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use flate2::{Compress, Compression, FlushCompress, Status};
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

thread_local! {
    /// One compressor per thread, reset between uses: making one allocates and zeroes
    /// its tables (hundreds of kilobytes), which cost more than compressing a record.
    static DEFLATE: std::cell::RefCell<Compress> =
        std::cell::RefCell::new(Compress::new(Compression::fast(), false));
}

/// Bytes deflated as they are (a record's original bytes): raw deflate, readable by
/// [`DeflateDecoder`].
pub(super) fn deflate_bytes(bytes: &[u8]) -> Vec<u8> {
    DEFLATE.with(|c| {
        let Ok(mut c) = c.try_borrow_mut() else {
            return deflate_fresh(bytes);
        };
        c.reset();
        let mut out = Vec::with_capacity(bytes.len() / 2 + 64);
        loop {
            let before = c.total_in() as usize;
            let Some(rest) = bytes.get(before..) else {
                return deflate_fresh(bytes);
            };
            match c.compress_vec(rest, &mut out, FlushCompress::Finish) {
                Ok(Status::StreamEnd) => return out,
                Ok(_) => out.reserve(out.capacity().max(64)),
                Err(_) => return deflate_fresh(bytes),
            }
        }
    })
}

/// [`deflate_bytes`] with a compressor of its own.
fn deflate_fresh(bytes: &[u8]) -> Vec<u8> {
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
    if at.is_plain_millis() {
        return None;
    }
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

/// Committed name ids, kept across commits (bounded: cleared when it grows past
/// [`NameIds::MAX`], then filled again from the table).
#[derive(Default)]
pub(super) struct NameIds {
    ids: HashMap<String, i64>,
}

impl NameIds {
    const MAX: usize = 1_000_000;

    /// Takes in the names a successful commit looked up or added.
    pub(super) fn learn(&mut self, added: HashMap<String, i64>) {
        if self.ids.len() + added.len() > Self::MAX {
            self.ids.clear();
        }
        self.ids.extend(added);
    }
}

/// Numbers for names within one commit: each name is looked up (or added) once. Names
/// the store already knows come from `known`; the others are read or inserted in the
/// commit's transaction and kept in `added`, for [`NameIds::learn`] once it commits (a
/// commit that fails forgets them with its rows).
pub(super) struct Names<'a> {
    known: &'a NameIds,
    pub(super) added: HashMap<String, i64>,
}

impl<'a> Names<'a> {
    pub(super) fn new(known: &'a NameIds) -> Self {
        Names {
            known,
            added: HashMap::new(),
        }
    }

    pub(super) fn id(
        &mut self,
        tx: &Transaction<'_>,
        path: &str,
        name: &str,
    ) -> Result<i64, StoreError> {
        if let Some(id) = self.known.ids.get(name).or_else(|| self.added.get(name)) {
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
        self.added.insert(name.to_owned(), id);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn inflate(blob: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        DeflateDecoder::new(blob)
            .read_to_end(&mut out)
            .expect("inflates");
        out
    }

    /// The shared compressor is reset between uses: every input comes back whole,
    /// whatever came before it, from empty to larger than its first output buffer.
    #[test]
    fn reused_compressor_round_trips() {
        let mut inputs: Vec<Vec<u8>> = vec![Vec::new(), b"{}".to_vec()];
        let mut x: u32 = 7;
        let noisy: Vec<u8> = (0..300_000)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                (x >> 16) as u8
            })
            .collect();
        inputs.push(noisy);
        inputs.push(br#"{"ContactId":"abc","Agent":null}"#.repeat(5000));
        inputs.push(b"x".to_vec());
        for round in 0..2 {
            for input in &inputs {
                let blob = deflate_bytes(input);
                assert_eq!(
                    &inflate(&blob),
                    input,
                    "round {round}, {} bytes",
                    input.len()
                );
            }
        }
    }

    #[test]
    fn plain_millis_have_no_text() {
        let plain = Timestamp::parse("2026-01-05T10:00:00.123Z").expect("parses");
        assert_eq!(at_text(plain), None);
        for odd in [
            "2026-01-05T10:00:00Z",
            "2026-01-05T10:00:00.1234Z",
            "2026-01-05T10:00:00.123+01:00",
        ] {
            let t = Timestamp::parse(odd).expect("parses");
            assert_eq!(at_text(t).as_deref(), Some(odd), "{odd}");
        }
    }
}
