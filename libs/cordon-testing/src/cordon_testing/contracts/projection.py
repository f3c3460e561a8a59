"""Projection runtime contract: a rebuilt read model equals the incrementally built one."""

from __future__ import annotations

from cordon_core.projection import projection_subscription, rebuild
from cordon_core.runtime import ServiceRuntime
from cordon_core.settings import ServiceSettings
from cordon_testing.sample import TOTALS_MIGRATION, CounterTotals, bumps, meta, registry
from cordon_testing.waiting import wait_until


class ProjectionContract:
    async def test_rebuild_from_the_streams_equals_the_incremental_read_model(
        self, settings: ServiceSettings
    ) -> None:
        totals = CounterTotals("contract")
        runtime = ServiceRuntime(
            service="contract", settings=settings, registry=registry, migrations=[TOTALS_MIGRATION]
        )
        runtime.subscribe(projection_subscription(totals, [runtime.events_topic]))
        async with runtime.running():
            for i in range(40):
                await runtime.store.append(
                    f"s{i % 7}", bumps(5, by=i), expected_version=None, metadata=meta()
                )
            expected = {
                f"s{k}": (
                    sum(5 * i for i in range(40) if i % 7 == k),
                    5 * len([i for i in range(40) if i % 7 == k]),
                )
                for k in range(7)
            }
            incremental = await wait_until(
                lambda: totals.totals(runtime.pool),
                until=lambda t: t == expected,
                timeout=60,
                what="incremental read model",
            )
            await runtime.pool.execute("UPDATE contract.counter_totals SET total = -1")  # damage
            seen: list[tuple[int, int]] = []

            read = await rebuild(
                totals,
                topics=[runtime.events_topic],
                pool=runtime.pool,
                schema="contract",
                registry=registry,
                settings=settings,
                progress=lambda done, total: seen.append((done, total)),
            )

            assert await totals.totals(runtime.pool) == incremental
        assert read == 200
        assert seen[0] == (0, 200) and seen[-1] == (200, 200)

    async def test_rebuild_of_an_empty_topic_leaves_an_empty_read_model(
        self, settings: ServiceSettings
    ) -> None:
        totals = CounterTotals("contract")
        runtime = ServiceRuntime(
            service="contract",
            settings=settings,
            registry=registry,
            migrations=[TOTALS_MIGRATION],
            relay=False,
        )
        async with runtime.running():
            await runtime.pool.execute("INSERT INTO contract.counter_totals VALUES ('x', 1, 1)")
            read = await rebuild(
                totals,
                topics=[runtime.events_topic],
                pool=runtime.pool,
                schema="contract",
                registry=registry,
                settings=settings,
            )
            assert await totals.totals(runtime.pool) == {}
        assert read == 0
