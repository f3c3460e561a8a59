"""The gate's load generator at a small scale (``bench/bench_gate.py --quick``), as CI runs
it: a small district through the Kafka feed, HTTP batches and single HTTP scans, against
the test run's Kafka and PostgreSQL, with every scan's outcome counted. No timing is
asserted: only that it runs and that no scan is lost or doubled."""

from __future__ import annotations

import re

from cordon_devenv.infra import Infrastructure
from cordon_testing.benchmarks import run_benchmark


def test_the_gate_load_generator_runs_small_and_loses_or_doubles_no_scan(
    infrastructure: Infrastructure,
) -> None:
    status, stdout, output = run_benchmark(
        "bench_gate.py", "--quick", "--no-json", infrastructure=infrastructure
    )

    assert status == 0, output
    results = re.findall(
        r"^RESULT feed=(\w+) scans=(\d+) outcomes=(\d+) lost=(\d+) doubled=(\d+) errors=(\d+)$",
        stdout,
        re.MULTILINE,
    )
    feeds = {feed for feed, *_ in results}
    assert {"kafka", "batch", "single"} <= feeds, output
    for feed, scans, outcomes, lost, doubled, errors in results:
        assert (lost, doubled, errors) == ("0", "0", "0"), f"{feed}: {output}"
        assert scans == outcomes and int(scans) > 0, feed
