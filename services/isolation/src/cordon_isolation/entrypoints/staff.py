"""Staff routes: isolation orders and their daily follow-up, release, cancellation, the
ledger, and what the service knows of a person.

(No ``from __future__ import annotations``: FastAPI must resolve the local ``Staff`` type.)
"""

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any

import asyncpg
import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError

from cordon_contracts.isolation import ORDER_REASONS, Document, ResponsibleTeam
from cordon_core.envelope import DomainEvent, EventMetadata
from cordon_core.http import correlation_id
from cordon_core.idempotency import connection
from cordon_isolation.bootstrap import Isolation
from cordon_isolation.domain import followup
from cordon_isolation.domain.breaches import BreachReport, gate_breach_id, report_breach
from cordon_isolation.domain.orders import IsolationRequest, PersonIsolation
from cordon_isolation.domain.reactions import order_id_for
from cordon_isolation.entrypoints.schemas import (
    BreachIn,
    CancelIn,
    CheckInIn,
    DeliveredIn,
    IssuedIn,
    OrderIn,
    PrivateNote,
    SupportIn,
)
from cordon_isolation.service.unit import in_transaction

log = structlog.get_logger(__name__)
UNKNOWN_PERSON = (
    "the registry has not told this service of this person (yet); to isolate someone"
    " who is not registered (a visitor, a case flagged by police data) say so with"
    ' "unregistered": true'
)


def staff_routes(
    iso: Isolation, staff: Callable[..., str], now: Callable[[], datetime]
) -> APIRouter:
    router = APIRouter(tags=["staff"])
    Staff = Annotated[str, Depends(staff)]
    desk = iso.desk

    def pool() -> asyncpg.Pool:
        return iso.runtime.pool

    def meta(actor: str, request: Request, community: str | None = None) -> EventMetadata:
        return EventMetadata.new(
            actor=actor, district=desk.district, community=community,
            correlation_id=correlation_id(request),
        )  # fmt: skip

    async def command(
        person_id: str,
        decision: Callable[[PersonIsolation], Sequence[DomainEvent]],
        actor: str,
        request: Request,
        note: PrivateNote | None = None,
    ) -> dict[str, Any]:
        """Decide on the person's record in one transaction; ``note``, the staff's own words,
        goes to the private notes with the events that name it."""

        async def work(conn: asyncpg.Connection) -> dict[str, Any]:
            record = await desk.load(conn, person_id)
            community = record.active.community_id if record.active else None
            decided = await desk.decide(
                conn, person_id, decision, meta(actor, request, community), now=now()
            )
            if note is not None and decided.events:
                await desk.casebook.write_note(
                    conn, note.note_id, person_id, note.subject, note.body, actor, now()
                )
            order = decided.record.active
            touched = [getattr(e, "order_id", None) for e in decided.events]
            return {
                "person_id": person_id,
                "order_id": order.order_id if order else next(filter(None, touched), None),
                "level": order.level if order else None,
                "events": [e.event_type for e in decided.events],
            }

        return await in_transaction(pool(), work)

    async def known(person_id: str) -> bool:
        """Told of by the registry, or isolated here before (a reaction to a result)."""
        async with connection(pool()) as conn:
            if await iso.state.resident(conn, person_id) is not None:
                return True
            return bool((await desk.load(conn, person_id)).orders_seen)

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
        if not body.unregistered and not await known(body.person_id):
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
        return await command(body.person_id, lambda r: r.place_under(order), actor, request, note)

    base = "/v1/people/{person_id}/isolation"

    @router.post(f"{base}/check-ins", status_code=201)
    async def check_in(
        person_id: str, body: CheckInIn, actor: Staff, request: Request
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
            actor,
            request,
        )

    @router.post(f"{base}/support-requests", status_code=201)
    async def request_support(
        person_id: str, body: SupportIn, actor: Staff, request: Request
    ) -> dict[str, Any]:
        """Food, medicine, rubbish, parcels (三定三送); the same request id twice is one."""
        return await command(
            person_id,
            lambda r: followup.request_support(r, body.request_id, body.kind, now(), body.urgent),
            actor,
            request,
        )

    @router.post(f"{base}/support-requests/{{request_id}}/delivered")
    async def deliver_support(
        person_id: str, request_id: str, body: DeliveredIn, actor: Staff, request: Request
    ) -> dict[str, Any]:
        return await command(
            person_id,
            lambda r: [followup.deliver_support(r, request_id, now(), body.delivered_by)],
            actor,
            request,
        )

    @router.post(f"{base}/breaches", status_code=201)
    async def breach(
        person_id: str, body: BreachIn, actor: Staff, request: Request
    ) -> dict[str, Any]:
        """The person left home (or refused, or let someone in); escalated as given. The
        same breach again records nothing and answers ``already_recorded_as``: the same
        ``breach_id`` or ``gate_event_id``, or a report of leaving within the policy's
        ``breach_match_minutes`` of a breach the gate recorded."""
        if body.gate_event_id is not None:
            breach_id = gate_breach_id(body.gate_event_id)
        else:
            breach_id = body.breach_id or f"breach-{uuid.uuid4().hex[:12]}"
        report = BreachReport(
            breach_id, body.kind, body.observed_at or now(), body.reported_by, body.escalated_to
        )
        same_as: list[str | None] = []

        async def work(conn: asyncpg.Connection) -> dict[str, Any]:
            policy = await iso.state.policy(conn, desk.district)

            def decide(record: PersonIsolation) -> list[DomainEvent]:
                decided = report_breach(record, report, policy)
                same_as.append(decided.same_as)
                return list(decided.events)

            record = await desk.load(conn, person_id)
            community = record.active.community_id if record.active else None
            decided = await desk.decide(
                conn, person_id, decide, meta(actor, request, community), now=now()
            )
            return {
                "person_id": person_id,
                "breach_id": same_as[-1] or breach_id,
                "already_recorded_as": same_as[-1],
                "events": [e.event_type for e in decided.events],
            }

        return await in_transaction(pool(), work)

    @router.post(f"{base}/documents/{{document}}/issued")
    async def issue_document(
        person_id: str, document: Document, body: IssuedIn, actor: Staff, request: Request
    ) -> dict[str, Any]:
        """三书一牌: notice, commitment, responsibility letter, door sign."""
        return await command(
            person_id,
            lambda r: followup.issue_document(r, document, now(), body.issued_by),
            actor,
            request,
        )

    @router.post(f"{base}/documents/{{document}}/signed")
    async def sign_document(
        person_id: str, document: Document, actor: Staff, request: Request
    ) -> dict[str, Any]:
        return await command(
            person_id, lambda r: followup.sign_document(r, document, now()), actor, request
        )

    @router.put(f"{base}/team")
    async def assign_team(
        person_id: str, body: ResponsibleTeam, actor: Staff, request: Request
    ) -> dict[str, Any]:
        """三包一: the cadre, police officer and doctor responsible for the person."""
        return await command(
            person_id, lambda r: followup.assign_team(r, body, now()), actor, request
        )

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
                meta(actor, request, community), now=now(),
            )  # fmt: skip
            return {"events": ["IsolationEnded"], **decided.events[0].model_dump(mode="json")}

        return await in_transaction(pool(), work)

    @router.post(f"{base}/cancel")
    async def cancel(
        person_id: str, body: CancelIn, actor: Staff, request: Request
    ) -> dict[str, Any]:
        """The order was entered in error: the code is published, a note stays private."""
        note = PrivateNote.of("cancellation", body.note or body.reason)
        note_id = note.note_id if note else None
        return await command(
            person_id, lambda r: [followup.cancel(r, body.reason_code, note_id)], actor, request,
            note,
        )  # fmt: skip

    @router.get("/v1/people/{person_id}")
    async def person(person_id: str, actor: Staff) -> dict[str, Any]:
        """What the service knows of a person: household, active order, test results."""
        async with pool().acquire() as conn:
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
    async def ledger(actor: Staff, community_id: str | None = None) -> list[dict[str, Any]]:
        """People under each level per community (the active orders)."""
        return await iso.state.ledger(pool(), community_id)

    return router
