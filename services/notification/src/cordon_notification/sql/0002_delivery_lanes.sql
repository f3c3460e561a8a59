-- Deliveries are claimed per lane (an HTTP channel's origin, e-mail, the inbox), so that
-- a slow webhook host fills only its own lane; lapsed claims are found by their lease.
ALTER TABLE {schema}.deliveries ADD COLUMN lane text;
UPDATE {schema}.deliveries SET lane = CASE
    WHEN channel IN ('webhook', 'sms') AND address IS NOT NULL
        THEN lower(channel || ' ' || substring(address FROM '^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*'))
    ELSE channel END;
ALTER TABLE {schema}.deliveries ALTER COLUMN lane SET NOT NULL;
DROP INDEX {schema}.deliveries_due;
CREATE INDEX deliveries_pending ON {schema}.deliveries (lane, due_at) WHERE status = 'pending';
CREATE INDEX deliveries_leased ON {schema}.deliveries (lease_until) WHERE status = 'sending';
