"""Contact routes: how staff and offices are reached (kept here, never published), and who is
told about a person.

(No ``from __future__ import annotations``: FastAPI must resolve the local ``Admin`` type.)
"""

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status

from cordon_core.api_errors import errors
from cordon_core.idempotency import executor
from cordon_notification.domain.contacts import Contact
from cordon_notification.domain.delivery import QuietHours
from cordon_notification.entrypoints.deps import Notifier
from cordon_notification.entrypoints.schemas import (
    ContactIn,
    ContactOut,
    RecipientId,
    RecipientsOut,
    contact_out,
)


def contact_routes(notifier: Notifier, admin: Callable[..., str]) -> APIRouter:
    router = APIRouter(tags=["contacts"])
    Admin = Annotated[str, Depends(admin)]
    runtime = notifier.runtime

    @router.put("/v1/contacts/{recipient_id}")
    async def put_contact(recipient_id: RecipientId, body: ContactIn, _: Admin) -> ContactOut:
        """Register how a member of staff (staff id) or an office (``office-<community>``,
        ``subdistrict-<id>``) is reached. Kept here only, never published."""
        quiet = body.quiet_hours
        contact = Contact(
            recipient_id=recipient_id,
            language=body.language,
            email=str(body.email) if body.email else None,
            webhook_url=str(body.webhook_url) if body.webhook_url else None,
            inbox=body.inbox,
            quiet_hours=QuietHours(quiet.start, quiet.end) if quiet else None,
        )
        await notifier.directory.save_contact(executor(runtime.pool), contact)
        return contact_out(contact)

    @router.get("/v1/contacts/{recipient_id}", responses=errors(404))
    async def get_contact(recipient_id: str, _: Admin) -> ContactOut:
        found = await notifier.directory.contacts(runtime.pool, [recipient_id])
        if recipient_id not in found:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no contact {recipient_id}")
        return contact_out(found[recipient_id])

    @router.delete("/v1/contacts/{recipient_id}", status_code=204, responses=errors(404))
    async def delete_contact(recipient_id: str, _: Admin) -> None:
        if not await notifier.directory.remove_contact(executor(runtime.pool), recipient_id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no contact {recipient_id}")

    @router.get("/v1/people/{person_id}/recipients", responses=errors(404))
    async def recipients(person_id: str, _: Admin) -> RecipientsOut:
        """Who is told about this person: what the registry's events said, as of now."""
        found = await notifier.directory.residences(runtime.pool, [person_id])
        if person_id not in found:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"{person_id} is not known here")
        r = found[person_id]
        return RecipientsOut(
            person_id=r.person_id,
            household_id=r.household_id,
            building_id=r.building_id,
            grid_id=r.grid_id,
            community_id=r.community_id,
            local_staff=list(r.local_staff),
        )

    return router
