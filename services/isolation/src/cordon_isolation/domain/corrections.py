"""A positive result corrected to negative (or invalid): the orders it caused are reviewed
as the district policy says. ``end``: an order that only that positive caused ends at once,
with the reason recorded; ``review``, or an order that other reasons also hold: the office
is asked to confirm (``IsolationReviewRequested``) and settles it, ending or keeping it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cordon_contracts.isolation import (
    IsolationEnded,
    IsolationReviewRequested,
    IsolationReviewSettled,
    ReviewOutcome,
)
from cordon_core.envelope import DomainEvent
from cordon_isolation.domain.errors import NotFound
from cordon_isolation.domain.orders import PersonIsolation
from cordon_isolation.domain.policy import IsolationPolicy


@dataclass(frozen=True)
class Correction:
    """A lab's correction of a positive: its event id, and the positive events it undoes."""

    event_id: str
    sample_id: str
    result: str
    positive_event_ids: frozenset[str]


def review_after_correction(
    record: PersonIsolation,
    correction: Correction,
    review_id: str,
    policy: IsolationPolicy,
    now: datetime,
) -> list[DomainEvent]:
    order = record.active
    if order is None or not order.causes & correction.positive_event_ids:
        return []  # no active order of that positive (ended, cancelled, never placed)
    if review_id in record.reviews:
        return []  # this correction was handled already
    ids = {"order_id": order.order_id, "person_id": record.person_id}
    only_that_positive = order.causes <= correction.positive_event_ids
    if policy.corrected_positive == "end" and only_that_positive:
        return [
            IsolationEnded(
                **ids, ended_at=now, reason_code="positive_corrected",
                rule=f"positive result of sample {correction.sample_id} corrected to "
                f"{correction.result} (policy v{policy.version}: end)",
                policy_version=policy.version, source_event_id=correction.event_id,
            )
        ]  # fmt: skip
    return [
        IsolationReviewRequested(
            **ids, review_id=review_id, reason_code="positive_corrected",
            sample_id=correction.sample_id, source_event_id=correction.event_id,
            requested_at=now, policy_version=policy.version,
        )
    ]  # fmt: skip


def settle_review(
    record: PersonIsolation,
    review_id: str,
    outcome: ReviewOutcome,
    by: str,
    now: datetime,
    note_id: str | None = None,
) -> list[DomainEvent]:
    """The office's answer; answering a settled review again records nothing."""
    state = record.reviews.get(review_id)
    if state is None:
        raise NotFound(f"no review {review_id!r} for {record.person_id}")
    order = record.active
    if state != "open" or order is None:
        return []
    ids = {"order_id": order.order_id, "person_id": record.person_id}
    settled = IsolationReviewSettled(
        **ids, review_id=review_id, outcome=outcome, settled_at=now, settled_by=by,
        note_id=note_id,
    )  # fmt: skip
    if outcome == "kept":
        return [settled]
    return [
        settled,
        IsolationEnded(
            **ids, ended_at=now, reason_code="positive_corrected", review_id=review_id,
            rule="positive result corrected; the office confirmed the end",
            source_event_id=order.open_reviews[review_id],
        ),
    ]  # fmt: skip


def positives_before(stream: Sequence[tuple[str, str]], correction_event_id: str) -> frozenset[str]:
    """The ids of a sample's positive results recorded before ``correction_event_id``, from
    its stream's (event id, result) pairs in order."""
    positives: set[str] = set()
    for event_id, result in stream:
        if event_id == correction_event_id:
            break
        if result == "positive":
            positives.add(event_id)
    return frozenset(positives)
