"""The gate heals by itself when PostgreSQL or Kafka goes away and comes back.

These tests start a PostgreSQL and a Kafka of their own (never the shared ones), run the
gate as its own process against them, keep scanning, and restart, kill -9 or pause the
server under it. Each asserts what a device and an operator see: 503 with Retry-After
(never 500) while PostgreSQL is down, readiness 503 with the reason and back to 200
without a hand restart, and every stored event on the topic afterwards, none missing.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cordon_core.envelope import EventRegistry
from cordon_core.kafka import make_producer
from cordon_core.runtime import KafkaUnavailable, ServiceRuntime
from cordon_core.settings import ServiceSettings
from cordon_devenv import kafka as kafka_server
from cordon_devenv import postgres as postgres_server
from cordon_devenv.process import free_port
from cordon_testing import ServiceProcess, wait_until
from cordon_testing.kafka import header, read_topic
from cordon_testing.plugin import KafkaBackend, fresh_database, settings_env, settings_for

ADMIN = "heal-admin-token"
pytestmark = [
    pytest.mark.infra,  # starts, kills and restarts a Kafka and a PostgreSQL of its own
    pytest.mark.timeout(420),  # a Kafka start takes 10 s idle, 75 s on a loaded box
]


@dataclass
class OwnInfra:
    """A PostgreSQL and a Kafka that only this module uses, so it may stop them."""

    base: Path
    pg_port: int
    kafka_port: int
    controller_port: int

    @property
    def pg_dir(self) -> Path:
        return self.base / "postgres"

    @property
    def kafka_dir(self) -> Path:
        return self.base / "kafka"

    @property
    def server_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.pg_port}/postgres"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    def start_postgres(self) -> None:
        postgres_server.start_postgres(self.pg_dir, port=self.pg_port)

    def stop_postgres(self) -> None:
        postgres_server.stop_postgres(self.pg_dir)

    def start_kafka(self) -> None:
        kafka_server.start_kafka(
            self.kafka_dir, port=self.kafka_port, controller_port=self.controller_port
        )

    def kafka_pid(self) -> int:
        running = kafka_server.kafka_running(self.kafka_dir)
        assert running is not None, "our Kafka is not running"
        return running.pid


@pytest.fixture(scope="module")
def own_infra() -> Iterator[OwnInfra]:
    # Under the test state directory, as the harness's own servers (PostgreSQL, run as an
    # unprivileged user when we are root, cannot use pytest's private temporary folders).
    state = Path(os.environ.get("CORDON_TEST_STATE_DIR", Path.cwd() / ".cordon" / "test"))
    base = state / f"heal-{uuid.uuid4().hex[:8]}"
    (base / "postgres").mkdir(parents=True)
    infra = OwnInfra(base, free_port(), free_port(), free_port())
    try:
        infra.start_postgres()
        infra.start_kafka()
        yield infra
    finally:
        kafka_server.stop_kafka(infra.kafka_dir)
        infra.stop_postgres()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
async def gate(
    own_infra: OwnInfra, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ServiceProcess]:
    async with fresh_database(own_infra.server_url) as url:
        settings = settings_for(KafkaBackend("apache-kafka", own_infra.bootstrap, True), url)
        env = {
            **settings_env(settings),
            "CORDON_GATE_ADMIN_TOKEN": ADMIN,
            "CORDON_READINESS_TIMEOUT_S": "1",
            "CORDON_LOG_JSON": "true",
        }
        process = ServiceProcess("cordon_gate", env, tmp_path_factory.mktemp("gate")).start(
            ready_timeout=180  # a loaded 2-core machine takes a while to import the gate
        )
        process.database_url = url  # type: ignore[attr-defined]
        process.topic = f"{settings.topic_prefix}.gate.events"  # type: ignore[attr-defined]
        process.feed = f"{settings.topic_prefix}.gate.scans"  # type: ignore[attr-defined]
        try:
            yield process
        finally:
            process.stop()


@dataclass
class Device:
    """A checkpoint's scanner that retries a scan (same scan id) until it is answered."""

    gate: ServiceProcess
    checkpoint: str
    token: str = ""
    answers: Counter[int] = field(default_factory=Counter)
    retry_after: set[str] = field(default_factory=set)
    accepted: int = 0

    async def register(self) -> Device:
        async with httpx.AsyncClient(
            base_url=self.gate.url, headers={"Authorization": f"Bearer {ADMIN}"}
        ) as client:
            created = await client.post(
                "/v1/checkpoints",
                json={
                    "checkpoint_id": self.checkpoint,
                    "community_id": "heal",
                    "compound_id": "heal-compound",
                    "name": "Gate under test",
                },
            )
            assert created.status_code == 201, created.text
            device = await client.post(
                f"/v1/checkpoints/{self.checkpoint}/devices",
                json={"device_id": f"{self.checkpoint}-pad"},
            )
            assert device.status_code == 201, device.text
            self.token = device.json()["token"]
        return self

    def scan(self) -> dict[str, Any]:
        return {
            "scan_id": uuid.uuid4().hex,
            "checkpoint_id": self.checkpoint,
            "direction": "in",
            "scanned_at": datetime.now(UTC).isoformat(),
            "temperature_c": 36.6,
            "health_code": "green",
            "visitor": {
                "document_type": "passport",
                "document_number": "E1234567",
                "name": "Visitor",
                "phone": "13800000000",
                "reason": "delivery",
            },
        }

    async def scan_until_answered(self, client: httpx.AsyncClient) -> None:
        body = self.scan()
        while True:
            try:
                response = await client.post(
                    "/v1/scans", json=body, headers={"Authorization": f"Bearer {self.token}"}
                )
            except httpx.HTTPError:
                self.answers[0] += 1
                await asyncio.sleep(0.2)
                continue
            self.answers[response.status_code] += 1
            if response.status_code == 503:
                self.retry_after.add(response.headers.get("Retry-After", ""))
                await asyncio.sleep(0.2)  # a device would wait Retry-After; the test hurries
                continue
            assert response.status_code == 200, response.text
            self.accepted += 1
            return


async def _keep_scanning(device: Device, stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(base_url=device.gate.url, timeout=30) as client:
        while not stop.is_set():
            await device.scan_until_answered(client)
            await asyncio.sleep(0.02)


class Scanning:
    """Scans sent one after another in the background while the test breaks things."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Scanning:
        self._task = asyncio.create_task(_keep_scanning(self.device, self._stop))
        return self

    async def __aexit__(self, *_: object) -> None:
        self._stop.set()
        assert self._task is not None
        await asyncio.wait_for(self._task, 60)


async def get(gate: ServiceProcess, path: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=gate.url, timeout=10) as client:
        return await client.get(path)


async def metric(gate: ServiceProcess, name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include ``labels``."""
    text = (await get(gate, "/metrics")).text
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


async def stored_event_ids(gate: ServiceProcess) -> set[str]:
    conn = await asyncpg.connect(gate.database_url)  # type: ignore[attr-defined]
    try:
        rows = await conn.fetch("SELECT event_id FROM gate.events")
    finally:
        await conn.close()
    return {str(r["event_id"]) for r in rows}


async def published(gate: ServiceProcess, bootstrap: str) -> Counter[str]:
    records = await read_topic(bootstrap, gate.topic, idle=1.0)  # type: ignore[attr-defined]
    return Counter(header(r, "ce_id") or "" for r in records)


async def everything_published(gate: ServiceProcess, bootstrap: str) -> Counter[str]:
    """Wait until every stored event is on the topic; the topic's ids with their counts."""
    stored = await stored_event_ids(gate)

    async def on_topic() -> Counter[str]:
        return await published(gate, bootstrap)

    return await wait_until(
        on_topic,
        until=lambda seen: stored <= set(seen),
        timeout=60,
        interval=0.5,
        what=f"all {len(stored)} stored events on the topic",
    )


async def readiness(gate: ServiceProcess) -> tuple[int, dict[str, Any]]:
    response = await get(gate, "/health/ready")
    return response.status_code, response.json()


async def test_gate_answers_503_during_a_postgres_restart_and_heals_without_a_hand_restart(
    gate: ServiceProcess, own_infra: OwnInfra
) -> None:
    device = await Device(gate, f"pg-{uuid.uuid4().hex[:6]}").register()
    restarts_before = await metric(gate, "cordon_background_task_restarts_total", task="gate-relay")
    async with Scanning(device):
        await wait_until(lambda: asyncio.sleep(0, device.accepted), until=lambda n: n >= 5)
        stopped_at = time.monotonic()
        await asyncio.to_thread(own_infra.stop_postgres)
        _, body = await wait_until(
            lambda: readiness(gate), until=lambda r: r[0] == 503, timeout=10, what="not ready"
        )
        assert "postgres" in body["reason"], body
        assert body["checks"]["kafka"] == "ok", body
        await wait_until(
            lambda: asyncio.sleep(0, device.answers[503]), until=lambda n: n >= 3, timeout=10
        )
        assert (await get(gate, "/health/live")).status_code == 200
        # The feed's scans wait in Kafka; the lag says so although the consumer is stuck.
        producer = make_producer(ServiceSettings(kafka_bootstrap=own_infra.bootstrap))
        await producer.start()
        try:
            for _ in range(20):
                await producer.send_and_wait(
                    gate.feed,  # type: ignore[attr-defined]
                    json.dumps(device.scan()).encode(),
                    key=device.checkpoint.encode(),
                )
        finally:
            await producer.stop()
        await wait_until(
            lambda: metric(gate, "cordon_consumer_lag", group="gate-scan-feed"),
            until=lambda n: n >= 20,
            timeout=15,
            what="the feed's lag while PostgreSQL is down",
        )
        assert await metric(gate, "cordon_relay_last_publish_age_seconds") >= 1
        await asyncio.to_thread(own_infra.start_postgres)
        back_at = time.monotonic()
        await wait_until(
            lambda: readiness(gate), until=lambda r: r[0] == 200, timeout=20, what="ready again"
        )
        ready_after = time.monotonic() - back_at
        outage = back_at - stopped_at
        accepted_then = device.accepted
        await wait_until(
            lambda: asyncio.sleep(0, device.accepted),
            until=lambda n: n >= accepted_then + 5,
            timeout=20,
            what="scans accepted again",
        )
    assert device.answers[500] == 0, device.answers
    assert device.answers[503] >= 3, device.answers
    assert device.retry_after == {"2"}, device.retry_after
    seen = await everything_published(gate, own_infra.bootstrap)
    published_after = time.monotonic() - back_at
    doubled = {event_id: n for event_id, n in seen.items() if n > 1}
    print(f"\npostgres restart: down {outage:.1f} s; gate ready {ready_after:.1f} s and all "
          f"published {published_after:.1f} s after it answered again; answers "
          f"{dict(device.answers)}; events published twice: {len(doubled)}")  # fmt: skip
    assert not doubled, f"republished after the PostgreSQL restart: {doubled}"
    assert (
        await metric(gate, "cordon_background_task_restarts_total", task="gate-relay")
        > restarts_before
    ), "the relay did not go through a restart (did the outage reach it?)"
    await wait_until(
        lambda: metric(gate, "cordon_relay_backlog_events"),
        until=lambda n: n == 0,
        timeout=10,
        what="backlog gauge back to 0",
    )
    await wait_until(
        lambda: metric(gate, "cordon_consumer_lag", group="gate-scan-feed"),
        until=lambda n: n == 0,
        timeout=20,
        what="the feed caught up",
    )


async def test_gate_keeps_scanning_through_a_kafka_kill_and_publishes_the_backlog_afterwards(
    gate: ServiceProcess, own_infra: OwnInfra
) -> None:
    device = await Device(gate, f"kk-{uuid.uuid4().hex[:6]}").register()
    async with Scanning(device):
        await wait_until(lambda: asyncio.sleep(0, device.accepted), until=lambda n: n >= 5)
        killed_at = time.monotonic()
        os.kill(own_infra.kafka_pid(), signal.SIGKILL)
        _, body = await wait_until(
            lambda: readiness(gate), until=lambda r: r[0] == 503, timeout=10, what="not ready"
        )
        assert "kafka" in body["reason"] and body["checks"]["postgres"] == "ok", body
        # Scans are still stored (PostgreSQL is up); the relay's backlog grows meanwhile.
        await wait_until(
            lambda: metric(gate, "cordon_relay_backlog_events"),
            until=lambda n: n >= 20,
            timeout=30,
            what="a growing backlog while Kafka is down",
        )
        backlog = await metric(gate, "cordon_relay_backlog_events")
        await asyncio.to_thread(own_infra.start_kafka)
        back_at = time.monotonic()
        outage = back_at - killed_at
        await wait_until(
            lambda: readiness(gate), until=lambda r: r[0] == 200, timeout=60, what="ready again"
        )
        ready_after = time.monotonic() - back_at
    assert device.answers[500] == 0, device.answers
    seen = await everything_published(gate, own_infra.bootstrap)
    published_after = time.monotonic() - back_at
    await wait_until(
        lambda: metric(gate, "cordon_relay_backlog_events"),
        until=lambda n: n == 0,
        timeout=20,
        what="backlog gauge back to 0",
    )
    doubled = sum(1 for n in seen.values() if n > 1)
    print(f"\nkafka kill -9: down {outage:.1f} s (backlog {backlog:.0f} events); gate ready "
          f"{ready_after:.1f} s and all published {published_after:.1f} s after the broker "
          f"answered again; answers {dict(device.answers)}; "
          f"events published twice: {doubled}")  # fmt: skip


async def test_a_paused_broker_shows_as_not_ready_and_the_relay_rides_it_out(
    gate: ServiceProcess, own_infra: OwnInfra
) -> None:
    device = await Device(gate, f"kp-{uuid.uuid4().hex[:6]}").register()
    pid = own_infra.kafka_pid()
    restarts_before = await metric(gate, "cordon_background_task_restarts_total", task="gate-relay")
    settings = ServiceSettings(
        kafka_bootstrap=own_infra.bootstrap,
        database_url=gate.database_url,  # type: ignore[attr-defined]
        topic_prefix=f"p{uuid.uuid4().hex[:8]}",
        readiness_timeout_s=1,
    )
    side = ServiceRuntime(service="pausecheck", settings=settings, registry=EventRegistry())
    async with side.running(), Scanning(device):
        await wait_until(lambda: asyncio.sleep(0, device.accepted), until=lambda n: n >= 5)
        os.kill(pid, signal.SIGSTOP)
        try:
            asked = time.monotonic()
            status, body = await readiness(gate)
            answered_in = time.monotonic() - asked
            assert status == 503 and "kafka" in body["reason"], body
            assert answered_in < 5, f"readiness took {answered_in:.1f} s"
            # A request that must read Kafka is told at once, not after a long timeout.
            asked = time.monotonic()
            with pytest.raises(KafkaUnavailable):
                await side.require_kafka()
            refused_in = time.monotonic() - asked
            assert refused_in < 3
            await asyncio.sleep(8)
        finally:
            os.kill(pid, signal.SIGCONT)
        resumed_at = time.monotonic()
        await wait_until(
            lambda: readiness(gate), until=lambda r: r[0] == 200, timeout=30, what="ready again"
        )
        ready_after = time.monotonic() - resumed_at
    assert device.answers[500] == 0 and device.answers[503] == 0, device.answers
    seen = await everything_published(gate, own_infra.bootstrap)
    published_after = time.monotonic() - resumed_at
    doubled = sum(1 for n in seen.values() if n > 1)
    print(f"\nkafka SIGSTOP 8 s: readiness 503 in {answered_in:.1f} s, require_kafka refused in "
          f"{refused_in:.1f} s; gate ready {ready_after:.1f} s and all published "
          f"{published_after:.1f} s after SIGCONT; answers {dict(device.answers)}; "
          f"events published twice: {doubled}")  # fmt: skip
    assert (
        await metric(gate, "cordon_background_task_restarts_total", task="gate-relay")
        == restarts_before
    ), "the relay failed during the pause instead of waiting for the broker"
