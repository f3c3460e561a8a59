"""The running gate for its tests: the gate in its own OS process with real Kafka and
PostgreSQL, stand-ins publishing the registry's and isolation's events, and a community
with a checkpoint and a device (conftest.py makes the fixtures available)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from cordon_contracts import isolation, lab, registry
from cordon_core.envelope import EventRegistry
from cordon_core.runtime import ServiceRuntime
from cordon_core.settings import ServiceSettings
from cordon_testing import ServiceProcess, wait_until
from cordon_testing.plugin import settings_env
from cordon_testing.upstream import Upstream

ADMIN = "test-admin-token"
T0 = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=5)
"""Midnight UTC five days ago: scans from T0 to T0 + 4 days are within the gate's late-scan
window, and its local (Shanghai) days start at 16:00 UTC as they would on any day."""


@pytest.fixture(scope="module")
def gate(
    module_settings: ServiceSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    env = {
        **settings_env(module_settings),
        "CORDON_GATE_ADMIN_TOKEN": ADMIN,
        "CORDON_TIMEZONE": "Asia/Shanghai",
    }
    # Generous: on a machine shared with other suites the gate has taken over 60 s to start.
    process = ServiceProcess("cordon_gate", env, tmp_path_factory.mktemp("gate")).start(
        ready_timeout=180
    )
    yield process
    process.stop()


@pytest.fixture(scope="module")
async def registry_service(module_settings: ServiceSettings) -> AsyncIterator[Upstream]:
    async with ServiceRuntime(
        service="registry", settings=module_settings, registry=registry.registry
    ).running() as runtime:
        yield Upstream(runtime)


@pytest.fixture(scope="module")
async def isolation_service(module_settings: ServiceSettings) -> AsyncIterator[Upstream]:
    contracts = EventRegistry()  # a registry of its own: the contracts' ones are shared
    contracts.include(isolation.registry)
    contracts.include(lab.registry)
    async with ServiceRuntime(
        service="isolation", settings=module_settings, registry=contracts
    ).running() as runtime:
        yield Upstream(runtime)


class Community:
    """One community of the test district with a registered checkpoint and device."""

    def __init__(self, gate: ServiceProcess, name: str) -> None:
        self.gate = gate
        self.id = name
        self.token = ""
        self.checkpoint = f"{name}-east"

    async def admin(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.gate.url) as client:
            return await client.request(
                method, path, json=body, headers={"Authorization": f"Bearer {ADMIN}"}
            )

    async def register(self, **checkpoint: Any) -> Community:
        response = await self.admin(
            "POST",
            "/v1/checkpoints",
            {
                "checkpoint_id": self.checkpoint,
                "community_id": self.id,
                "compound_id": f"{self.id}-compound",
                "name": "East gate",
                **checkpoint,
            },
        )
        assert response.status_code == 201, response.text
        response = await self.admin(
            "POST",
            f"/v1/checkpoints/{self.checkpoint}/devices",
            {"device_id": f"{self.checkpoint}-pad"},
        )
        self.token = response.json()["token"]
        return self

    async def scan(self, **fields: Any) -> httpx.Response:
        body = {
            "scan_id": uuid.uuid4().hex,
            "checkpoint_id": self.checkpoint,
            "direction": "in",
            "scanned_at": T0.isoformat(),
            "temperature_c": 36.5,
            "health_code": "green",
            **fields,
        }
        async with httpx.AsyncClient(base_url=self.gate.url) as client:
            return await client.post(
                "/v1/scans", json=body, headers={"Authorization": f"Bearer {self.token}"}
            )

    async def decision(self, **fields: Any) -> dict[str, Any]:
        response = await self.scan(**fields)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def issue_pass(
        self, holder: str, kind: str, *, days: int, daily_exit_quota: int | None = None
    ) -> dict[str, Any]:
        """A pass valid from T0 for ``days``; its pass_id and pass_code."""
        response = await self.admin(
            "POST",
            "/v1/passes",
            {
                "kind": kind,
                "holder_person_id": holder,
                "community_id": self.id,
                "valid_from": T0.isoformat(),
                "valid_until": (T0 + timedelta(days=days)).isoformat(),
                "daily_exit_quota": daily_exit_quota,
            },
        )
        assert response.status_code == 201, response.text
        issued: dict[str, Any] = response.json()
        return issued

    async def status(self, person_id: str) -> dict[str, Any] | None:
        response = await self.admin("GET", f"/v1/people/{person_id}/status")
        return response.json() if response.status_code == 200 else None


@pytest.fixture
async def community(gate: ServiceProcess) -> Community:
    return await Community(gate, f"c{uuid.uuid4().hex[:8]}").register()


async def resident(community: Community, registry_service: Upstream) -> str:
    person = f"p{uuid.uuid4().hex[:10]}"
    await registry_service.publish(
        f"household:{community.id}-h1",
        registry.ResidentRegistered(
            person_id=person,
            household_id=f"{community.id}-h1",
            building_id="b1",
            compound_id="c1",
            grid_id="g1",
            community_id=community.id,
            sub_district_id="s1",
            residence_type="owner",
            registered_at=T0,
        ),
    )
    await wait_until(lambda: community.status(person), what=f"the gate to know {person}")
    return person


async def isolate(
    isolation_service: Upstream, community: Community, person: str, level: str
) -> str:
    order = f"o{uuid.uuid4().hex[:8]}"
    await isolation_service.publish(
        f"person:{person}",
        isolation.IsolationStarted(
            order_id=order,
            person_id=person,
            level=level,
            community_id=community.id,
            reason="close contact",
            starts_at=T0,
            planned_end_at=T0 + timedelta(days=14),
        ),
    )
    await wait_until(
        lambda: community.status(person),
        until=lambda s: s is not None and s["isolation_level"] == level,
        what="the gate to learn of the isolation",
    )
    return order
