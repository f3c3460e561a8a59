"""The office's routes on people: bar them from the community's gates, lift the bar, give
them their own exit quota, list who is restricted, what the gate knows of a person, and
the office's own notes (which events name only by their id).

(No ``from __future__ import annotations`` here: FastAPI must see the dependency types.)

Every write here is safe to retry: with an ``Idempotency-Key`` a retry gets the first answer
(cordon_core.idempotency), and without one a command that finds its effect already there
records nothing and says so (``already_barred``, ``unchanged``, ...).
"""

from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Self

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cordon_contracts.gate import OfficeReason
from cordon_core.api_errors import errors
from cordon_core.http import correlation_id
from cordon_core.inputs import Limit, Text
from cordon_core.schema_rules import exactly_one_of
from cordon_core.staff_access import Office
from cordon_core.unit_of_work import run_command
from cordon_gate.entrypoints.schemas import Id, Note, VisitorDocumentIn
from cordon_gate.service.restrictions import OfficeCommand
from cordon_gate.service.unit import Gate


class PersonCommandIn(BaseModel):
    """Who: a person id (resident or pass holder, or a visitor id), or a visitor's document,
    which the gate turns into the same visitor id it uses at the gate (never published)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra=exactly_one_of("person_id", "visitor_document")
    )

    person_id: Id | None = None
    visitor_document: VisitorDocumentIn | None = None
    reason_code: OfficeReason
    note: Note = None

    @model_validator(mode="after")
    def exactly_one_person(self) -> Self:
        if (self.person_id is None) == (self.visitor_document is None):
            raise ValueError("exactly one of person_id or visitor_document is required")
        return self


class ExitQuotaIn(PersonCommandIn):
    daily_exits: int | None = Field(
        ge=0, le=50, description="Exits allowed per local day; null removes the person's own."
    )


def restrictions_router(
    gate: Gate, admin: Callable[..., Awaitable[Office]], now: Callable[[], datetime]
) -> APIRouter:
    router = APIRouter(tags=["office"], responses=errors(403))
    Admin = Annotated[Office, Depends(admin)]
    runtime = gate.runtime

    def who(body: PersonCommandIn) -> str:
        if body.visitor_document is not None:
            doc = body.visitor_document
            return gate.pseudonyms.visitor_id(doc.document_type, doc.document_number)
        assert body.person_id is not None
        return body.person_id

    def command(
        body: PersonCommandIn, office: Office, community_id: str, request: Request
    ) -> OfficeCommand:
        """The office's command in ``community_id``: a community's staff act in their own."""
        office.require(community_id, "path", "community_id")
        return OfficeCommand(
            reason_code=body.reason_code,
            at=now(),
            actor=office.actor,
            note=body.note,
            correlation_id=correlation_id(request),
        )

    @router.post("/v1/communities/{community_id}/bans")
    async def bar(
        community_id: Id, body: PersonCommandIn, office: Admin, request: Request
    ) -> dict[str, Any]:
        """Bar a person from the community's gates (禁止该人员出入), whatever they show,
        until the office lifts it. A retry finds them barred and records nothing."""
        order = command(body, office, community_id, request)
        person_id = who(body)
        barred = await run_command(
            runtime.pool, lambda conn: gate.restrictions.bar(conn, person_id, community_id, order)
        )
        return {"person_id": person_id, "status": "barred" if barred else "already_barred"}

    @router.post("/v1/communities/{community_id}/bans/lift")
    async def lift(
        community_id: Id, body: PersonCommandIn, office: Admin, request: Request
    ) -> dict[str, Any]:
        """Lift a person's bar. A retry finds it lifted and records nothing."""
        order = command(body, office, community_id, request)
        person_id = who(body)
        lifted = await run_command(
            runtime.pool, lambda conn: gate.restrictions.lift(conn, person_id, community_id, order)
        )
        return {"person_id": person_id, "status": "lifted" if lifted else "not_barred"}

    @router.put("/v1/communities/{community_id}/exit-quotas")
    async def assign_exit_quota(
        community_id: Id, body: ExitQuotaIn, office: Admin, request: Request
    ) -> dict[str, Any]:
        """Give a person their own daily exit quota (限定每天只能出入一次), counted over
        every identifier they use; null removes it. The same quota again records nothing."""
        order = command(body, office, community_id, request)
        person_id = who(body)
        changed = await run_command(
            runtime.pool,
            lambda conn: gate.restrictions.assign_exit_quota(
                conn, person_id, community_id, body.daily_exits, order
            ),
        )
        return {
            "person_id": person_id,
            "daily_exits": body.daily_exits,
            "status": "assigned" if changed else "unchanged",
        }

    @router.get("/v1/communities/{community_id}/restrictions")
    async def restricted_people(
        community_id: Id, office: Admin, after: Text | None = None, limit: Limit = 100
    ) -> list[dict[str, Any]]:
        """People barred or with their own exit quota in the community."""
        office.require(community_id, "path", "community_id")
        return await gate.listings.restricted_people(
            runtime.pool, community_id=community_id, after=after, limit=limit
        )

    @router.get("/v1/people/{person_id}/status", responses=errors(404))
    async def person_status(person_id: str, office: Admin) -> dict[str, Any]:
        """What the gate knows of a person, and as of when (from the other services' events).
        A community's staff see their own community's residents."""
        async with runtime.pool.acquire() as conn:
            person = (await gate.state.people(conn, [person_id])).get(person_id)
        if person is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"the gate knows nothing of {person_id}")
        office.require(person.community_id, "path", "person_id")
        return asdict(person)

    @router.get("/v1/notes/{note_id}", responses=errors(404))
    async def office_note(note_id: str, office: Admin) -> dict[str, Any]:
        """The office's own words behind an event's ``note_id`` (kept only here). A
        community's staff read the notes on their own community's records."""
        owner = await gate.listings.owners(runtime.pool, "note", note_id)
        if owner is not None:
            office.require(owner.community_id, "path", "note_id")
        note = await gate.state.note(runtime.pool, note_id)
        if note is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no note {note_id!r}")
        return note

    return router
