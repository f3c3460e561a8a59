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

ADMIN = "slice-admin-token"


@pytest.fixture
def gate(service_env: dict[str, str], log_dir: Path) -> Iterator[ServiceProcess]:
    # The slice replays 1 April 2022, a fixed day whose traffic it checks: open the gate's
    # late-scan window to it.
    env = {**service_env, "CORDON_GATE_ADMIN_TOKEN": ADMIN, "CORDON_MAX_SCAN_AGE_S": "3153600000"}
    process = ServiceProcess("cordon_gate", env, log_dir).start()
    yield process
    process.stop()


async def device_token(gate: ServiceProcess, community: str) -> str:
    """Register the community's east gate and a device for it, as the office would."""
    admin = {"Authorization": f"Bearer {ADMIN}"}
    async with httpx.AsyncClient(base_url=gate.url, headers=admin) as client:
        checkpoint = {"checkpoint_id": f"{community}-east-gate", "community_id": community,
                      "compound_id": f"{community}-1", "name": "East gate"}  # fmt: skip
        (await client.post("/v1/checkpoints", json=checkpoint)).raise_for_status()
        device = await client.post(f"/v1/checkpoints/{community}-east-gate/devices",
                                   json={"device_id": f"{community}-pad"})  # fmt: skip
        token: str = device.json()["token"]
        return token


@pytest.fixture
def projector(service_env: dict[str, str], log_dir: Path) -> Iterator[ServiceProcess]:
    env = {**service_env, "CORDON_TIMEZONE": "Asia/Shanghai"}
    process = ServiceProcess("cordon_projector", env, log_dir).start()
    yield process
    process.stop()


def scan(scan_id: str, community: str, at: str, direction: str = "in") -> dict[str, Any]:
    """A visitor's scan: visitors need no registry, which keeps this slice thin."""
    return {
        "scan_id": scan_id,
        "checkpoint_id": f"{community}-east-gate",
        "visitor": {
            "document_type": "passport",
            "document_number": f"E{scan_id}0000",
            "name": "Visitor",
            "phone": "13800000000",
            "reason": "delivery",
        },
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
    tokens = {c: await device_token(gate, c) for c in ("maple", "willow")}
    async with httpx.AsyncClient(base_url=gate.url) as client:

        async def post(body: dict[str, Any]) -> dict[str, Any]:
            community = body["checkpoint_id"].removesuffix("-east-gate")
            auth = {"Authorization": f"Bearer {tokens[community]}"}
            decided: dict[str, Any] = (
                await client.post("/v1/scans", json=body, headers=auth)
            ).json()
            return decided

        decisions = [await post(s) for s in scans]
        retried = await post(scans[0])

    assert [d["decision"] for d in decisions] == ["allow"] * 6
    assert retried == {**decisions[0], "duplicate": True}, "same answer, no second event"

    maple_1st = await wait_until(
        lambda: traffic(projector, "maple", "2022-04-01"),
        until=lambda t: t["entries"] == 3 and t["exits"] == 1,
        timeout=60,
        what="maple's traffic on 1 April",
    )
    assert maple_1st == {"community_id": "maple", "day": "2022-04-01", "entries": 3, "exits": 1}
    assert (await traffic(projector, "maple", "2022-04-02"))["entries"] == 1
    assert (await traffic(projector, "willow", "2022-04-01"))["entries"] == 1


async def test_the_gate_event_on_kafka_is_a_readable_cloudevent_carrying_the_correlation_id(
    gate: ServiceProcess, settings: ServiceSettings
) -> None:
    correlation = str(uuid.uuid4())
    body = scan("s1", "maple", "2022-04-01T08:00:00+08:00")

    headers = {
        "X-Correlation-ID": correlation,
        "Authorization": f"Bearer {await device_token(gate, 'maple')}",
    }
    async with httpx.AsyncClient(base_url=gate.url) as client:
        response = await client.post("/v1/scans", json=body, headers=headers)
    records = await read_topic(
        settings.kafka_bootstrap, f"{settings.topic_prefix}.gate.events", timeout=20
    )
    [record] = [r for r in records if header(r, "ce_type") == "cordon.PersonEntered"]

    assert response.headers["X-Correlation-ID"] == correlation
    assert header(record, "ce_correlationid") == correlation
    assert header(record, "ce_id") == response.json()["event_id"]
    assert record.key == b"maple-east-gate"
    assert json.loads(record.value)["scan_id"] == "s1"
