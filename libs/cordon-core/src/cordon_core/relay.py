"""The outbox relay: publishes committed events from the store to Kafka, none skipped.

Why not tail ``global_position``: identity values are taken at insert time but become
visible at commit, so a reader that remembers "the highest position I have seen" skips
any row whose transaction commits after a later position's. Instead the relay reads in
``(tx_id, global_position)`` order and only rows whose transaction id is below the
oldest transaction still running (``pg_snapshot_xmin``): every such transaction has
finished, so no row can still appear behind the relay's position.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer

from cordon_core.cloudevents import encode_headers
from cordon_core.migrations import checked_identifier
from cordon_core.observability import RELAY_BATCH_SECONDS, RELAY_POSITION, RELAY_PUBLISHED

log = structlog.get_logger(__name__)

TopicRouter = Callable[[str], str | None]
"""Maps an event type to the topic it is published on; None keeps it private (unpublished)."""


@dataclass(frozen=True, slots=True)
class RelayPosition:
    tx_id: int
    global_position: int


class OutboxRelay:
    """Publishes one schema's events to Kafka in commit-safe order, at least once.

    Only one relay per schema and name runs at a time (a PostgreSQL advisory lock held
    for the relay's life); a second replica waits as a hot standby.
    """

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        schema: str,
        producer: AIOKafkaProducer,
        route: TopicRouter,
        source: str,
        name: str = "kafka",
        batch_size: int = 1000,
        poll_interval: float = 0.02,
    ) -> None:
        self.pool = pool
        self.schema = checked_identifier(schema)
        self.producer = producer
        self.route = route
        self.source = source
        self.name = name
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.published_total = 0
        self._label = f"{schema}.{name}"
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        """Run until ``stop()``; takes leadership first, then publishes batch after batch."""
        lock_key = zlib.crc32(f"cordon-relay:{self.schema}:{self.name}".encode())
        async with self.pool.acquire() as leader:
            while not await leader.fetchval("SELECT pg_try_advisory_lock($1)", lock_key):
                if await self._sleep(1.0):
                    return
            log.info("relay_leading", relay=self._label)
            try:
                position = await self.load_position(leader)
                while not self._stopping.is_set():
                    published, position = await self.publish_batch(leader, position)
                    if published < self.batch_size and await self._sleep(self.poll_interval):
                        return
            finally:
                await leader.execute("SELECT pg_advisory_unlock($1)", lock_key)

    def stop(self) -> None:
        self._stopping.set()

    async def _sleep(self, seconds: float) -> bool:
        """Sleep unless stopped; True when the relay should stop."""
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            return False
        return True

    async def load_position(self, conn: asyncpg.Connection) -> RelayPosition:
        await conn.execute(
            f"INSERT INTO {self.schema}.relay_positions (relay_name) VALUES ($1)"
            " ON CONFLICT DO NOTHING",
            self.name,
        )
        row = await conn.fetchrow(
            f"SELECT tx_id::text::bigint AS tx_id, global_position"
            f" FROM {self.schema}.relay_positions WHERE relay_name = $1",
            self.name,
        )
        assert row is not None
        return RelayPosition(row["tx_id"], row["global_position"])

    async def publish_batch(
        self, conn: asyncpg.Connection, position: RelayPosition
    ) -> tuple[int, RelayPosition]:
        """Publish the next batch after ``position``; returns (count, new position).

        The position is recorded only after Kafka acknowledged every event of the batch,
        so a crash in between republishes (consumers deduplicate by event id).
        """
        rows = await conn.fetch(
            f"""SELECT tx_id::text::bigint AS tx, global_position, event_id, stream_id,
                       stream_version, partition_key, event_type, schema_version,
                       payload::text AS payload, occurred_at, recorded_at, correlation_id,
                       causation_id, actor, district, community
                FROM {self.schema}.events
                WHERE (tx_id, global_position) > ($1::text::xid8, $2)
                  AND tx_id < pg_snapshot_xmin(pg_current_snapshot())
                ORDER BY tx_id, global_position
                LIMIT $3""",
            str(position.tx_id),
            position.global_position,
            self.batch_size,
        )
        if not rows:
            return 0, position
        started = time.perf_counter()
        futures = []
        for row in rows:
            topic = self.route(row["event_type"])
            if topic is None:
                continue
            headers = encode_headers(
                event_id=row["event_id"],
                event_type=row["event_type"],
                schema_version=row["schema_version"],
                source=self.source,
                occurred_at=row["occurred_at"],
                recorded_at=row["recorded_at"],
                stream_id=row["stream_id"],
                stream_version=row["stream_version"],
                partition_key=row["partition_key"],
                correlation_id=row["correlation_id"],
                causation_id=row["causation_id"],
                actor=row["actor"],
                district=row["district"],
                community=row["community"],
            )
            futures.append(
                await self.producer.send(
                    topic,
                    value=row["payload"].encode(),
                    key=row["partition_key"].encode(),
                    headers=headers,
                )
            )
        await asyncio.gather(*futures)
        last = rows[-1]
        new_position = RelayPosition(last["tx"], last["global_position"])
        await conn.execute(
            f"""UPDATE {self.schema}.relay_positions
                SET tx_id = $2::text::xid8, global_position = $3,
                    published = published + $4, updated_at = now()
                WHERE relay_name = $1""",
            self.name,
            str(new_position.tx_id),
            new_position.global_position,
            len(rows),
        )
        self.published_total += len(rows)
        RELAY_PUBLISHED.labels(self._label).inc(len(rows))
        RELAY_POSITION.labels(self._label).set(new_position.global_position)
        RELAY_BATCH_SECONDS.labels(self._label).observe(time.perf_counter() - started)
        log.debug(
            "relay_published",
            relay=self._label,
            count=len(rows),
            global_position=new_position.global_position,
        )
        return len(rows), new_position
