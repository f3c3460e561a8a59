"""The isolation service's test harness: its process, a real gate process, a stand-in
registry publishing on the registry topic, and helpers to call them and read what they
recorded. Imported by conftest.py (the fixtures) and by the test modules (the helpers)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from cordon_contracts import gate as gate_contracts
from cordon_contracts import registry
from cordon_core.runtime import ServiceRuntime
from cordon_core.settings import ServiceSettings
from cordon_testing import ServiceProcess, wait_until
from cordon_testing.plugin import settings_env
from cordon_testing.upstream import Upstream

STAFF = "test-isolation-token"
LAB = "test-lab-token"
GATE_ADMIN = "test-gate-admin"
TIMEOUT = 60.0


@pytest.fixture(scope="module")
def isolation(
    module_settings: ServiceSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    env = {
        **settings_env(module_settings),
        "CORDON_ISOLATION_ADMIN_TOKEN": STAFF,
        "CORDON_LAB_TOKENS": f"district-hospital:{LAB}",
        "CORDON_TIMER_POLL_INTERVAL_MS": "200",
    }
    process = ServiceProcess("cordon_isolation", env, tmp_path_factory.mktemp("isolation"))
    yield process.start()
    process.stop()


@pytest.fixture(scope="module")
def gate(
    module_settings: ServiceSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    env = {**settings_env(module_settings), "CORDON_GATE_ADMIN_TOKEN": GATE_ADMIN}
    process = ServiceProcess("cordon_gate", env, tmp_path_factory.mktemp("gate"))
    yield process.start()
    process.stop()


@pytest.fixture(scope="module")
async def registry_service(module_settings: ServiceSettings) -> AsyncIterator[Upstream]:
    async with ServiceRuntime(
        service="registry", settings=module_settings, registry=registry.registry
    ).running() as runtime:
        yield Upstream(runtime)


@pytest.fixture(scope="module")
async def gate_stand_in(module_settings: ServiceSettings) -> AsyncIterator[Upstream]:
    """The gate's events published on the gate topic by its relay, without a gate process."""
    async with ServiceRuntime(
        service="gate", settings=module_settings, registry=gate_contracts.registry
    ).running() as runtime:
        yield Upstream(runtime)


async def call(
    service: ServiceProcess,
    token: str,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=service.url, timeout=30) as client:
        return await client.request(
            method, path, headers={"Authorization": f"Bearer {token}", **(headers or {})},
            **kwargs,
        )  # fmt: skip


async def known(isolation: ServiceProcess, person: str) -> dict[str, Any]:
    response = await call(isolation, STAFF, "GET", f"/v1/people/{person}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def order_level(isolation: ServiceProcess, person: str, level: str) -> dict[str, Any]:
    return await wait_until(
        lambda: known(isolation, person),
        until=lambda p: p["order"] is not None and p["order"]["level"] == level,
        timeout=TIMEOUT,
        what=f"{person} under {level} isolation",
    )


def new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


async def household(
    registry_service: Upstream, isolation: ServiceProcess, community: str, size: int
) -> list[str]:
    household_id = new_id("h")
    people = [new_id("p") for _ in range(size)]
    for person in people:
        await registry_service.publish(
            f"household:{household_id}",
            registry.ResidentRegistered(
                person_id=person, household_id=household_id, building_id="b1",
                compound_id=f"{community}-compound", grid_id="g1", community_id=community,
                sub_district_id="s1", residence_type="owner", registered_at=datetime.now(UTC),
            ),
        )  # fmt: skip
    for person in people:
        await wait_until(
            lambda person=person: known(isolation, person),  # type: ignore[misc]
            until=lambda p: p["resident"] is not None,
            timeout=TIMEOUT,
            what=f"the isolation service to know {person}'s household",
        )
    return people


async def isolation_events(settings: ServiceSettings, stream: str) -> list[tuple[str, Any]]:
    conn = await asyncpg.connect(settings.database_url)
    try:
        rows = await conn.fetch(
            "SELECT event_type, payload FROM isolation.events WHERE stream_id = $1"
            " ORDER BY stream_version",
            stream,
        )
    finally:
        await conn.close()
    return [(r["event_type"], json.loads(r["payload"])) for r in rows]
