"""Running a script of bench/ as CI does: a subprocess against the test run's Kafka and
PostgreSQL. What the scripts share among themselves is bench/harness.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cordon_devenv.infra import Infrastructure

ROOT = Path(__file__).resolve().parents[4]
"""The repository (this package is installed editable from libs/cordon-testing/src)."""


def run_benchmark(
    script: str, *args: str, infrastructure: Infrastructure, timeout: float = 240
) -> tuple[int, str, str]:
    """(exit status, stdout, the last 6,000 characters of stdout + stderr for messages)."""
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        cwd=ROOT,
        env={**os.environ, **infrastructure.env()},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return run.returncode, run.stdout, (run.stdout + run.stderr)[-6000:]
