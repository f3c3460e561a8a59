"""The breach route: a person under isolation left home, refused, or let someone in.

(No ``from __future__ import annotations``: FastAPI must resolve the local ``Staff`` type.)
"""

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Request

from cordon_core.envelope import DomainEvent
from cordon_core.staff_access import Office
from cordon_isolation.domain.breaches import BreachReport, gate_breach_id, report_breach
from cordon_isolation.domain.orders import PersonIsolation
from cordon_isolation.entrypoints.commands import PersonCommands, ordered_by
from cordon_isolation.entrypoints.deps import Isolation
from cordon_isolation.entrypoints.schemas import BreachIn
from cordon_isolation.service.unit import in_transaction


def breach_routes(
    iso: Isolation, staff: Callable[..., Awaitable[Office]], now: Callable[[], datetime]
) -> APIRouter:
    router = APIRouter(tags=["staff"])
    Staff = Annotated[Office, Depends(staff)]
    commands = PersonCommands(iso, now)
    desk = iso.desk

    @router.post("/v1/people/{person_id}/isolation/breaches", status_code=201)
    async def breach(
        person_id: str, body: BreachIn, office: Staff, request: Request
    ) -> dict[str, Any]:
        """The person left home (or refused, or let someone in); escalated as given. The
        same breach again records nothing and answers ``already_recorded_as``: the same
        ``breach_id`` or ``gate_event_id``, or a report of leaving within the policy's
        ``breach_match_minutes`` of a breach the gate recorded."""
        if body.gate_event_id is not None:
            breach_id = gate_breach_id(body.gate_event_id)
        else:
            breach_id = body.breach_id or f"breach-{uuid.uuid4().hex[:12]}"
        report = BreachReport(
            breach_id, body.kind, body.observed_at or now(), body.reported_by, body.escalated_to
        )
        same_as: list[str | None] = []

        async def work(conn: asyncpg.Connection) -> dict[str, Any]:
            policy = await iso.state.policy(conn, desk.district)

            def decide(record: PersonIsolation) -> list[DomainEvent]:
                decided = report_breach(record, report, policy)
                same_as.append(decided.same_as)
                return list(decided.events)

            record = await desk.load(conn, person_id)
            community = ordered_by(record)
            decided = await desk.decide(
                conn, person_id, decide, commands.meta(office, request, community), now=now()
            )
            return {
                "person_id": person_id,
                "breach_id": same_as[-1] or breach_id,
                "already_recorded_as": same_as[-1],
                "events": [e.event_type for e in decided.events],
            }

        return await in_transaction(commands.pool(), work)

    return router
