-- The event store: one row per event, appended with optimistic concurrency.
-- tx_id is the writing transaction's id: the outbox relay reads only rows whose
-- transaction is older than every running one, so a late commit is never skipped.
CREATE TABLE {schema}.events (
    global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tx_id           xid8        NOT NULL DEFAULT pg_current_xact_id(),
    event_id        uuid        NOT NULL,
    stream_id       text        NOT NULL,
    stream_version  integer     NOT NULL CHECK (stream_version > 0),
    partition_key   text        NOT NULL,
    event_type      text        NOT NULL,
    schema_version  integer     NOT NULL,
    payload         jsonb       NOT NULL,
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    correlation_id  uuid        NOT NULL,
    causation_id    uuid,
    actor           text        NOT NULL,
    district        text        NOT NULL,
    community       text,
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version)
);
CREATE INDEX events_relay_order ON {schema}.events (tx_id, global_position);

CREATE TABLE {schema}.snapshots (
    stream_id      text        PRIMARY KEY,
    stream_version integer     NOT NULL,
    state          jsonb       NOT NULL,
    taken_at       timestamptz NOT NULL DEFAULT now()
);

-- Where each outbox relay has got to, in (tx_id, global_position) order.
CREATE TABLE {schema}.relay_positions (
    relay_name      text        PRIMARY KEY,
    tx_id           xid8        NOT NULL DEFAULT '0'::xid8,
    global_position bigint      NOT NULL DEFAULT 0,
    published       bigint      NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Inbox: the ids of events a consumer (or projection) has applied, written in the
-- same transaction as the effects, so a redelivered event has no second effect.
CREATE TABLE {schema}.inbox (
    consumer     text        NOT NULL,
    event_id     uuid        NOT NULL,
    outcome      text        NOT NULL DEFAULT 'applied',
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
