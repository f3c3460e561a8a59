"""The in-app inbox (the ``inbox`` channel and ``/v1/inbox`` of the API; called "in-app" in
the code, since a consumer's inbox is cordon_core's record of the events it applied): what a
recipient was told, and marking it read (NotificationRead). Its tokens are an HMAC of the
recipient id, so the app's backend can hand each resident or member of staff a token that
opens their own inbox only."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import asyncpg

from cordon_contracts.notification import NotificationRead
from cordon_core.envelope import PendingEvent
from cordon_core.idempotency import command_transaction
from cordon_core.store import PostgresEventStore, StreamAppend
from cordon_notification.domain.delivery import event_id
from cordon_notification.service.queueing import MessageQueue, stream_of


def in_app_token(key: str, recipient_id: str) -> str:
    return hmac.new(key.encode(), f"inbox:{recipient_id}".encode(), hashlib.sha256).hexdigest()


class InAppInbox:
    def __init__(
        self,
        *,
        pool: Callable[[], asyncpg.Pool],
        schema: str,
        store: PostgresEventStore,
        queue: MessageQueue,
        clock: Callable[[], datetime],
    ) -> None:
        self.pool, self.schema, self.store, self.queue, self.clock = (
            pool, schema, store, queue, clock,
        )  # fmt: skip

    async def messages(
        self, recipient_id: str, *, unread_only: bool, limit: int
    ) -> list[dict[str, Any]]:
        rows = await self.pool().fetch(
            f"""SELECT delivery_id, template, urgent, subject, body, created_at, sent_at,
                       read_at
                FROM {self.schema}.deliveries
                WHERE recipient_id = $1 AND channel = 'inbox' AND status = 'sent'
                  AND (NOT $2 OR read_at IS NULL)
                ORDER BY created_at DESC LIMIT $3""",
            recipient_id,
            unread_only,
            limit,
        )
        return [dict(r) for r in rows]

    async def mark_read(self, recipient_id: str, delivery: uuid.UUID) -> datetime | None:
        """Mark one message read; returns when it was read (None: no such message)."""
        now = self.clock()
        async with command_transaction(self.pool()) as conn:
            row = await conn.fetchrow(
                f"""UPDATE {self.schema}.deliveries SET read_at = coalesce(read_at, $3)
                    WHERE delivery_id = $1 AND recipient_id = $2 AND channel = 'inbox'
                      AND status = 'sent'
                    RETURNING read_at, community_id""",
                delivery,
                recipient_id,
                now,
            )
            if row is None:
                return None
            read_at: datetime = row["read_at"]
            payload = NotificationRead(
                delivery_id=delivery, recipient_id=recipient_id, channel="inbox", read_at=read_at
            )
            await self.store.append_many(
                [
                    StreamAppend(
                        stream_of(delivery),
                        [PendingEvent(payload, event_id=event_id(delivery, "read"))],
                        expected_version=None,
                        metadata=self.queue.metadata(None, row["community_id"]),
                        partition_key=recipient_id,
                    )
                ],
                conn=conn,
            )
            return read_at
