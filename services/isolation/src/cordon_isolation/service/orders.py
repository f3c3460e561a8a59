"""Use cases on a person's isolation record: load the stream, decide, append, and keep the
ledger and the check-in deadlines in step, all in the caller's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from cordon_contracts.isolation import (
    DailyCheckInRecorded,
    IsolationCancelled,
    IsolationEnded,
    IsolationExtended,
    IsolationLevelChanged,
    IsolationReviewRequested,
    IsolationReviewSettled,
    IsolationStarted,
)
from cordon_core.envelope import DomainEvent, EventMetadata, PendingEvent
from cordon_core.store import PostgresEventStore, StreamAppend
from cordon_isolation.adapters.reviews import Casebook
from cordon_isolation.adapters.state import IsolationState
from cordon_isolation.adapters.timers import Timer, Timers
from cordon_isolation.domain.followup import missed_check_in
from cordon_isolation.domain.orders import (
    STAFF_CAUSE,
    ActiveOrder,
    IsolationRequest,
    PersonIsolation,
    stream_of,
)
from cordon_isolation.domain.policy import IsolationPolicy
from cordon_isolation.domain.reactions import derived_id

CHECK_IN = "check_in_deadline"
PLACING = (IsolationStarted, IsolationLevelChanged, IsolationExtended)
"""Events that place an order or change its level or end: the ledger and causes follow."""
Decision = Callable[[PersonIsolation], Sequence[DomainEvent]]


@dataclass(frozen=True)
class PersonDecision:
    """A decision to take on a person's record, with the metadata its events get (from the
    record as loaded: the active order's community) and, optionally, the cause their ids
    derive from."""

    person_id: str
    decision: Decision
    meta: Callable[[PersonIsolation], EventMetadata]
    cause: str | None = None


@dataclass(frozen=True)
class Decided:
    record: PersonIsolation
    events: list[DomainEvent]


class IsolationDesk:
    def __init__(
        self,
        store: PostgresEventStore,
        state: IsolationState,
        timers: Timers,
        casebook: Casebook,
        *,
        district: str,
    ) -> None:
        self.store = store
        self.state = state
        self.timers = timers
        self.casebook = casebook
        self.district = district

    async def load(self, conn: asyncpg.Connection, person_id: str) -> PersonIsolation:
        return (await self.load_many(conn, [person_id]))[person_id]

    async def load_many(
        self, conn: asyncpg.Connection, person_ids: Sequence[str]
    ) -> dict[str, PersonIsolation]:
        """Several people's records in one query."""
        streams = await self.store.load_streams([stream_of(p) for p in person_ids], conn=conn)
        return {
            p: PersonIsolation.replay(p, (e.payload for e in streams[stream_of(p)]))
            for p in person_ids
        }

    async def decide(
        self,
        conn: asyncpg.Connection,
        person_id: str,
        decision: Decision,
        meta: EventMetadata,
        *,
        now: datetime,
        cause: str | None = None,
    ) -> Decided:
        """Apply ``decision`` to the person's record; with a ``cause``, the new events' ids
        derive from it, so deciding the same cause again appends nothing new."""
        [decided] = await self.decide_many(
            conn, [PersonDecision(person_id, decision, lambda _: meta, cause)], now=now
        )
        return decided

    async def decide_many(
        self, conn: asyncpg.Connection, decisions: Sequence[PersonDecision], *, now: datetime
    ) -> list[Decided]:
        """Each decision on its person's record (each person at most once), the records
        loaded in one query and the events appended in one ``append_many``; then the
        ledger, causes and deadlines kept in step. Answers in the decisions' order."""
        records = await self.load_many(conn, [d.person_id for d in decisions])
        before = {p: record.active for p, record in records.items()}
        decided: list[Decided] = []
        appends: list[StreamAppend] = []
        for d in decisions:
            record = records[d.person_id]
            events = list(d.decision(record))
            decided.append(Decided(record, events))
            if events:
                appends.append(self._append(record, events, d.meta(record), d.cause, now))
        await self.store.append_many(appends, conn=conn)
        for done in decided:
            for event in done.events:
                done.record.apply(event)
        await self._keep_placements(conn, decided, now)
        for d, done in zip(decisions, decided, strict=True):
            if done.events:
                previous = before[d.person_id]
                previous_id = previous.order_id if previous else None
                await self._keep_state(conn, done.record, previous_id, done.events, now)
        return decided

    def _append(
        self,
        record: PersonIsolation,
        events: list[DomainEvent],
        meta: EventMetadata,
        cause: str | None,
        now: datetime,
    ) -> StreamAppend:
        person_id = record.person_id
        pending = [
            PendingEvent(
                e,
                event_id=derived_id(cause, person_id, record.version + i)
                if cause
                else uuid.uuid4(),
                occurred_at=now,
            )
            for i, e in enumerate(events)
        ]
        return StreamAppend(stream_of(person_id), pending, record.version, meta, person_id)

    async def place(
        self,
        conn: asyncpg.Connection,
        request: IsolationRequest,
        meta: EventMetadata,
        now: datetime,
    ) -> Decided:
        return await self.decide(
            conn,
            request.person_id,
            lambda record: record.place_under(request),
            meta,
            now=now,
            cause=request.source_event_id,
        )

    async def _keep_placements(
        self, conn: asyncpg.Connection, decided: Sequence[Decided], now: datetime
    ) -> None:
        """What placing, upgrading or extending orders changes besides the events, for every
        record at once (three statements however long the list): the ledger's rows, the
        orders' causes, and a new order's first check-in deadline."""
        ledger: list[tuple[str, ActiveOrder]] = []
        causes: list[tuple[str, str, str]] = []
        started: list[tuple[str, str]] = []
        for done in decided:
            person_id, order = done.record.person_id, done.record.active
            placing = [e for e in done.events if isinstance(e, PLACING)]
            if order is not None and placing:
                ledger.append((person_id, order))
            causes += [(e.source_event_id or STAFF_CAUSE, e.order_id, person_id) for e in placing]
            started += [
                (person_id, e.order_id) for e in done.events if isinstance(e, IsolationStarted)
            ]
        if ledger:
            await self.state.save_orders(conn, ledger, "active", now)
        if causes:
            await self.casebook.add_causes(conn, causes)
        if started:
            policy = await self.state.policy(conn, self.district)
            deadlines = [self._deadline(p, order_id, now, policy) for p, order_id in started]
            await self.timers.schedule(conn, deadlines)

    async def _keep_state(
        self,
        conn: asyncpg.Connection,
        record: PersonIsolation,
        previous_order: str | None,
        events: list[DomainEvent],
        now: datetime,
    ) -> None:
        """The rest, record by record in the events' order (after ``_keep_placements``)."""
        order = record.active
        for event in events:
            if isinstance(event, IsolationReviewRequested) and order is not None:
                await self.casebook.open_review(conn, event, order.community_id)
            elif isinstance(event, IsolationReviewSettled):
                await self.casebook.close_reviews(
                    conn, event.order_id, event.outcome, now, event.settled_by, event.review_id
                )
            if isinstance(event, DailyCheckInRecorded):
                await self.timers.cancel(
                    conn, CHECK_IN, "order_id", event.order_id, now, "checked_in"
                )
                await self._next_deadline(conn, record.person_id, event.order_id, now)
            elif isinstance(event, IsolationEnded | IsolationCancelled):
                status = "ended" if isinstance(event, IsolationEnded) else "cancelled"
                await self.state.close_order(conn, event.order_id, status, now)
                await self.casebook.close_reviews(conn, event.order_id, "order_closed", now)
                await self._settle_deadlines(conn, event.order_id, now, status)

    async def _settle_deadlines(
        self, conn: asyncpg.Connection, order_id: str, now: datetime, why: str
    ) -> None:
        await self.timers.cancel(conn, CHECK_IN, "order_id", order_id, now, why)

    async def _next_deadline(
        self, conn: asyncpg.Connection, person_id: str, order_id: str, now: datetime
    ) -> None:
        policy = await self.state.policy(conn, self.district)
        await self.timers.schedule(conn, [self._deadline(person_id, order_id, now, policy)])

    @staticmethod
    def _deadline(person_id: str, order_id: str, now: datetime, policy: IsolationPolicy) -> Timer:
        due = now + timedelta(seconds=policy.check_in_interval_s)
        payload = {"order_id": order_id, "person_id": person_id}
        return Timer(derived_id(CHECK_IN, order_id, due.isoformat()), CHECK_IN, due, payload)

    async def deadline_passed(self, conn: asyncpg.Connection, timer: Timer, now: datetime) -> str:
        """A check-in deadline passed: record ``CheckInMissed`` unless it was met, and set
        the next deadline. Returns the outcome to mark the timer with."""
        person_id, order_id = timer.payload["person_id"], timer.payload["order_id"]
        policy = await self.state.policy(conn, self.district)
        interval = timedelta(seconds=policy.check_in_interval_s)
        record = await self.load(conn, person_id)
        missed = missed_check_in(record, order_id, timer.due_at, now, interval)
        if missed is None:
            return "met_or_closed"
        missed = missed.model_copy(update={"policy_version": policy.version})
        community = record.active.community_id if record.active else None
        meta = EventMetadata(
            correlation_id=timer.timer_id, actor="check-in-deadline", district=self.district,
            community=community,
        )  # fmt: skip
        await self.store.append(
            stream_of(person_id),
            [PendingEvent(missed, event_id=derived_id(timer.timer_id), occurred_at=now)],
            expected_version=record.version,
            metadata=meta,
            partition_key=person_id,
            conn=conn,
        )
        await self._next_deadline(conn, person_id, order_id, now)
        return "missed"
