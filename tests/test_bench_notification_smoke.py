"""The notification benchmark at a small scale, as CI runs it: gate fevers through the
notification service to a local webhook receiver, against the test run's Kafka and
PostgreSQL. No timing is asserted: only that every event is delivered exactly once."""

from __future__ import annotations

import re

from cordon_devenv.infra import Infrastructure
from cordon_testing.benchmarks import run_benchmark


def test_the_notification_benchmark_runs_small_and_delivers_each_event_once(
    infrastructure: Infrastructure,
) -> None:
    status, stdout, output = run_benchmark(
        "bench_notification.py", "--events", "500", infrastructure=infrastructure
    )

    assert status == 0, output
    counts = {k: int(v) for k, v in re.findall(r'^\s*"(\w+)": (\d+),?$', stdout, re.M)}
    assert counts["events"] == counts["delivered"] == 500, output
    assert (counts["lost"], counts["doubled_by_source"], counts["doubled_by_key"]) == (0, 0, 0)
