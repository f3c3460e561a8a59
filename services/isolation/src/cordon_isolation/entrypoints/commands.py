"""What the staff routes share: a decision on one person's record, run in one transaction and
answered with what it recorded, and whether the service knows the person at all."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class PersonDecision:
    """One row of a list: a decision on a person's record, and the staff's note with it."""

    person_id: str
    decision: Callable[[PersonIsolation], Sequence[DomainEvent]]
    note: PrivateNote | None = None


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
        return await in_transaction(
            self.pool(), lambda conn: self.decide(conn, person_id, decision, actor, request, note)
        )

    async def run_many(
        self, decisions: Sequence[PersonDecision], actor: str, request: Request
    ) -> list[dict[str, Any]]:
        """Decide on each person's record in turn, all in ONE transaction: every decision
        is recorded, or (a conflict rerun too often, an error) none. Answers in order."""

        async def work(conn: asyncpg.Connection) -> list[dict[str, Any]]:
            return [
                await self.decide(conn, d.person_id, d.decision, actor, request, d.note)
                for d in decisions
            ]

        return await in_transaction(self.pool(), work)

    async def decide(
        self,
        conn: asyncpg.Connection,
        person_id: str,
        decision: Callable[[PersonIsolation], Sequence[DomainEvent]],
        actor: str,
        request: Request,
        note: PrivateNote | None = None,
    ) -> dict[str, Any]:
        """One person's decision in the caller's transaction, answered with what it did."""
        desk, now = self.desk, self.now
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

    async def known(self, person_id: str) -> bool:
        """Told of by the registry, or isolated here before (a reaction to a result)."""
        return person_id in await self.known_among([person_id])

    async def known_among(self, person_ids: Sequence[str]) -> set[str]:
        """Those of ``person_ids`` the service knows: the registry's residents (one query),
        and anyone else isolated here before."""
        async with connection(self.pool()) as conn:
            known = await self.iso.state.residents_among(conn, person_ids)
            for person_id in set(person_ids) - known:
                if (await self.desk.load(conn, person_id)).orders_seen:
                    known.add(person_id)
            return known
