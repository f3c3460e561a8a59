"""What the office lists: passes, checkpoints, devices and restricted people, page by page.

No listing ever shows a secret: a pass code or a device token exists only as a hash, and a
lost pass is reissued with a new code instead.
"""

from __future__ import annotations

from typing import Any

import asyncpg


class GateListings:
    def __init__(self, schema: str) -> None:
        self.schema = schema

    async def passes(
        self,
        conn: asyncpg.Connection | asyncpg.Pool,
        *,
        community_id: str | None,
        holder_person_id: str | None,
        include_revoked: bool,
        after: str | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        rows = await conn.fetch(
            f"""SELECT pass_id, kind, holder_person_id, community_id, valid_from, valid_until,
                       daily_exit_quota, revoked
                FROM {self.schema}.passes
                WHERE ($1::text IS NULL OR community_id = $1)
                  AND ($2::text IS NULL OR holder_person_id = $2)
                  AND ($3 OR NOT revoked)
                  AND ($4::text IS NULL OR pass_id > $4)
                ORDER BY pass_id LIMIT $5""",
            community_id,
            holder_person_id,
            include_revoked,
            after,
            limit,
        )
        return [dict(r) for r in rows]

    async def checkpoints(
        self,
        conn: asyncpg.Connection | asyncpg.Pool,
        *,
        community_id: str | None,
        after: str | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        rows = await conn.fetch(
            f"""SELECT checkpoint_id, community_id, compound_id, name, is_open,
                       requires_negative_test, negative_test_hours
                FROM {self.schema}.checkpoints
                WHERE ($1::text IS NULL OR community_id = $1)
                  AND ($2::text IS NULL OR checkpoint_id > $2)
                ORDER BY checkpoint_id LIMIT $3""",
            community_id,
            after,
            limit,
        )
        return [dict(r) for r in rows]

    async def devices(
        self,
        conn: asyncpg.Connection | asyncpg.Pool,
        *,
        checkpoint_id: str | None,
        community_id: str | None,
        after: str | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        rows = await conn.fetch(
            f"""SELECT d.device_id, d.checkpoint_id, c.community_id, d.revoked
                FROM {self.schema}.devices d JOIN {self.schema}.checkpoints c USING (checkpoint_id)
                WHERE ($1::text IS NULL OR d.checkpoint_id = $1)
                  AND ($2::text IS NULL OR c.community_id = $2)
                  AND ($3::text IS NULL OR d.device_id > $3)
                ORDER BY d.device_id LIMIT $4""",
            checkpoint_id,
            community_id,
            after,
            limit,
        )
        return [dict(r) for r in rows]

    async def restricted_people(
        self,
        conn: asyncpg.Connection | asyncpg.Pool,
        *,
        community_id: str,
        after: str | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        """People barred or with their own exit quota in the community (pseudonymous ids)."""
        rows = await conn.fetch(
            f"""SELECT person_id, community_id, barred, daily_exit_quota
                FROM {self.schema}.person_restrictions
                WHERE community_id = $1 AND (barred OR daily_exit_quota IS NOT NULL)
                  AND ($2::text IS NULL OR person_id > $2)
                ORDER BY person_id LIMIT $3""",
            community_id,
            after,
            limit,
        )
        return [dict(r) for r in rows]
