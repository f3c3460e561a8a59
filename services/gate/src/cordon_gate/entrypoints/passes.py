"""The office's routes on passes: issue, revoke (and bar the holder), reissue a lost pass,
and list passes. A pass code is shown once, when issued or reissued, and never again.

(No ``from __future__ import annotations`` here: FastAPI must see the dependency types.)
"""

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal, Self

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cordon_contracts.gate import OfficeReason
from cordon_core.api_errors import errors
from cordon_core.http import correlation_id
from cordon_core.idempotency import SHOWN_ONCE_OPERATION
from cordon_core.inputs import Flag, Limit, Moment, Text
from cordon_core.schema_rules import exactly_one_of
from cordon_core.unit_of_work import run_command
from cordon_gate.entrypoints.schemas import Id, Note, VisitorDocumentIn, field_error
from cordon_gate.service.administration import AlreadyExists, NotFound
from cordon_gate.service.restrictions import OfficeCommand
from cordon_gate.service.unit import Gate


class PassIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra=exactly_one_of("holder_person_id", "holder_visitor_document")
    )

    kind: Literal["temporary", "service", "exit_slip"]
    holder_person_id: Id | None = Field(
        default=None,
        description="The holder's person id: a resident the gate has heard of from the registry.",
    )
    holder_visitor_document: VisitorDocumentIn | None = Field(
        default=None,
        description="Or the document of a holder who is not a resident (e.g. a delivery "
        "rider): the pass is held by the same visitor id their document gets at the gate.",
    )
    community_id: Id
    valid_from: Moment
    valid_until: Moment
    daily_exit_quota: int | None = Field(default=None, ge=0, le=50)

    @model_validator(mode="after")
    def exactly_one_holder(self) -> Self:
        if (self.holder_person_id is None) == (self.holder_visitor_document is None):
            raise ValueError("exactly one of holder_person_id or holder_visitor_document")
        return self


class RevokeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason_code: OfficeReason
    note: Note = None
    bar_holder: Flag = Field(
        default=False,
        description="Also bar the holder from the community's gates (禁止该人员出入), "
        "whatever they show.",
    )


class ReissueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason_code: OfficeReason = "pass_lost"
    note: Note = None


def passes_router(gate: Gate, admin: Callable[..., str], now: Callable[[], datetime]) -> APIRouter:
    router = APIRouter(tags=["office"])
    Admin = Annotated[str, Depends(admin)]
    runtime = gate.runtime

    def command(body: "RevokeIn | ReissueIn", actor: str, request: Request) -> OfficeCommand:
        return OfficeCommand(
            reason_code=body.reason_code,
            at=now(),
            actor=actor,
            note=body.note,
            correlation_id=correlation_id(request),
        )

    @router.post("/v1/passes", status_code=201, openapi_extra=SHOWN_ONCE_OPERATION)
    async def issue_pass(body: PassIn, actor: Admin, request: Request) -> dict[str, str]:
        """Issue a pass; the returned code goes on the pass (QR) and is kept only as a hash."""
        if problem := gate.windows.pass_validity_problem(body.valid_from, body.valid_until):
            raise field_error(["body", "valid_until"], problem)
        fields = body.model_dump(exclude={"holder_visitor_document"})
        if (doc := body.holder_visitor_document) is not None:
            fields["holder_person_id"] = gate.pseudonyms.visitor_id(
                doc.document_type, doc.document_number
            )

        async def issue(conn: asyncpg.Connection) -> tuple[str, str]:
            holder = body.holder_person_id
            # A holder named by id must be one the registry told the gate of; one who is
            # not a resident is named by their document instead (holder_visitor_document).
            if holder is not None and holder not in await gate.state.people(conn, [holder]):
                raise field_error(
                    ["body", "holder_person_id"],
                    "the gate has not heard of this person from the registry (yet): a pass is"
                    " for a registered resident; give holder_visitor_document for anyone else",
                )
            return await gate.office.issue_pass(
                conn, **fields, actor=actor, correlation_id=correlation_id(request)
            )

        pass_id, code = await run_command(runtime.pool, issue)
        return {
            "pass_id": pass_id,
            "pass_code": code,
            "holder_person_id": fields["holder_person_id"],
        }

    @router.post("/v1/passes/{pass_id}/revoke", responses=errors(404))
    async def revoke_pass(
        pass_id: str, body: RevokeIn, actor: Admin, request: Request
    ) -> dict[str, Any]:
        """Revoke on the spot: every later scan with this pass is denied; with
        ``bar_holder`` its holder is barred too, whatever they show. A retry finds the pass
        revoked (``already_revoked``) and records nothing."""
        command = OfficeCommand(
            reason_code=body.reason_code,
            at=now(),
            actor=actor,
            note=body.note,
            correlation_id=correlation_id(request),
        )
        try:
            revoked, barred = await run_command(
                runtime.pool,
                lambda conn: gate.office.revoke_pass(
                    conn, pass_id, command, bar_holder=body.bar_holder
                ),
            )
        except NotFound as error:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error
        return {
            "pass_id": pass_id,
            "status": "revoked" if revoked else "already_revoked",
            "holder_barred": barred,
        }

    @router.post(
        "/v1/passes/{pass_id}/reissue",
        responses=errors(404, 409),
        openapi_extra=SHOWN_ONCE_OPERATION,
    )
    async def reissue_pass(
        pass_id: str, body: ReissueIn, actor: Admin, request: Request
    ) -> dict[str, str]:
        """A lost pass: a new code for the same pass, shown once; the old code stops working.
        (No listing ever shows a code again.)"""

        async def work(conn: asyncpg.Connection) -> str:
            return await gate.office.reissue_pass(conn, pass_id, command(body, actor, request))

        try:
            code = await run_command(runtime.pool, work)
        except NotFound as error:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error
        except AlreadyExists as error:
            raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
        return {"pass_id": pass_id, "pass_code": code}

    @router.get("/v1/passes")
    async def list_passes(
        actor: Admin,
        community_id: Text | None = None,
        holder_person_id: Text | None = None,
        include_revoked: bool = False,
        after: Text | None = None,
        limit: Limit = 100,
    ) -> list[dict[str, Any]]:
        """Passes by pass id (``after``: the last one of the previous page); never a code."""
        return await gate.listings.passes(
            runtime.pool,
            community_id=community_id,
            holder_person_id=holder_person_id,
            include_revoked=include_revoked,
            after=after,
            limit=limit,
        )

    return router
