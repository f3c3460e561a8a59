"""A steady load of visitors' scans through the gate's three doors (single HTTP scans, HTTP
batches, the Kafka feed), sent as devices send them: each scan is retried with the same
scan id until the gate takes it (503 with Retry-After, a refused connection or a timeout
all mean "try again"; the scan API's idempotency makes a retry safe)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from cordon_testing.devices import visitor_scan

RETRY_CAP_S = 1.0
"""A device waits what Retry-After says, but at most this long (a short outage ends soon)."""


@dataclass(frozen=True)
class Door:
    """Where a stream of scans goes in: its checkpoint and its device's token."""

    channel: str  # "single", "batch" or "feed"
    checkpoint_id: str
    token: str


@dataclass
class ScanLoad:
    gate_url: str
    bootstrap: str
    scans_topic: str
    doors: Sequence[Door]
    per_second: float = 10.0
    """Scans per second through each door."""
    batch_size: int = 10
    sent: dict[str, str] = field(default_factory=dict)
    """scan id -> checkpoint id, once the gate has taken it (200, or the feed acknowledged)."""
    statuses: Counter[str] = field(default_factory=Counter)
    """Every answer and error seen, retries included: "200", "503", "ConnectError", ..."""
    unexpected: list[str] = field(default_factory=list)
    """Each answer a device should never get (neither 200 nor 503): when, where, what."""
    longest_wait_s: float = 0.0
    """The longest a scan waited from its first attempt until it was taken."""
    _number: int = 0
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _in_flight: set[asyncio.Task[None]] = field(default_factory=set)

    def next_scan(self, door: Door) -> dict[str, Any]:
        self._number += 1
        direction = "in" if self._number % 2 else "out"
        scan_id = f"{door.channel}-{self._number}"
        return visitor_scan(scan_id, door.checkpoint_id, datetime.now(UTC), direction)

    def start(self) -> None:
        for door in self.doors:
            pacer = {"single": self._single, "batch": self._batches, "feed": self._feed}
            self._tasks.append(asyncio.create_task(pacer[door.channel](door)))

    async def stop(self, drain_timeout_s: float = 180.0) -> None:
        """Stop sending new scans; wait until every scan begun has been taken."""
        self._stop.set()
        await asyncio.wait_for(asyncio.gather(*self._tasks), drain_timeout_s)
        if self._in_flight:
            await asyncio.wait_for(asyncio.gather(*self._in_flight), drain_timeout_s)

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _pace(self, every_s: float) -> bool:
        """Wait for the next send; False once stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), every_s)
        return not self._stop.is_set()

    async def _single(self, door: Door) -> None:
        async with httpx.AsyncClient(base_url=self.gate_url, timeout=10) as client:
            while await self._pace(1 / self.per_second):
                scan = self.next_scan(door)
                self._spawn(self._post(client, door, "/v1/scans", scan, [scan]))
            await asyncio.gather(*self._in_flight)

    async def _batches(self, door: Door) -> None:
        async with httpx.AsyncClient(base_url=self.gate_url, timeout=10) as client:
            while await self._pace(self.batch_size / self.per_second):
                scans = [self.next_scan(door) for _ in range(self.batch_size)]
                self._spawn(self._post(client, door, "/v1/scans/batch", {"scans": scans}, scans))
            await asyncio.gather(*self._in_flight)

    async def post(self, scan: dict[str, Any], door: Door) -> None:
        """One scan through HTTP, retried until taken (the fault run's probe)."""
        async with httpx.AsyncClient(base_url=self.gate_url, timeout=10) as client:
            await self._post(client, door, "/v1/scans", scan, [scan])

    async def _post(
        self,
        client: httpx.AsyncClient,
        door: Door,
        path: str,
        body: dict[str, Any],
        scans: list[dict[str, Any]],
    ) -> None:
        first = time.monotonic()
        headers = {"Authorization": f"Bearer {door.token}"}
        while True:
            try:
                answer = await client.post(path, json=body, headers=headers)
            except httpx.HTTPError as error:
                self.statuses[type(error).__name__] += 1
                await asyncio.sleep(0.5)
                continue
            self.statuses[str(answer.status_code)] += 1
            if answer.status_code == 200:
                break
            if answer.status_code != 503:
                stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
                self.unexpected.append(f"{stamp} {path} {answer.status_code} {answer.text[:300]}")
            retry_after = float(answer.headers.get("Retry-After", 0.5))
            await asyncio.sleep(min(RETRY_CAP_S, retry_after))
        self._taken(scans, first)

    def _taken(self, scans: list[dict[str, Any]], first: float) -> None:
        self.longest_wait_s = max(self.longest_wait_s, time.monotonic() - first)
        for scan in scans:
            self.sent[scan["scan_id"]] = scan["checkpoint_id"]

    async def _feed(self, door: Door) -> None:
        """Device gateways producing raw scans to the feed topic, keyed by checkpoint; a
        produce that fails is sent again (the gate deduplicates by scan id)."""
        producer: AIOKafkaProducer | None = None
        try:
            while await self._pace(1 / self.per_second):
                scan = self.next_scan(door)
                first = time.monotonic()
                while True:
                    try:
                        if producer is None:
                            producer = AIOKafkaProducer(
                                bootstrap_servers=self.bootstrap,
                                acks="all",
                                enable_idempotence=True,
                                request_timeout_ms=10000,
                            )
                            await asyncio.wait_for(producer.start(), 10)
                        await asyncio.wait_for(
                            producer.send_and_wait(
                                self.scans_topic,
                                json.dumps(scan).encode(),
                                key=door.checkpoint_id.encode(),
                            ),
                            15,
                        )
                        self.statuses["acked"] += 1
                        break
                    except Exception as error:  # any failure: a new producer, the same scan
                        self.statuses[type(error).__name__] += 1
                        if producer is not None:
                            with contextlib.suppress(Exception):
                                await asyncio.wait_for(producer.stop(), 5)
                            producer = None
                        await asyncio.sleep(0.5)
                self._taken([scan], first)
        finally:
            if producer is not None:
                with contextlib.suppress(Exception):
                    await producer.stop()
