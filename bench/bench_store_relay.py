#!/usr/bin/env python
"""Event-store append and outbox-relay throughput, each beside a raw-driver baseline.

Run from the repository root:

    UV_PYTHON_DOWNLOADS=never uv run python bench/bench_store_relay.py            # 20,000 events
    UV_PYTHON_DOWNLOADS=never uv run python bench/bench_store_relay.py --quick    # CI smoke run

Against real Apache Kafka and PostgreSQL: the servers named by CORDON_KAFKA_BOOTSTRAP and
CORDON_DATABASE_URL when both are set, otherwise a private pair started with
``cordon_devenv.infra.start_infrastructure`` in a temporary state dir (free ports) and
stopped at the end. Everything is written to a fresh database that is dropped afterwards,
and to fresh topics that are deleted afterwards.

Measured, each beside its raw baseline (see docs/benchmarks.md for what the ratios mean):

1. append, one event per append: ``PostgresEventStore.append`` from ``--concurrency``
   appenders on distinct streams (a pool made as ServiceRuntime makes it), vs. plain
   asyncpg single-row INSERTs (autocommit, one dedicated connection per appender) into a
   copy of the events table in another schema.
2. append, ``--batch`` events per append: the same, vs. one multi-row ``INSERT ... SELECT
   FROM unnest(...)`` per batch.

   Both appends are also measured against a peer, pyeventsourcing's
   ``PostgresApplicationRecorder.insert_events`` (``eventsourcing[postgres]``, a thread per
   appender, the same events and payload, a schema of its own; ``--no-peer`` skips it).
3. relay: ``OutboxRelay.publish_batch`` in a loop until ``--events`` pre-filled events are
   acknowledged by Kafka, vs. a plain aiokafka producer (same settings as ``make_producer``)
   sending records of the same key, value and headers and awaiting every acknowledgement.

Every measurement starts on empty tables in a schema of its own, after a CHECKPOINT and a
short warm-up, and stops at ``--phase-timeout`` seconds (the rate is then over the events
done so far, and the row is marked as truncated). ``--repeat N`` runs everything N times
and reports medians; ``--breakdown`` adds variants between the raw baseline and Cordon
(pooled connection, explicit transaction, the store's SQL alone, ...) that show where the
difference goes. Results are printed and written as JSON to bench/results/ (gitignored).

The CPU that other programs use during a measurement is counted and reported; a figure is
marked [disturbed] at 0.3 cores or more. On a shared host, ``--quiet-wait`` waits for a
quiet moment before each measurement and ``--retry-disturbed`` measures again.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from harness import (
    QUIET_CORES,
    CpuMeter,
    delete_topics,
    host_facts,
    listening_processes,
    local_kafka_version,
    percentile,
    save_results,
    say,
)

from cordon_core.cloudevents import encode_headers
from cordon_core.envelope import EventMetadata, PendingEvent
from cordon_core.kafka import ensure_topics, make_producer, producer_config, topic_partitions
from cordon_core.migrations import apply_migrations, core_migrations
from cordon_core.observability import configure_logging
from cordon_core.relay import OutboxRelay
from cordon_core.settings import ServiceSettings
from cordon_core.store import PostgresEventStore
from cordon_devenv.infra import Infrastructure, temporary_infrastructure
from cordon_testing.sample import CounterBumped, registry

SOURCE = "/cordon/bench"
STREAMS_PER_APPENDER = 20
RELAY_NAME = "kafka"

# The events table's columns that a writer supplies (global_position, tx_id and
# recorded_at come from column defaults, for the store and the baseline alike).
RAW_INSERT_ONE = """INSERT INTO {schema}.events (event_id, stream_id, stream_version,
        partition_key, event_type, schema_version, payload, occurred_at, correlation_id,
        causation_id, actor, district, community)
    VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11, $12, $13)"""
RAW_INSERT_MANY = """INSERT INTO {schema}.events (event_id, stream_id, stream_version,
        partition_key, event_type, schema_version, payload, occurred_at, correlation_id,
        causation_id, actor, district, community)
    SELECT e.id, $2, e.version, $4, $5, $6, e.payload::jsonb, e.occurred_at, $8, $9, $10,
           $11, $12
    FROM unnest($1::uuid[], $3::int[], $7::text[], $13::timestamptz[])
         AS e(id, version, payload, occurred_at)"""


# ---------------------------------------------------------------------------- results


QUIET_SECONDS = 3  # --quiet-wait: this many quiet seconds in a row before measuring
CPU = CpuMeter()  # the servers are added in main(), once they are known
QUIET_WAIT = [0.0]  # --quiet-wait, set in main()


async def settle() -> float:
    """Wait for a quiet host (see --quiet-wait); returns the seconds waited."""
    return await CPU.settle(QUIET_WAIT[0], quiet_seconds=QUIET_SECONDS)


class Stopwatch:
    """Wall time, our CPU, and other programs' CPU over one measurement."""

    def __init__(self) -> None:
        self.first = CPU.sample()

    def stop(self) -> tuple[float, float, float | None, float | None, float | None]:
        """(wall, our CPU, servers' CPU, host busy share, other programs' cores)."""
        last = CPU.sample()
        cores = CPU.cores(self.first, last, digits=None)
        busy = None
        if cores["host"] is not None and cores.get("host_capacity"):
            busy = cores["host"] / (cores["host_capacity"] or 1.0)
        servers = None
        before, after = self.first.groups.get("servers"), last.groups.get("servers")
        if before is not None and after is not None:
            servers = after - before
        others = cores["others"]
        return last.wall - self.first.wall, last.bench - self.first.bench, servers, busy, others


@dataclass
class Run:
    """One timed measurement: ``events`` written or published in ``seconds``."""

    events: int
    seconds: float
    truncated: bool = False
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    # CPU seconds this (client) process spent, and how busy the whole host was, over the
    # timed part: work that is not the benchmark's (another checkout's test suite) shows
    # up as a busier host and explains an outlier.
    client_cpu_s: float = 0.0
    server_cpu_s: float | None = None  # PostgreSQL (all its processes) and Kafka
    host_busy: float | None = None
    other_cores: float | None = None
    load_1m: float = field(default_factory=lambda: os.getloadavg()[0])

    @classmethod
    def timed(
        cls,
        watch: Stopwatch,
        events: int,
        truncated: bool = False,
        latencies_ms: list[float] | None = None,
    ) -> Run:
        elapsed, cpu, servers, busy, others = watch.stop()
        return cls(events, elapsed, truncated, latencies_ms or [], cpu, servers, busy, others)

    @property
    def disturbed(self) -> bool:
        return self.other_cores is not None and self.other_cores >= QUIET_CORES

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    @property
    def client_cpu_us_per_event(self) -> float:
        return self.client_cpu_s / self.events * 1e6 if self.events else 0.0

    @property
    def server_cpu_us_per_event(self) -> float | None:
        if self.server_cpu_s is None or not self.events:
            return None
        return self.server_cpu_s / self.events * 1e6

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "events": self.events,
            "seconds": round(self.seconds, 4),
            "events_per_s": round(self.rate, 1),
            "truncated": self.truncated,
            "client_cpu_us_per_event": round(self.client_cpu_us_per_event, 1),
            "server_cpu_us_per_event": None
            if self.server_cpu_us_per_event is None
            else round(self.server_cpu_us_per_event, 1),
            "host_cpu_busy_pct": None if self.host_busy is None else round(self.host_busy * 100),
            "other_programs_cores": None
            if self.other_cores is None
            else round(self.other_cores, 2),
            "load_1m_at_end": round(self.load_1m, 2),
        }
        if self.latencies_ms:
            lat = sorted(self.latencies_ms)
            out["op_latency_ms"] = {
                "p50": round(percentile(lat, 50), 3),
                "p99": round(percentile(lat, 99), 3),
                "ops": len(lat),
            }
        return out


@dataclass
class Metric:
    key: str
    label: str
    cordon: list[Run] = field(default_factory=list)
    raw: list[Run] = field(default_factory=list)
    peer: list[Run] = field(default_factory=list)  # pyeventsourcing (appends only)

    @staticmethod
    def usable(runs: Sequence[Run]) -> list[Run]:
        """The runs that other programs did not disturb, or all of them if none is."""
        quiet = [r for r in runs if not r.disturbed]
        return quiet or list(runs)

    @staticmethod
    def median_rate(runs: Sequence[Run]) -> float:
        runs = Metric.usable(runs)
        return statistics.median(r.rate for r in runs) if runs else 0.0

    @staticmethod
    def median_p50(runs: Sequence[Run]) -> float | None:
        runs = Metric.usable(runs)
        values = [percentile(sorted(r.latencies_ms), 50) for r in runs if r.latencies_ms]
        return statistics.median(values) if values else None

    @staticmethod
    def median_cpu(runs: Sequence[Run]) -> float:
        runs = Metric.usable(runs)
        return statistics.median(r.client_cpu_us_per_event for r in runs) if runs else 0.0

    @staticmethod
    def median_server_cpu(runs: Sequence[Run]) -> float | None:
        values = [
            r.server_cpu_us_per_event
            for r in Metric.usable(runs)
            if r.server_cpu_us_per_event is not None
        ]
        return statistics.median(values) if values else None

    @property
    def disturbed(self) -> bool:
        """Every run of one side was disturbed by other programs: treat with suspicion."""
        return any(
            all(r.disturbed for r in side) for side in (self.cordon, self.raw, self.peer) if side
        )

    @property
    def ratio(self) -> float:
        raw = self.median_rate(self.raw)
        return self.median_rate(self.cordon) / raw if raw else 0.0

    @property
    def peer_ratio(self) -> float | None:
        """Cordon's rate as a multiple of pyeventsourcing's; None when it was not run."""
        peer = self.median_rate(self.peer)
        return self.median_rate(self.cordon) / peer if peer else None

    @property
    def truncated(self) -> bool:
        return any(r.truncated for r in (*self.cordon, *self.raw, *self.peer))


# ----------------------------------------------------------------------- infrastructure


@contextlib.asynccontextmanager
async def fresh_database(admin_url: str, keep: bool) -> AsyncIterator[str]:
    name = f"bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    base, _, _ = admin_url.rpartition("/")
    say(f"fresh database {name}")
    try:
        yield f"{base}/{name}"
    finally:
        if keep:
            say(f"--keep-db: database {name} kept")
        else:
            admin = await asyncpg.connect(admin_url)
            try:
                await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            finally:
                await admin.close()


async def machine_info(db_url: str, servers_: Infrastructure) -> dict[str, Any]:
    import aiokafka

    try:
        from cordon_devenv.kafka import kafka_version

        pinned = kafka_version()
    except Exception:
        pinned = "unknown"
    if servers_.broker_kind == "apache-kafka":
        kafka = f"Apache Kafka {pinned} (KRaft, local, started by cordon-devenv)"
    elif servers_.broker_kind == "external":
        seen = local_kafka_version(servers_.kafka_bootstrap)
        kafka = (
            f"Apache Kafka {seen} (external, local process at {servers_.kafka_bootstrap})"
            if seen
            else f"external broker at {servers_.kafka_bootstrap} (cordon-devenv pins {pinned})"
        )
    else:
        kafka = servers_.broker_kind
    conn = await asyncpg.connect(db_url)
    try:
        pg_version = await conn.fetchval("SHOW server_version")
        pg_settings = {
            name: await conn.fetchval(f"SHOW {name}")
            for name in ("fsync", "synchronous_commit", "shared_buffers", "wal_level")
        }
    finally:
        await conn.close()
    return {
        **host_facts(),
        "asyncpg": asyncpg.__version__,
        "aiokafka": aiokafka.__version__,
        "kafka": kafka,
        "postgresql": f"PostgreSQL {pg_version}",
        "postgresql_settings": pg_settings,
    }


# ------------------------------------------------------------------------------ helpers


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """A pool ``reset`` that keeps the session as it is (what the service runtime uses)."""


async def fresh_schema(conn: asyncpg.Connection, schema: str) -> None:
    """A schema with the core tables exactly as every service has them."""
    await apply_migrations(conn, schema, core_migrations())


async def checkpoint(url: str) -> None:
    """Flush dirty pages now, so a checkpoint does not land inside one side's timing."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


async def run_workers(
    plan: Sequence[int],
    op: Callable[[int, int], Awaitable[None]],
    *,
    events_per_op: int,
    deadline: float,
    quiet: bool = False,
) -> Run:
    """Worker ``w`` runs ``op(w, i)`` for i < plan[w], all concurrently, until the deadline.

    ``quiet``: first wait for other programs to leave the CPU alone (``--quiet-wait``);
    the wait does not count against the deadline.
    """
    if quiet:
        deadline += await settle()
    latencies: list[list[float]] = [[] for _ in plan]
    done = [0] * len(plan)
    stopped = False

    async def worker(w: int) -> None:
        nonlocal stopped
        clock = time.perf_counter
        mine = latencies[w]
        for i in range(plan[w]):
            t0 = clock()
            if t0 >= deadline:
                stopped = True
                return
            await op(w, i)
            mine.append((clock() - t0) * 1000)
            done[w] += 1

    watch = Stopwatch()
    await asyncio.gather(*(worker(w) for w in range(len(plan))))
    return Run.timed(
        watch,
        sum(done) * events_per_op,
        truncated=stopped,
        latencies_ms=[x for per in latencies for x in per],
    )


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if w < total % parts else 0) for w in range(parts)]


def payload_json() -> str:
    return str(CounterBumped(by=1).model_dump_json())


def bench_meta() -> EventMetadata:
    return EventMetadata.new(actor="bench", district="d1", community="c1")


def raw_args(
    stream: str, version: int, metadata: EventMetadata, event: PendingEvent
) -> tuple[Any, ...]:
    return (
        event.event_id,
        stream,
        version,
        stream,
        CounterBumped.event_type,
        CounterBumped.schema_version,
        payload_json(),
        event.occurred_at,
        metadata.correlation_id,
        metadata.causation_id,
        metadata.actor,
        metadata.district,
        metadata.community,
    )


# ------------------------------------------------------------------------ the appenders


@dataclass(frozen=True)
class AppendPlan:
    """Who appends what: ``ops[w]`` appends of ``per_op`` events for appender ``w``."""

    ops: list[int]
    per_op: int
    streams: int = STREAMS_PER_APPENDER  # each appender cycles through this many streams

    def stream(self, tag: str, w: int, i: int) -> str:
        return f"{tag}-w{w}-s{i % self.streams}"

    def expected_version(self, i: int) -> int:
        """Version of the stream before append ``i`` (each appender cycles its streams)."""
        return (i // self.streams) * self.per_op


@dataclass(frozen=True)
class Append:
    """One append's input, prepared before the clock starts."""

    stream: str
    expected: int
    events: list[PendingEvent]
    metadata: EventMetadata
    args: tuple[Any, ...] = ()  # SQL parameters, for the variants that bypass the store


# What each append variant does per append; "store" and "raw" are the two headline sides,
# the others (--breakdown) sit between them to show where the difference goes.
VARIANTS: dict[str, str] = {
    "raw": "plain asyncpg, autocommit INSERT, dedicated connection (the baseline)",
    "pool_raw": "the same INSERT on a connection acquired from an asyncpg pool (no reset)",
    "raw_tx": "the same INSERT inside BEGIN ... COMMIT",
    "merged_sql": "store SQL, ids + heads (LATERAL) in one SELECT: BEGIN; SELECT; INSERT; COMMIT",
    "lateral_sql": "store SQL, heads read with LATERAL ... LIMIT 1 instead of DISTINCT ON",
    "store_sql": "the store's SQL, not its Python: BEGIN; 2 SELECTs; INSERT ... RETURNING; COMMIT",
    "store_conn": "PostgresEventStore.append(conn=...) on a dedicated connection",
    "store_reset": "the same from a pool with asyncpg's default reset query on release",
    "store": "PostgresEventStore.append from a pool, as a service calls it (Cordon)",
    "peer": "pyeventsourcing PostgresApplicationRecorder.insert_events, a thread per appender",
}

# The statements PostgresEventStore._append_many runs (store.py at the time of writing),
# for the *_sql breakdown variants only: the headline figure always calls the real store.
_STORE_IDS = (
    "SELECT {cols} FROM {schema}.events WHERE event_id = ANY($1::uuid[]) ORDER BY global_position"
)
_STORE_HEADS = """SELECT DISTINCT ON (stream_id) stream_id, stream_version,
           tx_id > pg_current_xact_id() AS newer_tx
    FROM {schema}.events WHERE stream_id = ANY($1::text[])
    ORDER BY stream_id, stream_version DESC"""
_STORE_INSERT = """INSERT INTO {schema}.events (event_id, stream_id, stream_version,
        partition_key, event_type, schema_version, payload, occurred_at, correlation_id,
        causation_id, actor, district, community)
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::text[], $6::int[],
        $7::jsonb[], $8::timestamptz[], $9::uuid[], $10::uuid[], $11::text[], $12::text[],
        $13::text[])
    RETURNING event_id, global_position, recorded_at"""
# The suggested alternatives: one probe of the (stream_id, stream_version) index per
# stream, however long the stream; and both checks in one round trip.
_LATERAL_HEADS = """SELECT s.stream_id, h.stream_version, h.tx_id > pg_current_xact_id() AS newer_tx
    FROM unnest($1::text[]) AS s(stream_id)
    CROSS JOIN LATERAL (SELECT e.stream_version, e.tx_id FROM {schema}.events AS e
                        WHERE e.stream_id = s.stream_id
                        ORDER BY e.stream_version DESC LIMIT 1) AS h"""
_MERGED_CHECK = """SELECT (SELECT count(*) FROM {schema}.events WHERE event_id = ANY($1::uuid[]))
           AS stored, s.stream_id, h.stream_version, h.tx_id > pg_current_xact_id() AS newer_tx
    FROM unnest($2::text[]) AS s(stream_id)
    LEFT JOIN LATERAL (SELECT e.stream_version, e.tx_id FROM {schema}.events AS e
                       WHERE e.stream_id = s.stream_id
                       ORDER BY e.stream_version DESC LIMIT 1) AS h ON true"""


def _raw_params(a: Append) -> tuple[Any, ...]:
    rows = [
        raw_args(a.stream, a.expected + 1 + k, a.metadata, event)
        for k, event in enumerate(a.events)
    ]
    if len(rows) == 1:
        return rows[0]
    r0 = rows[0]
    return (
        [r[0] for r in rows],
        a.stream,
        [r[2] for r in rows],
        a.stream,
        r0[4],
        r0[5],
        [r[6] for r in rows],
        r0[8],
        r0[9],
        r0[10],
        r0[11],
        r0[12],
        [r[7] for r in rows],
    )


def _store_params(a: Append) -> tuple[Any, ...]:
    """The INSERT's 13 column arrays, built as append_many builds them."""
    m = a.metadata
    n = len(a.events)
    return (
        [e.event_id for e in a.events],
        [a.stream] * n,
        list(range(a.expected + 1, a.expected + 1 + n)),
        [a.stream] * n,
        [e.payload.event_type for e in a.events],
        [e.payload.schema_version for e in a.events],
        [e.payload.model_dump_json() for e in a.events],
        [e.occurred_at for e in a.events],
        [m.correlation_id] * n,
        [m.causation_id] * n,
        [m.actor] * n,
        [m.district] * n,
        [m.community] * n,
    )


async def appends(
    db_url: str, schema: str, plan: AppendPlan, variant: str, *, warmup: int, deadline: float
) -> Run:
    """Run ``plan`` with one append variant (see VARIANTS) on a fresh copy of the tables.

    Every variant writes the same rows into a schema made by the core migrations, so the
    table, its constraints and its indexes are identical; only the way of writing differs.
    """
    from cordon_core.store import _COLUMNS

    concurrency = len(plan.ops)
    pooled = variant in ("store", "store_reset", "pool_raw")
    pool = (
        await asyncpg.create_pool(
            db_url,
            min_size=concurrency,
            max_size=concurrency,
            # As ServiceRuntime.start() makes its pool: no reset query on release. The
            # store_reset variant keeps asyncpg's default to show what that costs.
            **({} if variant == "store_reset" else {"reset": _keep_session}),
        )
        if pooled
        else None
    )
    conns = [] if pooled else [await asyncpg.connect(db_url) for _ in range(concurrency)]
    try:
        if pool is not None:
            async with pool.acquire() as conn:
                await fresh_schema(conn, schema)
        else:
            await fresh_schema(conns[0], schema)
        store = PostgresEventStore(pool or conns[0], schema, registry, source=SOURCE)
        raw_sql = (RAW_INSERT_ONE if plan.per_op == 1 else RAW_INSERT_MANY).format(schema=schema)
        ids_sql = _STORE_IDS.format(cols=_COLUMNS, schema=schema)
        heads_sql = (_LATERAL_HEADS if variant == "lateral_sql" else _STORE_HEADS).format(
            schema=schema
        )
        merged_sql = _MERGED_CHECK.format(schema=schema)
        insert_sql = _STORE_INSERT.format(schema=schema)
        params = _raw_params if variant in ("raw", "pool_raw", "raw_tx") else _store_params

        def inputs(tag: str, ops: list[int]) -> list[list[Append]]:
            out = []
            for w, n in enumerate(ops):
                mine = []
                for i in range(n):
                    a = Append(
                        plan.stream(tag, w, i),
                        plan.expected_version(i),
                        [PendingEvent(CounterBumped(by=1)) for _ in range(plan.per_op)],
                        bench_meta(),
                    )
                    if variant not in ("store", "store_reset", "store_conn"):
                        a = Append(a.stream, a.expected, a.events, a.metadata, params(a))
                    mine.append(a)
                out.append(mine)
            return out

        async def run(tag: str, ops: list[int], until: float) -> Run:
            data = inputs(tag, ops)

            async def op(w: int, i: int) -> None:
                a = data[w][i]
                if variant in ("store", "store_reset"):
                    await store.append(
                        a.stream, a.events, expected_version=a.expected, metadata=a.metadata
                    )
                elif variant == "store_conn":
                    await store.append(
                        a.stream,
                        a.events,
                        expected_version=a.expected,
                        metadata=a.metadata,
                        conn=conns[w],
                    )
                elif variant == "raw":
                    await conns[w].execute(raw_sql, *a.args)
                elif variant == "pool_raw":
                    assert pool is not None
                    async with pool.acquire() as conn:
                        await conn.execute(raw_sql, *a.args)
                elif variant == "raw_tx":
                    async with conns[w].transaction():
                        await conns[w].execute(raw_sql, *a.args)
                elif variant in ("store_sql", "lateral_sql"):
                    conn = conns[w]
                    async with conn.transaction():
                        stored = await conn.fetch(ids_sql, a.args[0])
                        head = await conn.fetchrow(heads_sql, [a.stream])
                        assert not stored and (head["stream_version"] if head else 0) == a.expected
                        await conn.fetch(insert_sql, *a.args)
                elif variant == "merged_sql":
                    conn = conns[w]
                    async with conn.transaction():
                        check = await conn.fetchrow(merged_sql, a.args[0], [a.stream])
                        assert check["stored"] == 0 and (check["stream_version"] or 0) == a.expected
                        await conn.fetch(insert_sql, *a.args)
                else:
                    raise ValueError(variant)

            return await run_workers(
                ops, op, events_per_op=plan.per_op, deadline=until, quiet=tag != "warm"
            )

        await run("warm", [warmup] * concurrency, time.perf_counter() + 30)
        await checkpoint(db_url)
        return await run("s", plan.ops, deadline)
    finally:
        for conn in conns:
            await conn.close()
        if pool is not None:
            await pool.close()


# ------------------------------------------------------------- the peer: pyeventsourcing

PEER = "pyeventsourcing"
PEER_TOPIC = f"{CounterBumped.__module__}:{CounterBumped.__qualname__}"
"""The event's topic as pyeventsourcing names a class ("module:qualname")."""


def peer_version() -> str:
    from importlib.metadata import version

    return version("eventsourcing")


async def peer_appends(
    db_url: str, schema: str, plan: AppendPlan, *, warmup: int, deadline: float
) -> Run:
    """``plan`` written with pyeventsourcing's ``PostgresApplicationRecorder.insert_events``
    (its defaults: a psycopg pool, one transaction per call that locks the table, notifies
    and inserts in a pipeline), in a fresh schema of the same database.

    The recorder is synchronous, so each appender is a thread of its own with a pooled
    connection, as a pyeventsourcing application serves concurrent requests. Every event
    carries the same payload bytes as Cordon's append; the peer stores no metadata columns.
    """
    from eventsourcing.persistence import StoredEvent
    from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute(f"CREATE SCHEMA {schema}")
    finally:
        await conn.close()
    where = urlsplit(db_url)
    concurrency = len(plan.ops)
    datastore = PostgresDatastore(
        dbname=where.path.lstrip("/"),
        host=where.hostname or "127.0.0.1",
        port=where.port or 5432,
        user=unquote(where.username or "postgres"),
        password=unquote(where.password or ""),
        pool_size=concurrency,
        schema=schema,
    )
    try:
        recorder = PostgresApplicationRecorder(datastore)
        await asyncio.to_thread(recorder.create_table)
        state = payload_json().encode()

        def inputs(tag: str, ops: list[int]) -> list[list[list[StoredEvent]]]:
            ids = {(w, s): uuid.uuid4() for w in range(concurrency) for s in range(plan.streams)}
            return [
                [
                    [
                        StoredEvent(
                            ids[w, i % plan.streams],
                            plan.expected_version(i) + 1 + k,
                            PEER_TOPIC,
                            state,
                        )
                        for k in range(plan.per_op)
                    ]
                    for i in range(n)
                ]
                for w, n in enumerate(ops)
            ]

        async def run(tag: str, ops: list[int], until: float) -> Run:
            data = inputs(tag, ops)
            latencies: list[list[float]] = [[] for _ in ops]
            done = [0] * len(ops)

            def writer(w: int) -> bool:
                """Appender ``w``'s calls in order; True when the deadline stopped it."""
                clock = time.perf_counter
                mine = latencies[w]
                for events in data[w]:
                    t0 = clock()
                    if t0 >= until:
                        return True
                    recorder.insert_events(events)
                    mine.append((clock() - t0) * 1000)
                    done[w] += 1
                return False

            if tag != "warm":
                until += await settle()
            watch = Stopwatch()
            stopped = await asyncio.gather(*(asyncio.to_thread(writer, w) for w in range(len(ops))))
            return Run.timed(
                watch,
                sum(done) * plan.per_op,
                truncated=any(stopped),
                latencies_ms=[x for per in latencies for x in per],
            )

        await run("warm", [warmup] * concurrency, time.perf_counter() + 30)
        await checkpoint(db_url)
        return await run("s", plan.ops, deadline)
    finally:
        await asyncio.to_thread(datastore.close)


# ------------------------------------------------------------------------------ relay


async def prefill(
    db_url: str, schema: str, events: int, batch: int, concurrency: int, *, deadline: float
) -> float:
    """Write ``events`` events through the store (not part of the relay's timing)."""
    per_op = max(1, min(batch, events))
    ops = events // per_op
    plan = AppendPlan(split(ops, concurrency), per_op)
    started = time.perf_counter()
    pool = await asyncpg.create_pool(db_url, min_size=1, max_size=concurrency)
    try:
        async with pool.acquire() as conn:
            await fresh_schema(conn, schema)
        store = PostgresEventStore(pool, schema, registry, source=SOURCE)

        async def op(w: int, i: int) -> None:
            await store.append(
                plan.stream("r", w, i),
                [PendingEvent(CounterBumped(by=1)) for _ in range(per_op)],
                expected_version=plan.expected_version(i),
                metadata=bench_meta(),
            )

        done = await run_workers(plan.ops, op, events_per_op=per_op, deadline=deadline)
        rest = events - ops * per_op
        if rest and not done.truncated:
            await store.append(
                "r-rest",
                [PendingEvent(CounterBumped(by=1)) for _ in range(rest)],
                expected_version=0,
                metadata=bench_meta(),
            )
    finally:
        await pool.close()
    return time.perf_counter() - started


async def warm_up(producer: AIOKafkaProducer, topic: str) -> None:
    """Before the clock starts: one acknowledged record per partition, so topic metadata,
    partition leaders (a new topic may not have them all yet) and the idempotent
    producer id are all in place."""
    for attempt in range(50):
        partitions = await producer.partitions_for(topic)
        try:
            futures = [
                await producer.send(topic, value=b"{}", key=b"warm-up", partition=p)
                for p in sorted(partitions)
            ]
            await asyncio.gather(*futures)
            return
        except Exception:
            if attempt == 49:
                raise
            await asyncio.sleep(0.2)


async def topic_end_offsets(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        parts = await topic_partitions(consumer, [topic])
        offsets = await consumer.end_offsets(parts)
        return int(sum(offsets.values()))
    finally:
        await consumer.stop()


async def cordon_relay(
    settings: ServiceSettings,
    schema: str,
    topic: str,
    total: int,
    *,
    deadline: float,
    batch_size: int,
) -> Run:
    """``OutboxRelay.publish_batch`` in a loop until ``total`` events are acknowledged.

    This is what ``run()`` does while there is a backlog (it sleeps ``poll_interval``
    only after a short batch); the leadership lock and position load are left out.
    """
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    producer = make_producer(settings)
    await producer.start()
    try:
        relay = OutboxRelay(
            pool=pool,
            schema=schema,
            producer=producer,
            route=lambda _type: topic,
            source=SOURCE,
            name=RELAY_NAME,
            batch_size=batch_size,
            poll_interval=settings.relay_poll_interval_ms / 1000,
        )
        await warm_up(producer, topic)
        async with pool.acquire() as conn:
            position = await relay.load_position(conn)  # creates the relay_positions row
            await conn.execute("CHECKPOINT")
            published, truncated, latencies = 0, False, []
            deadline += await settle()
            watch = Stopwatch()
            while published < total:
                t0 = time.perf_counter()
                if t0 >= deadline:
                    truncated = True
                    break
                count, position = await relay.publish_batch(conn, position)
                if count == 0:
                    break
                latencies.append((time.perf_counter() - t0) * 1000)
                published += count
            run = Run.timed(watch, published, truncated, latencies)
            recorded = await conn.fetchval(
                f"SELECT published FROM {schema}.relay_positions WHERE relay_name = $1",
                RELAY_NAME,
            )
        if recorded != published:
            say(f"  WARNING: relay_positions says {recorded} published, loop counted {published}")
        return run
    finally:
        await producer.stop()
        await pool.close()


async def relay_records(db_url: str, schema: str) -> list[tuple[bytes, bytes, list[Any]]]:
    """(key, value, headers) exactly as the relay produces them, for the raw producer."""
    conn = await asyncpg.connect(db_url)
    try:
        rows = await conn.fetch(
            f"""SELECT event_id, stream_id, stream_version, partition_key, event_type,
                       schema_version, payload::text AS payload, occurred_at, recorded_at,
                       correlation_id, causation_id, actor, district, community
                FROM {schema}.events ORDER BY tx_id, global_position"""
        )
    finally:
        await conn.close()
    return [
        (
            row["partition_key"].encode(),
            row["payload"].encode(),
            encode_headers(
                event_id=row["event_id"],
                event_type=row["event_type"],
                schema_version=row["schema_version"],
                source=SOURCE,
                occurred_at=row["occurred_at"],
                recorded_at=row["recorded_at"],
                stream_id=row["stream_id"],
                stream_version=row["stream_version"],
                partition_key=row["partition_key"],
                correlation_id=row["correlation_id"],
                causation_id=row["causation_id"],
                actor=row["actor"],
                district=row["district"],
                community=row["community"],
            ),
        )
        for row in rows
    ]


async def raw_producer(
    settings: ServiceSettings,
    topic: str,
    records: Sequence[tuple[bytes, bytes, list[Any]]],
    *,
    deadline: float,
    window: int | None = None,
) -> Run:
    """A plain aiokafka producer with make_producer's settings (acks=all, idempotence,
    linger_ms, max_batch_size), records prepared beforehand; all of them in flight at
    once, or (``window``) acknowledgements awaited every ``window`` records."""
    producer = AIOKafkaProducer(**producer_config(settings))
    await producer.start()
    try:
        await warm_up(producer, topic)
        step = window or len(records) or 1
        sent, truncated, latencies = 0, False, []
        deadline += await settle()
        watch = Stopwatch()
        for first in range(0, len(records), step):
            t0 = time.perf_counter()
            if t0 >= deadline:
                truncated = True
                break
            futures = [
                await producer.send(topic, value=value, key=key, headers=headers)
                for key, value, headers in records[first : first + step]
            ]
            await asyncio.gather(*futures)
            sent += len(futures)
            if window:
                latencies.append((time.perf_counter() - t0) * 1000)
        return Run.timed(watch, sent, truncated, latencies)
    finally:
        await producer.stop()


# ------------------------------------------------------------------------------- report


def fmt_rate(value: float) -> str:
    return f"{value:,.0f}"


def spread(runs: Sequence[Run]) -> str:
    rates = [r.rate for r in runs]
    return f" ({fmt_rate(min(rates))}-{fmt_rate(max(rates))})" if rates else ""


def render_table(metrics: Sequence[Metric], repeat: int) -> str:
    head: tuple[str, ...] = (
        "metric",
        "Cordon events/s",
        "raw baseline events/s",
        "ratio (Cordon/raw)",
    )
    peers = any(m.peer for m in metrics)
    if peers:
        head += (f"{PEER} events/s", f"ratio (Cordon/{PEER})")
    rows = []
    for m in metrics:
        cordon = Metric.median_rate(m.cordon)
        raw = Metric.median_rate(m.raw)
        c_txt, r_txt = fmt_rate(cordon), fmt_rate(raw)
        if repeat > 1:
            c_txt += spread(m.cordon)
            r_txt += spread(m.raw)
        label = m.label + (" [truncated]" if m.truncated else "")
        label += " [disturbed]" if m.disturbed else ""
        row: tuple[str, ...] = (label, c_txt, r_txt, f"{m.ratio:.2f}")
        if peers:
            p_txt = fmt_rate(Metric.median_rate(m.peer)) if m.peer else "-"
            if m.peer and repeat > 1:
                p_txt += spread(m.peer)
            row += (p_txt, "-" if m.peer_ratio is None else f"{m.peer_ratio:.2f}")
        rows.append(row)
    widths = [max(len(str(r[i])) for r in (head, *rows)) for i in range(len(head))]
    line = "-+-".join("-" * w for w in widths)
    out = [
        " | ".join(
            h.ljust(widths[i]) if i == 0 else h.rjust(widths[i]) for i, h in enumerate(head)
        ),
        line,
    ]
    for r in rows:
        out.append(
            " | ".join(
                c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r)
            )
        )
    return "\n".join(out)


def render_latency(metrics: Sequence[Metric]) -> str:
    """Median latency per operation and the client's CPU per event, Cordon vs. raw."""
    lines = []
    for m in metrics:
        if not m.cordon or not m.raw:
            continue
        c, r = Metric.median_p50(m.cordon), Metric.median_p50(m.raw)
        c_cpu, r_cpu = Metric.median_cpu(m.cordon), Metric.median_cpu(m.raw)
        if m.key.startswith("append"):
            lat = f"p50 per append {c:.2f} ms vs {r:.2f} ms; " if c is not None and r else ""
            peer = Metric.median_p50(m.peer)
            lat += f"{PEER} {peer:.2f} ms; " if peer is not None else ""
        else:
            lat = f"p50 per relay batch {c:.1f} ms; " if c is not None else ""
        c_srv, r_srv = Metric.median_server_cpu(m.cordon), Metric.median_server_cpu(m.raw)
        srv = (
            f"; servers' CPU per event {c_srv:.1f} us vs {r_srv:.1f} us"
            if c_srv is not None and r_srv is not None
            else ""
        )
        lines.append(
            f"  {m.label}: {lat}client CPU per event {c_cpu:.1f} us vs {r_cpu:.1f} us{srv}"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Event-store append and outbox-relay throughput vs. raw asyncpg/aiokafka.",
    )
    parser.add_argument("--events", type=int, default=20000, help="events per measurement")
    parser.add_argument("--batch", type=int, default=100, help="events per batched append")
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent appenders")
    parser.add_argument(
        "--streams",
        type=int,
        default=STREAMS_PER_APPENDER,
        help="streams each appender cycles through (fewer: longer streams)",
    )
    parser.add_argument("--quick", action="store_true", help="CI smoke run: 2,000 events")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="repeat every measurement; tables show medians (and ranges)",
    )
    parser.add_argument(
        "--relay-batch",
        type=int,
        default=ServiceSettings().relay_batch_size,
        help="OutboxRelay batch_size (default: ServiceSettings.relay_batch_size)",
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also run variants between raw and Cordon to show where time goes",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=0.0,
        help="before each measurement, wait up to this many seconds until other programs"
        f" use less than {QUIET_CORES} cores for {QUIET_SECONDS}s in a row (default 0: do not"
        " wait, only report them)",
    )
    parser.add_argument(
        "--retry-disturbed",
        type=int,
        default=0,
        help="measure again, up to this many times, when other programs disturbed a run",
    )
    parser.add_argument(
        "--phase-timeout",
        type=float,
        default=None,
        help="seconds one measurement may take (default 120, --quick 30)",
    )
    parser.add_argument(
        "--only",
        choices=("single", "batch", "relay"),
        action="append",
        help="run only these phases (repeatable)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="write results here (default bench/results/store_relay-<time>.json)",
    )
    parser.add_argument("--no-json", action="store_true", help="do not write a JSON file")
    parser.add_argument(
        "--no-peer",
        action="store_true",
        help="do not measure the pyeventsourcing recorder beside the appends",
    )
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database")
    parser.add_argument(
        "--keep-infra", action="store_true", help="leave self-started servers running"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.events = min(args.events, 2000)
    if args.phase_timeout is None:
        args.phase_timeout = 30.0 if args.quick else 120.0
    if (
        min(args.events, args.batch, args.concurrency, args.repeat, args.relay_batch, args.streams)
        < 1
    ):
        parser.error("--events, --batch, --concurrency, --repeat, --relay-batch, --streams: > 0")
    if args.retry_disturbed < 0 or args.quiet_wait < 0:
        parser.error("--retry-disturbed and --quiet-wait must not be negative")
    return args


SHORT = {
    "raw": "raw baseline",
    "pool_raw": "raw, pooled connection",
    "raw_tx": "raw, in BEGIN/COMMIT",
    "merged_sql": "store SQL, checks merged (4 trips)",
    "lateral_sql": "store SQL, LATERAL head read",
    "store_sql": "store SQL only (5 round trips)",
    "store_conn": "store.append(conn=...)",
    "store_reset": "store, pool with default reset",
    "store": "Cordon: PostgresEventStore.append",
    "peer": "pyeventsourcing insert_events",
    "raw_stop_and_wait": "raw, acks awaited per relay batch",
    "relay": "Cordon: OutboxRelay",
    "relay_x5": "OutboxRelay, 5x batch_size",
}


def report(name: str, run: Run) -> None:
    flag = ", TRUNCATED at --phase-timeout" if run.truncated else ""
    if run.disturbed:
        flag += f", DISTURBED: other programs used {run.other_cores:.1f} cores"
    rate = fmt_rate(run.rate)
    what = SHORT.get(name, name)
    say(f"    {what:<34} {rate:>9} events/s  ({run.events} in {run.seconds:.2f}s{flag})")


RELAY_VARIANTS = {
    "raw": "plain aiokafka producer, all records in flight, acks awaited at the end (baseline)",
    "raw_stop_and_wait": "the same, but acks awaited every relay batch, as the relay does",
    "relay": "OutboxRelay.publish_batch loop (Cordon)",
    "relay_x5": "OutboxRelay.publish_batch loop with a 5x larger batch_size",
}


async def bench(args: argparse.Namespace, srv: Infrastructure) -> dict[str, Any]:
    phases = set(args.only or ("single", "batch", "relay"))
    breakdown: dict[str, dict[str, list[Run]]] = {}

    def keep(phase: str, variant: str, run: Run) -> None:
        breakdown.setdefault(phase, {}).setdefault(variant, []).append(run)

    async with fresh_database(srv.database_url, args.keep_db) as db_url:
        machine = await machine_info(db_url, srv)
        CPU.groups["servers"] = listening_processes(srv.kafka_bootstrap, db_url)
        machine["servers_cpu_tracked"] = len(CPU.groups["servers"])
        say(
            f"machine: {machine['cores']} CPUs ({machine['cpu']}), Python {machine['python']},"
            f" {machine['kafka']}, {machine['postgresql']}"
            f" (fsync={machine['postgresql_settings']['fsync']},"
            f" synchronous_commit={machine['postgresql_settings']['synchronous_commit']}),"
            f" load average {machine['loadavg_at_start']}"
        )
        settings = ServiceSettings(
            database_url=db_url,
            kafka_bootstrap=srv.kafka_bootstrap,
            kafka_idempotence=srv.kafka_idempotence,
            topic_prefix=f"bench{uuid.uuid4().hex[:8]}",
            relay_batch_size=args.relay_batch,
        )
        n, c, b = args.events, args.concurrency, args.batch
        single = Metric("append_single", f"append, 1 event/append, {c} appenders")
        batched = Metric("append_batch", f"append, {b} events/append, {c} appenders")
        relay = Metric("relay", f"relay to Kafka (relay batch {args.relay_batch}, acks=all)")
        metrics = [
            m for m, p in ((single, "single"), (batched, "batch"), (relay, "relay")) if p in phases
        ]
        topics: list[str] = []
        notes: dict[str, Any] = {}
        extra = [
            "pool_raw",
            "raw_tx",
            "store_sql",
            "lateral_sql",
            "merged_sql",
            "store_conn",
            "store_reset",
        ]

        async def append_phase(
            phase: str, metric: Metric, plan: AppendPlan, warm: int, tag: str
        ) -> None:
            variants = ["raw", *(extra if args.breakdown else []), "store"]
            for variant in variants:
                for attempt in range(args.retry_disturbed + 1):
                    run = await appends(
                        db_url,
                        f"{phase}_{variant}_{tag}_{attempt}",
                        plan,
                        variant,
                        warmup=warm,
                        deadline=time.perf_counter() + args.phase_timeout,
                    )
                    report(variant, run)
                    if not run.disturbed or attempt == args.retry_disturbed:
                        break
                    say("      measuring again (--retry-disturbed)")
                keep(phase, variant, run)
                if variant == "raw":
                    metric.raw.append(run)
                elif variant == "store":
                    metric.cordon.append(run)
            if args.no_peer:
                return
            for attempt in range(args.retry_disturbed + 1):
                run = await peer_appends(
                    db_url,
                    f"{phase}_peer_{tag}_{attempt}",
                    plan,
                    warmup=warm,
                    deadline=time.perf_counter() + args.phase_timeout,
                )
                report("peer", run)
                if not run.disturbed or attempt == args.retry_disturbed:
                    break
                say("      measuring again (--retry-disturbed)")
            keep(phase, "peer", run)
            metric.peer.append(run)

        try:
            for rep in range(1, args.repeat + 1):
                tag = f"r{rep}"
                if args.repeat > 1:
                    say(f"--- repeat {rep}/{args.repeat}")
                if "single" in phases:
                    say(f"[1] append, single events: {n} events, {c} appenders on distinct streams")
                    plan = AppendPlan(split(n, c), 1, args.streams)
                    await append_phase("single", single, plan, min(100, max(10, n // c // 20)), tag)
                if "batch" in phases:
                    per_op = min(b, n)
                    plan = AppendPlan(split(max(1, n // per_op), c), per_op, args.streams)
                    say(
                        f"[2] append, batches of {per_op}: {sum(plan.ops) * per_op} events,"
                        f" {c} appenders on distinct streams"
                    )
                    warm = min(20, max(2, n // per_op // c // 10))
                    await append_phase("batch", batched, plan, warm, tag)
                if "relay" in phases:
                    await relay_phase(args, srv, settings, relay, tag, topics, notes, keep)
        finally:
            if topics:
                await delete_topics(srv.kafka_bootstrap, [settings.topic_prefix])
    return {
        "benchmark": "store_relay",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["bench/bench_store_relay.py", *sys.argv[1:]]),
        "parameters": {
            "events": args.events,
            "batch": args.batch,
            "concurrency": args.concurrency,
            "repeat": args.repeat,
            "phase_timeout_s": args.phase_timeout,
            "relay_batch_size": args.relay_batch,
            "topic_partitions": settings.topic_partitions,
            "streams_per_appender": args.streams,
            "peer": None if args.no_peer else f"eventsourcing {peer_version()}",
            "producer": {
                k: v for k, v in producer_config(settings).items() if k != "bootstrap_servers"
            },
        },
        "machine": machine,
        "metrics": [
            {
                "key": m.key,
                "label": m.label,
                "cordon_events_per_s": round(Metric.median_rate(m.cordon), 1),
                "raw_events_per_s": round(Metric.median_rate(m.raw), 1),
                "ratio": round(m.ratio, 3),
                "peer_events_per_s": round(Metric.median_rate(m.peer), 1) if m.peer else None,
                "peer_ratio": None if m.peer_ratio is None else round(m.peer_ratio, 3),
                "truncated": m.truncated,
                "cordon_runs": [r.summary() for r in m.cordon],
                "raw_runs": [r.summary() for r in m.raw],
                "peer_runs": [r.summary() for r in m.peer],
            }
            for m in metrics
        ],
        "breakdown": {
            phase: {
                variant: {
                    "description": {**VARIANTS, **RELAY_VARIANTS}[variant],
                    "events_per_s": round(Metric.median_rate(runs), 1),
                    "runs": [r.summary() for r in runs],
                }
                for variant, runs in per_phase.items()
            }
            for phase, per_phase in breakdown.items()
        },
        "notes": notes,
        "_metrics": metrics,
        "_breakdown": breakdown,
    }


async def relay_phase(
    args: argparse.Namespace,
    srv: Infrastructure,
    settings: ServiceSettings,
    metric: Metric,
    tag: str,
    topics: list[str],
    notes: dict[str, Any],
    keep: Callable[[str, str, Run], None],
) -> None:
    n = args.events
    variants = ["raw", "relay"]
    if args.breakdown:
        variants = ["raw", "raw_stop_and_wait", "relay", "relay_x5"]
    say(
        f"[3] relay to Kafka: {n} events pre-filled through the store, published to topics of"
        f" {settings.topic_partitions} partitions (acks=all,"
        f" idempotence={settings.kafka_idempotence})"
    )
    records: list[tuple[bytes, bytes, list[Any]]] = []

    async def fill(schema: str) -> None:
        filled = await prefill(
            settings.database_url,
            schema,
            n,
            args.batch,
            args.concurrency,
            deadline=time.perf_counter() + args.phase_timeout,
        )
        say(f"      (pre-filled {schema} in {filled:.2f}s)")

    async def measure(variant: str, attempt: int) -> Run:
        # Each attempt gets a fresh topic and, for the relay, a freshly filled schema.
        topic = f"{settings.topic_prefix}.{variant.replace('_', '-')}-{tag}-{attempt}.events"
        topics.append(topic)
        await ensure_topics(settings, [topic])
        deadline = time.perf_counter() + args.phase_timeout
        if variant.startswith("raw"):
            if not records:
                await fill(f"relay_records_{tag}")
                records.extend(await relay_records(settings.database_url, f"relay_records_{tag}"))
            window = args.relay_batch if variant == "raw_stop_and_wait" else None
            return await raw_producer(settings, topic, records, deadline=deadline, window=window)
        schema = f"relay_{variant}_{tag}_{attempt}"
        await fill(schema)
        size = args.relay_batch * (5 if variant == "relay_x5" else 1)
        deadline = time.perf_counter() + args.phase_timeout
        run = await cordon_relay(settings, schema, topic, n, deadline=deadline, batch_size=size)
        if srv.broker_kind != "tansu":
            on_topic = await topic_end_offsets(srv.kafka_bootstrap, topic)
            notes.setdefault(f"{variant}_records_on_topic", []).append(on_topic)
            expected = run.events + settings.topic_partitions  # + one warm-up record each
            if on_topic != expected:
                say(f"    WARNING: {on_topic} records on {topic}, expected {expected}")
        return run

    for variant in variants:
        for attempt in range(args.retry_disturbed + 1):
            run = await measure(variant, attempt)
            report(variant, run)
            if not run.disturbed or attempt == args.retry_disturbed:
                break
            say("      measuring again (--retry-disturbed)")
        keep("relay", variant, run)
        if variant == "raw":
            metric.raw.append(run)
        elif variant == "relay":
            metric.cordon.append(run)


def render_breakdown(breakdown: dict[str, dict[str, list[Run]]], args: argparse.Namespace) -> str:
    """One line per variant: rate, share of raw, p50, CPU per event (ours, the servers')."""
    titles = {
        "single": "append, 1 event/append",
        "batch": f"append, {args.batch} events/append",
        "relay": f"relay (batch {args.relay_batch})",
    }
    out = [
        "  (medians over undisturbed repeats; x = share of the raw rate; p50 per operation;"
        " CPU per event\n   in us: the benchmark process, and PostgreSQL + Kafka; other ="
        " cores used by other programs, ! = disturbed)",
        f"  {'variant':<18} {'events/s':>9} {'x raw':>6} {'p50 ms':>8} {'client':>7}"
        f" {'server':>7} {'other':>6}  what",
    ]
    for phase, per_phase in breakdown.items():
        raw = Metric.median_rate(per_phase.get("raw", []))
        descriptions = RELAY_VARIANTS if phase == "relay" else VARIANTS
        out.append(f"  {titles[phase]}:")
        for variant, runs in per_phase.items():
            rate = Metric.median_rate(runs)
            share = f"{rate / raw:6.2f}" if raw else "     -"
            p50 = Metric.median_p50(runs)
            lat = f"{p50:8.2f}" if p50 is not None else f"{'-':>8}"
            server = Metric.median_server_cpu(runs)
            srv = f"{server:7.1f}" if server is not None else f"{'-':>7}"
            others = [r.other_cores for r in Metric.usable(runs) if r.other_cores is not None]
            other = f"{statistics.median(others):5.2f}" if others else f"{'-':>5}"
            flag = "!" if all(r.disturbed for r in runs) else " "
            out.append(
                f"    {variant:<16} {fmt_rate(rate):>9} {share} {lat}"
                f" {Metric.median_cpu(runs):7.1f} {srv} {other}{flag}  {descriptions[variant]}"
            )
    return "\n".join(out)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    QUIET_WAIT[0] = args.quiet_wait
    # A plain `kill` must still stop the servers this run started: as an exception, it
    # runs temporary_infrastructure's cleanup.
    signal.signal(signal.SIGTERM, _interrupt)
    configure_logging(level="WARNING", json_logs=False)
    logging.getLogger("cordon_devenv").setLevel(logging.INFO)
    try:
        with temporary_infrastructure("bench", keep=args.keep_infra, report=say) as srv:
            result = asyncio.run(bench(args, srv))
    except KeyboardInterrupt as stop:
        say(f"interrupted ({stop or 'Ctrl-C'}); servers started by this run are stopped")
        return 130
    metrics: list[Metric] = result.pop("_metrics")
    breakdown: dict[str, dict[str, list[Run]]] = result.pop("_breakdown")
    m = result["machine"]
    say("")
    say(f"Cordon store + relay benchmark: {result['command']}")
    say(
        f"machine: cores={m['cores']} ({m['cpu']}, {m['memory_gib']} GiB), Python {m['python']},"
        f" asyncpg {m['asyncpg']}, aiokafka {m['aiokafka']}"
    )
    say(
        f"         {m['kafka']}; {m['postgresql']}"
        f" (fsync={m['postgresql_settings']['fsync']},"
        f" synchronous_commit={m['postgresql_settings']['synchronous_commit']})"
    )
    say(
        f"events per measurement: {args.events}; repeats: {args.repeat}"
        + (" (median, range in brackets)" if args.repeat > 1 else "")
    )
    say("")
    say(render_table(metrics, args.repeat))
    if any(m.disturbed for m in metrics):
        say(
            "[disturbed]: other programs used the CPU during every run of one side; run again"
            " on a quiet host, or with --quiet-wait 60"
        )
    latency = render_latency(metrics)
    if latency:
        say("")
        say("Cordon vs. raw, medians:")
        say(latency)
    if args.breakdown:
        say("")
        say("breakdown:")
        say(render_breakdown(breakdown, args))
    if not args.no_json:
        say("")
        save_results(result, "store_relay", quick=args.quick, path=args.json)
    # A smoke run that hit its time limit means something is badly wrong: fail CI.
    return 1 if args.quick and any(mm.truncated for mm in metrics) else 0


if __name__ == "__main__":
    sys.exit(main())
