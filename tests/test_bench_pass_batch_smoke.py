"""The pass-list benchmark at a small scale, as CI runs it, against the test run's Kafka and
PostgreSQL. No timing is asserted: only that every pass was issued, both ways."""

from __future__ import annotations

import re

from cordon_devenv.infra import Infrastructure
from cordon_testing.benchmarks import run_benchmark


def test_the_pass_list_benchmark_runs_small_and_issues_every_pass_both_ways(
    infrastructure: Infrastructure,
) -> None:
    status, stdout, output = run_benchmark(
        "bench_pass_batch.py", "--quick", "--no-json", infrastructure=infrastructure
    )

    assert status == 0, output
    issued = re.findall(r"^\s+(?:one by one|batches of \d+)\s+(\d+) passes", stdout, re.M)
    assert issued == ["500", "500"], output
    assert "batches / one by one" in stdout, output
