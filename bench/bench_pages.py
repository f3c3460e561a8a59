#!/usr/bin/env python
"""Dashboard pages with a district's data: every page and API of the projector timed against
the 200 ms target, at community and district level.

Run from the repository root:

    UV_PYTHON_DOWNLOADS=never uv run python bench/bench_pages.py            # 10 communities
    UV_PYTHON_DOWNLOADS=never uv run python bench/bench_pages.py --quick    # 1, a tenth the size

Against real Apache Kafka and PostgreSQL (the servers named by CORDON_KAFKA_BOOTSTRAP and
CORDON_DATABASE_URL when both are set, else a private pair); a fresh database and topic
prefix, dropped and deleted at the end.

1. A district of ``--communities`` communities, each of ``--households`` households (16,000)
   with 3.14 residents each (50,180), 8 grids, buildings of 40 households, and
   ``--isolations`` people in home isolation (25,000): the registry's and the isolation
   service's contract events, produced straight to their topics (not timed).
2. The projector as its own OS process reads them (its seven consumer groups from offset 0);
   the time until every group has committed the end is printed. Then it waits until
   autovacuum has analyzed the big read models (``--cold`` does not): right after a bulk
   load the planner has no statistics and chose plans that took the map from ~50 ms to
   ~850 ms in the first requests.
3. Every page, ``--requests`` times one after another over one keep-alive connection, for the
   first community and for the district: the area, the four-colour map, the live gates, the
   daily report (JSON), a page of the isolation ledger, screening coverage. Per page p50, p95
   and max in ms, against 200 ms; the raw baseline is the same process's ``/health/live``.
Exit status 1 when a page's p95 misses the target.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer
from bench_projector import committed_until_end
from harness import delete_topics, host_facts, percentile, save_results, say

from cordon_contracts import isolation, registry
from cordon_core.cloudevents import envelope_to_record
from cordon_core.envelope import DomainEvent, Envelope
from cordon_core.kafka import ensure_topics
from cordon_core.observability import configure_logging
from cordon_core.projection import consumer_name
from cordon_core.settings import ServiceSettings
from cordon_devenv.infra import Infrastructure, temporary_infrastructure
from cordon_projector.bootstrap import ProjectorSettings, build_projector
from cordon_testing.plugin import fresh_database, settings_env
from cordon_testing.processes import ServiceProcess

TOKEN = "bench-pages-token"
DISTRICT = "bench-district"
TIMEZONE = "Asia/Shanghai"
TARGET_MS = 200.0
GRIDS = 8
PER_BUILDING = 40
Record = tuple[str, bytes, bytes, list[tuple[str, bytes]]]


class District:
    """The events of a district of identical communities."""

    def __init__(self, prefix: str, communities: int, households: int, isolations: int) -> None:
        self.prefix = prefix
        self.communities = communities
        self.households = households
        self.residents = households * 314 // 100
        self.isolations = min(isolations, self.residents)
        self.at = datetime.now(UTC) - timedelta(days=3)
        self.count = 0

    def record(self, service: str, stream: str, key: str, payload: DomainEvent,
               community: str | None) -> Record:  # fmt: skip
        self.count += 1
        envelope = Envelope(
            event_id=uuid.uuid4(), event_type=payload.event_type,
            schema_version=payload.schema_version, stream_id=stream, stream_version=1,
            partition_key=key, occurred_at=self.at, recorded_at=self.at,
            correlation_id=uuid.uuid4(), causation_id=None, actor=f"bench:{service}",
            district=DISTRICT, community=community, payload=payload, source=f"/cordon/{service}",
        )  # fmt: skip
        record_key, value, headers = envelope_to_record(envelope)
        return f"{self.prefix}.{service}.events", record_key, value, list(headers)

    def place(self, place_id: str, kind: str, parent: str | None, community: str | None) -> Record:
        event = registry.PlaceAdded(
            place_id=place_id, kind=kind, parent_id=parent, community_id=community,
            name=place_id.upper(), added_at=self.at,
        )  # fmt: skip
        return self.record("registry", f"place:{place_id}", place_id, event, community)

    def events(self) -> Iterator[Record]:
        yield self.place("sd1", "sub_district", None, None)
        for c in range(self.communities):
            community = f"c{c}"
            yield self.place(community, "community", "sd1", None)
            buildings = max(GRIDS, self.households // PER_BUILDING)
            for g in range(GRIDS):
                yield self.place(f"{community}-g{g}", "grid", community, community)
                yield self.place(f"{community}-k{g}", "compound", f"{community}-g{g}", community)
            for b in range(buildings):
                g = b % GRIDS
                yield self.place(f"{community}-b{b}", "building", f"{community}-k{g}", community)
            for p in range(self.residents):
                person = f"{community}-p{p}"
                h = p % self.households
                b = h % buildings
                resident = registry.ResidentRegistered(
                    person_id=person, household_id=f"{community}-h{h}",
                    building_id=f"{community}-b{b}", compound_id=f"{community}-k{b % GRIDS}",
                    grid_id=f"{community}-g{b % GRIDS}", community_id=community,
                    sub_district_id="sd1", residence_type="owner", registered_at=self.at,
                )  # fmt: skip
                yield self.record("registry", f"person:{person}", person, resident, community)
            for p in range(self.isolations):
                person = f"{community}-p{p}"
                order = isolation.IsolationStarted(
                    order_id=f"{community}-o{p}", person_id=person, level="home",
                    community_id=community, reason="contact",
                    starts_at=self.at, planned_end_at=self.at + timedelta(days=14),
                )  # fmt: skip
                yield self.record("isolation", f"person:{person}", person, order, community)


async def produce(bootstrap: str, records: Iterator[Record]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=50, max_batch_size=1024 * 1024
    )
    await producer.start()
    try:
        pending = []
        for topic, key, value, headers in records:
            pending.append(await producer.send(topic, value=value, key=key, headers=headers))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


PAGES = {
    "area": "",
    "map": "/map",
    "gates": "/gates",
    "daily-report": "/daily-report",
    "isolation-ledger (a page of 100)": "/isolation-ledger",
    "screening": "/screening",
}


async def time_pages(url: str, areas: Sequence[str], requests: int) -> list[dict[str, Any]]:
    rows = []
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        for area in areas:
            targets = {"health/live (raw baseline)": "/health/live"}
            targets |= {name: f"/v1/areas/{area}{path}" for name, path in PAGES.items()}
            for name, path in targets.items():
                timings = []
                for _ in range(requests):
                    started = time.perf_counter()
                    answer = await client.get(path, params={"token": TOKEN})
                    timings.append((time.perf_counter() - started) * 1000)
                    if answer.status_code != 200:
                        raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:200]}")
                timings.sort()
                rows.append({"area": area, "page": name, "bytes": len(answer.content),
                             "p50_ms": round(percentile(timings, 50), 1),
                             "p95_ms": round(percentile(timings, 95), 1),
                             "max_ms": round(timings[-1], 1)})  # fmt: skip
                say(f"   {area:<5} {name:<34} p50 {rows[-1]['p50_ms']:>7.1f} ms  "
                    f"p95 {rows[-1]['p95_ms']:>7.1f} ms  max {rows[-1]['max_ms']:>7.1f} ms  "
                    f"{len(answer.content):>9,} bytes")  # fmt: skip
    return rows


async def run(args: argparse.Namespace, srv: Infrastructure) -> dict[str, Any]:
    prefix = f"pagebench-{uuid.uuid4().hex[:8]}"
    logs = Path(tempfile.mkdtemp(prefix="pagebench-logs-"))
    district = District(prefix, args.communities, args.households, args.isolations)
    results: dict[str, Any] = {
        "benchmark": "pages", "command": " ".join(["bench/bench_pages.py", *sys.argv[1:]]),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"), "machine": host_facts(),
        "communities": args.communities, "households": args.households,
        "residents_per_community": district.residents, "isolations": district.isolations,
    }  # fmt: skip
    settings = ProjectorSettings(kafka_bootstrap=srv.kafka_bootstrap, topic_prefix=prefix,
                                 topic_partitions=6, timezone=TIMEZONE)  # fmt: skip
    projector = build_projector(settings)
    groups = {consumer_name(p): list(projector.topics_of(p)) for p in projector.projections}
    try:
        await ensure_topics(settings, sorted({t for ts in groups.values() for t in ts}))
        say(f"1. producing the district's events to {prefix}.* (not timed) ...")
        started = time.perf_counter()
        await produce(srv.kafka_bootstrap, district.events())
        say(f"   {district.count:,} events in {time.perf_counter() - started:.0f} s")
        results["events"] = district.count
        async with fresh_database(srv.database_url) as db:
            env = settings_env(ServiceSettings(
                database_url=db, kafka_bootstrap=srv.kafka_bootstrap,
                kafka_idempotence=srv.kafka_idempotence, topic_prefix=prefix,
                topic_partitions=6, log_level="WARNING",
            )) | {"CORDON_TIMEZONE": TIMEZONE, "CORDON_DISTRICT": DISTRICT,
                  "CORDON_DASHBOARD_TOKENS": json.dumps({TOKEN: {"kind": "district"}})}  # fmt: skip
            process = ServiceProcess("cordon_projector", env, logs)
            say("2. the projector reads them ...")
            spawned = time.perf_counter()
            await asyncio.to_thread(process.start)
            try:
                done = await committed_until_end(srv.kafka_bootstrap, groups, 3600)
                caught_up = time.perf_counter() - spawned
                if len(done) < len(groups):
                    raise RuntimeError(f"not read in time: {set(groups) - set(done)}")
                say(f"   every group at the end {caught_up:.0f} s after the spawn")
                results["catch_up_s"] = round(caught_up, 1)
                if not args.cold:
                    waited = await until_analyzed(db, 300)
                    say(f"   autovacuum gave the read models statistics {waited:.0f} s later")
                    results["statistics_after_s"] = round(waited, 1)
                results["analyzed"] = await analyzed(db)
                say(f"   read models with planner statistics: {results['analyzed']}")
                say(f"3. every page, {args.requests} requests each:")
                results["pages"] = await time_pages(process.url, ["c0", "sd1"], args.requests)
            finally:
                await asyncio.to_thread(process.stop)
    finally:
        await delete_topics(srv.kafka_bootstrap, [prefix])
    return results


async def analyzed(database_url: str) -> dict[str, bool]:
    """Whether each large read model has statistics yet (ANALYZE or autovacuum's): without
    them the planner guesses, and right after a bulk load it guesses badly."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            """SELECT relname, coalesce(last_analyze, last_autoanalyze) IS NOT NULL AS done
               FROM pg_stat_user_tables WHERE schemaname = 'projector'
                 AND relname IN ('resident', 'isolation_order', 'place')"""
        )
        return {r["relname"]: r["done"] for r in rows}
    finally:
        await conn.close()


async def until_analyzed(database_url: str, timeout: float) -> float:
    started = time.perf_counter()
    while not all((await analyzed(database_url)).values()):
        if time.perf_counter() - started > timeout:
            break
        await asyncio.sleep(2)
    return time.perf_counter() - started


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one community, a tenth the size")
    parser.add_argument("--communities", type=int, default=None)
    parser.add_argument("--households", type=int, default=None)
    parser.add_argument("--isolations", type=int, default=None)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument(
        "--cold", action="store_true",
        help="time the pages at once after the catch-up, before autovacuum's statistics",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--no-json", action="store_true")
    args = parser.parse_args(argv)
    args.communities = args.communities or (1 if args.quick else 10)
    args.households = args.households or (1_600 if args.quick else 16_000)
    args.isolations = args.isolations or (2_500 if args.quick else 25_000)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(level="WARNING", json_logs=False)
    with temporary_infrastructure("pagebench", report=say) as srv:
        results = asyncio.run(run(args, srv))
    missed = [r for r in results["pages"] if r["p95_ms"] > TARGET_MS]
    for r in missed:
        say(f"MISSED: {r['area']} {r['page']}: p95 {r['p95_ms']} ms > {TARGET_MS:.0f} ms")
    say(f"RESULT pages={len(results['pages'])} missed={len(missed)} events={results['events']}")
    if not args.no_json:
        save_results(results, "pages", quick=args.quick, path=args.json)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
