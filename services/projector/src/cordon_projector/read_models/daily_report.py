"""The daily report (防控日报告表): per community for one local day, rolled up to
sub-districts and the district. Every figure counts by the event's own time, so a late
event lands in its day; the day runs from midnight to midnight in the projector's zone."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from cordon_projector.domain.rules import LEVEL_RANK, day_bounds
from cordon_projector.projections.live_gates import COUNTERS
from cordon_projector.read_models.areas import Area, Db, communities_in, names, sub_district_of
from cordon_projector.read_models.four_colour import active_levels_sql, level_rank_sql

LEVELS = ("centralized", "home", "monitoring")
FIGURES = (
    *COUNTERS,
    *LEVELS,
    "isolation_started",
    "isolation_released",
    "households_registered",
    "households_visited",
    "tests",
    "positives",
)


async def _per_community(
    db: Db, schema: str, communities: list[str], start: datetime, end: datetime, at: datetime
) -> dict[str, dict[str, int]]:
    rows: dict[str, dict[str, int]] = {c: dict.fromkeys(FIGURES, 0) for c in communities}

    def add(records: Any, *figures: str) -> None:
        for r in records:
            for figure in figures:
                rows[r["c"]][figure] += r[figure] or 0

    sums = ", ".join(f"sum({c})::int AS {c}" for c in COUNTERS)
    add(
        await db.fetch(
            f"SELECT community_id AS c, {sums} FROM {schema}.gate_minute"
            " WHERE community_id = ANY($1) AND minute >= $2 AND minute < $3 GROUP BY 1",
            communities,
            start,
            end,
        ),
        *COUNTERS,
    )
    # People in each level when the day closed (or now, for today): a person's strongest.
    by_level = ", ".join(
        f"count(*) FILTER (WHERE rank = {LEVEL_RANK[level]})::int AS {level}" for level in LEVELS
    )
    add(
        await db.fetch(
            f"""WITH a AS ({active_levels_sql(schema, "$2", "o.community_id = ANY($1)")}),
                 p AS (SELECT community_id AS c, person_id, max({level_rank_sql("level")}) AS rank
                       FROM a WHERE community_id = ANY($1) GROUP BY 1, 2)
            SELECT c, {by_level} FROM p GROUP BY c""",
            communities,
            min(end, at),
        ),
        *LEVELS,
    )
    add(
        await db.fetch(
            f"""SELECT community_id AS c,
              count(*) FILTER (WHERE starts_at >= $2 AND starts_at < $3)::int
                AS isolation_started,
              count(*) FILTER (WHERE ended_at >= $2 AND ended_at < $3)::int AS isolation_released
            FROM {schema}.isolation_order WHERE community_id = ANY($1) AND NOT cancelled
            GROUP BY 1""",
            communities,
            start,
            end,
        ),
        "isolation_started",
        "isolation_released",
    )
    # Screening: the latest round opened before the day closed, visits until then.
    add(
        await db.fetch(
            f"""WITH rounds AS (SELECT DISTINCT ON (community_id) community_id, round_id
                FROM {schema}.screening_round WHERE community_id = ANY($1) AND opened_at < $2
                ORDER BY community_id, opened_at DESC)
            SELECT r.community_id AS c,
              (SELECT count(DISTINCT household_id) FROM {schema}.resident x
               WHERE x.community_id = r.community_id AND x.present)::int
                AS households_registered,
              (SELECT count(*) FROM {schema}.screening_visit v WHERE v.round_id = r.round_id
               AND v.visited_at < $2)::int AS households_visited
            FROM rounds r""",
            communities,
            min(end, at),
        ),
        "households_registered",
        "households_visited",
    )
    add(
        await db.fetch(
            f"""SELECT r.community_id AS c, count(*)::int AS tests,
                   count(*) FILTER (WHERE t.result = 'positive')::int AS positives
            FROM {schema}.test_result t JOIN {schema}.resident r USING (person_id)
            WHERE r.community_id = ANY($1) AND t.collected_at >= $2 AND t.collected_at < $3
            GROUP BY 1""",
            communities,
            start,
            end,
        ),
        "tests",
        "positives",
    )
    return rows


def _total(rows: list[dict[str, int]]) -> dict[str, Any]:
    total: dict[str, Any] = {f: sum(r[f] for r in rows) for f in FIGURES}
    return _with_coverage(total)


def _with_coverage(row: dict[str, Any]) -> dict[str, Any]:
    registered = row["households_registered"]
    row["screening_coverage"] = (
        round(row["households_visited"] / registered, 4) if registered else None
    )
    return row


async def daily_report(
    db: Db, schema: str, area: Area, day: date, at: datetime, timezone: ZoneInfo
) -> dict[str, Any]:
    start, end = day_bounds(day, timezone)
    communities = await communities_in(db, schema, area)
    figures = await _per_community(db, schema, communities, start, end, at)
    parents = await sub_district_of(db, schema, communities)
    labels = await names(db, schema, [*communities, *parents.values()])
    rows = [
        _with_coverage(
            {
                "community_id": c,
                "name": labels.get(c, c),
                "sub_district_id": parents[c],
                **figures[c],
            }
        )
        for c in communities
    ]
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[row["sub_district_id"]].append(row)
    return {
        "area": area.as_json(),
        "day": day.isoformat(),
        "timezone": str(timezone),
        "closes_at": end.isoformat(),
        "closed": at >= end,
        "figures": [*FIGURES, "screening_coverage"],
        "communities": rows,
        "sub_districts": [
            {"sub_district_id": sd, "name": labels.get(sd, sd), **_total(members)}
            for sd, members in sorted(grouped.items())
        ],
        "total": _total(rows),
    }
