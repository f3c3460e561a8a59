"""Follow-up routes on a person under isolation: daily check-ins, support requests and their
delivery, the documents issued and signed, and the team responsible.

(No ``from __future__ import annotations``: FastAPI must resolve the local ``Staff`` type.)
"""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from cordon_contracts.isolation import Document, ResponsibleTeam
from cordon_core.staff_access import Office
from cordon_isolation.domain import followup
from cordon_isolation.entrypoints.commands import PersonCommands
from cordon_isolation.entrypoints.deps import Isolation
from cordon_isolation.entrypoints.schemas import CheckInIn, DeliveredIn, IssuedIn, SupportIn


def followup_routes(
    iso: Isolation, staff: Callable[..., Awaitable[Office]], now: Callable[[], datetime]
) -> APIRouter:
    router = APIRouter(tags=["staff"])
    Staff = Annotated[Office, Depends(staff)]
    command = PersonCommands(iso, now).run
    base = "/v1/people/{person_id}/isolation"

    @router.post(f"{base}/check-ins", status_code=201)
    async def check_in(
        person_id: str, body: CheckInIn, office: Staff, request: Request
    ) -> dict[str, Any]:
        """Daily follow-up: temperature, symptoms and the call about how the person is."""
        return await command(
            person_id,
            lambda r: [
                followup.check_in(
                    r,
                    checked_at=body.checked_at or now(),
                    temperature_c=body.temperature_c,
                    symptoms=body.symptoms,
                    mood_call=body.mood_call,
                    recorded_by=body.recorded_by,
                )
            ],
            office,
            request,
        )

    @router.post(f"{base}/support-requests", status_code=201)
    async def request_support(
        person_id: str, body: SupportIn, office: Staff, request: Request
    ) -> dict[str, Any]:
        """Food, medicine, rubbish, parcels (三定三送); the same request id twice is one."""
        return await command(
            person_id,
            lambda r: followup.request_support(r, body.request_id, body.kind, now(), body.urgent),
            office,
            request,
        )

    @router.post(f"{base}/support-requests/{{request_id}}/delivered")
    async def deliver_support(
        person_id: str, request_id: str, body: DeliveredIn, office: Staff, request: Request
    ) -> dict[str, Any]:
        return await command(
            person_id,
            lambda r: [followup.deliver_support(r, request_id, now(), body.delivered_by)],
            office,
            request,
        )

    @router.post(f"{base}/documents/{{document}}/issued")
    async def issue_document(
        person_id: str, document: Document, body: IssuedIn, office: Staff, request: Request
    ) -> dict[str, Any]:
        """三书一牌: notice, commitment, responsibility letter, door sign."""
        return await command(
            person_id,
            lambda r: followup.issue_document(r, document, now(), body.issued_by),
            office,
            request,
        )

    @router.post(f"{base}/documents/{{document}}/signed")
    async def sign_document(
        person_id: str, document: Document, office: Staff, request: Request
    ) -> dict[str, Any]:
        return await command(
            person_id, lambda r: followup.sign_document(r, document, now()), office, request
        )

    @router.put(f"{base}/team")
    async def assign_team(
        person_id: str, body: ResponsibleTeam, office: Staff, request: Request
    ) -> dict[str, Any]:
        """三包一: the cadre, police officer and doctor responsible for the person."""
        return await command(
            person_id, lambda r: followup.assign_team(r, body, now()), office, request
        )

    return router
