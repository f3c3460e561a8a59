-- The gate's working state. Checkpoint, policy and pass tables are written in the same
-- transaction as the events that change them; person_status is a read model of the
-- registry, isolation and lab events the gate consumes.
CREATE TABLE {schema}.checkpoints (
    checkpoint_id          text PRIMARY KEY,
    community_id           text    NOT NULL,
    compound_id            text    NOT NULL,
    name                   text    NOT NULL,
    is_open                boolean NOT NULL,
    requires_negative_test boolean NOT NULL,
    negative_test_hours    integer NOT NULL,
    version                integer NOT NULL
);

CREATE TABLE {schema}.devices (
    device_id     text PRIMARY KEY,
    checkpoint_id text    NOT NULL REFERENCES {schema}.checkpoints,
    token_sha256  bytea   NOT NULL UNIQUE,
    revoked       boolean NOT NULL DEFAULT false
);

CREATE TABLE {schema}.policies (
    community_id text PRIMARY KEY,
    version      integer NOT NULL,
    policy       jsonb   NOT NULL
);

CREATE TABLE {schema}.passes (
    pass_id          text PRIMARY KEY,
    code_sha256      bytea       NOT NULL UNIQUE,
    kind             text        NOT NULL,
    holder_person_id text        NOT NULL,
    community_id     text        NOT NULL,
    valid_from       timestamptz NOT NULL,
    valid_until      timestamptz NOT NULL,
    daily_exit_quota integer,
    revoked          boolean     NOT NULL DEFAULT false,
    version          integer     NOT NULL
);

CREATE TABLE {schema}.pass_daily_use (
    pass_id text    NOT NULL,
    day     date    NOT NULL,
    entries integer NOT NULL DEFAULT 0,
    exits   integer NOT NULL DEFAULT 0,
    PRIMARY KEY (pass_id, day)
);

CREATE TABLE {schema}.person_status (
    person_id             text PRIMARY KEY,
    community_id          text,
    household_id          text,
    isolation_order_id    text,
    isolation_level       text,
    last_negative_test_at timestamptz,
    as_of                 timestamptz NOT NULL
);

CREATE TABLE {schema}.test_results (
    sample_id    text PRIMARY KEY,
    person_id    text        NOT NULL,
    collected_at timestamptz NOT NULL,
    result       text        NOT NULL
);
CREATE INDEX test_results_person ON {schema}.test_results (person_id);

-- Visitors' personal details, never published: events carry only the visitor id.
-- Deleting a row erases the visitor from everything the gate can show.
CREATE TABLE {schema}.visitor_register (
    visitor_id      text PRIMARY KEY,
    document_type   text        NOT NULL,
    document_number text        NOT NULL,
    name            text        NOT NULL,
    phone           text        NOT NULL,
    first_seen      timestamptz NOT NULL,
    last_seen       timestamptz NOT NULL
);
