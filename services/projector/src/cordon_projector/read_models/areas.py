"""Places of the hierarchy as the dashboards address them: the district, a sub-district,
a community, a grid, a compound or a building."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

import asyncpg

from cordon_projector.domain.rules import RESIDENT_COLUMN, child_kind

Db: TypeAlias = asyncpg.Pool
"""A pool or a connection (asyncpg has no type hints)."""


@dataclass(frozen=True)
class Area:
    id: str
    kind: str
    name: str
    parent_id: str | None
    district: str
    community_id: str | None = None

    @property
    def column(self) -> str:
        return RESIDENT_COLUMN[self.kind]

    @property
    def child_kind(self) -> str | None:
        return child_kind(self.kind)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "name": self.name,
            "parent_id": self.parent_id,
            "district": self.district,
        }


async def find_area(db: Db, schema: str, area_id: str, district: str) -> Area | None:
    if area_id == district or await db.fetchval(
        f"SELECT EXISTS (SELECT 1 FROM {schema}.place"
        " WHERE district = $1 AND kind = 'sub_district')",
        area_id,
    ):
        return Area(area_id, "district", area_id, None, area_id)
    row = await db.fetchrow(
        f"SELECT place_id, kind, name, parent_id, district, community_id FROM {schema}.place"
        " WHERE place_id = $1",
        area_id,
    )
    if row is not None and row["kind"] != "unit":
        parent = row["parent_id"] if row["kind"] != "sub_district" else row["district"]
        community = area_id if row["kind"] == "community" else row["community_id"]
        return Area(area_id, row["kind"], row["name"], parent, row["district"], community)
    # A community the registry has not described yet, known only from other events.
    known = await db.fetchval(
        f"""SELECT 1 WHERE EXISTS (SELECT 1 FROM {schema}.resident WHERE community_id = $1)
            OR EXISTS (SELECT 1 FROM {schema}.gate_minute WHERE community_id = $1)
            OR EXISTS (SELECT 1 FROM {schema}.isolation_order WHERE community_id = $1)""",
        area_id,
    )
    return Area(area_id, "community", area_id, None, district, area_id) if known else None


async def ancestors(db: Db, schema: str, area: Area) -> list[dict[str, str]]:
    """The path from the district down to ``area`` (for breadcrumbs)."""
    path: list[dict[str, str]] = []
    parent = area.parent_id
    while parent is not None and parent != area.district and len(path) < 10:
        row = await db.fetchrow(
            f"SELECT place_id, kind, name, parent_id FROM {schema}.place WHERE place_id = $1",
            parent,
        )
        if row is None:
            break
        path.insert(0, {"id": row["place_id"], "kind": row["kind"], "name": row["name"]})
        parent = row["parent_id"]
    if area.kind != "district":
        path.insert(0, {"id": area.district, "kind": "district", "name": area.district})
    return path


async def names(db: Db, schema: str, ids: list[str]) -> dict[str, str]:
    rows = await db.fetch(
        f"SELECT place_id, name FROM {schema}.place WHERE place_id = ANY($1)", ids
    )
    return {r["place_id"]: r["name"] for r in rows}


async def communities_in(db: Db, schema: str, area: Area) -> list[str]:
    """Communities under ``area`` (or the one it lies in)."""
    if area.kind == "district":
        rows = await db.fetch(
            f"""SELECT place_id AS c FROM {schema}.place WHERE kind = 'community'
                UNION SELECT community_id FROM {schema}.resident
                UNION SELECT community_id FROM {schema}.isolation_order
                UNION SELECT DISTINCT community_id FROM {schema}.gate_minute ORDER BY 1"""
        )
        return [r["c"] for r in rows]
    if area.kind == "sub_district":
        rows = await db.fetch(
            f"""SELECT place_id AS c FROM {schema}.place
                WHERE kind = 'community' AND parent_id = $1
                UNION SELECT community_id FROM {schema}.resident WHERE sub_district_id = $1
                ORDER BY 1""",
            area.id,
        )
        return [r["c"] for r in rows]
    return [area.community_id] if area.community_id else []


async def sub_district_of(db: Db, schema: str, communities: list[str]) -> dict[str, str]:
    rows = await db.fetch(
        f"""SELECT c, coalesce(
                (SELECT parent_id FROM {schema}.place WHERE place_id = c AND kind = 'community'),
                (SELECT sub_district_id FROM {schema}.resident WHERE community_id = c LIMIT 1),
                '?') AS sd
            FROM unnest($1::text[]) AS c""",
        communities,
    )
    return {r["c"]: r["sd"] for r in rows}


async def buildings_under(db: Db, schema: str, area: Area) -> list[asyncpg.Record]:
    """Every building the registry placed under ``area``, with its compound and grid."""
    return list(
        await db.fetch(
            f"""WITH RECURSIVE below AS (
                    SELECT place_id, kind, name, parent_id, place_id AS grid_id,
                           place_id AS compound_id
                    FROM {schema}.place WHERE place_id = $1
                    UNION ALL
                    SELECT p.place_id, p.kind, p.name, p.parent_id,
                           CASE WHEN p.kind = 'grid' THEN p.place_id ELSE b.grid_id END,
                           CASE WHEN p.kind = 'compound' THEN p.place_id ELSE b.compound_id END
                    FROM {schema}.place p JOIN below b ON p.parent_id = b.place_id
                    WHERE b.kind <> 'building' AND NOT p.closed)
                SELECT place_id AS building_id, name, grid_id, compound_id FROM below
                WHERE kind = 'building' ORDER BY place_id""",
            area.id,
        )
    )
