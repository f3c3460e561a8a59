-- Facts the read models are computed from, one group of tables per projection.
-- Rows are keyed by the upstream's own ids, so the order in which the gate's, the
-- registry's and isolation's topics arrive never changes the result.

-- projection "places": the hierarchy and names (registry).
CREATE TABLE {schema}.place (
    place_id     text PRIMARY KEY,
    kind         text NOT NULL,
    parent_id    text,
    community_id text,
    district     text NOT NULL,
    name         text NOT NULL,
    closed       boolean NOT NULL DEFAULT false
);
CREATE INDEX ON {schema}.place (parent_id);

-- projection "residents": where each person lives now, and their doses (registry).
CREATE TABLE {schema}.resident (
    person_id       text PRIMARY KEY,
    district        text NOT NULL,
    sub_district_id text NOT NULL,
    community_id    text NOT NULL,
    grid_id         text NOT NULL,
    compound_id     text NOT NULL,
    building_id     text NOT NULL,
    unit_id         text,
    household_id    text NOT NULL,
    present         boolean NOT NULL,
    since           timestamptz NOT NULL
);
CREATE INDEX ON {schema}.resident (community_id);
CREATE INDEX ON {schema}.resident (building_id);
CREATE INDEX ON {schema}.resident (sub_district_id);
CREATE TABLE {schema}.resident_dose (
    person_id text PRIMARY KEY,
    doses     integer NOT NULL,
    last_dose date NOT NULL
);

-- projection "isolation-ledger": every order with its level history (isolation).
CREATE TABLE {schema}.isolation_order (
    order_id       text PRIMARY KEY,
    person_id      text NOT NULL,
    community_id   text NOT NULL,
    initial_level  text NOT NULL,
    level          text NOT NULL,
    reason         text NOT NULL,
    starts_at      timestamptz NOT NULL,
    planned_end_at timestamptz NOT NULL,
    ended_at       timestamptz,
    cancelled      boolean NOT NULL DEFAULT false,
    place_kind     text,
    place_id       text
);
CREATE INDEX ON {schema}.isolation_order (person_id);
CREATE INDEX ON {schema}.isolation_order (community_id);
CREATE TABLE {schema}.isolation_level_change (
    order_id   text NOT NULL,
    changed_at timestamptz NOT NULL,
    event_id   uuid NOT NULL,
    to_level   text NOT NULL,
    PRIMARY KEY (order_id, changed_at, event_id)
);

-- projection "live-gates": counters per checkpoint and minute (gate).
CREATE TABLE {schema}.gate_minute (
    checkpoint_id text        NOT NULL,
    community_id  text        NOT NULL,
    minute        timestamptz NOT NULL,
    entries       integer NOT NULL DEFAULT 0,
    exits         integer NOT NULL DEFAULT 0,
    denials       integer NOT NULL DEFAULT 0,
    fevers        integer NOT NULL DEFAULT 0,
    yellow_codes  integer NOT NULL DEFAULT 0,
    red_codes     integer NOT NULL DEFAULT 0,
    visitors      integer NOT NULL DEFAULT 0,
    PRIMARY KEY (community_id, minute, checkpoint_id)
);
CREATE TABLE {schema}.gate_denial_minute (
    checkpoint_id text        NOT NULL,
    community_id  text        NOT NULL,
    minute        timestamptz NOT NULL,
    reason        text        NOT NULL,
    denials       integer NOT NULL,
    PRIMARY KEY (community_id, minute, checkpoint_id, reason)
);

-- projection "screening-coverage": rounds and the households visited (registry).
CREATE TABLE {schema}.screening_round (
    round_id     text PRIMARY KEY,
    community_id text NOT NULL,
    name         text NOT NULL,
    opened_at    timestamptz NOT NULL,
    closed_at    timestamptz
);
CREATE TABLE {schema}.screening_visit (
    round_id     text NOT NULL,
    household_id text NOT NULL,
    grid_id      text NOT NULL,
    community_id text NOT NULL,
    visited_at   timestamptz NOT NULL,
    PRIMARY KEY (round_id, household_id)
);

-- projection "test-results": one row per sample, corrections applied (isolation's lab).
CREATE TABLE {schema}.test_result (
    sample_id    text PRIMARY KEY,
    person_id    text NOT NULL,
    collected_at timestamptz NOT NULL,
    result       text NOT NULL
);
CREATE INDEX ON {schema}.test_result (collected_at);
