"""The notification benchmark at a small scale, as CI runs it: gate fevers through the
notification service to a local webhook receiver, against the test run's Kafka and
PostgreSQL. No timing is asserted: only that every event is delivered exactly once."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from cordon_devenv.infra import Infrastructure

ROOT = Path(__file__).resolve().parents[1]


def test_the_notification_benchmark_runs_small_and_delivers_each_event_once(
    infrastructure: Infrastructure,
) -> None:
    env = {**os.environ, **infrastructure.env()}

    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_notification.py"), "--events", "500"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )

    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    counts = {k: int(v) for k, v in re.findall(r'^\s*"(\w+)": (\d+),?$', run.stdout, re.M)}
    assert counts["events"] == counts["delivered"] == 500, output[-6000:]
    assert (counts["lost"], counts["doubled_by_source"], counts["doubled_by_key"]) == (0, 0, 0)
