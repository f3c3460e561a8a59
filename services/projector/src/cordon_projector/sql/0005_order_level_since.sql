-- When an order's current level took effect (NULL: its level has not changed since it
-- started). A page asked about a moment at or after it reads the order's level from the
-- row; only a moment before it looks through the order's level history.
ALTER TABLE {schema}.isolation_order ADD COLUMN level_since timestamptz;
UPDATE {schema}.isolation_order o
   SET level = latest.to_level, level_since = latest.changed_at
  FROM (SELECT DISTINCT ON (order_id) order_id, changed_at, to_level
          FROM {schema}.isolation_level_change
         ORDER BY order_id, changed_at DESC) latest
 WHERE latest.order_id = o.order_id;
