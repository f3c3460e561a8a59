"""The projector benchmark at a small scale (``bench/bench_projector.py --quick``), as CI
runs it, against the test run's Kafka and PostgreSQL. No timing is asserted: only that it
runs and that every produced event was projected (the script checks each projection's
inbox and the read models' totals against what it generated, and exits 1 otherwise) and
that every scan of the lag phase appeared on the live dashboard."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from cordon_devenv.infra import Infrastructure

ROOT = Path(__file__).resolve().parents[1]


def test_the_projector_benchmark_runs_small_and_projects_every_event(
    infrastructure: Infrastructure,
) -> None:
    env = {
        **os.environ,
        "CORDON_KAFKA_BOOTSTRAP": infrastructure.kafka_bootstrap,
        "CORDON_DATABASE_URL": infrastructure.database_url,
        "CORDON_KAFKA_IDEMPOTENCE": str(infrastructure.kafka_idempotence).lower(),
    }

    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_projector.py"), "--quick", "--no-json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )

    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    result = re.search(
        r"^RESULT produced=(\d+) rebuild_verified=(\w+) catchup_verified=(\w+)"
        r" lag_scans=(\d+) lag_reflected=(\d+) failures=(\d+)$",
        run.stdout,
        re.MULTILINE,
    )
    assert result is not None, output[-6000:]
    produced, rebuild_ok, catchup_ok, scans, reflected, failures = result.groups()
    assert int(produced) == 20_000
    assert (rebuild_ok, catchup_ok, failures) == ("true", "true", "0"), output[-6000:]
    assert int(scans) > 0 and reflected == scans, output[-6000:]
