"""The isolation ledger (隔离台账) and screening coverage of an area, per grid."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from cordon_projector.read_models.areas import Area, Db, communities_in, names
from cordon_projector.read_models.four_colour import active_levels_sql


async def isolation_ledger(db: Db, schema: str, area: Area, at: datetime) -> dict[str, Any]:
    """Orders in force at ``at`` for people living in the area (or, for people the
    registry does not know, ordered by one of its communities), grouped by grid."""
    communities = await communities_in(db, schema, area)
    rows = await db.fetch(
        f"""WITH a AS ({active_levels_sql(schema, "$3")})
            SELECT a.order_id, a.person_id, a.level, a.reason, a.starts_at, a.planned_end_at,
                   a.place_kind, a.place_id, a.community_id,
                   r.grid_id, r.building_id, r.household_id
            FROM a LEFT JOIN {schema}.resident r ON r.person_id = a.person_id AND r.present
            WHERE r.{area.column} = $1 OR (r.person_id IS NULL AND a.community_id = ANY($2))
            ORDER BY r.grid_id NULLS LAST, a.starts_at, a.order_id""",
        area.id,
        communities,
        at,
    )
    grids: dict[str, Counter[str]] = defaultdict(Counter)
    orders = []
    for r in rows:
        grid = r["grid_id"] or "?"
        grids[grid][r["level"]] += 1
        orders.append(
            {
                **dict(r),
                "grid_id": grid,
                "starts_at": r["starts_at"].isoformat(),
                "planned_end_at": r["planned_end_at"].isoformat(),
            }
        )
    labels = await names(db, schema, list(grids))
    return {
        "area": area.as_json(),
        "at": at.isoformat(),
        "grids": [
            {
                "grid_id": g,
                "name": labels.get(g, g),
                **{lvl: c[lvl] for lvl in ("centralized", "home", "monitoring")},
            }
            for g, c in sorted(grids.items())
        ],
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
