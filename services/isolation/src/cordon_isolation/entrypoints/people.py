"""What the service knows of a person, and the ledger of who is under which level.

(No ``from __future__ import annotations``: FastAPI must resolve the local ``Staff`` type.)
"""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from cordon_core.staff_access import Office
from cordon_isolation.entrypoints.commands import PersonCommands
from cordon_isolation.entrypoints.deps import Isolation


def people_routes(iso: Isolation, staff: Callable[..., Awaitable[Office]]) -> APIRouter:
    router = APIRouter(tags=["staff"])
    Staff = Annotated[Office, Depends(staff)]
    desk = iso.desk
    commands = PersonCommands(iso, iso.clock)

    @router.get("/v1/people/{person_id}")
    async def person(person_id: str, office: Staff) -> dict[str, Any]:
        """What the service knows of a person: household, active order, test results. A
        community's staff see the people who live in their community or whose active order
        it placed."""
        await commands.require_person(office, person_id, "path", "person_id")
        async with iso.runtime.pool.acquire() as conn:
            record = await desk.load(conn, person_id)
            resident = await iso.state.resident(conn, person_id)
            results = await iso.state.results_of(conn, person_id)
        order = record.active
        return {
            "person_id": person_id,
            "resident": resident,
            "order": None if order is None else {
                "order_id": order.order_id, "level": order.level,
                "community_id": order.community_id, "starts_at": order.starts_at,
                "planned_end_at": order.planned_end_at,
                "place": order.place.model_dump() if order.place else None,
                "team": order.team.model_dump() if order.team else None,
                "documents_issued": sorted(order.issued), "documents_signed": sorted(order.signed),
                "open_support_requests": order.open_support,
                "last_check_in_at": order.last_check_in_at,
            },
            "results": [
                {"sample_id": r.sample_id, "collected_at": r.collected_at, "result": r.result}
                for r in results
            ],
        }  # fmt: skip

    @router.get("/v1/ledger")
    async def ledger(office: Staff, community_id: str | None = None) -> list[dict[str, Any]]:
        """People under each level per community (the active orders); a community's staff
        see their own community's."""
        return await iso.state.ledger(iso.runtime.pool, office.scope(community_id))

    return router
