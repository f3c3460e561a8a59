"""Reading what actually reached a Kafka topic, as an outside consumer would."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

from cordon_core.kafka import topic_partitions


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    expect: int | None = None,
    timeout: float = 30.0,
    idle: float = 1.0,
) -> list[ConsumerRecord[Any, Any]]:
    """Every record on ``topic`` from the beginning: until ``expect`` records arrived,
    or (without ``expect``) until nothing new came for ``idle`` seconds; never longer
    than ``timeout``. Does not trust ``end_offsets``, which some brokers get wrong."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    await asyncio.sleep(0)  # let aiokafka's no-group coordinator task start (see projection.py)
    try:
        partitions = await topic_partitions(consumer, [topic])
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[ConsumerRecord[Any, Any]] = []
        deadline = time.monotonic() + timeout
        last_new = time.monotonic()
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=5000)
            for part in batch.values():
                records.extend(part)
                last_new = time.monotonic()
            if expect is not None and len(records) >= expect:
                break
            if expect is None and time.monotonic() - last_new > idle:
                break
        return records
    finally:
        await consumer.stop()


def header(record: ConsumerRecord[Any, Any], name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return bytes(value).decode()
    return None


async def partitions_per_member(admin: AIOKafkaAdminClient, group: str) -> list[int] | None:
    """How many partitions each member of ``group`` holds now, smallest first; None while
    the group is not stable (rebalancing, or no member yet)."""
    (response,) = await admin.describe_consumer_groups([group])
    (described,) = response.groups
    if described[2] != "Stable":
        return None
    return sorted(
        sum(len(p) for _, p in ConsumerProtocolMemberAssignment.decode(m[-1]).assignment)
        for m in described[-1]
    )
