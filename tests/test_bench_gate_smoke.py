"""The gate's load generator at a small scale (``bench/bench_gate.py --quick``), as CI runs
it: a small district through the Kafka feed, HTTP batches and single HTTP scans, against
the test run's Kafka and PostgreSQL, with every scan's outcome counted. No timing is
asserted: only that it runs and that no scan is lost or doubled."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from cordon_devenv.infra import Infrastructure

ROOT = Path(__file__).resolve().parents[1]


def test_the_gate_load_generator_runs_small_and_loses_or_doubles_no_scan(
    infrastructure: Infrastructure,
) -> None:
    env = {
        **os.environ,
        "CORDON_KAFKA_BOOTSTRAP": infrastructure.kafka_bootstrap,
        "CORDON_DATABASE_URL": infrastructure.database_url,
        "CORDON_KAFKA_IDEMPOTENCE": str(infrastructure.kafka_idempotence).lower(),
    }

    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_gate.py"), "--quick", "--no-json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )

    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    results = re.findall(
        r"^RESULT feed=(\w+) scans=(\d+) outcomes=(\d+) lost=(\d+) doubled=(\d+) errors=(\d+)$",
        run.stdout,
        re.MULTILINE,
    )
    feeds = {feed for feed, *_ in results}
    assert {"kafka", "batch", "single"} <= feeds, output[-6000:]
    for feed, scans, outcomes, lost, doubled, errors in results:
        assert (lost, doubled, errors) == ("0", "0", "0"), f"{feed}: {output[-6000:]}"
        assert scans == outcomes and int(scans) > 0, feed
