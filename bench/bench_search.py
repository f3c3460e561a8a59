#!/usr/bin/env python
"""Registry search on a district of 1,000,000 residents: partial name, pinyin and last-4
digits of phone and document, beside a raw indexed lookup measured in the same run.

Run from the repository root:

    UV_PYTHON_DOWNLOADS=never uv run python bench/bench_search.py          # 1,000,000
    UV_PYTHON_DOWNLOADS=never uv run python bench/bench_search.py --quick  # 60,000

PostgreSQL is the server named by CORDON_DATABASE_URL, or a private one; everything is
written to a fresh database dropped afterwards. Kafka is not involved.

The district:

1. the searched community, imported through ``import_rows`` (the code behind
   ``cordon-registry import``): 13,000 people (the largest community of the source reports;
   2,000 with --quick) with sealed details, keyed hashes and search tokens, as registered;
2. the rest of the district, the other communities of 10,000 people each: their search
   tokens only (the keyed hashes as registration derives them), copied straight into
   ``search_tokens``. A search reads other communities' rows of the index, never their
   sealed details, so the index is full size and the sealed tables hold the one community.

Measured, per query kind, ``--queries`` queries of names, phones and documents of the
searched community (p50/p95/max):

- search: ``find_residents``, the code behind ``GET .../residents/search``: the query cut
  into tokens and hashed, the token lookup, the page (``limit`` 20) read and opened (data
  keys unwrapped, four fields opened per person), an audit row per person shown, commit.
  HTTP is not included.
- lookup: the token lookup alone (``people_with_all``), on the same queries.
- raw: the baseline, a bare indexed lookup of one token hash (``SELECT person_id ... WHERE
  community_id = $1 AND token_hash = $2 LIMIT 20``), for the first token of each query.

Before each kind the bench waits up to ``--quiet-wait`` s for other programs to leave the
CPU (2 cores shared with other checkouts' tests); a kind measured while they used more than
``QUIET_CORES`` is marked ``disturbed``. Results are printed and written as JSON to
bench/results/ (gitignored).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import asyncpg
from bench_registry_import import GIVEN, SURNAMES, community_rows, registry_on
from harness import (
    QUIET_CORES,
    CpuMeter,
    host_facts,
    listening_processes,
    percentile,
    save_results,
    say,
)
from pypinyin import Style, lazy_pinyin

from cordon_core.observability import configure_logging
from cordon_devenv.demo_district import as_csv
from cordon_devenv.infra import temporary_infrastructure
from cordon_registry.adapters.crypto import PersonalDataVault
from cordon_registry.adapters.spreadsheets import read_csv
from cordon_registry.domain.search_tokens import SearchKind, person_tokens, query_tokens
from cordon_registry.domain.staff import StaffMember
from cordon_registry.service.importing import import_rows
from cordon_registry.service.places import add_place
from cordon_registry.service.search import find_residents
from cordon_registry.service.unit import Caller, Registry
from cordon_registry.settings import RegistrySettings
from cordon_testing.plugin import fresh_database

COMMUNITY = "bench-community"
BUDGET_MS = 100.0
LIMIT = 20
KINDS: tuple[SearchKind, ...] = ("name_part", "pinyin", "phone_last4", "document_last4")


def other_people(
    count: int, per_community: int, seed: int
) -> Iterator[tuple[str, str, tuple[str, str, str]]]:
    """(community, person, (name, phone, document)) of the rest of the district, with
    names drawn as the searched community's are."""
    rng = random.Random(seed)
    for n in range(count):
        name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=2))
        phone = f"13{rng.randint(0, 999_999_999):09d}"
        document = f"{rng.randint(0, 10**17 - 1):017d}{rng.choice('0123456789X')}"
        yield f"bench-other-{n // per_community}", f"p-bulk{n:014d}", (name, phone, document)


async def load_other_communities(
    pool: asyncpg.Pool, reg: Registry, count: int, per_community: int, seed: int
) -> int:
    """Copy the search tokens of ``count`` people into ``search_tokens`` with its indexes
    dropped, then rebuild them as the migration defines them; returns the rows."""
    schema = reg.storage.schema
    definitions = [
        r["def"]
        for r in await pool.fetch(
            "SELECT pg_get_indexdef(indexrelid) AS def FROM pg_index"
            " WHERE indrelid = $1::regclass AND NOT indisprimary",
            f"{schema}.search_tokens",
        )
    ]
    primary_key = await pool.fetchval(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = $1::regclass AND contype = 'p'",
        f"{schema}.search_tokens",
    )
    await pool.execute(f"ALTER TABLE {schema}.search_tokens DROP CONSTRAINT search_tokens_pkey")
    await pool.execute(f"DROP INDEX {schema}.search_tokens_person")
    hashes: dict[tuple[str, str], bytes] = {}

    def hashed(token: tuple[str, str]) -> bytes:
        found = hashes.get(token)
        if found is None:
            found = hashes[token] = reg.vault.blind_index(*token)
        return found

    rows, batch = 0, []
    async with pool.acquire() as conn:
        for community, person, (name, phone, document) in other_people(count, per_community, seed):
            batch += [(community, hashed(t), person) for t in person_tokens(name, phone, document)]
            if len(batch) >= 200_000:
                await conn.copy_records_to_table("search_tokens", schema_name=schema, records=batch)
                rows += len(batch)
                batch = []
        await conn.copy_records_to_table("search_tokens", schema_name=schema, records=batch)
        rows += len(batch)
        say(f"  {rows:,} token rows copied; rebuilding the indexes ...")
        await conn.execute("SET maintenance_work_mem = '512MB'")
        await conn.execute(
            f"ALTER TABLE {schema}.search_tokens ADD CONSTRAINT search_tokens_pkey {primary_key}"
        )
        for definition in definitions:
            await conn.execute(definition)
        await conn.execute(f"VACUUM ANALYZE {schema}.search_tokens")
    return rows


def queries(people: list[list[str]], kind: SearchKind, count: int, seed: int) -> list[str]:
    """``count`` queries of ``kind`` for people of the searched community: for names, a
    mix of one character (the surname: the most matches) and two, and for pinyin of a
    syllable, a whole name, initials and a syllable begun."""
    rng = random.Random(f"{seed}/{kind}")
    out = []
    for n in range(count):
        row = rng.choice(people)
        name, document, phone = row[6], row[8], row[9]
        syllables = lazy_pinyin(name, style=Style.NORMAL)
        out.append(
            {
                "name_part": [name[0], name[1:3], name[:2]][n % 3],
                "pinyin": [
                    syllables[0],
                    "".join(syllables),
                    "".join(s[0] for s in syllables),
                    syllables[0] + syllables[1][:1],
                ][n % 4],
                "phone_last4": phone[-4:],
                "document_last4": document[-4:],
            }[kind]
        )
    return out


async def timed(run: Callable[[str], Awaitable[int]], values: list[str]) -> dict[str, Any]:
    """Milliseconds per query, and the people found, of ``run`` over ``values``."""
    times, found = [], []
    for value in values:
        started = time.perf_counter()
        found.append(await run(value))
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "queries": len(values),
        "p50_ms": round(percentile(times, 50), 2),
        "p95_ms": round(percentile(times, 95), 2),
        "max_ms": round(max(times), 2),
        "people_per_query_max": max(found),
        "people_per_query_mean": round(sum(found) / len(found), 1),
    }


async def measure(args: argparse.Namespace, database_url: str) -> dict[str, Any]:
    settings = RegistrySettings(database_url=database_url, registry_import_batch_size=500)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    try:
        reg = await registry_on(pool, settings)
        assert isinstance(reg.vault, PersonalDataVault)
        admin = Caller(StaffMember("bench", "admin", None), uuid.uuid4())
        await add_place(reg, admin, place_id="east", kind="sub_district", name="E", parent_id=None)
        await add_place(
            reg, admin, place_id=COMMUNITY, kind="community", name="B", parent_id="east"
        )
        people = community_rows(args.households, args.seed)
        columns, rows = read_csv(as_csv(people))
        say(f"importing the searched community: {len(rows):,} people ...")
        started = time.perf_counter()
        report = await import_rows(reg, admin, COMMUNITY, columns, rows)
        import_seconds = time.perf_counter() - started
        assert report.registered == len(rows), report.as_dict()
        others = max(0, args.residents - len(rows))
        say(f"copying the search tokens of {others:,} more residents ...")
        started = time.perf_counter()
        other_rows = await load_other_communities(pool, reg, others, args.community_size, args.seed)
        load_seconds = time.perf_counter() - started
        schema = reg.storage.schema
        total_rows = await pool.fetchval(f"SELECT count(*) FROM {schema}.search_tokens")
        index_mb = await pool.fetchval(
            "SELECT pg_total_relation_size($1::regclass) / 1048576", f"{schema}.search_tokens"
        )
        office = Caller(StaffMember("bench-office", "community_staff", COMMUNITY), uuid.uuid4())
        postgres = listening_processes(database_url)
        results: dict[str, Any] = {}
        raw_sql = (
            f"SELECT person_id FROM {schema}.search_tokens"
            " WHERE community_id = $1 AND token_hash = $2 LIMIT $3"
        )

        async def raw(value: str, kind: SearchKind) -> int:
            first = query_tokens(kind, value)[0]
            hashed = reg.vault.blind_index(*first)
            return len(await pool.fetch(raw_sql, COMMUNITY, hashed, LIMIT))

        async def lookup(value: str, kind: SearchKind) -> int:
            hashes = [reg.vault.blind_index(*t) for t in query_tokens(kind, value)]
            async with pool.acquire() as conn:
                return len(
                    await reg.search_tokens.people_with_all(
                        conn, COMMUNITY, hashes, after="", limit=LIMIT
                    )
                )

        async def search(value: str, kind: SearchKind) -> int:
            return len(await find_residents(reg, office, COMMUNITY, kind, value, limit=LIMIT))

        for kind in KINDS:
            values = queries(people, kind, args.queries, args.seed)
            meter = CpuMeter(postgres=postgres)
            waited = await meter.settle(args.quiet_wait)
            with meter:
                measured = {
                    "raw": await timed(lambda v, k=kind: raw(v, k), values),
                    "lookup": await timed(lambda v, k=kind: lookup(v, k), values),
                    "search": await timed(lambda v, k=kind: search(v, k), values),
                }
            measured["ratio_p50_search_to_raw"] = round(
                measured["search"]["p50_ms"] / measured["raw"]["p50_ms"], 1
            )
            measured["under_budget_p95"] = measured["search"]["p95_ms"] < BUDGET_MS
            measured["cores"] = meter.cores()
            measured["quiet_wait_s"] = round(waited, 1)
            busy = measured["cores"]["others"]
            measured["disturbed"] = busy is None or busy >= QUIET_CORES
            measured["examples"] = values[:4]
            results[kind] = measured
            say(
                f"{kind:15} search p50 {measured['search']['p50_ms']:6.2f} ms"
                f" p95 {measured['search']['p95_ms']:6.2f} max {measured['search']['max_ms']:6.2f}"
                f" | lookup p50 {measured['lookup']['p50_ms']:5.2f}"
                f" | raw p50 {measured['raw']['p50_ms']:5.2f} ms"
                f" | ratio {measured['ratio_p50_search_to_raw']}x"
                f" | up to {measured['search']['people_per_query_max']} shown"
                f" | other programs {measured['cores']['others']} cores"
            )
    finally:
        await pool.close()
    return {
        "residents": len(rows) + others,
        "searched_community_people": len(rows),
        "other_communities": -(-others // args.community_size) if others else 0,
        "community_size": args.community_size,
        "import_seconds": round(import_seconds, 1),
        "token_load_seconds": round(load_seconds, 1),
        "other_token_rows": other_rows,
        "search_token_rows": total_rows,
        "search_tokens_mb": index_mb,
        "limit": LIMIT,
        "budget_ms": BUDGET_MS,
        "kinds": results,
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    with temporary_infrastructure("bench-search", report=say) as found:
        async with fresh_database(found.database_url) as database_url:
            return await measure(args, database_url)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--residents", type=int, default=1_000_000, help="in the district")
    parser.add_argument(
        "--households", type=int, default=4_200, help="of the searched community (~3.1 people)"
    )
    parser.add_argument("--community-size", type=int, default=10_000, help="other communities")
    parser.add_argument("--queries", type=int, default=50, help="per query kind")
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument(
        "--quiet-wait", type=float, default=60, help="s to wait for other programs to calm down"
    )
    parser.add_argument("--quick", action="store_true", help="60,000 residents (smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.residents, args.households, args.queries, args.quiet_wait = 60_000, 650, 20, 5
    configure_logging(level="WARNING", json_logs=False)
    result = {**asyncio.run(main_async(args)), "machine": host_facts()}
    save_results(result, "search", quick=args.quick)


if __name__ == "__main__":
    main()
