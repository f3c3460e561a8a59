"""Decisions about an active order: daily follow-up, support, documents (三书一牌),
the team (三包一), release and cancellation. Each returns the events to record."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from cordon_contracts.isolation import (
    CANCEL_REASONS,
    CancelReason,
    CheckInMissed,
    DailyCheckInRecorded,
    Document,
    IsolationCancelled,
    IsolationDocumentIssued,
    IsolationDocumentSigned,
    IsolationEnded,
    MoodCall,
    ResponsibleTeam,
    ResponsibleTeamAssigned,
    SupportDelivered,
    SupportKind,
    SupportRequested,
)
from cordon_core.envelope import DomainEvent
from cordon_isolation.domain.errors import Conflict, NoActiveOrder, NotFound, ReleaseRefused
from cordon_isolation.domain.orders import ActiveOrder, PersonIsolation
from cordon_isolation.domain.policy import IsolationPolicy
from cordon_isolation.domain.release import RecordedResult, assess_release


def active(record: PersonIsolation) -> ActiveOrder:
    if record.active is None:
        raise NoActiveOrder(record.person_id)
    return record.active


def _ids(record: PersonIsolation) -> dict[str, str]:
    return {"order_id": active(record).order_id, "person_id": record.person_id}


def release(
    record: PersonIsolation,
    policy: IsolationPolicy,
    now: datetime,
    results: Iterable[RecordedResult],
) -> IsolationEnded:
    order = active(record)
    rule = policy.release_rule(order.level)
    assessment = assess_release(rule, order.planned_end_at, now, results)
    if not assessment.allowed:
        raise ReleaseRefused(assessment.unmet)
    return IsolationEnded(
        **_ids(record),
        ended_at=now,
        rule=f"{order.level}: {rule.describe()} (policy v{policy.version})",
        policy_version=policy.version,
        negative_sample_ids=list(assessment.negative_sample_ids),
    )


def cancel(
    record: PersonIsolation, reason_code: CancelReason, note_id: str | None = None
) -> IsolationCancelled:
    """Entered in error: the public reason is the code's wording; staff text is a note."""
    return IsolationCancelled(
        **_ids(record), reason=CANCEL_REASONS[reason_code], reason_code=reason_code,
        note_id=note_id,
    )  # fmt: skip


def check_in(
    record: PersonIsolation,
    *,
    checked_at: datetime,
    temperature_c: float | None,
    symptoms: list[str],
    mood_call: MoodCall | None,
    recorded_by: str,
) -> DailyCheckInRecorded:
    return DailyCheckInRecorded(
        **_ids(record), checked_at=checked_at, temperature_c=temperature_c,
        symptoms=symptoms, mood_call=mood_call, recorded_by=recorded_by,
    )  # fmt: skip


def missed_check_in(
    record: PersonIsolation, order_id: str, due_at: datetime, now: datetime, interval: timedelta
) -> CheckInMissed | None:
    """A deadline passed: missed unless the order is gone or a check-in came in its period."""
    order = record.active
    if order is None or order.order_id != order_id:
        return None
    if order.last_check_in_at is not None and order.last_check_in_at > due_at - interval:
        return None
    return CheckInMissed(**_ids(record), due_at=due_at, detected_at=now)


def request_support(
    record: PersonIsolation, request_id: str, kind: SupportKind, at: datetime, urgent: bool
) -> list[DomainEvent]:
    if request_id in active(record).open_support:
        return []
    return [SupportRequested(**_ids(record), request_id=request_id, kind=kind, requested_at=at,
                             urgent=urgent)]  # fmt: skip


def deliver_support(
    record: PersonIsolation, request_id: str, at: datetime, by: str
) -> SupportDelivered:
    kind = active(record).open_support.get(request_id)
    if kind is None:
        raise NotFound(f"no open support request {request_id!r}")
    return SupportDelivered(
        **_ids(record), request_id=request_id, kind=kind, delivered_at=at, delivered_by=by
    )


def issue_document(
    record: PersonIsolation, document: Document, at: datetime, by: str
) -> list[DomainEvent]:
    if document in active(record).issued:
        return []
    return [IsolationDocumentIssued(**_ids(record), document=document, issued_at=at, issued_by=by)]


def sign_document(record: PersonIsolation, document: Document, at: datetime) -> list[DomainEvent]:
    order = active(record)
    if document not in order.issued:
        raise Conflict(f"the {document} document has not been issued")
    if document in order.signed:
        return []
    return [IsolationDocumentSigned(**_ids(record), document=document, signed_at=at)]


def assign_team(record: PersonIsolation, team: ResponsibleTeam, at: datetime) -> list[DomainEvent]:
    """三包一; the team already responsible, assigned again, changes nothing."""
    if active(record).team == team:
        return []
    return [ResponsibleTeamAssigned(**_ids(record), team=team, assigned_at=at)]
