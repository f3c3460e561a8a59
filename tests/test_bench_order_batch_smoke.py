"""The order-list benchmark at a small scale, as CI runs it, against the test run's Kafka and
PostgreSQL. No timing is asserted: only that every order was placed, both ways."""

from __future__ import annotations

import re

from cordon_devenv.infra import Infrastructure
from cordon_testing.benchmarks import run_benchmark


def test_the_order_list_benchmark_runs_small_and_places_every_order_both_ways(
    infrastructure: Infrastructure,
) -> None:
    status, stdout, output = run_benchmark(
        "bench_order_batch.py", "--quick", "--orders", "200", "--no-json",
        infrastructure=infrastructure,
    )  # fmt: skip

    assert status == 0, output
    placed = re.findall(r"^\s+(?:one by one|lists of \d+)\s+(\d+) orders", stdout, re.M)
    assert placed == ["200", "200"], output
    assert re.search(r"^RESULT single=\S+ batch=\S+ ratio=\S+ failures=0$", stdout, re.M), output
