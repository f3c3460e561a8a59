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
from typing import Any, Generic, Protocol, TypeVar

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from cordon_core.cloudevents import MalformedEvent, ce_type, header, record_to_envelope
from cordon_core.envelope import Envelope, EventRegistry
from cordon_core.migrations import checked_identifier
from cordon_core.observability import CONSUMER_BATCH_SECONDS, CONSUMER_EVENTS, CONSUMER_LAG
from cordon_core.store import RETRY_CONFLICTS

log = structlog.get_logger(__name__)


T = TypeVar("T")
T_contra = TypeVar("T_contra", contravariant=True)


class BatchHandler(Protocol[T_contra]):
    """Applies messages inside the transaction the runtime opened; must not commit it."""

    async def apply_batch(self, conn: asyncpg.Connection, items: Sequence[T_contra]) -> None: ...


class MalformedRecord(ValueError):
    """A record this consumer cannot read: dead-lettered at once, never retried."""


class RecordCodec(Protocol[T]):
    """How a consumer reads its topic's records."""

    def decode(self, record: ConsumerRecord[Any, Any]) -> T | None:
        """The message, or None when it is not for this consumer; MalformedRecord when it
        cannot be read."""
        ...

    def identity(self, item: T) -> uuid.UUID:
        """The id the inbox deduplicates by."""
        ...

    def log_context(self, item: T) -> dict[str, str]: ...


class CloudEventCodec:
    """Cordon events in CloudEvents binary mode; types this consumer does not handle (or does
    not know) are skipped, so a producer can add event types first."""

    def __init__(self, registry: EventRegistry, event_types: Iterable[str] | None = None) -> None:
        self.registry = registry
        self.event_types = set(event_types) if event_types is not None else None
        self._wanted = (
            {ce_type(t).encode() for t in self.event_types}
            if self.event_types is not None
            else None
        )

    def decode(self, record: ConsumerRecord[Any, Any]) -> Envelope | None:
        kind = header(record.headers, "ce_type")
        if kind is not None and kind.startswith(b"cordon."):
            wanted = (
                kind in self._wanted
                if self._wanted is not None
                else self.registry.knows(kind.decode().removeprefix("cordon."))
            )
            if not wanted:
                return None
        try:
            return record_to_envelope(record.headers, record.value, self.registry)
        except MalformedEvent as error:
            raise MalformedRecord(str(error)) from error

    def identity(self, item: Envelope) -> uuid.UUID:
        return item.event_id

    def log_context(self, item: Envelope) -> dict[str, str]:
        return {
            "event_id": str(item.event_id),
            "correlation_id": str(item.correlation_id),
            "stream_id": item.stream_id,
        }


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    *RETRY_CONFLICTS,
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
)
"""Errors that say nothing about the event itself: retried until they pass."""

TRANSIENT_RETRY_MAX_S = 1.0
"""The longest wait between two tries through a transient error: a consumer goes on within
a second of PostgreSQL coming back (a longer backoff left a feed idle for seconds after an
outage), and one try a second costs a server that is down nothing."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff: float = 0.1
    backoff_max: float = 5.0

    def delay(self, attempt: int) -> float:
        return float(min(self.backoff * 2 ** (attempt - 1), self.backoff_max))


@dataclass
class _Item(Generic[T]):
    record: ConsumerRecord[Any, Any]
    message: T
    id: uuid.UUID


class EventConsumer(Generic[T]):
    """One consumer group: its topics, codec, handler, inbox and dead-letter topic."""

    def __init__(
        self,
        *,
        name: str,
        topics: Sequence[str],
        codec: RecordCodec[T],
        handler: BatchHandler[T],
        pool: asyncpg.Pool,
        schema: str,
        producer: AIOKafkaProducer,
        dead_letter_topic: str,
        retry: RetryPolicy = RetryPolicy(),
        lock_key: int | None = None,
    ) -> None:
        self.name = name
        self.topics = list(topics)
        self.codec = codec
        self.handler = handler
        self.pool = pool
        self.schema = checked_identifier(schema)
        self.producer = producer
        self.dead_letter_topic = dead_letter_topic
        self.retry = retry
        self.lock_key = lock_key
        self.kafka_subscriber: Any = None
        """The FastStream subscriber feeding this consumer, once attached."""
        self.dead_letters_skipped = 0
        """Records met again that were dead-lettered before (a rebuild), and skipped."""

    async def handle_records(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        """Apply a polled batch; returns once every record is applied, skipped or dead-lettered."""
        started = time.perf_counter()
        decoded: list[tuple[ConsumerRecord[Any, Any], T | MalformedRecord]] = []
        ignored = 0
        for record in records:
            try:
                message = self.codec.decode(record)
            except MalformedRecord as error:
                decoded.append((record, error))
                continue
            if message is None:
                ignored += 1
                continue
            decoded.append((record, message))
        if ignored:
            CONSUMER_EVENTS.labels(self.name, "ignored").inc(ignored)
        await self.handle_decoded(decoded)
        CONSUMER_BATCH_SECONDS.labels(self.name).observe(time.perf_counter() - started)

    async def handle_decoded(
        self, decoded: Sequence[tuple[ConsumerRecord[Any, Any], T | MalformedRecord]]
    ) -> None:
        """Apply records someone else decoded (a rebuild decodes each record once for every
        projection that wants it): unreadable ones are dead-lettered at once, in order."""
        items: list[_Item[T]] = []
        for record, message in decoded:
            if isinstance(message, MalformedRecord):
                await self._dead_letter(record, None, message, attempts=1)
            else:
                items.append(_Item(record, message, self.codec.identity(message)))
        if items:
            try:
                await self._until_not_transient(self._apply, items)
            except Exception:
                log.warning(
                    "consumer_batch_failed", consumer=self.name, size=len(items), exc_info=True
                )
                for item in items:
                    await self._apply_alone(item)

    async def _apply(self, items: Sequence[_Item[T]]) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            if self.lock_key is not None:
                await conn.execute("SELECT pg_advisory_xact_lock_shared($1)", self.lock_key)
            ids = [item.id for item in items]
            seen = {
                row["event_id"]
                for row in await conn.fetch(
                    f"SELECT event_id FROM {self.schema}.inbox"
                    " WHERE consumer = $1 AND event_id = ANY($2::uuid[])",
                    self.name,
                    ids,
                )
            }
            fresh: dict[uuid.UUID, T] = {}
            for item in items:
                if item.id not in seen:
                    fresh.setdefault(item.id, item.message)
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

    async def _apply_alone(self, item: _Item[T]) -> None:
        with structlog.contextvars.bound_contextvars(
            consumer=self.name, **self.codec.log_context(item.message)
        ):
            await self._attempt(item)

    async def _attempt(self, item: _Item[T]) -> None:
        if await self._dead_lettered_before(item.record):
            return
        for attempt in range(1, self.retry.max_attempts + 1):
            try:
                await self._until_not_transient(self._apply, [item])
                return
            except Exception as error:
                log.warning("consumer_event_failed", attempt=attempt, error=repr(error))
                if attempt == self.retry.max_attempts:
                    await self._dead_letter(item.record, item.id, error, attempts=attempt)
                    return
                await asyncio.sleep(self.retry.delay(attempt))

    async def _until_not_transient(
        self, fn: Callable[[Sequence[_Item[T]]], Awaitable[None]], items: Sequence[_Item[T]]
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
            await asyncio.sleep(min(self.retry.delay(min(attempt, 10)), TRANSIENT_RETRY_MAX_S))

    async def _dead_letter(
        self,
        record: ConsumerRecord[Any, Any],
        message_id: uuid.UUID | None,
        error: BaseException,
        *,
        attempts: int,
    ) -> None:
        if await self._dead_lettered_before(record):
            return
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
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                f"INSERT INTO {self.schema}.dead_letters"
                " (consumer, topic, partition, kafka_offset, event_id, error_type)"
                " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                self.name,
                record.topic,
                record.partition,
                record.offset,
                message_id,
                type(error).__name__,
            )
            if message_id is not None:
                await conn.execute(
                    f"INSERT INTO {self.schema}.inbox (consumer, event_id, outcome)"
                    " VALUES ($1, $2, 'dead_lettered') ON CONFLICT DO NOTHING",
                    self.name,
                    message_id,
                )
        CONSUMER_EVENTS.labels(self.name, "dead_lettered").inc()
        log.error(
            "consumer_dead_lettered",
            consumer=self.name,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            message_id=str(message_id) if message_id else None,
            error=repr(error),
        )

    async def _dead_lettered_before(self, record: ConsumerRecord[Any, Any]) -> bool:
        """Whether this very record (topic, partition, offset) went to the dead-letter topic
        already; counted, and logged, when it did."""
        found = await self.pool.fetchval(
            f"SELECT true FROM {self.schema}.dead_letters WHERE consumer = $1"
            " AND topic = $2 AND partition = $3 AND kafka_offset = $4",
            self.name,
            record.topic,
            record.partition,
            record.offset,
        )
        if not found:
            return False
        self.dead_letters_skipped += 1
        CONSUMER_EVENTS.labels(self.name, "dead_letter_skipped").inc()
        log.info(
            "consumer_dead_letter_skipped",
            consumer=self.name,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        )
        return True


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
