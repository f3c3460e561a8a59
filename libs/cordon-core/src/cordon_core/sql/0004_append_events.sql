-- An append in one round trip: the store calls this function instead of sending its three
-- statements (stored ids, stream heads, insert) inside a transaction of its own. Called
-- outside a transaction it is atomic by itself (autocommit), so a lone append costs one
-- round trip, as a raw INSERT does.
--
-- The arguments are one array per column, one element per event, in the append's order;
-- p_append numbers the appends of the call and p_expected repeats each append's expected
-- version (NULL: any) on each of its events. It answers:
--   * the ids already stored, with stored = true, when any are (nothing is written; the
--     caller, which needs whole rows for a retried command, reads them itself);
--   * otherwise the new rows' positions, versions and recording times, in event order.
-- Conflicts are raised as 'cordon_conflict' (SQLSTATE P0001) with the stream, expected and
-- found versions in DETAIL as JSON: a head written by a newer transaction than ours (the
-- relay publishes in transaction order, so ours would go out of order), or a version that
-- is not the one expected. A concurrent writer that commits in between still fails the
-- unique (stream_id, stream_version) key, as the three statements did.
CREATE FUNCTION {schema}.append_events(
    p_check_stored   boolean,
    p_append         integer[],
    p_expected       integer[],
    p_event_id       uuid[],
    p_stream_id      text[],
    p_partition_key  text[],
    p_event_type     text[],
    p_schema_version integer[],
    p_payload        jsonb[],
    p_occurred_at    timestamptz[],
    p_correlation_id uuid[],
    p_causation_id   uuid[],
    p_actor          text[],
    p_district       text[],
    p_community      text[]
) RETURNS TABLE (
    event_id        uuid,
    stream_version  integer,
    global_position bigint,
    recorded_at     timestamptz,
    stored          boolean
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_versions integer[];
    v_stream   text;
    v_expected integer;
    v_found    integer;
    v_newer    boolean;
BEGIN
    IF p_check_stored THEN
        RETURN QUERY
            SELECT e.event_id, e.stream_version, e.global_position, e.recorded_at, true
            FROM {schema}.events e WHERE e.event_id = ANY (p_event_id);
        IF FOUND THEN
            RETURN;
        END IF;
    END IF;

    WITH input AS (
        SELECT i.append_no, i.expected, i.stream_id, i.ord
        FROM unnest(p_append, p_expected, p_stream_id) WITH ORDINALITY
            AS i(append_no, expected, stream_id, ord)
    ), heads AS (
        -- One index probe per stream: DISTINCT ON would read every version.
        SELECT s.stream_id, coalesce(h.stream_version, 0) AS head,
               coalesce(h.tx_id > pg_current_xact_id(), false) AS newer
        FROM (SELECT DISTINCT input.stream_id FROM input) s
        LEFT JOIN LATERAL (
            SELECT e.stream_version, e.tx_id FROM {schema}.events e
            WHERE e.stream_id = s.stream_id
            ORDER BY e.stream_version DESC LIMIT 1) h ON true
    ), numbered AS (
        SELECT input.*, heads.newer,
               heads.head + row_number() OVER (PARTITION BY input.stream_id ORDER BY input.ord)
                   AS version
        FROM input JOIN heads USING (stream_id)
    ), appends AS (
        SELECT n.append_no, n.stream_id, max(n.expected) AS expected,
               min(n.version) - 1 AS found, bool_or(n.newer) AS newer
        FROM numbered n GROUP BY n.append_no, n.stream_id
    )
    SELECT v.versions, b.stream_id, b.expected, b.found, b.newer
    INTO v_versions, v_stream, v_expected, v_found, v_newer
    FROM (SELECT array_agg(n.version ORDER BY n.ord) AS versions FROM numbered n) v
    LEFT JOIN LATERAL (
        SELECT a.* FROM appends a WHERE a.newer OR a.expected <> a.found
        ORDER BY a.append_no LIMIT 1) b ON true;

    IF v_stream IS NOT NULL THEN
        RAISE EXCEPTION 'cordon_conflict' USING DETAIL = json_build_object(
            'stream_id', v_stream, 'expected', v_expected, 'found', v_found,
            'newer', v_newer)::text;
    END IF;

    RETURN QUERY
        INSERT INTO {schema}.events AS e (
            event_id, stream_id, stream_version, partition_key, event_type, schema_version,
            payload, occurred_at, correlation_id, causation_id, actor, district, community)
        SELECT * FROM unnest(
            p_event_id, p_stream_id, v_versions, p_partition_key, p_event_type,
            p_schema_version, p_payload, p_occurred_at, p_correlation_id, p_causation_id,
            p_actor, p_district, p_community)
        RETURNING e.event_id, e.stream_version, e.global_position, e.recorded_at, false;
END
$$;
