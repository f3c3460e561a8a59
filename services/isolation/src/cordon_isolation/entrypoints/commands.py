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
from cordon_core.staff_access import Office
from cordon_isolation.domain.orders import PersonIsolation
from cordon_isolation.entrypoints.deps import Isolation
from cordon_isolation.entrypoints.schemas import PrivateNote
from cordon_isolation.service.orders import Decided, PersonDecision
from cordon_isolation.service.unit import in_transaction


@dataclass(frozen=True)
class PersonCommand:
    """One row of a list: a decision on a person's record, and the staff's note with it."""

    person_id: str
    decision: Callable[[PersonIsolation], Sequence[DomainEvent]]
    note: PrivateNote | None = None
    loc: tuple[str | int, ...] = ("path", "person_id")
    """Where the request named the person: a refusal (403) names it."""


def ordered_by(record: PersonIsolation) -> str | None:
    """The community whose active order the record is under (None: no active order)."""
    return record.active.community_id if record.active else None


def answer(person_id: str, decided: Decided) -> dict[str, Any]:
    """What a command on a person did: the order it is about, and the events recorded."""
    order = decided.record.active
    touched = [getattr(e, "order_id", None) for e in decided.events]
    return {
        "person_id": person_id,
        "order_id": order.order_id if order else next(filter(None, touched), None),
        "level": order.level if order else None,
        "events": [e.event_type for e in decided.events],
    }


class PersonCommands:
    def __init__(self, iso: Isolation, now: Callable[[], datetime]) -> None:
        self.iso, self.desk, self.now = iso, iso.desk, now

    def pool(self) -> asyncpg.Pool:
        return self.iso.runtime.pool

    def meta(self, office: Office, request: Request, community: str | None = None) -> EventMetadata:
        """The metadata of events recorded on a record of ``community`` (its active order's),
        which the caller must serve: a community's staff act on their own community's
        people only (403 naming the person in the path)."""
        if community is not None:
            office.require(community, "path", "person_id")
        return EventMetadata.new(
            actor=office.actor, district=self.desk.district, community=community,
            correlation_id=correlation_id(request),
        )  # fmt: skip

    async def run(
        self,
        person_id: str,
        decision: Callable[[PersonIsolation], Sequence[DomainEvent]],
        office: Office,
        request: Request,
        note: PrivateNote | None = None,
    ) -> dict[str, Any]:
        """Decide on the person's record in one transaction; ``note``, the staff's own words,
        goes to the private notes with the events that name it."""
        [answer] = await self.run_many([PersonCommand(person_id, decision, note)], office, request)
        return answer

    async def run_many(
        self, commands: Sequence[PersonCommand], office: Office, request: Request
    ) -> list[dict[str, Any]]:
        """Decide on each person's record, all in ONE transaction: every decision is
        recorded, or (a conflict rerun too often, an error) none. Answers in order."""
        desk, now = self.desk, self.now

        def meta(record: PersonIsolation) -> EventMetadata:
            return self.meta(office, request, ordered_by(record))

        def guarded(command: PersonCommand) -> Callable[[PersonIsolation], Sequence[DomainEvent]]:
            """The command's decision, after the caller is found to serve the record (before
            deciding, so that a refusal tells nothing of another community's order)."""

            def decide(record: PersonIsolation) -> Sequence[DomainEvent]:
                if (community := ordered_by(record)) is not None:
                    office.require(community, *command.loc)
                return command.decision(record)

            return decide

        async def work(conn: asyncpg.Connection) -> list[dict[str, Any]]:
            decisions = [PersonDecision(c.person_id, guarded(c), meta) for c in commands]
            decided = await desk.decide_many(conn, decisions, now=now())
            notes = [
                (c.person_id, c.note) for c, d in zip(commands, decided, strict=True)
                if c.note is not None and d.events
            ]  # fmt: skip
            for person_id, note in notes:
                await desk.casebook.write_note(
                    conn, note.note_id, person_id, note.subject, note.body, office.actor, now()
                )
            return [answer(c.person_id, d) for c, d in zip(commands, decided, strict=True)]

        return await in_transaction(self.pool(), work)

    async def require_person(self, office: Office, person_id: str, *loc: str) -> None:
        """Refuse (403 naming ``loc``) a community's staff a person who neither lives in
        their community nor is under an order their community placed."""
        if office.district_wide:
            return
        async with connection(self.pool()) as conn:
            record = await self.desk.load(conn, person_id)
            resident = await self.iso.state.resident(conn, person_id)
        ordered, home = ordered_by(record), resident["community_id"] if resident else None
        if office.community_id not in (ordered, home):
            office.require(ordered or home, *loc)

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
