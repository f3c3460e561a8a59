"""Wires one service's infrastructure: pool, migrations, store, relay, consumers, broker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer, ConsumerRecord
from aiokafka.errors import KafkaError
from faststream import AckPolicy, StreamMessage
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from cordon_core.consumer import (
    BatchHandler,
    CloudEventCodec,
    EventConsumer,
    RecordCodec,
    RetryPolicy,
)
from cordon_core.envelope import EventRegistry
from cordon_core.kafka import Topics, ensure_topics, make_producer
from cordon_core.migrations import Migration, apply_migrations, core_migrations
from cordon_core.monitoring import watch_backlog, watch_lag
from cordon_core.relay import OutboxRelay
from cordon_core.settings import ServiceSettings, server_settings
from cordon_core.store import PostgresEventStore
from cordon_core.supervision import TaskSupervisor

log = structlog.get_logger(__name__)


class KafkaUnavailable(KafkaError):  # type: ignore[misc]  # aiokafka is untyped
    """The broker did not answer in time (an outage: 503 over HTTP)."""


@dataclass(frozen=True)
class Subscription:
    """A consumer group: Cordon events by default, or any records with their own codec."""

    name: str
    topics: Sequence[str]
    handler: BatchHandler[Any]
    event_types: Iterable[str] | None = None
    lock_key: int | None = None
    codec: RecordCodec[Any] | None = None
    """How to read the records; None: Cordon CloudEvents of ``event_types``."""


async def _raw_records_only(_message: Any) -> None:
    return None


RecordBatch = tuple[ConsumerRecord[Any, Any], ...]


async def _parse_batch_lean(
    records: RecordBatch,
    original: Callable[[RecordBatch], Awaitable[StreamMessage[RecordBatch]]],
) -> StreamMessage[RecordBatch]:
    # FastStream's batch parser decodes every record's headers into a dict that nothing here
    # reads (6% of a catch-up's time, measured). It parses the first record only; the
    # message then carries the whole batch, which is all that the handler and the
    # acknowledgement (commit, or seek back to each partition's earliest record) use.
    message = await original(records[:1])
    message.raw_message = records
    return message


async def _keep_session(_conn: asyncpg.Connection) -> None:
    return None


class ServiceRuntime:
    """Everything a Cordon service needs at run time, started and stopped as one.

    A service declares what it consumes with ``subscribe`` before ``start``; after
    ``start`` its ``store`` appends events that the relay publishes to its topic.
    """

    def __init__(
        self,
        *,
        service: str,
        settings: ServiceSettings,
        registry: EventRegistry,
        migrations: Sequence[Migration] = (),
        schema: str | None = None,
        relay: bool = True,
        private_event_types: Iterable[str] = (),
    ) -> None:
        self.service = service
        self.settings = settings
        self.registry = registry
        self.schema = schema or service
        self.migrations = [*core_migrations(), *migrations]
        self.topics = Topics(settings.topic_prefix)
        self.events_topic = self.topics.events(service)
        self.with_relay = relay
        self.private_event_types = frozenset(private_event_types)
        """Event types kept in the store but never published (e.g. personal data)."""
        self.subscriptions: list[Subscription] = []
        self.consumers: list[EventConsumer[Any]] = []
        self._pool: asyncpg.Pool | None = None
        self._producer: AIOKafkaProducer | None = None
        self.store = PostgresEventStore(None, self.schema, registry, source=f"/cordon/{service}")
        """The service's event store; usable once the runtime has started."""
        self.relay: OutboxRelay | None = None
        self.broker: KafkaBroker | None = None
        self.supervisor = TaskSupervisor(service)
        """Runs the background tasks (the relay, the monitor, a service's own workers)."""
        self.ready = False
        """Started and not stopping; whether it can serve is ``readiness()``."""

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None, "runtime not started"
        return self._pool

    @property
    def producer(self) -> AIOKafkaProducer:
        assert self._producer is not None, "runtime not started"
        return self._producer

    def topic_for(self, event_type: str) -> str | None:
        return None if event_type in self.private_event_types else self.events_topic

    def subscribe(self, subscription: Subscription) -> None:
        self.subscriptions.append(subscription)

    async def start(self) -> None:
        s = self.settings
        self._pool = await asyncpg.create_pool(
            s.database_url,
            min_size=1,
            max_size=s.database_pool_size,
            server_settings=server_settings(s),
            # asyncpg's default reset costs a round trip on every release. Nothing leaves
            # session state on a pooled connection: the relay and a rebuild unlock their
            # session advisory locks in `finally`, and LISTEN uses connections of its own.
            reset=_keep_session,
        )
        async with self._pool.acquire() as conn:
            await apply_migrations(conn, self.schema, self.migrations)
        self.store.pool = self._pool
        dead_letters = [self.topics.dead_letter(sub.name) for sub in self.subscriptions]
        consumed = [t for sub in self.subscriptions for t in sub.topics]
        await ensure_topics(s, [self.events_topic, *consumed])
        await ensure_topics(s, dead_letters, partitions=1)
        self._producer = make_producer(s)
        await self._producer.start()
        if self.with_relay:
            self.relay = OutboxRelay(
                pool=self._pool,
                schema=self.schema,
                producer=self._producer,
                route=self.topic_for,
                source=f"/cordon/{self.service}",
                batch_size=s.relay_batch_size,
                save_every=s.relay_save_every,
                poll_interval=s.relay_poll_interval_ms / 1000,
            )
            self.supervisor.start("relay", self.relay.run)
        if self.subscriptions:
            await self._start_consumers()
        if self.relay is not None:
            relay = self.relay
            self.supervisor.start("backlog", lambda: watch_backlog(s, relay))
        if self.subscriptions:
            groups = {self.group_id(sub.name): list(sub.topics) for sub in self.subscriptions}
            self.supervisor.start("lag", lambda: watch_lag(s, groups))
        self.ready = True
        log.info("service_started", service=self.service, schema=self.schema)

    async def _start_consumers(self) -> None:
        s = self.settings
        self.broker = KafkaBroker(
            # a list: FastStream hands a string to aiokafka as a single host, so the
            # brokers of a cluster ("a:1,b:2") must be split here
            s.kafka_bootstrap.split(","),
            acks="all",
            enable_idempotence=s.kafka_idempotence,
            log_level=logging.DEBUG,
            client_id=f"cordon-{self.service}",
        )
        retry = RetryPolicy(
            s.consumer_max_attempts,
            s.consumer_retry_backoff_ms / 1000,
            s.consumer_retry_backoff_max_ms / 1000,
        )
        for sub in self.subscriptions:
            consumer: EventConsumer[Any] = EventConsumer(
                name=sub.name,
                topics=sub.topics,
                codec=sub.codec or CloudEventCodec(self.registry, sub.event_types),
                handler=sub.handler,
                pool=self.pool,
                schema=self.schema,
                producer=self.producer,
                dead_letter_topic=self.topics.dead_letter(sub.name),
                retry=retry,
                lock_key=sub.lock_key,
            )
            self.consumers.append(consumer)
            self._attach(consumer)
        await self.broker.start()

    def group_id(self, consumer: str) -> str:
        """The Kafka consumer group of ``consumer`` in this deployment."""
        return f"{self.settings.consumer_group_prefix}{consumer}"

    def _attach(self, consumer: EventConsumer[Any]) -> None:
        assert self.broker is not None
        s = self.settings
        subscriber = self.broker.subscriber(
            *consumer.topics,
            group_id=self.group_id(consumer.name),
            batch=True,
            max_records=s.consumer_batch_size,
            batch_timeout_ms=50,
            auto_offset_reset="earliest",
            # Offsets are committed only after the handler returned, which is after the
            # effects and inbox rows committed; an escaping error rewinds the partition.
            ack_policy=AckPolicy.NACK_ON_ERROR,
            session_timeout_ms=s.consumer_session_timeout_ms,
            heartbeat_interval_ms=max(s.consumer_session_timeout_ms // 4, 500),
            # The codec reads the raw records; FastStream's own decoding of every body (JSON
            # and a message object per record) would be wasted work on the hot path.
            parser=_parse_batch_lean,
            decoder=_raw_records_only,
        )

        @subscriber
        async def on_batch(message: KafkaMessage) -> None:
            records = message.raw_message
            await consumer.handle_records(records if isinstance(records, tuple) else (records,))

        consumer.kafka_subscriber = subscriber

    def supervise(self, name: str, run: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
        """Run one of the service's own background tasks (a timer, a sender) under the
        runtime's supervisor: restarted after a failure, covered by liveness, cancelled
        when the runtime stops."""
        return self.supervisor.start(name, run)

    @property
    def dead_tasks(self) -> dict[str, str]:
        """Background tasks that gave up for good, with their last error."""
        return dict(self.supervisor.dead)

    async def require_kafka(self) -> None:
        """Fail fast (``KafkaUnavailable``, answered 503) when the broker does not answer
        within ``readiness_timeout_s``: for a request that would read Kafka, so that a paused
        broker gives the caller a quick 503 rather than a timeout it cannot tell apart."""
        try:
            await asyncio.wait_for(
                self.producer.client.fetch_all_metadata(), self.settings.readiness_timeout_s
            )
        except (TimeoutError, KafkaError) as error:
            raise KafkaUnavailable(f"Kafka does not answer: {error!r}") from error

    async def readiness(self) -> dict[str, str]:
        """``ok`` or the reason, for PostgreSQL and for Kafka, each asked afresh."""
        timeout = self.settings.readiness_timeout_s
        if self._pool is None or self._producer is None:
            return {"postgres": "not started", "kafka": "not started"}
        pool, producer = self._pool, self._producer

        async def postgres() -> None:
            async with pool.acquire(timeout=timeout) as conn:
                await conn.fetchval("SELECT 1", timeout=timeout)

        async def kafka() -> None:
            await producer.client.fetch_all_metadata()

        async def check(probe: Callable[[], Awaitable[None]]) -> str:
            try:
                await asyncio.wait_for(probe(), timeout)
            except TimeoutError:
                return f"no answer within {timeout:g} s"
            except Exception as error:
                return f"unreachable: {error!r}"[:300]
            return "ok"

        pg, kf = await asyncio.gather(check(postgres), check(kafka))
        return {"postgres": pg, "kafka": kf}

    async def stop(self) -> None:
        self.ready = False
        if self.broker is not None:
            await self.broker.stop()
        if self.relay is not None:
            self.relay.stop()  # lets the batch under way finish and record its position
            relay_task = next(
                (t for t in self.supervisor.tasks if t.get_name().endswith("-relay")), None
            )
            if relay_task is not None:
                await asyncio.wait([relay_task], timeout=10)
        await self.supervisor.stop()
        if self._producer is not None:
            await self._producer.stop()
        if self._pool is not None:
            await self._pool.close()
        log.info("service_stopped", service=self.service)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ServiceRuntime]:
        await self.start()
        try:
            yield self
        finally:
            await self.stop()
