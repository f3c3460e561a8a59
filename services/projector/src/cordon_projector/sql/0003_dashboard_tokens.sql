-- Dashboard tokens issued at run time (besides those in CORDON_DASHBOARD_TOKENS);
-- only their SHA-256 hashes are kept.
CREATE TABLE {schema}.dashboard_token (
    token_sha256 text PRIMARY KEY,
    staff_id     text NOT NULL,
    scope_kind   text NOT NULL,
    scope_id     text,
    issued_at    timestamptz NOT NULL DEFAULT now()
);
