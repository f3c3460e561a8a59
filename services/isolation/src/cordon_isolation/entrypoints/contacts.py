"""Contact routes: a positive person's close-contact candidates from gate traffic, household
and building, and the office's confirmation or dismissal of each (docs/isolation.md, "Close
contacts from gate traffic").

(No ``from __future__ import annotations``: FastAPI must resolve the local ``Staff`` type.)
"""

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from cordon_core.inputs import Moment
from cordon_core.staff_access import Office
from cordon_isolation.domain.contacts import as_json
from cordon_isolation.entrypoints.commands import PersonCommands
from cordon_isolation.entrypoints.deps import Isolation
from cordon_isolation.entrypoints.schemas import Id, PseudonymousId
from cordon_isolation.service.unit import in_transaction

CLOCK_SKEW = timedelta(minutes=5)
PersonId = Annotated[Id, Path(description="The positive (index) person.")]
CandidateId = Annotated[Id, Path(description="A candidate's person id or visitor pseudonym.")]


class ContactDecisionIn(BaseModel):
    decided_by: PseudonymousId


def contact_routes(
    iso: Isolation, staff: Callable[..., Awaitable[Office]], now: Callable[[], datetime]
) -> APIRouter:
    router = APIRouter(tags=["staff"])
    Staff = Annotated[Office, Depends(staff)]
    tracing = iso.tracing
    commands = PersonCommands(iso, now)
    base = "/v1/people/{person_id}/contact-candidates"

    def checked(as_of: datetime | None) -> datetime:
        at = now()
        if as_of is None:
            return at
        kept = timedelta(days=iso.settings.isolation_passages_keep_days)
        why = (
            "in the future" if as_of > at + CLOCK_SKEW
            else f"more than {kept.days} days ago: passages are kept no longer"
            if as_of < at - kept else None
        )  # fmt: skip
        if why:
            raise RequestValidationError(
                [{"loc": ("query", "as_of"), "msg": why, "type": "value_error"}]
            )
        return as_of

    @router.get(base)
    async def candidates(
        person_id: PersonId,
        office: Staff,
        as_of: Annotated[Moment | None, Query(description="Look back from (default: now).")] = None,
        ring: Annotated[
            int, Query(ge=1, le=2, description="2: contacts of confirmed contacts too.")
        ] = 1,
        limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    ) -> JSONResponse:
        """Who may have been in close contact with the person, ranked by the policy, each
        with its evidence; candidates under an active order are marked. A community's staff
        trace their own community's cases (where the person lives or was ordered)."""
        await commands.require_person(office, person_id, "path", "person_id")
        until = checked(as_of)
        async with iso.runtime.pool.acquire() as conn:
            report = await tracing.candidates(conn, person_id, until, ring)
        policy = report.policy
        return JSONResponse({
            "person_id": person_id, "policy_version": policy.version,
            "window_minutes": policy.contact_window_minutes,
            "lookback_days": policy.contact_lookback_days,
            "ranking": list(policy.contact_ranking), "since": report.since.isoformat(),
            "until": report.until.isoformat(), "passages": report.passages,
            "total": len(report.candidates),
            "candidates": [as_json(c) for c in report.candidates[:limit]],
        })  # fmt: skip

    async def decide(
        verb: Literal["confirm", "dismiss"],
        person_id: str,
        candidate_id: str,
        body: ContactDecisionIn,
        office: Office,
        request: Request,
    ) -> dict[str, Any]:
        await commands.require_person(office, person_id, "path", "person_id")
        use_case = tracing.confirm if verb == "confirm" else tracing.dismiss

        async def work(conn: asyncpg.Connection) -> list[str]:
            return await use_case(
                conn, person_id, candidate_id, decided_by=body.decided_by,
                meta=commands.meta(office, request), now=now(),
            )  # fmt: skip

        events = await in_transaction(commands.pool(), work)
        return {"person_id": person_id, "candidate_id": candidate_id, "events": events}

    @router.post(f"{base}/{{candidate_id}}/confirm")
    async def confirm(
        person_id: PersonId,
        candidate_id: CandidateId,
        body: ContactDecisionIn,
        office: Staff,
        request: Request,
    ) -> dict[str, Any]:
        """A close contact: recorded, and placed under the policy's order (default home
        health monitoring). Confirmed again: nothing more is recorded."""
        return await decide("confirm", person_id, candidate_id, body, office, request)

    @router.post(f"{base}/{{candidate_id}}/dismiss")
    async def dismiss(
        person_id: PersonId,
        candidate_id: CandidateId,
        body: ContactDecisionIn,
        office: Staff,
        request: Request,
    ) -> dict[str, Any]:
        """Not a close contact: recorded; a confirmed candidate cannot be dismissed (409)."""
        return await decide("dismiss", person_id, candidate_id, body, office, request)

    return router
