-- Idempotency keys: the first answer to each command sent with an Idempotency-Key,
-- written in the same transaction as the command's events, so a retry (even after a
-- crash) gets that answer back and records nothing new.
CREATE TABLE {schema}.idempotency_keys (
    idempotency_key text        PRIMARY KEY,
    request_hash    text        NOT NULL,
    method          text        NOT NULL,
    path            text        NOT NULL,
    status          smallint    NOT NULL,
    content_type    text,
    body            bytea       NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
