//! The SQLite schema and its migrations.
//!
//! The schema version lives in `PRAGMA user_version`. Opening a store applies every
//! migration above the stored version, in one transaction; a store with a version above
//! [`VERSION`] was written by a newer switchboard and is refused rather than misread.
//!
//! Since version 3 the store is compact (about a third of the bytes per contact of
//! version 2): history is kept in columns rather than JSON — transitions, triggers and
//! timeline entries are rows of their own, written once when they happen rather than
//! re-serialised with their whole timeline at each commit — agent ARNs (and usernames)
//! are numbers into the `names` table, and the JSON that remains (a contact's scalar
//! fields, its contact record) is stored deflated. Agents, alerts and the engine meta
//! keep their JSON as it was.
//!
//! A store of version 1 or 2 that holds data is refused with a message saying what to
//! do (replay the data into a new store); an empty one is migrated. See
//! [`super::SqliteStore::open`].

/// Migrations, in order; `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`.
/// Never edit a released migration: append a new one.
pub const MIGRATIONS: &[&str] = &[V1, V2, V3];

/// The first version whose layout an older store cannot be migrated to in place.
pub const COMPACT: i64 = 3;

/// The schema version this code reads and writes.
pub const VERSION: i64 = MIGRATIONS.len() as i64;

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
    active             INTEGER NOT NULL,
    initiated_at_ms    INTEGER,
    json               TEXT NOT NULL
);
CREATE INDEX contacts_initial ON contacts (initial_contact_id);
CREATE INDEX contacts_queue ON contacts (queue, initiated_at_ms);
CREATE INDEX contacts_agent ON contacts (agent_arn, initiated_at_ms);
CREATE INDEX contacts_active ON contacts (active, initiated_at_ms);
CREATE INDEX contacts_initiated ON contacts (initiated_at_ms);

CREATE TABLE contact_records (
    contact_id     TEXT PRIMARY KEY,
    last_update_ms INTEGER NOT NULL,
    json           TEXT NOT NULL
);

CREATE TABLE transitions (
    seq        INTEGER PRIMARY KEY,
    at_ms      INTEGER NOT NULL,
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
    at_ms              INTEGER NOT NULL,
    json               TEXT NOT NULL,
    PRIMARY KEY (contact_id, kind)
);

CREATE TABLE metric_cells (
    start_ms       INTEGER NOT NULL,
    kind           TEXT NOT NULL,
    id             TEXT NOT NULL,
    offered        INTEGER NOT NULL,
    handled        INTEGER NOT NULL,
    abandoned      INTEGER NOT NULL,
    answered_in_sl INTEGER NOT NULL,
    handle_s       INTEGER NOT NULL,
    talk_s         INTEGER NOT NULL,
    hold_s         INTEGER NOT NULL,
    holds          INTEGER NOT NULL,
    acw_s          INTEGER NOT NULL,
    answer_wait_s  INTEGER NOT NULL,
    abandon_wait_s INTEGER NOT NULL,
    longest_wait_s INTEGER NOT NULL,
    PRIMARY KEY (start_ms, kind, id)
);

CREATE TABLE alerts (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    subject       TEXT NOT NULL,
    raised_at_ms  INTEGER NOT NULL,
    cleared_at_ms INTEGER,
    json          TEXT NOT NULL
);
CREATE INDEX alerts_raised ON alerts (raised_at_ms);

CREATE TABLE engine_meta (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    json TEXT NOT NULL
);

CREATE TABLE positions (
    source   TEXT PRIMARY KEY,
    position TEXT NOT NULL
);
";

/// The durable outbox (see [`crate::outbox`]). `AUTOINCREMENT` so that an id is never
/// reused: a worker reporting on a row after its lease ran out can only touch that row.
/// The checks refuse an entry that names no sink or has no idempotency key.
const V2: &str = "
CREATE TABLE outbox (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    rule          TEXT NOT NULL,
    sink          TEXT NOT NULL CONSTRAINT outbox_sink_named CHECK (sink <> ''),
    key           TEXT NOT NULL CONSTRAINT outbox_key_given CHECK (key <> ''),
    kind          TEXT NOT NULL,
    payload       BLOB NOT NULL,
    event_ms      INTEGER NOT NULL,
    created_ms    INTEGER NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    not_before_ms INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    claimed_by    TEXT,
    claimed_until INTEGER,
    UNIQUE (sink, key)
);
CREATE INDEX outbox_ready ON outbox (sink, not_before_ms, id);
";

/// The compact layout (see the module docs). It replaces the tables of version 1 whose
/// layout changed, so it only runs on a store that holds none of their rows.
const V3: &str = "
DROP TABLE contacts;
DROP TABLE contact_records;
DROP TABLE transitions;
DROP TABLE triggers;

CREATE TABLE names (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

CREATE TABLE contacts (
    contact_id      TEXT PRIMARY KEY,
    queue           TEXT,
    agent           INTEGER,
    phase           TEXT NOT NULL,
    active          INTEGER NOT NULL,
    initiated_at_ms INTEGER,
    json            BLOB NOT NULL
);
CREATE INDEX contacts_queue ON contacts (queue, initiated_at_ms);
CREATE INDEX contacts_agent ON contacts (agent, initiated_at_ms);
CREATE INDEX contacts_live ON contacts (contact_id) WHERE active;
CREATE INDEX contacts_initiated ON contacts (initiated_at_ms);

CREATE TABLE contact_entries (
    contact_id  TEXT NOT NULL,
    n           INTEGER NOT NULL,
    at_ms       INTEGER NOT NULL,
    at          TEXT,
    event       TEXT NOT NULL,
    source      INTEGER NOT NULL,
    agent       INTEGER,
    queue       TEXT,
    duration_ms INTEGER,
    PRIMARY KEY (contact_id, n)
) WITHOUT ROWID;

-- A rowid table: rows near a kilobyte would spill into overflow pages of their own
-- in a WITHOUT ROWID table.
CREATE TABLE contact_records (
    contact_id     TEXT PRIMARY KEY,
    last_update_ms INTEGER NOT NULL,
    json           BLOB NOT NULL
);

CREATE TABLE transitions (
    seq         INTEGER PRIMARY KEY,
    at_ms       INTEGER NOT NULL,
    at          TEXT,
    kind        TEXT NOT NULL,
    agent       INTEGER NOT NULL,
    username    INTEGER,
    contact_id  TEXT,
    channel     TEXT,
    queue       TEXT,
    from_status TEXT,
    to_status   TEXT,
    duration_ms INTEGER
);
CREATE INDEX transitions_agent ON transitions (agent, at_ms);
CREATE INDEX transitions_contact ON transitions (contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX transitions_at ON transitions (at_ms);

CREATE TABLE triggers (
    contact_id         TEXT NOT NULL,
    kind               TEXT NOT NULL,
    initial_contact_id TEXT,
    at_ms              INTEGER NOT NULL,
    at                 TEXT,
    PRIMARY KEY (contact_id, kind)
) WITHOUT ROWID;
CREATE INDEX triggers_at ON triggers (at_ms);

CREATE INDEX alerts_cleared ON alerts (cleared_at_ms) WHERE cleared_at_ms IS NOT NULL;
";

/// Tables, the columns `dump` shows (`*` for all) and the columns their rows are sorted
/// by. The outbox leaves out its row numbers and claims: they depend on timing (which
/// worker got there first), not on what is stored. Names are shown instead of their
/// numbers for the same reason: a name is numbered when a commit first needs it, so the
/// numbers depend on where the commits fell.
pub const TABLES: &[(&str, &str, &str)] = &[
    ("names", "name", "name"),
    ("agents", "*", "agent_arn"),
    (
        "contacts",
        "contact_id, queue, (SELECT name FROM names WHERE id = agent) AS agent, phase, active, \
         initiated_at_ms, json",
        "contact_id",
    ),
    (
        "contact_entries",
        "contact_id, n, at_ms, at, event, source, \
         (SELECT name FROM names WHERE id = agent) AS agent, queue, duration_ms",
        "contact_id, n",
    ),
    ("contact_records", "*", "contact_id"),
    (
        "transitions",
        "seq, at_ms, at, kind, (SELECT name FROM names WHERE id = agent) AS agent, \
         (SELECT name FROM names WHERE id = username) AS username, contact_id, channel, queue, \
         from_status, to_status, duration_ms",
        "seq",
    ),
    ("triggers", "*", "contact_id, kind"),
    ("metric_cells", "*", "start_ms, kind, id"),
    ("alerts", "*", "id"),
    ("engine_meta", "*", "id"),
    ("positions", "*", "source"),
    ("outbox", OUTBOX_DUMP, "sink, key"),
];

/// The outbox columns `dump` shows, the same in both stores.
pub const OUTBOX_DUMP: &str = "sink, key, rule, kind, payload, event_ms, created_ms, attempts, \
     not_before_ms, last_error";
