#!/usr/bin/env python
"""A city on one machine, at reduced rates: ten districts' gates and projectors side by side
on one three-broker Kafka cluster and one PostgreSQL server, each district with its own topic
prefix, consumer-group prefix and database (the layout docs/scaling.md proposes).

Run from the repository root:

    UV_PYTHON_DOWNLOADS=never uv run python bench/bench_districts.py           # 10 districts, 90 s
    UV_PYTHON_DOWNLOADS=never uv run python bench/bench_districts.py --quick   # 10 districts, 30 s

It starts its own cluster (``--brokers``, 3 by default) and PostgreSQL in a temporary directory,
then for each district a database ``district_NN``, ``CORDON_TOPIC_PREFIX=dNN``,
``CORDON_CONSUMER_GROUP_PREFIX=dNN.`` and one gate and one projector process (20 service
processes for ten districts). Each district registers a checkpoint through its gate's
office API; then device gateways produce visitors' scans to every district's feed topic at
``--per-second`` scans/s each, for ``--seconds``.

Measured, per district and over the city: every scan decided once in its own district's
store and in no other (the prefixes keep districts apart), the delay from a scan's produce
to its passage counted in the district's read model (p50, p95, max), the topics and
partitions the cluster carries, and the CPU and memory of the 20 service processes and of
the brokers. The production figures (rates, partitions, replicas) are in docs/scaling.md;
this run checks the layout and measures what one more district costs when idle and under
a steady trickle.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (
    CpuMeter,
    host_facts,
    listening_processes,
    percentile,
    processes,
    save_results,
    say,
)

from cordon_core.observability import configure_logging
from cordon_core.settings import ServiceSettings
from cordon_devenv.infra import Infrastructure
from cordon_testing.devices import register_gate, visitor_scan
from cordon_testing.faults import own_servers
from cordon_testing.plugin import settings_env
from cordon_testing.processes import ServiceProcess

ADMIN = "districts-admin-token"
TIMEZONE = "Asia/Shanghai"


@dataclass
class District:
    number: int
    database_url: str
    env: dict[str, str]
    gate: ServiceProcess | None = None
    projector: ServiceProcess | None = None
    checkpoint: str = ""
    sent: dict[str, float] = field(default_factory=dict)
    """scan id -> when it was acknowledged by the cluster (time.time())."""

    @property
    def prefix(self) -> str:
        return f"d{self.number:02d}"

    @property
    def feed_topic(self) -> str:
        return f"{self.prefix}.gate.scans"

    @property
    def services(self) -> list[ServiceProcess]:
        return [p for p in (self.gate, self.projector) if p is not None]


async def create_database(server_url: str, name: str) -> str:
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    base, _, _ = server_url.rpartition("/")
    return f"{base}/{name}"


def district_env(infra: Infrastructure, database_url: str, number: int) -> dict[str, str]:
    prefix = f"d{number:02d}"
    settings = ServiceSettings(
        database_url=database_url,
        kafka_bootstrap=infra.kafka_bootstrap,
        kafka_idempotence=infra.kafka_idempotence,
        topic_prefix=prefix,
        consumer_group_prefix=f"{prefix}.",
        topic_replication=infra.brokers,
        district=f"district-{number:02d}",
        log_level="WARNING",
    )
    return {
        **settings_env(settings),
        "CORDON_GATE_ADMIN_TOKEN": ADMIN,
        "CORDON_TIMEZONE": TIMEZONE,
    }


async def create_districts(infra: Infrastructure, count: int) -> list[District]:
    districts = []
    for n in range(1, count + 1):
        url = await create_database(infra.database_url, f"district_{n:02d}")
        districts.append(District(n, url, district_env(infra, url, n)))
    return districts


async def start_districts(districts: Sequence[District], logs: Path) -> None:
    started = time.perf_counter()
    # Two districts at a time: twenty Pythons importing at once on two cores only thrash.
    for pair in range(0, len(districts), 2):
        batch = districts[pair : pair + 2]
        for d in batch:
            d.gate = ServiceProcess("cordon_gate", d.env, logs).launch()
            d.projector = ServiceProcess("cordon_projector", d.env, logs).launch()
        for d in batch:
            for p in d.services:
                await asyncio.to_thread(p.wait_ready, 300.0)
            d.checkpoint, _ = await register_gate(d.services[0].url, ADMIN, f"{d.prefix}-c1")
        say(
            f"   districts {batch[0].number}-{batch[-1].number} ready"
            f" ({time.perf_counter() - started:.0f} s)"
        )


async def produce(
    districts: Sequence[District], bootstrap: str, per_second: float, seconds: float
) -> int:
    """Every district's device gateway sends ``per_second`` scans/s for ``seconds``."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    sent = 0
    try:
        tick = 1 / per_second
        ends = time.monotonic() + seconds
        number = 0
        while time.monotonic() < ends:
            round_started = time.monotonic()
            pending = []
            for d in districts:
                number += 1
                scan_id = f"{d.prefix}-s{number}"
                scan = visitor_scan(
                    scan_id, d.checkpoint, datetime.now(UTC), "in" if number % 2 else "out"
                )
                future = await producer.send(
                    d.feed_topic, json.dumps(scan).encode(), key=d.checkpoint.encode()
                )
                pending.append((d, scan_id, future))
            for d, scan_id, future in pending:
                await future
                d.sent[scan_id] = time.time()
                sent += 1
            await asyncio.sleep(max(0.0, tick - (time.monotonic() - round_started)))
    finally:
        await producer.stop()
    return sent


SHOWN = """
    SELECT e.payload->>'scan_id' AS scan_id, extract(epoch FROM i.processed_at) AS shown_at,
           extract(epoch FROM e.recorded_at) AS stored_at
      FROM projector.inbox i JOIN gate.events e USING (event_id)
     WHERE i.consumer = 'projection-gate-traffic'
       AND e.event_type IN ('PersonEntered', 'PersonExited')"""
STORED = """
    SELECT payload->>'scan_id' AS scan_id, count(*) AS n FROM gate.events
     WHERE event_type IN ('PersonEntered', 'PersonExited') GROUP BY 1"""


async def settle(districts: Sequence[District], timeout: float) -> dict[str, Any]:
    """Wait until every district shows every scan it was sent; then check each store."""
    deadline = time.monotonic() + timeout
    per_district: dict[str, Any] = {}
    for d in districts:
        conn = await asyncpg.connect(d.database_url)
        try:
            while True:
                rows = await conn.fetch(SHOWN)
                shown = {r["scan_id"]: float(r["shown_at"]) for r in rows}
                stored_at = {r["scan_id"]: float(r["stored_at"]) for r in rows}
                if all(s in shown for s in d.sent) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            stored = {r["scan_id"]: r["n"] for r in await conn.fetch(STORED)}
        finally:
            await conn.close()
        delays = sorted((shown[s] - at) * 1000 for s, at in d.sent.items() if s in shown)
        # Where the time goes: produced -> in the gate's store (the feed consumer), and
        # stored -> counted by the projector (the relay, Kafka, the projector's consumer).
        to_store = sorted((stored_at[s] - at) * 1000 for s, at in d.sent.items() if s in shown)
        to_shown = sorted((shown[s] - stored_at[s]) * 1000 for s in d.sent if s in shown)
        per_district[d.prefix] = {
            "sent": len(d.sent),
            "shown": sum(1 for s in d.sent if s in shown),
            "not_stored": sum(1 for s in d.sent if s not in stored),
            "stored_twice": sum(1 for n in stored.values() if n != 1),
            "foreign": sorted(s for s in stored if not s.startswith(f"{d.prefix}-"))[:5],
            "delay_ms": {
                "p50": round(percentile(delays, 50)),
                "p95": round(percentile(delays, 95)),
                "max": round(delays[-1]) if delays else 0,
            },
            "stored_p50_ms": round(percentile(to_store, 50)),
            "stored_to_shown_p50_ms": round(percentile(to_shown, 50)),
            "delays": delays,
        }
    return per_district


async def cluster_facts(bootstrap: str) -> dict[str, Any]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(
            [t for t in await admin.list_topics() if not t.startswith("__")]
        )
        groups = await admin.list_consumer_groups()
    finally:
        await admin.close()
    partitions = sum(len(t["partitions"]) for t in described)
    replicas = sum(len(p["replicas"]) for t in described for p in t["partitions"])
    return {
        "topics": len(described),
        "partitions": partitions,
        "replicas": replicas,
        "consumer_groups": len(groups),
    }


def rss_mib(pids: Sequence[int]) -> float:
    return float(sum(p.memory_info().rss for p in processes(*pids))) / 2**20


async def run(args: argparse.Namespace, infra: Infrastructure, logs: Path) -> dict[str, Any]:
    say(f"starting {args.districts} districts (a gate and a projector each) ...")
    started = time.perf_counter()
    async with AsyncExitStack() as stack:
        districts = await create_districts(infra, args.districts)
        stack.push_async_callback(
            lambda: asyncio.gather(
                *(asyncio.to_thread(p.stop) for d in districts for p in d.services)
            )
        )
        await start_districts(districts, logs)
        startup_s = time.perf_counter() - started
        service_pids = [p.process.pid for d in districts for p in d.services if p.process]
        broker_pids = [p.pid for p in listening_processes(*infra.kafka_bootstrap.split(","))]
        groups = {"services": processes(*service_pids), "brokers": processes(*broker_pids)}
        with CpuMeter(**groups) as idle:
            await asyncio.sleep(args.idle_seconds)
        idle_cpu = idle.cores()
        say(
            f"idle for {args.idle_seconds:.0f} s: the service processes used"
            f" {idle_cpu['services']} cores, the brokers {idle_cpu['brokers']}"
        )
        say(f"load: {args.per_second:g} scans/s in each district for {args.seconds:.0f} s ...")
        with CpuMeter(**groups) as loaded:
            sent = await produce(districts, infra.kafka_bootstrap, args.per_second, args.seconds)
        load_cpu = loaded.cores()
        per_district = await settle(districts, timeout=120)
        all_delays = sorted(x for r in per_district.values() for x in r.pop("delays"))
        return {
            "benchmark": "districts",
            "command": " ".join(["bench/bench_districts.py", *sys.argv[1:]]),
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": host_facts(),
            "districts": args.districts,
            "brokers": args.brokers,
            "per_second_each": args.per_second,
            "seconds": args.seconds,
            "startup_s": round(startup_s, 1),
            "scans_sent": sent,
            "city_delay_ms": {
                "p50": round(percentile(all_delays, 50)),
                "p95": round(percentile(all_delays, 95)),
                "max": round(all_delays[-1]) if all_delays else 0,
            },
            "per_district": per_district,
            "cluster": await cluster_facts(infra.kafka_bootstrap),
            "cpu_cores": {
                "services_idle": idle_cpu["services"],
                "brokers_idle": idle_cpu["brokers"],
                "services_load": load_cpu["services"],
                "brokers_load": load_cpu["brokers"],
                "host_load": load_cpu["host"],
                "others_idle": idle_cpu["others"],
                "others_load": load_cpu["others"],
            },
            "rss_mib": {
                "services": round(rss_mib(service_pids)),
                "brokers": round(rss_mib(broker_pids)),
            },
        }


def report(results: dict[str, Any]) -> str:
    lines = [
        "delays from the produce; 'stored' and '->shown' split the p50 at the gate's store",
        f"{'district':<9} {'sent':>6} {'shown':>6} {'lost':>5} {'twice':>6} {'foreign':>8}"
        f" {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'stored':>7} {'->shown':>8}",
    ]
    for name, r in results["per_district"].items():
        delay = r["delay_ms"]
        lines.append(
            f"{name:<9} {r['sent']:>6} {r['shown']:>6} {r['not_stored']:>5}"
            f" {r['stored_twice']:>6} {len(r['foreign']):>8} {delay['p50']:>7}"
            f" {delay['p95']:>7} {delay['max']:>7} {r['stored_p50_ms']:>7}"
            f" {r['stored_to_shown_p50_ms']:>8}"
        )
    city, cpu, rss = results["city_delay_ms"], results["cpu_cores"], results["rss_mib"]
    lines += [
        f"city: {results['scans_sent']:,} scans, produce-to-shown p50 {city['p50']} ms,"
        f" p95 {city['p95']} ms, max {city['max']} ms",
        f"cluster: {results['cluster']}",
        f"cores busy: services {cpu['services_idle']} idle / {cpu['services_load']} under load;"
        f" brokers {cpu['brokers_idle']} / {cpu['brokers_load']};"
        f" other programs {cpu['others_idle']} / {cpu['others_load']}",
        f"memory: services {rss['services']:,} MiB, brokers {rss['brokers']:,} MiB;"
        f" start-up of every district {results['startup_s']} s",
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="30 s of load instead of 90 s")
    parser.add_argument("--districts", type=int, default=10)
    parser.add_argument("--brokers", type=int, default=3)
    parser.add_argument("--per-second", type=float, default=5.0, help="scans/s in each district")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    args.seconds = args.seconds or (30.0 if args.quick else 90.0)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(level="WARNING", json_logs=False)
    state_dir = Path(tempfile.mkdtemp(prefix="cordon-districts-"))
    say(f"starting a {args.brokers}-broker Kafka cluster and PostgreSQL in {state_dir} ...")
    with own_servers(state_dir / "servers", brokers=args.brokers) as servers:
        logs = state_dir / "logs"
        logs.mkdir()
        results = asyncio.run(run(args, servers.infra, logs))
    say(report(results))
    save_results(results, "districts", quick=args.quick, path=args.json)
    bad = [
        n
        for n, r in results["per_district"].items()
        if r["not_stored"] or r["stored_twice"] or r["foreign"] or r["shown"] < r["sent"]
    ]
    if bad:
        say(f"FAILED: districts with scans lost, doubled, foreign or not shown: {bad}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
