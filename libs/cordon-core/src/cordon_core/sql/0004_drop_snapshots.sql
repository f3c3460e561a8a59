-- Snapshots are gone: no service ever saved or loaded one (every stream is short enough to
-- load whole), so the table 0001 created is dropped rather than left for someone to trust.
DROP TABLE IF EXISTS {schema}.snapshots;
