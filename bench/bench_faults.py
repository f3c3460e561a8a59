#!/usr/bin/env python
"""Fault injection for longer than CI can afford: the scenario of tests/test_fault_injection.py
(cordon_testing/fault_scenario.py), round after round for ``--minutes``.

Run from the repository root:

    UV_PYTHON_DOWNLOADS=never uv run python bench/bench_faults.py --minutes 10
    UV_PYTHON_DOWNLOADS=never uv run python bench/bench_faults.py --minutes 10 --pause 30

It always starts a Kafka and a PostgreSQL of its own in a temporary directory (never the
servers named by CORDON_KAFKA_BOOTSTRAP / CORDON_DATABASE_URL: it kills them), runs the gate
and the projector under the `cordon up` supervisor, and sends ``--per-second`` scans per
second through each of the gate's three doors (single HTTP scans, HTTP batches, the Kafka
feed). Each round: kill -9 the gate, then the projector; kill -9 the broker, start it again
after ``--broker-down`` s; SIGSTOP it for ``--pause`` s; kill -9 the postmaster, start
PostgreSQL after ``--pg-down`` s. With ``--brokers 3`` it runs a three-node cluster instead
and each round kills -9 every broker in turn, starting each again after ``--broker-down``
s, and leaves the services and PostgreSQL alone. Each recovery is timed: until every
service is ready, and until a scan posted after the fault shows in the read models. At the
end, `cordon reconcile` must find nothing lost or counted twice. Prints the figures, one
RESULT line, and writes JSON to bench/results/ (``--no-json`` skips it). Exit status 1 when
a scan was lost or doubled, a device got a 5xx other than 503, or a service did not come back.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shutil
import statistics
import sys
import tempfile
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from harness import host_facts

from cordon_testing.fault_scenario import Outcome, Scenario, run_scenario

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def summary(outcome: Outcome) -> list[str]:
    by_fault: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for r in outcome.recoveries:
        by_fault[r.fault].append((r.ready_s, r.flowing_s))
    lines = [f"{'fault':<20} {'times':>5} {'ready again: median / max':>27} "
             f"{'scans shown: median / max':>27}"]  # fmt: skip
    for fault, times in by_fault.items():
        ready = [t[0] for t in times]
        shown = [t[1] for t in times]
        lines.append(
            f"{fault:<20} {len(times):>5} "
            f"{statistics.median(ready):>18.1f}s / {max(ready):>5.1f}s "
            f"{statistics.median(shown):>18.1f}s / {max(shown):>5.1f}s"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="rounds go on this long")
    parser.add_argument("--per-second", type=float, default=20.0, help="scans/s per door")
    parser.add_argument("--broker-down", type=float, default=10.0, help="seconds")
    parser.add_argument("--pause", type=float, default=30.0, help="SIGSTOP of the broker, s")
    parser.add_argument("--pg-down", type=float, default=5.0, help="seconds")
    parser.add_argument(
        "--brokers", type=int, default=1,
        help="Kafka nodes; 3 runs a cluster and each round kills -9 every broker in turn",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, default=None, help="where to write the results")
    parser.add_argument("--no-json", action="store_true")
    args = parser.parse_args()
    # The devices' Kafka clients complain at every retry while the broker is down.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    scenario = Scenario(
        per_second=args.per_second,
        minutes=args.minutes,
        broker_down_s=args.broker_down,
        pause_s=args.pause,
        pg_down_s=args.pg_down,
        brokers=args.brokers,
        consistent_within_s=300,
    )
    state_dir = Path(tempfile.mkdtemp(prefix="cordon-faults-"))
    print(f"state and logs in {state_dir}", flush=True)
    try:
        outcome = asyncio.run(run_scenario(state_dir, scenario, say=lambda s: print(s, flush=True)))
    except BaseException:
        print(f"logs kept in {state_dir / 'logs'}", flush=True)
        raise
    print()
    print(outcome.figures())
    print()
    print("\n".join(summary(outcome)))
    stages = {s["name"]: f"{s['count']}/{s['of']}" for s in outcome.report["stages"]}
    print(json.dumps(stages, indent=1))
    lost = len(outcome.not_stored) + sum(
        1 for f in outcome.report["findings"] if f["kind"] != "counted_twice"
    )
    doubled = len(outcome.stored_twice) + sum(
        1 for f in outcome.report["findings"] if f["kind"] == "counted_twice"
    )
    healthy = all(outcome.ready.values())
    print(
        f"RESULT scans={outcome.taken} shown={outcome.shown} lost={lost} doubled={doubled} "
        f"server_errors={sum(outcome.server_errors.values())} ready={healthy} "
        f"faults={len(outcome.recoveries)} minutes={outcome.elapsed_s / 60:.1f}"
    )
    if not args.no_json:
        path = args.json or RESULTS_DIR / f"faults-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({
            "host": host_facts(), "scenario": scenario.__dict__,
            "recoveries": [r.__dict__ for r in outcome.recoveries],
            "taken": outcome.taken, "shown": outcome.shown, "statuses": outcome.statuses,
            "longest_wait_s": outcome.longest_wait_s, "consistent_s": outcome.consistent_s,
            "reconcile": outcome.report,
        }, indent=1, default=str))  # fmt: skip
        print(f"wrote {path}")
    failed = lost or doubled or outcome.server_errors or not healthy
    if failed:
        print(f"services' logs kept in {state_dir / 'logs'}")
    else:
        shutil.rmtree(state_dir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
