-- switchboard's PostgreSQL sink: tables for BI tools (Metabase, Grafana, Power BI,
-- Tableau...). The sink runs this in its schema (search_path set to it) when it connects
-- and `create_tables` is on; every statement is idempotent.

-- One row per contact: the newest copy of its contact record (CTR). Connect may deliver
-- a record again, or an updated copy (after UpdateContactAttributes); the row keeps the
-- copy with the greatest LastUpdateTimestamp, and an equal one re-applies.
CREATE TABLE IF NOT EXISTS contact_records (
    contact_id            text PRIMARY KEY,           -- ContactId
    last_update_timestamp timestamptz NOT NULL,       -- LastUpdateTimestamp (newest wins)
    initiation_timestamp  timestamptz,                -- InitiationTimestamp
    disconnect_timestamp  timestamptz,                -- DisconnectTimestamp
    channel               text,                       -- VOICE, CHAT, TASK, EMAIL
    queue                 text,                       -- Queue.Name
    agent_username        text,                       -- Agent.Username
    initiation_method     text,                       -- INBOUND, OUTBOUND, TRANSFER...
    disconnect_reason     text,                       -- CUSTOMER_DISCONNECT...
    customer_endpoint     text,                       -- CustomerEndpoint.Address
    system_endpoint       text,                       -- SystemEndpoint.Address (number dialled)
    interaction_s         bigint,                     -- Agent.AgentInteractionDuration
    handle_s              bigint,                     -- interaction + hold + after-contact work
    hold_s                bigint,                     -- Agent.CustomerHoldDuration
    acw_s                 bigint,                     -- Agent.AfterContactWorkDuration
    queue_s               bigint,                     -- Queue.Duration
    attributes            jsonb,                      -- Attributes (user-defined)
    record                jsonb NOT NULL,             -- the whole record, keys enrichment added included
    written_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS contact_records_initiation_idx
    ON contact_records (initiation_timestamp);
CREATE INDEX IF NOT EXISTS contact_records_queue_idx
    ON contact_records (queue, initiation_timestamp);
COMMENT ON TABLE contact_records IS
    'Amazon Connect contact records, one row per ContactId, the newest LastUpdateTimestamp kept (switchboard)';

-- Agent transitions switchboard derived from the agent event stream: status changes,
-- contacts offered and connected, holds, after-contact work. One row per routed
-- transition; a repeat of the same item is ignored.
CREATE TABLE IF NOT EXISTS transitions (
    key         text PRIMARY KEY,                     -- the item's idempotency key
    agent_arn   text NOT NULL,
    username    text,
    at          timestamptz NOT NULL,                 -- when it happened
    from_state  text,                                 -- agent_status_changed: previous status
    to_state    text,                                 -- agent_status_changed: new status
    kind        text NOT NULL,                        -- agent_status_changed, hold_started, acw_ended...
    duration_s  double precision,                     -- hold_ended: time on hold; acw_ended: time in ACW
    contact_id  text,
    queue       text,
    channel     text,
    record      jsonb NOT NULL                        -- the transition as routed
);
CREATE INDEX IF NOT EXISTS transitions_at_idx ON transitions (at);
CREATE INDEX IF NOT EXISTS transitions_agent_idx ON transitions (agent_arn, at);
COMMENT ON TABLE transitions IS
    'Agent state transitions derived from the Amazon Connect agent event stream (switchboard)';

-- Closed 15-minute metric intervals: one row per interval, dimension (queue or agent)
-- and name. Cells hold sums, counts and a maximum (offered, handled, abandoned,
-- answered_in_sl, handle_s, talk_s, hold_s, holds, acw_s, answer_wait_s,
-- abandon_wait_s, longest_wait_s), so rows add up into hours and days; compute averages
-- and ratios when reading. An interval routed again replaces its row.
CREATE TABLE IF NOT EXISTS metric_intervals (
    interval_start timestamptz NOT NULL,
    interval_end   timestamptz,
    dimension      text NOT NULL,                     -- queue | agent
    name           text NOT NULL,                     -- queue name or agent ARN
    cells          jsonb NOT NULL,                    -- the interval's counters
    key            text NOT NULL,                     -- the item that wrote the row
    routed_at      timestamptz NOT NULL,              -- when switchboard routed it (newest wins)
    PRIMARY KEY (interval_start, dimension, name)
);
COMMENT ON TABLE metric_intervals IS
    'Queue and agent metrics per 15-minute interval: sums and counts (switchboard)';

-- Everything else routed here: agent and contact events as received, contact_completed
-- and contact_record_ready triggers (with the contact's timeline), alerts raised and
-- cleared, dead letters.
CREATE TABLE IF NOT EXISTS events (
    key     text PRIMARY KEY,                         -- the item's idempotency key
    kind    text NOT NULL,                            -- record, contact_completed, alert_raised...
    stream  text,                                     -- records: agent_event, contact_event, contact_record
    rule    text NOT NULL,                            -- the routing rule
    at      timestamptz NOT NULL,                     -- the time the item describes
    payload jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS events_kind_at_idx ON events (kind, at);
COMMENT ON TABLE events IS
    'Other items switchboard routed: events, contact triggers, alerts, dead letters';
