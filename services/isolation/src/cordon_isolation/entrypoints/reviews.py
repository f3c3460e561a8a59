"""The office's review list: orders whose cause was corrected, to confirm (end) or keep;
and the private notes staff wrote, read back by their id.

(No ``from __future__ import annotations``: FastAPI must resolve the local ``Staff`` type.)
"""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Depends, Request

from cordon_core.api_errors import errors
from cordon_core.envelope import EventMetadata
from cordon_core.http import correlation_id
from cordon_core.inputs import Text
from cordon_core.staff_access import Office
from cordon_isolation.domain.corrections import settle_review
from cordon_isolation.domain.errors import NotFound
from cordon_isolation.entrypoints.commands import PersonCommands
from cordon_isolation.entrypoints.deps import Isolation
from cordon_isolation.entrypoints.schemas import PrivateNote, SettleIn
from cordon_isolation.service.unit import in_transaction

ReviewStatus = Literal["open", "ended", "kept", "order_closed"]


def review_routes(
    iso: Isolation, staff: Callable[..., Awaitable[Office]], now: Callable[[], datetime]
) -> APIRouter:
    router = APIRouter(tags=["office"])
    Staff = Annotated[Office, Depends(staff)]
    desk = iso.desk
    commands = PersonCommands(iso, now)

    @router.get("/v1/reviews")
    async def reviews(
        office: Staff, community_id: Text | None = None, status: ReviewStatus | None = "open"
    ) -> list[dict[str, Any]]:
        """Orders for the office to confirm (by default the open ones), oldest first; a
        community's staff see their own community's."""
        return await desk.casebook.reviews(iso.runtime.pool, office.scope(community_id), status)

    @router.post("/v1/reviews/{review_id}/settle", responses=errors(404))
    async def settle(
        review_id: str, body: SettleIn, office: Staff, request: Request
    ) -> dict[str, Any]:
        """End the order (``ended``) or keep it (``kept``). Settling again records nothing
        and answers the review as it stands."""
        note = PrivateNote.of("review", body.note)

        async def work(conn: asyncpg.Connection) -> dict[str, Any]:
            review = await desk.casebook.review(conn, review_id)
            if review is None:
                raise NotFound(f"no review {review_id!r}")
            office.require(review["community_id"], "path", "review_id")
            person_id = review["person_id"]
            meta = EventMetadata.new(
                actor=office.actor, district=desk.district, community=review["community_id"],
                correlation_id=correlation_id(request),
            )  # fmt: skip
            note_id = note.note_id if note else None
            by, at = body.settled_by, now()
            decided = await desk.decide(
                conn, person_id,
                lambda r: settle_review(r, review_id, body.outcome, by, at, note_id),
                meta, now=at,
            )  # fmt: skip
            if note is not None and decided.events:
                await desk.casebook.write_note(
                    conn, note.note_id, person_id, note.subject, note.body, office.actor, now()
                )
            settled = await desk.casebook.review(conn, review_id)
            return {**(settled or {}), "events": [e.event_type for e in decided.events]}

        return await in_transaction(iso.runtime.pool, work)

    @router.get("/v1/notes/{note_id}", responses=errors(404))
    async def note(note_id: str, office: Staff) -> dict[str, Any]:
        """A note staff wrote (an order's reason in their words, a cancellation, a review).
        A community's staff read the notes on their own community's people."""
        found = await desk.casebook.note(iso.runtime.pool, note_id)
        if found is None:
            raise NotFound(f"no note {note_id!r}")
        await commands.require_person(office, found["person_id"], "path", "note_id")
        return found

    return router
