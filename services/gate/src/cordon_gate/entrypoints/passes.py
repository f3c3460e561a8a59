"""The office's routes on passes: issue one or a list, revoke (and bar the holder), reissue a
lost pass, and list passes. A pass code is shown once, when issued or reissued, and never
again.

(No ``from __future__ import annotations`` here: FastAPI must see the dependency types.)
"""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, Literal, Self

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cordon_contracts.gate import OfficeReason
from cordon_core.api_errors import errors
from cordon_core.http import correlation_id
from cordon_core.idempotency import SHOWN_ONCE_OPERATION
from cordon_core.inputs import Flag, Limit, Moment, Text
from cordon_core.lists import repeated, unlike_the_first
from cordon_core.schema_rules import exactly_one_of
from cordon_core.staff_access import Office
from cordon_core.unit_of_work import run_command
from cordon_gate.adapters.pseudonyms import Pseudonymizer
from cordon_gate.domain.passes import PassRequest
from cordon_gate.entrypoints.schemas import Id, Note, VisitorDocumentIn
from cordon_gate.service.administration import (
    AlreadyExists,
    NotFound,
    UnknownCommunities,
    UnknownHolders,
)
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

    @property
    def holder_field(self) -> str:
        return "holder_person_id" if self.holder_person_id else "holder_visitor_document"

    def request(self, pseudonyms: Pseudonymizer) -> PassRequest:
        """The pass asked for; a holder named by a document is held by its visitor id."""
        holder = self.holder_person_id
        if (doc := self.holder_visitor_document) is not None:
            holder = pseudonyms.visitor_id(doc.document_type, doc.document_number)
        assert holder is not None
        return PassRequest(
            kind=self.kind,
            holder_person_id=holder,
            holder_is_resident=self.holder_person_id is not None,
            community_id=self.community_id,
            valid_from=self.valid_from,
            valid_until=self.valid_until,
            daily_exit_quota=self.daily_exit_quota,
        )


PASS_BATCH_MAX = 1000
"""Rows in one ``POST /v1/passes/batch``: a large compound's list of temporary residents or
delivery riders in one go; a district's lists are sent community by community."""


class PassBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    passes: list[PassIn] = Field(
        min_length=1,
        max_length=PASS_BATCH_MAX,
        description=f"1 to {PASS_BATCH_MAX:,} passes of one community, each holder once.",
    )


class IssuedPassOut(BaseModel):
    pass_id: str
    pass_code: str = Field(description="Shown this once; the gate keeps only its hash.")
    holder_person_id: str = Field(
        description="The holder's person id, or the visitor id their document gets at the gate."
    )


class PassBatchOut(BaseModel):
    passes: list[IssuedPassOut] = Field(description="One per row, in the rows' order.")


Loc = tuple[str | int, ...]
UNKNOWN_COMMUNITY = (
    "no gate of this community is registered: a pass admits at its community's gates, so"
    " register a checkpoint of the community first"
)
UNKNOWN_HOLDER = (
    "the gate has not heard of this person from the registry (yet): a pass is for a"
    " registered resident; give holder_visitor_document for anyone else"
)


def problem(where: Loc, field: str, msg: str) -> dict[str, Any]:
    return {"loc": (*where, field), "msg": msg, "type": "value_error"}


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


def passes_router(
    gate: Gate, admin: Callable[..., Awaitable[Office]], now: Callable[[], datetime]
) -> APIRouter:
    router = APIRouter(tags=["office"], responses=errors(403))
    Admin = Annotated[Office, Depends(admin)]
    runtime = gate.runtime

    async def require_pass(office: Office, pass_id: str) -> None:
        """Refuse a community's staff another community's pass (an unknown one is left to
        the command, which answers 404)."""
        owner = await gate.listings.owners(runtime.pool, "pass", pass_id)
        if owner is not None:
            office.require(owner.community_id, "path", "pass_id")

    def command(body: "RevokeIn | ReissueIn", actor: str, request: Request) -> OfficeCommand:
        return OfficeCommand(
            reason_code=body.reason_code,
            at=now(),
            actor=actor,
            note=body.note,
            correlation_id=correlation_id(request),
        )

    async def issue(
        rows: list[PassIn], where: Callable[[int], Loc], office: Office, request: Request
    ) -> list[IssuedPassOut]:
        """Issue a pass for every row, in one transaction, or none: a bad row is a 422
        naming ``where(row)`` and its field; a row for another community than the caller's
        a 403 naming it."""
        for i, row in enumerate(rows):
            office.require(row.community_id, *where(i), "community_id")
        requests = [row.request(gate.pseudonyms) for row in rows]
        moment = now()
        problems = [
            problem(where(i), field, why)
            for i, row in enumerate(rows)
            for field, why in gate.windows.pass_window_problems(
                row.valid_from, row.valid_until, moment
            )
        ]
        problems += [
            problem(where(i), "community_id", f"a list is one community's: {rows[0].community_id}")
            for i in unlike_the_first([r.community_id for r in requests])
        ]
        problems += [
            problem(
                where(i),
                rows[i].holder_field,
                f"the same holder as row {earlier}: a list gives each person one pass (a"
                " second one for them is issued on its own)",
            )
            for i, earlier in repeated([r.holder_person_id for r in requests]).items()
        ]
        if problems:
            raise RequestValidationError(sorted(problems, key=lambda p: p["loc"][:-1]))
        try:
            issued = await run_command(
                runtime.pool,
                lambda conn: gate.office.issue_passes(
                    conn, requests, actor=office.actor, correlation_id=correlation_id(request)
                ),
            )
        except UnknownCommunities as error:
            raise RequestValidationError(
                [problem(where(i), "community_id", UNKNOWN_COMMUNITY) for i in error.rows]
            ) from error
        except UnknownHolders as error:
            raise RequestValidationError(
                [problem(where(i), "holder_person_id", UNKNOWN_HOLDER) for i in error.rows]
            ) from error
        return [
            IssuedPassOut(pass_id=pass_id, pass_code=code, holder_person_id=r.holder_person_id)
            for (pass_id, code), r in zip(issued, requests, strict=True)
        ]

    @router.post("/v1/passes", status_code=201, openapi_extra=SHOWN_ONCE_OPERATION)
    async def issue_pass(body: PassIn, office: Admin, request: Request) -> dict[str, str]:
        """Issue a pass; the returned code goes on the pass (QR) and is kept only as a hash."""
        [issued] = await issue([body], lambda _: ("body",), office, request)
        return issued.model_dump()

    @router.post(
        "/v1/passes/batch",
        status_code=201,
        response_model=PassBatchOut,
        openapi_extra=SHOWN_ONCE_OPERATION,
    )
    async def issue_passes(body: PassBatchIn, office: Admin, request: Request) -> PassBatchOut:
        """Issue passes for a list of up to 1,000 (one community's, each holder
        once): all of them in one transaction, or, when any row is bad, none (a 422 names
        each bad row and field). The codes come back once, in row order; a retry with the
        same ``Idempotency-Key`` is answered 409 and issues nothing."""
        issued = await issue(body.passes, lambda i: ("body", "passes", i), office, request)
        return PassBatchOut(passes=issued)

    @router.post("/v1/passes/{pass_id}/revoke", responses=errors(404))
    async def revoke_pass(
        pass_id: str, body: RevokeIn, office: Admin, request: Request
    ) -> dict[str, Any]:
        """Revoke on the spot: every later scan with this pass is denied; with
        ``bar_holder`` its holder is barred too, whatever they show. A retry finds the pass
        revoked (``already_revoked``) and records nothing."""
        await require_pass(office, pass_id)
        command = OfficeCommand(
            reason_code=body.reason_code,
            at=now(),
            actor=office.actor,
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
        pass_id: str, body: ReissueIn, office: Admin, request: Request
    ) -> dict[str, str]:
        """A lost pass: a new code for the same pass, shown once; the old code stops working.
        (No listing ever shows a code again.)"""
        await require_pass(office, pass_id)

        async def work(conn: asyncpg.Connection) -> str:
            return await gate.office.reissue_pass(
                conn, pass_id, command(body, office.actor, request)
            )

        try:
            code = await run_command(runtime.pool, work)
        except NotFound as error:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error
        except AlreadyExists as error:
            raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
        return {"pass_id": pass_id, "pass_code": code}

    @router.get("/v1/passes")
    async def list_passes(
        office: Admin,
        community_id: Text | None = None,
        holder_person_id: Text | None = None,
        include_revoked: bool = False,
        after: Text | None = None,
        limit: Limit = 100,
    ) -> list[dict[str, Any]]:
        """Passes by pass id (``after``: the last one of the previous page); never a code. A
        community's staff see their own community's."""
        return await gate.listings.passes(
            runtime.pool,
            community_id=office.scope(community_id),
            holder_person_id=holder_person_id,
            include_revoked=include_revoked,
            after=after,
            limit=limit,
        )

    return router
