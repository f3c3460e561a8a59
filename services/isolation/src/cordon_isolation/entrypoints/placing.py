"""Placing orders, one or a list: each row checked as the single order is (its dates in the
service's windows, a person the service knows unless said to be unregistered), then every
row decided on its person's record in one transaction. ``POST /v1/orders`` is a list of one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog
from fastapi import Request
from fastapi.exceptions import RequestValidationError

from cordon_contracts.isolation import ORDER_REASONS
from cordon_core.staff_access import Office
from cordon_isolation.domain.orders import IsolationRequest
from cordon_isolation.domain.reactions import order_id_for
from cordon_isolation.entrypoints.commands import PersonCommand, PersonCommands
from cordon_isolation.entrypoints.deps import Isolation
from cordon_isolation.entrypoints.schemas import OrderIn, PrivateNote

log = structlog.get_logger(__name__)
Loc = tuple[str | int, ...]
UNKNOWN_PERSON = (
    "the registry has not told this service of this person (yet); to isolate someone"
    " who is not registered (a visitor, a case flagged by police data) say so with"
    ' "unregistered": true'
)


def problem(where: Loc, field: str, msg: str) -> dict[str, Any]:
    return {"loc": (*where, field), "msg": msg, "type": "value_error"}


class OrderPlacement:
    def __init__(self, iso: Isolation, now: Callable[[], datetime]) -> None:
        self.iso, self.now = iso, now
        self.commands = PersonCommands(iso, now)

    async def place(
        self,
        rows: Sequence[OrderIn],
        where: Callable[[int], Loc],
        office: Office,
        request: Request,
        extra_problems: Sequence[dict[str, Any]] = (),
    ) -> list[dict[str, Any]]:
        """Place every row's order in one transaction, or none: each bad row is a 422
        naming ``where(row)`` and its field, and then nothing is recorded. A row for another
        community than the caller's is a 403 naming it (and so is a person whose active
        order another community placed: ``PersonCommands.meta``)."""
        for i, row in enumerate(rows):
            office.require(row.community_id, *where(i), "community_id")
        now = self.now()
        problems = list(extra_problems)
        known = await self.commands.known_among(
            [row.person_id for row in rows if not row.unregistered]
        )
        decisions = []
        for i, row in enumerate(rows):
            order, note = self.request(row, now)
            for name, reason in self.iso.order_windows.problems(
                order.starts_at, order.planned_end_at, now
            ):
                named = "days" if name == "planned_end_at" and row.days else name
                problems.append(problem(where(i), named, reason))
            if not row.unregistered and row.person_id not in known:
                problems.append(problem(where(i), "person_id", UNKNOWN_PERSON))
            decisions.append(
                PersonCommand(row.person_id, order.placed_on, note, (*where(i), "person_id"))
            )
        if problems:
            raise RequestValidationError(sorted(problems, key=lambda p: p["loc"][:-1]))
        for row in rows:
            if row.unregistered:
                log.info(
                    "order_for_unregistered_person", person_id=row.person_id, actor=office.actor
                )
        return await self.commands.run_many(decisions, office, request)

    @staticmethod
    def request(row: OrderIn, now: datetime) -> tuple[IsolationRequest, PrivateNote | None]:
        """The order a row asks for (a new order id), and the staff's note kept privately."""
        starts = row.starts_at or now
        end = row.planned_end_at or starts + timedelta(days=row.days or 0)
        note = PrivateNote.of("order", row.note or row.reason)
        order = IsolationRequest(
            person_id=row.person_id, level=row.level, community_id=row.community_id,
            reason=ORDER_REASONS[row.reason_code], reason_code=row.reason_code,
            note_id=note.note_id if note else None, starts_at=starts, planned_end_at=end,
            order_id=order_id_for(uuid.uuid4(), row.person_id), place=row.place, team=row.team,
        )  # fmt: skip
        return order, note
