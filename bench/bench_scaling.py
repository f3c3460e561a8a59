#!/usr/bin/env python
"""Scaling out on one machine: the gate's Kafka feed and the projector's catch-up with 1, 2
and 3 processes of the service in one consumer group, each as a ratio to one process.

Run from the repository root:

    UV_PYTHON_DOWNLOADS=never uv run python bench/bench_scaling.py            # 60,000 / 200,000
    UV_PYTHON_DOWNLOADS=never uv run python bench/bench_scaling.py --quick    # 6,000 / 20,000

Against real Apache Kafka and PostgreSQL (the servers named by CORDON_KAFKA_BOOTSTRAP and
CORDON_DATABASE_URL when both are set, else a private pair). Every round has a fresh
database and a fresh consumer group position, so each starts from offset 0 of the same
records.

1. Gate feed: ``--scans`` raw scans of visitors (the device gateways' records) at 12
   checkpoints, keyed by checkpoint, produced to ``<prefix>.gate.scans`` once (not timed).
   Per round: a fresh database; one gate process registers the 12 checkpoints through the
   office API and stops; then N gate processes start together and decide the feed (group
   ``gate-scan-feed``). Time: from spawning them until the group's committed offsets reach
   the end. scans/s; the ratio to N=1 of the same run.
2. Projector catch-up: ``--events`` events of a generated district (bench_projector's
   Generator: gate ~79%, registry ~17%, isolation ~4%) produced once; per round, N projector
   processes on a fresh database, their seven consumer groups from offset 0. Time: from
   spawning until every group's committed offsets reach the end. events/s; the ratio to N=1.

Partitions: ``--partitions`` (6 by default, the services' default) bound the useful
processes: a group never has more busy members than partitions. The machine's cores bound
them sooner: the figures say where. Prints one table and writes JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_projector import Generator, committed_until_end
from harness import delete_topics, host_facts, save_results, say

from cordon_core.kafka import ensure_topics
from cordon_core.observability import configure_logging
from cordon_core.projection import consumer_name
from cordon_core.settings import ServiceSettings
from cordon_devenv.infra import Infrastructure, temporary_infrastructure
from cordon_projector.bootstrap import ProjectorSettings, build_projector
from cordon_testing.devices import register_gate, visitor_scan
from cordon_testing.kafka import partitions_per_member
from cordon_testing.plugin import fresh_database, settings_env
from cordon_testing.processes import ServiceProcess

ADMIN = "bench-admin-token"
TIMEZONE = "Asia/Shanghai"
CHECKPOINTS = 12


def env_for(srv: Infrastructure, database_url: str, prefix: str, partitions: int) -> dict[str, str]:
    settings = ServiceSettings(
        database_url=database_url,
        kafka_bootstrap=srv.kafka_bootstrap,
        kafka_idempotence=srv.kafka_idempotence,
        topic_prefix=prefix,
        topic_partitions=partitions,
        log_level="WARNING",
    )
    return {**settings_env(settings), "CORDON_GATE_ADMIN_TOKEN": ADMIN,
            "CORDON_TIMEZONE": TIMEZONE}  # fmt: skip


Record = tuple[str, bytes, bytes, list[tuple[str, bytes]]]
"""(topic, key, value, headers)"""


async def start_together(module: str, env: dict[str, str], n: int, logs: Path) -> list[Any]:
    processes = [ServiceProcess(module, env, logs) for _ in range(n)]
    for p in processes:
        p.launch()
    for p in processes:
        await asyncio.to_thread(p.wait_ready, 300.0)
    return processes


async def stop_all(processes: Sequence[Any]) -> None:
    await asyncio.gather(*(asyncio.to_thread(p.stop) for p in processes))


async def until_stable(bootstrap: str, groups: Sequence[str], n: int, timeout: float) -> float:
    """Wait until every group has ``n`` members, each holding partitions; seconds waited."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    started = time.perf_counter()
    try:
        while time.perf_counter() - started < timeout:
            held = [await partitions_per_member(admin, g) for g in groups]
            if all(h is not None and len(h) == n and min(h) > 0 for h in held):
                return time.perf_counter() - started
            await asyncio.sleep(0.5)
        raise RuntimeError(f"groups not stable with {n} members in {timeout:.0f} s: {held}")
    finally:
        await admin.close()


async def send_all(bootstrap: str, records: Sequence[Record]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=1024 * 1024
    )
    await producer.start()
    try:
        pending = []
        for topic, key, value, headers in records:
            pending.append(await producer.send(topic, value=value, key=key, headers=headers))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def throughput(
    module: str,
    env: dict[str, str],
    n: int,
    groups: dict[str, list[str]],
    records: Sequence[Record],
    logs: Path,
) -> tuple[float, float]:
    """``n`` processes started and settled in their groups (every member holding
    partitions); then ``records`` are produced at once. Returns (seconds from the first
    record sent until every group has committed the end, seconds the groups took to
    settle after the processes were ready)."""
    bootstrap = env["CORDON_KAFKA_BOOTSTRAP"]
    processes = await start_together(module, env, n, logs)
    try:
        settle_s = await until_stable(bootstrap, list(groups), n, 180)
        started = time.perf_counter()
        await send_all(bootstrap, records)
        done = await committed_until_end(bootstrap, groups, 1800)
        if len(done) < len(groups):
            raise RuntimeError(f"not at the end in time: {set(groups) - set(done)}")
        return time.perf_counter() - started, settle_s
    finally:
        await stop_all(processes)


def scans(count: int) -> list[Record]:
    """Visitors' raw scans at the 12 checkpoints, keyed by checkpoint, as gateways send."""
    now = datetime.now(UTC)
    records: list[Record] = []
    for i in range(count):
        checkpoint = f"sc{i % CHECKPOINTS:02d}-east-gate"
        scan = visitor_scan(f"s{i}", checkpoint, now, "in" if i % 2 else "out")
        records.append(("", checkpoint.encode(), json.dumps(scan).encode(), []))
    return records


async def gate_feed(args: argparse.Namespace, srv: Infrastructure, logs: Path) -> dict[str, Any]:
    """Per round, a fresh prefix and database; one gate process registers the checkpoints,
    then N gate processes settle in the feed's group before the scans are produced."""
    say(f"1. gate feed: {args.scans:,} scans per round")
    feed = scans(args.scans)
    rounds = {}
    for n in args.processes:
        prefix = f"scalebench-{uuid.uuid4().hex[:8]}"
        topic = f"{prefix}.gate.scans"
        try:
            async with fresh_database(srv.database_url) as db:
                env = env_for(srv, db, prefix, args.partitions)
                first = await start_together("cordon_gate", env, 1, logs)
                try:
                    for c in range(CHECKPOINTS):
                        await register_gate(first[0].url, ADMIN, f"sc{c:02d}")
                finally:
                    await stop_all(first)
                records = [(topic, key, value, headers) for _, key, value, headers in feed]
                seconds, settle = await throughput(
                    "cordon_gate",
                    env,
                    n,
                    {"gate-scan-feed": [topic]},
                    records,
                    logs,
                )
            rounds[n] = {"seconds": round(seconds, 2), "per_s": round(args.scans / seconds),
                         "settle_s": round(settle, 1)}  # fmt: skip
            say(f"   {n} gate process(es): {seconds:.1f} s, {args.scans / seconds:,.0f} scans/s"
                f" (groups settled {settle:.1f} s after ready)")  # fmt: skip
        finally:
            await delete_topics(srv.kafka_bootstrap, [prefix])
    return rounds


def _kafka(srv: Infrastructure, prefix: str, args: argparse.Namespace) -> dict[str, Any]:
    return {"kafka_bootstrap": srv.kafka_bootstrap, "topic_prefix": prefix,
            "topic_partitions": args.partitions}  # fmt: skip


def district(events: int, prefix: str) -> list[Record]:
    """bench_projector's generated district (same seed every round), as records."""
    generator = Generator(events, prefix, 14, 20261202)
    records: list[Record] = [*generator.registry_events(), *generator.isolation_events()]
    records += generator.gate_events(max(generator.n - generator.expected.events, 1))
    return records


async def projector_catch_up(
    args: argparse.Namespace, srv: Infrastructure, logs: Path
) -> dict[str, Any]:
    """Per round, a fresh prefix and database; N projector processes settle in their seven
    groups, then the district's events are produced."""
    say(f"2. projector: {args.events:,} events per round")
    rounds = {}
    produced = 0
    for n in args.processes:
        prefix = f"scalebench-{uuid.uuid4().hex[:8]}"
        settings = ProjectorSettings(**_kafka(srv, prefix, args), timezone=TIMEZONE)
        try:
            records = district(args.events, prefix)
            produced = len(records)
            projector = build_projector(settings)
            groups = {consumer_name(p): list(projector.topics_of(p)) for p in projector.projections}
            await ensure_topics(settings, sorted({t for ts in groups.values() for t in ts}))
            async with fresh_database(srv.database_url) as db:
                env = env_for(srv, db, prefix, args.partitions)
                seconds, settle = await throughput(
                    "cordon_projector", env, n, groups, records, logs
                )
            rounds[n] = {"seconds": round(seconds, 2), "per_s": round(produced / seconds),
                         "settle_s": round(settle, 1)}  # fmt: skip
            rate = produced / seconds
            say(f"   {n} projector process(es): {seconds:.1f} s, {rate:,.0f} events/s"
                f" (groups settled {settle:.1f} s after ready)")  # fmt: skip
        finally:
            await delete_topics(srv.kafka_bootstrap, [prefix])
    return {"events": produced, "rounds": rounds}


def table(results: dict[str, Any]) -> str:
    lines = [f"{'what':<34} {'processes':>9} {'seconds':>8} {'per second':>11} {'x one':>6}"]
    measured = (("gate: Kafka feed decided", results["gate_feed"]),
                ("projector: catch-up from 0", results["projector"]["rounds"]))  # fmt: skip
    for what, rounds in measured:
        one = rounds[min(rounds)]["per_s"]
        for n, r in sorted(rounds.items()):
            lines.append(f"{what:<34} {n:>9} {r['seconds']:>8.1f} {r['per_s']:>11,} "
                         f"{r['per_s'] / one:>6.2f}")  # fmt: skip
    return "\n".join(lines)


async def run(args: argparse.Namespace, srv: Infrastructure) -> dict[str, Any]:
    logs = Path(tempfile.mkdtemp(prefix="scalebench-logs-"))
    load_before = os.getloadavg()
    results: dict[str, Any] = {
        "benchmark": "scaling",
        "command": " ".join(["bench/bench_scaling.py", *sys.argv[1:]]),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": host_facts(),
        "partitions": args.partitions,
        "scans": args.scans,
        "events": args.events,
    }
    results["gate_feed"] = await gate_feed(args, srv, logs)
    results["projector"] = await projector_catch_up(args, srv, logs)
    results["load_average"] = {"before": load_before, "after": os.getloadavg()}
    return results


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a few minutes")
    parser.add_argument("--scans", type=int, default=None)
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--processes", type=lambda s: [int(x) for x in s.split(",")],
                        default=[1, 2, 3], help="e.g. 1,2,3")  # fmt: skip
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--no-json", action="store_true")
    args = parser.parse_args(argv)
    args.scans = args.scans or (6_000 if args.quick else 60_000)
    args.events = args.events or (20_000 if args.quick else 200_000)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(level="WARNING", json_logs=False)
    with temporary_infrastructure("scalebench", report=say) as srv:
        results = asyncio.run(run(args, srv))
    say(table(results))
    say(f"load average before {results['load_average']['before']}, "
        f"after {results['load_average']['after']}")  # fmt: skip
    if not args.no_json:
        save_results(results, "scaling", quick=args.quick, path=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
