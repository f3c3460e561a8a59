"""The deliveries table: every message to send and what became of it, claimed by the
delivery workers with ``FOR UPDATE SKIP LOCKED`` and a lease, and recorded with a fencing
check on the attempt."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import astuple, dataclass, fields
from datetime import datetime
from typing import Any

import asyncpg

from cordon_notification.domain.delivery import PUSH_CHANNELS, Delivery, lane

_COLUMNS = [f.name for f in fields(Delivery) if f.name != "held"]
_TYPES = [
    "uuid", "text", "text", "text", "text", "text", "text", "text", "text", "boolean", "text",
    "text", "text", "timestamptz", "timestamptz",
]  # fmt: skip


@dataclass(frozen=True)
class Claimed:
    delivery_id: uuid.UUID
    source_id: str
    recipient_id: str
    channel: str
    address: str | None
    template: str
    language: str
    subject: str
    body: str
    attempts: int
    community_id: str | None
    lane: str
    lease_until: datetime


class Deliveries:
    def __init__(self, schema: str) -> None:
        self.schema = schema

    async def add(self, conn: asyncpg.Connection, deliveries: Sequence[Delivery]) -> set[uuid.UUID]:
        """Insert the deliveries not yet known; returns the ids actually inserted."""
        if not deliveries:
            return set()
        columns = list(zip(*(astuple(d)[:-1] for d in deliveries), strict=True))
        statuses = ["held" if d.held else "pending" for d in deliveries]
        lanes = [lane(d.channel, d.address) for d in deliveries]
        arrays = ", ".join(f"${i + 1}::{t}[]" for i, t in enumerate(_TYPES))
        rows = await conn.fetch(
            f"""INSERT INTO {self.schema}.deliveries ({", ".join(_COLUMNS)}, status, lane)
                SELECT * FROM unnest({arrays}, ${len(_TYPES) + 1}::text[],
                                     ${len(_TYPES) + 2}::text[])
                ON CONFLICT DO NOTHING RETURNING delivery_id""",
            *[list(c) for c in columns],
            statuses,
            lanes,
        )
        return {r["delivery_id"] for r in rows}

    async def recent_counts(
        self, conn: asyncpg.Connection, recipients: Sequence[str], since: datetime
    ) -> dict[tuple[str, str], int]:
        """Non-urgent push messages each recipient got on their own since ``since``."""
        rows = await conn.fetch(
            f"""SELECT recipient_id, channel, count(*) AS n FROM {self.schema}.deliveries
                WHERE recipient_id = ANY($1::text[]) AND created_at > $2
                  AND channel = ANY($3::text[]) AND NOT urgent
                  AND status NOT IN ('held', 'folded')
                GROUP BY recipient_id, channel""",
            list(set(recipients)),
            since,
            list(PUSH_CHANNELS),
        )
        return {(r["recipient_id"], r["channel"]): r["n"] for r in rows}

    async def claim(
        self,
        conn: asyncpg.Connection,
        now: datetime,
        lease_until: datetime,
        limit: int,
        *,
        room: Mapping[str, int],
        default_room: int,
    ) -> list[Claimed]:
        """Due deliveries, leased to the caller: first claims that lapsed (their worker died),
        then the oldest due of each lane, at most ``room[lane]`` (``default_room`` for a lane
        not in ``room``) per lane and ``limit`` in all.

        The lanes are found by skipping through the ``(lane, due_at)`` index, one probe per
        lane, so a lane with a long backlog costs no more than a lane with one message."""
        rows = await conn.fetch(
            f"""WITH RECURSIVE lanes AS (
                    (SELECT lane FROM {self.schema}.deliveries
                     WHERE status = 'pending' ORDER BY lane LIMIT 1)
                    UNION ALL
                    SELECT (SELECT d.lane FROM {self.schema}.deliveries d
                            WHERE d.status = 'pending' AND d.lane > lanes.lane
                            ORDER BY d.lane LIMIT 1)
                    FROM lanes WHERE lanes.lane IS NOT NULL),
                room AS (SELECT * FROM unnest($4::text[], $5::int[]) AS r(lane, n)),
                lapsed AS (
                    SELECT delivery_id FROM {self.schema}.deliveries
                    WHERE status = 'sending' AND lease_until <= $1
                    ORDER BY lease_until LIMIT $3
                    FOR UPDATE SKIP LOCKED),
                due AS (
                    SELECT p.delivery_id FROM lanes l CROSS JOIN LATERAL (
                        SELECT delivery_id FROM {self.schema}.deliveries d
                        WHERE d.status = 'pending' AND d.lane = l.lane AND d.due_at <= $1
                        ORDER BY d.due_at
                        LIMIT greatest(coalesce(
                            (SELECT n FROM room WHERE room.lane = l.lane), $6), 0)
                        FOR UPDATE SKIP LOCKED) p
                    WHERE l.lane IS NOT NULL),
                chosen AS (
                    SELECT delivery_id FROM lapsed
                    UNION ALL (SELECT delivery_id FROM due)
                    LIMIT $3)
                UPDATE {self.schema}.deliveries d
                SET status = 'sending', attempts = d.attempts + 1, lease_until = $2
                -- An array, not a join: a generic plan, not knowing the limit, would hash
                -- the whole table to join a hundred rows.
                WHERE d.delivery_id = ANY(ARRAY(SELECT delivery_id FROM chosen))
                RETURNING d.delivery_id, d.source_id, d.recipient_id, d.channel, d.address,
                          d.template, d.language, d.subject, d.body, d.attempts,
                          d.community_id, d.lane, d.lease_until""",
            now,
            lease_until,
            limit,
            list(room),
            list(room.values()),
            default_room,
        )
        return [Claimed(**dict(r)) for r in rows]

    async def release(self, conn: asyncpg.Connection, claims: Sequence[Claimed]) -> int:
        """Give back claims that were never handed to their channel (the worker is stopping,
        or the claim waited so long that a send could outlive its lease): due again at
        once, and the attempt not counted. Only claims still ours are released."""
        if not claims:
            return 0
        done: str = await conn.execute(
            f"""UPDATE {self.schema}.deliveries d
                SET status = 'pending', attempts = d.attempts - 1, lease_until = NULL
                FROM unnest($1::uuid[], $2::int[]) AS c(id, attempts)
                WHERE d.delivery_id = c.id AND d.attempts = c.attempts
                  AND d.status = 'sending'""",
            [c.delivery_id for c in claims],
            [c.attempts for c in claims],
        )
        return int(done.rsplit(" ", 1)[1])

    async def settle(
        self,
        conn: asyncpg.Connection,
        claims: Sequence[Claimed],
        status: str,
        *,
        at: datetime,
        errors: Sequence[str | None] | None = None,
        due: Sequence[datetime | None] | None = None,
    ) -> set[uuid.UUID]:
        """Record the outcome of claims still ours (same attempt, still sending)."""
        if not claims:
            return set()
        rows = await conn.fetch(
            f"""UPDATE {self.schema}.deliveries d
                SET status = $3, lease_until = NULL,
                    sent_at = CASE WHEN $3 = 'sent' THEN $4 ELSE d.sent_at END,
                    last_error = coalesce(c.error, d.last_error),
                    due_at = coalesce(c.due, d.due_at)
                FROM unnest($1::uuid[], $2::int[], $5::text[], $6::timestamptz[])
                     AS c(id, attempts, error, due)
                WHERE d.delivery_id = c.id AND d.attempts = c.attempts
                  AND d.status = 'sending'
                RETURNING d.delivery_id""",
            [c.delivery_id for c in claims],
            [c.attempts for c in claims],
            status,
            at,
            list(errors) if errors is not None else [None] * len(claims),
            list(due) if due is not None else [None] * len(claims),
        )
        return {r["delivery_id"] for r in rows}

    async def covered(
        self, conn: asyncpg.Connection, digest_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[uuid.UUID]]:
        rows = await conn.fetch(
            f"""SELECT digest_id, delivery_id FROM {self.schema}.deliveries
                WHERE digest_id = ANY($1::uuid[]) ORDER BY created_at""",
            list(digest_ids),
        )
        found: dict[uuid.UUID, list[uuid.UUID]] = {}
        for r in rows:
            found.setdefault(r["digest_id"], []).append(r["delivery_id"])
        return found

    async def held_groups(
        self, conn: asyncpg.Connection, before: datetime
    ) -> list[tuple[str, str]]:
        """(recipient, channel) with held messages older than ``before``: their digest is due."""
        rows = await conn.fetch(
            f"""SELECT recipient_id, channel FROM {self.schema}.deliveries
                WHERE status = 'held' GROUP BY recipient_id, channel
                HAVING min(created_at) <= $1""",
            before,
        )
        return [(r["recipient_id"], r["channel"]) for r in rows]

    async def take_held(
        self, conn: asyncpg.Connection, recipient_id: str, channel: str
    ) -> list[asyncpg.Record]:
        return list(
            await conn.fetch(
                f"""SELECT delivery_id, subject, recipient_kind, address, language,
                           community_id, created_at
                    FROM {self.schema}.deliveries
                    WHERE status = 'held' AND recipient_id = $1 AND channel = $2
                    ORDER BY created_at FOR UPDATE SKIP LOCKED""",
                recipient_id,
                channel,
            )
        )

    async def fold(
        self, conn: asyncpg.Connection, held: Sequence[uuid.UUID], digest_id: uuid.UUID
    ) -> None:
        await conn.execute(
            f"""UPDATE {self.schema}.deliveries SET status = 'folded', digest_id = $2
                WHERE delivery_id = ANY($1::uuid[])""",
            list(held),
            digest_id,
        )

    async def find(
        self, conn: asyncpg.Connection | asyncpg.Pool, **where: Any
    ) -> list[dict[str, Any]]:
        """Deliveries matching every ``column=value`` given (for the admin API and tests)."""
        clauses = [f"{column} = ${i}" for i, column in enumerate(where, start=1)]
        rows = await conn.fetch(
            f"""SELECT delivery_id, source_id, source_event_type, recipient_id, recipient_kind,
                       channel, template, language, urgent, subject, body, status, attempts,
                       due_at, last_error, digest_id, created_at, sent_at, read_at
                FROM {self.schema}.deliveries
                WHERE {" AND ".join(clauses) or "true"}
                ORDER BY created_at, delivery_id LIMIT 1000""",
            *where.values(),
        )
        return [dict(r) for r in rows]
