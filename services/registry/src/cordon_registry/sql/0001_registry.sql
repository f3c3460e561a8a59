-- The registry's read models, written in the same transaction as the events they follow.
-- Personal fields are kept sealed (AES-GCM, per-person key in person_keys) and as keyed
-- hashes for lookups; no table holds a name, document number, phone or address in clear.

CREATE TABLE {schema}.places (
    place_id        text PRIMARY KEY,
    kind            text NOT NULL,
    name            text NOT NULL,
    parent_id       text,
    sub_district_id text,
    community_id    text,
    grid_id         text,
    compound_id     text,
    building_id     text,
    unit_id         text,
    status          text NOT NULL DEFAULT 'open',
    merged_into     text,
    added_at        timestamptz NOT NULL,
    closed_at       timestamptz
);
CREATE INDEX places_parent ON {schema}.places (parent_id);
CREATE INDEX places_community ON {schema}.places (community_id, kind);

CREATE TABLE {schema}.place_staff (
    place_id    text NOT NULL,
    role        text NOT NULL,
    staff_id    text NOT NULL,
    assigned_at timestamptz NOT NULL,
    PRIMARY KEY (place_id, role, staff_id)
);

CREATE TABLE {schema}.residents (
    person_id         text PRIMARY KEY,
    household_id      text NOT NULL,
    unit_id           text,
    building_id       text NOT NULL,
    compound_id       text NOT NULL,
    grid_id           text NOT NULL,
    community_id      text NOT NULL,
    sub_district_id   text NOT NULL,
    residence_type    text NOT NULL,
    status            text NOT NULL DEFAULT 'active',
    categories        text[] NOT NULL DEFAULT '{}',
    key_person_reason text,
    registered_at     timestamptz NOT NULL,
    left_at           timestamptz,
    erased_at         timestamptz
);
CREATE INDEX residents_household ON {schema}.residents (household_id) WHERE status = 'active';
CREATE INDEX residents_community ON {schema}.residents (community_id, grid_id);

-- Where each person lived, and when: a move closes one row and opens the next.
CREATE TABLE {schema}.residence_history (
    entry_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id      text NOT NULL,
    household_id   text NOT NULL,
    community_id   text NOT NULL,
    residence_type text NOT NULL,
    moved_in_at    timestamptz NOT NULL,
    moved_out_at   timestamptz
);
CREATE INDEX residence_history_person ON {schema}.residence_history (person_id);

-- The per-person data keys, wrapped by the master key. Deleting a row shreds the person.
CREATE TABLE {schema}.person_keys (
    person_id   text PRIMARY KEY,
    wrapped_key bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE {schema}.personal_details (
    person_id              text PRIMARY KEY,
    document_type          text NOT NULL,
    sealed_name            text NOT NULL,
    sealed_document_number text NOT NULL,
    sealed_phone           text,
    sealed_address         text
);

-- One document registers one person per district: enforced on a keyed hash of it.
CREATE TABLE {schema}.documents (
    district      text  NOT NULL,
    document_hash bytea NOT NULL,
    person_id     text  NOT NULL,
    CONSTRAINT documents_one_person_per_district UNIQUE (district, document_hash)
);
CREATE INDEX documents_person ON {schema}.documents (person_id);

-- Exact-match search within a community by name, phone or document: keyed hashes only.
CREATE TABLE {schema}.search_terms (
    community_id text  NOT NULL,
    field        text  NOT NULL,
    term_hash    bytea NOT NULL,
    person_id    text  NOT NULL
);
CREATE INDEX search_terms_lookup ON {schema}.search_terms (community_id, field, term_hash);
CREATE INDEX search_terms_person ON {schema}.search_terms (person_id);

CREATE TABLE {schema}.vaccinations (
    person_id     text    NOT NULL,
    dose_number   integer NOT NULL,
    vaccinated_on date    NOT NULL,
    vaccine       text,
    source        text    NOT NULL,
    PRIMARY KEY (person_id, dose_number)
);

CREATE TABLE {schema}.risk_areas (
    area_code     text PRIMARY KEY,
    area_name     text NOT NULL,
    level         text NOT NULL,
    valid_from    date NOT NULL,
    valid_until   date NOT NULL,
    designated_at timestamptz NOT NULL
);

CREATE TABLE {schema}.screening_rounds (
    round_id     text PRIMARY KEY,
    community_id text NOT NULL,
    name         text NOT NULL,
    window_days  integer NOT NULL,
    opened_at    timestamptz NOT NULL,
    closed_at    timestamptz
);

-- The latest visit of each household in each round.
CREATE TABLE {schema}.household_visits (
    round_id      text NOT NULL,
    household_id  text NOT NULL,
    grid_id       text NOT NULL,
    community_id  text NOT NULL,
    visit_id      text NOT NULL,
    staff_id      text NOT NULL,
    visited_at    timestamptz NOT NULL,
    present       integer NOT NULL,
    travel_alerts integer NOT NULL,
    PRIMARY KEY (round_id, household_id)
);

CREATE TABLE {schema}.staff_tokens (
    token_hash   bytea PRIMARY KEY,
    staff_id     text NOT NULL,
    role         text NOT NULL,
    community_id text,
    issued_by    text NOT NULL,
    issued_at    timestamptz NOT NULL,
    revoked_at   timestamptz
);

-- Every read of personal data: who read whose what, when, and in which request.
CREATE TABLE {schema}.audit_log (
    audit_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    read_at        timestamptz NOT NULL,
    staff_id       text NOT NULL,
    role           text NOT NULL,
    person_id      text NOT NULL,
    community_id   text,
    action         text NOT NULL,
    fields         text[] NOT NULL,
    correlation_id uuid
);
CREATE INDEX audit_log_person ON {schema}.audit_log (person_id, read_at);
