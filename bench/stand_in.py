"""A registry stand-in for the benchmarks of a service that must know residents first (the
gate's passes, isolation's orders): residents published as the registry publishes them,
and a poll until a condition holds. A script imports it as ``stand_in``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

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
