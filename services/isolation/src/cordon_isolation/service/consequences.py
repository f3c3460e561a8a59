"""What the isolation record does about other facts: a denied exit at a gate is a breach of
the order, and a positive result corrected away sends the orders it caused to review (or
ends them, per policy). Both run in the consumer's transaction, ids derived from the cause."""

from __future__ import annotations

from datetime import datetime

import asyncpg
import structlog

from cordon_contracts.gate import ExitDenied
from cordon_contracts.lab import TestResultCorrected, TestResultReceived
from cordon_core.envelope import DomainEvent, Envelope, EventMetadata
from cordon_isolation.domain.breaches import denied_exit_breach
from cordon_isolation.domain.corrections import (
    Correction,
    positives_before,
    review_after_correction,
)
from cordon_isolation.domain.orders import PersonIsolation
from cordon_isolation.domain.reactions import derived_id
from cordon_isolation.service.lab import sample_stream
from cordon_isolation.service.orders import IsolationDesk

log = structlog.get_logger(__name__)


def _meta(desk: IsolationDesk, cause: Envelope, actor: str) -> EventMetadata:
    return EventMetadata(
        correlation_id=cause.correlation_id, causation_id=cause.event_id, actor=actor,
        district=desk.district, community=cause.community,
    )  # fmt: skip


async def record_denied_exit(
    desk: IsolationDesk, conn: asyncpg.Connection, envelope: Envelope, now: datetime
) -> None:
    denial = envelope.payload
    assert isinstance(denial, ExitDenied)
    policy = await desk.state.policy(conn, desk.district)
    same_as: list[str | None] = []

    def decide(record: PersonIsolation) -> list[DomainEvent]:
        decided = denied_exit_breach(record, denial, str(envelope.event_id), policy)
        same_as.append(decided.same_as)
        return list(decided.events)

    meta = _meta(desk, envelope, "isolation-gate-breach")
    decided = await desk.decide(
        conn, denial.person_id, decide, meta, now=now, cause=str(envelope.event_id)
    )
    log.info(
        "denied_exit_recorded",
        stream_id=f"isolation:{denial.person_id}",
        events=[e.event_type for e in decided.events],
        same_as=same_as[-1] if same_as else None,
    )


async def review_corrected_positive(
    desk: IsolationDesk, conn: asyncpg.Connection, envelope: Envelope, now: datetime
) -> None:
    corrected = envelope.payload
    assert isinstance(corrected, TestResultCorrected)
    stream = await desk.store.load_stream(sample_stream(corrected.sample_id), conn=conn)
    results = [
        (str(e.event_id), e.payload.result)
        for e in stream
        if isinstance(e.payload, TestResultReceived | TestResultCorrected)
    ]
    correction = Correction(
        str(envelope.event_id), corrected.sample_id, corrected.result,
        positives_before(results, str(envelope.event_id)),
    )  # fmt: skip
    if not correction.positive_event_ids:
        return
    policy = await desk.state.policy(conn, desk.district)
    people = await desk.casebook.active_orders_caused_by(conn, correction.positive_event_ids)
    for person_id in people:
        review_id = f"rev-{derived_id(correction.event_id, person_id).hex[:20]}"
        decided = await desk.decide(
            conn, person_id,
            lambda record, review_id=review_id: review_after_correction(  # type: ignore[misc]
                record, correction, review_id, policy, now
            ),
            _meta(desk, envelope, "isolation-policy"), now=now,
            cause=f"{correction.event_id}:review",
        )  # fmt: skip
        log.info(
            "corrected_positive_reviewed",
            stream_id=f"isolation:{person_id}",
            policy_version=policy.version,
            events=[e.event_type for e in decided.events],
        )
