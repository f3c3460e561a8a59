"""The isolation service's read model of who lives in which household, from the registry's
resident events: who the close contacts of a positive person are."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from cordon_contracts.registry import ResidentLeft, ResidentMoved, ResidentRegistered
from cordon_core.envelope import Envelope

EVENT_TYPES = (ResidentRegistered.event_type, ResidentMoved.event_type, ResidentLeft.event_type)


class HouseholdProjection:
    name = "households"
    event_types = EVENT_TYPES

    def __init__(self, schema: str) -> None:
        self.schema = schema

    async def apply_batch(self, conn: asyncpg.Connection, envelopes: Sequence[Envelope]) -> None:
        for envelope in envelopes:
            p = envelope.payload
            if isinstance(p, ResidentRegistered | ResidentMoved):
                await conn.execute(
                    f"""INSERT INTO {self.schema}.residents AS r (person_id, household_id,
                            community_id, as_of, building_id) VALUES ($1, $2, $3, $4, $5)
                        ON CONFLICT (person_id) DO UPDATE SET household_id = EXCLUDED.household_id,
                            community_id = EXCLUDED.community_id, as_of = EXCLUDED.as_of,
                            building_id = EXCLUDED.building_id""",
                    p.person_id,
                    p.household_id,
                    p.community_id,
                    envelope.recorded_at,
                    p.building_id,
                )
            elif isinstance(p, ResidentLeft):
                await conn.execute(
                    f"DELETE FROM {self.schema}.residents"
                    " WHERE person_id = $1 AND household_id = $2",
                    p.person_id,
                    p.household_id,
                )

    async def reset(self, conn: asyncpg.Connection) -> None:
        await conn.execute(f"TRUNCATE {self.schema}.residents")
