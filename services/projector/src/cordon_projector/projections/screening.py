"""Projection ``screening-coverage``: screening rounds and the households each visited,
from the registry. Coverage is visited households over registered households."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from cordon_contracts.registry import HouseholdVisited, ScreeningRoundClosed, ScreeningRoundOpened
from cordon_core.envelope import Envelope


class ScreeningProjection:
    name = "screening-coverage"
    reads_from = ("registry",)
    event_types = tuple(
        m.event_type for m in (ScreeningRoundOpened, ScreeningRoundClosed, HouseholdVisited)
    )

    def __init__(self, schema: str) -> None:
        self.schema = schema

    async def apply_batch(self, conn: asyncpg.Connection, envelopes: Sequence[Envelope]) -> None:
        opened: list[tuple[str, str, str, datetime]] = []
        closed: list[tuple[str, datetime]] = []
        visits: dict[tuple[str, str], tuple[str, str, str, str, datetime]] = {}
        for envelope in envelopes:
            event = envelope.payload
            if isinstance(event, ScreeningRoundOpened):
                opened.append((event.round_id, event.community_id, event.name, event.opened_at))
            elif isinstance(event, ScreeningRoundClosed):
                closed.append((event.round_id, event.closed_at))
            elif isinstance(event, HouseholdVisited):
                key = (event.round_id, event.household_id)
                seen = visits.get(key)
                if seen is None or event.visited_at < seen[4]:
                    visits[key] = (
                        event.round_id,
                        event.household_id,
                        event.grid_id,
                        event.community_id,
                        event.visited_at,
                    )
        if opened:
            await conn.executemany(
                f"INSERT INTO {self.schema}.screening_round"
                " (round_id, community_id, name, opened_at) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (round_id) DO NOTHING",
                opened,
            )
        if visits:
            await conn.execute(
                f"""INSERT INTO {self.schema}.screening_visit AS v
                    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
                                         $5::timestamptz[])
                    ON CONFLICT (round_id, household_id)
                    DO UPDATE SET visited_at = least(v.visited_at, EXCLUDED.visited_at)""",
                *map(list, zip(*visits.values(), strict=True)),
            )
        if closed:
            await conn.executemany(
                f"UPDATE {self.schema}.screening_round SET closed_at = $2 WHERE round_id = $1",
                closed,
            )

    async def reset(self, conn: asyncpg.Connection) -> None:
        await conn.execute(f"TRUNCATE {self.schema}.screening_round, {self.schema}.screening_visit")
