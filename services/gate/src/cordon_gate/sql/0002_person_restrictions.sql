-- Restrictions held by a person whatever identifier they show (a resident's person id, a
-- pass holder's person id or a visitor id), per community; each is a stream of the gate's
-- events (PersonBarred, PersonBarLifted, PersonExitQuotaAssigned) written in the same
-- transaction.
CREATE TABLE {schema}.person_restrictions (
    person_id        text    NOT NULL,
    community_id     text    NOT NULL,
    barred           boolean NOT NULL DEFAULT false,
    daily_exit_quota integer,
    version          integer NOT NULL,
    PRIMARY KEY (person_id, community_id)
);

-- Exits let through per person, community and local day, for people an exit quota applies
-- to, over every identifier they used.
CREATE TABLE {schema}.person_daily_exits (
    person_id    text    NOT NULL,
    community_id text    NOT NULL,
    day          date    NOT NULL,
    exits        integer NOT NULL,
    PRIMARY KEY (person_id, community_id, day)
);

CREATE INDEX passes_holder ON {schema}.passes (holder_person_id) WHERE NOT revoked;

-- Free text written by the office (why a pass was revoked, a person barred, a gate closed)
-- and visitors' own words: never published, events carry only the note id.
CREATE TABLE {schema}.office_notes (
    note_id    text PRIMARY KEY,
    subject    text        NOT NULL,
    text       text        NOT NULL,
    written_by text        NOT NULL,
    written_at timestamptz NOT NULL
);

ALTER TABLE {schema}.person_status ADD COLUMN residence_type text;

-- When the lab's result reached the gate: a result collected after that (beyond the allowed
-- clock skew) never counts as a negative test; corrections apply in the order recorded.
ALTER TABLE {schema}.test_results ADD COLUMN received_at timestamptz;
ALTER TABLE {schema}.visitor_register ADD COLUMN last_reason text;
