-- The isolation service's working state, written in the same transaction as the events
-- that change it (orders, samples, campaigns, policies, timers), and its read model of
-- the registry's residents (households), written with the consumer's inbox rows.

-- One row per order; the active ones are the ledger of people in each level per community.
CREATE TABLE {schema}.orders (
    order_id       text PRIMARY KEY,
    person_id      text        NOT NULL,
    community_id   text        NOT NULL,
    level          text        NOT NULL,
    status         text        NOT NULL,  -- active, ended, cancelled
    starts_at      timestamptz NOT NULL,
    planned_end_at timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE UNIQUE INDEX orders_one_active_per_person ON {schema}.orders (person_id)
    WHERE status = 'active';
CREATE INDEX orders_ledger ON {schema}.orders (community_id, level) WHERE status = 'active';

-- Samples collected here and results received for them (a result may come for a sample
-- never collected here, naming its person); version is the sample stream's.
CREATE TABLE {schema}.samples (
    sample_id         text PRIMARY KEY,
    person_id         text        NOT NULL,
    collected_at      timestamptz,
    campaign_id       text,
    sampling_point_id text,
    result            text,
    lab               text,
    version           integer     NOT NULL
);
CREATE INDEX samples_person ON {schema}.samples (person_id);

CREATE TABLE {schema}.campaigns (
    campaign_id        text PRIMARY KEY,
    community_id       text        NOT NULL,
    name               text        NOT NULL,
    sampling_point_ids text[]      NOT NULL,
    opens_at           timestamptz NOT NULL,
    closes_at          timestamptz NOT NULL
);

CREATE TABLE {schema}.policies (
    district text    NOT NULL,
    version  integer NOT NULL,
    policy   jsonb   NOT NULL,
    PRIMARY KEY (district, version)
);

CREATE TABLE {schema}.residents (
    person_id    text PRIMARY KEY,
    household_id text        NOT NULL,
    community_id text        NOT NULL,
    as_of        timestamptz NOT NULL
);
CREATE INDEX residents_household ON {schema}.residents (household_id);

-- Durable timers (check-in deadlines): polled with FOR UPDATE SKIP LOCKED and marked
-- fired in the transaction that appends what they cause, so each fires once.
CREATE TABLE {schema}.timers (
    timer_id   uuid PRIMARY KEY,
    kind       text        NOT NULL,
    due_at     timestamptz NOT NULL,
    payload    jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    fired_at   timestamptz,
    outcome    text
);
CREATE INDEX timers_due ON {schema}.timers (due_at) WHERE fired_at IS NULL;
