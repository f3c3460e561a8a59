"""The walking slice, end to end with real processes: a scan posted to the gate becomes
PersonEntered in the gate's store, goes through the relay to Kafka, is consumed by the
projector and shows in its read model."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cordon_core.settings import ServiceSettings
from cordon_testing import ServiceProcess, wait_until
from cordon_testing.kafka import header, read_topic


@pytest.fixture
def gate(service_env: dict[str, str], log_dir: Path) -> Iterator[ServiceProcess]:
    process = ServiceProcess("cordon_gate", service_env, log_dir).start()
    yield process
    process.stop()


@pytest.fixture
def projector(service_env: dict[str, str], log_dir: Path) -> Iterator[ServiceProcess]:
    env = {**service_env, "CORDON_TIMEZONE": "Asia/Shanghai"}
    process = ServiceProcess("cordon_projector", env, log_dir).start()
    yield process
    process.stop()


def scan(scan_id: str, community: str, at: str, direction: str = "in") -> dict[str, Any]:
    return {
        "scan_id": scan_id,
        "checkpoint_id": f"{community}-east-gate",
        "community_id": community,
        "person_id": f"p-{scan_id}",
        "direction": direction,
        "scanned_at": at,
        "temperature_c": 36.4,
        "health_code": "green",
    }


async def traffic(projector: ServiceProcess, community: str, day: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=projector.url) as client:
        response = await client.get(
            f"/v1/communities/{community}/gate-traffic", params={"day": day}
        )
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body


async def test_scans_posted_to_the_gate_show_in_the_projectors_daily_traffic(
    gate: ServiceProcess, projector: ServiceProcess
) -> None:
    scans = [
        scan("s1", "maple", "2022-04-01T08:00:00+08:00"),
        scan("s2", "maple", "2022-04-01T08:01:00+08:00"),
        scan("s3", "maple", "2022-04-01T09:30:00+08:00", direction="out"),
        scan("s4", "willow", "2022-04-01T10:00:00+08:00"),
        # 23:59:59 and 00:00:01 local: late evening counts on the 1st, after midnight on the 2nd
        scan("s5", "maple", "2022-04-01T15:59:59+00:00"),
        scan("s6", "maple", "2022-04-01T16:00:01+00:00"),
    ]
    async with httpx.AsyncClient(base_url=gate.url) as client:
        decisions = [(await client.post("/v1/scans", json=s)).json() for s in scans]
        retried = (await client.post("/v1/scans", json=scans[0])).json()

    assert [d["decision"] for d in decisions] == ["allow"] * 6
    assert retried == decisions[0], "a retried scan gets the same answer and no second event"

    maple_1st = await wait_until(
        lambda: traffic(projector, "maple", "2022-04-01"),
        until=lambda t: t["entries"] == 3 and t["exits"] == 1,
        timeout=60,
        what="maple's traffic on 1 April",
    )
    assert maple_1st == {"community_id": "maple", "day": "2022-04-01", "entries": 3, "exits": 1}
    assert (await traffic(projector, "maple", "2022-04-02"))["entries"] == 1
    assert (await traffic(projector, "willow", "2022-04-01"))["entries"] == 1


async def test_invalid_scan_is_refused_with_the_field_and_reason(gate: ServiceProcess) -> None:
    bad = scan("s1", "maple", "2022-04-01T08:00:00+08:00") | {"temperature_c": 52.0}

    async with httpx.AsyncClient(base_url=gate.url) as client:
        response = await client.post("/v1/scans", json=bad)

    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "temperature_c"]
    assert "less than or equal to 45" in error["msg"]


async def test_the_gate_event_on_kafka_is_a_readable_cloudevent_carrying_the_correlation_id(
    gate: ServiceProcess, settings: ServiceSettings
) -> None:
    correlation = str(uuid.uuid4())
    body = scan("s1", "maple", "2022-04-01T08:00:00+08:00")

    async with httpx.AsyncClient(base_url=gate.url) as client:
        response = await client.post(
            "/v1/scans", json=body, headers={"X-Correlation-ID": correlation}
        )
    [record] = await read_topic(
        settings.kafka_bootstrap, f"{settings.topic_prefix}.gate.events", expect=1
    )

    assert response.headers["X-Correlation-ID"] == correlation
    assert header(record, "ce_correlationid") == correlation
    assert header(record, "ce_type") == "cordon.PersonEntered"
    assert header(record, "ce_id") == response.json()["event_id"]
    assert record.key == b"maple-east-gate"
    assert json.loads(record.value)["scan_id"] == "s1"
