"""What the district policy decides when another service reports something: a travel
report, a positive result, a fever at a gate. Plain functions of the policy and the event;
order ids derive from the cause, so a redelivered cause decides the same order."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta

from cordon_contracts.gate import FeverDetected
from cordon_contracts.lab import TestRequested
from cordon_contracts.registry import TravelHistoryReported
from cordon_isolation.domain.orders import IsolationRequest
from cordon_isolation.domain.policy import IsolationPolicy

NAMESPACE = uuid.UUID("3b0e7a9c-52a4-4c7e-a1f4-6d2f0d3c9e11")


def derived_id(*parts: object) -> uuid.UUID:
    """A stable id for something caused by ``parts`` (a cause event id, a person, ...)."""
    return uuid.uuid5(NAMESPACE, ":".join(str(p) for p in parts))


def order_id_for(cause: uuid.UUID | str, person_id: str) -> str:
    return f"ord-{derived_id(cause, person_id).hex[:20]}"


def travel_isolation(
    policy: IsolationPolicy, report: TravelHistoryReported, cause: uuid.UUID
) -> IsolationRequest | None:
    """Home isolation for the policy's days after leaving a listed risk area, if the stay
    ended inside the window."""
    if report.risk_level not in policy.travel_risk_levels:
        return None
    left_at = datetime.combine(report.stayed_until + timedelta(days=1), time(0), tzinfo=UTC)
    if left_at + timedelta(days=policy.travel_window_days) <= report.reported_at:
        return None
    return IsolationRequest(
        person_id=report.person_id,
        level="home",
        community_id=report.community_id,
        reason=f"stayed in {report.risk_level}-risk area {report.area_code}",
        reason_code="travel_risk_area",
        starts_at=report.reported_at,
        planned_end_at=left_at + timedelta(days=policy.travel_isolation_days),
        order_id=order_id_for(cause, report.person_id),
        policy_version=policy.version,
        source_event_id=str(cause),
    )


def positive_isolation(
    policy: IsolationPolicy,
    person_id: str,
    sample_id: str,
    community_id: str,
    household: list[str],
    at: datetime,
    cause: uuid.UUID,
) -> list[IsolationRequest]:
    """Centralized isolation for the positive person; the household's other members are
    close contacts at the policy's household level."""
    common = {"community_id": community_id, "starts_at": at, "policy_version": policy.version,
              "source_event_id": str(cause)}  # fmt: skip
    requests = [
        IsolationRequest(
            person_id=person_id, level="centralized", reason=f"positive test {sample_id}",
            reason_code="positive_test",
            planned_end_at=at + timedelta(days=policy.positive_isolation_days),
            order_id=order_id_for(cause, person_id), **common,  # type: ignore[arg-type]
        )
    ]  # fmt: skip
    for member in sorted(set(household) - {person_id}):
        requests.append(
            IsolationRequest(
                person_id=member, level=policy.household_level,
                reason=f"household close contact of positive test {sample_id}",
                reason_code="household_of_positive",
                planned_end_at=at + timedelta(days=policy.household_days),
                order_id=order_id_for(cause, member), **common,  # type: ignore[arg-type]
            )
        )  # fmt: skip
    return requests


def fever_monitoring(
    policy: IsolationPolicy, fever: FeverDetected, cause: uuid.UUID
) -> tuple[IsolationRequest, TestRequested | None]:
    """Home health monitoring for the policy's days, and (per policy) a test request."""
    request = IsolationRequest(
        person_id=fever.person_id,
        level="monitoring",
        community_id=fever.community_id,
        reason=f"fever {fever.temperature_c:.1f} °C at {fever.checkpoint_id}",
        reason_code="fever_at_gate",
        starts_at=fever.scanned_at,
        planned_end_at=fever.scanned_at + timedelta(days=policy.fever_monitoring_days),
        order_id=order_id_for(cause, fever.person_id),
        policy_version=policy.version,
        source_event_id=str(cause),
    )
    if not policy.fever_requests_test:
        return request, None
    test = TestRequested(
        request_id=f"req-{derived_id(cause, 'test').hex[:20]}",
        person_id=fever.person_id,
        community_id=fever.community_id,
        reason=request.reason,
        requested_at=fever.scanned_at,
        policy_version=policy.version,
        source_event_id=str(cause),
    )
    return request, test
