#!/usr/bin/env python
"""The gate under load: a simulated district's scans through both feeds, end to end.

Run from the repository root:

    UV_PYTHON_DOWNLOADS=never uv run python bench/bench_gate.py            # full district
    UV_PYTHON_DOWNLOADS=never uv run python bench/bench_gate.py --quick    # CI smoke run

Against real Apache Kafka and PostgreSQL: the servers named by CORDON_KAFKA_BOOTSTRAP and
CORDON_DATABASE_URL when both are set, otherwise a private pair started with
``cordon_devenv.infra.start_infrastructure`` (free ports) and stopped at the end. The gate
runs as its own OS process (``python -m cordon_gate``, CORDON_LOG_LEVEL=WARNING) on a fresh
database (dropped afterwards) and fresh topics (deleted afterwards).

1. District (bench/gate_district.py): checkpoints and devices, community policies and
   passes are registered through the gate's office API; residents (and ~1% isolation
   orders) are published as registry/isolation events on their topics by stand-in
   services in this process, and the benchmark waits until the gate's read model has them.
2. Kafka feed: every scan's JSON is produced to ``<prefix>.gate.scans`` keyed by checkpoint,
   at full speed. Throughput is end to end: the gate's outcome events
   (PersonEntered/PersonExited/EntryDenied/ExitDenied) counted as they arrive on
   ``<prefix>.gate.events``, from the first produce to the last outcome ("e2e"), and over
   the middle 80% of the outcomes ("steady").
3. Raw baseline, same run: the Kafka phase's outcome rows, copied from the gate's events
   table, inserted again with plain asyncpg (``INSERT ... SELECT FROM unnest``) into a
   copy of that table in batches of CORDON_CONSUMER_BATCH_SIZE rows (the gate's consumer
   batch), one connection: rows/s. The ratios put the gate's figures beside it.
4. HTTP batches: ``POST /v1/scans/batch`` of up to ``--batch-size`` scans of one checkpoint
   (with its device's token) from ``--clients`` concurrent clients; measured as in 2.
5. Single HTTP scans, open loop: ``POST /v1/scans`` at a constant ``--rate`` for
   ``--seconds`` (requests leave on schedule whether or not earlier ones were answered,
   over at most one kept-alive connection per checkpoint device, 256 at most); decision
   latency = request written -> response read, p50/p99, and also from the scheduled send
   (which adds any wait for a free connection when the gate falls behind). ``--sweep``
   repeats this phase at other rates.

Every phase checks that each scan id sent appears exactly once as an outcome event
(by ``ce_id``, or the payload's checkpoint and scan id): lost and doubled are reported,
and the exit status is 1 when any scan was lost or doubled or a request failed.
``--profile`` samples the gate process with py-spy during the phases (see docs/benchmarks.md,
"Gate load").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gate_district import District, Scan, Shape
from harness import (
    QUIET_CORES,
    CpuMeter,
    HttpConnection,
    delete_topics,
    host_facts,
    listening_processes,
    percentile,
    processes,
    say,
)

from cordon_contracts import isolation, registry
from cordon_core.envelope import EventMetadata, PendingEvent
from cordon_core.kafka import topic_partitions
from cordon_core.observability import configure_logging
from cordon_core.runtime import ServiceRuntime
from cordon_core.settings import ServiceSettings
from cordon_core.store import StreamAppend
from cordon_devenv.infra import Infrastructure, temporary_infrastructure
from cordon_gate.domain.outcomes import OUTCOME_TYPES, scan_event_id
from cordon_testing.plugin import fresh_database, settings_env
from cordon_testing.processes import ServiceProcess

RESULTS_DIR = Path(__file__).resolve().parent / "results"
ADMIN = "bench-admin-token"
SCAN_AGE_FOR_REPLAY_S = 100 * 365 * 24 * 3600
"""The benchmark replays fixed days of 2022, decided by the gate as late scans."""
OUTCOME_CE_TYPES = {f"cordon.{t}".encode() for t in OUTCOME_TYPES}
TARGET_KAFKA_SCANS_S = 3000
TARGET_P99_MS = 25.0


def per_second_p99(timeline: Sequence[tuple[float, float]]) -> list[float]:
    """p99 latency (ms) of the requests sent in each second."""
    seconds: dict[int, list[float]] = defaultdict(list)
    for at, took in timeline:
        seconds[int(at)].append(took)
    return [
        round(percentile(sorted(seconds[s]), 99) * 1000, 1)
        for s in range(max(seconds, default=-1) + 1)
    ]


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# ----------------------------------------------------------------------- infrastructure


class StallProbe:
    """While single scans run, each every 20 ms on a connection of its own:
    ``GET /health/live`` on the gate (its event loop), ``SELECT 1`` on PostgreSQL, and a
    one-row INSERT committed on PostgreSQL (a WAL flush: the disk). A pause seen by all (and
    by the load generator's send lag) is the host's; by the gate's only, the gate process's
    (its event loop was blocked); by the commit only, the disk's."""

    def __init__(self, gate_port: int, db_url: str) -> None:
        self.gate_port, self.db_url = gate_port, db_url
        self.samples: dict[str, list[tuple[float, float]]] = {
            "gate_live": [],
            "postgres": [],
            "postgres_commit": [],
        }
        self.tasks: list[asyncio.Task[None]] = []
        self.start = 0.0

    async def _loop(self, name: str, call: Any) -> None:
        while True:
            sent = time.perf_counter()
            await call()
            self.samples[name].append((sent - self.start, time.perf_counter() - sent))
            await asyncio.sleep(max(0.0, 0.02 - (time.perf_counter() - sent)))

    async def begin(self, start: float) -> None:
        self.start = start
        http = await HttpConnection("127.0.0.1", self.gate_port).open()
        self.http = http
        self.pg = await asyncpg.connect(self.db_url)
        self.pg_commit = await asyncpg.connect(self.db_url)
        await self.pg_commit.execute(
            "CREATE TABLE IF NOT EXISTS public.bench_probe (at timestamptz NOT NULL)"
        )

        async def commit() -> None:
            await self.pg_commit.execute("INSERT INTO public.bench_probe VALUES (now())")

        async def live() -> None:
            await http.post("/health/live", "-", b"", method="GET")

        async def select() -> None:
            await self.pg.fetchval("SELECT 1")

        self.tasks = [
            asyncio.create_task(self._loop("gate_live", live)),
            asyncio.create_task(self._loop("postgres", select)),
            asyncio.create_task(self._loop("postgres_commit", commit)),
        ]

    async def end(self) -> dict[str, Any]:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.http.close()
        await self.pg.close()
        await self.pg_commit.close()
        out: dict[str, Any] = {}
        for name, samples in self.samples.items():
            took = sorted(t for _, t in samples)
            out[name] = {
                "probes": len(took),
                "p50_ms": round(percentile(took, 50) * 1000, 2),
                "p99_ms": round(percentile(took, 99) * 1000, 2),
                "max_ms": round(percentile(took, 100) * 1000, 2),
                "over_50ms": sum(1 for t in took if t > 0.05),
                "worst": [
                    {"at_s": round(at, 3), "ms": round(t * 1000, 1)}
                    for at, t in sorted(samples, key=lambda x: -x[1])[:5]
                ],
            }
        return out


# ------------------------------------------------------------------ counting the outcomes


@dataclass
class Phase:
    """One feed's scans and what reached ``<prefix>.gate.events`` for them."""

    name: str
    scans: list[Scan]
    first_id: list[str | None] = field(default_factory=list)
    records: list[int] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)
    """When each scan's first outcome arrived (perf_counter), in arrival order."""
    extra_ids: int = 0
    """Outcome records with another event id than an earlier one for the same scan."""
    redelivered: int = 0
    """The same outcome event delivered again (at-least-once relay after a crash)."""
    started: float = 0.0
    sent_done: float = 0.0
    last_arrival: float = 0.0

    def __post_init__(self) -> None:
        self.first_id = [None] * len(self.scans)
        self.records = [0] * len(self.scans)

    def record(self, index: int, event_id: str, now: float) -> None:
        if self.records[index] == 0:
            self.first_id[index] = event_id
            self.arrivals.append(now)
        elif event_id == self.first_id[index]:
            self.redelivered += 1
        else:
            self.extra_ids += 1
        self.records[index] += 1
        self.last_arrival = now

    @property
    def outcomes(self) -> int:
        return len(self.arrivals)

    @property
    def lost(self) -> int:
        return len(self.scans) - self.outcomes

    @property
    def doubled(self) -> int:
        """Scans with more than one outcome record on the topic."""
        return sum(1 for n in self.records if n > 1)

    def rates(self) -> dict[str, Any]:
        n = self.outcomes
        if n == 0 or self.last_arrival <= self.started:
            return {"e2e_scans_s": 0.0, "steady_scans_s": 0.0, "seconds": 0.0}
        lo, hi = int(n * 0.1), max(int(n * 0.9) - 1, 0)
        span = self.arrivals[hi] - self.arrivals[lo]
        timeline = Counter(int(t - self.started) for t in self.arrivals)
        per_second = [timeline.get(s, 0) for s in range(int(self.last_arrival - self.started) + 1)]
        return {
            "seconds": round(self.last_arrival - self.started, 3),
            "e2e_scans_s": round(n / (self.last_arrival - self.started), 1),
            "steady_scans_s": round((hi - lo) / span, 1) if span > 0 else 0.0,
            "first_outcome_after_s": round(self.arrivals[0] - self.started, 3),
            "sent_after_s": round(self.sent_done - self.started, 3),
            "outcomes_per_second": per_second,
        }


class OutcomeCollector:
    """Reads ``<prefix>.gate.events`` from the beginning, as an outside consumer would, and
    attributes each outcome record to its scan: by the event id the gate derives from the
    scan id, or (an id we did not expect) by the payload's checkpoint and scan id."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.by_id: dict[bytes, tuple[Phase, int]] = {}
        self.by_scan: dict[tuple[str, str], tuple[Phase, int]] = {}
        self.unattributed = 0
        self.task: asyncio.Task[None] | None = None
        self.consumer: AIOKafkaConsumer | None = None

    def add(self, phase: Phase) -> None:
        for i, scan in enumerate(phase.scans):
            event_id = scan_event_id(scan.checkpoint_id, scan.scan_id, "outcome")
            self.by_id[str(event_id).encode()] = (phase, i)
            self.by_scan[(scan.checkpoint_id, scan.scan_id)] = (phase, i)

    async def start(self) -> None:
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=8 << 20,
            fetch_max_bytes=32 << 20,
        )
        await self.consumer.start()
        await asyncio.sleep(0)
        partitions = await topic_partitions(self.consumer, [self.topic])
        self.consumer.assign(partitions)
        await self.consumer.seek_to_beginning(*partitions)
        self.task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        if self.consumer:
            await self.consumer.stop()

    async def _run(self) -> None:
        assert self.consumer is not None
        while True:
            batch = await self.consumer.getmany(timeout_ms=100, max_records=20000)
            now = time.perf_counter()
            for records in batch.values():
                for record in records:
                    headers = dict(record.headers or ())
                    if headers.get("ce_type") not in OUTCOME_CE_TYPES:
                        continue
                    event_id = bytes(headers.get("ce_id") or b"")
                    hit = self.by_id.get(event_id)
                    if hit is None:
                        payload = json.loads(record.value)
                        hit = self.by_scan.get((payload["checkpoint_id"], payload["scan_id"]))
                        if hit is None:
                            self.unattributed += 1
                            continue
                    hit[0].record(hit[1], event_id.decode(), now)

    async def drain(self, phase: Phase, idle_timeout: float) -> None:
        """Until every scan of ``phase`` has its outcome, or none came for ``idle_timeout``."""
        last_count, last_change = -1, time.perf_counter()
        while phase.outcomes < len(phase.scans):
            await asyncio.sleep(0.05)
            if phase.outcomes != last_count:
                last_count, last_change = phase.outcomes, time.perf_counter()
            elif time.perf_counter() - last_change > idle_timeout:
                say(f"      no new outcome for {idle_timeout:.0f}s: stopping the wait")
                break
        await asyncio.sleep(0.5)  # a doubled record would come right behind the first


# -------------------------------------------------------------------- gate /metrics


METRIC_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


async def scrape(url: str) -> dict[str, float]:
    async with httpx.AsyncClient(timeout=10) as client:
        text = (await client.get(f"{url}/metrics")).text
    out: dict[str, float] = {}
    for line in text.splitlines():
        m = METRIC_LINE.match(line)
        if m and not line.startswith("#"):
            with contextlib.suppress(ValueError):
                out[m[1] + (m[2] or "")] = float(m[3])
    return out


def metric_delta(
    before: dict[str, float], after: dict[str, float], name: str, **labels: str
) -> float:
    total = 0.0
    for key, value in after.items():
        if key.split("{")[0] == name and all(f'{k}="{v}"' in key for k, v in labels.items()):
            total += value - before.get(key, 0.0)
    return total


def gate_internals(before: dict[str, float], after: dict[str, float]) -> dict[str, Any]:
    """Consumer and relay batches during a phase, from the gate's Prometheus metrics."""
    feed = "gate-scan-feed"
    batches = metric_delta(before, after, "cordon_consumer_batch_seconds_count", group=feed)
    applied = metric_delta(
        before, after, "cordon_consumer_events_total", group=feed, outcome="applied"
    )
    batch_s = metric_delta(before, after, "cordon_consumer_batch_seconds_sum", group=feed)
    relay_batches = metric_delta(before, after, "cordon_relay_batch_seconds_count")
    relay_s = metric_delta(before, after, "cordon_relay_batch_seconds_sum")
    published = metric_delta(before, after, "cordon_relay_published_total")
    return {
        "feed_batches": int(batches),
        "feed_scans_applied": int(applied),
        "feed_mean_batch": round(applied / batches, 1) if batches else None,
        "feed_mean_batch_ms": round(batch_s / batches * 1000, 1) if batches else None,
        "feed_busy_s": round(batch_s, 2),
        "relay_batches": int(relay_batches),
        "relay_published": int(published),
        "relay_mean_batch": round(published / relay_batches, 1) if relay_batches else None,
        "relay_mean_batch_ms": round(relay_s / relay_batches * 1000, 1) if relay_batches else None,
        "relay_busy_s": round(relay_s, 2),
    }


# -------------------------------------------------------------------------- profiling


class Profiler:
    """py-spy sampling the gate process during a phase (``--profile``)."""

    def __init__(self, py_spy: str | None, pid: int, out_dir: Path, stamp: str) -> None:
        self.py_spy, self.pid, self.out_dir, self.stamp = py_spy, pid, out_dir, stamp
        self.proc: subprocess.Popen[bytes] | None = None
        self.path: Path | None = None

    def start(self, phase: str) -> None:
        if not self.py_spy:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.out_dir / f"gate-profile-{self.stamp}-{phase}.txt"
        self.proc = subprocess.Popen(
            [
                self.py_spy,
                "record",
                "--pid",
                str(self.pid),
                "--rate",
                "200",
                "--nonblocking",
                "--format",
                "raw",
                "--output",
                str(self.path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def stop(self) -> dict[str, Any] | None:
        if self.proc is None or self.path is None:
            return None
        self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        self.proc = None
        if not self.path.exists():
            say(f"      py-spy wrote nothing: {err.decode(errors='replace')[-300:]}")
            return None
        return summarize_profile(self.path)


FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


PLUMBING = (
    "asyncio/",
    "<frozen runpy>",
    "uvicorn/main.py",
    "uvicorn/server.py",
    "uvicorn/_compat.py",
    "cordon_gate/__main__.py",
    "selectors.py",
)
"""Frames every sample of the gate's event loop passes through: left out of "inclusive"."""


def summarize_profile(path: Path, top: int = 40) -> dict[str, Any]:
    """Inclusive (event-loop plumbing left out) and self shares of the samples per function,
    from py-spy's raw output (collapsed stacks: ``frame;frame;... count``). py-spy counts
    only samples where the gate's thread was running or runnable, not waiting in epoll."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        names = []
        for frame in stack.split(";"):
            m = FRAME.match(frame)
            if m:
                file = m["file"]
                short = file.split("site-packages/")[-1].split("/src/")[-1]
                names.append(f"{m['func']} ({short})")
            else:
                names.append(frame)
        for name in set(names):
            if not any(p in name for p in PLUMBING):
                inclusive[name] += count
        if names:
            own[names[-1]] += count
    return {
        "file": str(path),
        "samples": total,
        "inclusive": [(n, round(c / total * 100, 1)) for n, c in inclusive.most_common(top)]
        if total
        else [],
        "self": [(n, round(c / total * 100, 1)) for n, c in own.most_common(top)] if total else [],
    }


# ---------------------------------------------------------------------------- the bench


@dataclass
class Scale:
    communities: int
    checkpoints: int
    residents: int
    visitors: int
    scans: int
    rate: float
    seconds: float
    batch_size: int
    clients: int
    drain_timeout: float
    quiet_wait: float


def scale_from(args: argparse.Namespace) -> Scale:
    quick = args.quick
    return Scale(
        communities=args.communities or (4 if quick else 30),
        checkpoints=args.checkpoints or (20 if quick else 300),
        residents=args.residents or (2_000 if quick else 30_000),
        visitors=200 if quick else 3_000,
        scans=args.scans or (2_000 if quick else 60_000),
        rate=args.rate or (50.0 if quick else 300.0),
        seconds=args.seconds or (5.0 if quick else 20.0),
        batch_size=args.batch_size or (200 if quick else 250),
        clients=args.clients,
        drain_timeout=args.drain_timeout or (15.0 if quick else 60.0),
        quiet_wait=args.quiet_wait if args.quiet_wait is not None else (0.0 if quick else 90.0),
    )


class Bench:
    def __init__(self, args: argparse.Namespace, srv: Infrastructure, db_url: str) -> None:
        self.args = args
        self.scale = scale_from(args)
        self.srv = srv
        self.db_url = db_url
        self.prefix = f"gatebench-{uuid.uuid4().hex[:8]}"
        self.settings = ServiceSettings(
            database_url=db_url,
            kafka_bootstrap=srv.kafka_bootstrap,
            kafka_idempotence=srv.kafka_idempotence,
            topic_prefix=self.prefix,
            topic_partitions=args.partitions,
            log_level="WARNING",
            log_json=True,
        )
        self.district = District.generate(
            Shape(
                communities=self.scale.communities,
                checkpoints=self.scale.checkpoints,
                residents=self.scale.residents,
                visitors=self.scale.visitors,
            ),
            seed=args.seed,
        )
        self.tokens: dict[str, str] = {}
        self.gate: ServiceProcess | None = None
        self.results: dict[str, Any] = {}
        self.failures: list[str] = []

    # ----------------------------------------------------------------------- setup

    async def start_gate(self, log_dir: Path) -> ServiceProcess:
        env = {
            **settings_env(self.settings),
            "CORDON_GATE_ADMIN_TOKEN": ADMIN,
            "CORDON_LOG_LEVEL": "WARNING",
            "CORDON_TIMEZONE": "Asia/Shanghai",
            # The district's days are in April 2022: open the late-scan window to them.
            "CORDON_MAX_SCAN_AGE_S": str(SCAN_AGE_FOR_REPLAY_S),
        }
        self.gate = ServiceProcess("cordon_gate", env, log_dir)
        await asyncio.to_thread(self.gate.start)
        return self.gate

    async def register_district(self) -> None:
        gate, d = self.gate, self.district
        assert gate is not None
        limit = asyncio.Semaphore(8)
        async with httpx.AsyncClient(
            base_url=gate.url, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30
        ) as client:

            async def call(method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
                async with limit:
                    response = await client.request(method, path, json=body)
                if response.status_code not in (200, 201):
                    raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
                answer: dict[str, Any] = response.json()
                return answer

            async def checkpoint(spec: Any) -> None:
                await call("POST", "/v1/checkpoints", spec.body())
                device = await call(
                    "POST",
                    f"/v1/checkpoints/{spec.checkpoint_id}/devices",
                    {"device_id": f"{spec.checkpoint_id}-pad"},
                )
                self.tokens[spec.checkpoint_id] = device["token"]

            async def issue(spec: Any) -> None:
                issued = await call("POST", "/v1/passes", spec.body())
                spec.pass_id, spec.code = issued["pass_id"], issued["pass_code"]
                if spec.revoke:
                    await call(
                        "POST", f"/v1/passes/{spec.pass_id}/revoke", {"reason_code": "pass_lent"}
                    )

            await asyncio.gather(*(checkpoint(c) for c in d.checkpoints))
            await asyncio.gather(
                *(
                    call("PUT", f"/v1/communities/{c}/gate-policy", body)
                    for c, body in d.policies.items()
                )
            )
            await asyncio.gather(*(issue(p) for p in d.passes))

    async def publish_people(
        self, registry_rt: ServiceRuntime, isolation_rt: ServiceRuntime
    ) -> None:
        d = self.district
        district = self.settings.district
        appends = []
        for household, members in d.households().items():
            first = members[0]
            appends.append(
                StreamAppend(
                    f"household:{household}",
                    [
                        PendingEvent(
                            registry.ResidentRegistered(
                                person_id=r.person_id,
                                household_id=r.household_id,
                                building_id=r.building_id,
                                compound_id=r.compound_id,
                                grid_id=r.grid_id,
                                community_id=r.community_id,
                                sub_district_id=r.sub_district_id,
                                residence_type=r.residence_type,  # type: ignore[arg-type]
                                registered_at=datetime(2022, 3, 1, tzinfo=UTC),
                            )
                        )
                        for r in members
                    ],
                    None,
                    EventMetadata.new(
                        actor="bench", district=district, community=first.community_id
                    ),
                )
            )
        for chunk in chunks(appends, 2000):
            await registry_rt.store.append_many(chunk)
        orders = [
            StreamAppend(
                f"person:{r.person_id}",
                [
                    PendingEvent(
                        isolation.IsolationStarted(
                            order_id=f"o-{r.person_id}",
                            person_id=r.person_id,
                            level=r.isolation_level,  # type: ignore[arg-type]
                            community_id=r.community_id,
                            reason="close contact",
                            starts_at=datetime(2022, 3, 28, tzinfo=UTC),
                            planned_end_at=datetime(2022, 4, 20, tzinfo=UTC),
                        )
                    )
                ],
                None,
                EventMetadata.new(actor="bench", district=district, community=r.community_id),
            )
            for r in d.residents
            if r.isolation_level
        ]
        for chunk in chunks(orders, 2000):
            await isolation_rt.store.append_many(chunk)

    async def wait_for_people(self) -> float:
        want = len(self.district.residents)
        isolated = sum(1 for r in self.district.residents if r.isolation_level)
        started = time.perf_counter()
        conn = await asyncpg.connect(self.db_url)
        try:
            last, since = -1, time.perf_counter()
            while True:
                row = await conn.fetchrow(
                    "SELECT count(community_id) AS known, count(isolation_level) AS isolated"
                    " FROM gate.person_status"
                )
                assert row is not None
                if row["known"] >= want and row["isolated"] >= isolated:
                    return time.perf_counter() - started
                if row["known"] != last:
                    last, since = row["known"], time.perf_counter()
                elif time.perf_counter() - since > 120:
                    raise RuntimeError(f"the gate knows only {last} of {want} residents")
                await asyncio.sleep(0.25)
        finally:
            await conn.close()

    # ---------------------------------------------------------------------- phases

    async def kafka_feed(self, phase: Phase, collector: OutcomeCollector) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.srv.kafka_bootstrap,
            acks="all",
            enable_idempotence=self.srv.kafka_idempotence,
            linger_ms=10,
            max_batch_size=1 << 20,
            max_request_size=8 << 20,
        )
        await producer.start()
        try:
            topic = f"{self.prefix}.gate.scans"
            phase.started = time.perf_counter()
            futures = []
            for i, s in enumerate(phase.scans):
                futures.append(await producer.send(topic, s.body, key=s.checkpoint_id.encode()))
                if i % 256 == 255:
                    await asyncio.sleep(0)  # let the collector stamp outcomes as they come
            await asyncio.gather(*futures)
            phase.sent_done = time.perf_counter()
        finally:
            await producer.stop()
        await collector.drain(phase, self.scale.drain_timeout)

    async def http_batches(self, phase: Phase, collector: OutcomeCollector) -> dict[str, Any]:
        assert self.gate is not None
        by_checkpoint: dict[str, list[tuple[int, Scan]]] = defaultdict(list)
        for i, scan in enumerate(phase.scans):
            by_checkpoint[scan.checkpoint_id].append((i, scan))
        batches = [
            list(chunk)
            for scans in by_checkpoint.values()
            for chunk in chunks(scans, self.scale.batch_size)
        ]
        batches.sort(key=lambda b: b[0][0])  # as a district's gateways would send them
        queue = list(reversed(batches))
        latencies: list[float] = []
        retries = Counter[int]()
        errors: list[str] = []

        made: list[HttpConnection] = []

        async def client() -> None:
            conn = await HttpConnection("127.0.0.1", self.gate.port).open()  # type: ignore[union-attr]
            made.append(conn)
            try:
                while queue:
                    batch = queue.pop()
                    checkpoint = batch[0][1].checkpoint_id
                    body = b'{"scans":[' + b",".join(s.body for _, s in batch) + b"]}"
                    for _ in range(50):
                        sent = time.perf_counter()
                        status, answer = await conn.post(
                            "/v1/scans/batch", self.tokens[checkpoint], body
                        )
                        latencies.append(time.perf_counter() - sent)
                        if status == 200:
                            if answer.count(b'"scan_id"') != len(batch):
                                errors.append(f"{checkpoint}: {len(batch)} sent, other count back")
                            break
                        if status in (500, 503):
                            retries[status] += 1
                            await asyncio.sleep(0.02)
                            continue
                        errors.append(f"{checkpoint}: {status} {answer[:300]!r}")
                        break
            finally:
                conn.close()

        phase.started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(self.scale.clients)))
        phase.sent_done = time.perf_counter()
        await collector.drain(phase, self.scale.drain_timeout)
        lat = sorted(latencies)
        return {
            "requests": len(batches),
            "mean_batch": round(len(phase.scans) / len(batches), 1) if batches else 0,
            "clients": self.scale.clients,
            "request_ms": {
                "p50": round(percentile(lat, 50) * 1000, 1),
                "p99": round(percentile(lat, 99) * 1000, 1),
            },
            "retries": dict(retries),
            "reconnects": sum(c.reconnects for c in made),
            "errors": errors[:20],
            "error_count": len(errors),
        }

    async def http_singles(
        self, phase: Phase, collector: OutcomeCollector, rate: float | None = None
    ) -> dict[str, Any]:
        assert self.gate is not None
        port = self.gate.port
        rate = rate or self.scale.rate
        # One kept-alive connection per device at most (no more than 256): when the gate
        # falls behind, scans wait for a free connection instead of opening thousands.
        cap = max(16, min(len(self.district.checkpoints), 256))
        idle: asyncio.LifoQueue[HttpConnection] = asyncio.LifoQueue()
        made = [await HttpConnection("127.0.0.1", port).open() for _ in range(16)]
        for conn in made:
            idle.put_nowait(conn)
        sent_to_answer: list[float] = []
        schedule_to_answer: list[float] = []
        send_lag: list[float] = []
        timeline: list[tuple[float, float]] = []
        retries = Counter[int]()
        errors: list[str] = []

        async def one(scan: Scan, scheduled: float) -> None:
            if idle.empty() and len(made) < cap:
                conn = HttpConnection("127.0.0.1", port)
                made.append(conn)
            else:
                conn = await idle.get()
            token = self.tokens[scan.checkpoint_id]
            try:
                for attempt in range(50):
                    sent = time.perf_counter()
                    status, answer = await conn.post("/v1/scans", token, scan.body)
                    answered = time.perf_counter()
                    if attempt == 0:
                        send_lag.append(sent - scheduled)
                    if status == 200:
                        sent_to_answer.append(answered - sent)
                        timeline.append((sent - start, answered - sent))
                        schedule_to_answer.append(answered - scheduled)
                        break
                    if status in (500, 503):
                        retries[status] += 1
                        await asyncio.sleep(0.01)
                        continue
                    errors.append(f"{scan.scan_id}: {status} {answer[:300]!r}")
                    break
            except (ConnectionError, asyncio.IncompleteReadError) as error:
                errors.append(f"{scan.scan_id}: {error!r}")
                conn.close()
            idle.put_nowait(conn)

        tasks = []
        phase.started = start = time.perf_counter() + 0.05
        probe = StallProbe(port, self.db_url)
        await probe.begin(start)
        for i, scan in enumerate(phase.scans):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(scan, scheduled)))
        last_sent = time.perf_counter()
        await asyncio.gather(*tasks)
        phase.sent_done = time.perf_counter()
        stalls = await probe.end()
        for conn in made:
            conn.close()
        await collector.drain(phase, self.scale.drain_timeout)
        lat = sorted(sent_to_answer)
        sched = sorted(schedule_to_answer)
        lag = sorted(send_lag)

        def ms(values: Sequence[float], pct: float) -> float:
            return round(percentile(values, pct) * 1000, 2)

        return {
            "rate": rate,
            "seconds": round(len(phase.scans) / rate, 3),
            "offered_rate": round(len(phase.scans) / max(last_sent - start, 1e-9), 1),
            "latency_ms": {
                "p50": ms(lat, 50),
                "p90": ms(lat, 90),
                "p99": ms(lat, 99),
                "max": ms(lat, 100),
                "mean": round(statistics.fmean(lat) * 1000, 2) if lat else 0.0,
            },
            "from_schedule_ms": {"p50": ms(sched, 50), "p99": ms(sched, 99)},
            "send_lag_ms": {"p50": ms(lag, 50), "p99": ms(lag, 99), "max": ms(lag, 100)},
            "connections": len(made),
            "reconnects": sum(c.reconnects for c in made),
            "probes": stalls,
            "p99_ms_per_second": per_second_p99(timeline),
            "slowest": [
                {"at_s": round(at, 3), "ms": round(took * 1000, 1)}
                for at, took in sorted(timeline, key=lambda x: -x[1])[:20]
            ],
            "retries": dict(retries),
            "errors": errors[:20],
            "error_count": len(errors),
        }

    async def raw_baseline(self, actor: str, tag: str) -> dict[str, Any]:
        """The Kafka phase's outcome rows inserted again with plain asyncpg into a copy of
        the events table, in batches of the gate's consumer batch size, one connection."""
        batch = self.settings.consumer_batch_size
        columns = (
            "event_id, stream_id, stream_version, partition_key, event_type, schema_version,"
            " payload, occurred_at, correlation_id, causation_id, actor, district, community"
        )
        conn = await asyncpg.connect(self.db_url)
        try:
            await conn.execute(
                "CREATE SCHEMA bench_raw;"
                " CREATE TABLE bench_raw.events (LIKE gate.events INCLUDING ALL)"
            )
            rows = await conn.fetch(
                f"SELECT {columns.replace('payload', 'payload::text AS payload')}"
                " FROM gate.events WHERE actor = $1 AND event_type = ANY($2::text[])"
                " AND payload->>'scan_id' LIKE $3 ORDER BY global_position",
                actor,
                list(OUTCOME_TYPES),
                f"{tag}-%",
            )
            if not rows:
                return {"rows": 0, "rows_s": 0.0, "batch": batch}
            insert = f"""INSERT INTO bench_raw.events ({columns})
                SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[],
                    $5::text[], $6::int[], $7::jsonb[], $8::timestamptz[], $9::uuid[],
                    $10::uuid[], $11::text[], $12::text[], $13::text[])"""
            params = [
                [list(col) for col in zip(*chunk, strict=True)] for chunk in chunks(rows, batch)
            ]
            await conn.execute("CHECKPOINT")
            started = time.perf_counter()
            for p in params:
                await conn.execute(insert, *p)
            elapsed = time.perf_counter() - started
            width = await conn.fetchval(
                "SELECT avg(pg_column_size(e.*))::int FROM bench_raw.events e"
            )
        finally:
            await conn.close()
        return {
            "rows": len(rows),
            "batch": batch,
            "seconds": round(elapsed, 3),
            "rows_s": round(len(rows) / elapsed, 1),
            "row_bytes": width,
        }

    # ------------------------------------------------------------------------- run

    async def run(self, log_dir: Path) -> int:
        s, d = self.scale, self.district
        say(
            f"district: {len(d.communities)} communities, {len(d.checkpoints)} checkpoints"
            f" ({sum(1 for c in d.checkpoints if not c.is_open)} closed), {len(d.residents):,}"
            f" residents ({sum(1 for r in d.residents if r.isolation_level)} isolated),"
            f" {len(d.passes)} passes, {len(d.visitors):,} visitors; seed {d.seed}"
        )
        gate = await self.start_gate(log_dir)
        assert gate.process is not None
        say(f"gate: pid {gate.process.pid} at {gate.url}, topics {self.prefix}.*")
        meter = CpuMeter(
            gate=processes(gate.process.pid),
            servers=listening_processes(self.srv.kafka_bootstrap, self.srv.database_url),
        )
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        if self.args.profile and not self.args.py_spy:
            say("--profile: py-spy not found (uv pip install py-spy, or --py-spy PATH): no profile")
        profiler = Profiler(
            self.args.py_spy if self.args.profile else None, gate.process.pid, RESULTS_DIR, stamp
        )
        registry_rt = ServiceRuntime(
            service="registry", settings=self.settings, registry=registry.registry
        )
        isolation_rt = ServiceRuntime(
            service="isolation", settings=self.settings, registry=isolation.registry
        )
        collector = OutcomeCollector(self.srv.kafka_bootstrap, f"{self.prefix}.gate.events")
        async with registry_rt.running(), isolation_rt.running():
            # People first: the gate issues a pass only to a resident it has heard of.
            t = time.perf_counter()
            await self.publish_people(registry_rt, isolation_rt)
            waited = await self.wait_for_people()
            say(
                f"  residents published and known to the gate in {time.perf_counter() - t:.1f}s"
                f" (read model caught up {waited:.1f}s after publishing began)"
            )
            t = time.perf_counter()
            await self.register_district()
            took = time.perf_counter() - t
            say(f"  office API: checkpoints, devices, policies, passes in {took:.1f}s")
        phases = {
            "warmup": Phase("warmup", d.scans("w", min(500, s.scans // 4), day=0)),
            "kafka": Phase("kafka", d.scans("k", s.scans, day=1)),
            "batch": Phase("batch", d.scans("b", s.scans, day=2)),
            "single_warmup": Phase("single_warmup", d.scans("v", int(min(s.rate * 2, 600)), day=4)),
            "single": Phase("single", d.scans("s", int(s.rate * s.seconds), day=3)),
        }
        only = set(self.args.only.split(",")) if self.args.only else None
        a = meter.sample()
        await asyncio.sleep(3.0)
        idle = meter.cores(a, meter.sample())
        self.results["idle_cores"] = idle
        say(f"  idle for 3s: cores {idle}")
        for phase in phases.values():
            collector.add(phase)
        await collector.start()
        try:
            say(f"warm-up: {len(phases['warmup'].scans)} scans through the Kafka feed ...")
            await self.kafka_feed(phases["warmup"], collector)
            self.account("warmup", phases["warmup"], None, None, None)

            if not only or "kafka" in only:
                say(f"kafka feed: {s.scans:,} scans produced at full speed ...")
                await self.measured("kafka", phases["kafka"], collector, meter, profiler)
                if not only or "raw" in only:
                    size = self.settings.consumer_batch_size
                    say(f"raw baseline: the same rows, asyncpg, batches of {size} ...")
                    await self.flush_disk()
                    await meter.settle(s.quiet_wait)
                    a = meter.sample()
                    raw = await self.raw_baseline("feed", "k")
                    raw["cores"] = meter.cores(a, meter.sample())
                    self.results["raw"] = raw
                    say(f"      {raw['rows_s']:,.0f} rows/s; cores {raw['cores']}")
            if not only or "batch" in only:
                say(
                    f"http batches: {s.scans:,} scans, up to {s.batch_size} a request,"
                    f" {s.clients} clients ..."
                )
                await self.measured("batch", phases["batch"], collector, meter, profiler)
            if not only or "single" in only:
                await self.flush_disk()
                await meter.settle(s.quiet_wait)
                warm = phases["single_warmup"]
                say(f"http single scans: warm-up, {len(warm.scans)} scans at {s.rate:g}/s ...")
                warmed = await self.http_singles(warm, collector)
                self.account("single_warmup", warm, None, None, warmed)
                say(f"http single scans: {s.rate:g}/s for {s.seconds:g}s, open loop ...")
                await self.measured(
                    "single", phases["single"], collector, meter, profiler, settle=False
                )
            for n, rate in enumerate(self.args.sweep or ()):
                phase = Phase(
                    f"single@{rate:g}", d.scans(f"r{n}", int(rate * s.seconds), day=5 + n)
                )
                collector.add(phase)
                say(f"http single scans (sweep): {rate:g}/s for {s.seconds:g}s, open loop ...")
                await self.measured(phase.name, phase, collector, meter, profiler, rate=rate)
        finally:
            await collector.stop()
        if collector.unattributed:
            self.results["unattributed_outcomes"] = collector.unattributed
        return 1 if self.failures else 0

    async def flush_disk(self) -> None:
        """Start a phase with what the phases before it wrote on disk: a CHECKPOINT, then
        the kernel's dirty pages (Kafka's logs among them) written out. Otherwise their
        writeback lands in the next phase and stalls its commits (one 0.8 s WAL flush in
        the single-scan phase after the two throughput phases, on an idle host). And this
        process's own heap frozen (below)."""
        started = time.perf_counter()
        conn = await asyncpg.connect(self.db_url)
        try:
            await conn.execute("CHECKPOINT")
        finally:
            await conn.close()
        await asyncio.to_thread(os.sync)
        await self.settle_commits(conn_url=self.db_url)
        # This process holds the whole district and every phase's scans: a full collection
        # of that heap paused it for ~200 ms, which showed as a late send and a slow answer
        # (and a burst for the gate after it). Frozen, it is not walked again.
        gc.collect()
        gc.freeze()
        say(f"      checkpoint, sync and heap frozen: {time.perf_counter() - started:.1f}s")

    async def settle_commits(self, conn_url: str, max_wait: float = 60.0) -> None:
        """Wait (up to ``max_wait`` s) until one-row commits are steady again: a second of
        them with none over 20 ms. Right after the throughput phases, WAL flushes here
        stalled for 0.1-0.8 s at times (the disk still busy with what they wrote and
        removed); the single-scan phase measures the gate, so it waits for that to pass."""
        conn = await asyncpg.connect(conn_url)
        started = time.perf_counter()
        try:
            await conn.execute("CREATE TABLE IF NOT EXISTS public.bench_settle (at timestamptz)")
            while time.perf_counter() - started < max_wait:
                worst, began = 0.0, time.perf_counter()
                while time.perf_counter() - began < 1.0:
                    t = time.perf_counter()
                    await conn.execute("INSERT INTO public.bench_settle VALUES (now())")
                    worst = max(worst, time.perf_counter() - t)
                    await asyncio.sleep(0.01)
                if worst < 0.020:
                    break
        finally:
            await conn.close()
        say(f"      commits steady after {time.perf_counter() - started:.1f}s")

    async def measured(
        self,
        name: str,
        phase: Phase,
        collector: OutcomeCollector,
        meter: CpuMeter,
        profiler: Profiler,
        *,
        settle: bool = True,
        rate: float | None = None,
    ) -> None:
        assert self.gate is not None
        if settle:
            await self.flush_disk()
        waited = await meter.settle(self.scale.quiet_wait) if settle else 0.0
        before = await scrape(self.gate.url)
        profiler.start(name)
        a = meter.sample()
        extra: dict[str, Any] = {}
        if name == "kafka":
            await self.kafka_feed(phase, collector)
        elif name == "batch":
            extra = await self.http_batches(phase, collector)
        else:
            extra = await self.http_singles(phase, collector, rate)
        b = meter.sample()
        profile = profiler.stop()
        after = await scrape(self.gate.url)
        self.account(name, phase, meter.cores(a, b), gate_internals(before, after), extra)
        self.results[name]["quiet_wait_s"] = round(waited, 1)
        if profile:
            self.results[name]["profile"] = profile

    def account(
        self,
        name: str,
        phase: Phase,
        cores: dict[str, float | None] | None,
        internals: dict[str, Any] | None,
        extra: dict[str, Any] | None,
    ) -> None:
        result: dict[str, Any] = {
            "scans": len(phase.scans),
            "outcomes": phase.outcomes,
            "lost": phase.lost,
            "doubled": phase.doubled,
            "extra_event_ids": phase.extra_ids,
            "redelivered": phase.redelivered,
            **phase.rates(),
        }
        if cores:
            result["cores"] = cores
            if phase.outcomes:
                idle = self.results.get("idle_cores") or {}
                for who in ("gate", "servers"):
                    used = cores.get(who)
                    if used is not None and cores.get("wall_s"):
                        used = max(0.0, used - (idle.get(who) or 0.0))  # net of idle work
                        cpu_us = used * (cores["wall_s"] or 0.0) / phase.outcomes * 1e6
                        result[f"{who}_cpu_us_per_scan"] = round(cpu_us, 1)
        if internals:
            result["gate"] = internals
        if extra:
            result.update(extra)
        self.results[name] = result
        bad = phase.lost or phase.doubled or (extra or {}).get("error_count")
        if bad:
            self.failures.append(name)
        if name != "warmup":
            say(
                f"      {result['outcomes']:,}/{result['scans']:,} outcomes"
                f" in {result['seconds']}s:"
                f" e2e {result['e2e_scans_s']:,.0f}/s, steady {result['steady_scans_s']:,.0f}/s;"
                f" lost {phase.lost}, doubled {phase.doubled}"
                + (f"; cores {cores}" if cores else "")
            )
        say(
            f"RESULT feed={name} scans={len(phase.scans)} outcomes={phase.outcomes}"
            f" lost={phase.lost} doubled={phase.doubled}"
            f" errors={(extra or {}).get('error_count', 0)}"
        )


# ------------------------------------------------------------------------------ report


def render(
    results: dict[str, Any], scale: Scale, machine: dict[str, Any], quick: bool = False
) -> str:
    rows = []
    raw = results.get("raw", {}).get("rows_s") or 0.0

    def fmt(v: float | None, spec: str = ",.0f") -> str:
        return "-" if v is None else format(v, spec)

    def cores(r: dict[str, Any]) -> str:
        c = r.get("cores") or {}
        parts = [
            f"{k} {c[k]:.2f}"
            for k in ("gate", "servers", "bench", "others")
            if c.get(k) is not None
        ]
        return ", ".join(parts)

    labels = {
        "kafka": "Kafka feed (full speed)",
        "batch": f"HTTP batches ({scale.clients} clients)",
        "single": f"HTTP single ({scale.rate:g}/s open loop)",
    }
    header = (
        f"{'feed':<30} {'scans':>7} {'e2e/s':>7} {'steady/s':>9} {'p50 ms':>7} {'p99 ms':>7}"
        f" {'lost':>5} {'doubled':>7} {'/raw':>6} {'gate CPU':>9}  cores used"
    )
    rows.append(header)
    rows.append("-" * len(header))
    for key, label in labels.items():
        r = results.get(key)
        if not r:
            continue
        lat = r.get("latency_ms") or {}
        ratio = r["steady_scans_s"] / raw if raw and key != "single" else None
        rows.append(
            f"{label:<30} {r['scans']:>7,} {fmt(r['e2e_scans_s']):>7} {fmt(r['steady_scans_s']):>9}"
            f" {fmt(lat.get('p50'), '.1f'):>7} {fmt(lat.get('p99'), '.1f'):>7}"
            f" {r['lost']:>5} {r['doubled']:>7} {fmt(ratio, '.3f'):>6}"
            f" {fmt(r.get('gate_cpu_us_per_scan'), ',.0f'):>6} us  {cores(r)}"
        )
    if "raw" in results:
        r = results["raw"]
        rows.append(
            f"{'raw asyncpg INSERT baseline':<30} {r['rows']:>7,} {'':>7} {fmt(r['rows_s']):>9}"
            f"   rows/s, batches of {r['batch']}, {r.get('row_bytes')} bytes a row; {cores(r)}"
        )
    lines = [
        "",
        "\n".join(rows),
        "(e2e: first scan sent -> last outcome on Kafka; steady: the middle 80% of the outcomes;"
        " /raw: steady / raw baseline; gate CPU: the gate process's CPU time per scan, net of"
        " its idle use;"
        " cores: gate process, Kafka + PostgreSQL, this load generator, other programs)",
        "",
    ]
    if "kafka" in results:
        k = results["kafka"]
        g = k.get("gate", {})
        lines.append(
            f"Kafka feed: produced in {k.get('sent_after_s')}s, first outcome after"
            f" {k.get('first_outcome_after_s')}s; gate consumer {g.get('feed_batches')} batches,"
            f" mean {g.get('feed_mean_batch')} scans, {g.get('feed_mean_batch_ms')} ms each"
            f" ({g.get('feed_busy_s')} s busy); relay {g.get('relay_batches')} batches,"
            f" mean {g.get('relay_mean_batch')} events, {g.get('relay_mean_batch_ms')} ms each"
        )
    if "batch" in results:
        b = results["batch"]
        lines.append(
            f"HTTP batches: {b['requests']} requests, mean {b['mean_batch']} scans,"
            f" request p50 {b['request_ms']['p50']} ms / p99 {b['request_ms']['p99']} ms,"
            f" retries {b['retries'] or 0}, errors {b['error_count']}"
        )
    if "single" in results:
        s = results["single"]
        lines.append(
            f"HTTP single: offered {s['offered_rate']}/s; latency p50 {s['latency_ms']['p50']}"
            f" / p90 {s['latency_ms']['p90']} / p99 {s['latency_ms']['p99']} / max"
            f" {s['latency_ms']['max']} ms (from the scheduled send: p99"
            f" {s['from_schedule_ms']['p99']} ms; send lag p99 {s['send_lag_ms']['p99']} ms);"
            f" {s['connections']} connections, retries {s['retries'] or 0},"
            f" errors {s['error_count']}"
        )

    def probes(r: dict[str, Any]) -> str:
        p = r.get("probes") or {}
        names = {
            "gate_live": "gate /health/live",
            "postgres": "SELECT 1",
            "postgres_commit": "commit",
        }
        return "; ".join(
            f"{label} p99 {p[key]['p99_ms']} / max {p[key]['max_ms']} ms"
            for key, label in names.items()
            if key in p
        )

    if "single" in results:
        lines.append(f"  probes meanwhile: {probes(results['single'])}")
    sweep = [(k, v) for k, v in results.items() if k.startswith("single@")]
    if sweep:
        lines.append("single HTTP scans by offered rate (open loop):")
        for key, r in sweep:
            lat = r["latency_ms"]
            lines.append(
                f"  {key[7:]:>6}/s: answered {r['e2e_scans_s']:,.0f}/s, p50 {lat['p50']} ms,"
                f" p90 {lat['p90']} ms, p99 {lat['p99']} ms, max {lat['max']} ms;"
                f" gate CPU {fmt(r.get('gate_cpu_us_per_scan'), ',.0f')} us a scan;"
                f" {cores(r)}"
            )
            lines.append(f"          probes meanwhile: {probes(r)}")
    if quick:
        lines.append("(--quick: a smoke run; its rates are too short to compare with the targets)")
    if "kafka" in results:
        k = results["kafka"]["steady_scans_s"]
        verdict = "met" if k >= TARGET_KAFKA_SCANS_S else "MISSED"
        lines.append(f"target Kafka feed >= {TARGET_KAFKA_SCANS_S:,} scans/s: {verdict} ({k:,.0f})")
    if "single" in results:
        p99 = results["single"]["latency_ms"]["p99"]
        verdict = "met" if p99 < TARGET_P99_MS else "MISSED"
        lines.append(
            f"target p99 < {TARGET_P99_MS:g} ms at {scale.rate:g} scans/s: {verdict} ({p99} ms)"
        )
    measured = [v for k, v in results.items() if k in labels or k.startswith("single@")]
    lost = sum(r["lost"] for r in measured)
    doubled = sum(r["doubled"] for r in measured)
    lines.append(
        f"target none lost or doubled: {'met' if not lost and not doubled else 'MISSED'}"
        f" (lost {lost}, doubled {doubled})"
    )
    lines.append(
        f"machine: {machine['cores']} cores {machine['cpu']}, {machine['memory_gib']} GiB,"
        f" Python {machine['python']}, {machine.get('postgresql')}, Kafka broker"
        f" {machine.get('broker')}; load average at start {machine['loadavg_at_start']}"
    )
    for key in ("kafka", "batch", "single"):
        profile = results.get(key, {}).get("profile")
        if profile:
            lines.append(
                f"\nprofile of the gate during {key}"
                f" ({profile['samples']} samples, {profile['file']}):"
            )
            lines.append("  inclusive:")
            lines += [f"    {share:5.1f}%  {name}" for name, share in profile["inclusive"][:30]]
            lines.append("  self:")
            lines += [f"    {share:5.1f}%  {name}" for name, share in profile["self"][:15]]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="small district, for CI (< 60 s)")
    p.add_argument("--scans", type=int, help="scans per feed (Kafka, HTTP batches); 60,000")
    p.add_argument("--rate", type=float, help="single HTTP scans per second; 300")
    p.add_argument("--seconds", type=float, help="duration of the single-scan phase; 20")
    p.add_argument("--batch-size", type=int, help="scans per HTTP batch request (max); 250")
    p.add_argument("--clients", type=int, default=4, help="concurrent HTTP batch clients")
    p.add_argument("--communities", type=int)
    p.add_argument("--checkpoints", type=int)
    p.add_argument("--residents", type=int)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--partitions", type=int, default=6, help="partitions of the gate's topics")
    p.add_argument("--drain-timeout", type=float, help="give up on outcomes after this idle time")
    p.add_argument("--only", help="comma-separated phases: kafka,raw,batch,single")
    p.add_argument(
        "--sweep",
        type=lambda text: [float(x) for x in text.split(",") if x],
        help="after the phases, single HTTP scans at each of these rates (e.g. 50,100,200)",
    )
    p.add_argument("--profile", action="store_true", help="sample the gate with py-spy")
    p.add_argument("--py-spy", default=shutil.which("py-spy"), help="path of py-spy")
    p.add_argument("--no-json", action="store_true", help="do not write bench/results/*.json")
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=None,
        help="before each phase, wait up to this many seconds until other programs use less"
        f" than {QUIET_CORES} cores (default 0 with --quick, else 90)",
    )
    p.add_argument("--keep-infra", action="store_true", help="leave self-started servers running")
    return p.parse_args(argv)


async def amain(args: argparse.Namespace, srv: Infrastructure) -> int:
    configure_logging(level="WARNING", json_logs=False)
    machine = host_facts()
    conn = await asyncpg.connect(srv.database_url)
    try:
        machine["postgresql"] = "PostgreSQL " + str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()
    machine["broker"] = srv.broker_kind
    started = time.perf_counter()
    log_dir = Path(tempfile.mkdtemp(prefix="gatebench-logs-"))
    async with fresh_database(srv.database_url) as db_url:
        bench = Bench(args, srv, db_url)
        status = 1
        try:
            status = await bench.run(log_dir)
        except Exception:
            if bench.gate is not None:
                say(f"gate log ({bench.gate.log_path}):\n{bench.gate.log_tail(60)}")
            raise
        finally:
            if bench.gate is not None:
                await asyncio.to_thread(bench.gate.stop)
            with contextlib.suppress(Exception):
                await delete_topics(srv.kafka_bootstrap, [bench.prefix])
    machine["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    say(render(bench.results, bench.scale, machine, args.quick))
    say(f"\ntotal {time.perf_counter() - started:.1f}s; exit status {status}")
    if bench.failures:
        say(f"FAILED: scans lost, doubled or refused in: {', '.join(bench.failures)}")
        say(f"gate log: {bench.gate.log_path if bench.gate else '-'}")
    if not args.no_json:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        name = f"gate-{stamp}{'-quick' if args.quick else ''}.json"
        report = {
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
            "scale": vars(bench.scale),
            "machine": machine,
            "results": bench.results,
        }
        (RESULTS_DIR / name).write_text(json.dumps(report, indent=2, default=str))
        say(f"results: {RESULTS_DIR / name}")
    if not bench.failures:
        shutil.rmtree(log_dir, ignore_errors=True)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with temporary_infrastructure("gatebench", keep=args.keep_infra, report=say) as srv:
        return asyncio.run(amain(args, srv))


if __name__ == "__main__":
    sys.exit(main())
