#!/usr/bin/env python
"""Passes for a list: the office issuing N passes one by one (``POST /v1/passes``) and in
batches (``POST /v1/passes/batch``), passes/s of each and their ratio.

Run from the repository root:

    UV_PYTHON_DOWNLOADS=never uv run python bench/bench_pass_batch.py            # 5,000 passes
    UV_PYTHON_DOWNLOADS=never uv run python bench/bench_pass_batch.py --quick    # smoke run

Against real Apache Kafka and PostgreSQL (the servers named by CORDON_KAFKA_BOOTSTRAP and
CORDON_DATABASE_URL when both are set, otherwise a private pair started for the run), with
the gate in its own OS process on a fresh database and fresh topics, as bench_gate.py does.

1. 2 x N residents are published as the registry's events by a stand-in registry in this
   process; the benchmark waits until the gate knows them all (a pass is for a resident
   the gate has heard of, and each holder is looked up).
2. One by one: N passes, each its own request, sent by ``--clients`` clients at once (1: an
   office script sending one after the other), each to a holder of its own.
3. In batches: N passes to the other N residents, in requests of ``--batch-size`` rows,
   sent one after the other.

Each phase checks that every request was answered 201 and that the gate's ``passes`` table
holds exactly the passes issued. CPU use of the gate, the servers and other programs is
reported per phase (harness.CpuMeter): a figure measured while other programs used 0.3 cores
or more is marked disturbed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
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
from cordon_testing.devices import register_gate
from cordon_testing.plugin import fresh_database, settings_env
from cordon_testing.processes import ServiceProcess

ADMIN = "bench-admin-token"
COMMUNITY = "passbench-c1"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--passes", type=int, default=None, help="passes per phase (5000)")
    p.add_argument("--batch-size", type=int, default=500, help="rows per batch request")
    p.add_argument("--clients", type=int, default=1, help="concurrent single-pass clients")
    p.add_argument("--quick", action="store_true", help="500 passes in batches of 100")
    p.add_argument("--quiet-wait", type=float, default=None, help="wait for a quiet host (s)")
    p.add_argument("--json", type=Path, default=None, help="where to write the results")
    p.add_argument("--no-json", action="store_true", help="write no results file")
    p.add_argument("--keep-infra", action="store_true", help="leave self-started servers up")
    args = p.parse_args(argv)
    if args.quick:
        args.passes = args.passes or 500
        args.batch_size = min(args.batch_size, 100)
    args.passes = args.passes or 5000
    args.quiet_wait = args.quiet_wait if args.quiet_wait is not None else (0 if args.quick else 30)
    return args


def pass_row(holder: str, start: datetime) -> dict[str, Any]:
    return {
        "kind": "temporary",
        "holder_person_id": holder,
        "community_id": COMMUNITY,
        "valid_from": start.isoformat(),
        "valid_until": (start + timedelta(days=14)).isoformat(),
        "daily_exit_quota": 1,
    }


async def issued_count(db: asyncpg.Connection, holders: Sequence[str]) -> int:
    count: int = await db.fetchval(
        "SELECT count(*) FROM gate.passes WHERE holder_person_id = ANY($1::text[])", holders
    )
    return count


async def amain(args: argparse.Namespace, srv: Infrastructure) -> int:
    configure_logging(level="WARNING", json_logs=False)
    machine = host_facts()
    machine["broker"] = srv.broker_kind
    n = args.passes
    people = [f"p-bench-{i:06d}-{uuid.uuid4().hex[:6]}" for i in range(2 * n)]
    singles, batched = people[:n], people[n:]
    prefix = f"passbench-{uuid.uuid4().hex[:8]}"
    results: dict[str, Any] = {}
    failures: list[str] = []
    async with fresh_database(srv.database_url) as db_url:
        settings = ServiceSettings(
            database_url=db_url,
            kafka_bootstrap=srv.kafka_bootstrap,
            kafka_idempotence=srv.kafka_idempotence,
            topic_prefix=prefix,
            log_level="WARNING",
            log_json=True,
        )
        env = {
            **settings_env(settings),
            "CORDON_GATE_ADMIN_TOKEN": ADMIN,
            "CORDON_LOG_LEVEL": "WARNING",
        }
        gate = ServiceProcess("cordon_gate", env, Path(tempfile.mkdtemp(prefix="passbench-")))
        try:
            await asyncio.to_thread(gate.start, ready_timeout=180)
            pid = gate.process.pid if gate.process else None
            say(f"gate: pid {pid} at {gate.url}, topics {prefix}.*")
            # A pass admits at its community's gates: the community needs one registered.
            await register_gate(gate.url, ADMIN, COMMUNITY)
            await publish_residents(
                settings, people, community=COMMUNITY, per_household=100, residence_type="temporary"
            )
            db = await asyncpg.connect(db_url)
            try:
                await wait_for(
                    lambda: db.fetchval(
                        "SELECT count(*) >= $1 FROM gate.person_status WHERE community_id = $2",
                        len(people),
                        COMMUNITY,
                    ),
                    f"the gate to know the {len(people)} residents",
                )
                meter = CpuMeter(
                    gate=processes(pid),
                    servers=listening_processes(srv.kafka_bootstrap, srv.database_url),
                )
                say(f"issuing {n} passes each way (batches of {args.batch_size}):")
                start = datetime.now(UTC)
                single = Phase(
                    f"one by one ({args.clients})" if args.clients > 1 else "one by one",
                    "passes",
                    "gate",
                )
                await single.run(
                    meter, args.quiet_wait,
                    partial(one_request_each, gate.url, ADMIN, "/v1/passes",
                            [pass_row(h, start) for h in singles], args.clients),
                )  # fmt: skip
                results["one_by_one"] = single.report(n)
                in_batches = Phase(f"batches of {args.batch_size}", "passes", "gate")
                await in_batches.run(
                    meter, args.quiet_wait,
                    partial(in_lists, gate.url, ADMIN, "/v1/passes/batch", "passes",
                            [pass_row(h, start) for h in batched], args.batch_size),
                )  # fmt: skip
                results["in_batches"] = in_batches.report(n)
                for name, holders in (("one_by_one", singles), ("in_batches", batched)):
                    found = await issued_count(db, holders)
                    if found != n or results[name]["refused"]:
                        failures.append(f"{name}: {found} of {n} issued")
            finally:
                await db.close()
        except Exception:
            say(f"gate log ({gate.log_path}):\n{gate.log_tail(60)}")
            raise
        finally:
            await asyncio.to_thread(gate.stop)
            await delete_topics(srv.kafka_bootstrap, [prefix])
    ratio = results["in_batches"]["passes_per_s"] / results["one_by_one"]["passes_per_s"]
    results["ratio"] = round(ratio, 2)
    say(f"  batches / one by one: {ratio:.1f}x")
    if failures:
        say(f"FAILED: {'; '.join(failures)}")
    if not args.no_json:
        report = {
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
            "passes": n,
            "batch_size": args.batch_size,
            "clients": args.clients,
            "machine": machine,
            "results": results,
        }
        save_results(report, "pass-batch", quick=args.quick, path=args.json)
    return 1 if failures else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with temporary_infrastructure("passbench", keep=args.keep_infra, report=say) as srv:
        return asyncio.run(amain(args, srv))


if __name__ == "__main__":
    sys.exit(main())
