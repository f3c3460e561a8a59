"""How much the outbox relay publishes twice when the service process is killed (kill -9)
in the middle of publishing: at most the batch in flight, measured here under load."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest

from cordon_core.settings import ServiceSettings
from cordon_testing import ServiceProcess, wait_until
from cordon_testing.kafka import header, read_topic
from cordon_testing.plugin import settings_env

ADMIN = "crash-admin-token"


async def register_device(client: httpx.AsyncClient, checkpoint: str) -> str:
    auth = {"Authorization": f"Bearer {ADMIN}"}
    created = await client.post(
        "/v1/checkpoints",
        json={"checkpoint_id": checkpoint, "community_id": "crash",
              "compound_id": "crash-compound", "name": "Gate under test"},
        headers=auth,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    device = await client.post(
        f"/v1/checkpoints/{checkpoint}/devices", json={"device_id": f"{checkpoint}-pad"},
        headers=auth,
    )  # fmt: skip
    assert device.status_code == 201, device.text
    token: str = device.json()["token"]
    return token


async def scan_batches(url: str, checkpoint: str, token: str, stop: asyncio.Event) -> None:
    """Batches of 100 visitor scans, one after another, until ``stop`` (or the gate dies)."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        while not stop.is_set():
            scans = [
                {"scan_id": uuid.uuid4().hex, "checkpoint_id": checkpoint, "direction": "in",
                 "scanned_at": datetime.now(UTC).isoformat(), "temperature_c": 36.6,
                 "health_code": "green",
                 "visitor": {"document_type": "passport", "document_number": "E7654321",
                             "name": "Visitor", "phone": "13800000000", "reason": "visit"}}
                for _ in range(100)
            ]  # fmt: skip
            try:
                await client.post(
                    "/v1/scans/batch",
                    json={"scans": scans},
                    headers={"Authorization": f"Bearer {token}"},
                )
            except httpx.HTTPError:
                return


@pytest.mark.timeout(240)
async def test_a_killed_gate_republishes_at_most_the_batch_in_flight(
    settings: ServiceSettings, tmp_path: Path
) -> None:
    env = {**settings_env(settings), "CORDON_GATE_ADMIN_TOKEN": ADMIN}
    gate = ServiceProcess("cordon_gate", env, tmp_path).start(ready_timeout=180)
    checkpoint = f"crash-{uuid.uuid4().hex[:6]}"
    try:
        async with httpx.AsyncClient(base_url=gate.url, timeout=30) as client:
            token = await register_device(client, checkpoint)
        stop = asyncio.Event()
        load = [
            asyncio.create_task(scan_batches(gate.url, checkpoint, token, stop)) for _ in range(4)
        ]
        await asyncio.sleep(4)
        gate.kill()  # kill -9 while the relay publishes
        stop.set()
        await asyncio.gather(*load)
        gate.start(ready_timeout=180)
        conn = await asyncpg.connect(settings.database_url)
        try:
            stored = {
                str(r["event_id"]) for r in await conn.fetch("SELECT event_id FROM gate.events")
            }
        finally:
            await conn.close()
        topic = f"{settings.topic_prefix}.gate.events"

        async def on_topic() -> Counter[str]:
            records = await read_topic(settings.kafka_bootstrap, topic, idle=1.0)
            return Counter(header(r, "ce_id") or "" for r in records)

        seen = await wait_until(
            on_topic, until=lambda s: stored <= set(s), timeout=60, interval=0.5,
            what="every stored event on the topic",
        )  # fmt: skip
    finally:
        gate.stop()
    twice = sum(n - 1 for n in seen.values() if n > 1)
    print(f"\nkill -9 of the gate under load: {len(stored)} events stored, "
          f"{twice} published twice (batch size {settings.relay_batch_size})")  # fmt: skip
    assert set(seen) == stored
    assert twice <= settings.relay_batch_size
