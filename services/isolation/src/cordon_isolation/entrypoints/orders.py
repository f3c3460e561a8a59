"""Order routes: placing a person (or a list of people) under isolation, releasing them,
and cancelling an order entered in error.

(No ``from __future__ import annotations``: FastAPI must resolve the local ``Staff`` type.)
"""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Request

from cordon_core.lists import repeated, unlike_the_first
from cordon_core.staff_access import Office
from cordon_isolation.domain import followup
from cordon_isolation.entrypoints.commands import PersonCommands, ordered_by
from cordon_isolation.entrypoints.deps import Isolation
from cordon_isolation.entrypoints.placing import OrderPlacement, problem
from cordon_isolation.entrypoints.schemas import (
    CancelIn,
    OrderBatchIn,
    OrderBatchOut,
    OrderIn,
    PlacedOut,
    PrivateNote,
)
from cordon_isolation.service.unit import in_transaction


def order_routes(
    iso: Isolation, staff: Callable[..., Awaitable[Office]], now: Callable[[], datetime]
) -> APIRouter:
    router = APIRouter(tags=["staff"])
    Staff = Annotated[Office, Depends(staff)]
    commands = PersonCommands(iso, now)
    placement = OrderPlacement(iso, now)
    desk = iso.desk

    @router.post("/v1/orders", status_code=201)
    async def place_order(body: OrderIn, office: Staff, request: Request) -> dict[str, Any]:
        """Isolate a person; an active order is upgraded (stronger level) and/or extended
        (later end) instead of opening a second one. The reason is published as its code's
        fixed wording; a note stays private."""
        [placed] = await placement.place([body], lambda _: ("body",), office, request)
        return placed

    def where(row: int) -> tuple[str | int, ...]:
        return ("body", "orders", row)

    @router.post("/v1/orders/batch", status_code=201, response_model=OrderBatchOut)
    async def place_orders(body: OrderBatchIn, office: Staff, request: Request) -> OrderBatchOut:
        """Place the orders of a list of 1 to 1,000 people of one community, each person once,
        by the single order's rules: all in one transaction, or, when any row is bad, none
        (a 422 names every bad row and field, ``["body", "orders", 17, "starts_at"]``). A
        person under an active order has it upgraded or extended, or left as it is (that
        row's ``events`` is empty). Answered in row order."""
        rows = body.orders
        first = rows[0].community_id
        problems = [
            problem(where(i), "community_id", f"a list is one community's: {first}")
            for i in unlike_the_first([row.community_id for row in rows])
        ] + [
            problem(where(i), "person_id", f"the same person as row {earlier}: a list names"
                    " each person once (a second order for them is placed on its own)")
            for i, earlier in repeated([row.person_id for row in rows]).items()
        ]  # fmt: skip
        placed = await placement.place(rows, where, office, request, problems)
        return OrderBatchOut(orders=[PlacedOut(**p) for p in placed])

    base = "/v1/people/{person_id}/isolation"

    @router.post(f"{base}/release")
    async def release(person_id: str, office: Staff, request: Request) -> dict[str, Any]:
        """Release when the period has passed and the policy's negative tests exist;
        409 names every unmet requirement."""

        async def work(conn: asyncpg.Connection) -> dict[str, Any]:
            policy = await iso.state.policy(conn, desk.district)
            results = await iso.state.results_of(conn, person_id)
            record = await desk.load(conn, person_id)
            community = ordered_by(record)
            decided = await desk.decide(
                conn, person_id, lambda r: [followup.release(r, policy, now(), results)],
                commands.meta(office, request, community), now=now(),
            )  # fmt: skip
            return {"events": ["IsolationEnded"], **decided.events[0].model_dump(mode="json")}

        return await in_transaction(commands.pool(), work)

    @router.post(f"{base}/cancel")
    async def cancel(
        person_id: str, body: CancelIn, office: Staff, request: Request
    ) -> dict[str, Any]:
        """The order was entered in error: the code is published, a note stays private."""
        note = PrivateNote.of("cancellation", body.note or body.reason)
        note_id = note.note_id if note else None
        return await commands.run(
            person_id, lambda r: [followup.cancel(r, body.reason_code, note_id)], office, request,
            note,
        )  # fmt: skip

    return router
