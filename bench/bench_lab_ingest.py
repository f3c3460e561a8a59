#!/usr/bin/env python
"""Lab ingest: a mass-testing day's CSV batch of results recorded by the isolation service,
beside a raw PostgreSQL insert baseline measured in the same run.

Run from the repository root:

    UV_PYTHON_DOWNLOADS=never uv run python bench/bench_lab_ingest.py            # 100,000 results
    UV_PYTHON_DOWNLOADS=never uv run python bench/bench_lab_ingest.py --quick    # 5,000

Against the PostgreSQL named by CORDON_DATABASE_URL when set, otherwise a private Kafka +
PostgreSQL pair started with ``cordon_devenv.infra.start_infrastructure`` in a temporary
state dir and stopped at the end (Kafka is not used: the relay publishes separately).
Everything is written to a fresh database that is dropped afterwards.

Measured:

1. ingest: the CSV text through ``read_results_csv`` and ``LabIntake.ingest`` (what the
   upload endpoint and ``cordon-isolation results`` run): every row validated, matched to
   its person, decided (new / duplicate / correction) against the samples table, and
   recorded as a ``TestResultReceived`` on its sample's stream with ``append_many`` plus
   the samples table, one transaction per ``--chunk`` rows.
2. the same file again: every row a duplicate (no events).
3. baseline: the same rows, already parsed, as plain asyncpg ``executemany`` INSERTs into
   one table, one transaction per ``--chunk`` rows.

Results are printed and written as JSON to bench/results/ (gitignored).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import platform
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import structlog

from cordon_devenv.infra import temporary_infrastructure
from cordon_isolation.cli import ingest_csv
from cordon_isolation.settings import IsolationSettings
from cordon_testing.plugin import fresh_database

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def lab_csv(results: int, seed: int) -> str:
    """A day's batch: one row per swab, mostly negative, a few invalid, rare positives."""
    rng = random.Random(seed)
    # Yesterday's swabs: intake refuses results collected more than 30 days ago, so a fixed
    # date made every row an error once it was that old.
    day = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0) - timedelta(days=1)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["sample_id", "person_id", "collected_at", "result"])
    for n in range(results):
        draw = rng.random()
        result = "positive" if draw < 0.0005 else "invalid" if draw < 0.003 else "negative"
        collected = day + timedelta(seconds=rng.randint(0, 12 * 3600))
        writer.writerow([f"S{n:09d}", f"p-{n:08x}", collected.isoformat(), result])
    return out.getvalue()


async def baseline(pool: asyncpg.Pool, text: str, chunk: int) -> float:
    """Plain asyncpg: the same rows, parsed, executemany, one transaction per chunk."""
    reader = csv.reader(io.StringIO(text))
    next(reader)
    rows = [(s, p, datetime.fromisoformat(c), r, "bench-lab") for s, p, c, r in reader]
    await pool.execute(
        "CREATE TABLE raw_results (sample_id text PRIMARY KEY, person_id text NOT NULL,"
        " collected_at timestamptz NOT NULL, result text NOT NULL, lab text NOT NULL)"
    )
    started = time.perf_counter()
    async with pool.acquire() as conn:
        for start in range(0, len(rows), chunk):
            async with conn.transaction():
                await conn.executemany(
                    "INSERT INTO raw_results VALUES ($1, $2, $3, $4, $5)",
                    rows[start : start + chunk],
                )
    return time.perf_counter() - started


async def measure(args: argparse.Namespace, database_url: str) -> dict[str, Any]:
    text = lab_csv(args.results, args.seed)
    settings = IsolationSettings(database_url=database_url, lab_chunk_rows=args.chunk)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    try:
        await ingest_csv(pool, settings, "sample_id,result\n", "warm-up")  # migrations
        await pool.execute("CHECKPOINT")
        started = time.perf_counter()
        report = await ingest_csv(pool, settings, text, "bench-lab")
        ingest_s = time.perf_counter() - started
        started = time.perf_counter()
        again = await ingest_csv(pool, settings, text, "bench-lab")
        again_s = time.perf_counter() - started
        events = await pool.fetchval(
            "SELECT count(*) FROM isolation.events WHERE event_type = 'TestResultReceived'"
        )
        await pool.execute("CHECKPOINT")
        baseline_s = await baseline(pool, text, args.chunk)
    finally:
        await pool.close()
    assert report.received == args.results and not report.errors, report.errors[:5]
    assert again.duplicates == args.results and events == args.results
    n = args.results
    return {
        "results": n,
        "chunk": args.chunk,
        "csv_bytes": len(text.encode()),
        "ingest_s": round(ingest_s, 2),
        "ingest_per_s": round(n / ingest_s),
        "reingest_duplicates_s": round(again_s, 2),
        "reingest_per_s": round(n / again_s),
        "baseline_s": round(baseline_s, 2),
        "baseline_per_s": round(n / baseline_s),
        "ratio_ingest_to_baseline": round(ingest_s / baseline_s, 1),
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    with temporary_infrastructure("bench-lab", report=say) as infra:
        async with fresh_database(infra.database_url) as database_url:
            return await measure(args, database_url)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--results", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=1000, help="rows per transaction")
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("--quick", action="store_true", help="5,000 results (smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.results = 5_000
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    result = {
        "benchmark": "lab_ingest",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        **asyncio.run(main_async(args)),
    }
    print(json.dumps(result, indent=2))
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"lab_ingest-{stamp}{'-quick' if args.quick else ''}.json"
    (RESULTS_DIR / name).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
