"""Order routes: placing a person under isolation, releasing them, and cancelling an order
entered in error.

(No ``from __future__ import annotations``: FastAPI must resolve the local ``Staff`` type.)
"""

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any

import asyncpg
import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError

from cordon_contracts.isolation import ORDER_REASONS
from cordon_isolation.domain import followup
from cordon_isolation.domain.orders import IsolationRequest
from cordon_isolation.domain.reactions import order_id_for
from cordon_isolation.entrypoints.commands import PersonCommands
from cordon_isolation.entrypoints.deps import Isolation
from cordon_isolation.entrypoints.schemas import CancelIn, OrderIn, PrivateNote
from cordon_isolation.service.unit import in_transaction

log = structlog.get_logger(__name__)
UNKNOWN_PERSON = (
    "the registry has not told this service of this person (yet); to isolate someone"
    " who is not registered (a visitor, a case flagged by police data) say so with"
    ' "unregistered": true'
)


def order_routes(
    iso: Isolation, staff: Callable[..., str], now: Callable[[], datetime]
) -> APIRouter:
    router = APIRouter(tags=["staff"])
    Staff = Annotated[str, Depends(staff)]
    commands = PersonCommands(iso, now)
    desk = iso.desk

    @router.post("/v1/orders", status_code=201)
    async def place_order(body: OrderIn, actor: Staff, request: Request) -> dict[str, Any]:
        """Isolate a person; an active order is upgraded (stronger level) and/or extended
        (later end) instead of opening a second one. The reason is published as its code's
        fixed wording; a note stays private."""
        starts = body.starts_at or now()
        end = body.planned_end_at or starts + timedelta(days=body.days or 0)
        refused = [
            ("days" if name == "planned_end_at" and body.days else name, reason)
            for name, reason in iso.order_windows.problems(starts, end, now())
        ]
        if not body.unregistered and not await commands.known(body.person_id):
            refused.append(("person_id", UNKNOWN_PERSON))
        if refused:
            raise RequestValidationError(
                [{"loc": ("body", n), "msg": m, "type": "value_error"} for n, m in refused]
            )
        if body.unregistered:
            log.info("order_for_unregistered_person", person_id=body.person_id, actor=actor)
        note = PrivateNote.of("order", body.note or body.reason)
        order = IsolationRequest(
            person_id=body.person_id, level=body.level, community_id=body.community_id,
            reason=ORDER_REASONS[body.reason_code], reason_code=body.reason_code,
            note_id=note.note_id if note else None, starts_at=starts, planned_end_at=end,
            order_id=order_id_for(uuid.uuid4(), body.person_id), place=body.place, team=body.team,
        )  # fmt: skip
        return await commands.run(
            body.person_id, lambda r: r.place_under(order), actor, request, note
        )

    base = "/v1/people/{person_id}/isolation"

    @router.post(f"{base}/release")
    async def release(person_id: str, actor: Staff, request: Request) -> dict[str, Any]:
        """Release when the period has passed and the policy's negative tests exist;
        409 names every unmet requirement."""

        async def work(conn: asyncpg.Connection) -> dict[str, Any]:
            policy = await iso.state.policy(conn, desk.district)
            results = await iso.state.results_of(conn, person_id)
            record = await desk.load(conn, person_id)
            community = record.active.community_id if record.active else None
            decided = await desk.decide(
                conn, person_id, lambda r: [followup.release(r, policy, now(), results)],
                commands.meta(actor, request, community), now=now(),
            )  # fmt: skip
            return {"events": ["IsolationEnded"], **decided.events[0].model_dump(mode="json")}

        return await in_transaction(commands.pool(), work)

    @router.post(f"{base}/cancel")
    async def cancel(
        person_id: str, body: CancelIn, actor: Staff, request: Request
    ) -> dict[str, Any]:
        """The order was entered in error: the code is published, a note stays private."""
        note = PrivateNote.of("cancellation", body.note or body.reason)
        note_id = note.note_id if note else None
        return await commands.run(
            person_id, lambda r: [followup.cancel(r, body.reason_code, note_id)], actor, request,
            note,
        )  # fmt: skip

    return router
