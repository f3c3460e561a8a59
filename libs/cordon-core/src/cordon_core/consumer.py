"""The consumer runtime: Kafka events applied exactly once in effect, poison sent to a DLQ.

A batch of records is applied in one PostgreSQL transaction together with the inbox
rows naming their event ids; Kafka offsets are committed only after that transaction
commits. A redelivered event finds its id in the inbox and is skipped. When a batch
fails, its records are retried one by one so that only the bad one is set aside: after
bounded attempts with backoff it goes, with its error, to the consumer's dead-letter
topic, and the partition moves on. Failures of the infrastructure itself (PostgreSQL
unreachable, a concurrency conflict) are retried without limit and never dead-lettered.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from cordon_core.cloudevents import MalformedEvent, record_to_envelope
from cordon_core.envelope import Envelope, EventRegistry
from cordon_core.migrations import checked_identifier
from cordon_core.observability import CONSUMER_BATCH_SECONDS, CONSUMER_EVENTS, CONSUMER_LAG
from cordon_core.store import ConcurrencyError

log = structlog.get_logger(__name__)


class EventHandler(Protocol):
    """Applies events inside the transaction the runtime opened; must not commit it."""

    async def apply_batch(
        self, conn: asyncpg.Connection, envelopes: Sequence[Envelope]
    ) -> None: ...


@dataclass(frozen=True)
class PerEvent:
    """Adapts a per-event coroutine function to the batch handler protocol."""

    apply: Callable[[asyncpg.Connection, Envelope], Awaitable[None]]

    async def apply_batch(self, conn: asyncpg.Connection, envelopes: Sequence[Envelope]) -> None:
        for envelope in envelopes:
            await self.apply(conn, envelope)


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    ConcurrencyError,
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
)
"""Errors that say nothing about the event itself: retried until they pass."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff: float = 0.1
    backoff_max: float = 5.0

    def delay(self, attempt: int) -> float:
        return float(min(self.backoff * 2 ** (attempt - 1), self.backoff_max))


@dataclass
class _Item:
    record: ConsumerRecord[Any, Any]
    envelope: Envelope


class EventConsumer:
    """One consumer group: its topics, its handler, its inbox and its dead-letter topic."""

    def __init__(
        self,
        *,
        name: str,
        topics: Sequence[str],
        handler: EventHandler,
        pool: asyncpg.Pool,
        schema: str,
        registry: EventRegistry,
        producer: AIOKafkaProducer,
        dead_letter_topic: str,
        retry: RetryPolicy = RetryPolicy(),
        event_types: Iterable[str] | None = None,
        lock_key: int | None = None,
    ) -> None:
        self.name = name
        self.topics = list(topics)
        self.handler = handler
        self.pool = pool
        self.schema = checked_identifier(schema)
        self.registry = registry
        self.producer = producer
        self.dead_letter_topic = dead_letter_topic
        self.retry = retry
        self.event_types = set(event_types) if event_types is not None else None
        self.lock_key = lock_key
        self.kafka_subscriber: Any = None
        """The FastStream subscriber feeding this consumer, once attached (for lag)."""

    def wants(self, ce_type: str | None) -> bool:
        if ce_type is None or not ce_type.startswith("cordon."):
            return True  # not ours to judge: decoding will dead-letter it
        event_type = ce_type.removeprefix("cordon.")
        if self.event_types is not None:
            return event_type in self.event_types
        return self.registry.knows(event_type)

    async def handle_records(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        """Apply a polled batch; returns once every record is applied, skipped or dead-lettered."""
        started = time.perf_counter()
        items: list[_Item] = []
        for record in records:
            headers = dict(record.headers or ())
            ce_type = headers.get("ce_type")
            if not self.wants(ce_type.decode() if ce_type else None):
                CONSUMER_EVENTS.labels(self.name, "ignored").inc()
                continue
            try:
                items.append(
                    _Item(record, record_to_envelope(record.headers, record.value, self.registry))
                )
            except MalformedEvent as error:
                await self._dead_letter(record, None, error, attempts=1)
        if items:
            try:
                await self._until_not_transient(self._apply, items)
            except Exception:
                log.warning(
                    "consumer_batch_failed", consumer=self.name, size=len(items), exc_info=True
                )
                for item in items:
                    await self._apply_alone(item)
        CONSUMER_BATCH_SECONDS.labels(self.name).observe(time.perf_counter() - started)

    async def _apply(self, items: Sequence[_Item]) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            if self.lock_key is not None:
                await conn.execute("SELECT pg_advisory_xact_lock_shared($1)", self.lock_key)
            ids = [item.envelope.event_id for item in items]
            seen = {
                row["event_id"]
                for row in await conn.fetch(
                    f"SELECT event_id FROM {self.schema}.inbox"
                    " WHERE consumer = $1 AND event_id = ANY($2::uuid[])",
                    self.name,
                    ids,
                )
            }
            fresh: dict[uuid.UUID, Envelope] = {}
            for item in items:
                if item.envelope.event_id not in seen:
                    fresh.setdefault(item.envelope.event_id, item.envelope)
            if fresh:
                await self.handler.apply_batch(conn, list(fresh.values()))
                # Written last: a transaction id taken before the handler loads an aggregate
                # could publish that aggregate's events out of order (see store.append).
                await conn.execute(
                    f"INSERT INTO {self.schema}.inbox (consumer, event_id)"
                    " SELECT $1, unnest($2::uuid[])",
                    self.name,
                    list(fresh),
                )
        CONSUMER_EVENTS.labels(self.name, "applied").inc(len(fresh))
        CONSUMER_EVENTS.labels(self.name, "duplicate").inc(len(items) - len(fresh))

    async def _apply_alone(self, item: _Item) -> None:
        with structlog.contextvars.bound_contextvars(
            consumer=self.name,
            event_id=str(item.envelope.event_id),
            correlation_id=str(item.envelope.correlation_id),
            stream_id=item.envelope.stream_id,
        ):
            await self._attempt(item)

    async def _attempt(self, item: _Item) -> None:
        for attempt in range(1, self.retry.max_attempts + 1):
            try:
                await self._until_not_transient(self._apply, [item])
                return
            except Exception as error:
                log.warning("consumer_event_failed", attempt=attempt, error=repr(error))
                if attempt == self.retry.max_attempts:
                    await self._dead_letter(item.record, item.envelope, error, attempts=attempt)
                    return
                await asyncio.sleep(self.retry.delay(attempt))

    async def _until_not_transient(
        self, fn: Callable[[Sequence[_Item]], Awaitable[None]], items: Sequence[_Item]
    ) -> None:
        attempt = 0
        while True:
            try:
                await fn(items)
                return
            except asyncpg.UniqueViolationError as error:
                # A concurrent instance applied the same event first (a rebalance): the
                # inbox now has it, and the retry will skip it.
                if error.table_name != "inbox":
                    raise
            except TRANSIENT_ERRORS as error:
                log.warning("consumer_transient_error", consumer=self.name, error=repr(error))
            attempt += 1
            await asyncio.sleep(self.retry.delay(min(attempt, 10)))

    async def _dead_letter(
        self,
        record: ConsumerRecord[Any, Any],
        envelope: Envelope | None,
        error: BaseException,
        *,
        attempts: int,
    ) -> None:
        reason = [
            ("cordon_dlq_error_type", type(error).__name__),
            ("cordon_dlq_error", str(error)[:2000]),
            ("cordon_dlq_traceback", "".join(traceback.format_exception(error))[-4000:]),
            ("cordon_dlq_consumer", self.name),
            ("cordon_dlq_topic", record.topic),
            ("cordon_dlq_partition", str(record.partition)),
            ("cordon_dlq_offset", str(record.offset)),
            ("cordon_dlq_attempts", str(attempts)),
            ("cordon_dlq_time", datetime.now(UTC).isoformat()),
        ]
        headers = list(record.headers or ()) + [(k, v.encode()) for k, v in reason]
        await self.producer.send_and_wait(
            self.dead_letter_topic, value=record.value, key=record.key, headers=headers
        )
        if envelope is not None:
            async with self.pool.acquire() as conn:
                await conn.execute(
                    f"INSERT INTO {self.schema}.inbox (consumer, event_id, outcome)"
                    " VALUES ($1, $2, 'dead_lettered') ON CONFLICT DO NOTHING",
                    self.name,
                    envelope.event_id,
                )
        CONSUMER_EVENTS.labels(self.name, "dead_lettered").inc()
        log.error(
            "consumer_dead_lettered",
            consumer=self.name,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            event_id=str(envelope.event_id) if envelope else None,
            error=repr(error),
        )


async def report_lag(
    consumer_name: str, kafka_consumer: AIOKafkaConsumer
) -> dict[TopicPartition, int]:
    """Set the lag gauge for each assigned partition; returns the figures."""
    lags: dict[TopicPartition, int] = {}
    for tp in kafka_consumer.assignment():
        highwater = kafka_consumer.highwater(tp)
        if highwater is None:
            continue
        with contextlib.suppress(Exception):
            position = await asyncio.wait_for(kafka_consumer.position(tp), 1.0)
            lags[tp] = max(highwater - position, 0)
            CONSUMER_LAG.labels(consumer_name, tp.topic, str(tp.partition)).set(lags[tp])
    return lags
