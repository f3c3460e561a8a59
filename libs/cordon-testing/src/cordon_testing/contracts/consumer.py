"""Consumer runtime contract: inbox dedup, offsets after effects, dead letters, lag."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer

from cordon_core.consumer import report_lag
from cordon_core.envelope import Envelope, PendingEvent
from cordon_core.kafka import make_producer, topic_partitions
from cordon_core.runtime import ServiceRuntime, Subscription
from cordon_core.settings import ServiceSettings
from cordon_testing.kafka import header, read_topic
from cordon_testing.sample import (
    TOTALS_MIGRATION,
    CounterBumped,
    CounterTotals,
    bumps,
    meta,
    registry,
)
from cordon_testing.waiting import wait_until


class HoldingTotals(CounterTotals):
    """Totals that stop at an event noted "hold" until released."""

    def __init__(self, schema: str) -> None:
        super().__init__(schema)
        self.release = asyncio.Event()
        self.holding = asyncio.Event()

    async def apply_batch(self, conn: asyncpg.Connection, envelopes: Sequence[Envelope]) -> None:
        for envelope in envelopes:
            if isinstance(envelope.payload, CounterBumped) and envelope.payload.note == "hold":
                self.holding.set()
                await self.release.wait()
        await super().apply_batch(conn, envelopes)


class ConsumerContract:
    def runtime(
        self, settings: ServiceSettings, totals: CounterTotals | None = None
    ) -> ServiceRuntime:
        runtime = ServiceRuntime(
            service="contract", settings=settings, registry=registry, migrations=[TOTALS_MIGRATION]
        )
        if totals is not None:
            runtime.subscribe(Subscription("totals", [runtime.events_topic], totals))
        return runtime

    @pytest.fixture
    async def totals(self) -> CounterTotals:
        return CounterTotals("contract")

    @pytest.fixture
    async def running(
        self, settings: ServiceSettings, totals: CounterTotals
    ) -> AsyncIterator[ServiceRuntime]:
        async with self.runtime(settings, totals).running() as runtime:
            yield runtime

    async def settled(
        self, runtime: ServiceRuntime, totals: CounterTotals, expected: dict[str, tuple[int, int]]
    ) -> None:
        await wait_until(
            lambda: totals.totals(runtime.pool),
            until=lambda t: t == expected,
            timeout=60,
            what="totals to settle",
        )

    async def test_a_redelivered_event_has_no_second_effect(
        self, running: ServiceRuntime, totals: CounterTotals, settings: ServiceSettings
    ) -> None:
        await running.store.append("a", bumps(5, by=2), expected_version=0, metadata=meta())
        await running.store.append("b", bumps(3), expected_version=0, metadata=meta())
        await self.settled(running, totals, {"a": (10, 5), "b": (3, 3)})

        # Deliver every record a second time, as a relay restarted after publishing but
        # before recording its position would.
        records = await read_topic(settings.kafka_bootstrap, running.events_topic, expect=8)
        producer = make_producer(settings)
        await producer.start()
        try:
            for r in records:
                await producer.send_and_wait(r.topic, r.value, key=r.key, headers=list(r.headers))
        finally:
            await producer.stop()
        await running.store.append("b", bumps(1), expected_version=3, metadata=meta())

        await self.settled(running, totals, {"a": (10, 5), "b": (4, 4)})
        applied = await running.pool.fetchval(
            "SELECT count(*) FROM contract.inbox WHERE consumer = 'totals'"
        )
        assert applied == 9

    async def test_a_poison_event_goes_to_the_dead_letter_topic_and_later_events_flow(
        self, running: ServiceRuntime, totals: CounterTotals, settings: ServiceSettings
    ) -> None:
        poison = PendingEvent(CounterBumped(by=100, note="poison"))
        await running.store.append(
            "a", [*bumps(2), poison, *bumps(2)], expected_version=0, metadata=meta()
        )
        await running.store.append("b", bumps(1), expected_version=0, metadata=meta())

        await self.settled(running, totals, {"a": (4, 4), "b": (1, 1)})
        [dead] = await read_topic(
            settings.kafka_bootstrap, running.topics.dead_letter("totals"), expect=1
        )
        assert header(dead, "ce_id") == str(poison.event_id)
        assert header(dead, "cordon_dlq_error_type") == "ValueError"
        assert "poisoned on purpose" in (header(dead, "cordon_dlq_error") or "")
        assert header(dead, "cordon_dlq_topic") == running.events_topic
        assert header(dead, "cordon_dlq_attempts") == str(settings.consumer_max_attempts)
        outcome = await running.pool.fetchval(
            "SELECT outcome FROM contract.inbox WHERE event_id = $1", poison.event_id
        )
        assert outcome == "dead_lettered"

    async def test_offsets_are_committed_only_after_the_effect_is_stored(
        self, settings: ServiceSettings
    ) -> None:
        holding = HoldingTotals("contract")
        async with self.runtime(settings, holding).running() as runtime:
            await runtime.store.append(
                "a",
                [PendingEvent(CounterBumped(by=1, note="hold"))],
                expected_version=0,
                metadata=meta(),
                partition_key="k",
            )
            await asyncio.wait_for(holding.holding.wait(), 60)
            committed_while_held = await self.committed(settings, runtime.events_topic)

            holding.release.set()
            await self.settled(runtime, holding, {"a": (1, 1)})
            committed_after = await wait_until(
                lambda: self.committed(settings, runtime.events_topic),
                until=lambda c: sum(c.values()) == 1,
                what="offset commit",
            )

        assert sum(committed_while_held.values()) == 0
        assert sum(committed_after.values()) == 1

    async def committed(self, settings: ServiceSettings, topic: str) -> dict[int, int]:
        probe = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap, group_id="totals", enable_auto_commit=False
        )
        await probe.start()
        try:
            return {
                tp.partition: (await probe.committed(tp)) or 0
                for tp in await topic_partitions(probe, [topic])
            }
        finally:
            await probe.stop()

    async def test_consumer_lag_is_reported_per_partition(
        self, running: ServiceRuntime, totals: CounterTotals
    ) -> None:
        await running.store.append("a", bumps(30), expected_version=0, metadata=meta())
        await self.settled(running, totals, {"a": (30, 30)})
        [consumer] = running.consumers
        kafka_consumer = consumer.kafka_subscriber.consumer

        lags = await wait_until(
            lambda: report_lag("totals", kafka_consumer),
            until=lambda lags: bool(lags) and set(lags.values()) == {0},
            what="lag figures",
        )

        assert {tp.topic for tp in lags} == {running.events_topic}
