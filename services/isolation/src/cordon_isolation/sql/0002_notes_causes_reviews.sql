-- What staff write in their own words stays here, never on the topic: an event carries a
-- reason code and at most the note's id.
CREATE TABLE {schema}.notes (
    note_id    text PRIMARY KEY,
    person_id  text        NOT NULL,
    subject    text        NOT NULL,  -- order, cancellation, review
    body       text        NOT NULL,
    written_by text        NOT NULL,
    written_at timestamptz NOT NULL
);
CREATE INDEX notes_person ON {schema}.notes (person_id);

-- Which events placed, upgraded or extended each order: a corrected positive finds the
-- orders it caused here.
CREATE TABLE {schema}.order_causes (
    source_event_id text NOT NULL,
    order_id        text NOT NULL,
    person_id       text NOT NULL,
    PRIMARY KEY (source_event_id, order_id)
);

-- The office's list of orders to confirm (GET /v1/reviews), kept with the events.
CREATE TABLE {schema}.reviews (
    review_id    text PRIMARY KEY,
    order_id     text        NOT NULL,
    person_id    text        NOT NULL,
    community_id text        NOT NULL,
    reason_code  text        NOT NULL,
    sample_id    text,
    requested_at timestamptz NOT NULL,
    status       text        NOT NULL,  -- open, ended, kept, order_closed
    settled_at   timestamptz,
    settled_by   text
);
CREATE INDEX reviews_open ON {schema}.reviews (community_id, requested_at) WHERE status = 'open';
