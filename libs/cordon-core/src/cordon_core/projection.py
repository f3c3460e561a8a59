"""The projection runtime: read models built only from events, rebuildable from scratch.

Live, a projection is an ordinary consumer (inbox rows written with its rows, so each
event counts once). A rebuild empties its tables and inbox and replays its topics from
the beginning up to the offsets current when it started, under an exclusive advisory
lock that pauses the live consumer; afterwards the live consumer resumes and the inbox
skips what the rebuild already applied. Several projections are rebuilt in one pass:
each record is read and decoded once and handed to every projection that wants it.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections import defaultdict
from collections.abc import AsyncGenerator, Callable, Iterable, Sequence
from typing import Any, Generic, Protocol, TypeVar

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from cordon_core.cloudevents import MalformedEvent, ce_type, header, record_to_envelope
from cordon_core.consumer import CloudEventCodec, EventConsumer, MalformedRecord, RetryPolicy
from cordon_core.envelope import Envelope, EventRegistry
from cordon_core.kafka import Topics, topic_partitions
from cordon_core.runtime import Subscription
from cordon_core.settings import ServiceSettings

log = structlog.get_logger(__name__)

Progress = Callable[[int, int], None]
"""Called with (records read, records to read) as a rebuild advances."""

Target = TypeVar("Target")


class Projection(Protocol):
    """A read model: how events change its rows, and how to empty them."""

    @property
    def name(self) -> str: ...

    @property
    def event_types(self) -> Sequence[str]: ...

    async def apply_batch(
        self, conn: asyncpg.Connection, envelopes: Sequence[Envelope]
    ) -> None: ...

    async def reset(self, conn: asyncpg.Connection) -> None: ...


def consumer_name(projection: Projection) -> str:
    return f"projection-{projection.name}"


def lock_key(projection: Projection) -> int:
    return zlib.crc32(f"cordon-projection:{projection.name}".encode())


def projection_subscription(projection: Projection, topics: Sequence[str]) -> Subscription:
    return Subscription(
        name=consumer_name(projection),
        topics=topics,
        handler=projection,
        event_types=projection.event_types,
        lock_key=lock_key(projection),
    )


class FanOut(Generic[Target]):
    """Which targets (projections, or their consumers) want a record, told from its topic
    and ``ce_type`` header before anything is decoded."""

    def __init__(self, routes: Iterable[tuple[Target, Iterable[str], Iterable[str]]]) -> None:
        """``routes``: (target, its topics, its event types)."""
        self._by_type: dict[tuple[str, bytes], list[Target]] = defaultdict(list)
        self._by_topic: dict[str, list[Target]] = defaultdict(list)
        for target, topics, event_types in routes:
            kinds = [ce_type(t).encode() for t in event_types]
            for topic in topics:
                self._by_topic[topic].append(target)
                for kind in kinds:
                    self._by_type[(topic, kind)].append(target)

    @property
    def topics(self) -> list[str]:
        return sorted(self._by_topic)

    def targets(self, record: ConsumerRecord[Any, Any]) -> list[Target]:
        kind = header(record.headers, "ce_type")
        if kind is None or not kind.startswith(b"cordon."):
            # Not a Cordon event: every consumer of the topic sees it (and dead-letters it).
            return self._by_topic.get(record.topic, [])
        return self._by_type.get((record.topic, kind), [])


Decoded = tuple[ConsumerRecord[Any, Any], Envelope | MalformedRecord]


def decode_record(
    record: ConsumerRecord[Any, Any], registry: EventRegistry
) -> Envelope | MalformedRecord:
    """The record's envelope, or why it cannot be read."""
    try:
        return record_to_envelope(record.headers, record.value, registry)
    except MalformedEvent as error:
        return MalformedRecord(str(error))


async def records_to_end(
    bootstrap: str,
    topics: Sequence[str],
    *,
    max_records: int,
    progress: Progress | None = None,
) -> AsyncGenerator[list[ConsumerRecord[Any, Any]], None]:
    """Every record of ``topics`` from the beginning up to the end offsets read at the start,
    in fetched batches (each partition in order), from one group-less consumer."""
    kafka = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_bytes=16 * 1024 * 1024,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await kafka.start()
    # aiokafka (0.14) starts a coordinator task for group-less consumers; stopping the
    # consumer before that task first ran raises CancelledError out of stop().
    await asyncio.sleep(0)
    try:
        partitions = await topic_partitions(kafka, topics)
        total = 0
        remaining: set[TopicPartition] = set()
        ends: dict[TopicPartition, int] = {}
        if partitions:
            kafka.assign(partitions)
            await kafka.seek_to_beginning(*partitions)
            starts = await kafka.beginning_offsets(partitions)
            ends = await kafka.end_offsets(partitions)
            total = sum(ends[tp] - starts[tp] for tp in partitions)
            remaining = {tp for tp in partitions if ends[tp] > starts[tp]}
        if progress:
            progress(0, total)
        while remaining:
            fetched = await kafka.getmany(*remaining, timeout_ms=500, max_records=max_records)
            records: list[ConsumerRecord[Any, Any]] = []
            for tp, batch in fetched.items():
                records.extend(r for r in batch if r.offset < ends[tp])
            for tp in list(remaining):
                if await kafka.position(tp) >= ends[tp]:
                    remaining.discard(tp)
            yield records
    finally:
        await kafka.stop()


async def rebuild(
    projection: Projection,
    *,
    topics: Sequence[str],
    pool: asyncpg.Pool,
    schema: str,
    registry: EventRegistry,
    settings: ServiceSettings,
    progress: Progress | None = None,
    batch_size: int = 5000,
) -> int:
    """Drop the projection's state and replay ``topics``; returns the records read."""
    return await rebuild_together(
        [(projection, topics)],
        pool=pool,
        schema=schema,
        registry=registry,
        settings=settings,
        progress=progress,
        batch_size=batch_size,
    )


async def rebuild_together(
    projections: Sequence[tuple[Projection, Sequence[str]]],
    *,
    pool: asyncpg.Pool,
    schema: str,
    registry: EventRegistry,
    settings: ServiceSettings,
    progress: Progress | None = None,
    batch_size: int = 5000,
) -> int:
    """Drop the state of every (projection, its topics) and replay the topics in one pass:
    each record is read once, decoded once, and applied (with its inbox row) by every
    projection that wants it, each in its own transaction per batch as its live consumer
    would. Holds every projection's exclusive lock throughout. Returns the records read.

    The next batch is fetched and decoded while PostgreSQL applies the previous one; a
    projection's batches are still applied one after another, in order.
    """
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    await producer.start()
    try:
        retry = RetryPolicy(settings.consumer_max_attempts)
        appliers = [
            EventConsumer(
                name=consumer_name(projection),
                topics=topics,
                codec=CloudEventCodec(registry, projection.event_types),
                handler=projection,
                pool=pool,
                schema=schema,
                producer=producer,
                dead_letter_topic=Topics(settings.topic_prefix).dead_letter(
                    consumer_name(projection)
                ),
                retry=retry,
            )
            for projection, topics in projections
        ]
        fan_out = FanOut(
            (applier, applier.topics, projection.event_types)
            for applier, (projection, _) in zip(appliers, projections, strict=True)
        )
        keys = sorted({lock_key(projection) for projection, _ in projections})
        async with pool.acquire() as guard:
            for key in keys:
                await guard.execute("SELECT pg_advisory_lock($1)", key)
            try:
                async with guard.transaction():
                    for (projection, _), applier in zip(projections, appliers, strict=True):
                        await projection.reset(guard)
                        await guard.execute(
                            f"DELETE FROM {applier.schema}.inbox WHERE consumer = $1",
                            applier.name,
                        )
                read = await _replay_into(fan_out, registry, settings, progress, batch_size)
            finally:
                for key in reversed(keys):
                    await guard.execute("SELECT pg_advisory_unlock($1)", key)
        log.info(
            "projections_rebuilt",
            projections=[projection.name for projection, _ in projections],
            records=read,
            dead_letters_skipped=sum(a.dead_letters_skipped for a in appliers),
        )
        return read
    finally:
        await producer.stop()


async def _replay_into(
    fan_out: FanOut[EventConsumer[Envelope]],
    registry: EventRegistry,
    settings: ServiceSettings,
    progress: Progress | None,
    batch_size: int,
) -> int:
    read = applied = 0
    total = 0

    def started(done: int, of: int) -> None:
        nonlocal total
        total = of
        if progress:
            progress(done, of)

    in_flight: asyncio.Future[Any] | None = None
    batches = records_to_end(
        settings.kafka_bootstrap, fan_out.topics, max_records=batch_size, progress=started
    )
    try:
        async for records in batches:
            wanted: dict[EventConsumer[Envelope], list[Decoded]] = defaultdict(list)
            for record in records:
                targets = fan_out.targets(record)
                if targets:
                    decoded = decode_record(record, registry)
                    for target in targets:
                        wanted[target].append((record, decoded))
            if in_flight is not None:
                await in_flight
                applied = read
                if progress:
                    progress(applied, total)
            read += len(records)
            in_flight = asyncio.gather(*(a.handle_decoded(ds) for a, ds in wanted.items()))
        if in_flight is not None:
            await in_flight
            in_flight = None
        if progress and read != applied:
            progress(read, total)
        return read
    finally:
        await batches.aclose()
        if in_flight is not None:
            in_flight.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await in_flight
