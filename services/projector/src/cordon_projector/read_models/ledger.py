"""The isolation ledger (隔离台账) and screening coverage of an area, per grid."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from cordon_projector.read_models.areas import Area, Db, communities_in, names
from cordon_projector.read_models.four_colour import (
    active_levels_sql,
    level_rank_sql,
    residents_of,
)

LEDGER_ORDERS = {
    "grid": ("grid_id", "starts_at", "order_id"),
    "starts_at": ("starts_at", "order_id"),
    "planned_end_at": ("planned_end_at", "order_id"),
    "level": ("level_rank", "grid_id", "order_id"),
}
"""How a ledger page can be sorted (each ends on the order id: a total order, so pages
neither repeat nor skip a row). ``level`` goes from monitoring to centralized, by the
four-colour ranks; descending puts the most severe first."""
LedgerSort = Literal["grid", "starts_at", "planned_end_at", "level"]
LEVELS = ("centralized", "home", "monitoring")
PAGE_COLUMNS = (
    "order_id", "person_id", "level", "reason", "starts_at", "planned_end_at", "place_kind",
    "place_id", "community_id", "grid_id", "building_id", "household_id", "level_rank",
)  # fmt: skip
"""The columns of a ledger row, in the order the query selects them."""


@dataclass(frozen=True, slots=True)
class LedgerPage:
    """Which orders of the ledger travel: a page of the filtered, sorted list."""

    limit: int = 100
    offset: int = 0
    sort: LedgerSort = "grid"
    descending: bool = False
    level: str | None = None
    grid_id: str | None = None
    planned_end_before: datetime | None = None
    """Orders due for release by then (planned end before it)."""


async def isolation_ledger(
    db: Db, schema: str, area: Area, at: datetime, page: LedgerPage = LedgerPage()
) -> dict[str, Any]:
    """Orders in force at ``at`` for people living in the area (or, for people the
    registry does not know, ordered by one of its communities): the counts per grid and
    level over the whole area, the number of orders the filters keep, and one page of them.

    The counts and the total are aggregated by PostgreSQL; only the page's rows travel."""
    communities = await communities_in(db, schema, area)
    residents = residents_of(schema, area, "$1")
    among = f"{residents} OR o.community_id = ANY($2)" if residents else None
    in_area = f"""WITH a AS ({active_levels_sql(schema, "$3", among)})
            SELECT a.order_id, a.person_id, a.level, a.reason, a.starts_at, a.planned_end_at,
                   a.place_kind, a.place_id, a.community_id,
                   r.grid_id, r.building_id, r.household_id,
                   {level_rank_sql("a.level")} AS level_rank
            FROM a LEFT JOIN {schema}.resident r ON r.person_id = a.person_id AND r.present
            WHERE r.{area.column} = $1 OR (r.person_id IS NULL AND a.community_id = ANY($2))"""
    kept = """($4::text IS NULL OR level = $4) AND ($5::text IS NULL OR grid_id = $5)
              AND ($6::timestamptz IS NULL OR planned_end_at < $6)"""
    filters = (page.level, page.grid_id, page.planned_end_before)
    direction = " DESC" if page.descending else ""
    order = ", ".join(f"{key}{direction} NULLS LAST" for key in LEDGER_ORDERS[page.sort])
    # One statement: the area's orders are found once, then counted and paged (two
    # statements found them twice: half of a page's time).
    counts_only = ", ".join(c if c in ("grid_id", "level") else "NULL" for c in PAGE_COLUMNS)
    found = await db.fetch(
        f"""WITH s AS MATERIALIZED ({in_area}),
            page AS (SELECT * FROM s WHERE {kept} ORDER BY {order} LIMIT $7 OFFSET $8)
            SELECT false AS counted, {", ".join(PAGE_COLUMNS)}, NULL::int AS n,
                   NULL::int AS kept
            FROM page
            UNION ALL
            SELECT true, {counts_only}, count(*)::int, count(*) FILTER (WHERE {kept})::int
            FROM s GROUP BY grid_id, level
            ORDER BY counted, {order}""",
        area.id, communities, at, *filters, page.limit, page.offset,
    )  # fmt: skip
    counted = [r for r in found if r["counted"]]
    rows = [r for r in found if not r["counted"]]
    grids: dict[str, Counter[str]] = defaultdict(Counter)
    for c in counted:
        grids[c["grid_id"] or "?"][c["level"]] += c["n"]
    orders = [
        {
            **{k: r[k] for k in PAGE_COLUMNS if k != "level_rank"},
            "grid_id": r["grid_id"] or "?",
            "starts_at": r["starts_at"].isoformat(),
            "planned_end_at": r["planned_end_at"].isoformat(),
        }
        for r in rows
    ]
    labels = await names(db, schema, list(grids))
    return {
        "area": area.as_json(),
        "at": at.isoformat(),
        "grids": [
            {"grid_id": g, "name": labels.get(g, g), **{lvl: c[lvl] for lvl in LEVELS}}
            for g, c in sorted(grids.items())
        ],
        "total": sum(c["kept"] for c in counted),
        "limit": page.limit,
        "offset": page.offset,
        "orders": orders,
    }


async def screening_coverage(db: Db, schema: str, area: Area, at: datetime) -> dict[str, Any]:
    """Per community, its latest round opened by ``at``: households visited / households
    registered (with at least one resident), per grid."""
    communities = await communities_in(db, schema, area)
    rows = await db.fetch(
        f"""WITH rounds AS (SELECT DISTINCT ON (community_id) community_id, round_id, name,
                    opened_at, closed_at
                FROM {schema}.screening_round WHERE community_id = ANY($1) AND opened_at <= $2
                ORDER BY community_id, opened_at DESC),
            registered AS (SELECT community_id, grid_id, count(DISTINCT household_id) AS n
                FROM {schema}.resident WHERE present AND community_id = ANY($1)
                GROUP BY 1, 2),
            visited AS (SELECT v.round_id, v.grid_id, count(*) AS n
                FROM {schema}.screening_visit v JOIN rounds r USING (round_id)
                WHERE v.visited_at <= $2 GROUP BY 1, 2)
            SELECT r.community_id, r.round_id, r.name, r.opened_at, r.closed_at,
                   g.grid_id, coalesce(g.n, 0)::int AS registered,
                   coalesce(v.n, 0)::int AS visited
            FROM rounds r
            JOIN (SELECT community_id, grid_id, sum(n) AS n FROM (
                      SELECT * FROM registered UNION ALL SELECT r2.community_id, v2.grid_id, 0
                      FROM visited v2 JOIN rounds r2 USING (round_id)) u GROUP BY 1, 2) g
              ON g.community_id = r.community_id
            LEFT JOIN visited v ON v.round_id = r.round_id AND v.grid_id = g.grid_id
            ORDER BY r.community_id, g.grid_id""",
        communities,
        at,
    )
    labels = await names(db, schema, [r["grid_id"] for r in rows])
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        entry = out.setdefault(
            r["community_id"],
            {
                "community_id": r["community_id"],
                "round_id": r["round_id"],
                "name": r["name"],
                "opened_at": r["opened_at"].isoformat(),
                "closed_at": r["closed_at"].isoformat() if r["closed_at"] else None,
                "registered": 0,
                "visited": 0,
                "grids": {},
            },
        )
        grid = entry["grids"].setdefault(
            r["grid_id"],
            {
                "grid_id": r["grid_id"],
                "name": labels.get(r["grid_id"], r["grid_id"]),
                "registered": 0,
                "visited": 0,
            },
        )
        grid["registered"] += r["registered"]
        grid["visited"] += r["visited"]
        entry["registered"] += r["registered"]
        entry["visited"] += r["visited"]
    rounds = []
    for entry in out.values():
        grids = list(entry.pop("grids").values())
        for g in [*grids, entry]:
            g["coverage"] = round(g["visited"] / g["registered"], 4) if g["registered"] else None
        rounds.append({**entry, "grids": grids})
    return {"area": area.as_json(), "at": at.isoformat(), "rounds": rounds}
