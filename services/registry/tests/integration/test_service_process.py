"""The registry as its own OS process, loading the demo district through its HTTP API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cordon_devenv.demo_district import load_demo_district
from cordon_testing import ServiceProcess

ADMIN = "process-admin-token"


@pytest.fixture
def registry_process(service_env: dict[str, str], log_dir: Path) -> Iterator[ServiceProcess]:
    env = {**service_env, "CORDON_REGISTRY_ADMIN_TOKEN": ADMIN}
    process = ServiceProcess("cordon_registry", env, log_dir).start()
    yield process
    process.stop()


async def test_the_demo_district_loads_through_the_running_service(
    registry_process: ServiceProcess,
) -> None:
    people = await load_demo_district(registry_process.url, ADMIN)

    assert list(people) == ["heping", "xinhua", "dongfeng", "jianshe", "chaoyang", "nanhu"]
    total = sum(len(ids) for ids in people.values())
    assert 600 <= total <= 1000, total
    assert all(person.startswith("p-") for ids in people.values() for person in ids)
    async with httpx.AsyncClient(
        base_url=registry_process.url, headers={"Authorization": f"Bearer {ADMIN}"}
    ) as client:
        heping = (await client.get("/v1/places/heping")).json()
        grid = next(c for c in heping["children"] if c["kind"] == "grid")
        staff = (await client.get(f"/v1/places/{grid['place_id']}")).json()["staff"]
        assert [s["role"] for s in staff] == ["grid_worker"]
        assert (await client.get("/docs")).status_code == 200

    assert await load_demo_district(registry_process.url, ADMIN) == people, (
        "loading twice changes nothing"
    )
