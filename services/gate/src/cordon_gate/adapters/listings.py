"""What the office lists: passes, checkpoints, devices and restricted people, page by page.

No listing ever shows a secret: a pass code or a device token exists only as a hash, and a
lost pass is reissued with a new code instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg


@dataclass(frozen=True, slots=True)
class Owned:
    community_id: str | None


Owner = Owned | None


class GateListings:
    def __init__(self, schema: str) -> None:
        self.schema = schema

    async def owners(self, conn: asyncpg.Connection | asyncpg.Pool, kind: str, key: str) -> Owner:
        """Which community a checkpoint, a pass or an office note belongs to, so that a
        community's staff act only on their own: ``None`` when there is no such thing (the
        command then answers 404 as before). A note belongs to the community its subject's
        first event was recorded in."""
        query = {
            "checkpoint": f"SELECT community_id FROM {self.schema}.checkpoints"
            " WHERE checkpoint_id = $1",
            "pass": f"SELECT community_id FROM {self.schema}.passes WHERE pass_id = $1",
            "note": f"""SELECT e.community FROM {self.schema}.office_notes n
                        JOIN {self.schema}.events e
                          ON e.stream_id = n.subject AND e.stream_version = 1
                        WHERE n.note_id = $1""",
        }[kind]
        row = await conn.fetchrow(query, key)
        return None if row is None else Owned(row[0])

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
