"""Kafka clients with the settings Cordon relies on, and idempotent topic provisioning."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from cordon_core.settings import ServiceSettings

log = structlog.get_logger(__name__)


def producer_config(settings: ServiceSettings) -> dict[str, object]:
    """Safe producer settings: every write acknowledged by all in-sync replicas, and
    idempotence so a retried produce is never written twice nor reordered."""
    return {
        "bootstrap_servers": settings.kafka_bootstrap,
        "acks": "all",
        "enable_idempotence": settings.kafka_idempotence,
        "linger_ms": 5,
        "max_batch_size": 512 * 1024,
        # A paused or restarting broker delays acknowledgements; the relay waits for them
        # rather than failing the batch and publishing it again.
        "request_timeout_ms": settings.kafka_request_timeout_ms,
    }


def make_producer(settings: ServiceSettings, **overrides: object) -> AIOKafkaProducer:
    return AIOKafkaProducer(**{**producer_config(settings), **overrides})


class Topics:
    """Topic names for one deployment, under ``settings.topic_prefix``.

    Each service publishes all its events to ``<prefix>.<service>.events``, keyed by
    the aggregate's partition key so one aggregate's events stay in order.
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def events(self, service: str) -> str:
        return f"{self.prefix}.{service}.events"

    def dead_letter(self, consumer: str) -> str:
        return f"{self.prefix}.dlq.{consumer}"


EVENTS_RETENTION = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}
"""Event topics are kept forever: projections rebuild and replay from the full log, and
compaction would keep only the last event of each key."""
SCANS_RETENTION = {"retention.ms": str(48 * 3600 * 1000)}
DEAD_LETTER_RETENTION = {"retention.ms": str(30 * 24 * 3600 * 1000)}


def topic_config(name: str) -> dict[str, str]:
    """Retention by kind of topic, the same as deploy/kafka/topics.yaml provisions, so a topic
    a service creates on a bare broker is not cut at the broker's default 7 days."""
    if name.endswith(".events"):
        return EVENTS_RETENTION
    if name.endswith(".scans"):
        return SCANS_RETENTION
    if ".dlq." in name:
        return DEAD_LETTER_RETENTION
    return {}


async def ensure_topics(
    settings: ServiceSettings, names: Iterable[str], *, partitions: int | None = None
) -> None:
    """Create the topics that do not exist yet (with ``topic_config``); existing ones are
    left as they are: ``cordon-topics apply`` aligns them."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                name,
                num_partitions=partitions or settings.topic_partitions,
                replication_factor=settings.topic_replication,
                topic_configs=topic_config(name),
            )
            for name in dict.fromkeys(names)
            if name not in existing
        ]
        if not wanted:
            return
        # Another process may create one between our list and create.
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics(wanted)
        log.info("topics_created", topics=[t.name for t in wanted])
    finally:
        await admin.close()


async def topic_partitions(
    consumer: AIOKafkaConsumer, topics: Iterable[str]
) -> list[TopicPartition]:
    """Every partition of ``topics``, fetched fresh from the cluster.

    ``partitions_for_topic`` only reads the consumer's metadata cache, which holds just the
    topics it subscribes to; a group-less reader that assigns partitions itself must ask.
    """
    cluster = await consumer._client.fetch_all_metadata()
    return [
        TopicPartition(t, p) for t in topics for p in sorted(cluster.partitions_for_topic(t) or ())
    ]
