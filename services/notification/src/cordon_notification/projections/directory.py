"""The service's read model of who is where and who looks after them, from the registry's
events (residents' households, buildings and grids; grid workers and building heads) and
isolation's orders (for the daily check-in reminders)."""

from __future__ import annotations

import asyncpg

from cordon_contracts import isolation, registry
from cordon_core.envelope import DomainEvent

DIRECTORY_EVENTS: tuple[type[DomainEvent], ...] = (
    registry.ResidentRegistered,
    registry.ResidentMoved,
    registry.ResidentLeft,
    registry.StaffAssigned,
    registry.StaffUnassigned,
    isolation.IsolationStarted,
    isolation.IsolationEnded,
    isolation.IsolationCancelled,
)


class DirectoryProjection:
    def __init__(self, schema: str) -> None:
        self.schema = schema

    async def apply(self, conn: asyncpg.Connection, event: DomainEvent) -> None:
        s = self.schema
        if isinstance(event, registry.ResidentRegistered | registry.ResidentMoved):
            await conn.execute(
                f"""INSERT INTO {s}.residents (person_id, household_id, building_id, grid_id,
                        community_id, sub_district_id) VALUES ($1, $2, $3, $4, $5, $6)
                    ON CONFLICT (person_id) DO UPDATE SET household_id = $2, building_id = $3,
                        grid_id = $4, community_id = $5, sub_district_id = $6""",
                event.person_id, event.household_id, event.building_id, event.grid_id,
                event.community_id, event.sub_district_id,
            )  # fmt: skip
            await conn.execute(
                f"""INSERT INTO {s}.communities (community_id, sub_district_id) VALUES ($1, $2)
                    ON CONFLICT (community_id) DO UPDATE SET sub_district_id = $2""",
                event.community_id,
                event.sub_district_id,
            )
        elif isinstance(event, registry.ResidentLeft):
            await conn.execute(
                f"DELETE FROM {s}.residents WHERE person_id = $1 AND household_id = $2",
                event.person_id,
                event.household_id,
            )
        elif isinstance(event, registry.StaffAssigned):
            await conn.execute(
                f"""INSERT INTO {s}.assignments (place_id, role, staff_id, community_id)
                    VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING""",
                event.place_id,
                event.role,
                event.staff_id,
                event.community_id,
            )
        elif isinstance(event, registry.StaffUnassigned):
            await conn.execute(
                f"DELETE FROM {s}.assignments WHERE place_id = $1 AND role = $2 AND staff_id = $3",
                event.place_id,
                event.role,
                event.staff_id,
            )
        elif isinstance(event, isolation.IsolationStarted):
            await conn.execute(
                f"""INSERT INTO {s}.isolation_orders (order_id, person_id, community_id, active)
                    VALUES ($1, $2, $3, true) ON CONFLICT (order_id) DO NOTHING""",
                event.order_id,
                event.person_id,
                event.community_id,
            )
        elif isinstance(event, isolation.IsolationEnded | isolation.IsolationCancelled):
            await conn.execute(
                f"UPDATE {s}.isolation_orders SET active = false WHERE order_id = $1",
                event.order_id,
            )
