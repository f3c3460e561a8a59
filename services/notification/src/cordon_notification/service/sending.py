"""The delivery worker: claim due deliveries, hand each to its channel on its own, record
the outcomes (NotificationSent, a retry after a backoff, or NotificationFailed) in batches.

A claim is a lease taken with ``FOR UPDATE SKIP LOCKED``; it is recorded only if the row
is still that claim (same attempt), so a worker that outlived its lease cannot record over
the one that took the delivery after it. A crash between send and record sends again,
with the same idempotency key (see adapters/channels.py).

Sends go through lanes (``domain.delivery.lane``: an HTTP origin, e-mail, the inbox), each
with at most ``lane_concurrency`` sends at once and at most ``lane_backlog`` claimed, so a
slow webhook host delays only its own messages; each delivery is recorded as soon as its
own send ends, with whatever other outcomes are ready at that moment.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import asyncpg
import structlog

from cordon_contracts.notification import NotificationFailed, NotificationSent
from cordon_core.envelope import DomainEvent, PendingEvent
from cordon_core.store import ConcurrencyError, PostgresEventStore, StreamAppend
from cordon_notification.adapters.channels import Channel, ChannelError, Message
from cordon_notification.adapters.deliveries import Claimed, Deliveries
from cordon_notification.domain.delivery import backoff, event_id
from cordon_notification.service.queueing import MessageQueue, stream_of

log = structlog.get_logger(__name__)

RECORDERS = 2
"""Recording transactions at once: one records while the next batch of outcomes gathers."""

DATABASE_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, ConcurrencyError)


@dataclass(frozen=True)
class SendingPolicy:
    batch_size: int
    """Deliveries per claim, and outcomes per recording transaction at most."""
    concurrency: int
    """Deliveries claimed and not yet recorded, per process."""
    lane_concurrency: int
    """Sends at once per lane."""
    lane_backlog: int
    """Deliveries claimed (waiting or sending) per lane."""
    lease: timedelta
    """A claim not recorded by then may be claimed again; one that waited for its lane
    for half of it is given back unsent."""
    max_attempts: int
    backoff_s: float
    backoff_max_s: float
    poll_interval_s: float


@dataclass(frozen=True)
class Outcome:
    claim: Claimed
    error: ChannelError | None
    released: bool = False
    """Never handed to the channel: the claim is given back, not recorded."""


@dataclass
class Lane:
    slots: asyncio.Semaphore
    claimed: int = 0


@dataclass
class _Flow:
    """What the worker holds: claims not yet recorded, per lane, and its wake-ups."""

    in_flight: int = 0
    lanes: dict[str, Lane] = field(default_factory=dict)
    freed: asyncio.Event = field(default_factory=asyncio.Event)
    settled: asyncio.Event = field(default_factory=asyncio.Event)


class DeliveryWorker:
    def __init__(
        self,
        *,
        pool: Callable[[], asyncpg.Pool],
        store: PostgresEventStore,
        deliveries: Deliveries,
        queue: MessageQueue,
        channels: Mapping[str, Channel],
        policy: SendingPolicy,
        clock: Callable[[], datetime],
    ) -> None:
        self.pool, self.store, self.deliveries, self.queue = pool, store, deliveries, queue
        self.channels, self.policy, self.clock = channels, policy, clock
        self._flow = _Flow()
        self._outcomes: asyncio.Queue[Outcome] = asyncio.Queue()
        self._sends: set[asyncio.Task[None]] = set()
        self._stopping = False

    async def run(self) -> None:
        """Claim and send until ``stop``; then let the sends under way finish and record
        them, give back what was claimed but not sent, and return.

        Run again after a failure, it starts from nothing held: the claims of the run
        that failed come back when their lease ends."""
        self._flow = _Flow()
        self._outcomes = asyncio.Queue()
        recorders = [
            asyncio.create_task(self._record_outcomes(), name=f"delivery-recorder-{i}")
            for i in range(RECORDERS)
        ]
        try:
            await self._claim_while_running()
            while self._flow.in_flight:
                self._flow.settled.clear()
                await self._flow.settled.wait()
        finally:
            for task in (*self._sends, *recorders):
                task.cancel()
            await asyncio.gather(*self._sends, *recorders, return_exceptions=True)

    def stop(self) -> None:
        """Claim nothing more; claims still waiting for their lane are given back."""
        self._stopping = True
        self._flow.freed.set()

    async def _claim_while_running(self) -> None:
        while not self._stopping:
            wanted = min(self.policy.batch_size, self.policy.concurrency - self._flow.in_flight)
            claims: list[Claimed] = []
            if wanted > 0:
                try:
                    claims = await self.claim(wanted)
                except DATABASE_ERRORS as error:
                    log.warning("delivery_claim_failed", error=repr(error))
                except Exception:
                    log.exception("delivery_claim_failed")
            for claim in claims:
                self._start(claim)
            if len(claims) < wanted or wanted <= 0:
                # Nothing more is due now, or the lanes are full: wait until outcomes are
                # recorded (there is room again) or the poll interval passes.
                self._flow.freed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._flow.freed.wait(), self.policy.poll_interval_s)

    async def claim(self, limit: int) -> list[Claimed]:
        """Claim up to ``limit`` due deliveries, within each lane's room."""
        now = self.clock()
        room = {
            name: self.policy.lane_backlog - lane.claimed for name, lane in self._flow.lanes.items()
        }
        async with self.pool().acquire() as conn, conn.transaction():
            return await self.deliveries.claim(
                conn,
                now,
                now + self.policy.lease,
                limit,
                room=room,
                default_room=self.policy.lane_backlog,
            )

    def _lane(self, name: str) -> Lane:
        lane = self._flow.lanes.get(name)
        if lane is None:
            lane = self._flow.lanes[name] = Lane(asyncio.Semaphore(self.policy.lane_concurrency))
        return lane

    def _start(self, claim: Claimed) -> None:
        self._flow.in_flight += 1
        self._lane(claim.lane).claimed += 1
        task = asyncio.create_task(self._deliver(claim))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    async def _deliver(self, claim: Claimed) -> None:
        lane = self._lane(claim.lane)
        try:
            async with lane.slots:
                if self._stopping or self.clock() >= claim.lease_until - self.policy.lease / 2:
                    # Not handed over: a send this late could outlive the lease and meet the
                    # next claim's send. Given back without counting an attempt.
                    outcome = Outcome(claim, None, released=True)
                else:
                    outcome = await self._send(claim)
        finally:
            lane.claimed -= 1
        self._outcomes.put_nowait(outcome)

    async def _send(self, claim: Claimed) -> Outcome:
        if claim.attempts > self.policy.max_attempts:
            # Claimed again and again without an outcome recorded (the process died each time).
            return Outcome(claim, ChannelError("no outcome recorded", permanent=True))
        message = Message(
            delivery_id=claim.delivery_id,
            source_id=claim.source_id,
            recipient_id=claim.recipient_id,
            address=claim.address,
            subject=claim.subject,
            body=claim.body,
            template=claim.template,
            language=claim.language,
        )
        try:
            await self.channels[claim.channel].send(message)
        except ChannelError as error:
            log.info(
                "delivery_attempt_failed",
                delivery_id=str(claim.delivery_id),
                attempt=claim.attempts,
                reason=error.reason,
            )
            return Outcome(claim, error)
        return Outcome(claim, None)

    async def _record_outcomes(self) -> None:
        """Record outcomes as they come: one transaction for all those ready at that moment
        (at most a batch), so that under load they are recorded in batches and when idle
        each is recorded at once. A failed transaction is tried again: recording is fenced
        by the attempt, so a late record of a claim taken over since writes nothing."""
        while True:
            batch = [await self._outcomes.get()]
            while len(batch) < self.policy.batch_size and not self._outcomes.empty():
                batch.append(self._outcomes.get_nowait())
            failures = 0
            while True:
                try:
                    await self._record(batch)
                    break
                except DATABASE_ERRORS as error:
                    log.warning("delivery_record_failed", error=repr(error), size=len(batch))
                except Exception:
                    log.exception("delivery_record_failed", size=len(batch))
                failures += 1
                await asyncio.sleep(
                    min(self.policy.poll_interval_s * 2**failures, self.policy.backoff_max_s)
                )
            self._flow.in_flight -= len(batch)
            self._flow.freed.set()
            self._flow.settled.set()

    async def _record(self, outcomes: Sequence[Outcome]) -> None:
        now = self.clock()
        released = [o.claim for o in outcomes if o.released]
        outcomes = [o for o in outcomes if not o.released]
        sent = [o.claim for o in outcomes if o.error is None]
        failed = [o for o in outcomes if o.error and self._final(o)]
        retried = [o for o in outcomes if o.error and not self._final(o)]
        async with self.pool().acquire() as conn, conn.transaction():
            await self.deliveries.release(conn, released)
            ours_sent = await self.deliveries.settle(conn, sent, "sent", at=now)
            digests = [c.delivery_id for c in sent if c.template == "digest"]
            covers = await self.deliveries.covered(conn, digests) if digests else {}
            ours_failed = await self.deliveries.settle(
                conn,
                [o.claim for o in failed],
                "failed",
                at=now,
                errors=[o.error.reason if o.error else None for o in failed],
            )
            await self.deliveries.settle(
                conn,
                [o.claim for o in retried],
                "pending",
                at=now,
                errors=[o.error.reason if o.error else None for o in retried],
                due=[now + self._backoff(o.claim.attempts) for o in retried],
            )
            events: list[StreamAppend] = []
            for c in sent:
                if c.delivery_id in ours_sent:
                    payload: DomainEvent = NotificationSent(
                        delivery_id=c.delivery_id, recipient_id=c.recipient_id,
                        channel=c.channel,
                        attempts=c.attempts, sent_at=now, covers=covers.get(c.delivery_id, []),
                    )  # fmt: skip
                    events.append(self._append(c, payload, "sent", now))
            for o in failed:
                if o.claim.delivery_id in ours_failed and o.error:
                    c = o.claim
                    payload = NotificationFailed(
                        delivery_id=c.delivery_id, recipient_id=c.recipient_id,
                        channel=c.channel,
                        attempts=min(c.attempts, self.policy.max_attempts),
                        reason=o.error.reason, failed_at=now,
                    )  # fmt: skip
                    events.append(self._append(c, payload, "failed", now))
            # Each event is appended only where its settle above changed the row, which
            # happens once per delivery (sent and failed are final): the ids are new, and
            # a conflict restarts the whole transaction anyway.
            await self.store.append_many(events, conn=conn, savepoint=False, known_new=True)
        for o in failed:
            log.warning(
                "delivery_failed", delivery_id=str(o.claim.delivery_id), reason=str(o.error)
            )

    def _final(self, outcome: Outcome) -> bool:
        assert outcome.error is not None
        return outcome.error.permanent or outcome.claim.attempts >= self.policy.max_attempts

    def _backoff(self, attempts: int) -> timedelta:
        return backoff(attempts, self.policy.backoff_s, self.policy.backoff_max_s)

    def _append(self, c: Claimed, payload: DomainEvent, what: str, now: datetime) -> StreamAppend:
        return StreamAppend(
            stream_of(c.delivery_id),
            [PendingEvent(payload, event_id=event_id(c.delivery_id, what), occurred_at=now)],
            expected_version=None,
            metadata=self.queue.metadata(None, c.community_id),
            partition_key=c.recipient_id,
        )
