"""The district policy as process managers: travel reports (registry), positive results
(our own topic) and fevers at gates (gate) become isolation orders and test requests; a
denied exit (gate) is a breach and a corrected positive a review (service/consequences.py).
Each decision records the policy version that made it; ids derive from the cause."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import asyncpg
import structlog

from cordon_contracts.gate import ExitDenied, FeverDetected
from cordon_contracts.lab import TestResultCorrected, TestResultReceived
from cordon_contracts.registry import TravelHistoryReported
from cordon_core.envelope import Envelope, EventMetadata, PendingEvent
from cordon_isolation.adapters.state import IsolationState
from cordon_isolation.domain.orders import IsolationRequest
from cordon_isolation.domain.reactions import (
    derived_id,
    fever_monitoring,
    positive_isolation,
    travel_isolation,
)
from cordon_isolation.service.consequences import record_denied_exit, review_corrected_positive
from cordon_isolation.service.orders import IsolationDesk

log = structlog.get_logger(__name__)

EVENT_TYPES = (
    TravelHistoryReported.event_type,
    FeverDetected.event_type,
    ExitDenied.event_type,
    TestResultReceived.event_type,
    TestResultCorrected.event_type,
)


class PolicyReactions:
    def __init__(
        self, desk: IsolationDesk, state: IsolationState, clock: Callable[[], datetime]
    ) -> None:
        self.desk = desk
        self.state = state
        self.clock = clock
        self.event_types = EVENT_TYPES

    async def apply_batch(self, conn: asyncpg.Connection, envelopes: Sequence[Envelope]) -> None:
        for envelope in envelopes:
            with structlog.contextvars.bound_contextvars(
                event_id=str(envelope.event_id), correlation_id=str(envelope.correlation_id)
            ):
                await self.react(conn, envelope)

    async def react(self, conn: asyncpg.Connection, envelope: Envelope) -> None:
        p = envelope.payload
        if isinstance(p, ExitDenied):
            if p.subject_kind != "visitor":
                await record_denied_exit(self.desk, conn, envelope, self.clock())
            return
        if isinstance(p, TestResultCorrected) and p.previous_result == "positive":
            if p.result != "positive":
                await review_corrected_positive(self.desk, conn, envelope, self.clock())
            return
        if isinstance(p, TestResultReceived | TestResultCorrected) and p.result != "positive":
            return  # most of a mass-testing day: nothing to decide
        if isinstance(p, FeverDetected) and p.subject_kind == "visitor":
            return  # a visitor has no home here to be monitored at
        policy = await self.state.policy(conn, self.desk.district)
        requests: list[IsolationRequest] = []
        if isinstance(p, TravelHistoryReported):
            if (request := travel_isolation(policy, p, envelope.event_id)) is not None:
                requests.append(request)
        elif isinstance(p, TestResultReceived | TestResultCorrected):
            resident = await self.state.resident(conn, p.person_id)
            community = (resident or {}).get("community_id") or envelope.community or "unknown"
            household = await self.state.household_of(conn, p.person_id)
            requests = positive_isolation(
                policy, p.person_id, p.sample_id, community, household, self.clock(),
                envelope.event_id,
            )  # fmt: skip
        elif isinstance(p, FeverDetected):
            request, test = fever_monitoring(policy, p, envelope.event_id)
            requests.append(request)
            if test is not None:
                await self.desk.store.append(
                    f"test-request:{test.request_id}",
                    [PendingEvent(test, event_id=derived_id(envelope.event_id, "test-request"))],
                    expected_version=None,
                    metadata=self._meta(envelope, test.community_id),
                    partition_key=test.person_id,
                    conn=conn,
                )
        for request in requests:
            decided = await self.desk.place(
                conn, request, self._meta(envelope, request.community_id), self.clock()
            )
            log.info(
                "policy_decided",
                stream_id=f"isolation:{request.person_id}",
                policy_version=policy.version,
                events=[e.event_type for e in decided.events],
            )

    def _meta(self, cause: Envelope, community: str) -> EventMetadata:
        return EventMetadata(
            correlation_id=cause.correlation_id,
            causation_id=cause.event_id,
            actor="isolation-policy",
            district=self.desk.district,
            community=community,
        )
