"""The private notes, the causes of each order and the office's review list
(sql/0002_notes_causes_reviews.sql), written in the transaction of the events they follow."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import asyncpg

from cordon_contracts.isolation import IsolationReviewRequested
from cordon_isolation.adapters.state import Executor


class Casebook:
    def __init__(self, schema: str) -> None:
        self.schema = schema

    async def write_note(
        self, conn: asyncpg.Connection, note_id: str, person_id: str, subject: str, body: str,
        by: str, at: datetime,
    ) -> None:  # fmt: skip
        await conn.execute(
            f"""INSERT INTO {self.schema}.notes (note_id, person_id, subject, body, written_by,
                    written_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING""",
            note_id, person_id, subject, body, by, at,
        )  # fmt: skip

    async def note(self, conn: Executor, note_id: str) -> dict[str, Any] | None:
        row = await conn.fetchrow(f"SELECT * FROM {self.schema}.notes WHERE note_id = $1", note_id)
        return dict(row) if row else None

    async def add_causes(
        self, conn: asyncpg.Connection, causes: Iterable[tuple[str, str, str]]
    ) -> None:
        """Record each (cause, order id, person id): the cause placed, upgraded or extended
        the order."""
        await conn.executemany(
            f"""INSERT INTO {self.schema}.order_causes (source_event_id, order_id, person_id)
                VALUES ($1, $2, $3) ON CONFLICT DO NOTHING""",
            list(causes),
        )

    async def active_orders_caused_by(
        self, conn: asyncpg.Connection, causes: Iterable[str]
    ) -> list[str]:
        """The people whose active order one of ``causes`` placed, upgraded or extended."""
        rows = await conn.fetch(
            f"""SELECT DISTINCT c.person_id FROM {self.schema}.order_causes c
                JOIN {self.schema}.orders o ON o.order_id = c.order_id AND o.status = 'active'
                WHERE c.source_event_id = ANY($1::text[]) ORDER BY c.person_id""",
            list(causes),
        )
        return [r["person_id"] for r in rows]

    async def open_review(
        self, conn: asyncpg.Connection, review: IsolationReviewRequested, community_id: str
    ) -> None:
        await conn.execute(
            f"""INSERT INTO {self.schema}.reviews (review_id, order_id, person_id, community_id,
                    reason_code, sample_id, requested_at, status)
                VALUES ($1, $2, $3, $4, $5, $6, $7, 'open') ON CONFLICT DO NOTHING""",
            review.review_id, review.order_id, review.person_id, community_id,
            review.reason_code, review.sample_id, review.requested_at,
        )  # fmt: skip

    async def close_reviews(
        self, conn: asyncpg.Connection, order_id: str, status: str, at: datetime,
        by: str | None = None, review_id: str | None = None,
    ) -> None:  # fmt: skip
        """Settle one open review of the order (``review_id``), or all of them."""
        await conn.execute(
            f"""UPDATE {self.schema}.reviews SET status = $2, settled_at = $3, settled_by = $4
                WHERE order_id = $1 AND status = 'open' AND ($5::text IS NULL OR review_id = $5)""",
            order_id, status, at, by, review_id,
        )  # fmt: skip

    async def review(self, conn: Executor, review_id: str) -> dict[str, Any] | None:
        row = await conn.fetchrow(
            f"SELECT * FROM {self.schema}.reviews WHERE review_id = $1", review_id
        )
        return dict(row) if row else None

    async def reviews(
        self, conn: Executor, community_id: str | None, status: str | None
    ) -> list[dict[str, Any]]:
        rows = await conn.fetch(
            f"""SELECT * FROM {self.schema}.reviews
                WHERE ($1::text IS NULL OR community_id = $1) AND ($2::text IS NULL OR status = $2)
                ORDER BY requested_at, review_id""",
            community_id, status,
        )  # fmt: skip
        return [dict(r) for r in rows]
