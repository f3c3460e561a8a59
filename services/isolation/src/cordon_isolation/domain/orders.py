"""A person's isolation record (stream ``isolation:<person_id>``): at most one active order,
which a new reason upgrades or extends instead of opening a second one."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from cordon_contracts.isolation import (
    BreachKind,
    DailyCheckInRecorded,
    Document,
    IsolationBreached,
    IsolationCancelled,
    IsolationDocumentIssued,
    IsolationDocumentSigned,
    IsolationEnded,
    IsolationExtended,
    IsolationLevel,
    IsolationLevelChanged,
    IsolationPlace,
    IsolationReviewRequested,
    IsolationReviewSettled,
    IsolationStarted,
    OrderReason,
    ResponsibleTeam,
    ResponsibleTeamAssigned,
    SupportDelivered,
    SupportKind,
    SupportRequested,
)
from cordon_core.envelope import DomainEvent

STRENGTH: dict[IsolationLevel, int] = {"monitoring": 1, "home": 2, "centralized": 3}
STAFF_CAUSE = "staff"
"""What an order's causes record for a reason staff gave (no cause event)."""


def stream_of(person_id: str) -> str:
    return f"isolation:{person_id}"


@dataclass(frozen=True)
class IsolationRequest:
    """A reason to isolate someone: from staff, or from a policy reacting to an event."""

    person_id: str
    level: IsolationLevel
    community_id: str
    reason: str
    starts_at: datetime
    planned_end_at: datetime
    order_id: str
    place: IsolationPlace | None = None
    team: ResponsibleTeam | None = None
    policy_version: int | None = None
    source_event_id: str | None = None
    reason_code: OrderReason | None = None
    note_id: str | None = None

    def placed_on(self, record: PersonIsolation) -> list[DomainEvent]:
        """This request decided on the person's record (``PersonIsolation.place_under``)."""
        return record.place_under(self)


@dataclass(frozen=True)
class BreachOnRecord:
    breach_id: str
    kind: BreachKind
    observed_at: datetime
    from_gate: bool


@dataclass(frozen=True)
class ActiveOrder:
    order_id: str
    level: IsolationLevel
    community_id: str
    starts_at: datetime
    planned_end_at: datetime
    place: IsolationPlace | None = None
    team: ResponsibleTeam | None = None
    last_check_in_at: datetime | None = None
    issued: frozenset[Document] = frozenset()
    signed: frozenset[Document] = frozenset()
    open_support: dict[str, SupportKind] = field(default_factory=dict)
    causes: frozenset[str] = frozenset()
    """The events whose reasons placed, upgraded or extended it (STAFF_CAUSE for staff)."""
    open_reviews: dict[str, str] = field(default_factory=dict)
    """Review id -> the event that raised it."""
    breaches: tuple[BreachOnRecord, ...] = ()


@dataclass
class PersonIsolation:
    person_id: str
    version: int = 0
    active: ActiveOrder | None = None
    orders_seen: set[str] = field(default_factory=set)
    breach_ids: set[str] = field(default_factory=set)
    reviews: dict[str, str] = field(default_factory=dict)
    """Every review id asked about this person -> open, ended or kept."""

    @classmethod
    def replay(cls, person_id: str, events: Iterable[DomainEvent]) -> PersonIsolation:
        record = cls(person_id)
        for event in events:
            record.apply(event)
        return record

    def apply(self, e: DomainEvent) -> None:
        self.version += 1
        a = self.active
        if isinstance(e, IsolationBreached):
            self.breach_ids.add(e.breach_id)
        if isinstance(e, IsolationStarted):
            self.orders_seen.add(e.order_id)
            self.active = ActiveOrder(
                e.order_id, e.level, e.community_id, e.starts_at, e.planned_end_at, e.place, e.team,
                causes=frozenset({e.source_event_id or STAFF_CAUSE}),
            )  # fmt: skip
        elif a is None or getattr(e, "order_id", None) != a.order_id:
            return  # events of earlier orders, or not about an order at all
        elif isinstance(e, IsolationLevelChanged):
            cause = e.source_event_id or STAFF_CAUSE
            self.active = replace(
                a, level=e.to_level, place=e.place or a.place, causes=a.causes | {cause}
            )
        elif isinstance(e, IsolationExtended):
            cause = e.source_event_id or STAFF_CAUSE
            self.active = replace(a, planned_end_at=e.planned_end_at, causes=a.causes | {cause})
        elif isinstance(e, IsolationEnded | IsolationCancelled):
            for review_id in a.open_reviews:
                self.reviews[review_id] = "order_closed"  # released or cancelled meanwhile
            self.active = None
        elif isinstance(e, ResponsibleTeamAssigned):
            self.active = replace(a, team=e.team)
        elif isinstance(e, DailyCheckInRecorded):
            self.active = replace(a, last_check_in_at=e.checked_at)
        elif isinstance(e, IsolationDocumentIssued):
            self.active = replace(a, issued=a.issued | {e.document})
        elif isinstance(e, IsolationDocumentSigned):
            self.active = replace(a, signed=a.signed | {e.document})
        elif isinstance(e, SupportRequested):
            self.active = replace(a, open_support={**a.open_support, e.request_id: e.kind})
        elif isinstance(e, SupportDelivered):
            rest = {k: v for k, v in a.open_support.items() if k != e.request_id}
            self.active = replace(a, open_support=rest)
        elif isinstance(e, IsolationBreached):
            seen = BreachOnRecord(e.breach_id, e.kind, e.observed_at, e.gate_event_id is not None)
            self.active = replace(a, breaches=(*a.breaches, seen))
        elif isinstance(e, IsolationReviewRequested):
            self.reviews[e.review_id] = "open"
            opened = {**a.open_reviews, e.review_id: e.source_event_id}
            self.active = replace(a, open_reviews=opened)
        elif isinstance(e, IsolationReviewSettled):
            self.reviews[e.review_id] = e.outcome
            still_open = {k: v for k, v in a.open_reviews.items() if k != e.review_id}
            self.active = replace(a, open_reviews=still_open)

    def place_under(self, request: IsolationRequest) -> list[DomainEvent]:
        """Start an order, or upgrade and/or extend the active one; nothing if it already
        covers the request (same or stronger level, same or later end)."""
        r = request
        decided = {
            "policy_version": r.policy_version, "source_event_id": r.source_event_id,
            "reason_code": r.reason_code, "note_id": r.note_id,
        }  # fmt: skip
        ids = {"order_id": r.order_id, "person_id": r.person_id}
        a = self.active
        if a is None:
            if r.order_id in self.orders_seen:
                return []  # that order already ran and ended: a replayed cause
            return [
                IsolationStarted(
                    **ids, **decided, level=r.level, community_id=r.community_id,
                    reason=r.reason, starts_at=r.starts_at, planned_end_at=r.planned_end_at,
                    place=r.place, team=r.team,
                )
            ]  # fmt: skip
        ids["order_id"] = a.order_id
        events: list[DomainEvent] = []
        if STRENGTH[r.level] > STRENGTH[a.level]:
            events.append(
                IsolationLevelChanged(
                    **ids, **decided, from_level=a.level, to_level=r.level, reason=r.reason,
                    place=r.place,
                )
            )  # fmt: skip
        if r.planned_end_at > a.planned_end_at:
            events.append(
                IsolationExtended(
                    **ids, **decided, planned_end_at=r.planned_end_at, reason=r.reason,
                    previous_planned_end_at=a.planned_end_at,
                )
            )  # fmt: skip
        return events
