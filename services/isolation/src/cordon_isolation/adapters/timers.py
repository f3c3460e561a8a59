"""Durable timers in PostgreSQL: scheduled with the events that start them, claimed with
``FOR UPDATE SKIP LOCKED`` (so two replicas never fire the same one) and marked fired in
the transaction that records their effect."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg


@dataclass(frozen=True)
class Timer:
    timer_id: uuid.UUID
    kind: str
    due_at: datetime
    payload: dict[str, Any]


class Timers:
    def __init__(self, schema: str) -> None:
        self.schema = schema

    async def schedule(self, conn: asyncpg.Connection, timers: Sequence[Timer]) -> None:
        """Idempotent: the same timer id scheduled twice is one timer."""
        await conn.executemany(
            f"""INSERT INTO {self.schema}.timers (timer_id, kind, due_at, payload)
                VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT (timer_id) DO NOTHING""",
            [(t.timer_id, t.kind, t.due_at, json.dumps(t.payload)) for t in timers],
        )

    async def cancel(
        self, conn: asyncpg.Connection, kind: str, key: str, value: str, at: datetime, why: str
    ) -> None:
        """Settle the pending timers of ``kind`` whose payload has ``key`` = ``value``."""
        await conn.execute(
            f"""UPDATE {self.schema}.timers SET fired_at = $4, outcome = $5
                WHERE kind = $1 AND fired_at IS NULL AND payload ->> $2 = $3""",
            kind,
            key,
            value,
            at,
            why,
        )

    async def claim_due(self, conn: asyncpg.Connection, now: datetime, limit: int) -> list[Timer]:
        """Due timers no one else holds, locked until the caller's transaction ends."""
        rows = await conn.fetch(
            f"""SELECT timer_id, kind, due_at, payload FROM {self.schema}.timers
                WHERE fired_at IS NULL AND due_at <= $1
                ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED""",
            now,
            limit,
        )
        return [
            Timer(r["timer_id"], r["kind"], r["due_at"], json.loads(r["payload"])) for r in rows
        ]

    async def mark_fired(
        self, conn: asyncpg.Connection, timer_id: uuid.UUID, at: datetime, outcome: str
    ) -> None:
        await conn.execute(
            f"UPDATE {self.schema}.timers SET fired_at = $2, outcome = $3 WHERE timer_id = $1",
            timer_id,
            at,
            outcome,
        )
