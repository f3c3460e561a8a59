"""The places read model: every place with its ancestors' ids, open or not."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from cordon_contracts.registry import PlaceAdded
from cordon_registry.domain.places import Ancestry

ANCESTRY = ("sub_district_id", "community_id", "grid_id", "compound_id", "building_id", "unit_id")
PLACE_COLUMNS = ("place_id", "kind", "name", "parent_id", *ANCESTRY, "added_at")


class PlacesTable:
    def __init__(self, schema: str) -> None:
        self.schema = schema

    async def get(self, conn: asyncpg.Connection, place_id: str) -> asyncpg.Record | None:
        return await conn.fetchrow(
            f"SELECT * FROM {self.schema}.places WHERE place_id = $1", place_id
        )

    async def existing(self, conn: asyncpg.Connection, place_ids: Sequence[str]) -> set[str]:
        rows = await conn.fetch(
            f"SELECT place_id FROM {self.schema}.places WHERE place_id = ANY($1::text[])",
            list(place_ids),
        )
        return {r["place_id"] for r in rows}

    async def add(
        self, conn: asyncpg.Connection, added: Iterable[tuple[PlaceAdded, Ancestry]]
    ) -> None:
        records = [
            (e.place_id, e.kind, e.name, e.parent_id, *a.as_dict().values(), e.added_at)
            for e, a in added
        ]
        if records:
            await conn.copy_records_to_table(
                "places", schema_name=self.schema, columns=PLACE_COLUMNS, records=records
            )

    async def rename(self, conn: asyncpg.Connection, place_id: str, name: str) -> None:
        await conn.execute(
            f"UPDATE {self.schema}.places SET name = $2 WHERE place_id = $1", place_id, name
        )

    async def close(self, conn: asyncpg.Connection, place_id: str, at: datetime) -> None:
        await conn.execute(
            f"UPDATE {self.schema}.places SET status = 'closed', closed_at = $2"
            " WHERE place_id = $1",
            place_id,
            at,
        )

    async def merge(
        self, conn: asyncpg.Connection, place_id: str, kind: str, into: str, at: datetime
    ) -> list[str]:
        """Mark the place merged, hang its children under ``into``; returns the children."""
        s = self.schema
        await conn.execute(
            f"UPDATE {s}.places SET status = 'merged', merged_into = $2, closed_at = $3"
            " WHERE place_id = $1",
            place_id,
            into,
            at,
        )
        children = await conn.fetch(
            f"UPDATE {s}.places SET parent_id = $2 WHERE parent_id = $1 AND status = 'open'"
            " RETURNING place_id",
            place_id,
            into,
        )
        column = f"{kind}_id"
        if column in ANCESTRY:
            await conn.execute(
                f"UPDATE {s}.places SET {column} = $2 WHERE {column} = $1", place_id, into
            )
            await conn.execute(
                f"UPDATE {s}.residents SET {column} = $2 WHERE {column} = $1", place_id, into
            )
        return sorted(r["place_id"] for r in children)

    async def children(self, conn: asyncpg.Connection, place_id: str) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await conn.fetch(
            f"SELECT * FROM {self.schema}.places WHERE parent_id = $1 ORDER BY kind, name", place_id
        )
        return rows

    async def open_children(self, conn: asyncpg.Connection, place_id: str) -> int:
        count: int = await conn.fetchval(
            f"SELECT count(*) FROM {self.schema}.places WHERE parent_id = $1 AND status = 'open'",
            place_id,
        )
        return count

    async def assign(
        self, conn: asyncpg.Connection, place_id: str, role: str, staff_id: str, at: datetime
    ) -> None:
        await conn.execute(
            f"INSERT INTO {self.schema}.place_staff VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            place_id,
            role,
            staff_id,
            at,
        )

    async def unassign(
        self, conn: asyncpg.Connection, place_id: str, role: str, staff_id: str
    ) -> None:
        await conn.execute(
            f"DELETE FROM {self.schema}.place_staff"
            " WHERE place_id = $1 AND role = $2 AND staff_id = $3",
            place_id,
            role,
            staff_id,
        )

    async def staff(self, conn: asyncpg.Connection, place_id: str) -> list[dict[str, Any]]:
        rows = await conn.fetch(
            f"SELECT role, staff_id, assigned_at FROM {self.schema}.place_staff WHERE place_id = $1"
            " ORDER BY role, staff_id",
            place_id,
        )
        return [dict(r) for r in rows]


def ancestry_of(row: asyncpg.Record) -> Ancestry:
    """The ancestry a child of the place in ``row`` inherits (the place itself included)."""
    own = Ancestry(**{name: row[name] for name in ANCESTRY})
    return own.below(row["kind"], row["place_id"])
