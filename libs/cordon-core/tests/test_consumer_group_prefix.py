"""Consumer groups of two deployments on one Kafka cluster: a group id is global in a
cluster, so two districts sharing one (each under its own topic prefix) must not share a
group and its rebalances. With ``consumer_group_prefix`` each deployment's consumers join
groups of their own, and each reads its own records."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from cordon_core.consumer import MalformedRecord
from cordon_core.envelope import EventRegistry
from cordon_core.runtime import ServiceRuntime, Subscription
from cordon_core.settings import ServiceSettings
from cordon_testing.waiting import wait_until


class Bytes:
    """Reads a record as its value."""

    def decode(self, record: Any) -> bytes:
        if record.value is None:
            raise MalformedRecord("empty")
        value: bytes = record.value
        return value

    def identity(self, item: bytes) -> Any:
        import uuid

        return uuid.uuid5(uuid.NAMESPACE_OID, item.decode())

    def log_context(self, item: bytes) -> dict[str, str]:
        return {}


class Seen:
    def __init__(self) -> None:
        self.values: list[bytes] = []

    async def apply_batch(self, conn: asyncpg.Connection, items: Sequence[bytes]) -> None:
        self.values.extend(items)


async def test_each_deployment_joins_consumer_groups_of_its_own(settings: ServiceSettings) -> None:
    topic = f"{settings.topic_prefix}.shared.records"
    runtimes, seen = [], []
    for district in ("district-03.", "district-07."):
        s = settings.model_copy(update={"consumer_group_prefix": district})
        runtime = ServiceRuntime(
            service="grouptest", settings=s, registry=EventRegistry(), relay=False,
            schema=f"grouptest_{district[9:11]}",
        )  # fmt: skip
        reader = Seen()
        runtime.subscribe(Subscription("grouptest-reader", [topic], reader, codec=Bytes()))
        runtimes.append(runtime)
        seen.append(reader)
    for runtime in runtimes:
        await runtime.start()
    try:
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"one record", key=b"k")
        finally:
            await producer.stop()

        async def both_read_it() -> bool:
            return all(reader.values == [b"one record"] for reader in seen)

        await wait_until(both_read_it, timeout=60, what="each deployment read the record")
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        await admin.start()
        try:
            groups = {g[0] for g in await admin.list_consumer_groups()}
        finally:
            await admin.close()
        assert {"district-03.grouptest-reader", "district-07.grouptest-reader"} <= groups
        assert runtimes[0].group_id("grouptest-reader") == "district-03.grouptest-reader"
    finally:
        await asyncio.gather(*(runtime.stop() for runtime in runtimes))
