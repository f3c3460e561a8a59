-- Entries and exits per community and local day, from the gate's events.
CREATE TABLE {schema}.gate_traffic_daily (
    community_id text    NOT NULL,
    day          date    NOT NULL,
    entries      integer NOT NULL DEFAULT 0,
    exits        integer NOT NULL DEFAULT 0,
    PRIMARY KEY (community_id, day)
);
