#!/usr/bin/env python
"""Vaccinations from a spreadsheet: 10,000 dose rows imported, beside the single-dose use
case measured on a sample in the same run.

Run from the repository root:

    UV_PYTHON_DOWNLOADS=never uv run python bench/bench_vaccination_import.py          # 10,000
    UV_PYTHON_DOWNLOADS=never uv run python bench/bench_vaccination_import.py --quick  # 1,000

PostgreSQL is the server named by CORDON_DATABASE_URL, or a private one started in a
temporary state dir and stopped at the end. Everything is written to a fresh database that
is dropped afterwards. Kafka is not involved: both paths write the registry's event store
and tables; the running service's relay publishes later.

Set-up (not timed): a community of ``--rows / 2`` residents, imported from a spreadsheet,
and as many more for the sample. Measured:

1. import: ``import_doses`` (the code behind ``POST /v1/communities/{id}/vaccination-imports``)
   on rows already read from a CSV, two doses per resident, each row naming its person by
   ID number: row checks, keyed hashes, the people's streams and the birth dates from their
   sealed ID numbers, ``VaccinationRecorded`` events and dose rows; one transaction per
   ``--batch`` rows. Reading the CSV is timed separately.
2. re-import of the same rows (every dose already recorded: no event).
3. single: ``record_vaccination`` (the code behind ``POST /v1/residents/{id}/vaccinations``)
   called one dose after another for ``--sample`` other residents: one transaction per dose.

Both paths are timed below HTTP (the service layer), so the ratio compares what each does
with the database. Results are printed and written as JSON to bench/results/ (gitignored).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
from bench_registry_import import COMMUNITY, community_rows, registry_on
from harness import host_cpu_seconds, host_facts, save_results, say

from cordon_core.observability import configure_logging
from cordon_devenv.demo_district import as_csv
from cordon_devenv.infra import temporary_infrastructure
from cordon_registry.adapters.spreadsheets import SheetLayout, read_csv
from cordon_registry.domain.staff import StaffMember
from cordon_registry.domain.vaccination_import import HEADER_ALIASES
from cordon_registry.service.importing import import_rows
from cordon_registry.service.places import add_place
from cordon_registry.service.residents import record_vaccination
from cordon_registry.service.unit import Caller, Registry
from cordon_registry.service.vaccination_import import import_doses
from cordon_registry.settings import RegistrySettings
from cordon_testing.plugin import fresh_database

DOCUMENT_NUMBER = 8
"""Where ``community_rows`` puts the ID number."""
VACCINE = "CoronaVac"
HEADER = ["身份证号", "剂次", "接种日期", "疫苗名称"]


def busy_cores(since: tuple[float, float] | None, seconds: float) -> float | None:
    """How many cores the whole host kept busy meanwhile (this run and everything else)."""
    now = host_cpu_seconds()
    if since is None or now is None or seconds <= 0:
        return None
    return round((now[0] - since[0]) / seconds, 2)


async def residents(reg: Registry, admin: Caller, people: int) -> list[list[str]]:
    """A community with at least ``people`` residents; their spreadsheet rows."""
    await add_place(
        reg, admin, place_id="bench-east", kind="sub_district", name="East", parent_id=None
    )
    await add_place(
        reg, admin, place_id=COMMUNITY, kind="community", name="Bench", parent_id="bench-east"
    )
    rows = community_rows(people // 3 + 10, seed=2022)
    while len(rows) < people:
        rows = community_rows(len(rows) // 2 + people // 2, seed=2022)
    columns, read = read_csv(as_csv(rows))
    report = await import_rows(reg, admin, COMMUNITY, columns, read)
    assert not report.errors, report.errors[:3]
    return rows


async def measure(args: argparse.Namespace, database_url: str) -> dict[str, Any]:
    settings = RegistrySettings(database_url=database_url, registry_import_batch_size=args.batch)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    try:
        reg = await registry_on(pool, settings)
        admin = Caller(StaffMember("bench", "admin", None), uuid.uuid4())
        imported = args.rows // 2
        say(f"registering {imported + args.sample:,} residents (not timed) ...")
        people = await residents(reg, admin, imported + args.sample)
        out = io.StringIO()
        csv.writer(out).writerow(HEADER)
        for dose in (1, 2):  # March and May 2021, a day of the month per person
            for n, person in enumerate(people[:imported]):
                day = f"2021-0{2 * dose + 1}-{n % 28 + 1:02d}"
                csv.writer(out).writerow([person[DOCUMENT_NUMBER], str(dose), day, VACCINE])
        csv_bytes = out.getvalue().encode()
        started = time.perf_counter()
        columns, rows = read_csv(csv_bytes, SheetLayout(HEADER_ALIASES, None))
        read_seconds = time.perf_counter() - started
        await pool.execute("CHECKPOINT")

        say(f"importing {len(rows):,} dose rows ...")
        cpu, started = host_cpu_seconds(), time.perf_counter()
        report = await import_doses(reg, admin, COMMUNITY, columns, rows)
        import_seconds = time.perf_counter() - started
        import_busy = busy_cores(cpu, import_seconds)
        assert not report.errors and report.recorded == len(rows), report.as_dict()
        started = time.perf_counter()
        again = await import_doses(reg, admin, COMMUNITY, columns, rows)
        reimport_seconds = time.perf_counter() - started
        assert again.recorded == 0 and again.already_recorded == len(rows)

        schema = reg.store.schema
        sample = await pool.fetch(
            f"SELECT person_id FROM {schema}.residents r WHERE NOT EXISTS"
            f" (SELECT 1 FROM {schema}.vaccinations v WHERE v.person_id = r.person_id) LIMIT $1",
            args.sample,
        )
        assert len(sample) == args.sample, len(sample)
        await pool.execute("CHECKPOINT")
        say(f"recording {len(sample):,} doses one by one (the single endpoint's use case) ...")
        cpu, started = host_cpu_seconds(), time.perf_counter()
        for n, row in enumerate(sample):
            on = date(2021, 3, n % 28 + 1)
            assert await record_vaccination(reg, admin, row["person_id"], 1, on, VACCINE)
        single_seconds = time.perf_counter() - started
        single_busy = busy_cores(cpu, single_seconds)
    finally:
        await pool.close()
    import_rate = len(rows) / import_seconds
    single_rate = len(sample) / single_seconds
    return {
        "rows": len(rows),
        "batch": args.batch,
        "read_csv_seconds": round(read_seconds, 3),
        "import_seconds": round(import_seconds, 3),
        "import_rows_per_second": round(import_rate),
        "import_host_busy_cores": import_busy,
        "reimport_seconds": round(reimport_seconds, 3),
        "reimport_rows_per_second": round(len(rows) / reimport_seconds),
        "single_sample": len(sample),
        "single_seconds": round(single_seconds, 3),
        "single_doses_per_second": round(single_rate),
        "single_host_busy_cores": single_busy,
        "import_to_single_ratio": round(import_rate / single_rate, 1),
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    with temporary_infrastructure("bench-vaccination", report=say) as found:
        async with fresh_database(found.database_url) as database_url:
            return await measure(args, database_url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000, help="dose rows to import")
    parser.add_argument("--sample", type=int, default=500, help="doses through the single path")
    parser.add_argument("--batch", type=int, default=500, help="rows per transaction")
    parser.add_argument("--quick", action="store_true", help="1,000 rows, a sample of 100")
    parser.add_argument("--json", type=Path, help="where to write the results")
    parser.add_argument("--no-json", action="store_true", help="write no results file")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.sample = 1_000, 100
    configure_logging(level="WARNING", json_logs=False)
    result = {**asyncio.run(main_async(args)), "machine": host_facts()}
    say(json.dumps(result, indent=2))
    say(
        f"\nvaccination import: {result['rows']:,} rows in {result['import_seconds']:.2f}s"
        f" ({result['import_rows_per_second']:,} rows/s, batches of {result['batch']});"
        f" single dose, one by one: {result['single_doses_per_second']:,} doses/s"
        f" on {result['single_sample']:,}; ratio {result['import_to_single_ratio']}x;"
        f" re-import (no-op) {result['reimport_seconds']:.2f}s"
    )
    if not args.no_json:
        save_results(result, "vaccination_import", quick=args.quick, path=args.json)


if __name__ == "__main__":
    main()
