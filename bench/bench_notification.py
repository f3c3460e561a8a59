#!/usr/bin/env python
"""Notification delivery under load: gate fevers through to a webhook, end to end.

    UV_PYTHON_DOWNLOADS=never uv run python bench/bench_notification.py            # 50,000
    UV_PYTHON_DOWNLOADS=never uv run python bench/bench_notification.py --quick    # 2,000

Against real Apache Kafka and PostgreSQL: the servers named by CORDON_KAFKA_BOOTSTRAP and
CORDON_DATABASE_URL when both are set, otherwise a private pair (free ports), stopped at
the end. The notification service runs as its own OS process (``python -m
cordon_notification``, CORDON_LOG_LEVEL=WARNING) on a fresh database (dropped afterwards)
and fresh topics (deleted afterwards).

1. A stand-in registry publishes ``--grids`` grid workers (StaffAssigned) and ``--people``
   residents spread over them; each grid worker's contact is a webhook on a minimal local
   HTTP/1.1 server (asyncio streams, keep-alive) that records each request's
   Idempotency-Key, source event id and arrival time.
2. A stand-in gate appends ``--events`` FeverDetected events (urgent: no quiet hours, no
   digest) to its store in batches of 1,000; its relay publishes them on
   ``<prefix>.gate.events``. Each event's start time is taken when its append committed.
3. Deliveries/s = deliveries received / (last arrival - first append). End-to-end latency
   = arrival at the webhook - append committed, p50/p90/p99/max. Every event must arrive
   exactly once (by source id, and by idempotency key); lost and doubled are reported and
   make the exit status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import uvloop
from harness import delete_topics, percentile, say

from cordon_contracts import gate, registry
from cordon_core.envelope import EventMetadata, EventRegistry, PendingEvent
from cordon_core.runtime import ServiceRuntime
from cordon_core.settings import ServiceSettings
from cordon_core.store import StreamAppend
from cordon_devenv.infra import temporary_infrastructure
from cordon_testing.plugin import fresh_database
from cordon_testing.processes import ServiceProcess, free_port
from cordon_testing.waiting import wait_until

ADMIN = "bench-admin"
T0 = datetime(2022, 4, 1, 8, 0, tzinfo=UTC)
RESULTS = Path(__file__).resolve().parent / "results"


class Receiver:
    """A fast webhook receiver: parses just enough HTTP/1.1 to answer keep-alive POSTs."""

    def __init__(self) -> None:
        self.port = free_port()
        self.arrivals: dict[str, float] = {}
        self.sources: Counter[str] = Counter()
        self.keys: Counter[str] = Counter()

    async def serve(self) -> asyncio.Server:
        return await asyncio.start_server(self.connection, "127.0.0.1", self.port, backlog=512)

    async def connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        body = b'{"errcode":0}'
        ok = (
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
            % (
                len(body),
                body,
            )
        )
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                headers = {}
                for line in head.decode("latin-1").split("\r\n")[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                await reader.readexactly(int(headers.get("content-length", "0")))
                now = time.time()
                source = headers.get("x-cordon-source-id", "")
                self.sources[source] += 1
                self.keys[headers.get("idempotency-key", "")] += 1
                self.arrivals.setdefault(source, now)
                writer.write(ok)
                await writer.drain()
        writer.close()


def contracts(*registries: EventRegistry) -> EventRegistry:
    combined = EventRegistry()
    for r in registries:
        combined.include(r)
    return combined


async def run(args: argparse.Namespace, kafka: str, server_db: str, idempotence: bool) -> int:
    receiver = Receiver()
    server = await receiver.serve()
    prefix = f"nb{uuid.uuid4().hex[:10]}"
    async with fresh_database(server_db) as db:
        settings = ServiceSettings(
            database_url=db, kafka_bootstrap=kafka, kafka_idempotence=idempotence,
            topic_prefix=prefix, log_json=False, log_level="WARNING",
        )  # fmt: skip
        env = {
            f"CORDON_{k.upper()}": str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in settings.model_dump().items()
        }
        env.update({
            "CORDON_NOTIFICATION_ADMIN_TOKEN": ADMIN,
            "CORDON_DELIVERY_BATCH_SIZE": str(args.batch),
            "CORDON_DELIVERY_LANE_CONCURRENCY": str(args.lane_concurrency),
            "CORDON_DELIVERY_LANE_BACKLOG": str(args.lane_backlog),
            "CORDON_DELIVERY_POLL_INTERVAL_MS": "20",
            "CORDON_RATE_LIMIT_COUNT": "1000000",
            "CORDON_DAILY_REPORT_TIME": "23:59",
            "CORDON_CHECK_IN_REMINDER_TIME": "23:59",
        })  # fmt: skip
        reg = ServiceRuntime(
            service="registry", settings=settings, registry=contracts(registry.registry)
        )
        gat = ServiceRuntime(service="gate", settings=settings, registry=contracts(gate.registry))
        await reg.start()
        await gat.start()
        service = ServiceProcess("cordon_notification", env, Path(tempfile.mkdtemp())).start()
        try:
            return await drive(args, settings, reg, gat, service, receiver)
        finally:
            service.stop()
            await gat.stop()
            await reg.stop()
            server.close()
            await delete_topics(kafka, [prefix])


async def drive(
    args: argparse.Namespace,
    settings: ServiceSettings,
    reg: ServiceRuntime,
    gat: ServiceRuntime,
    service: ServiceProcess,
    receiver: Receiver,
) -> int:
    meta = EventMetadata.new(actor="bench", district="d")
    async with httpx.AsyncClient(base_url=service.url, timeout=30) as client:
        for g in range(args.grids):
            r = await client.put(
                f"/v1/contacts/gw-{g}",
                json={"webhook_url": f"http://127.0.0.1:{receiver.port}/hook/{g}", "inbox": False},
                headers={"Authorization": f"Bearer {ADMIN}"},
            )
            r.raise_for_status()
    staff = [
        StreamAppend(f"place-g{g}", [PendingEvent(registry.StaffAssigned(
            place_id=f"g{g}", community_id="c1", role="grid_worker", staff_id=f"gw-{g}",
            assigned_at=T0))], None, meta)
        for g in range(args.grids)
    ]  # fmt: skip
    people = [
        StreamAppend(f"person-p{p}", [PendingEvent(registry.ResidentRegistered(
            person_id=f"p{p}", household_id=f"h{p}", building_id=f"b{p % 500}",
            compound_id="cp", grid_id=f"g{p % args.grids}", community_id="c1",
            sub_district_id="s1", residence_type="owner", registered_at=T0))], None, meta)
        for p in range(args.people)
    ]  # fmt: skip
    await reg.store.append_many(staff + people)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        known = await _count(settings.database_url, "notification.residents")
        if known >= args.people:
            break
        await asyncio.sleep(0.2)
    say(f"directory ready: {args.grids} grid workers, {args.people} residents")

    started: dict[str, float] = {}
    first_append = time.time()
    # As fast as the store takes them (a burst: latency is then mostly the backlog), or
    # ``--rate`` events/s in batches every 50 ms (latency of a service keeping up).
    step = max(1, round(args.rate / 20)) if args.rate else 1000
    for start in range(0, args.events, step):
        if args.rate:
            await asyncio.sleep(max(0.0, first_append + start / args.rate - time.time()))
        appends = []
        for i in range(start, min(start + step, args.events)):
            person = f"p{i % args.people}"
            appends.append(StreamAppend(
                f"checkpoint-k{i % 50}", [PendingEvent(gate.FeverDetected(
                    scan_id=f"s{i}", checkpoint_id=f"k{i % 50}", community_id="c1",
                    compound_id="cp", person_id=person, subject_kind="resident",
                    temperature_c=38.0, threshold_c=37.3, scanned_at=T0,
                ))], None, meta))  # fmt: skip
        written = await gat.store.append_many(appends)
        committed = time.time()
        for [envelope] in written:
            started[str(envelope.event_id)] = committed
    appended_s = time.time() - first_append
    say(f"appended {args.events} FeverDetected in {appended_s:.1f}s")

    async def arrivals() -> int:
        return len(receiver.arrivals.keys() & started.keys())

    with contextlib.suppress(AssertionError):  # a timeout: report what arrived
        await wait_until(
            arrivals, until=lambda n: n >= len(started), timeout=args.timeout, interval=0.25
        )
    arrived = {s: t for s, t in receiver.arrivals.items() if s in started}
    latencies = sorted(arrived[s] - started[s] for s in arrived)
    lost = len(started) - len(arrived)
    doubled_sources = sum(1 for s in arrived if receiver.sources[s] > 1)
    doubled_keys = sum(1 for k, n in receiver.keys.items() if n > 1)
    elapsed = (max(arrived.values()) - first_append) if arrived else float("nan")
    conn = await asyncpg.connect(settings.database_url)
    span = await conn.fetchrow(
        """SELECT extract(epoch FROM max(created_at) - min(created_at)) AS queueing,
                  extract(epoch FROM max(sent_at) - min(sent_at)) AS sending,
                  avg(attempts) AS attempts FROM notification.deliveries"""
    )
    await conn.close()
    result: dict[str, Any] = {
        "events": args.events, "delivered": len(arrived), "lost": lost,
        "doubled_by_source": doubled_sources, "doubled_by_key": doubled_keys,
        "grids": args.grids, "people": args.people, "rate": args.rate or "burst",
        "batch": args.batch,
        "lane_concurrency": args.lane_concurrency, "lane_backlog": args.lane_backlog,
        "append_seconds": round(appended_s, 2),
        "seconds": round(elapsed, 2),
        "queueing_seconds": round(float(span["queueing"] or 0), 2),
        "sending_seconds": round(float(span["sending"] or 0), 2),
        "mean_attempts": round(float(span["attempts"] or 0), 3),
        "deliveries_per_s": round(len(arrived) / elapsed, 1) if arrived else 0,
        "latency_ms": {
            name: round(percentile(latencies, pct) * 1000, 1)
            for name, pct in (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100))
        } if latencies else {},
        "host": {"cores": os.cpu_count(), "os": platform.platform(),
                 "python": platform.python_version(),
                 "loadavg_at_end": [round(x, 2) for x in os.getloadavg()]},
    }  # fmt: skip
    rate = result["deliveries_per_s"]
    result["raw_baseline"] = {"concurrency": args.lane_concurrency}
    for kind in BASELINE_CLIENTS:
        say(f"raw baseline: {args.events} POSTs with {kind} to the same receiver")
        raw = await baseline(kind, receiver.port, args.events, args.lane_concurrency)
        result["raw_baseline"][f"{kind}_requests_per_s"] = round(raw, 1)
        if not args.rate:  # paced, the service goes as fast as it is fed: no ratio
            result["raw_baseline"][f"service_vs_{kind}"] = round(rate / raw, 3)
    result["host"]["loadavg_after_baselines"] = [round(x, 2) for x in os.getloadavg()]
    say(json.dumps(result, indent=2))
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"notification-{stamp}{'-quick' if args.quick else ''}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    say(f"wrote {path}")
    return 1 if lost or doubled_sources or doubled_keys else 0


BASELINE_CLIENTS = ("httpx", "streams")


async def post_directly(client: str, port: int, count: int, concurrency: int) -> float:
    """The raw baseline: ``count`` POSTs like the service's (same body size, same headers,
    the same receiver) from ``concurrency`` keep-alive connections, with no queue, database
    or Kafka behind them. Returns requests/s."""
    body = json.dumps(
        {"msgtype": "text", "text": {"content": "[URGENT] Fever at k1: 38.0 °C\n" + "x" * 80}},
        ensure_ascii=False,
    ).encode()
    todo = iter(range(count))

    def headers(i: int) -> dict[str, str]:
        key = f"raw-{client}-{i}"
        return {"Idempotency-Key": key, "X-Cordon-Delivery-Id": key, "X-Cordon-Source-Id": key}

    async def with_httpx() -> None:
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(limits=limits, timeout=30) as http:

            async def one_connection() -> None:
                for i in todo:
                    r = await http.post(
                        f"http://127.0.0.1:{port}/hook/{i % 100}", content=body, headers={
                            "content-type": "application/json", **headers(i)},
                    )  # fmt: skip
                    r.raise_for_status()

            await asyncio.gather(*(one_connection() for _ in range(concurrency)))

    async def with_streams() -> None:
        async def one_connection() -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            for i in todo:
                head = "".join(f"{k}: {v}\r\n" for k, v in headers(i).items())
                writer.write(
                    f"POST /hook/{i % 100} HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                    .encode() + body
                )  # fmt: skip
                answer = await reader.readuntil(b"\r\n\r\n")
                length = int(answer.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
            writer.close()

        await asyncio.gather(*(one_connection() for _ in range(concurrency)))

    started = time.perf_counter()
    await (with_httpx() if client == "httpx" else with_streams())
    return count / (time.perf_counter() - started)


async def baseline(client: str, port: int, count: int, concurrency: int) -> float:
    """``post_directly`` in a process of its own, as the service is."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--baseline-client", client, "--baseline-port", str(port),
        "--events", str(count), "--lane-concurrency", str(concurrency),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"the {client} baseline failed")
    return float(out.decode().strip().splitlines()[-1])


async def _count(database_url: str, table: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
    except asyncpg.UndefinedTableError:
        return 0
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 events (CI smoke run)")
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--grids", type=int, default=100)
    parser.add_argument("--people", type=int, default=2_000)
    parser.add_argument("--rate", type=float, default=0, help="events/s (0: a burst)")
    parser.add_argument("--batch", type=int, default=200, help="deliveries per claim")
    parser.add_argument("--lane-concurrency", type=int, default=8, help="sends at once per lane")
    parser.add_argument("--lane-backlog", type=int, default=64, help="claimed per lane")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--baseline-client", choices=BASELINE_CLIENTS, help=argparse.SUPPRESS)
    parser.add_argument("--baseline-port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_client:  # the raw baseline's own process (see ``baseline``)
        rate = uvloop.run(  # the service's event loop too
            post_directly(
                args.baseline_client, args.baseline_port, args.events, args.lane_concurrency
            )
        )
        print(rate)
        return
    if args.quick:
        args.events = min(args.events, 2_000)
    with temporary_infrastructure("notifybench", report=say) as infra:
        status = asyncio.run(
            run(args, infra.kafka_bootstrap, infra.database_url, infra.kafka_idempotence)
        )
    sys.exit(status)


if __name__ == "__main__":
    main()
