"""Hostile and absurd input at the gate, as it runs with its default windows: each class is
refused with a 4xx naming the field, and nothing of it reaches the event store or Kafka."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from cordon_contracts import registry
from cordon_core.settings import ServiceSettings
from cordon_testing import ServiceProcess, wait_until
from cordon_testing.plugin import settings_env
from cordon_testing.refusals import ServiceRecord
from cordon_testing.upstream import Upstream

ADMIN = "inputs-admin-token"


@pytest.fixture(scope="module")
def gate(
    module_settings: ServiceSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    env = {**settings_env(module_settings), "CORDON_GATE_ADMIN_TOKEN": ADMIN}
    process = ServiceProcess("cordon_gate", env, tmp_path_factory.mktemp("gate")).start(
        ready_timeout=180
    )
    yield process
    process.stop()


class Desk:
    """A checkpoint with its device, and a resident the gate has heard of."""

    def __init__(self, gate: ServiceProcess) -> None:
        self.client = httpx.AsyncClient(base_url=gate.url, timeout=30)
        self.community = f"c{uuid.uuid4().hex[:8]}"
        self.checkpoint = f"{self.community}-east"
        self.admin = {"Authorization": f"Bearer {ADMIN}"}
        self.device: dict[str, str] = {}
        self.person = f"p{uuid.uuid4().hex[:10]}"

    async def open(self, registry_service: Upstream) -> Desk:
        created = await self.client.post(
            "/v1/checkpoints",
            headers=self.admin,
            json={"checkpoint_id": self.checkpoint, "community_id": self.community,
                  "compound_id": "c1", "name": "East gate"},
        )  # fmt: skip
        assert created.status_code == 201, created.text
        device = await self.client.post(
            f"/v1/checkpoints/{self.checkpoint}/devices",
            headers=self.admin,
            json={"device_id": f"{self.checkpoint}-pad"},
        )
        self.device = {"Authorization": f"Bearer {device.json()['token']}"}
        await registry_service.publish(
            f"household:{self.community}-h1",
            registry.ResidentRegistered(
                person_id=self.person, household_id=f"{self.community}-h1", building_id="b1",
                compound_id="c1", grid_id="g1", community_id=self.community,
                sub_district_id="s1", residence_type="owner", registered_at=datetime.now(UTC),
            ),
        )  # fmt: skip
        await wait_until(
            lambda: self.client.get(f"/v1/people/{self.person}/status", headers=self.admin),
            until=lambda r: r.status_code == 200,
            what="the gate to hear of the resident",
        )
        return self

    def scan(self, **fields: Any) -> dict[str, Any]:
        return {
            "scan_id": uuid.uuid4().hex,
            "checkpoint_id": self.checkpoint,
            "direction": "in",
            "scanned_at": datetime.now(UTC).isoformat(),
            "temperature_c": 36.5,
            "health_code": "green",
            "person_id": self.person,
            **fields,
        }

    def pass_for(self, holder: str, days: float) -> dict[str, Any]:
        start = datetime.now(UTC)
        return {
            "kind": "temporary",
            "holder_person_id": holder,
            "community_id": self.community,
            "valid_from": start.isoformat(),
            "valid_until": (start + timedelta(days=days)).isoformat(),
        }


@pytest.fixture
async def desk(gate: ServiceProcess, registry_service: Upstream) -> AsyncIterator[Desk]:
    opened = await Desk(gate).open(registry_service)
    yield opened
    await opened.client.aclose()


def fields(response: httpx.Response) -> list[str]:
    return [".".join(str(p) for p in e["loc"][1:]) for e in response.json()["detail"]]


async def test_unstorable_text_non_finite_numbers_and_edge_dates_get_a_422_naming_the_field(
    desk: Desk, module_settings: ServiceSettings
) -> None:
    before = await ServiceRecord(module_settings, "gate").count()
    visitor = (
        '"visitor": {"document_type": "passport", "document_number": "E12345678",'
        ' "phone": "13800000000", "reason": "delivery", "name": '
    )
    cases = [  # (fields replaced, the raw JSON put instead, the field a 422 must name)
        ({"person_id"}, visitor + '"Li\\u0000"}', "visitor.name"),
        ({"person_id"}, visitor + '"\\ud800"}', "visitor.name"),
        ({"temperature_c"}, '"temperature_c": NaN', "temperature_c"),
        ({"temperature_c"}, '"temperature_c": Infinity', "temperature_c"),
        ({"temperature_c"}, '"temperature_c": 1e999', "temperature_c"),
        ({"scanned_at"}, '"scanned_at": "0001-01-01T00:00:00+08:00"', "scanned_at"),
        ({"scanned_at"}, '"scanned_at": "9999-12-31T23:59:59-01:00"', "scanned_at"),
    ]
    answers = []
    for replaced, fragment, field in cases:
        kept = {k: v for k, v in desk.scan().items() if k not in replaced}
        raw = json.dumps(kept)[:-1] + ", " + fragment + "}"
        response = await desk.client.post(
            "/v1/scans", content=raw, headers={**desk.device, "content-type": "application/json"}
        )
        answers.append((response.status_code, fields(response), field))
    nul_path = await desk.client.post(
        f"/v1/checkpoints/{desk.checkpoint}%00/close", headers=desk.admin, json={"reason": "x"}
    )

    assert [(code, got) for code, got, _ in answers] == [(422, [f]) for _, _, f in answers]
    assert nul_path.status_code == 422
    assert await ServiceRecord(module_settings, "gate").count() == before, "nothing recorded"


async def test_a_scan_dated_years_back_is_refused_and_one_from_yesterday_decided(
    desk: Desk, module_settings: ServiceSettings
) -> None:
    years_ago = (datetime.now(UTC) - timedelta(days=3 * 365)).isoformat()
    before = await ServiceRecord(module_settings, "gate").count()

    refused = await desk.client.post(
        "/v1/scans", json=desk.scan(scanned_at=years_ago), headers=desk.device
    )
    in_batch = await desk.client.post(
        "/v1/scans/batch",
        json={"scans": [desk.scan(), desk.scan(scanned_at=years_ago)]},
        headers=desk.device,
    )
    after_refusals = await ServiceRecord(module_settings, "gate").count()
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    late = await desk.client.post(
        "/v1/scans", json=desk.scan(scanned_at=yesterday), headers=desk.device
    )

    assert refused.status_code == 422 and fields(refused) == ["scanned_at"]
    assert "too far in the past" in refused.text
    assert in_batch.status_code == 422 and fields(in_batch) == ["scans.1.scanned_at"]
    assert after_refusals == before, "nothing of either was recorded"
    assert late.status_code == 200, "a device's backlog from yesterday is decided"


async def test_a_pass_valid_until_9999_or_longer_than_the_window_is_refused(
    desk: Desk, module_settings: ServiceSettings
) -> None:
    before = await ServiceRecord(module_settings, "gate").count()
    until_9999 = {**desk.pass_for(desk.person, 1), "valid_until": "9999-12-31T00:00:00+00:00"}

    forever = await desk.client.post("/v1/passes", json=until_9999, headers=desk.admin)
    a_year = await desk.client.post(
        "/v1/passes", json=desk.pass_for(desk.person, 365), headers=desk.admin
    )
    backwards = await desk.client.post(
        "/v1/passes", json=desk.pass_for(desk.person, -1), headers=desk.admin
    )
    after = await ServiceRecord(module_settings, "gate").count()
    a_month = await desk.client.post(
        "/v1/passes", json=desk.pass_for(desk.person, 30), headers=desk.admin
    )

    assert forever.status_code == 422 and fields(forever) == ["valid_until"]
    assert a_year.status_code == 422 and fields(a_year) == ["valid_until"]
    assert "at most 90 days" in a_year.text
    assert backwards.status_code == 422 and fields(backwards) == ["valid_until"]
    assert after == before
    assert a_month.status_code == 201, a_month.text


async def test_a_pass_for_a_person_the_gate_never_heard_of_is_refused(
    desk: Desk, module_settings: ServiceSettings
) -> None:
    before = await ServiceRecord(module_settings, "gate").count()

    stranger = await desk.client.post(
        "/v1/passes", json=desk.pass_for("p-never-registered", 7), headers=desk.admin
    )

    assert stranger.status_code == 422 and fields(stranger) == ["holder_person_id"]
    assert "has not heard of this person" in stranger.text
    assert await ServiceRecord(module_settings, "gate").count() == before


async def test_a_huge_batch_body_is_a_413_and_a_huge_field_a_short_422(
    desk: Desk, module_settings: ServiceSettings
) -> None:
    before = await ServiceRecord(module_settings, "gate").count()
    five_mb = "x" * (5 * 1024 * 1024)

    huge_batch = await desk.client.post(
        "/v1/scans/batch", json={"scans": [desk.scan(vehicle_plate=five_mb)]}, headers=desk.device
    )
    huge_scan = await desk.client.post(
        "/v1/scans", json=desk.scan(vehicle_plate=five_mb), headers=desk.device
    )
    long_plate = await desk.client.post(
        "/v1/scans", json=desk.scan(vehicle_plate="x" * 100_000), headers=desk.device
    )

    assert huge_batch.status_code == 413 and huge_scan.status_code == 413
    assert long_plate.status_code == 422 and fields(long_plate) == ["vehicle_plate"]
    assert len(long_plate.content) < 2_000, "the error does not repeat the 100 kB plate"
    assert await ServiceRecord(module_settings, "gate").count() == before
