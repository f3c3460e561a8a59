"""The delivery workers: claim due deliveries, hand them to their channel, record the
outcome (NotificationSent, a retry after a backoff, or NotificationFailed).

A claim is a lease taken with ``FOR UPDATE SKIP LOCKED``; it is recorded only if the row
is still that claim (same attempt), so a worker that outlived its lease cannot record over
the one that took the delivery after it. A crash between send and record sends again,
with the same idempotency key (see adapters/channels.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
import structlog

from cordon_contracts.notification import NotificationFailed, NotificationSent
from cordon_core.envelope import DomainEvent, PendingEvent
from cordon_core.store import PostgresEventStore, StreamAppend
from cordon_notification.adapters.channels import Channel, ChannelError, Message
from cordon_notification.adapters.outbox import Claimed, Outbox
from cordon_notification.domain.delivery import backoff, event_id
from cordon_notification.service.queueing import MessageQueue, stream_of

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class SendingPolicy:
    batch_size: int
    lease: timedelta
    max_attempts: int
    backoff_s: float
    backoff_max_s: float
    poll_interval_s: float


@dataclass(frozen=True)
class Outcome:
    claim: Claimed
    error: ChannelError | None


class DeliveryWorker:
    def __init__(
        self,
        *,
        pool: Callable[[], asyncpg.Pool],
        store: PostgresEventStore,
        outbox: Outbox,
        queue: MessageQueue,
        channels: Mapping[str, Channel],
        policy: SendingPolicy,
        clock: Callable[[], datetime],
    ) -> None:
        self.pool, self.store, self.outbox, self.queue = pool, store, outbox, queue
        self.channels, self.policy, self.clock = channels, policy, clock

    async def run(self) -> None:
        """Claim and send until cancelled; idle polls wait ``poll_interval_s``."""
        while True:
            try:
                done = await self.send_due()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("delivery_round_failed", error=repr(error))
                done = 0
            if done < self.policy.batch_size:
                await asyncio.sleep(self.policy.poll_interval_s)

    async def send_due(self) -> int:
        """One round: claim up to a batch, send, record. Returns how many were claimed."""
        now = self.clock()
        async with self.pool().acquire() as conn, conn.transaction():
            claims = await self.outbox.claim(
                conn, now, now + self.policy.lease, self.policy.batch_size
            )
        if not claims:
            return 0
        outcomes = await asyncio.gather(*(self._send(c) for c in claims))
        await self._record(outcomes)
        return len(claims)

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

    async def _record(self, outcomes: Sequence[Outcome]) -> None:
        now = self.clock()
        sent = [o.claim for o in outcomes if o.error is None]
        failed = [o for o in outcomes if o.error and self._final(o)]
        retried = [o for o in outcomes if o.error and not self._final(o)]
        async with self.pool().acquire() as conn, conn.transaction():
            ours_sent = await self.outbox.settle(conn, sent, "sent", at=now)
            covers = await self.outbox.covered(
                conn, [c.delivery_id for c in sent if c.template == "digest"]
            )
            ours_failed = await self.outbox.settle(
                conn,
                [o.claim for o in failed],
                "failed",
                at=now,
                errors=[o.error.reason if o.error else None for o in failed],
            )
            await self.outbox.settle(
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
            await self.store.append_many(events, conn=conn)
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
