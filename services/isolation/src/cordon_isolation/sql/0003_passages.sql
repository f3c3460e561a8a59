-- Who passed which checkpoint when: the isolation service's read model of the gate's
-- PersonEntered / PersonExited, for finding the close contacts of a positive person.
-- Written with the consumer's inbox rows (a redelivered scan is skipped there), in batches
-- (unnest); rows older than CORDON_ISOLATION_PASSAGES_KEEP_DAYS are pruned by the
-- projection (the policy's look-back is never longer).
CREATE TABLE {schema}.passages (
    checkpoint_id text        NOT NULL,
    passed_at     timestamptz NOT NULL,
    person_id     text        NOT NULL,
    community_id  text        NOT NULL,
    subject_kind  text        NOT NULL,  -- resident, pass_holder, visitor (a pseudonym)
    direction     text        NOT NULL   -- in, out
);
-- "Who passed checkpoint C between t1 and t2": an index-only range scan.
CREATE INDEX passages_checkpoint_time ON {schema}.passages (checkpoint_id, passed_at)
    INCLUDE (person_id, subject_kind, direction);
-- "Where was this person in the look-back days".
CREATE INDEX passages_person_time ON {schema}.passages (person_id, passed_at)
    INCLUDE (checkpoint_id);
-- Pruning by age: rows arrive roughly in time order, so a block range index is enough.
CREATE INDEX passages_age ON {schema}.passages USING brin (passed_at);

-- Same-building candidates: the registry's building, kept beside the household.
ALTER TABLE {schema}.residents ADD COLUMN building_id text;
CREATE INDEX residents_building ON {schema}.residents (building_id);

-- The office's answer on each candidate (kept with the events that record it).
CREATE TABLE {schema}.contact_decisions (
    person_id    text        NOT NULL,  -- the positive (index) person
    candidate_id text        NOT NULL,
    decision     text        NOT NULL,  -- confirmed, dismissed
    decided_at   timestamptz NOT NULL,
    decided_by   text        NOT NULL,
    order_id     text,
    PRIMARY KEY (person_id, candidate_id)
);
CREATE INDEX contact_decisions_candidate ON {schema}.contact_decisions (candidate_id)
    WHERE decision = 'confirmed';
