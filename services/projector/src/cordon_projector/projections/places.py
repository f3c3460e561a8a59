"""Projection ``places``: the district's hierarchy and names, from the registry."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from cordon_contracts.registry import PlaceAdded, PlaceClosed, PlaceMerged, PlaceRenamed
from cordon_core.envelope import Envelope


class PlacesProjection:
    name = "places"
    reads_from = ("registry",)
    event_types = tuple(m.event_type for m in (PlaceAdded, PlaceRenamed, PlaceMerged, PlaceClosed))

    def __init__(self, schema: str) -> None:
        self.schema = schema

    async def apply_batch(self, conn: asyncpg.Connection, envelopes: Sequence[Envelope]) -> None:
        added: dict[str, tuple[str, str, str | None, str | None, str, str]] = {}
        for envelope in envelopes:
            event = envelope.payload
            if isinstance(event, PlaceAdded):
                added[event.place_id] = (
                    event.place_id,
                    event.kind,
                    event.parent_id,
                    event.community_id,
                    envelope.district,
                    event.name,
                )
                continue
            if added:  # keep the order of a place's events within the batch
                await self._add(conn, list(added.values()))
                added.clear()
            if isinstance(event, PlaceRenamed):
                await conn.execute(
                    f"UPDATE {self.schema}.place SET name = $2 WHERE place_id = $1",
                    event.place_id,
                    event.name,
                )
            elif isinstance(event, PlaceMerged):
                await conn.execute(
                    f"UPDATE {self.schema}.place SET closed = true WHERE place_id = $1",
                    event.place_id,
                )
                await conn.execute(
                    f"UPDATE {self.schema}.place SET parent_id = $2 WHERE place_id = ANY($1)",
                    event.children_moved,
                    event.into_place_id,
                )
            elif isinstance(event, PlaceClosed):
                await conn.execute(
                    f"UPDATE {self.schema}.place SET closed = true WHERE place_id = $1",
                    event.place_id,
                )
        if added:
            await self._add(conn, list(added.values()))

    async def _add(
        self,
        conn: asyncpg.Connection,
        rows: list[tuple[str, str, str | None, str | None, str, str]],
    ) -> None:
        await conn.executemany(
            f"""INSERT INTO {self.schema}.place
                    (place_id, kind, parent_id, community_id, district, name)
                VALUES ($1, $2, $3, $4, $5, $6)
                ON CONFLICT (place_id) DO UPDATE SET kind = EXCLUDED.kind,
                    parent_id = EXCLUDED.parent_id, community_id = EXCLUDED.community_id,
                    district = EXCLUDED.district, name = EXCLUDED.name, closed = false""",
            rows,
        )

    async def reset(self, conn: asyncpg.Connection) -> None:
        await conn.execute(f"TRUNCATE {self.schema}.place")
