#!/usr/bin/env python
"""Registry bulk import: a 16,000-household community (~50,000 people) from a spreadsheet,
beside a raw baseline measured in the same run.

Run from the repository root:

    UV_PYTHON_DOWNLOADS=never uv run python bench/bench_registry_import.py          # 16,000
    UV_PYTHON_DOWNLOADS=never uv run python bench/bench_registry_import.py --quick  # 1,000

PostgreSQL is the server named by CORDON_DATABASE_URL, or a private one started with
``cordon_devenv.infra.start_infrastructure`` in a temporary state dir and stopped at the
end. Everything is written to a fresh database that is dropped afterwards. Kafka is not
involved: the import writes the registry's event store and tables; the running service's
relay publishes later.

Measured:

1. registry: ``import_rows`` (the code behind ``cordon-registry import`` and the import
   endpoint) on rows already read from a CSV: validation of every row (ID check digits,
   dates, phones), keyed hashes, a data key and AES-GCM sealing per person, the events of
   every new person and place stream, and the read-model rows; one transaction per
   ``--batch`` residents. Reading the CSV is timed separately.
2. re-import of the same rows (every row already registered: a no-op).
3. baseline: the same rows, as plain text, with plain asyncpg ``executemany`` INSERTs into a
   table of the same columns, one transaction per ``--batch`` rows: what any import of
   these rows costs at the very least.

The ratio is registry time / baseline time. Results are printed and written as JSON to
bench/results/ (gitignored).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from cordon_core.migrations import apply_migrations
from cordon_core.observability import configure_logging
from cordon_core.store import PostgresEventStore
from cordon_devenv.demo_district import as_csv
from cordon_devenv.infra import temporary_infrastructure
from cordon_registry.adapters.crypto import PersonalDataVault
from cordon_registry.adapters.spreadsheets import read_csv
from cordon_registry.bootstrap import build_runtime
from cordon_registry.cli import DirectStorage
from cordon_registry.domain.identity import check_character
from cordon_registry.domain.staff import StaffMember
from cordon_registry.service.importing import ImportReport, import_rows
from cordon_registry.service.places import add_place
from cordon_registry.service.unit import Caller, Registry
from cordon_registry.settings import RegistrySettings
from cordon_testing.plugin import fresh_database

RESULTS_DIR = Path(__file__).resolve().parent / "results"
COMMUNITY = "bench-community"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红"


def say(text: str) -> None:
    print(text, flush=True)


def community_rows(households: int, seed: int) -> list[list[str]]:
    """``households`` households of 1-5 people (about 3.1 on average), 8 grids, compounds of
    ~400 households, buildings of 2 units x 6 floors x 4 flats."""
    rng = random.Random(seed)
    rows = []
    used: set[str] = set()
    for h in range(households):
        grid, compound = h * 8 // households + 1, h // 400 + 1
        building, flat = (h % 400) // 48 + 1, h % 48
        unit, floor, door = flat // 24 + 1, (flat % 24) // 4 + 1, flat % 4 + 1
        for _ in range(rng.choice((1, 2, 3, 3, 4, 4, 5))):
            first = ""
            while not first or first in used:  # one document, one person
                born = f"{rng.randint(1935, 2020)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
                first = f"110105{born}{rng.randint(0, 999):03d}"
            used.add(first)
            rows.append(
                [
                    str(grid),
                    f"Compound {compound}",
                    str(building),
                    str(unit),
                    f"{floor}0{door}",
                    rng.choice(("owner", "owner", "tenant", "temporary")),
                    rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=2)),
                    "resident_id",
                    first + check_character(first),
                    f"13{rng.randint(0, 999_999_999):09d}",
                    "",
                    "elderly_living_alone" if rng.random() < 0.03 else "",
                    "",
                ]
            )
    return rows


async def registry_on(pool: asyncpg.Pool, settings: RegistrySettings) -> Registry:
    runtime = build_runtime(settings)
    async with pool.acquire() as conn:
        await apply_migrations(conn, runtime.schema, runtime.migrations)
    store = PostgresEventStore(pool, runtime.schema, runtime.registry, source="/cordon/registry")
    return Registry(
        storage=DirectStorage(pool, store, runtime.schema),
        vault=PersonalDataVault(master_secret="bench", index_secret="bench", district="bench"),
        district="bench",
        clock=lambda: datetime.now(UTC),
        import_batch_size=settings.registry_import_batch_size,
        admin_token="",
    )


async def baseline(pool: asyncpg.Pool, rows: list[dict[str, str]], batch: int) -> float:
    """Plain asyncpg: the same rows as text, executemany, one transaction per batch."""
    columns = list(rows[0])
    await pool.execute(
        f"CREATE TABLE raw_rows (row_number int, {', '.join(f'{c} text' for c in columns)})"
    )
    placeholders = ", ".join(f"${n}" for n in range(1, len(columns) + 2))
    sql = f"INSERT INTO raw_rows VALUES ({placeholders})"
    started = time.perf_counter()
    async with pool.acquire() as conn:
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            async with conn.transaction():
                await conn.executemany(
                    sql, [(start + n + 2, *r.values()) for n, r in enumerate(chunk)]
                )
    return time.perf_counter() - started


async def measure(args: argparse.Namespace, database_url: str) -> dict[str, Any]:
    csv_bytes = as_csv(community_rows(args.households, args.seed))
    started = time.perf_counter()
    columns, rows = read_csv(csv_bytes)
    read_seconds = time.perf_counter() - started
    settings = RegistrySettings(database_url=database_url, registry_import_batch_size=args.batch)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    try:
        reg = await registry_on(pool, settings)
        admin = Caller(StaffMember("bench", "admin", None), uuid.uuid4())
        await add_place(
            reg, admin, place_id="bench-east", kind="sub_district", name="East", parent_id=None
        )
        await add_place(
            reg, admin, place_id=COMMUNITY, kind="community", name="Bench", parent_id="bench-east"
        )
        await pool.execute("CHECKPOINT")
        say(f"importing {len(rows):,} people in {args.households:,} households ...")
        started = time.perf_counter()
        report: ImportReport = await import_rows(reg, admin, COMMUNITY, columns, rows)
        import_seconds = time.perf_counter() - started
        assert not report.errors and report.registered == len(rows), report.as_dict()
        started = time.perf_counter()
        again = await import_rows(reg, admin, COMMUNITY, columns, rows)
        reimport_seconds = time.perf_counter() - started
        assert again.registered == 0 and again.already_registered == len(rows)
        await pool.execute("CHECKPOINT")
        baseline_seconds = await baseline(pool, [r for _, r in rows], args.batch)
    finally:
        await pool.close()
    return {
        "households": args.households,
        "people": len(rows),
        "events_written": report.events_written,
        "places_added": report.places_added,
        "batch": args.batch,
        "read_csv_seconds": round(read_seconds, 3),
        "import_seconds": round(import_seconds, 3),
        "people_per_second": round(len(rows) / import_seconds),
        "reimport_seconds": round(reimport_seconds, 3),
        "baseline_seconds": round(baseline_seconds, 3),
        "baseline_rows_per_second": round(len(rows) / baseline_seconds),
        "ratio_to_baseline": round(import_seconds / baseline_seconds, 2),
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    with temporary_infrastructure("bench-registry", report=say) as found:
        async with fresh_database(found.database_url) as database_url:
            return await measure(args, database_url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--households", type=int, default=16_000)
    parser.add_argument("--batch", type=int, default=500, help="residents per transaction")
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("--quick", action="store_true", help="1,000 households (CI smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.households = 1_000
    configure_logging(level="WARNING", json_logs=False)
    result = asyncio.run(main_async(args))
    result["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    say(json.dumps(result, indent=2))
    say(
        f"\nregistry import: {result['people']:,} people / {result['households']:,} households"
        f" in {result['import_seconds']:.1f}s ({result['people_per_second']:,} people/s);"
        f" raw baseline {result['baseline_seconds']:.1f}s; ratio {result['ratio_to_baseline']}x;"
        f" re-import (no-op) {result['reimport_seconds']:.1f}s"
    )
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"registry_import-{stamp}{'-quick' if args.quick else ''}.json"
    (RESULTS_DIR / name).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
