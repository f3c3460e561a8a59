-- The notification service's tables. residents, assignments, communities and
-- isolation_orders are read models of the registry's and isolation's events; contacts are
-- registered through the admin API and never published; deliveries is the queue of
-- messages, one row per (source, recipient, channel), written in the same transaction as
-- its NotificationQueued event.
CREATE TABLE {schema}.residents (
    person_id       text PRIMARY KEY,
    household_id    text NOT NULL,
    building_id     text NOT NULL,
    grid_id         text NOT NULL,
    community_id    text NOT NULL,
    sub_district_id text NOT NULL
);
CREATE INDEX residents_community ON {schema}.residents (community_id);

CREATE TABLE {schema}.assignments (
    place_id     text NOT NULL,
    role         text NOT NULL,
    staff_id     text NOT NULL,
    community_id text NOT NULL,
    PRIMARY KEY (place_id, role, staff_id)
);

CREATE TABLE {schema}.communities (
    community_id    text PRIMARY KEY,
    sub_district_id text NOT NULL
);

CREATE TABLE {schema}.isolation_orders (
    order_id     text PRIMARY KEY,
    person_id    text NOT NULL,
    community_id text NOT NULL,
    active       boolean NOT NULL
);

CREATE TABLE {schema}.contacts (
    recipient_id text PRIMARY KEY,
    language     text    NOT NULL,
    email        text,
    webhook_url  text,
    inbox        boolean NOT NULL DEFAULT true,
    quiet_start  time,
    quiet_end    time,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Source events the service told about, for the offices' daily report.
CREATE TABLE {schema}.alerts (
    event_id     uuid PRIMARY KEY,
    template     text        NOT NULL,
    community_id text,
    occurred_at  timestamptz NOT NULL
);
CREATE INDEX alerts_community_time ON {schema}.alerts (community_id, occurred_at);

CREATE TABLE {schema}.deliveries (
    delivery_id       uuid PRIMARY KEY,
    source_id         text        NOT NULL,  -- the source event id, or a digest/schedule key
    source_event_type text,
    recipient_id      text        NOT NULL,
    recipient_kind    text        NOT NULL,
    channel           text        NOT NULL,
    address           text,                  -- e-mail or URL at queue time; never published
    template          text        NOT NULL,
    language          text        NOT NULL,
    urgent            boolean     NOT NULL,
    subject           text        NOT NULL,
    body              text        NOT NULL,
    community_id      text,
    -- pending -> sending -> sent | failed; held (rate limit) -> folded into a digest
    status            text        NOT NULL,
    attempts          integer     NOT NULL DEFAULT 0,
    due_at            timestamptz NOT NULL,
    lease_until       timestamptz,
    last_error        text,
    digest_id         uuid,
    created_at        timestamptz NOT NULL,
    sent_at           timestamptz,
    read_at           timestamptz,
    UNIQUE (source_id, recipient_id, channel)
);
CREATE INDEX deliveries_due ON {schema}.deliveries (due_at)
    WHERE status IN ('pending', 'sending');
CREATE INDEX deliveries_held ON {schema}.deliveries (recipient_id, channel)
    WHERE status = 'held';
CREATE INDEX deliveries_recipient ON {schema}.deliveries (recipient_id, created_at);

-- Days on which a once-a-day message (the check-in reminders) was queued.
CREATE TABLE {schema}.schedule_runs (
    kind text NOT NULL,
    day  date NOT NULL,
    PRIMARY KEY (kind, day)
);
