#!/usr/bin/env python
"""Isolation orders for a list of people: the office placing N home-isolation orders one
request each (``POST /v1/orders``) and in lists (``POST /v1/orders/batch``), orders/s of
each and their ratio, in the same run.

Run from the repository root:

    UV_PYTHON_DOWNLOADS=never uv run python bench/bench_order_batch.py            # 5,000 orders
    UV_PYTHON_DOWNLOADS=never uv run python bench/bench_order_batch.py --quick    # 1,000, a minute

Against real Apache Kafka and PostgreSQL (the servers named by CORDON_KAFKA_BOOTSTRAP and
CORDON_DATABASE_URL when both are set, otherwise a private pair started for the run), with
the isolation service in its own OS process on a fresh database and fresh topics.

1. 2 x N residents of one community are published as the registry's events by a stand-in
   registry in this process; the benchmark waits until the isolation service knows them
   all (an order is for a person the registry named, and each is looked up).
2. One by one: N orders, each its own request, sent by ``--clients`` clients at once (1: an
   office script sending one after the other), each for a resident of its own.
3. In lists: N orders for the other N residents, in requests of ``--batch-size`` rows, sent
   one after the other.

The two ways alternate in ``--rounds`` rounds (5; ``--quick`` 2), each placing its share of
the N, so that other programs on a shared machine weigh on both alike; each way's time is
the sum of its rounds.

Each phase checks that every request was answered 201 and that the service's ``orders``
table holds exactly one active order per person. CPU use of the service, the servers and
other programs is reported per phase (harness.CpuMeter): a figure measured while other
programs used 0.3 cores or more is marked disturbed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import uuid
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    CpuMeter,
    delete_topics,
    host_facts,
    listening_processes,
    processes,
    save_results,
    say,
)
from stand_in import Phase, in_lists, one_request_each, publish_residents, wait_for

from cordon_core.observability import configure_logging
from cordon_core.settings import ServiceSettings
from cordon_devenv.infra import Infrastructure, temporary_infrastructure
from cordon_testing.plugin import fresh_database, settings_env
from cordon_testing.processes import ServiceProcess

STAFF = "bench-isolation-token"
COMMUNITY = "orderbench-c1"
PER_HOUSEHOLD = 4


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--orders", type=int, default=None, help="orders per phase (5000)")
    p.add_argument("--batch-size", type=int, default=1000, help="rows per list (at most 1000)")
    p.add_argument("--clients", type=int, default=1, help="concurrent single-order clients")
    p.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="alternate the two ways this many times (5; --quick 2), so that both meet the"
        " same load from other programs on a shared machine",
    )
    p.add_argument("--quick", action="store_true", help="1,000 orders in lists of 500")
    p.add_argument(
        "--quiet-wait", type=float, default=None, help="wait for a quiet host before each round (s)"
    )
    p.add_argument("--json", type=Path, default=None, help="where to write the results")
    p.add_argument("--no-json", action="store_true", help="write no results file")
    p.add_argument("--keep-infra", action="store_true", help="leave self-started servers up")
    args = p.parse_args(argv)
    if args.quick:
        args.orders = args.orders or 1000
        args.batch_size = min(args.batch_size, 500)
    args.orders = args.orders or 5000
    args.rounds = args.rounds or (2 if args.quick else 5)
    args.quiet_wait = args.quiet_wait if args.quiet_wait is not None else (0 if args.quick else 10)
    return args


def order_row(person: str) -> dict[str, Any]:
    return {
        "person_id": person,
        "level": "home",
        "community_id": COMMUNITY,
        "reason_code": "close_contact",
        "days": 14,
    }


async def active_orders(db: asyncpg.Connection, people: Sequence[str]) -> int:
    count: int = await db.fetchval(
        "SELECT count(DISTINCT person_id) FROM isolation.orders"
        " WHERE status = 'active' AND person_id = ANY($1::text[])",
        people,
    )
    return count


async def amain(args: argparse.Namespace, srv: Infrastructure) -> int:
    configure_logging(level="WARNING", json_logs=False)
    machine = host_facts()
    machine["broker"] = srv.broker_kind
    n = args.orders
    people = [f"p-obench-{i:06d}-{uuid.uuid4().hex[:6]}" for i in range(2 * n)]
    singles, listed = people[:n], people[n:]
    prefix = f"orderbench-{uuid.uuid4().hex[:8]}"
    results: dict[str, Any] = {}
    failures: list[str] = []
    async with fresh_database(srv.database_url) as db_url:
        settings = ServiceSettings(
            database_url=db_url, kafka_bootstrap=srv.kafka_bootstrap,
            kafka_idempotence=srv.kafka_idempotence, topic_prefix=prefix,
            log_level="WARNING", log_json=True,
        )  # fmt: skip
        env = {**settings_env(settings), "CORDON_ISOLATION_ADMIN_TOKEN": STAFF}
        service = ServiceProcess(
            "cordon_isolation", env, Path(tempfile.mkdtemp(prefix="orderbench-"))
        )
        try:
            await asyncio.to_thread(service.start, ready_timeout=180)
            pid = service.process.pid if service.process else None
            say(f"isolation: pid {pid} at {service.url}, topics {prefix}.*")
            await publish_residents(
                settings, people, community=COMMUNITY, per_household=PER_HOUSEHOLD
            )
            db = await asyncpg.connect(db_url)
            try:
                await wait_for(
                    lambda: db.fetchval(
                        "SELECT count(*) >= $1 FROM isolation.residents WHERE community_id = $2",
                        len(people),
                        COMMUNITY,
                    ),
                    f"the isolation service to know the {len(people)} residents",
                )
                meter = CpuMeter(
                    isolation=processes(pid),
                    servers=listening_processes(srv.kafka_bootstrap, srv.database_url),
                )
                say(
                    f"placing {n} orders each way (lists of {args.batch_size}), in"
                    f" {args.rounds} alternating rounds:"
                )
                single = Phase(
                    f"one by one ({args.clients})" if args.clients > 1 else "one by one",
                    "orders",
                    "isolation",
                )
                batched = Phase(f"lists of {args.batch_size}", "orders", "isolation")
                for r in range(args.rounds):
                    mine = slice(r * n // args.rounds, (r + 1) * n // args.rounds)
                    await single.run(
                        meter,
                        args.quiet_wait,
                        partial(
                            one_request_each,
                            service.url,
                            STAFF,
                            "/v1/orders",
                            [order_row(p) for p in singles[mine]],
                            args.clients,
                        ),
                    )
                    await batched.run(
                        meter,
                        args.quiet_wait,
                        partial(
                            in_lists,
                            service.url,
                            STAFF,
                            "/v1/orders/batch",
                            "orders",
                            [order_row(p) for p in listed[mine]],
                            args.batch_size,
                        ),
                    )
                results["one_by_one"] = single.report(n)
                results["in_lists"] = batched.report(n)
                for name, group in (("one_by_one", singles), ("in_lists", listed)):
                    found = await active_orders(db, group)
                    if found != n or results[name]["refused"]:
                        failures.append(f"{name}: {found} of {n} placed")
            finally:
                await db.close()
        except Exception:
            say(f"isolation log ({service.log_path}):\n{service.log_tail(60)}")
            raise
        finally:
            await asyncio.to_thread(service.stop)
            await delete_topics(srv.kafka_bootstrap, [prefix])
    ratio = results["in_lists"]["orders_per_s"] / results["one_by_one"]["orders_per_s"]
    results["ratio"] = round(ratio, 2)
    say(f"  lists / one by one: {ratio:.1f}x")
    say(
        f"RESULT single={results['one_by_one']['orders_per_s']}"
        f" batch={results['in_lists']['orders_per_s']} ratio={ratio:.2f}"
        f" failures={len(failures)}"
    )
    if failures:
        say(f"FAILED: {'; '.join(failures)}")
    if not args.no_json:
        report = {
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
            "orders": n,
            "batch_size": args.batch_size,
            "clients": args.clients,
            "machine": machine,
            "results": results,
        }
        save_results(report, "order-batch", quick=args.quick, path=args.json)
    return 1 if failures else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with temporary_infrastructure("orderbench", keep=args.keep_infra, report=say) as srv:
        return asyncio.run(amain(args, srv))


if __name__ == "__main__":
    sys.exit(main())
