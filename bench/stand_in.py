"""What the list benchmarks share (the gate's passes, isolation's orders): a registry
stand-in that publishes residents as the registry does, a poll until a condition holds, and
the two ways of sending (one request each, or lists) timed as phases. A script imports it
as ``stand_in``."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from harness import QUIET_CORES, CpuMeter, HttpConnection, say

from cordon_contracts import registry
from cordon_core.envelope import EventMetadata, PendingEvent
from cordon_core.runtime import ServiceRuntime
from cordon_core.settings import ServiceSettings
from cordon_core.store import StreamAppend


async def wait_for(probe: Callable[[], Awaitable[Any]], what: str, timeout: float = 300.0) -> None:
    """Poll ``probe`` every 0.2 s until it is true; RuntimeError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not await probe():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def publish_residents(
    settings: ServiceSettings,
    people: Sequence[str],
    *,
    community: str,
    per_household: int,
    residence_type: registry.ResidenceType = "owner",
) -> None:
    """``people`` registered in ``community``, ``per_household`` to a household, published
    on the registry's topic by a registry runtime of the bench's own; returns once its
    relay has published them all."""
    async with ServiceRuntime(
        service="registry", settings=settings, registry=registry.registry
    ).running() as runtime:
        meta = EventMetadata.new(actor="bench", district=settings.district, community=community)
        appends = []
        for start in range(0, len(people), per_household):
            household = f"{community}-h{start}"
            events = [
                PendingEvent(
                    registry.ResidentRegistered(
                        person_id=person, household_id=household, building_id="b1",
                        compound_id=f"{community}-k1", grid_id="g1", community_id=community,
                        sub_district_id="s1", residence_type=residence_type,
                        registered_at=datetime.now(UTC),
                    )
                )
                for person in people[start : start + per_household]
            ]  # fmt: skip
            appends.append(StreamAppend(f"household:{household}", events, None, meta))
        for first in range(0, len(appends), 500):
            await runtime.store.append_many(appends[first : first + 500])
        await wait_for(
            lambda: runtime.pool.fetchval(
                "SELECT coalesce(min(global_position), 0) >= (SELECT max(global_position)"
                " FROM registry.events) FROM registry.relay_positions"
            ),
            "the registry stand-in to publish the residents",
        )


# ------------------------------------------------ one request each, or one list a request


async def one_request_each(
    url: str, token: str, path: str, rows: Sequence[dict[str, Any]], clients: int
) -> list[int]:
    """POST each row on its own, ``clients`` keep-alive connections at once; the statuses."""
    host, port = "127.0.0.1", int(url.rsplit(":", 1)[1])
    statuses: list[int] = []
    queue = iter(rows)

    async def client() -> None:
        conn = await HttpConnection(host, port).open()
        try:
            for row in queue:
                status, _ = await conn.post(path, token, json.dumps(row).encode())
                statuses.append(status)
        finally:
            conn.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return statuses


async def in_lists(
    url: str, token: str, path: str, key: str, rows: Sequence[dict[str, Any]], size: int
) -> list[int]:
    """POST the rows as ``{key: [...]}`` lists of ``size``, one after another; the statuses."""
    host, port = "127.0.0.1", int(url.rsplit(":", 1)[1])
    conn = await HttpConnection(host, port).open()
    statuses = []
    try:
        for first in range(0, len(rows), size):
            body = json.dumps({key: list(rows[first : first + size])}).encode()
            status, _ = await conn.post(path, token, body)
            statuses.append(status)
    finally:
        conn.close()
    return statuses


class Phase:
    """One way of sending (one request each, or lists), timed over the rounds it ran in:
    its seconds, answers, and the cores each party used, weighted by each round's length."""

    def __init__(self, name: str, unit: str, service: str) -> None:
        self.name, self.unit, self.service = name, unit, service
        self.seconds = 0.0
        self.statuses: list[int] = []
        self.core_seconds: dict[str, float] = {}

    async def run(
        self, meter: CpuMeter, quiet_wait: float, send: Callable[[], Awaitable[list[int]]]
    ) -> None:
        await meter.settle(quiet_wait)
        with meter:
            started = time.perf_counter()
            self.statuses += await send()
            took = time.perf_counter() - started
        self.seconds += took
        for party, cores in meter.cores(digits=None).items():
            if party != "wall_s" and cores is not None:
                self.core_seconds[party] = self.core_seconds.get(party, 0.0) + cores * took

    def report(self, count: int) -> dict[str, Any]:
        """Say and return the figures of ``count`` things sent (answered 201 each)."""
        rate = count / self.seconds
        cores = {k: round(v / self.seconds, 2) for k, v in self.core_seconds.items()}
        disturbed = cores.get("others", 0.0) >= QUIET_CORES
        say(
            f"  {self.name:<18} {count:>6} {self.unit} in {self.seconds:7.2f} s: {rate:8.1f}"
            f" {self.unit}/s ({self.service} {cores.get(self.service)} cores, servers"
            f" {cores.get('servers')}, others {cores.get('others')})"
            f"{' [disturbed]' if disturbed else ''}"
        )
        return {
            self.unit: count,
            "requests": len(self.statuses),
            "seconds": round(self.seconds, 3),
            f"{self.unit}_per_s": round(rate, 1),
            "refused": sum(1 for s in self.statuses if s != 201),
            "cores": cores,
            "disturbed": disturbed,
        }
