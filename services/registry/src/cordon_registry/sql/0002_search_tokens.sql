-- Partial-name, pinyin and last-4-digit search (docs/registry.md, "Partial and pinyin
-- search"): one keyed hash per search token of a person, HMAC-SHA256(index key, kind:token).
-- The primary key is the lookup: a token's people in a community, in person_id order.
-- Residents registered before this table existed get their tokens from
-- `cordon-registry reindex-search`.
CREATE TABLE {schema}.search_tokens (
    community_id text  NOT NULL,
    token_hash   bytea NOT NULL,
    person_id    text  NOT NULL,
    PRIMARY KEY (community_id, token_hash, person_id)
);
CREATE INDEX search_tokens_person ON {schema}.search_tokens (person_id);
