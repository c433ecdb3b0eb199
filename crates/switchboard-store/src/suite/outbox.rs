//! The outbox part of the store suite: what [`crate::outbox`] promises, checked through the
//! [`Store`] trait on every backend. Time is passed in (`now_ms`): leases run out because
//! a later `now_ms` is given, never by sleeping.

use switchboard_engine::{Changes, Engine, EngineConfig, EngineMeta};

use super::{alert, dump_rows, empty_batch, feed, Open};
use crate::{Batch, OutboxDepth, OutboxEntry, Positions, Store};

const LEASE: i64 = 30_000;

/// An entry for `sink` with `key` and `payload`, routed by rule `r1` at 1000 + its key's
/// length (so entries differ in `created_ms`).
pub fn entry(sink: &str, key: &str, payload: &[u8]) -> OutboxEntry {
    OutboxEntry {
        rule: "r1".into(),
        sink: sink.into(),
        key: key.into(),
        kind: "record".into(),
        payload: payload.to_vec(),
        event_ms: 500,
        created_ms: 1_000 + key.len() as i64,
    }
}

/// Commits `entries` with an otherwise empty batch.
fn commit_entries(store: &mut dyn Store, entries: &[OutboxEntry]) {
    let (changes, meta, pos) = (Changes::default(), EngineMeta::default(), Positions::new());
    store
        .commit(&empty_batch(&changes, &meta, &pos).with_outbox(entries))
        .unwrap();
}

/// The keys of claimed or peeked rows.
fn keys(rows: &[crate::OutboxRow]) -> Vec<&str> {
    rows.iter().map(|r| r.entry.key.as_str()).collect()
}

fn ids(rows: &[crate::OutboxRow]) -> Vec<i64> {
    rows.iter().map(|r| r.id).collect()
}

pub fn outbox_entries_commit_with_the_batch_and_claim_in_order(open: Open) {
    let mut f = open();
    let store = f.store.as_mut();
    let mut engine = Engine::new(EngineConfig::default());
    feed(&mut engine);
    let changes = engine.take_changes();
    let positions = Positions::from([("a.ndjson".to_owned(), "5".to_owned())]);
    // Routing order, not key order.
    let entries = [
        entry("crm", "k3", b"{\"n\":1}"),
        entry("crm", "k1", b"{\"n\":2}"),
        entry("s3", "k2", &[0, 159, 255]),
    ];
    store
        .commit(&Batch::new(&engine, &changes, &positions).with_outbox(&entries))
        .unwrap();
    assert_eq!(store.positions().unwrap(), positions);

    let queued = store.outbox_peek(None, 10).unwrap();
    assert_eq!(keys(&queued), ["k3", "k1", "k2"]);
    assert!(queued.windows(2).all(|w| w[0].id < w[1].id));
    for (row, want) in queued.iter().zip(&entries) {
        assert_eq!(&row.entry, want);
        assert_eq!((row.attempts, row.not_before_ms), (0, 0));
        assert_eq!(row.last_error, None);
    }
    assert_eq!(keys(&store.outbox_peek(Some("s3"), 10).unwrap()), ["k2"]);
    assert_eq!(store.outbox_peek(None, 1).unwrap().len(), 1);

    let claimed = store
        .outbox_claim("crm", "w1", 10, 1 << 20, 2_000, LEASE)
        .unwrap();
    assert_eq!(claimed, queued[..2]);
    // Claimed rows stay queued (until delivered) and are still listed.
    assert_eq!(store.outbox_len().unwrap(), 3);
    assert!(store
        .outbox_claim("crm", "w2", 10, 1 << 20, 2_000, LEASE)
        .unwrap()
        .is_empty());
    // The dump shows the rows, binary payloads included.
    let dump = store.dump().unwrap();
    let rows = dump_rows(&dump, "outbox");
    assert_eq!(rows.len(), 3, "{rows:?}");
    // The same text in every store: sorted by sink and key, no ids or claims.
    assert_eq!(
        rows[2], "s3\tk2\tr1\trecord\tx'009fff'\t500\t1002\t0\t0\tNULL",
        "{rows:?}"
    );
    assert!(rows[0].starts_with("crm\tk1\t"), "{rows:?}");
}

pub fn outbox_keys_are_queued_once_per_sink(open: Open) {
    let mut f = open();
    let store = f.store.as_mut();
    // Twice within one batch, then again in a later batch: one row.
    commit_entries(
        store,
        &[entry("crm", "k1", b"first"), entry("crm", "k1", b"second")],
    );
    commit_entries(store, &[entry("crm", "k1", b"third")]);
    let rows = store.outbox_peek(None, 10).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].entry.payload, b"first");

    // The same key for another sink is another item; outbox_insert counts what it added.
    let added = store
        .outbox_insert(&[
            entry("crm", "k1", b"again"),
            entry("s3", "k1", b"archive"),
            entry("s3", "k2", b"archive"),
            entry("s3", "k2", b"archive"),
        ])
        .unwrap();
    assert_eq!(added, 2);
    assert_eq!(store.outbox_len().unwrap(), 3);
    assert_eq!(store.outbox_insert(&[]).unwrap(), 0);

    // Once delivered, the key is free again: the destination's idempotency takes over.
    let first = ids(&store.outbox_peek(Some("crm"), 10).unwrap());
    store.outbox_delivered(&first).unwrap();
    assert_eq!(store.outbox_insert(&[entry("crm", "k1", b"x")]).unwrap(), 1);
}

pub fn outbox_claim_respects_max_items_and_max_bytes(open: Open) {
    let mut f = open();
    let store = f.store.as_mut();
    let ten = [7u8; 10];
    let mut entries: Vec<OutboxEntry> = (1..=6)
        .map(|i| entry("crm", &format!("k{i}"), &ten))
        .collect();
    entries.push(entry("crm", "big", &[1u8; 100]));
    entries.push(entry("crm", "after-big", &ten));
    entries.insert(2, entry("other", "o1", &ten));
    commit_entries(store, &entries);

    let now = 5_000;
    let claim = |store: &mut dyn Store, items, bytes| {
        store
            .outbox_claim("crm", "w1", items, bytes, now, LEASE)
            .unwrap()
    };
    assert!(
        claim(store, 0, 1_000).is_empty(),
        "max_items 0 claims nothing"
    );
    assert_eq!(keys(&claim(store, 2, 1_000)), ["k1", "k2"]);
    // 10 + 10 fits in 25, a third would not.
    assert_eq!(keys(&claim(store, 10, 25)), ["k3", "k4"]);
    // Exactly at the limit is within it.
    assert_eq!(keys(&claim(store, 10, 20)), ["k5", "k6"]);
    // A row larger than the limit alone still goes, alone.
    assert_eq!(keys(&claim(store, 10, 50)), ["big"]);
    assert_eq!(keys(&claim(store, 10, 0)), ["after-big"]);
    assert!(claim(store, 10, 1_000).is_empty());
    // The other sink's row was never touched.
    let other = store
        .outbox_claim("other", "w1", 10, 1_000, now, LEASE)
        .unwrap();
    assert_eq!(keys(&other), ["o1"]);
}

pub fn outbox_claim_respects_not_before_and_live_claims(open: Open) {
    let mut f = open();
    let store = f.store.as_mut();
    commit_entries(store, &[entry("crm", "k1", b"a"), entry("crm", "k2", b"b")]);

    let first = store
        .outbox_claim("crm", "w1", 10, 1_000, 10_000, 500)
        .unwrap();
    assert_eq!(keys(&first), ["k1", "k2"]);
    // While w1's lease lasts, w2 gets nothing...
    for now in [10_000, 10_499] {
        let none = store
            .outbox_claim("crm", "w2", 10, 1_000, now, 500)
            .unwrap();
        assert!(none.is_empty(), "at {now}: {none:?}");
    }
    // ...and when it ends (w1 died), w2 takes them, oldest first, attempts unchanged.
    let second = store
        .outbox_claim("crm", "w2", 10, 1_000, 10_500, 500)
        .unwrap();
    assert_eq!(ids(&second), ids(&first));
    assert!(second.iter().all(|r| r.attempts == 0));

    // A retry waits for its time.
    store
        .outbox_retry(&[(second[0].id, 20_000, "HTTP 503".into())])
        .unwrap();
    store.outbox_release(&[second[1].id]).unwrap();
    assert_eq!(
        keys(
            &store
                .outbox_claim("crm", "w3", 10, 1_000, 19_999, 500)
                .unwrap()
        ),
        ["k2"]
    );
    assert_eq!(
        keys(
            &store
                .outbox_claim("crm", "w3", 10, 1_000, 20_000, 500)
                .unwrap()
        ),
        ["k1"]
    );
}

/// Retried rows that are due and rows never tried come out together, oldest first.
pub fn outbox_claim_mixes_due_retries_and_fresh_rows_by_age(open: Open) {
    let mut f = open();
    let store = f.store.as_mut();
    let entries: Vec<_> = (1..=5)
        .map(|i| entry("crm", &format!("k{i}"), b"x"))
        .collect();
    commit_entries(store, &entries);
    let all = store.outbox_claim("crm", "w1", 10, 1_000, 0, 10).unwrap();
    let id = |k: usize| all[k - 1].id;
    store
        .outbox_retry(&[
            (id(1), 100, "e".into()),
            (id(3), 50, "e".into()),
            (id(4), 300, "e".into()),
            // Before the epoch: at once.
            (id(5), -7, "e".into()),
        ])
        .unwrap();
    store.outbox_release(&[id(2)]).unwrap();
    let row5 = &store.outbox_peek(None, 10).unwrap()[4];
    assert_eq!(row5.not_before_ms, 0);
    assert_eq!(
        keys(
            &store
                .outbox_claim("crm", "w2", 2, 1_000, 200, LEASE)
                .unwrap()
        ),
        ["k1", "k2"]
    );
    assert_eq!(
        keys(
            &store
                .outbox_claim("crm", "w2", 10, 1_000, 200, LEASE)
                .unwrap()
        ),
        ["k3", "k5"]
    );
    assert_eq!(
        keys(
            &store
                .outbox_claim("crm", "w2", 10, 1_000, 300, LEASE)
                .unwrap()
        ),
        ["k4"]
    );
}

pub fn outbox_retry_counts_an_attempt_and_releases_the_claim(open: Open) {
    let mut f = open();
    let store = f.store.as_mut();
    commit_entries(store, &[entry("crm", "k1", b"a"), entry("crm", "k2", b"b")]);
    let claimed = store
        .outbox_claim("crm", "w1", 10, 1_000, 1_000, LEASE)
        .unwrap();
    let (a, b) = (claimed[0].id, claimed[1].id);
    store
        .outbox_retry(&[
            (a, 2_000, "timed out".into()),
            (b, 3_000, "HTTP 500".into()),
        ])
        .unwrap();
    store
        .outbox_retry(&[(a, 4_000, "HTTP 429".into())])
        .unwrap();
    store.outbox_retry(&[]).unwrap();
    let rows = store.outbox_peek(Some("crm"), 10).unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| (r.attempts, r.not_before_ms, r.last_error.as_deref()))
            .collect::<Vec<_>>(),
        [(2, 4_000, Some("HTTP 429")), (1, 3_000, Some("HTTP 500"))]
    );
    // Released: claimable by anyone once due, well inside the first lease.
    let again = store
        .outbox_claim("crm", "w2", 10, 1_000, 3_000, LEASE)
        .unwrap();
    assert_eq!(ids(&again), [b]);
    assert_eq!(again[0].attempts, 1);
    let depth = store.outbox_depth(4_000).unwrap();
    assert_eq!(depth[0].ready, 1, "a is due, b is claimed: {depth:?}");
}

pub fn outbox_delivered_rows_leave(open: Open) {
    let mut f = open();
    let store = f.store.as_mut();
    commit_entries(
        store,
        &[
            entry("crm", "k1", b"a"),
            entry("crm", "k2", b"b"),
            entry("crm", "k3", b"c"),
        ],
    );
    let claimed = store
        .outbox_claim("crm", "w1", 2, 1_000, 1_000, LEASE)
        .unwrap();
    // Unknown and repeated ids are ignored.
    let mut done = ids(&claimed);
    done.extend([claimed[0].id, 999_999]);
    store.outbox_delivered(&done).unwrap();
    store.outbox_delivered(&[]).unwrap();
    assert_eq!(keys(&store.outbox_peek(None, 10).unwrap()), ["k3"]);
    assert_eq!(store.outbox_len().unwrap(), 1);
}

pub fn outbox_dead_deletes_and_inserts_in_one_transaction(open: Open) {
    let mut f = open();
    let store = f.store.as_mut();
    commit_entries(store, &[entry("crm", "k1", b"a"), entry("crm", "k2", b"b")]);
    let claimed = store
        .outbox_claim("crm", "w1", 10, 1_000, 1_000, LEASE)
        .unwrap();
    let (a, b) = (claimed[0].id, claimed[1].id);

    // A dead letter the store refuses (no sink) rolls the deletion back too.
    let refused = entry("", "dl-k1", b"{}");
    assert!(store.outbox_dead(&[a], &[refused]).is_err());
    assert_eq!(keys(&store.outbox_peek(None, 10).unwrap()), ["k1", "k2"]);

    let letter = OutboxEntry {
        kind: "dead_letter".into(),
        ..entry("dead_letters", "dl-k1", b"{\"error\":\"HTTP 400\"}")
    };
    store
        .outbox_dead(&[a], std::slice::from_ref(&letter))
        .unwrap();
    let rows = store.outbox_peek(None, 10).unwrap();
    assert_eq!(keys(&rows), ["k2", "dl-k1"]);
    assert_eq!(rows[1].entry, letter);
    assert!(rows[1].id > b, "dead letters queue behind what was there");
    // The dead letter is ready for its own sink at once.
    let dl = store
        .outbox_claim("dead_letters", "w9", 10, 1_000, 1_000, LEASE)
        .unwrap();
    assert_eq!(keys(&dl), ["dl-k1"]);
    // Only deleting, or only inserting, works too.
    store.outbox_dead(&[b], &[]).unwrap();
    store
        .outbox_dead(&[], &[entry("dead_letters", "dl-k3", b"{}")])
        .unwrap();
    store.outbox_dead(&[], &[]).unwrap();
    assert_eq!(
        keys(&store.outbox_peek(None, 10).unwrap()),
        ["dl-k1", "dl-k3"]
    );
}

pub fn outbox_release_gives_claims_back_without_an_attempt(open: Open) {
    let mut f = open();
    let store = f.store.as_mut();
    commit_entries(store, &[entry("crm", "k1", b"a"), entry("crm", "k2", b"b")]);
    let claimed = store
        .outbox_claim("crm", "w1", 10, 1_000, 1_000, LEASE)
        .unwrap();
    store.outbox_release(&ids(&claimed)).unwrap();
    store.outbox_release(&[]).unwrap();
    let again = store
        .outbox_claim("crm", "w2", 10, 1_000, 1_000, LEASE)
        .unwrap();
    assert_eq!(ids(&again), ids(&claimed));
    assert!(again
        .iter()
        .all(|r| r.attempts == 0 && r.last_error.is_none()));
}

pub fn outbox_depth_and_len_count_per_sink(open: Open) {
    let mut f = open();
    let store = f.store.as_mut();
    assert!(store.outbox_depth(0).unwrap().is_empty());
    assert_eq!(store.outbox_len().unwrap(), 0);

    commit_entries(
        store,
        &[
            entry("s3", "a", &[0; 5]),
            entry("crm", "bb", &[0; 10]),
            entry("crm", "c", &[0; 20]),
            entry("crm", "dddd", &[0; 30]),
            entry("crm", "eee", &[]),
        ],
    );
    // One claimed (live at 1_000), one waiting for a retry at 9_000.
    let claimed = store.outbox_claim("crm", "w1", 1, 1_000, 0, 5_000).unwrap();
    assert_eq!(keys(&claimed), ["bb"]);
    let c = store.outbox_claim("crm", "w1", 1, 1_000, 0, 5_000).unwrap();
    store
        .outbox_retry(&[(c[0].id, 9_000, "HTTP 503".into())])
        .unwrap();

    let depth = store.outbox_depth(1_000).unwrap();
    assert_eq!(
        depth,
        [
            OutboxDepth {
                sink: "crm".into(),
                items: 4,
                bytes: 60,
                oldest_created_ms: Some(1_001),
                ready: 2,
            },
            OutboxDepth {
                sink: "s3".into(),
                items: 1,
                bytes: 5,
                oldest_created_ms: Some(1_001),
                ready: 1,
            },
        ]
    );
    // Later the lease has ended and the retry is due.
    assert_eq!(store.outbox_depth(9_000).unwrap()[0].ready, 4);
    assert_eq!(store.outbox_len().unwrap(), 5);
}

pub fn outbox_failed_commit_leaves_no_rows(open: Open) {
    let mut f = open();
    let store = f.store.as_mut();
    let (meta, pos) = (
        EngineMeta::default(),
        Positions::from([("f".into(), "1".into())]),
    );
    let changes = Changes {
        alerts: vec![alert("a1", None)],
        ..Changes::default()
    };
    // The second entry names no sink: the store refuses it, and with it the whole batch.
    let entries = [entry("crm", "k1", b"a"), entry("", "k2", b"b")];
    let err = store
        .commit(&empty_batch(&changes, &meta, &pos).with_outbox(&entries))
        .unwrap_err();
    assert!(err.to_string().contains("outbox"), "{err}");
    assert_eq!(store.outbox_len().unwrap(), 0);
    assert!(store.alerts(false).unwrap().is_empty());
    assert!(store.positions().unwrap().is_empty());
    // An entry without a key is refused the same way, outside a commit too.
    assert!(store.outbox_insert(&[entry("crm", "", b"a")]).is_err());
    assert_eq!(store.outbox_len().unwrap(), 0);

    store
        .commit(&empty_batch(&changes, &meta, &pos).with_outbox(&entries[..1]))
        .unwrap();
    assert_eq!(store.outbox_len().unwrap(), 1);
    assert_eq!(store.alerts(false).unwrap().len(), 1);
}

pub fn outbox_nul_characters_are_stored_alike(open: Open) {
    let mut f = open();
    let store = f.store.as_mut();
    commit_entries(store, &[entry("crm", "k\0", b"\0")]);
    let rows = store
        .outbox_claim("crm", "w\0", 10, 1_000, 0, LEASE)
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].entry.key, "k\u{FFFD}");
    assert_eq!(
        rows[0].entry.payload, b"\0",
        "payloads are bytes, kept as they are"
    );
    store
        .outbox_retry(&[(rows[0].id, 0, "bad\0body".into())])
        .unwrap();
    let row = &store.outbox_peek(Some("crm"), 1).unwrap()[0];
    assert_eq!(row.last_error.as_deref(), Some("bad\u{FFFD}body"));
    // The same key with its NUL is the same item.
    assert_eq!(store.outbox_insert(&[entry("crm", "k\0", b"")]).unwrap(), 0);
}
