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
import contextlib
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer

from cordon_core.cloudevents import encode_headers
from cordon_core.migrations import checked_identifier
from cordon_core.observability import (
    RELAY_BACKLOG_AGE,
    RELAY_BACKLOG_EVENTS,
    RELAY_BATCH_SECONDS,
    RELAY_LAST_PUBLISH_AGE,
    RELAY_POSITION,
    RELAY_PUBLISHED,
)
from cordon_core.outage import POSTGRES_OUTAGE

log = structlog.get_logger(__name__)

TopicRouter = Callable[[str], str | None]
"""Maps an event type to the topic it is published on; None keeps it private (unpublished)."""


@dataclass(frozen=True, slots=True, order=True)
class RelayPosition:
    tx_id: int
    global_position: int


@dataclass(frozen=True, slots=True)
class Backlog:
    events: int
    """Committed events after the published position (counted up to ``BACKLOG_COUNT_LIMIT``)."""
    age_s: float
    """How long the oldest of them has waited; 0 when there is none."""


BACKLOG_COUNT_LIMIT = 1_000_000


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
        save_every: int = 100,
        poll_interval: float = 0.02,
    ) -> None:
        self.pool = pool
        self.schema = checked_identifier(schema)
        self.producer = producer
        self.route = route
        self.source = source
        self.name = name
        self.batch_size = batch_size
        self.save_every = save_every
        self.poll_interval = poll_interval
        self.published_total = 0
        self._label = f"{schema}.{name}"
        self._stopping = asyncio.Event()
        self._published: RelayPosition | None = None
        """The furthest position Kafka acknowledged in this process (saved or not)."""
        self.last_progress = time.monotonic()
        """When the relay last published a batch or found nothing left to publish."""
        RELAY_LAST_PUBLISH_AGE.labels(self._label).set_function(
            lambda: time.monotonic() - self.last_progress
        )

    async def run(self) -> None:
        """Run until ``stop()``: take leadership, load the position, publish batch after batch.

        Any error ends the run (the connection, and with it the leader lock, may be gone);
        the runtime's supervisor runs it again on a fresh connection, which takes the lock
        again and reloads the position, or keeps the one in memory if it is further on.
        """
        lock_key = zlib.crc32(f"cordon-relay:{self.schema}:{self.name}".encode())
        async with self.pool.acquire() as leader:
            while not await leader.fetchval("SELECT pg_try_advisory_lock($1)", lock_key):
                if await self._sleep(1.0):
                    return
            log.info("relay_leading", relay=self._label)
            try:
                position = await self._resume(leader)
                while not self._stopping.is_set():
                    published, position = await self.publish_batch(leader, position)
                    if published < self.batch_size and await self._sleep(self.poll_interval):
                        return
            finally:
                # On a broken connection the server has dropped the lock already (and asking
                # the connection anything may raise: released, closed, in a broken state).
                with contextlib.suppress(*POSTGRES_OUTAGE, OSError):
                    if not leader.is_closed():
                        await leader.execute("SELECT pg_advisory_unlock($1)", lock_key)

    async def _resume(self, conn: asyncpg.Connection) -> RelayPosition:
        """The stored position, or the one in memory when this process published further
        than it could record (PostgreSQL went away between the ack and the UPDATE): every
        event up to it was acknowledged by Kafka, so none of them is published again."""
        stored = await self.load_position(conn)
        published = self._published
        if published is None or published <= stored:
            return stored
        await self._save(conn, published, 0)
        log.info(
            "relay_position_kept",
            relay=self._label,
            stored=stored.global_position,
            global_position=published.global_position,
        )
        return published

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
            self.last_progress = time.monotonic()
            return 0, position
        started = time.perf_counter()
        sent: list[tuple[asyncio.Future[object] | None, asyncpg.Record]] = []
        for row in rows:
            topic = self.route(row["event_type"])
            if topic is None:
                sent.append((None, row))
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
            try:
                future = await self.producer.send(
                    topic,
                    value=row["payload"].encode(),
                    key=row["partition_key"].encode(),
                    headers=headers,
                )
            except Exception:
                await self._keep_acknowledged(conn, sent)
                raise
            sent.append((future, row))
        # Saved as each part of the batch is acknowledged, not once at its end: a crash of
        # the process then publishes again at most the part in flight.
        new_position = position
        for start in range(0, len(sent), self.save_every):
            part = sent[start : start + self.save_every]
            outcomes = await asyncio.gather(
                *(future for future, _ in part if future is not None), return_exceptions=True
            )
            failed = next((o for o in outcomes if isinstance(o, BaseException)), None)
            if failed is not None:
                await self._keep_acknowledged(conn, sent[start:])
                raise failed
            last = part[-1][1]
            new_position = RelayPosition(last["tx"], last["global_position"])
            self._published = new_position
            await self._save(conn, new_position, len(part))
            RELAY_PUBLISHED.labels(self._label).inc(len(part))
        self.last_progress = time.monotonic()
        self.published_total += len(rows)
        RELAY_BATCH_SECONDS.labels(self._label).observe(time.perf_counter() - started)
        log.debug(
            "relay_published",
            relay=self._label,
            count=len(rows),
            global_position=new_position.global_position,
        )
        return len(rows), new_position

    async def _keep_acknowledged(
        self,
        conn: asyncpg.Connection,
        sent: list[tuple[asyncio.Future[object] | None, asyncpg.Record]],
    ) -> None:
        """A batch failed part way (Kafka went away): record the events of ``sent`` (what
        is not saved yet) acknowledged before the first failure, so that only the rest
        are published again."""
        last: asyncpg.Record | None = None
        count = 0
        for future, row in sent:
            if future is not None and not (
                future.done() and not future.cancelled() and future.exception() is None
            ):
                break
            last, count = row, count + 1
        if last is None:
            return
        acknowledged = RelayPosition(last["tx"], last["global_position"])
        self._published = acknowledged
        RELAY_PUBLISHED.labels(self._label).inc(count)
        with contextlib.suppress(*POSTGRES_OUTAGE, OSError):
            await self._save(conn, acknowledged, count)
        log.warning(
            "relay_batch_interrupted",
            relay=self._label,
            acknowledged=count,
            of=len(sent),
            global_position=acknowledged.global_position,
        )

    async def _save(self, conn: asyncpg.Connection, position: RelayPosition, count: int) -> None:
        await conn.execute(
            f"""UPDATE {self.schema}.relay_positions
                SET tx_id = $2::text::xid8, global_position = $3,
                    published = published + $4, updated_at = now()
                WHERE relay_name = $1""",
            self.name,
            str(position.tx_id),
            position.global_position,
            count,
        )
        RELAY_POSITION.labels(self._label).set(position.global_position)

    async def backlog(self) -> Backlog:
        """What the relay has still to publish, measured from the saved position (so it is
        true even while the relay itself is down)."""
        row = await self.pool.fetchrow(
            f"""SELECT
                  (SELECT count(*) FROM (
                     SELECT 1 FROM {self.schema}.events e
                     WHERE (e.tx_id, e.global_position) > (p.tx_id, p.global_position)
                     LIMIT $2) AS waiting) AS events,
                  (SELECT extract(epoch FROM now() - e.recorded_at)
                     FROM {self.schema}.events e
                     WHERE (e.tx_id, e.global_position) > (p.tx_id, p.global_position)
                     ORDER BY e.tx_id, e.global_position LIMIT 1) AS age_s
                FROM {self.schema}.relay_positions p WHERE p.relay_name = $1""",
            self.name,
            BACKLOG_COUNT_LIMIT,
        )
        backlog = (
            Backlog(0, 0.0)
            if row is None
            else Backlog(int(row["events"]), max(float(row["age_s"] or 0), 0.0))
        )
        RELAY_BACKLOG_EVENTS.labels(self._label).set(backlog.events)
        RELAY_BACKLOG_AGE.labels(self._label).set(backlog.age_s)
        return backlog
