"""What the staff routes share: a decision on one person's record, run in one transaction and
answered with what it recorded, and whether the service knows the person at all."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import asyncpg
from fastapi import Request

from cordon_core.envelope import DomainEvent, EventMetadata
from cordon_core.http import correlation_id
from cordon_core.idempotency import connection
from cordon_isolation.domain.orders import PersonIsolation
from cordon_isolation.entrypoints.deps import Isolation
from cordon_isolation.entrypoints.schemas import PrivateNote
from cordon_isolation.service.unit import in_transaction


class PersonCommands:
    def __init__(self, iso: Isolation, now: Callable[[], datetime]) -> None:
        self.iso, self.desk, self.now = iso, iso.desk, now

    def pool(self) -> asyncpg.Pool:
        return self.iso.runtime.pool

    def meta(self, actor: str, request: Request, community: str | None = None) -> EventMetadata:
        return EventMetadata.new(
            actor=actor, district=self.desk.district, community=community,
            correlation_id=correlation_id(request),
        )  # fmt: skip

    async def run(
        self,
        person_id: str,
        decision: Callable[[PersonIsolation], Sequence[DomainEvent]],
        actor: str,
        request: Request,
        note: PrivateNote | None = None,
    ) -> dict[str, Any]:
        """Decide on the person's record in one transaction; ``note``, the staff's own words,
        goes to the private notes with the events that name it."""
        desk, now = self.desk, self.now

        async def work(conn: asyncpg.Connection) -> dict[str, Any]:
            record = await desk.load(conn, person_id)
            community = record.active.community_id if record.active else None
            decided = await desk.decide(
                conn, person_id, decision, self.meta(actor, request, community), now=now()
            )
            if note is not None and decided.events:
                await desk.casebook.write_note(
                    conn, note.note_id, person_id, note.subject, note.body, actor, now()
                )
            order = decided.record.active
            touched = [getattr(e, "order_id", None) for e in decided.events]
            return {
                "person_id": person_id,
                "order_id": order.order_id if order else next(filter(None, touched), None),
                "level": order.level if order else None,
                "events": [e.event_type for e in decided.events],
            }

        return await in_transaction(self.pool(), work)

    async def known(self, person_id: str) -> bool:
        """Told of by the registry, or isolated here before (a reaction to a result)."""
        async with connection(self.pool()) as conn:
            if await self.iso.state.resident(conn, person_id) is not None:
                return True
            return bool((await self.desk.load(conn, person_id)).orders_seen)
