-- The registry's staff tokens as this service knows them (from StaffTokenIssued and
-- StaffTokensRevoked): a bearer token is looked up by its SHA-256.
CREATE TABLE {schema}.staff_access (
    token_sha256 text PRIMARY KEY,
    staff_id text NOT NULL,
    role text NOT NULL,
    community_id text,
    issued_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX ON {schema}.staff_access (staff_id);
