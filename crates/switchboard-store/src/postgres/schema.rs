//! The PostgreSQL schema and its migrations.
//!
//! The same tables as the SQLite store, with three changes that let several workers
//! write one database at once (see the module docs of [`super`] for why):
//!
//! - a contact's timeline entries are rows of their own (`contact_entries`), keyed by
//!   their content, so two workers that each saw part of a contact add up instead of
//!   overwriting each other; `contacts.json` holds the rest of the timeline;
//! - `engine_meta` has one row per worker instead of a single row;
//! - transition sequence numbers are assigned at commit under a table lock rather than by
//!   a sequence, so they follow commit order without gaps.
//!
//! The version lives in `schema_version`. Opening a store applies every migration above
//! it in one transaction, under an advisory lock so that workers starting together do not
//! race; a version above [`VERSION`] is refused.

use crate::sqlite::schema::OUTBOX_DUMP;

/// Migrations, in order; `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`.
/// Never edit a released migration: append a new one.
pub const MIGRATIONS: &[&str] = &[V1, V2, V3];

/// The schema version this code reads and writes.
pub const VERSION: i64 = MIGRATIONS.len() as i64;

/// The advisory lock key migrations run under (any constant; "sb" + "schema").
pub const MIGRATION_LOCK: i64 = 0x7362_7363_6865_6d61;

const V1: &str = "
CREATE TABLE agents (
    agent_arn       TEXT PRIMARY KEY,
    username        TEXT,
    effective       TEXT NOT NULL,
    routing_profile TEXT,
    json            TEXT NOT NULL
);
CREATE INDEX agents_username ON agents (username);
CREATE INDEX agents_effective ON agents (effective);
CREATE INDEX agents_routing_profile ON agents (routing_profile);

CREATE TABLE contacts (
    contact_id         TEXT PRIMARY KEY,
    initial_contact_id TEXT NOT NULL,
    queue              TEXT,
    agent_arn          TEXT,
    phase              TEXT NOT NULL,
    active             BOOLEAN NOT NULL,
    initiated_at_ms    BIGINT,
    json               TEXT NOT NULL
);
CREATE INDEX contacts_initial ON contacts (initial_contact_id);
CREATE INDEX contacts_queue ON contacts (queue, initiated_at_ms);
CREATE INDEX contacts_agent ON contacts (agent_arn, initiated_at_ms);
CREATE INDEX contacts_active ON contacts (active, initiated_at_ms);
CREATE INDEX contacts_initiated ON contacts (initiated_at_ms);

CREATE TABLE contact_entries (
    contact_id TEXT NOT NULL,
    entry      TEXT NOT NULL,
    occurrence INTEGER NOT NULL,
    at_ms      BIGINT NOT NULL,
    seq        BIGSERIAL NOT NULL,
    PRIMARY KEY (contact_id, entry, occurrence)
);
CREATE INDEX contact_entries_order ON contact_entries (contact_id, at_ms, seq);

CREATE TABLE contact_records (
    contact_id     TEXT PRIMARY KEY,
    last_update_ms BIGINT NOT NULL,
    json           TEXT NOT NULL
);

CREATE TABLE transitions (
    seq        BIGINT PRIMARY KEY,
    at_ms      BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    agent_arn  TEXT NOT NULL,
    contact_id TEXT,
    json       TEXT NOT NULL
);
CREATE INDEX transitions_agent ON transitions (agent_arn, at_ms);
CREATE INDEX transitions_contact ON transitions (contact_id);
CREATE INDEX transitions_at ON transitions (at_ms);

CREATE TABLE triggers (
    contact_id         TEXT NOT NULL,
    kind               TEXT NOT NULL,
    initial_contact_id TEXT NOT NULL,
    at_ms              BIGINT NOT NULL,
    json               TEXT NOT NULL,
    PRIMARY KEY (contact_id, kind)
);

CREATE TABLE metric_cells (
    start_ms       BIGINT NOT NULL,
    kind           TEXT NOT NULL,
    id             TEXT NOT NULL,
    offered        BIGINT NOT NULL,
    handled        BIGINT NOT NULL,
    abandoned      BIGINT NOT NULL,
    answered_in_sl BIGINT NOT NULL,
    handle_s       BIGINT NOT NULL,
    talk_s         BIGINT NOT NULL,
    hold_s         BIGINT NOT NULL,
    holds          BIGINT NOT NULL,
    acw_s          BIGINT NOT NULL,
    answer_wait_s  BIGINT NOT NULL,
    abandon_wait_s BIGINT NOT NULL,
    longest_wait_s BIGINT NOT NULL,
    PRIMARY KEY (start_ms, kind, id)
);

CREATE TABLE alerts (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    subject       TEXT NOT NULL,
    raised_at_ms  BIGINT NOT NULL,
    cleared_at_ms BIGINT,
    json          TEXT NOT NULL
);
CREATE INDEX alerts_raised ON alerts (raised_at_ms);

CREATE TABLE engine_meta (
    worker TEXT PRIMARY KEY,
    json   TEXT NOT NULL
);

CREATE TABLE positions (
    source   TEXT PRIMARY KEY,
    position TEXT NOT NULL
);
";

/// The durable outbox (see [`crate::outbox`]), as in SQLite. Its ids come from a sequence:
/// never reused, increasing in insertion order, with gaps where an insert was skipped or
/// rolled back. Workers claim rows with `FOR UPDATE SKIP LOCKED`, so the claims of several
/// workers never wait on each other.
const V2: &str = "
CREATE TABLE outbox (
    id            BIGSERIAL PRIMARY KEY,
    rule          TEXT NOT NULL,
    sink          TEXT NOT NULL CONSTRAINT outbox_sink_named CHECK (sink <> ''),
    key           TEXT NOT NULL CONSTRAINT outbox_key_given CHECK (key <> ''),
    kind          TEXT NOT NULL,
    payload       BYTEA NOT NULL,
    event_ms      BIGINT NOT NULL,
    created_ms    BIGINT NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0,
    not_before_ms BIGINT NOT NULL DEFAULT 0,
    last_error    TEXT,
    claimed_by    TEXT,
    claimed_until BIGINT,
    UNIQUE (sink, key)
);
CREATE INDEX outbox_ready ON outbox (sink, not_before_ms, id);
";

/// Tables, the columns `dump` shows (the order a table's rows depend on, such as an entry's
/// insertion number or an outbox row's id, is left out: it is not content; nor are outbox
/// claims, which depend on timing) and the order of their rows.
pub const DUMP: &[(&str, &str, &str)] = &[
    (
        "agents",
        "agent_arn, username, effective, routing_profile, json",
        "agent_arn",
    ),
    (
        "contacts",
        "contact_id, initial_contact_id, queue, agent_arn, phase, active, initiated_at_ms, json",
        "contact_id",
    ),
    (
        "contact_entries",
        "contact_id, at_ms, occurrence, entry",
        "contact_id, at_ms, seq",
    ),
    (
        "contact_records",
        "contact_id, last_update_ms, json",
        "contact_id",
    ),
    (
        "transitions",
        "seq, at_ms, kind, agent_arn, contact_id, json",
        "seq",
    ),
    (
        "triggers",
        "contact_id, kind, initial_contact_id, at_ms, json",
        "contact_id, kind",
    ),
    (
        "metric_cells",
        "start_ms, kind, id, offered, handled, abandoned, answered_in_sl, handle_s, talk_s, \
         hold_s, holds, acw_s, answer_wait_s, abandon_wait_s, longest_wait_s",
        "start_ms, kind, id",
    ),
    (
        "alerts",
        "id, kind, subject, raised_at_ms, cleared_at_ms, json",
        "id",
    ),
    ("engine_meta", "worker, json", "worker"),
    ("positions", "source, position", "source"),
    ("outbox", OUTBOX_DUMP, "sink, key"),
];

/// Indexes that let retention find old triggers and cleared alerts without a scan.
const V3: &str = "
CREATE INDEX triggers_at ON triggers (at_ms);
CREATE INDEX alerts_cleared ON alerts (cleared_at_ms) WHERE cleared_at_ms IS NOT NULL;
";
