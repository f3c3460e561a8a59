"""The projector benchmark at a small scale (``bench/bench_projector.py --quick``), as CI
runs it, against the test run's Kafka and PostgreSQL. No timing is asserted: only that it
runs and that every produced event was projected (the script checks each projection's
inbox and the read models' totals against what it generated, and exits 1 otherwise) and
that every scan of the lag phase appeared on the live dashboard."""

from __future__ import annotations

import re

from cordon_devenv.infra import Infrastructure
from cordon_testing.benchmarks import run_benchmark


def test_the_projector_benchmark_runs_small_and_projects_every_event(
    infrastructure: Infrastructure,
) -> None:
    status, stdout, output = run_benchmark(
        "bench_projector.py", "--quick", "--no-json", infrastructure=infrastructure
    )

    assert status == 0, output
    result = re.search(
        r"^RESULT produced=(\d+) rebuild_verified=(\w+) catchup_verified=(\w+)"
        r" lag_scans=(\d+) lag_reflected=(\d+) failures=(\d+)$",
        stdout,
        re.MULTILINE,
    )
    assert result is not None, output
    produced, rebuild_ok, catchup_ok, scans, reflected, failures = result.groups()
    assert int(produced) == 20_000
    assert (rebuild_ok, catchup_ok, failures) == ("true", "true", "0"), output
    assert int(scans) > 0 and reflected == scans, output
