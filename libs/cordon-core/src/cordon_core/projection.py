"""The projection runtime: read models built only from events, rebuildable from scratch.

Live, a projection is an ordinary consumer (inbox rows written with its rows, so each
event counts once). A rebuild empties its tables and inbox and replays its topics from
the beginning up to the offsets current when it started, under an exclusive advisory
lock that pauses the live consumer; afterwards the live consumer resumes and the inbox
skips what the rebuild already applied.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

from cordon_core.consumer import CloudEventCodec, EventConsumer, RetryPolicy
from cordon_core.envelope import Envelope, EventRegistry
from cordon_core.kafka import Topics, topic_partitions
from cordon_core.runtime import Subscription
from cordon_core.settings import ServiceSettings

log = structlog.get_logger(__name__)

Progress = Callable[[int, int], None]
"""Called with (records read, records to read) as a rebuild advances."""


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


async def rebuild(
    projection: Projection,
    *,
    topics: Sequence[str],
    pool: asyncpg.Pool,
    schema: str,
    registry: EventRegistry,
    settings: ServiceSettings,
    progress: Progress | None = None,
    batch_size: int = 2000,
) -> int:
    """Drop the projection's state and replay ``topics``; returns the records read."""
    kafka = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    await kafka.start()
    # aiokafka (0.14) starts a coordinator task for group-less consumers; stopping the
    # consumer before that task first ran raises CancelledError out of stop().
    await asyncio.sleep(0)
    await producer.start()
    try:
        partitions = await topic_partitions(kafka, topics)
        kafka.assign(partitions)
        await kafka.seek_to_beginning(*partitions)
        starts = await kafka.beginning_offsets(partitions)
        ends = await kafka.end_offsets(partitions)
        total = sum(ends[tp] - starts[tp] for tp in partitions)
        applier = EventConsumer(
            name=consumer_name(projection),
            topics=topics,
            codec=CloudEventCodec(registry, projection.event_types),
            handler=projection,
            pool=pool,
            schema=schema,
            producer=producer,
            dead_letter_topic=Topics(settings.topic_prefix).dead_letter(consumer_name(projection)),
            retry=RetryPolicy(settings.consumer_max_attempts),
        )
        read = 0
        async with pool.acquire() as guard:
            await guard.execute("SELECT pg_advisory_lock($1)", lock_key(projection))
            try:
                async with guard.transaction():
                    await projection.reset(guard)
                    await guard.execute(
                        f"DELETE FROM {applier.schema}.inbox WHERE consumer = $1", applier.name
                    )
                remaining = {tp for tp in partitions if ends[tp] > starts[tp]}
                if progress:
                    progress(0, total)
                while remaining:
                    fetched = await kafka.getmany(
                        *remaining, timeout_ms=500, max_records=batch_size
                    )
                    records: list[ConsumerRecord[Any, Any]] = []
                    for tp, batch in fetched.items():
                        records.extend(r for r in batch if r.offset < ends[tp])
                    for tp in list(remaining):
                        if await kafka.position(tp) >= ends[tp]:
                            remaining.discard(tp)
                    await applier.handle_records(records)
                    read += len(records)
                    if progress:
                        progress(read, total)
            finally:
                await guard.execute("SELECT pg_advisory_unlock($1)", lock_key(projection))
        log.info("projection_rebuilt", projection=projection.name, records=read)
        return read
    finally:
        await kafka.stop()
        await producer.stop()
