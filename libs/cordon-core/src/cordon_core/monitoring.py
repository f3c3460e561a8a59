"""The figures an operator alerts on, measured from outside the tasks they describe: each
consumer group's lag from Kafka's end offsets and the group's committed offsets (so a
stalled or dead consumer shows its true lag, not its last one), and the relay's backlog
from the store and the saved position."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from cordon_core.kafka import topic_partitions
from cordon_core.observability import CONSUMER_LAG
from cordon_core.outage import OUTAGE_ERRORS
from cordon_core.relay import OutboxRelay
from cordon_core.settings import ServiceSettings


class LagProbe:
    """Reads end offsets and committed offsets with clients of its own (no group)."""

    def __init__(self, settings: ServiceSettings, groups: Mapping[str, Sequence[str]]) -> None:
        self.settings = settings
        self.groups = groups
        """Consumer group name -> the topics it reads."""
        self._admin: AIOKafkaAdminClient | None = None
        self._offsets: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        timeout = self.settings.kafka_request_timeout_ms
        self._admin = AIOKafkaAdminClient(
            bootstrap_servers=self.settings.kafka_bootstrap, request_timeout_ms=timeout
        )
        self._offsets = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            enable_auto_commit=False,
            request_timeout_ms=timeout,
        )
        await self._admin.start()
        await self._offsets.start()

    async def stop(self) -> None:
        if self._offsets is not None:
            await self._offsets.stop()
        if self._admin is not None:
            await self._admin.close()

    async def measure(self) -> dict[str, dict[TopicPartition, int]]:
        """Each group's lag per partition (a partition never committed counts from 0)."""
        assert self._admin is not None and self._offsets is not None, "probe not started"
        lags: dict[str, dict[TopicPartition, int]] = {}
        for group, topics in self.groups.items():
            partitions = await topic_partitions(self._offsets, topics)
            if not partitions:
                continue
            ends = await self._offsets.end_offsets(partitions)
            committed = await self._admin.list_consumer_group_offsets(group, partitions=partitions)
            lags[group] = {}
            for tp in partitions:
                done = committed.get(tp)
                offset = done.offset if done is not None and done.offset >= 0 else 0
                lag = max(ends.get(tp, 0) - offset, 0)
                lags[group][tp] = lag
                CONSUMER_LAG.labels(group, tp.topic, str(tp.partition)).set(lag)
        return lags


async def watch_backlog(settings: ServiceSettings, relay: OutboxRelay) -> None:
    """Refresh the relay's backlog gauges every ``lag_report_interval_s`` (a supervised
    task; a round that meets an outage is skipped, the gauges keep their last value)."""
    while True:
        with contextlib.suppress(*OUTAGE_ERRORS):
            await asyncio.wait_for(relay.backlog(), settings.readiness_timeout_s * 2)
        await asyncio.sleep(settings.lag_report_interval_s)


async def watch_lag(settings: ServiceSettings, groups: Mapping[str, Sequence[str]]) -> None:
    """Refresh the consumer lag gauges every ``lag_report_interval_s``, with clients of its
    own; a separate task from the backlog's, so that neither outage freezes the other."""
    probe = LagProbe(settings, groups)
    try:
        await probe.start()
        while True:
            with contextlib.suppress(*OUTAGE_ERRORS):
                await asyncio.wait_for(probe.measure(), settings.lag_report_interval_s * 4)
            await asyncio.sleep(settings.lag_report_interval_s)
    finally:
        await probe.stop()
