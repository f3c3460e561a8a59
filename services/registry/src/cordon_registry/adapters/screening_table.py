"""Screening read model: risk areas, rounds, the latest visit per household, coverage."""

from __future__ import annotations

from typing import Any

import asyncpg

from cordon_contracts.registry import HouseholdVisited, RiskAreaDesignated, ScreeningRoundOpened
from cordon_registry.domain.screening import RiskArea


class ScreeningTable:
    def __init__(self, schema: str) -> None:
        self.schema = schema

    async def designate(self, conn: asyncpg.Connection, e: RiskAreaDesignated) -> None:
        await conn.execute(
            f"""INSERT INTO {self.schema}.risk_areas VALUES ($1, $2, $3, $4, $5, $6)
                ON CONFLICT (area_code) DO UPDATE SET area_name = EXCLUDED.area_name,
                    level = EXCLUDED.level, valid_from = EXCLUDED.valid_from,
                    valid_until = EXCLUDED.valid_until, designated_at = EXCLUDED.designated_at""",
            e.area_code,
            e.area_name,
            e.level,
            e.valid_from,
            e.valid_until,
            e.designated_at,
        )

    async def risk_areas(self, conn: asyncpg.Connection) -> dict[str, RiskArea]:
        rows = await conn.fetch(
            "SELECT area_code, area_name, level, valid_from, valid_until"
            f" FROM {self.schema}.risk_areas"
        )
        return {r["area_code"]: RiskArea(**dict(r)) for r in rows}

    async def open_round(self, conn: asyncpg.Connection, e: ScreeningRoundOpened) -> None:
        await conn.execute(
            f"INSERT INTO {self.schema}.screening_rounds VALUES ($1, $2, $3, $4, $5)",
            e.round_id,
            e.community_id,
            e.name,
            e.window_days,
            e.opened_at,
        )

    async def close_round(self, conn: asyncpg.Connection, round_id: str, at: Any) -> None:
        await conn.execute(
            f"UPDATE {self.schema}.screening_rounds SET closed_at = $2 WHERE round_id = $1",
            round_id,
            at,
        )

    async def get_round(self, conn: asyncpg.Connection, round_id: str) -> asyncpg.Record | None:
        return await conn.fetchrow(
            f"SELECT * FROM {self.schema}.screening_rounds WHERE round_id = $1", round_id
        )

    async def rounds(self, conn: asyncpg.Connection, community_id: str) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await conn.fetch(
            f"SELECT * FROM {self.schema}.screening_rounds WHERE community_id = $1"
            " ORDER BY opened_at",
            community_id,
        )
        return rows

    async def record_visit(
        self, conn: asyncpg.Connection, e: HouseholdVisited, travel_alerts: int
    ) -> None:
        await conn.execute(
            f"""INSERT INTO {self.schema}.household_visits
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                ON CONFLICT (round_id, household_id) DO UPDATE SET visit_id = EXCLUDED.visit_id,
                    staff_id = EXCLUDED.staff_id, visited_at = EXCLUDED.visited_at,
                    present = EXCLUDED.present, travel_alerts = EXCLUDED.travel_alerts""",
            e.round_id,
            e.household_id,
            e.grid_id,
            e.community_id,
            e.visit_id,
            e.staff_id,
            e.visited_at,
            len(e.present_person_ids),
            travel_alerts,
        )

    async def coverage(
        self, conn: asyncpg.Connection, round_id: str, community_id: str
    ) -> list[dict[str, Any]]:
        """Per grid, then the community (grid_id None): households with residents, and
        how many of them this round visited."""
        s = self.schema
        rows = await conn.fetch(
            f"""WITH registered AS (
                    SELECT DISTINCT household_id, grid_id FROM {s}.residents
                    WHERE community_id = $2 AND status = 'active')
                SELECT reg.grid_id, count(*) AS households_registered,
                       count(v.household_id) AS households_visited
                FROM registered reg
                LEFT JOIN {s}.household_visits v
                       ON v.round_id = $1 AND v.household_id = reg.household_id
                GROUP BY ROLLUP (reg.grid_id) ORDER BY reg.grid_id NULLS LAST""",
            round_id,
            community_id,
        )
        return [dict(r) for r in rows]
